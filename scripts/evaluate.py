"""Rule evaluate: all runs' metrics, mean +- sd over splits, DeLong comparisons."""

from pathlib import Path

from gemcont.evaluate.collect import aggregate
from gemcont.logs import to_file
from gemcont.threads import limit_threads

sm = snakemake  # noqa: F821
to_file(sm.log[0])
limit_threads(sm.threads)
scores = {m: [Path(p) for p in sm.input.scores if f"/{m}/" in p] for m in sm.params.methods}
aggregate(
    [Path(p) for p in sm.input.metrics],
    scores,
    {name: Path(sm.output[name]) for name in ("metrics", "summary", "comparison", "truth_r2")},
    truth=sm.params.truth,
)
