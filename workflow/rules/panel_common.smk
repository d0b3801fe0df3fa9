# Helpers of the panel rules (panel.smk).
import functools

from gemcont.errors import ConfigError
from gemcont.io.genotype_source import chromosome_paths
from gemcont.panel.build import configured_panel_genotypes
from gemcont.panel.studies import studies_from_config

STUDIES = studies_from_config(DATA["sumstats"], DATA["sumstats_columns"])
# what the panel and features read: data.panel_genotypes, None for data.bfile
PANEL_GENOTYPES = configured_panel_genotypes(DATA["panel_genotypes"])


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


def simulated_panel_genotypes():
    """Whether data.panel_genotypes.path names the simulated imputed files; refused
    when the simulation does not write them."""
    path = DATA["panel_genotypes"]["path"]
    if not config["simulate"]["enabled"] or path not in (SIM_PGEN, SIM_BGEN):
        return False
    if not config["simulate"]["imputed"]["enabled"]:
        raise ConfigError(
            "data.panel_genotypes.path",
            f"{path} is written by the simulation only with simulate.imputed.enabled: "
            "set it to true, or leave the path unset",
        )
    return True


def panel_chromosomes():
    """Chromosomes of a {chrom} data.panel_genotypes: the simulation's for its imputed
    files (not yet written when the jobs are planned), else those with a file."""
    if simulated_panel_genotypes():
        return list(simulated_variants())
    primary = ".bed" if PANEL_GENOTYPES.format == "bed" else ""
    return list(chromosome_paths(PANEL_GENOTYPES.path, primary))


@functools.cache
def panel_variant_count():
    """Variants of data.panel_genotypes (resources; None where it is null): the
    simulation's for its imputed files (the .bed's variants), else counted cheaply
    (.pvar / .bim first column, a BGEN's .bgi or header)."""
    if PANEL_GENOTYPES is None:
        return None
    if simulated_panel_genotypes():
        return sum(chromosome_variants().values())
    chromosomes = panel_chromosomes() if PANEL_GENOTYPES.per_chromosome else None
    return sum(PANEL_GENOTYPES.variant_counts(chromosomes).values())


def panel_genotype_files(wildcards=None):
    """The files of data.panel_genotypes (every chromosome's), inputs of the panel
    rules; none where it is null (data.bfile, an input of its own)."""
    if PANEL_GENOTYPES is None:
        return []
    if PANEL_GENOTYPES.per_chromosome:
        # one .sample may serve every chromosome: listed once
        chromosomes = panel_chromosomes()
        files = [f for chrom in chromosomes for f in PANEL_GENOTYPES.files(chrom)]
        return list(dict.fromkeys(files))
    simulated_panel_genotypes()  # refused where the simulation does not write them
    return PANEL_GENOTYPES.files("")


def panel_genotype_params():
    """``genotypes``: the data.panel_genotypes section, a param of the panel rules where
    its path is set (none where null, so that today's runs keep their params)."""
    return {} if PANEL_GENOTYPES is None else {"genotypes": DATA["panel_genotypes"]}
