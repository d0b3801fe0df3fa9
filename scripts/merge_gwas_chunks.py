"""Rule merge_gwas_chunks: one method's chunk files of a chromosome -> its per-chromosome
files, byte for byte what one scan of the chromosome writes; its variant QC counts
summed."""

from gemcont.gwas.stage import merge_chunks, merge_variant_qc
from gemcont.logs import to_file
from gemcont.threads import limit_threads

sm = snakemake  # noqa: F821
to_file(sm.log[0])
limit_threads(sm.threads)
merge_chunks(list(sm.input.per_dim), sm.output.per_dim)
merge_chunks(list(sm.input.multi), sm.output.multi)
merge_variant_qc(list(sm.input.qc), sm.output.qc, chunks=True)
