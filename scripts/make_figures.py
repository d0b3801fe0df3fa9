"""Rule make_figures: method comparison, training curves, embedding PCA, marker violins."""

from pathlib import Path

from gemcont.logs import to_file
from gemcont.report.stage import figures
from gemcont.threads import limit_threads

sm = snakemake  # noqa: F821
to_file(sm.log[0])
limit_threads(sm.threads)
# params.runs lists the (method, split) of each training curve, in input order
runs = [(method, int(split)) for method, split in sm.params.runs]
training = dict(zip(runs, map(Path, sm.input.training), strict=True))
figures(
    Path(sm.input.metrics),
    training,
    Path(sm.input.embeddings),
    Path(sm.input.disease),
    Path(sm.input.marker),
    sm.params.marker_column,
    {name: Path(sm.output[name]) for name in ("methods", "training", "pca", "violin")},
    method=sm.params.method,
)
