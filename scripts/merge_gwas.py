"""Rule merge_gwas: per-chromosome results -> one per-dimension and one multi-trait file."""

from gemcont.gwas.stage import merge_chromosomes
from gemcont.logs import to_file

sm = snakemake  # noqa: F821
to_file(sm.log[0])
merge_chromosomes(list(sm.input.per_dim), sm.output.per_dim)
merge_chromosomes(list(sm.input.multi), sm.output.multi)
