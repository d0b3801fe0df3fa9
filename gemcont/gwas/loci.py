"""Embedding-GWAS loci, genomic inflation and recovery of the disease panel.

Clumping itself is not done here: :func:`independent_loci` takes the clumper as a
callable with the signature of :func:`gemcont.panel.clump.clump`, so this module
depends only on sumstats frames.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import chi2

from gemcont.errors import InputError

GENOME_WIDE_P = 5e-8
LOCUS_COLUMNS = ["ID", "CHR", "POS", "P", "N_CLUMPED"]
ClumpFn = Callable[..., pd.DataFrame]


def lambda_gc(p: np.ndarray | pd.Series, df: int = 1) -> float:
    """Genomic inflation: median chi2_df quantile of the p-values / median of chi2_df."""
    p = np.asarray(p, dtype=np.float64)
    p = p[np.isfinite(p)]
    if p.size == 0:
        raise ValueError("lambda_gc needs at least one finite p-value")
    return float(chi2.isf(np.median(p), df) / chi2.median(df))


def significant(sumstats: pd.DataFrame, p_threshold: float = GENOME_WIDE_P) -> pd.DataFrame:
    """Variants with P below the threshold, most significant first."""
    return sumstats[sumstats["P"] < p_threshold].sort_values("P", kind="stable")


def _with_bim_index(hits: pd.DataFrame, bim: pd.DataFrame) -> pd.DataFrame:
    """Add BIM_INDEX (row of the variant in the .bim) by ID and POS; error if absent
    (e.g. an imputed hit of ``gwas.genotypes`` that the LD fileset, data.bfile, lacks:
    no locus may be dropped or clumped on the wrong variant without a word)."""
    index = bim[["ID", "POS"]].reset_index(drop=True).reset_index(names="BIM_INDEX")
    index = index.drop_duplicates(["ID", "POS"])
    out = hits.merge(index, on=["ID", "POS"], how="left")
    absent = out["BIM_INDEX"].isna()
    if absent.any():
        raise InputError(
            None,
            f"significant variant not in the .bim used for LD ({int(absent.sum())} of "
            f"{len(out)} significant variants are not in it, matched by ID and POS)",
            "the loci are clumped on data.bfile: scan genotypes whose variants it holds "
            "(gwas.genotypes.path null, or a file set of data.bfile's variants and build, "
            "e.g. plink2 --extract)",
            f"variant {out.loc[absent, 'ID'].iloc[0]}",
        )
    return out.astype({"BIM_INDEX": np.int64})


def independent_loci(
    sumstats: pd.DataFrame,
    bim: pd.DataFrame,
    clump_fn: ClumpFn,
    genotypes: Any,
    *,
    p_threshold: float = GENOME_WIDE_P,
    r2_threshold: float = 0.05,
    window_kb: float = 5000,
    samples: np.ndarray | None = None,
) -> pd.DataFrame:
    """Genome-wide significant variants clumped into independent loci (lead variants).

    ``clump_fn(variants, genotypes, p_threshold, r2_threshold, window_kb, samples=)``
    gets ID CHR POS P [LOG10P] BIM_INDEX, e.g. :func:`gemcont.panel.clump.clump`.
    """
    columns = ["ID", "CHR", "POS", "P", *(["LOG10P"] if "LOG10P" in sumstats else [])]
    hits = significant(sumstats, p_threshold)[columns]
    if hits.empty:
        return pd.DataFrame(columns=LOCUS_COLUMNS)
    variants = _with_bim_index(hits, bim)
    return clump_fn(variants, genotypes, p_threshold, r2_threshold, window_kb, samples=samples)


def _by_chrom(sumstats: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per chromosome: POS (sorted), P and ID arrays of the variants with a finite P."""
    stats = sumstats.loc[np.isfinite(sumstats["P"]), ["CHR", "POS", "ID", "P"]]
    stats = stats.astype({"CHR": str}).sort_values(["CHR", "POS"], kind="stable")
    return {
        chrom: (g["POS"].to_numpy(), g["P"].to_numpy(), g["ID"].to_numpy())
        for chrom, g in stats.groupby("CHR", sort=False)
    }


