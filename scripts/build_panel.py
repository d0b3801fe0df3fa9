"""Rule build_panel: harmonised, p-thresholded, LD-clumped disease variant panel."""

from pathlib import Path

from gemcont.io.plink import prefix_of
from gemcont.logs import to_file
from gemcont.panel.build import PanelPaths, PanelSettings, build_panel, configured_panel_genotypes
from gemcont.panel.studies import studies_from_config
from gemcont.settings import build
from gemcont.threads import limit_threads

sm = snakemake  # noqa: F821
to_file(sm.log.main)
limit_threads(sm.threads)
paths = PanelPaths(
    panel=Path(sm.output.panel),
    coverage=Path(sm.output.coverage),
    harmonise_report=Path(sm.output.harmonise),
    clumps=Path(sm.output.clumps),
    harmonise_log=Path(sm.log.harmonise),
    coverage_log=Path(sm.log.coverage),
    meta=Path(sm.output.meta) if "meta" in sm.output.keys() else None,
    eaf_check=Path(sm.output.eaf_check),
)
build_panel(
    studies_from_config(sm.params.sumstats, sm.params.columns),
    prefix_of(sm.input.bed[0]),
    build(PanelSettings, sm.params.panel, "panel"),
    paths,
    sm.threads,
    configured_panel_genotypes(sm.params.get("genotypes")),
)
