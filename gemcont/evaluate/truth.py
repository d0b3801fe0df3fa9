"""Simulation truth: how well embeddings capture the latent traits, and GWAS power.

:func:`latent_r2` regresses each latent trait (total ``latent_k`` and its genetic part
``latent_k_genetic``) on held-out embeddings with ridge regression (penalty chosen by
efficient leave-one-out CV) and reports R² = 1 - SSE/SST of K-fold out-of-fold predictions.
:func:`gwas_truth` scores GWAS lead variants against the simulated causal variants.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gemcont.evaluate.ridge import ALPHAS, ridge_r2
from gemcont.evaluate.risk import heldout, keyed
from gemcont.io.embeddings import dimension_columns
from gemcont.io.ids import KEY


def latent_columns(n_latent: int) -> list[str]:
    """latent_0, latent_0_genetic, latent_1, ... for ``n_latent`` traits."""
    return [f"latent_{k}{part}" for k in range(n_latent) for part in ("", "_genetic")]


def latent_r2(
    emb_df: pd.DataFrame,
    latent_df: pd.DataFrame,
    n_latent: int,
    seed: int,
    n_folds: int = 5,
    alphas: tuple[float, ...] = ALPHAS,
) -> dict[str, float]:
    """Out-of-fold ridge R² of each latent trait from held-out embeddings, keyed by column."""
    columns = latent_columns(n_latent)
    data = heldout(emb_df).merge(keyed(latent_df)[KEY + columns], on=KEY, how="inner")
    data = data.sort_values(KEY).reset_index(drop=True)
    x = data[dimension_columns(data)].to_numpy(float)
    y = data[columns].to_numpy(float)
    r2 = ridge_r2(x, y, seed, n_folds, alphas)
    return dict(zip(columns, map(float, r2), strict=True))


def _near(loci: pd.DataFrame, variants: pd.DataFrame, window_bp: float) -> np.ndarray:
    """For each row of ``variants``: is any row of ``loci`` on its chromosome within the window."""
    same_chr = (
        variants["CHR"].astype(str).to_numpy()[:, None]
        == loci["CHR"].astype(str).to_numpy()[None, :]
    )
    close = np.abs(variants["POS"].to_numpy(float)[:, None] - loci["POS"].to_numpy(float)[None])
    return (same_chr & (close <= window_bp)).any(axis=1)


def gwas_truth(
    loci_df: pd.DataFrame,
    causal_df: pd.DataFrame,
    window_kb: float = 1000,
    p_threshold: float = 5e-8,
) -> dict[str, float]:
    """Power (fraction of causal variants with a significant lead within the window) and
    false discoveries (significant leads with no causal variant within the window).

    Power is reported for mediated, direct and all causal variants.
    """
    window = window_kb * 1000
    significant = loci_df[loci_df["P"] < p_threshold]
    found = _near(significant, causal_df, window)
    mediated = (causal_df["pathway"] == "mediated").to_numpy()
    direct = (causal_df["pathway"] == "direct").to_numpy()
    false = ~_near(causal_df, significant, window)
    return {
        "power_mediated": float(found[mediated].mean()) if mediated.any() else np.nan,
        "power_direct": float(found[direct].mean()) if direct.any() else np.nan,
        "power_all": float(found.mean()) if len(found) else np.nan,
        "n_significant": len(significant),
        "false_discoveries": int(false.sum()),
    }
