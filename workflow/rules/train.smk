include: "train_common.smk"


rule train_model:
    input:
        images=rules.build_phenotype_store.output.images,
        index=rules.build_phenotype_store.output.index,
        features=rules.extract_features.output.features,
        feature_ids=rules.extract_features.output.ids,
        feature_report=rules.extract_features.output.report,
        splits=rules.make_splits.output.splits,
        dropped=rules.make_splits.output.report,
        backbone=lambda wc: backbone_input(wc.method),
    output:
        checkpoint="results/train/{method}/split_{split}/checkpoint.pt",
        metrics="results/train/{method}/split_{split}/metrics.tsv",
        hparams="results/train/{method}/split_{split}/hparams.json",
    log:
        "logs/train/{method}/split_{split}.log",
    benchmark:
        "logs/benchmarks/train/{method}/split_{split}.tsv"
    wildcard_constraints:
        method="|".join(TRAINED),
    conda:
        "../../envs/gemcont.yaml"
    threads: 2
    resources:
        mem_mb=requested("train_model", "mem_mb"),
        runtime=requested("train_model", "runtime"),
        gpu=1 if config["train"]["device"] != "cpu" else 0,
    params:
        train=config["train"],
        modality=DATA["modality"],
        # per-epoch state, deliberately not an output: Snakemake deletes the outputs of
        # a failed or incomplete job, and a rerun (or SLURM retry) resumes from this
        state="results/.state/train/{method}/split_{split}",
    script:
        "../../scripts/train_model.py"


rule export_embeddings:
    input:
        images=rules.build_phenotype_store.output.images,
        index=rules.build_phenotype_store.output.index,
        features=rules.extract_features.output.features,
        feature_ids=rules.extract_features.output.ids,
        feature_report=rules.extract_features.output.report,
        splits=rules.make_splits.output.splits,
        dropped=rules.make_splits.output.report,
        checkpoint=lambda wc: (
            rules.train_model.output.checkpoint.format(**wc)
            if wc.method in TRAINED
            else []
        ),
        backbone=lambda wc: backbone_input(wc.method),
        marker=DATA["clinical_marker"],
    output:
        embeddings="results/embeddings/{method}/split_{split}/embeddings.tsv.gz",
    log:
        "logs/embeddings/{method}/split_{split}.log",
    benchmark:
        "logs/benchmarks/embeddings/{method}/split_{split}.tsv"
    conda:
        "../../envs/gemcont.yaml"
    threads: 2
    resources:
        mem_mb=requested("export_embeddings", "mem_mb"),
        runtime=requested("export_embeddings", "runtime"),
        # a pretrained ViT over the whole cohort wants the GPU; small CNNs do not
        gpu=lambda wc: int(
            bool(backbone_input(wc.method)) and config["train"]["device"] != "cpu"
        ),
    params:
        train=config["train"],
        modality=DATA["modality"],
        clinical_column=DATA["clinical_marker_column"],
    script:
        "../../scripts/export_embeddings.py"
