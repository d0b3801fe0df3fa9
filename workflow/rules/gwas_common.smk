"""Helpers of the GWAS rules: the genotypes scanned, chromosomes and chunks, and the
gwas keys each rule reads."""

import functools

from gemcont.errors import ConfigError
from gemcont.gwas.genotypes import GwasGenotypes, mfi_path, n_chunks
from gemcont.gwas.settings import RULE_KEYS, GenotypeSettings, check_engine_filters
from gemcont.io.genotype_source import chromosome_paths
from gemcont.io.plink import count_chromosomes, normalise_code
from gemcont.settings import build

# what the GWAS scans: gwas.genotypes.path, else data.bfile
GWAS_GENOTYPES = GwasGenotypes.configured(
    build(GenotypeSettings, config["gwas"]["genotypes"], "gwas.genotypes"), BFILE
)
GWAS_MFI = config["gwas"]["genotypes"]["mfi"]
CHUNK_VARIANTS = config["gwas"]["chunk_variants"]
if CHUNK_VARIANTS and config["gwas"]["engine"] != "builtin":
    raise ConfigError(
        "gwas.chunk_variants",
        f"chunks are scanned by the builtin engine only, not {config['gwas']['engine']}: "
        "set it to 0",
    )
check_engine_filters(config["gwas"]["engine"], config["gwas"]["max_missing"])


def simulated_imputed(path):
    """Whether ``path`` (gwas.genotypes.path) names the simulated imputed files; refused
    when the simulation does not write them."""
    if not config["simulate"]["enabled"] or path not in (SIM_PGEN, SIM_BGEN):
        return False
    if not config["simulate"]["imputed"]["enabled"]:
        raise ConfigError(
            "gwas.genotypes.path",
            f"{path} is written by the simulation only with simulate.imputed.enabled: "
            "set it to true, or leave gwas.genotypes.path unset",
        )
    return True


@functools.cache
def chromosome_variants():
    """Variants per chromosome in .bim order: simulated, or counted in the cohort .bim
    (one column read, once per run)."""
    if config["simulate"]["enabled"]:
        return simulated_variants()
    return count_chromosomes(f"{BFILE}.bim")


@functools.cache
def gwas_variants():
    """Variants per chromosome of the GWAS genotypes: the cohort's (data.bfile; the
    simulation's for its imputed files, not yet written when the jobs are planned), or
    those of gwas.genotypes.path (for a {chrom} path, the chromosomes with a file)."""
    path = config["gwas"]["genotypes"]["path"]
    if path is None or simulated_imputed(path):
        return chromosome_variants()  # the simulated files hold the .bed's variants
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


def mfi_files(chrom):
    """The UK Biobank mfi file a scan of ``chrom`` reads (gwas.genotypes.mfi with
    gwas.min_info > 0), else none."""
    path = mfi_path(GWAS_MFI, config["gwas"]["min_info"], chrom)
    return [] if path is None else [path]


def gwas_params(rule):
    """The gwas keys ``rule`` reads (gemcont.gwas.settings.RULE_KEYS), its params: other
    keys' changes do not rerun it."""
    return {key: config["gwas"][key] for key in RULE_KEYS[rule]}


def split_inputs(path):
    """``path`` (with {method}) for every configured method, other wildcards kept: the
    files of a split's methods that its one GWAS scan reads or writes."""
    return expand(path, method=config["methods"], allow_missing=True)
