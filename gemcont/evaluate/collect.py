"""One run's metrics as a long table, summaries over splits, and paired method comparisons.

Metric names: ``auc_assessment auprc_assessment auc_incident_5y auprc_incident_5y``
(plus ``n_*`` and ``n_cases_*``); with truth, ``r2_latent_{k}`` and ``r2_latent_{k}_genetic``;
from the embedding GWAS, ``gwas_lambda_gc gwas_n_loci gwas_n_new gwas_recovery_gw
gwas_recovery_bonferroni``; with truth, ``gwas_power_mediated gwas_power_direct
gwas_power_all gwas_false_discoveries``.

A metric the data cannot estimate (e.g. an AUC with too few incident cases among the
held-out people, or a DeLong test without two cases and two controls: the estimator
raises :class:`gemcont.evaluate.NotEstimable`) is written as NA with the reason in the
``note`` column, and the run goes on.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gemcont.evaluate import NotEstimable
from gemcont.evaluate.compare import delong_test
from gemcont.evaluate.risk import OUTCOMES, risk_prediction
from gemcont.evaluate.truth import gwas_truth, latent_r2
from gemcont.io.embeddings import read_embeddings
from gemcont.io.ids import KEY
from gemcont.io.tables import write_tsv

log = logging.getLogger(__name__)

LABELS = {"disease_at_assessment": "assessment", "incident_5y": "incident_5y"}
SUMMARY_METRICS = {
    "lambda_gc": "gwas_lambda_gc",
    "n_loci": "gwas_n_loci",
    "n_new": "gwas_n_new",
    "fraction_recovered_gw": "gwas_recovery_gw",
    "fraction_recovered_bonferroni": "gwas_recovery_bonferroni",
}
TRUTH_METRICS = ("power_mediated", "power_direct", "power_all", "false_discoveries")
METRIC_COLUMNS = ["method", "split", "metric", "value", "note"]
COMPARISON_COLUMNS = [
    "method",
    "split",
    "outcome",
    "n",
    "auc",
    "auc_ref",
    "diff",
    "se",
    "p_delong",
    "note",
]
SCORE_COLUMNS = ["split", "outcome", *KEY, "y", "score"]


@dataclass(frozen=True)
class EvaluateSettings:
    """The config's ``evaluate`` section (defaults in the schema), built once by the
    script with :func:`gemcont.settings.build`."""

    n_folds: int
    inner_folds: int
    n_cs: int
    window_kb: float
    p_threshold: float


def read_table(path: str | Path) -> pd.DataFrame:
    """A tab-separated table (optionally gzipped) with FID and IID as strings."""
    return pd.read_csv(path, sep="\t", dtype={"FID": str, "IID": str})


def _rows(
    method: str, split: int, values: dict[str, float], notes: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """Long metric rows for one run; ``notes`` says why a metric is NA."""
    notes = notes or {}
    frame = pd.DataFrame(
        {
            "metric": list(values),
            "value": list(values.values()),
            "note": [notes.get(m, "") for m in values],
        }
    )
    return frame.assign(method=method, split=split)[METRIC_COLUMNS]


def risk_metrics(
    emb: pd.DataFrame,
    disease: pd.DataFrame,
    covariates: pd.DataFrame | None,
    seed: int,
    settings: EvaluateSettings,
) -> tuple[dict[str, float], pd.DataFrame, dict[str, str]]:
    """Risk metrics for both outcomes, the stacked out-of-fold scores and the notes (by
    metric). An outcome whose AUCs are not estimable gets NA values, its reason as their
    notes and a logged warning."""
    values, scores, notes = {}, [], {}
    for outcome in OUTCOMES:
        label = LABELS[outcome]
        try:
            res = risk_prediction(
                emb,
                disease,
                covariates,
                outcome,
                seed,
                settings.n_folds,
                settings.inner_folds,
                settings.n_cs,
            )
        except NotEstimable as err:
            log.warning("%s: AUC and AUPRC reported as NA: %s", outcome, err)
            res = {"auc": np.nan, "auprc": np.nan, "n": err.n, "n_cases": err.n_cases}
            notes |= {f"auc_{label}": str(err), f"auprc_{label}": str(err)}
        else:
            scores.append(res["scores"].assign(outcome=label))
        values |= {
            f"auc_{label}": res["auc"],
            f"auprc_{label}": res["auprc"],
            f"n_{label}": res["n"],
            f"n_cases_{label}": res["n_cases"],
        }
    columns = [*KEY, "y", "score", "outcome"]
    return values, pd.concat([pd.DataFrame(columns=columns), *scores], ignore_index=True), notes


def n_latent_traits(latent: pd.DataFrame) -> int:
    """Number of latent traits: columns named latent_<k>."""
    return sum(bool(re.fullmatch(r"latent_\d+", c)) for c in latent.columns)


def gwas_metrics(summary_path: str | Path) -> dict[str, float]:
    """The embedding GWAS's calibration and recovery metrics from its summary.json."""
    summary = json.loads(Path(summary_path).read_text())
    return {name: float(summary[key]) for key, name in SUMMARY_METRICS.items()}


