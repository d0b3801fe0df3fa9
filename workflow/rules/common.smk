from gemcont.config import load_config

load_config(config, workflow.source_path("../schemas/config.schema.yaml"))

SIM = "results/simulate"


wildcard_constraints:
    chrom=r"[0-9XYM]+",
