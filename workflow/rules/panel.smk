include: "panel_common.smk"


rule build_panel:
    input:
        sumstats=[study.path for study in STUDIES],
        bed=BED,
        genotypes=panel_genotype_files,
    output:
        **panel_outputs(),
    log:
        main="logs/panel/build_panel.log",
        # copies kept when the job fails (Snakemake removes a failed job's outputs)
        harmonise="logs/panel/harmonise_report.tsv.gz",
        coverage="logs/panel/coverage.tsv",
    benchmark:
        "logs/benchmarks/panel/build_panel.tsv"
    conda:
        "../../envs/gemcont.yaml"
    threads: 2
    resources:
        mem_mb=requested("build_panel", "mem_mb"),
        runtime=requested("build_panel", "runtime"),
    params:
        **panel_genotype_params(),
        panel=config["panel"],
        sumstats=DATA["sumstats"],
        columns=DATA["sumstats_columns"],
    script:
        "../../scripts/build_panel.py"


rule compute_pcs:
    input:
        exclude=EXCLUDE,
        bed=BED,
    output:
        pcs="results/genotypes/pcs.tsv",
    log:
        "logs/genotypes/compute_pcs.log",
    benchmark:
        "logs/benchmarks/genotypes/compute_pcs.tsv"
    conda:
        "../../envs/gemcont.yaml"
    threads: 2
    resources:
        mem_mb=requested("compute_pcs", "mem_mb"),
        runtime=requested("compute_pcs", "runtime"),
    params:
        pcs=config["pcs"],
    script:
        "../../scripts/compute_pcs.py"


rule extract_features:
    input:
        exclude=EXCLUDE,
        bed=BED,
        genotypes=panel_genotype_files,
        panel=rules.build_panel.output.panel,
        pcs=rules.compute_pcs.output.pcs,
    output:
        features="results/features/features.npy",
        ids="results/features/features_ids.tsv",
        prs="results/features/prs.tsv",
        report="results/features/features_report.tsv",
    log:
        "logs/features/extract_features.log",
    benchmark:
        "logs/benchmarks/features/extract_features.tsv"
    conda:
        "../../envs/gemcont.yaml"
    threads: 2
    resources:
        mem_mb=requested("extract_features", "mem_mb"),
        runtime=requested("extract_features", "runtime"),
    params:
        **panel_genotype_params(),
        features=config["features"],
        n_pcs=config["pcs"]["n_pcs"],
    script:
        "../../scripts/extract_features.py"
