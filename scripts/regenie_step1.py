"""Rule regenie_step1: REGENIE whole-genome ridge regression, once for all dimensions."""

from pathlib import Path

from gemcont.gwas.engines.regenie import step1
from gemcont.gwas.settings import GwasSettings
from gemcont.io.plink import prefix_of
from gemcont.logs import to_file
from gemcont.settings import build
from gemcont.threads import limit_threads

sm = snakemake  # noqa: F821
to_file(sm.log[0])
limit_threads(sm.threads)
settings = build(GwasSettings, sm.params.gwas, "gwas")
prefix = Path(sm.output.pred).with_name("step1")
step1(
    prefix_of(sm.input.bed[0]),
    sm.input.pheno,
    sm.input.covar,
    prefix,
    settings.regenie,
    sm.threads,
)