def evaluate_run(
    method: str,
    split: int,
    settings: EvaluateSettings,
    seed: int,
    *,
    embeddings: str | Path,
    disease: str | Path,
    covariates: str | Path | None = None,
    gwas_summary: str | Path | None = None,
    gwas_loci: str | Path | None = None,
    latent_traits: str | Path | None = None,
    causal_variants: str | Path | None = None,
    scores_out: str | Path | None = None,
) -> pd.DataFrame:
    """Long table (method split metric value note) of one method on one split; ``seed +
    split`` (``seed`` is ``splits.seed`` in the workflow) seeds the split's folds.

    Truth metrics need ``latent_traits`` (R²) or ``causal_variants`` with ``gwas_loci``
    (power). Out-of-fold risk scores go to ``scores_out`` (columns :data:`SCORE_COLUMNS`).
    """
    seed = seed + split
    emb = read_embeddings(embeddings)
    covs = read_table(covariates) if covariates is not None else None
    values, scores, notes = risk_metrics(emb, read_table(disease), covs, seed, settings)
    if latent_traits is not None:
        latent = read_table(latent_traits)
        r2 = latent_r2(emb, latent, n_latent_traits(latent), seed, settings.n_folds)
        values |= {f"r2_{name}": value for name, value in r2.items()}
    if gwas_summary is not None:
        values |= gwas_metrics(gwas_summary)
    if gwas_loci is not None and causal_variants is not None:
        truth = gwas_truth(
            read_table(gwas_loci),
            read_table(causal_variants),
            settings.window_kb,
            settings.p_threshold,
        )
        values |= {f"gwas_{key}": truth[key] for key in TRUTH_METRICS}
    if scores_out is not None:
        write_tsv(scores.assign(split=split)[SCORE_COLUMNS], scores_out)
    return _rows(method, split, values, notes)


def summarise(metrics_long: pd.DataFrame) -> pd.DataFrame:
    """Wide table: one row per method, ``<metric>_mean`` and ``<metric>_sd`` over splits."""
    order = list(dict.fromkeys(metrics_long["metric"]))
    stats = metrics_long.groupby(["method", "metric"], sort=False)["value"].agg(["mean", "std"])
    wide = stats.rename(columns={"std": "sd"}).unstack("metric")
    columns = [(stat, metric) for metric in order for stat in ("mean", "sd")]
    wide = wide.reindex(columns=pd.MultiIndex.from_tuples(columns))
    wide.columns = [f"{metric}_{stat}" for stat, metric in columns]
    return wide.reset_index()


def compare_methods(scores: dict[str, pd.DataFrame], reference: str = "gemcont") -> pd.DataFrame:
    """DeLong comparison of each method's AUC with the reference's on the same people.

    ``scores`` maps method -> out-of-fold scores (columns :data:`SCORE_COLUMNS`, all splits).
    """
    ref = scores[reference]
    rows = []
    for method, frame in scores.items():
        if method == reference:
            continue
        both = frame.merge(ref, on=["split", "outcome", *KEY], suffixes=("", "_ref"))
        if not (both["y"] == both["y_ref"]).all():
            raise ValueError(f"{method} and {reference} disagree on disease status")
        for (split, outcome), group in both.groupby(["split", "outcome"], sort=True):
            rows.append(
                {"method": method, "split": split, "outcome": outcome, "n": len(group)}
                | _delong_row(group)
            )
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def _delong_row(group: pd.DataFrame) -> dict:
    """DeLong columns for one split and outcome; NA with the reason in ``note`` when
    the test is not estimable."""
    try:
        test = delong_test(
            group["y"].to_numpy(), group["score"].to_numpy(), group["score_ref"].to_numpy()
        )
    except NotEstimable as err:
        log.warning("DeLong test reported as NA: %s", err)
        return dict.fromkeys(["auc", "auc_ref", "diff", "se", "p_delong"], np.nan) | {
            "note": str(err)
        }
    return {
        "auc": test["auc_a"],
        "auc_ref": test["auc_b"],
        "diff": test["diff"],
        "se": test["se"],
        "p_delong": test["p"],
        "note": "",
    }


def truth_r2_table(metrics_long: pd.DataFrame, path: str | Path | None = None) -> pd.DataFrame:
    """Ridge R² of each latent trait per method and split (method split latent r2)."""
    rows = metrics_long[metrics_long["metric"].str.startswith("r2_latent_")]
    table = rows.assign(latent=rows["metric"].str.removeprefix("r2_"), r2=rows["value"])
    table = table[["method", "split", "latent", "r2"]].reset_index(drop=True)
    if path is not None:
        write_tsv(table, path)
    return table


def write_metrics(metrics_long: pd.DataFrame, path: str | Path) -> None:
    """Save a long metric table (method split metric value note; a table without the
    note column gets an empty one)."""
    table = metrics_long.reindex(columns=METRIC_COLUMNS)
    write_tsv(table.assign(note=table["note"].astype(object).fillna("")), path)


def write_summary(metrics_long: pd.DataFrame, path: str | Path) -> None:
    """Save the method x metric mean / sd table."""
    write_tsv(summarise(metrics_long), path)


def write_comparison(
    scores: dict[str, pd.DataFrame], path: str | Path, reference: str = "gemcont"
) -> None:
    """Save the DeLong comparisons against ``reference``."""
    write_tsv(compare_methods(scores, reference), path)


def aggregate(
    metrics: Sequence[Path],
    scores: Mapping[str, Sequence[Path]],
    out: Mapping[str, Path],
    truth: bool,
) -> None:
    """Merge per-run metrics; summary over splits; DeLong vs GEMCONT; truth R² table."""
    long = pd.concat([read_table(p) for p in metrics], ignore_index=True)
    write_metrics(long, out["metrics"])
    write_summary(long, out["summary"])
    frames = {
        m: pd.concat([read_table(p) for p in ps], ignore_index=True) for m, ps in scores.items()
    }
    if "gemcont" in frames and len(frames) > 1:
        write_comparison(frames, out["comparison"])
    else:
        write_tsv(pd.DataFrame(columns=COMPARISON_COLUMNS), out["comparison"])
    empty = pd.DataFrame(columns=["method", "split", "latent", "r2"])
    write_tsv(truth_r2_table(long) if truth else empty, out["truth_r2"])
