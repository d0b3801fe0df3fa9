"""Helpers of the GWAS rules: the genotypes scanned, chromosomes and chunks, and each
job's memory."""

import functools

from gemcont.errors import ConfigError
from gemcont.gwas.engines.builtin import DEFAULT_BLOCK_SIZE
from gemcont.gwas.genotypes import GwasGenotypes, n_chunks
from gemcont.gwas.settings import GenotypeSettings
from gemcont.io.genotype_source import chromosome_paths
from gemcont.io.plink import count_chromosomes, normalise_code
from gemcont.settings import build

# what the GWAS scans: gwas.genotypes.path, else data.bfile
GWAS_GENOTYPES = GwasGenotypes.configured(
    build(GenotypeSettings, config["gwas"]["genotypes"], "gwas.genotypes"), BFILE
)
CHUNK_VARIANTS = config["gwas"]["chunk_variants"]
if CHUNK_VARIANTS and config["gwas"]["engine"] != "builtin":
    raise ConfigError(
        "gwas.chunk_variants",
        f"chunks are scanned by the builtin engine only, not {config['gwas']['engine']}: "
        "set it to 0",
    )


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


@functools.cache
def gwas_variants():
    """Variants per chromosome of the GWAS genotypes: the cohort's (data.bfile), or
    those of gwas.genotypes.path (for a {chrom} path, the chromosomes with a file)."""
    if config["gwas"]["genotypes"]["path"] is None:
        return chromosome_variants()
    chromosomes = None
    if GWAS_GENOTYPES.per_chromosome:
        primary = ".bed" if GWAS_GENOTYPES.format == "bed" else ""
        chromosomes = list(chromosome_paths(GWAS_GENOTYPES.path, primary))
    return GWAS_GENOTYPES.variant_counts(chromosomes)


def gwas_chromosomes():
    """Chromosomes scanned: configured (normalised: chr1 is 1, 23 is X), or every one of
    the GWAS genotypes (or simulation)."""
    configured = [normalise_code(str(c), None) for c in config["gwas"]["chromosomes"]]
    return list(dict.fromkeys(configured)) or list(gwas_variants())


def gwas_chunks(chrom):
    """Chunks of gwas.chunk_variants variants on ``chrom`` (1 when not chunked)."""
    return n_chunks(gwas_variants().get(str(chrom), 0), CHUNK_VARIANTS)


def chunk_variants(chrom):
    """Variants one gwas_chromosome job scans: its chunk (at most), or the chromosome."""
    variants = gwas_variants().get(str(chrom), 0)
    return min(variants, CHUNK_VARIANTS) if CHUNK_VARIANTS else variants


def split_inputs(path):
    """``path`` (with {method}) for every configured method, other wildcards kept: the
    files of a split's methods that its one GWAS scan reads or writes."""
    return expand(path, method=config["methods"], allow_missing=True)


def gwas_mem_mb(chrom):
    """gwas_chromosome's memory (one scan for every method of a split): genotype blocks
    (N x block), the chromosome's .bim rows as a table (~165 bytes a variant, measured;
    only those lines are parsed) and the results of every method (3 x 8 bytes a variant
    and dimension of the job's chunk; D = gwas.n_components, else train.dim, per
    method)."""
    variants = chunk_variants(chrom)
    per_method = config["gwas"]["n_components"] or config["train"]["dim"]
    dims = per_method * len(config["methods"])
    blocks = (
        40 * cohort_size() * (config["gwas"]["block_size"] or DEFAULT_BLOCK_SIZE["cpu"])
    )
    return int(1000 + (blocks + 165 * variants + 24 * variants * dims) / 10**6)
