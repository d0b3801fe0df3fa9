"""Rule merge_gwas: per-chromosome results -> one per-dimension and one multi-trait file,
and the chromosomes' variant QC counts -> variant_qc.tsv."""

from gemcont.gwas.stage import merge_chromosomes, merge_variant_qc
from gemcont.logs import to_file
from gemcont.threads import limit_threads

sm = snakemake  # noqa: F821
to_file(sm.log[0])
limit_threads(sm.threads)
merge_chromosomes(list(sm.input.per_dim), sm.output.per_dim)
merge_chromosomes(list(sm.input.multi), sm.output.multi)
merge_variant_qc(list(sm.input.qc), sm.output.qc)
