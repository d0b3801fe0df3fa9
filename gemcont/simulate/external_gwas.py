"""The external disease GWAS: a case-control scan of an independent cohort."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from gemcont.io.sumstats import SINGLE_TRAIT_COLUMNS


def case_control_scan(
    dosages: np.ndarray, status: np.ndarray, bim: pd.DataFrame, block: int = 2048
) -> pd.DataFrame:
    """Per-variant linear regression of case status on A1 dosage (people x variants).

    BETA and SE are put on the log-odds scale with the usual linear-to-logistic
    approximation beta / (K(1-K)), K the case fraction; P is the exact t-test of the
    linear model, so the scan is calibrated whatever the approximation's accuracy.
    """
    y = status.astype(np.float64)
    n = len(y)
    k = y.mean()
    yc = y - k
    beta = np.empty(len(bim))
    se = np.empty(len(bim))
    log10p = np.empty(len(bim))
    eaf = np.empty(len(bim))
    for start in range(0, len(bim), block):
        sl = slice(start, min(start + block, len(bim)))
        g = dosages[:, sl].astype(np.float64)
        mean = g.mean(axis=0)
        g -= mean
        gg = np.einsum("ij,ij->j", g, g)
        b = (g.T @ yc) / gg
        rss = yc @ yc - b**2 * gg
        s = np.sqrt(rss / (n - 2) / gg)
        t = b / s
        beta[sl], se[sl], eaf[sl] = b, s, mean / 2
        log10p[sl] = -(stats.t.logsf(np.abs(t), n - 2) + np.log(2)) / np.log(10)
    scale = k * (1 - k)
    return pd.DataFrame(
        {
            "CHR": bim["CHR"].to_numpy(),
            "POS": bim["POS"].to_numpy(),
            "ID": bim["ID"].to_numpy(),
            "EA": bim["A1"].to_numpy(),
            "OA": bim["A2"].to_numpy(),
            "EAF": eaf,
            "N": n,
            "BETA": beta / scale,
            "SE": se / scale,
            "P": 10.0 ** (-log10p),
        }
    )[SINGLE_TRAIT_COLUMNS]


def swap_reported_alleles(
    sumstats: pd.DataFrame, fraction: float, rng: np.random.Generator
) -> pd.DataFrame:
    """Report a random ``fraction`` of variants for the other allele, as real consortia do."""
    out = sumstats.copy()
    swap = rng.random(len(out)) < fraction
    out.loc[swap, ["EA", "OA"]] = out.loc[swap, ["OA", "EA"]].to_numpy()
    out.loc[swap, "BETA"] = -out.loc[swap, "BETA"]
    out.loc[swap, "EAF"] = 1 - out.loc[swap, "EAF"]
    return out
