"""The external disease GWAS: a case-control scan of an independent cohort, written in
the project's column scheme or, for further cohorts, in FinnGen's published layout."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from gemcont.io.sumstats import SINGLE_TRAIT_COLUMNS
from gemcont.io.tables import write_tsv

# FinnGen's per-endpoint summary statistics header (releases R5 to R12)
FINNGEN_COLUMNS = [
    "#chrom",
    "pos",
    "ref",
    "alt",
    "rsids",
    "nearest_genes",
    "pval",
    "mlogp",
    "beta",
    "sebeta",
    "af_alt",
    "af_alt_cases",
    "af_alt_controls",
]


def case_control_scan(
    dosages: np.ndarray, status: np.ndarray, bim: pd.DataFrame, block: int = 2048
) -> pd.DataFrame:
    """Per-variant linear regression of case status on A1 dosage (people x variants).

    BETA and SE are put on the log-odds scale with the usual linear-to-logistic
    approximation beta / (K(1-K)), K the case fraction; P is the exact t-test of the
    linear model, so the scan is calibrated whatever the approximation's accuracy.
    Columns: the single-trait scheme and ``LOG10P`` (-log10 P, exact where P underflows).
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
            "LOG10P": log10p,
        }
    )[[*SINGLE_TRAIT_COLUMNS, "LOG10P"]]


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


def write_finngen(
    sumstats: pd.DataFrame,
    dosages: np.ndarray,
    status: np.ndarray,
    a1: np.ndarray,
    path: str,
) -> None:
    """Write a scan (:func:`case_control_scan`, alleles as reported) the way FinnGen
    publishes one: ``alt`` is the effect allele, ``ref`` the other; ``mlogp`` is -log10 P;
    ``af_alt_cases``/``af_alt_controls`` the effect allele's frequency in cases and
    controls; no N column; ``nearest_genes`` empty (the simulation has no genes).

    ``dosages`` (people x variants, counting .bim A1 = ``a1``) and ``status`` are the
    cohort's; allele frequencies are reported for ``alt``.
    """
    cases = status.astype(bool)
    a1_cases = dosages[cases].mean(axis=0) / 2
    a1_controls = dosages[~cases].mean(axis=0) / 2
    reported_a1 = sumstats["EA"].to_numpy() == a1
    out = pd.DataFrame(
        {
            "#chrom": sumstats["CHR"].to_numpy(),
            "pos": sumstats["POS"].to_numpy(),
            "ref": sumstats["OA"].to_numpy(),
            "alt": sumstats["EA"].to_numpy(),
            "rsids": sumstats["ID"].to_numpy(),
            "nearest_genes": "",
            "pval": sumstats["P"].to_numpy(),
            "mlogp": sumstats["LOG10P"].to_numpy(),
            "beta": sumstats["BETA"].to_numpy(),
            "sebeta": sumstats["SE"].to_numpy(),
            "af_alt": sumstats["EAF"].to_numpy(),
            "af_alt_cases": np.where(reported_a1, a1_cases, 1 - a1_cases),
            "af_alt_controls": np.where(reported_a1, a1_controls, 1 - a1_controls),
        }
    )
    write_tsv(out[FINNGEN_COLUMNS], path)
