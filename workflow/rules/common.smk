from gemcont.config import load_config
from gemcont.gwas.inputs import covariate_columns

load_config(config, workflow.source_path("../schemas/config.schema.yaml"))

SIM = "results/simulate"


wildcard_constraints:
    chrom=r"[0-9XYM]+",
    split=r"\d+",
    method=r"[a-z]+",


DATA = config["data"]
BFILE = DATA["bfile"]
BED = multiext(BFILE, ".bed", ".bim", ".fam")
STORE = f"results/phenotypes/{DATA['modality']}"


def simulated_variants():
    """Variants per simulated chromosome (chromosomes 1..n_chromosomes, evenly)."""
    g = config["simulate"]["genotypes"]
    per_chromosome = int(g["chromosome_length_mb"] * 1000 / g["snp_spacing_kb"])
    return {str(c): per_chromosome for c in range(1, g["n_chromosomes"] + 1)}


TRAINED = ["gemcont", "prs", "simclr", "vae", "supervised"]


SPLITS = list(range(config["splits"]["n_splits"]))


def embedding_files(methods=None):
    """Embedding exports of every configured method and split."""
    return expand(
        "results/embeddings/{method}/split_{split}/embeddings.tsv.gz",
        method=methods or config["methods"],
        split=SPLITS,
    )


def gwas_files():
    """GWAS summaries and plots of every configured method and split."""
    return expand(
        "results/gwas/{method}/split_{split}/{name}",
        method=config["methods"],
        split=SPLITS,
        name=["summary.json", "manhattan.png", "sumstats.tsv.gz"],
    )


def report_inputs(wildcards):
    """Named inputs of the HTML report (truth and QC images only for the simulation)."""
    methods = config["methods"]
    first = methods[0] if "gemcont" not in methods else "gemcont"
    inputs = {
        "metrics": "results/evaluation/metrics.tsv",
        "comparison": "results/evaluation/comparison.tsv",
        "splits": "results/splits/splits.tsv",
        "dropped": "results/splits/dropped.tsv",
        "panel": "results/panel/panel.tsv",
        "coverage": "results/panel/coverage.tsv",
        "phenotype_exclusions": f"{STORE}/exclusions.tsv",
        "features_report": "results/features/features_report.tsv",
        "loci": f"results/gwas/{first}/split_0/loci.tsv",
        "methods_figure": "results/figures/methods.png",
        "training_figure": "results/figures/training_curves.png",
        "pca_figure": "results/figures/embedding_pca.png",
        "violin_figure": "results/figures/marker_violin.png",
        "manhattan": expand("results/gwas/{m}/split_0/manhattan.png", m=methods),
        "qq": expand("results/gwas/{m}/split_0/qq.png", m=methods),
    }
    if config["simulate"]["enabled"]:
        inputs["truth_summary"] = f"{SIM}/truth/summary.json"
        inputs["qc_images"] = [f"{SIM}/qc/flow_volume_curves.png"] + (
            [f"{SIM}/qc/fundus_contact_sheet.png"]
            if config["simulate"]["fundus"]["enabled"]
            else []
        )
    return inputs