def _window_min(
    arrays: tuple[np.ndarray, np.ndarray, np.ndarray] | None, pos: int, half: float
) -> tuple[float, str | None]:
    """Smallest P (and its ID) within pos ± half; NaN when no variant is there."""
    if arrays is None:
        return np.nan, None
    positions, p, ids = arrays
    lo = np.searchsorted(positions, pos - half, side="left")
    hi = np.searchsorted(positions, pos + half, side="right")
    if hi <= lo:
        return np.nan, None
    best = lo + int(np.argmin(p[lo:hi]))
    return float(p[best]), str(ids[best])


def recovery_table(
    sumstats: pd.DataFrame,
    panel: pd.DataFrame,
    window_kb: float = 500,
    p_threshold: float = GENOME_WIDE_P,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Per panel variant: is its locus genome-wide significant, is the variant itself
    significant after a Bonferroni correction for the S panel variants?

    RECOVERED_GW: the embedding GWAS's min P within ±window (MIN_P) is below
    ``p_threshold`` (a locus-level test, as genome-wide significance is). RECOVERED_BONF:
    the panel variant's own P (PANEL_P) is below ``alpha / S`` -- S tests, so the
    correction is only valid for the S variants themselves, not for windows around them.
    ``sumstats`` (CHR POS ID P) holds every tested variant; ``panel`` has ID CHR POS.
    """
    if panel.empty:
        raise ValueError("recovery_table needs at least one panel variant")
    chroms = _by_chrom(sumstats)
    half = window_kb * 1000
    found = [
        _window_min(chroms.get(str(c)), int(pos), half)
        for c, pos in zip(panel["CHR"], panel["POS"], strict=True)
    ]
    table = panel[["ID", "CHR", "POS"]].reset_index(drop=True)
    table["MIN_P"] = [p for p, _ in found]
    table["MIN_P_ID"] = [i for _, i in found]
    own_p = sumstats.drop_duplicates("ID").set_index("ID")["P"]
    table["PANEL_P"] = own_p.reindex(table["ID"]).to_numpy()
    table["RECOVERED_GW"] = table["MIN_P"] < p_threshold
    table["RECOVERED_BONF"] = table["PANEL_P"] < alpha / len(panel)
    return table


def novel_loci(loci: pd.DataFrame, panel: pd.DataFrame, window_kb: float = 500) -> pd.DataFrame:
    """Embedding loci with NEAREST_PANEL_KB and NEW (no panel variant within ±window)."""
    out = loci.reset_index(drop=True)
    panel_pos = {
        str(c): np.sort(g["POS"].to_numpy()) for c, g in panel.groupby(panel["CHR"].astype(str))
    }
    out["NEAREST_PANEL_KB"] = [
        _nearest(panel_pos.get(str(c)), int(pos)) / 1000
        for c, pos in zip(out["CHR"], out["POS"], strict=True)
    ]
    out["NEW"] = ~(out["NEAREST_PANEL_KB"] <= window_kb)
    return out


def _nearest(positions: np.ndarray | None, pos: int) -> float:
    """Distance in bp from pos to the closest of the sorted positions (inf if none)."""
    if positions is None or positions.size == 0:
        return np.inf
    i = np.searchsorted(positions, pos)
    near = positions[max(i - 1, 0) : i + 1]
    return float(np.abs(near - pos).min())


def recovery_summary(
    table: pd.DataFrame, loci: pd.DataFrame | None = None
) -> dict[str, int | float]:
    """Fractions of panel variants recovered (genome-wide, Bonferroni) and loci counts."""
    summary: dict[str, int | float] = {
        "n_panel": len(table),
        "recovered_gw": int(table["RECOVERED_GW"].sum()),
        "fraction_gw": float(table["RECOVERED_GW"].mean()),
        "recovered_bonferroni": int(table["RECOVERED_BONF"].sum()),
        "fraction_bonferroni": float(table["RECOVERED_BONF"].mean()),
    }
    if loci is not None:
        summary["n_loci"] = len(loci)
        summary["n_new_loci"] = int(loci["NEW"].sum())
    return summary
