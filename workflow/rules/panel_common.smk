# Helpers of the panel rules (panel.smk).
from gemcont.panel.studies import studies_from_config

STUDIES = studies_from_config(DATA["sumstats"], DATA["sumstats_columns"])


def panel_outputs():
    """build_panel's outputs; the meta-analysis table only when there are 2+ studies."""
    outputs = {
        "panel": "results/panel/panel.tsv",
        "coverage": "results/panel/coverage.tsv",
        "harmonise": "results/panel/harmonise_report.tsv.gz",
        "clumps": "results/panel/clumps.tsv",
        "eaf_check": "results/panel/eaf_check.tsv",
    }
    if len(STUDIES) > 1:
        outputs["meta"] = "results/panel/meta_sumstats.tsv.gz"
    return outputs
