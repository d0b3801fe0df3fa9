"""Rule gwas_chromosome: one chromosome of the embedding GWAS with the configured engine."""

from pathlib import Path

from gemcont.gwas.settings import GwasSettings
from gemcont.gwas.stage import run_chromosome
from gemcont.io.plink import prefix_of
from gemcont.logs import to_file
from gemcont.settings import build
from gemcont.threads import limit_threads

sm = snakemake  # noqa: F821
to_file(sm.log[0])
limit_threads(sm.threads)
settings = build(GwasSettings, sm.params.gwas, "gwas")
run_chromosome(
    settings,
    prefix_of(sm.input.bed[0]),
    sm.input.pheno,
    sm.input.covar,
    sm.input.corr,
    sm.wildcards.chrom,
    (sm.output.per_dim, sm.output.multi),
    sm.threads,
    Path(sm.output.multi).parent / f"work_{sm.wildcards.chrom}",
    regenie_pred=sm.input.get("pred") or None,
)
