"""Cohort allele frequencies and the EAF orientation check of harmonised sumstats.

:func:`a1_frequencies` looks up the cohort's .bim A1 frequencies (harmonisation uses
them to resolve strand-ambiguous SNPs); :func:`check_eaf_orientation` compares a
study's harmonised EAF with them, per study and before any meta-analysis, and stops
when the file's effect allele is really its other allele.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gemcont.errors import InputError
from gemcont.io.plink import Genotypes

# variants whose cohort A1 frequency is this close to 0.5 cannot tell the two alleles
# apart; fewer informative variants than MIN_EAF_VARIANTS -> not checked
EAF_CHECK_MARGIN = 0.1
MIN_EAF_VARIANTS = 20
MAX_EAF_VARIANTS = 5000  # cohort frequencies are read from the .bed for this many at most

FrequencyLookup = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class EafCheck:
    """Outcome of :func:`check_eaf_orientation` (NaN statistics when not checked)."""

    n_compared: int
    median_abs_diff: float
    correlation: float
    n_ambiguous_without_eaf: int
    message: str


def check_eaf_orientation(
    matched: pd.DataFrame, a1_freq: FrequencyLookup, source: str, columns: str
) -> EafCheck:
    """Stop when the file's EAF says that its effect allele is the other one.

    After :func:`gemcont.panel.harmonise.harmonise` ``EAF`` is the file's frequency of
    the cohort's A1. On matched variants that are not strand-ambiguous and whose cohort
    A1 frequency is at least :data:`EAF_CHECK_MARGIN` from 0.5 (at most
    :data:`MAX_EAF_VARIANTS`, evenly spread), a file whose EA is really its other
    allele (or whose EAF is the other allele's) has EAF near one minus the cohort
    frequency. Both signs must say so: the median |EAF - f| above the median
    |EAF - (1 - f)| and a negative correlation of EAF with f; then InputError naming
    ``columns`` (the mapping and layout, for the message). Fewer than
    :data:`MIN_EAF_VARIANTS` such variants: not checked.
    """
    n_amb = int(matched.attrs.get("n_ambiguous_without_eaf", 0))
    eaf = matched["EAF"].to_numpy(dtype=float)
    if np.isnan(eaf).all():
        return EafCheck(
            0,
            np.nan,
            np.nan,
            n_amb,
            f"no EAF column: {n_amb} strand-ambiguous variants dropped for lack of it; the "
            "effect allele was not checked against the cohort's allele frequencies",
        )
    a1, a2 = matched["EA"].to_numpy(dtype=object), matched["OA"].to_numpy(dtype=object)
    ambiguous = pd.Series(a1).map({"A": "T", "T": "A", "C": "G", "G": "C"}).to_numpy() == a2
    usable = np.flatnonzero(~np.isnan(eaf) & ~ambiguous)
    if len(usable) > MAX_EAF_VARIANTS:
        usable = usable[np.linspace(0, len(usable) - 1, MAX_EAF_VARIANTS).astype(np.int64)]
    freq = np.asarray(a1_freq(matched["BIM_INDEX"].to_numpy()[usable]), dtype=float)
    informative = np.isfinite(freq) & (np.abs(freq - 0.5) >= EAF_CHECK_MARGIN)
    eaf, freq = eaf[usable][informative], freq[informative]
    n = len(eaf)
    without = f"; {n_amb} strand-ambiguous variants dropped without EAF" if n_amb else ""
    if n < MIN_EAF_VARIANTS:
        return EafCheck(
            n,
            np.nan,
            np.nan,
            n_amb,
            f"EAF not checked: only {n} matched variants with EAF and a cohort A1 frequency "
            f"at least {EAF_CHECK_MARGIN:g} from 0.5 (at least {MIN_EAF_VARIANTS} "
            f"needed){without}",
        )
    same = float(np.median(np.abs(eaf - freq)))
    swapped = float(np.median(np.abs(eaf - (1 - freq))))
    correlation = float(np.corrcoef(eaf, freq)[0, 1])
    if same > swapped and correlation < 0:
        raise InputError(
            source,
            f"the effect allele frequencies say the effect allele is the other allele: "
            f"on {n} matched variants the file's EAF differs from the cohort's frequency "
            f"of the same allele by a median {same:.3f} but from one minus it by {swapped:.3f}"
            f" (correlation {correlation:.2f}), as when EA and OA are swapped; columns used: "
            f"{columns}",
            "map EA to the other allele column (and OA to this one) under "
            "data.sumstats_columns, or map EAF to the frequency of the effect allele",
        )
    return EafCheck(
        n,
        same,
        correlation,
        n_amb,
        f"EAF agrees with the cohort on {n} variants (median |EAF - cohort A1 frequency| "
        f"{same:.3f}, correlation {correlation:.2f}){without}",
    )


def a1_frequencies(
    genotypes: Genotypes, samples: np.ndarray | slice | None = None, block_size: int = 1000
) -> FrequencyLookup:
    """A lookup of cohort A1 frequencies for .bim row numbers (missing calls ignored)."""

    def lookup(bim_index: np.ndarray) -> np.ndarray:
        out = np.full(len(bim_index), np.nan)
        for start in range(0, len(bim_index), block_size):
            idx = np.asarray(bim_index[start : start + block_size])
            dosages = genotypes.read(idx, samples, dtype="float32")
            with np.errstate(invalid="ignore"):
                out[start : start + len(idx)] = np.nanmean(dosages, axis=0) / 2
        return out

    return lookup
