"""Helpers of the GWAS rules: chromosomes scanned and each job's memory."""

import functools

from gemcont.gwas.engines.builtin import DEFAULT_BLOCK_SIZE
from gemcont.gwas.settings import RULE_KEYS
from gemcont.io.plink import count_chromosomes, normalise_code


@functools.cache
def cohort_size():
    """People in the cohort: simulated size, or the .fam line count (for resources)."""
    if config["simulate"]["enabled"]:
        return config["simulate"]["n_people"]
    with open(f"{BFILE}.fam") as fam:
        return sum(1 for _ in fam)


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


def gwas_mem_mb(chrom):
    """gwas_chromosome's memory (one scan for every method of a split): genotype blocks
    (N x block), the chromosome's .bim rows as a table (~165 bytes a variant, measured;
    only those lines are parsed) and the results of every method (3 x 8 bytes a variant
    and dimension; D = gwas.n_components, else train.dim, per method)."""
    variants = chromosome_variants().get(str(chrom), 0)
    per_method = config["gwas"]["n_components"] or config["train"]["dim"]
    dims = per_method * len(config["methods"])
    blocks = (
        40 * cohort_size() * (config["gwas"]["block_size"] or DEFAULT_BLOCK_SIZE["cpu"])
    )
    return int(1000 + (blocks + 165 * variants + 24 * variants * dims) / 10**6)
