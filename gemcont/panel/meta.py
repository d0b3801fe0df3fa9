"""Fixed-effect meta-analysis of harmonised summary statistics (METAL's two schemes).

Every study is first harmonised on its own to the cohort's .bim (:func:`harmonise`), so
the studies share one key (``BIM_INDEX``) and one effect allele (.bim A1): no allele
alignment happens here. Per variant, over the k studies that have it:

``stderr`` (METAL ``SCHEME STDERR``, fixed-effect inverse-variance):
    w_i = 1/SE_i², BETA = Σ w_i b_i / Σ w_i, SE = 1/√Σ w_i, Z = BETA/SE.
``samplesize`` (METAL ``SCHEME SAMPLESIZE``, weighted Z):
    z_i = sign(b_i)·|Φ⁻¹(P_i/2)| (from LOG10P, in log space, so P below 1e-308 works),
    Z = Σ √N_i z_i / √Σ N_i, and the effect on the standardised scale:
    BETA = Z/√N, SE = 1/√N with N = Σ N_i. This equals the stderr scheme applied to
    b_i' = z_i/√N_i, SE_i' = 1/√N_i, which is how it is computed (and how METAL's
    heterogeneity test for this scheme is defined).

Both: P two-sided normal from Z, with ``LOG10P`` = -log10 P exact far below 1e-308
(``P`` itself is 0 there); Cochran's Q = Σ w_i (b_i - BETA)², ``HET_DF`` = k - 1,
``HET_P`` its χ² upper tail; ``I2`` = max(0, (Q - HET_DF)/Q) as a **percentage** (0-100,
METAL's HetISq and PLINK's I); ``DIRECTION`` one character per study in input order:
``+``/``-`` the sign of its BETA, ``0`` an effect of exactly 0, ``?`` absent (METAL);
``N`` = Σ N_i over the studies that give N (NaN when none does); ``EAF`` = the
N-weighted mean of the studies' EAF (the pooled allele count, as GWAMA; METAL's
AVERAGEFREQ weights by the scheme's weight instead), the plain mean where a study with
an EAF lacks N; NaN without any EAF.

A variant in one study only keeps that study's statistics: BETA, SE, P and LOG10P
unchanged under ``stderr`` (its P may come from a t test, which the normal
approximation would alter), P and LOG10P unchanged under ``samplesize`` (BETA and SE
there follow the scheme, so that the column has one scale); Q = 0, HET_DF = 0,
HET_P = NaN and I2 = NaN (heterogeneity is undefined with one study). So one study in
gives its own statistics out.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import chdtrc, log_ndtr, ndtri_exp

from gemcont.errors import InputError
from gemcont.gwas.pvalues import LN10
from gemcont.io.sumstats import SINGLE_TRAIT_COLUMNS

SCHEMES = ("stderr", "samplesize")
INPUT_COLUMNS = [*SINGLE_TRAIT_COLUMNS, "LOG10P", "BIM_INDEX"]
META_COLUMNS = [
    *SINGLE_TRAIT_COLUMNS,
    *("LOG10P", "BIM_INDEX", "N_STUDIES", "DIRECTION", "Q", "HET_DF", "HET_P", "I2"),
]
# DIRECTION characters by digit: effect > 0, < 0, == 0, study absent
_DIRECTION_CHARS = "+-0?"
_LN2 = float(np.log(2.0))
_LOG = logging.getLogger(__name__)


def meta_analyse(
    studies: Sequence[tuple[str, pd.DataFrame]], scheme: str = "stderr", min_studies: int = 1
) -> pd.DataFrame:
    """Combine harmonised studies variant by variant (see the module docstring).

    ``studies``: (name, ``harmonise(...).matched``) in order, all on the same .bim.
    Returns :data:`META_COLUMNS`, one row per variant in at least ``min_studies``
    studies, sorted by ``BIM_INDEX``; the number dropped for fewer studies is logged.
    """
    _check_arguments(studies, scheme, min_studies)
    k = len(studies)
    frames = [_checked_study(name, frame, scheme) for name, frame in studies]
    study = np.repeat(np.arange(k), [len(f) for f in frames])
    bim_index = np.concatenate([f["BIM_INDEX"].to_numpy(np.int64) for f in frames])
    positions, variant = _variant_keys(bim_index)
    n_variants = len(positions)

    def column(name: str) -> np.ndarray:
        return np.concatenate([f[name].to_numpy(np.float64) for f in frames])

    beta_in, n_in, log10p_in = column("BETA"), column("N"), column("LOG10P")
    if scheme == "stderr":
        b, se = beta_in, column("SE")
    else:
        b, se = _standardised(beta_in, n_in, log10p_in)

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(variant, weights=values, minlength=n_variants)

    count = np.bincount(variant, minlength=n_variants)
    w = 1.0 / (se * se)
    sum_w = total(w)
    beta = total(w * b) / sum_w
    meta_se = 1.0 / np.sqrt(sum_w)
    q = total(w * (b - beta[variant]) ** 2)
    log10p = -(_LN2 + log_ndtr(-np.abs(beta / meta_se))) / LN10
    p = np.exp(-LN10 * log10p)

    single = count[variant] == 1
    alone = variant[single]
    if scheme == "stderr":
        beta[alone], meta_se[alone] = b[single], se[single]
    log10p[alone] = log10p_in[single]
    p[alone] = column("P")[single]
    q[alone] = 0.0

    het_df = count - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        het_p = np.where(het_df > 0, chdtrc(np.maximum(het_df, 1), q), np.nan)
        i2 = np.where(q > het_df, (q - het_df) / q * 100.0, 0.0)
    i2[het_df == 0] = np.nan

    out = _variant_columns(frames, studies, study, bim_index, variant, n_variants)
    out["EAF"] = _pooled_eaf(column("EAF"), n_in, variant, n_variants)
    has_n = np.isfinite(n_in)
    n_total = total(np.where(has_n, n_in, 0.0))
    out["N"] = np.where(total(has_n.astype(np.float64)) > 0, n_total, np.nan)
    out["BETA"], out["SE"], out["P"], out["LOG10P"] = beta, meta_se, p, log10p
    out["BIM_INDEX"] = positions
    out["N_STUDIES"] = count
    out["DIRECTION"] = _directions(beta_in, study, variant, n_variants, k)
    out["Q"], out["HET_DF"], out["HET_P"], out["I2"] = q, het_df, het_p, i2
    meta = pd.DataFrame(out)[META_COLUMNS]
    kept = meta["N_STUDIES"] >= min_studies
    _LOG.info(
        "meta-analysis (%s scheme) of %d studies (%s): %d variants, %d of them in all "
        "studies; %d in fewer than min_studies=%d studies dropped",
        *(scheme, k, ", ".join(name for name, _ in studies), n_variants),
        *(int((count == k).sum()), int((~kept).sum()), min_studies),
    )
    return meta[kept].reset_index(drop=True)


def _check_arguments(
    studies: Sequence[tuple[str, pd.DataFrame]], scheme: str, min_studies: int
) -> None:
    if scheme not in SCHEMES:
        raise ValueError(f"meta-analysis scheme '{scheme}' is not one of {list(SCHEMES)}")
    if not studies:
        raise ValueError("meta-analysis needs at least one study")
    names = [name for name, _ in studies]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"meta-analysis study names must be unique; repeated: {repeated}")
    if not 1 <= min_studies <= len(studies):
        raise ValueError(
            f"min_studies={min_studies} must be between 1 and the number of studies "
            f"({len(studies)})"
        )


def _checked_study(name: str, frame: pd.DataFrame, scheme: str) -> pd.DataFrame:
    """``frame`` if it holds what ``scheme`` needs; a clear error naming the study if not."""
    missing = [c for c in INPUT_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"study '{name}' lacks columns {missing} (harmonise() output needed)")
    index = frame["BIM_INDEX"].to_numpy()
    if not (np.diff(index) > 0).all() and frame["BIM_INDEX"].duplicated().any():
        raise ValueError(f"study '{name}' has a .bim record twice (BIM_INDEX repeated)")
    needs = {
        "BETA": (np.isfinite(frame["BETA"]), "BETA missing or not finite"),
        "LOG10P": (frame["LOG10P"] >= 0, "P missing or outside (0, 1]"),
    }
    if scheme == "stderr":
        needs["SE"] = (np.isfinite(frame["SE"]) & (frame["SE"] > 0), "SE missing or <= 0")
    else:
        needs["N"] = (
            np.isfinite(frame["N"]) & (frame["N"] > 0),
            "no sample size N, which the samplesize scheme weights each study by",
        )
    for column, (ok, reason) in needs.items():
        bad = ~ok.to_numpy(dtype=bool)
        if bad.any():
            first = frame["ID"].to_numpy()[bad][0]
            fix = (
                "give this study an N column (or map its sample-size header to N), or use "
                "the stderr scheme"
                if column == "N"
                else "drop or correct these rows in the study's file"
            )
            raise InputError(
                name, f"{int(bad.sum())} of {len(frame)} variants: {reason}", fix, record=first
            )
    return frame


def _variant_keys(bim_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct .bim rows (sorted) and each input row's position among them.

    A presence mask over the .bim instead of a sort: O(rows) for tens of millions."""
    present = np.zeros(int(bim_index.max()) + 1 if len(bim_index) else 0, dtype=bool)
    present[bim_index] = True
    positions = np.flatnonzero(present)
    rank = np.cumsum(present) - 1
    return positions, rank[bim_index]


