import functools

from gemcont import resources as sizing
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


# the simulated imputed cohort (simulate.imputed): one PLINK 2 file set, and a BGEN (with
# its .sample) per chromosome, as UK Biobank ships its imputed data
SIM_PGEN = f"{SIM}/imputed/cohort.pgen"
SIM_BGEN = f"{SIM}/imputed/cohort_c{{chrom}}.bgen"


def largest_chromosome():
    """Variants of the largest simulated chromosome (a per-chromosome job's size)."""
    return max(simulated_variants().values())


def more_external_sumstats():
    """Simulated external GWAS files of cohorts 2, 3, ... (FinnGen layout)."""
    n_cohorts = config["simulate"]["external_gwas"]["n_cohorts"]
    return [
        f"{SIM}/external_gwas/cohort_{k}_finngen.tsv.gz"
        for k in range(2, n_cohorts + 1)
    ]


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


@functools.cache
def cohort_size():
    """People in the cohort: simulated size, or the .fam line count (for resources)."""
    if config["simulate"]["enabled"]:
        return config["simulate"]["n_people"]
    return sizing.count_lines(f"{BFILE}.fam")


@functools.cache
def run_scale():
    """The run's size for every resource request (gemcont.resources.plan_scale): the
    .fam and .bim line counts, the variants the GWAS scans (gwas.genotypes may be
    imputed dosages) and those of data.panel_genotypes, the phenotype source and the
    sums, counted once."""
    scanned = gwas_variants()
    return sizing.plan_scale(
        config,
        cohort_size(),
        sum(chromosome_variants().values()),
        sum(scanned.get(str(c), 0) for c in gwas_chromosomes()),
        panel_variant_count(),
    )


def requested(rule_name, key, **extra):
    """A ``resources:`` entry: gemcont.resources' estimate of ``rule_name``'s ``key``
    (mem_mb, runtime or disk_mb), times the attempt (a SLURM retry gets more);
    ``extra``: the job's own size where the estimate takes one."""
    return lambda wildcards, attempt, threads: sizing.request(
        rule_name, run_scale(), attempt, threads, **extra
    )[key]


def requested_per_chromosome(rule_name, key):
    """``key`` of a job of one GWAS chromosome: gwas_chromosome sized by its variants
    (its chromosome, or its chunk of gwas.chunk_variants) and the split's held-out
    people (not the whole .fam); merge_gwas_chunks by the chromosome's variants."""

    def job_request(wildcards, attempt, threads):
        chromosome = gwas_variants().get(str(wildcards.chrom), 0)
        extra = {"variants": chromosome}
        if rule_name == "gwas_chromosome":
            extra = {
                "variants": chunk_variants(wildcards.chrom),
                "chromosome": chromosome,
            }
        return sizing.request(rule_name, run_scale(), attempt, threads, **extra)[key]

    return job_request
