"""The EAF orientation check: a file whose effect allele is really its other allele
stops with an error naming the columns; honest files pass, noisy EAF included."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from gemcont.errors import InputError
from gemcont.io.sumstats import READ_COLUMNS
from gemcont.panel.eaf_check import EAF_CHECK_MARGIN, MIN_EAF_VARIANTS, check_eaf_orientation
from gemcont.panel.harmonise import harmonise

PAIRS = [("A", "G"), ("G", "A"), ("C", "T"), ("T", "C"), ("A", "C"), ("G", "T")]
AMBIGUOUS = [("A", "T"), ("C", "G")]
COLUMNS = "EA=Allele2, OA=Allele1, EAF=AF_Allele2 (layout saige)"
SOURCE = "gwas/saige.txt.gz"


def _cohort(n: int, n_ambiguous: int = 0, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """A .bim (the last ``n_ambiguous`` variants A/T or C/G) and its A1 frequencies."""
    rng = np.random.default_rng(seed)
    pairs = [PAIRS[i] for i in rng.integers(0, len(PAIRS), n - n_ambiguous)]
    pairs += [AMBIGUOUS[i % 2] for i in range(n_ambiguous)]
    bim = pd.DataFrame(
        {
            "CHR": "1",
            "ID": [f"rs{i}" for i in range(n)],
            "CM": 0.0,
            "POS": 1000 + 10 * np.arange(n),
            "A1": [a for a, _ in pairs],
            "A2": [b for _, b in pairs],
        }
    )
    return bim, rng.uniform(0.02, 0.98, n)


def _published(
    bim: pd.DataFrame, freq: np.ndarray, seed: int = 1, noisy: float = 0.0, with_eaf: bool = True
) -> tuple[pd.DataFrame, np.ndarray]:
    """The study's statistics with its own REF/ALT order: EA is .bim A1 or A2 at random,
    EAF its frequency in a population like the cohort's (a fraction ``noisy`` of the
    variants with a random EAF instead). Also returns whether EA is A1."""
    rng = np.random.default_rng(seed)
    n = len(bim)
    ea_is_a1 = rng.random(n) < 0.5
    a1, a2 = bim["A1"].to_numpy(), bim["A2"].to_numpy()
    eaf = np.clip(np.where(ea_is_a1, freq, 1 - freq) + rng.normal(0, 0.01, n), 0.001, 0.999)
    scrambled = rng.random(n) < noisy
    eaf[scrambled] = rng.uniform(0, 1, scrambled.sum())
    p = rng.uniform(1e-3, 1, n)
    frame = pd.DataFrame(
        {
            "CHR": "1",
            "POS": bim["POS"],
            "ID": bim["ID"],
            "EA": np.where(ea_is_a1, a1, a2),
            "OA": np.where(ea_is_a1, a2, a1),
            "EAF": eaf if with_eaf else np.nan,
            "N": 10_000.0,
            "BETA": rng.normal(0, 0.05, n),
            "SE": 0.02,
            "P": p,
            "LOG10P": -np.log10(p),
        }
    )
    return frame.astype({c: "str" for c in ("CHR", "ID", "EA", "OA")})[READ_COLUMNS], ea_is_a1


def _lookup(freq: np.ndarray):
    return lambda bim_index: freq[bim_index]


def _reference(aligned_eaf: np.ndarray, freq: np.ndarray) -> tuple[int, float, float, float]:
    """n, median |EAF - f|, median |EAF - (1 - f)| and Pearson r over the informative
    variants (all variants here are non-ambiguous), in float64 with scipy."""
    keep = np.abs(freq - 0.5) >= EAF_CHECK_MARGIN
    e, f = aligned_eaf[keep], freq[keep]
    r = stats.pearsonr(e, f).statistic
    return len(e), float(np.median(np.abs(e - f))), float(np.median(np.abs(e - (1 - f)))), r


def test_check_eaf__correct_orientation_passes():
    bim, freq = _cohort(400)
    sumstats, ea_is_a1 = _published(bim, freq)
    matched = harmonise(sumstats, bim).matched
    check = check_eaf_orientation(matched, _lookup(freq), SOURCE, COLUMNS)
    eaf = sumstats["EAF"].to_numpy()
    n, same, _, r = _reference(np.where(ea_is_a1, eaf, 1 - eaf), freq)
    assert check.n_compared == n and check.n_ambiguous_without_eaf == 0
    assert check.median_abs_diff == pytest.approx(same, rel=1e-12)
    assert check.correlation == pytest.approx(r, rel=1e-12)
    assert check.message == (
        f"EAF agrees with the cohort on {n} variants (median |EAF - cohort A1 frequency| "
        f"{same:.3f}, correlation {r:.2f})"
    )


def test_check_eaf__swapped_effect_allele_map_stops():
    """The user mapped EA to the column of the other allele (SAIGE's Allele1, say):
    EAF and BETA still belong to the real effect allele, so every sign would flip."""
    bim, freq = _cohort(400)
    sumstats, ea_is_a1 = _published(bim, freq)
    swapped = sumstats.assign(EA=sumstats["OA"], OA=sumstats["EA"])
    matched = harmonise(swapped, bim).matched
    eaf = sumstats["EAF"].to_numpy()
    n, same, other, r = _reference(np.where(ea_is_a1, 1 - eaf, eaf), freq)
    with pytest.raises(InputError) as err:
        check_eaf_orientation(matched, _lookup(freq), SOURCE, COLUMNS)
    assert str(err.value) == (
        f"{SOURCE}: the effect allele frequencies say the effect allele is the other allele: "
        f"on {n} matched variants the file's EAF differs from the cohort's frequency of the "
        f"same allele by a median {same:.3f} but from one minus it by {other:.3f} "
        f"(correlation {r:.2f}), as when EA and OA are swapped; columns used: {COLUMNS}. "
        "Fix: map EA to the other allele column (and OA to this one) under "
        "data.sumstats_columns, or map EAF to the frequency of the effect allele"
    )


def test_check_eaf__noisy_eaf_passes():
    """30% of the variants carry a random EAF (another population, typing noise)."""
    bim, freq = _cohort(400)
    sumstats, ea_is_a1 = _published(bim, freq, noisy=0.3)
    check = check_eaf_orientation(harmonise(sumstats, bim).matched, _lookup(freq), SOURCE, COLUMNS)
    eaf = sumstats["EAF"].to_numpy()
    n, same, _, r = _reference(np.where(ea_is_a1, eaf, 1 - eaf), freq)
    assert (check.n_compared, check.median_abs_diff) == (n, pytest.approx(same, rel=1e-12))
    assert check.correlation == pytest.approx(r, rel=1e-12) and r > 0


def test_check_eaf__no_eaf_column_counts_ambiguous_drops():
    bim, freq = _cohort(400, n_ambiguous=37)
    sumstats, _ = _published(bim, freq, with_eaf=False)
    result = harmonise(sumstats, bim)
    check = check_eaf_orientation(result.matched, _lookup(freq), SOURCE, COLUMNS)
    assert check.n_ambiguous_without_eaf == 37
    assert check.message == (
        "no EAF column: 37 strand-ambiguous variants dropped for lack of it; the effect "
        "allele was not checked against the cohort's allele frequencies"
    )
    reasons = result.report.loc[result.report["STATUS"] == "dropped_ambiguous", "REASON"]
    assert set(reasons) == {
        "strand-ambiguous A/T and no EAF to resolve it",
        "strand-ambiguous C/G and no EAF to resolve it",
    }


def test_check_eaf__too_few_variants_not_checked():
    bim, freq = _cohort(12)
    sumstats, _ = _published(bim, freq)
    check = check_eaf_orientation(harmonise(sumstats, bim).matched, _lookup(freq), SOURCE, COLUMNS)
    k = int((np.abs(freq - 0.5) >= EAF_CHECK_MARGIN).sum())
    assert k < MIN_EAF_VARIANTS and check.n_compared == k
    assert check.message == (
        f"EAF not checked: only {k} matched variants with EAF and a cohort A1 frequency at "
        f"least 0.1 from 0.5 (at least {MIN_EAF_VARIANTS} needed)"
    )