def _standardised(
    beta: np.ndarray, n: np.ndarray, log10p: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """b' = z/√N and SE' = 1/√N with z = sign(BETA)·|Φ⁻¹(P/2)| from LOG10P in log space."""
    abs_z = -ndtri_exp(-log10p * LN10 - _LN2)
    root_n = np.sqrt(n)
    return np.sign(beta) * abs_z / root_n, 1.0 / root_n


def _variant_columns(
    frames: list[pd.DataFrame],
    studies: Sequence[tuple[str, pd.DataFrame]],
    study: np.ndarray,
    bim_index: np.ndarray,
    variant: np.ndarray,
    n_variants: int,
) -> dict[str, np.ndarray]:
    """CHR POS ID EA OA from the first study that has each variant; a variant whose ID
    or POS differs between studies means they were harmonised to different .bim files."""
    first = np.empty(n_variants, dtype=np.int64)
    rows = np.arange(len(variant))
    for s in reversed(range(len(frames))):  # earlier studies overwrite later ones
        mine = study == s
        first[variant[mine]] = rows[mine]
    out = {}
    for c in ["CHR", "POS", "ID", "EA", "OA"]:
        values = np.concatenate([f[c].to_numpy() for f in frames])
        out[c] = values[first]
        if c in ("POS", "ID"):
            differ = np.flatnonzero(values != out[c][variant])
            if len(differ):
                i, j = int(differ[0]), int(first[variant[differ[0]]])
                raise ValueError(
                    f"studies disagree on .bim row {int(bim_index[i])}: {c} is "
                    f"'{values[i]}' in '{studies[study[i]][0]}' but '{values[j]}' in "
                    f"'{studies[study[j]][0]}'; every study must be harmonised to the same .bim"
                )
    return out


def _pooled_eaf(eaf: np.ndarray, n: np.ndarray, variant: np.ndarray, n_variants: int) -> np.ndarray:
    """N-weighted mean EAF; the plain mean where a study with an EAF has no N."""

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(variant, weights=values, minlength=n_variants)

    has_eaf = np.isfinite(eaf)
    weighted = has_eaf & np.isfinite(n)
    unweighted_any = total((has_eaf & ~weighted).astype(np.float64)) > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        by_n = total(np.where(weighted, eaf * n, 0.0)) / total(np.where(weighted, n, 0.0))
        plain = total(np.where(has_eaf, eaf, 0.0)) / total(has_eaf.astype(np.float64))
    return np.where(unweighted_any, plain, by_n)


def _directions(
    beta: np.ndarray, study: np.ndarray, variant: np.ndarray, n_variants: int, k: int
) -> np.ndarray:
    """One character per study per variant, built study by study: the labels of the
    prefixes seen so far are re-factorised after each study, so only the distinct
    strings (at most 4^k, in practice a few dozen) are ever made in Python."""
    digit = np.select([beta > 0, beta < 0], [0, 1], 2).astype(np.int64)
    labels = np.zeros(n_variants, dtype=np.int64)
    prefixes = np.array([""], dtype=object)
    for s in range(k):
        this = np.full(n_variants, 3, dtype=np.int64)
        rows = study == s
        this[variant[rows]] = digit[rows]
        labels, uniques = pd.factorize(labels * 4 + this)
        prefixes = np.array(
            [prefixes[u // 4] + _DIRECTION_CHARS[u % 4] for u in uniques], dtype=object
        )
    return prefixes[labels]
