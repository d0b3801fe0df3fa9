from gemcont.config import load_config

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


def phenotype_source():
    """The raw phenotype file of the configured modality."""
    if DATA["modality"] == "fundus":
        return DATA["fundus_manifest"]
    return DATA["spirometry_table"]


def covariate_columns():
    """Covariate table columns that every analysed person must have."""
    return ["age", "sex", "height", "bmi", "batch", "centre"]


TRAINED = ["gemcont", "prs", "simclr", "vae", "supervised"]
SPLITS = list(range(config["splits"]["n_splits"]))


def embedding_files(methods=None):
    """Embedding exports of every configured method and split."""
    return expand(
        "results/embeddings/{method}/split_{split}/embeddings.tsv.gz",
        method=methods or config["methods"],
        split=SPLITS,
    )
