rule build_phenotype_store:
    input:
        exclude=EXCLUDE,
        # the raw phenotype file of the configured modality
        source=(
            DATA["fundus_manifest"]
            if DATA["modality"] == "fundus"
            else DATA["spirometry_table"]
        ),
        fam=f"{BFILE}.fam",
    output:
        images=f"{STORE}/images.npy",
        index=f"{STORE}/index.tsv",
        exclusions=f"{STORE}/exclusions.tsv",
    log:
        f"logs/phenotypes/{DATA['modality']}_store.log",
    benchmark:
        f"logs/benchmarks/phenotypes/{DATA['modality']}_store.tsv"
    conda:
        "../../envs/gemcont.yaml"
    threads: 2
    resources:
        mem_mb=requested("build_phenotype_store", "mem_mb"),
        runtime=requested("build_phenotype_store", "runtime"),
        disk_mb=requested("build_phenotype_store", "disk_mb"),
    params:
        modality=DATA["modality"],
        phenotypes=config["phenotypes"],
    script:
        "../../scripts/build_phenotype_store.py"


rule make_splits:
    input:
        exclude=EXCLUDE,
        fam=f"{BFILE}.fam",
        index=rules.build_phenotype_store.output.index,
        exclusions=rules.build_phenotype_store.output.exclusions,
        disease=DATA["disease"],
        covariates=DATA["covariates"],
    output:
        splits="results/splits/splits.tsv",
        report="results/splits/dropped.tsv",
    log:
        "logs/splits/make_splits.log",
    benchmark:
        "logs/benchmarks/splits/make_splits.tsv"
    conda:
        "../../envs/gemcont.yaml"
    resources:
        mem_mb=requested("make_splits", "mem_mb"),
        runtime=requested("make_splits", "runtime"),
    params:
        splits=config["splits"],
        covariate_columns=covariate_columns(config["gwas"]["covariates"]),
        numeric_covariates=numeric_covariate_columns(config["gwas"]["covariates"]),
    script:
        "../../scripts/make_splits.py"
