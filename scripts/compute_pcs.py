"""Rule compute_pcs: genetic principal components on LD-pruned variants."""

from pathlib import Path

from gemcont.genotypes.stage import PcsSettings, compute_pcs
from gemcont.io.plink import prefix_of
from gemcont.logs import to_file
from gemcont.settings import build
from gemcont.threads import limit_threads

sm = snakemake  # noqa: F821
to_file(sm.log[0])
limit_threads(sm.threads)
compute_pcs(
    prefix_of(sm.input.bed[0]),
    build(PcsSettings, sm.params.pcs, "pcs"),
    Path(sm.output.pcs),
    sm.threads,
    sm.input.get("exclude") or None,
)
