"""Rule regenie_step1: REGENIE whole-genome ridge regression, once for all dimensions."""

from pathlib import Path

from gemcont.gwas.stage import regenie_step1
from gemcont.io.plink import prefix_of
from gemcont.logs import to_file

sm = snakemake  # noqa: F821
to_file(sm.log[0])
prefix = Path(sm.output.pred).with_name("step1")
regenie_step1(
    prefix_of(sm.input.bed[0]), sm.input.pheno, sm.input.covar, prefix, sm.params.gwas, sm.threads
)
