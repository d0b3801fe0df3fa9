EVAL = "results/evaluation"
TRUTH = f"{SIM}/truth"


# The report's loci are GEMCONT's (else the first method's); the simulation adds its
# truth summary and QC images.
REPORT_METHOD = "gemcont" if "gemcont" in config["methods"] else config["methods"][0]
SIMULATION_REPORT = (
    {
        "truth_summary": f"{TRUTH}/summary.json",
        "qc_images": [f"{SIM}/qc/flow_volume_curves.png"]
        + (
            [f"{SIM}/qc/fundus_contact_sheet.png"]
            if config["simulate"]["fundus"]["enabled"]
            else []
        ),
    }
    if config["simulate"]["enabled"]
    else {}
)


rule evaluate_run:
    input:
        embeddings=rules.export_embeddings.output.embeddings,
        disease=DATA["disease"],
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
    benchmark:
        "logs/benchmarks/evaluation/{method}/split_{split}.tsv"
    conda:
        "../../envs/gemcont.yaml"
    resources:
        mem_mb=requested("evaluate_run", "mem_mb"),
        runtime=requested("evaluate_run", "runtime"),
    params:
        evaluate=config["evaluate"],
        seed=config["splits"]["seed"],
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
    benchmark:
        "logs/benchmarks/evaluation/evaluate.tsv"
    conda:
        "../../envs/gemcont.yaml"
    resources:
        mem_mb=requested("evaluate", "mem_mb"),
        runtime=requested("evaluate", "runtime"),
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
    benchmark:
        "logs/benchmarks/figures/make_figures.tsv"
    conda:
        "../../envs/gemcont.yaml"
    resources:
        mem_mb=requested("make_figures", "mem_mb"),
        runtime=requested("make_figures", "runtime"),
    params:
        marker_column=DATA["clinical_marker_column"],
        method=config["methods"][0],
        runs=[
            (method, split)
            for method in config["methods"]
            if method in TRAINED
            for split in SPLITS
        ],
    script:
        "../../scripts/make_figures.py"


rule build_report:
    input:
        **SIMULATION_REPORT,
        metrics=rules.evaluate.output.metrics,
        comparison=rules.evaluate.output.comparison,
        splits="results/splits/splits.tsv",
        dropped="results/splits/dropped.tsv",
        panel="results/panel/panel.tsv",
        coverage="results/panel/coverage.tsv",
        eaf_check="results/panel/eaf_check.tsv",
        phenotype_exclusions=f"{STORE}/exclusions.tsv",
        features_report="results/features/features_report.tsv",
        loci=f"results/gwas/{REPORT_METHOD}/split_0/loci.tsv",
        variant_qc=f"results/gwas/{REPORT_METHOD}/split_0/variant_qc.tsv",
        methods_figure=rules.make_figures.output.methods,
        training_figure=rules.make_figures.output.training,
        pca_figure=rules.make_figures.output.pca,
        violin_figure=rules.make_figures.output.violin,
        manhattan=expand("results/gwas/{m}/split_0/manhattan.png", m=config["methods"]),
        qq=expand("results/gwas/{m}/split_0/qq.png", m=config["methods"]),
    output:
        html="results/report/index.html",
    log:
        "logs/report/build_report.log",
    benchmark:
        "logs/benchmarks/report/build_report.tsv"
    conda:
        "../../envs/gemcont.yaml"
    resources:
        mem_mb=requested("build_report", "mem_mb"),
        runtime=requested("build_report", "runtime"),
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
