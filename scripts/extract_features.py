"""Rule extract_features: panel dosages and PRS with the top genetic PCs regressed out."""

from pathlib import Path

from gemcont.feature_stage import build_features
from gemcont.io.plink import prefix_of
from gemcont.logs import to_file

sm = snakemake  # noqa: F821
to_file(sm.log[0])
build_features(
    prefix_of(sm.input.bed[0]),
    sm.input.panel,
    sm.input.pcs,
    sm.params.features,
    sm.params.n_pcs,
    Path(sm.output.features).parent,
    sm.threads,
)
