"""Rule make_figures: method comparison, training curves, embedding PCA, marker violins."""

from pathlib import Path

from gemcont.logs import to_file
from gemcont.report.stage import figures

sm = snakemake  # noqa: F821
to_file(sm.log[0])
training = {
    (Path(p).parts[-3], int(Path(p).parts[-2].removeprefix("split_"))): Path(p)
    for p in sm.input.training
}
figures(
    Path(sm.input.metrics),
    training,
    Path(sm.input.embeddings),
    Path(sm.input.disease),
    Path(sm.input.marker),
    sm.params.marker_column,
    {name: Path(sm.output[name]) for name in ("methods", "training", "pca", "violin")},
)
