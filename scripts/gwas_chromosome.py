"""Rule gwas_chromosome: one chromosome of every method's embedding GWAS of a split, in
one scan with the configured engine."""

from pathlib import Path

from gemcont.gwas.joint import MethodGwas, read_step1_manifest
from gemcont.gwas.settings import rule_settings
from gemcont.gwas.stage import run_split_chromosome
from gemcont.io.plink import prefix_of
from gemcont.logs import to_file
from gemcont.threads import limit_threads

sm = snakemake  # noqa: F821
to_file(sm.log[0])
limit_threads(sm.threads)
settings = rule_settings("gwas_chromosome", sm.params.gwas)
files = zip(
    sm.params.methods,
    sm.input.pheno,
    sm.input.covar,
    sm.input.corr,
    sm.output.per_dim,
    sm.output.multi,
    strict=True,
)
methods = [
    MethodGwas(method, Path(pheno), Path(covar), Path(corr), (Path(per_dim), Path(multi)))
    for method, pheno, covar, corr, per_dim, multi in files
]
run_split_chromosome(
    settings,
    prefix_of(sm.input.bed[0]),
    methods,
    sm.wildcards.chrom,
    sm.threads,
    Path(sm.output.work),
    read_step1_manifest(sm.input.step1) if sm.input.get("step1") else None,
)
