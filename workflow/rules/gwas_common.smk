"""Helpers of the GWAS rules: the chromosomes scanned and their variants."""

import functools

from gemcont.gwas.settings import RULE_KEYS
from gemcont.io.plink import count_chromosomes, normalise_code


@functools.cache
def chromosome_variants():
    """Variants per chromosome in .bim order: simulated, or counted in the cohort .bim
    (one column read, once per run)."""
    if config["simulate"]["enabled"]:
        return simulated_variants()
    return count_chromosomes(f"{BFILE}.bim")


def gwas_chromosomes():
    """Chromosomes scanned: configured (normalised: chr1 is 1, 23 is X), or every one of
    the cohort (or simulation)."""
    configured = [normalise_code(str(c), None) for c in config["gwas"]["chromosomes"]]
    return list(dict.fromkeys(configured)) or list(chromosome_variants())


def gwas_params(rule):
    """The gwas keys ``rule`` reads (gemcont.gwas.settings.RULE_KEYS), its params: other
    keys' changes do not rerun it."""
    return {key: config["gwas"][key] for key in RULE_KEYS[rule]}


def split_inputs(path):
    """``path`` (with {method}) for every configured method, other wildcards kept: the
    files of a split's methods that its one GWAS scan reads or writes."""
    return expand(path, method=config["methods"], allow_missing=True)
