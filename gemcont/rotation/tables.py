"""The metric tables of the rotation simulation: one row per run, the summary over
seeds, and the rows of the default point and of each sweep."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from gemcont.io.tables import write_tsv
from gemcont.rotation.jobs import SWEEP_AXES
from gemcont.rotation.settings import RunSettings

METRIC_COLUMNS = [
    "axis",
    "value",
    "method",
    "seed",
    "n_train",
    "n_test",
    "h",
    "alpha_max",
    "epochs",
    "panel",
    "r2",
    "r2_genetic",
    "recovery",
    "recovery_bonferroni",
    "null_fp",
    "null_lambda",
    "train_seconds",
    "total_seconds",
]
log = logging.getLogger(__name__)

SUMMARY_METRICS = ("r2", "r2_genetic", "recovery", "recovery_bonferroni", "null_fp", "null_lambda")


def write_rows(rows: Sequence[dict], path: str | Path) -> pd.DataFrame:
    """Metric rows as a TSV (atomically replaced)."""
    frame = pd.DataFrame(list(rows), columns=METRIC_COLUMNS)
    write_tsv(frame, path)
    return frame


def read_metrics(paths: Iterable[str | Path]) -> pd.DataFrame:
    """Concatenate per-run metric TSVs."""
    frames = [pd.read_csv(p, sep="\t", dtype={"value": str, "axis": str}) for p in paths]
    if not frames:
        return pd.DataFrame(columns=METRIC_COLUMNS)
    return pd.concat(frames, ignore_index=True)[METRIC_COLUMNS]


def summarise(metrics: pd.DataFrame) -> pd.DataFrame:
    """Mean, sd and count over seeds per point setting and method (long: one row per
    metric). Each sweep axis shows the default point at its default value."""
    keys = ["n_train", "h", "alpha_max", "method"]
    long = metrics.melt(
        id_vars=[*keys, "seed"],
        value_vars=list(SUMMARY_METRICS),
        var_name="metric",
        value_name="val",
    )
    stats = long.groupby([*keys, "metric"], sort=False)["val"].agg(["mean", "std", "count"])
    return stats.rename(columns={"std": "sd", "count": "n"}).fillna({"sd": 0.0}).reset_index()


def collect(
    paths: Iterable[str | Path], metrics_out: str | Path, summary_out: str | Path
) -> pd.DataFrame:
    """All runs' metrics -> ``metrics_out``; mean, sd and n over seeds -> ``summary_out``."""
    metrics = read_metrics(paths)
    write_rows(metrics.to_dict("records"), metrics_out)
    summary = summarise(metrics)
    write_tsv(summary, summary_out)
    log.info("%d runs summarised:\n%s", len(metrics), summary.to_string(index=False))
    return summary


def _at_defaults(summary: pd.DataFrame, settings: RunSettings, axes: Iterable[str]) -> pd.DataFrame:
    """Summary rows whose ``axes`` are at their default values."""
    mask = np.ones(len(summary), bool)
    for axis in axes:
        mask &= np.isclose(summary[axis].astype(float), float(getattr(settings, axis)))
    return summary[mask]


def sweep_table(summary: pd.DataFrame, settings: RunSettings, axis: str) -> pd.DataFrame:
    """Summary rows of one sweep: the other two axes at their defaults."""
    others = [a for a in SWEEP_AXES if a != axis]
    return _at_defaults(summary, settings, others).sort_values(axis)


def default_table(summary: pd.DataFrame, settings: RunSettings) -> pd.DataFrame:
    """Summary rows of the default point."""
    return _at_defaults(summary, settings, SWEEP_AXES)
