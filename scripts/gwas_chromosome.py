"""Rule gwas_chromosome: one chromosome of the embedding GWAS with the configured engine."""

from pathlib import Path

from gemcont.gwas.stage import run_chromosome
from gemcont.io.plink import prefix_of
from gemcont.logs import to_file

sm = snakemake  # noqa: F821
to_file(sm.log[0])
out = Path(sm.output.multi)
run_chromosome(
    sm.params.gwas["engine"],
    prefix_of(sm.input.bed[0]),
    sm.input.pheno,
    sm.input.covar,
    sm.wildcards.chrom,
    sm.output.per_dim,
    sm.output.multi,
    sm.params.gwas,
    sm.threads,
    out.parent / f"work_{sm.wildcards.chrom}",
    regenie_pred=sm.input.get("pred") or None,
)
