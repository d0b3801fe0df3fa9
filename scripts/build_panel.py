"""Rule build_panel: harmonised, p-thresholded, LD-clumped disease variant panel."""

from pathlib import Path

from gemcont.io.plink import prefix_of
from gemcont.logs import to_file
from gemcont.panel.build import PanelPaths, PanelSettings, build_panel
from gemcont.settings import build
from gemcont.threads import limit_threads

sm = snakemake  # noqa: F821
to_file(sm.log[0])
limit_threads(sm.threads)
paths = PanelPaths(
    **{name: Path(sm.output[name]) for name in ("panel", "coverage", "clumps")},
    harmonise_report=Path(sm.output.harmonise),
)
build_panel(
    sm.input.sumstats,
    sm.params.columns,
    prefix_of(sm.input.bed[0]),
    build(PanelSettings, sm.params.panel, "panel"),
    paths,
    sm.threads,
)
