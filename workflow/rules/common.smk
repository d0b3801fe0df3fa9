from gemcont.config import load_config
from gemcont.gwas.inputs import covariate_columns, numeric_covariate_columns
from gemcont.io.chromosomes import CHROM_PATTERN

load_config(config, workflow.source_path("../schemas/config.schema.yaml"))

SIM = "results/simulate"


wildcard_constraints:
    chrom=CHROM_PATTERN,  # the codes gemcont.io.chromosomes.normalise gives
    split=r"\d+",
    method=r"[a-z]+",


DATA = config["data"]
BFILE = DATA["bfile"]
BED = multiext(BFILE, ".bed", ".bim", ".fam")
STORE = f"results/phenotypes/{DATA['modality']}"
EXCLUDE = DATA["exclude"] or []  # the withdrawal list, an input where given


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
