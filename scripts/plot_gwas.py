"""Rule plot_gwas: Manhattan and QQ plots of the multi-trait embedding GWAS."""

from pathlib import Path

from gemcont.logs import to_file
from gemcont.plots.gwas import plot_multitrait
from gemcont.threads import limit_threads

sm = snakemake  # noqa: F821
to_file(sm.log[0])
limit_threads(sm.threads)
plot_multitrait(
    Path(sm.input.multi),
    Path(sm.input.panel),
    Path(sm.output.manhattan).with_suffix(""),
    Path(sm.output.qq).with_suffix(""),
    title=f"{sm.wildcards.method}, split {sm.wildcards.split}",
)
