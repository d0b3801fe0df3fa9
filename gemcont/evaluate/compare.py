"""Paired comparison of two methods' ROC AUCs on the same people.

:func:`delong_test` is DeLong's test for correlated ROC AUCs, computed with the fast
midrank algorithm of Sun & Xu (2014, IEEE Signal Processing Letters 21:1389).
:func:`bootstrap_test` is a paired, case/control-stratified bootstrap alternative.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from gemcont.evaluate import NotEstimable


def midrank(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``x`` with ties given their average rank (midranks)."""
    return stats.rankdata(x, method="average", axis=-1)


def _split_classes(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scores (k methods x people) of the cases and of the controls."""
    y = np.asarray(y_true).astype(bool)
    if y.all() or not y.any():
        raise ValueError("need both cases and controls")
    scores = np.atleast_2d(np.asarray(scores, dtype=float))
    return scores[:, y], scores[:, ~y]


def delong_covariance(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUCs of k score vectors (k x people) and their k x k DeLong covariance."""
    pos, neg = _split_classes(y_true, scores)
    m, n = pos.shape[1], neg.shape[1]
    t_z = midrank(np.hstack([pos, neg]))
    t_x, t_y = midrank(pos), midrank(neg)
    aucs = (t_z[:, :m].sum(axis=1) / m - (m + 1) / 2) / n
    v10 = (t_z[:, :m] - t_x) / n
    v01 = 1.0 - (t_z[:, m:] - t_y) / m
    cov = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
    return aucs, cov


def _z_test(auc_a: float, auc_b: float, se: float) -> dict[str, float]:
    """Two-sided normal test of auc_a - auc_b with standard error ``se``."""
    diff = auc_a - auc_b
    z = diff / se if se > 0 else 0.0
    p = float(2 * stats.norm.sf(abs(z))) if se > 0 else 1.0
    return {"auc_a": auc_a, "auc_b": auc_b, "diff": diff, "se": se, "z": z, "p": p}


def delong_test(y_true: np.ndarray, score_a: np.ndarray, score_b: np.ndarray) -> dict[str, float]:
    """DeLong's test of AUC(a) = AUC(b) for paired scores: auc_a auc_b diff se z p.

    Raises :class:`~gemcont.evaluate.NotEstimable` without 2 cases and 2 controls (the
    variance of the AUC difference needs two of each).
    """
    y = np.asarray(y_true).astype(bool)
    cases, controls = int(y.sum()), int(y.size - y.sum())
    if min(cases, controls) < 2:
        raise NotEstimable(
            f"not estimable: {cases} case(s) and {controls} control(s); "
            "DeLong's test needs at least 2 of each",
            n=y.size,
            n_cases=cases,
        )
    aucs, cov = delong_covariance(y_true, np.vstack([score_a, score_b]))
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    return _z_test(float(aucs[0]), float(aucs[1]), float(np.sqrt(max(var, 0.0))))


def _bootstrap_aucs(
    pos: np.ndarray, neg: np.ndarray, n_boot: int, rng: np.random.Generator, chunk: int = 200
) -> np.ndarray:
    """AUCs (n_boot x k) after resampling cases and controls with replacement, jointly."""
    m, n = pos.shape[1], neg.shape[1]
    out = []
    for size in np.diff(np.r_[np.arange(0, n_boot, chunk), n_boot]):
        i, j = rng.integers(0, m, (size, m)), rng.integers(0, n, (size, n))
        both = np.concatenate([pos[:, i], neg[:, j]], axis=2)  # k x size x (m + n)
        rank_sum = midrank(both)[:, :, :m].sum(axis=2)
        out.append(((rank_sum - m * (m + 1) / 2) / (m * n)).T)
    return np.vstack(out)


def bootstrap_test(
    y_true: np.ndarray, score_a: np.ndarray, score_b: np.ndarray, n_boot: int = 2000, seed: int = 0
) -> dict[str, float]:
    """Paired stratified bootstrap test of AUC(a) = AUC(b); adds a 95% percentile CI."""
    pos, neg = _split_classes(y_true, np.vstack([score_a, score_b]))
    aucs, _ = delong_covariance(y_true, np.vstack([score_a, score_b]))
    boot = _bootstrap_aucs(pos, neg, n_boot, np.random.default_rng(seed))
    diffs = boot[:, 0] - boot[:, 1]
    low, high = np.quantile(diffs, [0.025, 0.975])
    result = _z_test(float(aucs[0]), float(aucs[1]), float(diffs.std(ddof=1)))
    return result | {"ci_low": float(low), "ci_high": float(high)}
