"""Out-of-fold ridge R² in numpy alone (no scikit-learn), fast for many samples.

Used by the simulation truth metrics and by the rotation simulation, which also runs on
GPU machines without scikit-learn.
"""

from __future__ import annotations

import numpy as np

ALPHAS = tuple(np.logspace(-4, 6, 21))


def kfold_splits(n: int, n_folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffled K-fold (train, test) row indices; numpy only, so that GPU machines without
    scikit-learn can score the rotation simulation."""
    folds = np.array_split(np.random.default_rng(seed).permutation(n), n_folds)
    return [
        (np.sort(np.concatenate(folds[:k] + folds[k + 1 :])), np.sort(f))
        for k, f in enumerate(folds)
    ]


def oof_r2(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Column-wise 1 - SSE/SST (SST about the mean of ``y``); can be negative."""
    sse = ((y - pred) ** 2).sum(axis=0)
    sst = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    return 1.0 - sse / sst


def ridge_r2(
    x: np.ndarray,
    y: np.ndarray,
    seed: int,
    n_folds: int = 5,
    alphas: tuple[float, ...] = ALPHAS,
) -> np.ndarray:
    """Out-of-fold R² of each column of ``y`` (samples, or samples x targets) from ``x``.

    The model of :func:`latent_r2` (standardised features, intercept, the ridge penalty of
    each target chosen by exact leave-one-out error within the training folds), computed
    from one eigendecomposition of XᵀX per fold instead of sklearn's per-penalty work:
    the same predictions, with the cost of one decomposition instead of one solve per
    penalty (benchmarks/README.md, Evaluation).
    """
    y2 = np.asarray(y, np.float64).reshape(len(y), -1)
    x = np.asarray(x, np.float64)
    alpha = np.asarray(alphas, np.float64)
    pred = np.empty_like(y2)
    for train, test in kfold_splits(len(x), n_folds, seed):
        mean, sd = x[train].mean(0), x[train].std(0)
        sd[sd == 0] = 1.0
        xc = (x[train] - mean) / sd
        y_mean = y2[train].mean(0)
        yc = y2[train] - y_mean
        lam, v = np.linalg.eigh(xc.T @ xc)
        lam = np.clip(lam, 0.0, None)
        q = xc @ v  # n x p, orthogonal columns of squared norm lam
        shrink = 1.0 / (lam[:, None] + alpha[None, :])  # p x alphas
        hat = (q * q) @ shrink + 1.0 / len(train)  # n x alphas (intercept included)
        qty = q.T @ yc  # p x targets
        coefs = []
        for t in range(y2.shape[1]):
            fitted = q @ (qty[:, t : t + 1] * shrink)  # n x alphas
            loo = ((yc[:, t : t + 1] - fitted) / (1.0 - hat)) ** 2
            best = int(np.argmin(loo.sum(0)))
            coefs.append(v @ (qty[:, t] * shrink[:, best]))
        pred[test] = ((x[test] - mean) / sd) @ np.column_stack(coefs) + y_mean
    return np.atleast_1d(oof_r2(y2, pred))
