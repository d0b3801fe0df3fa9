"""Rule extract_features: panel dosages and PRS with the top genetic PCs regressed out."""

from pathlib import Path

from gemcont.genotypes.stage import FeaturesSettings, build_features
from gemcont.io.plink import prefix_of
from gemcont.logs import to_file
from gemcont.panel.build import configured_panel_genotypes
from gemcont.settings import build
from gemcont.threads import limit_threads

sm = snakemake  # noqa: F821
to_file(sm.log[0])
limit_threads(sm.threads)
build_features(
    prefix_of(sm.input.bed[0]),
    sm.input.panel,
    sm.input.pcs,
    build(FeaturesSettings, sm.params.features, "features"),
    sm.params.n_pcs,
    Path(sm.output.features).parent,
    sm.threads,
    sm.input.get("exclude") or None,
    configured_panel_genotypes(sm.params.get("genotypes")),
)
