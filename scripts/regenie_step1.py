"""Rule regenie_step1: REGENIE whole-genome ridge regression, once per split for every
method's dimensions (once per group of methods sharing their held-out people)."""

from pathlib import Path

from gemcont.gwas.joint import MethodGwas, regenie_step1_groups
from gemcont.gwas.settings import rule_settings
from gemcont.io.plink import prefix_of
from gemcont.logs import to_file
from gemcont.threads import limit_threads

sm = snakemake  # noqa: F821
to_file(sm.log[0])
limit_threads(sm.threads)
settings = rule_settings("regenie_step1", sm.params.gwas)
files = zip(sm.params.methods, sm.input.pheno, sm.input.covar, strict=True)
methods = [
    MethodGwas(method, Path(pheno), Path(covar), None, (Path(), Path()))
    for method, pheno, covar in files
]
regenie_step1_groups(
    prefix_of(sm.input.bed[0]),
    methods,
    Path(sm.output.manifest),
    settings.regenie,
    sm.threads,
    settings.plink2.binary,
)
