EVAL = "results/evaluation"
TRUTH = f"{SIM}/truth"


rule evaluate_run:
    input:
        embeddings=rules.export_embeddings.output.embeddings,
        disease=DATA["disease"],
        covariates=DATA["covariates"],
        gwas_summary=rules.summarise_gwas.output.summary,
        gwas_loci=rules.summarise_gwas.output.loci,
        truth=lambda wc: (
            rules.simulate_genetics.output[name]
            for name in ("latent", "causal")
            if config["simulate"]["enabled"]
        ),
    output:
        metrics=f"{EVAL}/{{method}}/split_{{split}}/metrics.tsv",
        scores=f"{EVAL}/{{method}}/split_{{split}}/scores.tsv",
    log:
        "logs/evaluation/{method}/split_{split}.log",
    conda:
        "../../envs/gemcont.yaml"
    params:
        config=config,
    script:
        "../../scripts/evaluate_run.py"


rule evaluate:
    input:
        metrics=expand(
            f"{EVAL}/{{method}}/split_{{split}}/metrics.tsv",
            method=config["methods"],
            split=SPLITS,
        ),
        scores=expand(
            f"{EVAL}/{{method}}/split_{{split}}/scores.tsv",
            method=config["methods"],
            split=SPLITS,
        ),
    output:
        metrics=f"{EVAL}/metrics.tsv",
        summary=f"{EVAL}/summary.tsv",
        comparison=f"{EVAL}/comparison.tsv",
        truth_r2=f"{EVAL}/truth_r2.tsv",
    log:
        "logs/evaluation/evaluate.log",
    conda:
        "../../envs/gemcont.yaml"
    params:
        methods=config["methods"],
        truth=config["simulate"]["enabled"],
    script:
        "../../scripts/evaluate.py"


rule make_figures:
    input:
        metrics=rules.evaluate.output.metrics,
        training=expand(
            "results/train/{method}/split_{split}/metrics.tsv",
            method=[m for m in config["methods"] if m in TRAINED],
            split=SPLITS,
        ),
        embeddings=f"results/embeddings/{config['methods'][0]}/split_0/embeddings.tsv.gz",
        disease=DATA["disease"],
        marker=DATA["clinical_marker"],
    output:
        methods=report(
            "results/figures/methods.png",
            caption="../report/methods.rst",
            category="Method comparison",
        ),
        training=report(
            "results/figures/training_curves.png",
            caption="../report/training.rst",
            category="Training",
        ),
        pca="results/figures/embedding_pca.png",
        violin="results/figures/marker_violin.png",
    log:
        "logs/figures/make_figures.log",
    conda:
        "../../envs/gemcont.yaml"
    params:
        marker_column=DATA["clinical_marker_column"],
    script:
        "../../scripts/make_figures.py"


rule build_report:
    input:
        unpack(report_inputs),
    output:
        html="results/report/index.html",
    log:
        "logs/report/build_report.log",
    conda:
        "../../envs/gemcont.yaml"
    params:
        config=config,
        methods=config["methods"],
    script:
        "../../scripts/build_report.py"


rule figures:
    input:
        rules.make_figures.output,
        expand(
            "results/gwas/{method}/split_{split}/{plot}.png",
            method=config["methods"],
            split=SPLITS,
            plot=["manhattan", "qq"],
        ),
