"""Rule extract_features: panel dosages and PRS with the top genetic PCs regressed out."""

from pathlib import Path

from gemcont.feature_stage import build_features
from gemcont.logs import to_file

sm = snakemake  # noqa: F821
to_file(sm.log[0])
build_features(
    sm.params.bfile,
    sm.input.panel,
    sm.input.pcs,
    sm.params.features,
    sm.params.n_pcs,
    Path(sm.output.features).parent,
    sm.threads,
)
