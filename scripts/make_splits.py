"""Rule make_splits: eligible people (drops logged with reasons) and seeded splits."""

from pathlib import Path

from gemcont.logs import to_file
from gemcont.settings import build
from gemcont.splits import SplitsSettings, build_splits
from gemcont.threads import limit_threads

sm = snakemake  # noqa: F821
to_file(sm.log[0])
limit_threads(sm.threads)
build_splits(
    sm.input.fam,
    Path(sm.input.index),
    Path(sm.input.exclusions),
    sm.input.disease,
    sm.input.covariates,
    sm.params.covariate_columns,
    sm.params.numeric_covariates,
    build(SplitsSettings, sm.params.splits, "splits"),
    Path(sm.output.splits),
    Path(sm.output.report),
    sm.input.get("exclude") or None,
)
