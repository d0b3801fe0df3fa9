"""LD clumping: built-in engine against plink1.9 --clump and independent r^2."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize_scalar
from scipy.stats import norm

from gemcont.errors import ConfigError
from gemcont.io.plink import Genotypes, write_bed
from gemcont.panel.clump import clump, clump_plink, greedy_clump, radius_bp

N_PEOPLE = 2000
N_PER_CHROM = 250
THRESHOLDS = [  # p, r2, kb
    (1e-3, 0.05, 250),
    (1e-5, 0.2, 1000),
    (0.05, 0.5, 100),
    (1e-2, 0.1, 5000),
    (0.5, 0.01, 500),
]
needs_plink = pytest.mark.skipif(shutil.which("plink1.9") is None, reason="plink1.9 not on PATH")


def _haplotypes(rng: np.random.Generator, n_haplotypes: int) -> np.ndarray:
    """A Markov chain along the chromosome: copy the previous allele, or draw afresh."""
    freq = rng.uniform(0.05, 0.95, N_PER_CHROM)
    copy = rng.uniform(0.6, 0.98, N_PER_CHROM)
    copy[rng.random(N_PER_CHROM) < 0.05] = 0.0  # block boundaries
    haps = np.empty((n_haplotypes, N_PER_CHROM), dtype=np.int8)
    haps[:, 0] = rng.random(n_haplotypes) < freq[0]
    for j in range(1, N_PER_CHROM):
        fresh = rng.random(n_haplotypes) < freq[j]
        haps[:, j] = np.where(rng.random(n_haplotypes) < copy[j], haps[:, j - 1], fresh)
    return haps


def _association_p(dosages: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Marginal association p-values for a trait with 12 causal variants."""
    centred = dosages - dosages.mean(0)
    beta = np.zeros(dosages.shape[1])
    beta[rng.choice(dosages.shape[1], 12, replace=False)] = rng.normal(0, 0.15, 12)
    y = centred @ beta + rng.normal(size=len(dosages))
    r = (centred / dosages.std(0)).T @ ((y - y.mean()) / y.std()) / len(dosages)
    return 2 * norm.sf(np.abs(r * np.sqrt((len(dosages) - 2) / (1 - r**2))))


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """(bfile prefix, variants with P and BIM_INDEX, dosages) on 2 chromosomes."""
    rng = np.random.default_rng(7)
    doses, bims = [], []
    for chrom in ("1", "2"):
        haps = _haplotypes(rng, 2 * N_PEOPLE)
        doses.append(haps[:N_PEOPLE] + haps[N_PEOPLE:])
        bims.append(
            pd.DataFrame(
                {
                    "CHR": chrom,
                    "ID": [f"rs{chrom}_{j}" for j in range(N_PER_CHROM)],
                    "CM": 0.0,
                    "POS": np.cumsum(rng.integers(5_000, 30_000, N_PER_CHROM)),
                    "A1": "A",
                    "A2": "G",
                }
            )
        )
    dosages = np.concatenate(doses, axis=1).astype(np.float32)
    dosages[rng.random(dosages.shape) < 0.002] = np.nan  # a few missing calls
    bim = pd.concat(bims, ignore_index=True)
    ids = [f"i{i}" for i in range(N_PEOPLE)]
    fam = pd.DataFrame({"FID": ids, "IID": ids})
    prefix = tmp_path_factory.mktemp("clump") / "cohort"
    write_bed(prefix, dosages, fam, bim)
    filled = np.where(np.isnan(dosages), np.nanmean(dosages, 0), dosages)
    variants = bim.assign(P=_association_p(filled, rng), BIM_INDEX=np.arange(len(bim)))
    return prefix, variants, dosages


def _em_r2(x: np.ndarray, y: np.ndarray) -> float:
    """Haplotype r^2 by maximising the two-locus likelihood directly (no EM)."""
    ok = ~(np.isnan(x) | np.isnan(y))
    table = pd.crosstab(x[ok], y[ok]).reindex(index=[0, 1, 2], columns=[0, 1, 2], fill_value=0)
    n = table.to_numpy(dtype=float)
    p, q = (
        (2 * n[2].sum() + n[1].sum()) / (2 * n.sum()),
        (2 * n[:, 2].sum() + n[:, 1].sum()) / (2 * n.sum()),
    )

    def haplotypes(d: float) -> tuple[float, float, float, float]:
        return p * q + d, p * (1 - q) - d, (1 - p) * q - d, (1 - p) * (1 - q) + d

    def neg_loglik(d: float) -> float:
        f11, f12, f21, f22 = haplotypes(d)
        pairs = {
            (2, 2): f11 * f11,
            (2, 1): 2 * f11 * f12,
            (2, 0): f12 * f12,
            (1, 2): 2 * f11 * f21,
            (1, 1): 2 * (f11 * f22 + f12 * f21),
            (1, 0): 2 * f12 * f22,
            (0, 2): f21 * f21,
            (0, 1): 2 * f21 * f22,
            (0, 0): f22 * f22,
        }
        return -sum(n[a, b] * np.log(max(prob, 1e-300)) for (a, b), prob in pairs.items())

    low = max(-p * q, -(1 - p) * (1 - q))
    high = min(p * (1 - q), (1 - p) * q)
    d = minimize_scalar(neg_loglik, bounds=(low, high), method="bounded").x
    return d * d / (p * (1 - p) * q * (1 - q))


def _index_pairs_in_window(result: pd.DataFrame, kb: float):
    for _, group in result.groupby("CHR"):
        rows = group.to_dict("records")
        for i, a in enumerate(rows):
            for b in rows[i + 1 :]:
                if abs(a["POS"] - b["POS"]) <= radius_bp(kb):
                    yield a["BIM_INDEX"], b["BIM_INDEX"]


@needs_plink
@pytest.mark.parametrize(("p", "r2", "kb"), THRESHOLDS)
def test_clump__same_index_variants_as_plink19(cohort, p, r2, kb):
    prefix, variants, _ = cohort
    expected = clump_plink(variants, prefix, p, r2, kb)
    with Genotypes(prefix) as genotypes:
        result = clump(variants, genotypes, p, r2, kb)
    assert len(result) > 3
    assert result["ID"].tolist() == expected["ID"].tolist()
    assert result["SP2"].tolist() == expected["SP2"].tolist()
    assert result["N_CLUMPED"].tolist() == expected["N_CLUMPED"].tolist()


@pytest.mark.parametrize(("p", "r2", "kb"), THRESHOLDS[2:])
def test_clump__index_pairs_below_r2_haplotype(cohort, p, r2, kb):
    prefix, variants, dosages = cohort
    with Genotypes(prefix) as genotypes:
        result = clump(variants, genotypes, p, r2, kb)
    assert set(result["ID"]) >= {variants.loc[variants["P"].idxmin(), "ID"]}
    pairs = list(_index_pairs_in_window(result, kb))
    assert pairs
    for a, b in pairs:
        assert _em_r2(dosages[:, a], dosages[:, b]) <= r2 + 1e-6


@pytest.mark.parametrize(("p", "r2", "kb"), THRESHOLDS[2:])
def test_clump__index_pairs_below_r2_pearson(cohort, p, r2, kb):
    prefix, variants, dosages = cohort
    with Genotypes(prefix) as genotypes:
        result = clump(variants, genotypes, p, r2, kb, r2_method="pearson")
    filled = np.where(np.isnan(dosages), np.nanmean(dosages, 0), dosages)
    for a, b in _index_pairs_in_window(result, kb):
        assert np.corrcoef(filled[:, a], filled[:, b])[0, 1] ** 2 <= r2 + 1e-6


def test_clump__only_variants_passing_p_are_read(cohort):
    prefix, variants, _ = cohort
    with Genotypes(prefix) as genotypes:
        result = clump(variants, genotypes, 1e-3, 0.05, 250)
    members = {m for sp2 in result["SP2"] if sp2 != "NONE" for m in sp2.split(",")}
    passing = set(variants.loc[variants["P"] <= 1e-3, "ID"])
    assert set(result["ID"]) | members == passing
    assert result["P"].is_monotonic_increasing


@needs_plink
def test_clump__window_edge_matches_plink19(tmp_path):
    """Identical variants 250 kb apart are not clumped with --clump-kb 250; 1 bp closer are."""
    rng = np.random.default_rng(1)
    x = rng.binomial(2, 0.3, 500).astype(np.float32)
    dosages = np.stack([x, x, x], axis=1)
    bim = pd.DataFrame(
        {"CHR": "1", "ID": ["a", "b", "c"], "CM": 0.0, "POS": [1000, 250_999, 251_000]}
    ).assign(A1="A", A2="G")
    fam = pd.DataFrame({"FID": [f"f{i}" for i in range(500)], "IID": [f"i{i}" for i in range(500)]})
    write_bed(tmp_path / "edge", dosages, fam, bim)
    variants = bim.assign(P=[1e-8, 1e-6, 1e-7], BIM_INDEX=[0, 1, 2])
    with Genotypes(tmp_path / "edge") as genotypes:
        result = clump(variants, genotypes, 1e-5, 0.5, 250)
    assert result["ID"].tolist() == ["a", "c"] and result["SP2"].tolist() == ["b", "NONE"]
    expected = clump_plink(variants, tmp_path / "edge", 1e-5, 0.5, 250)
    assert expected["ID"].tolist() == ["a", "c"]


def test_clump__nothing_significant_gives_empty_table(cohort):
    prefix, variants, _ = cohort
    with Genotypes(prefix) as genotypes:
        result = clump(variants.assign(P=0.9), genotypes, 1e-5, 0.05, 250)
    assert result.empty and "SP2" in result.columns


@needs_plink
def test_clump_plink__failure_raises_with_log_tail(cohort, tmp_path):
    _, variants, _ = cohort
    with pytest.raises(RuntimeError, match="plink1.9 --clump failed") as err:
        clump_plink(variants, tmp_path / "missing", 1e-3, 0.05, 250)
    assert "missing.bed" in str(err.value)


def test_clump_plink__missing_binary_names_the_key_and_conda_name(cohort, tmp_path):
    bfile, variants, _ = cohort
    with pytest.raises(ConfigError) as err:
        clump_plink(variants, bfile, 1e-3, 0.05, 250, plink=str(tmp_path / "plink1.9"))
    assert str(err.value).startswith(f"config key 'panel.plink1_9': '{tmp_path / 'plink1.9'}'")
    assert "bioconda's plink package" in str(err.value)


# The all-pairs-in-the-window implementation the bit-set engine replaced (gemcont
# commit b2e351d), kept verbatim in its arithmetic as the reference: float32 standardised
# dosages for pearson, float32 indicator products for the genotype table.
def _old_standardised(dosages: np.ndarray) -> np.ndarray:
    x = np.where(dosages < 0, np.nan, dosages).astype(np.float32)
    x -= np.nanmean(x, axis=0)
    x = np.nan_to_num(x, nan=0.0)
    norm = np.linalg.norm(x, axis=0)
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)


def _old_pearson_r2(z: np.ndarray, index: int, cols: np.ndarray) -> np.ndarray:
    return np.square(z[:, cols].T @ z[:, index]).astype(np.float64)


def _old_haplotype_r2(g: np.ndarray, index: int, cols: np.ndarray) -> np.ndarray:
    ind = np.stack([g[:, index] == k for k in range(3)], axis=1).astype(np.float32)
    cand = g[:, cols]
    table = np.stack([ind.T @ (cand == k).astype(np.float32) for k in range(3)], axis=1)
    n = table.astype(np.float64)
    k11 = 2 * n[2, 2] + n[2, 1] + n[1, 2]
    k12 = 2 * n[2, 0] + n[2, 1] + n[1, 0]
    k21 = 2 * n[0, 2] + n[1, 2] + n[0, 1]
    k22 = 2 * n[0, 0] + n[1, 0] + n[0, 1]
    het = n[1, 1]
    total = k11 + k12 + k21 + k22 + 2 * het
    with np.errstate(divide="ignore", invalid="ignore"):
        cis = np.full_like(het, 0.5)
        for _ in range(1000):
            f11, f22 = (k11 + het * cis) / total, (k22 + het * cis) / total
            f12, f21 = (k12 + het * (1 - cis)) / total, (k21 + het * (1 - cis)) / total
            new = np.nan_to_num(f11 * f22 / (f11 * f22 + f12 * f21), nan=0.5)
            converged = np.max(np.abs(new - cis), initial=0.0) < 1e-12
            cis = new
            if converged:
                break
        f11 = (k11 + het * cis) / total
        p = (k11 + k12 + het) / total
        q = (k11 + k21 + het) / total
        d = f11 - p * q
        return np.nan_to_num(d * d / (p * (1 - p) * q * (1 - q)), nan=0.0)


def _old_clump(variants, dosages, p1, r2, kb, method) -> pd.DataFrame:
    """Old clumping on an int8 people x variants matrix (-127 = missing): the old r^2
    arithmetic in the greedy loop, which plink1.9 checks on its own (tests above)."""
    r2_of = _old_pearson_r2 if method == "pearson" else _old_haplotype_r2

    def chromosome_r2(chrom: pd.DataFrame):
        g = dosages[:, chrom["BIM_INDEX"].to_numpy()]
        data = _old_standardised(g) if method == "pearson" else g
        return lambda i, near: r2_of(data, i, near)

    return greedy_clump(variants, p1, r2, kb, p1, chromosome_r2)


@pytest.fixture(scope="module")
def random_cohort(tmp_path_factory):
    """1,003 people (not a multiple of 64), missing calls, a monomorphic and an all-missing
    variant, a duplicated variant, positions not sorted in .bim order."""
    rng = np.random.default_rng(2024)
    n_people = 1003
    haps = _haplotypes(rng, 2 * n_people)
    dosages = (haps[:n_people] + haps[n_people:]).astype(np.float32)
    dosages[rng.random(dosages.shape) < 0.01] = np.nan
    dosages[:, 10] = 2.0
    dosages[:, 20] = np.nan
    dosages[:, 31] = dosages[:, 30]
    pos = np.cumsum(rng.integers(1_000, 20_000, N_PER_CHROM))
    pos[100:110] = pos[100:110][::-1]
    bim = pd.DataFrame(
        {"CHR": "3", "ID": [f"v{j}" for j in range(N_PER_CHROM)], "CM": 0.0, "POS": pos}
    ).assign(A1="A", A2="G")
    ids = [f"p{i}" for i in range(n_people)]
    prefix = tmp_path_factory.mktemp("random") / "cohort"
    write_bed(prefix, dosages, pd.DataFrame({"FID": ids, "IID": ids}), bim)
    p = rng.uniform(0, 1, N_PER_CHROM) ** 4
    p[[10, 20, 30, 31]] = [1e-9, 1e-9, 1e-4, 1e-4]
    variants = bim.assign(P=p, BIM_INDEX=np.arange(N_PER_CHROM))
    return prefix, variants, np.where(np.isnan(dosages), -127, dosages).astype(np.int8)


@pytest.mark.filterwarnings("ignore:Mean of empty slice")  # the all-missing variant
@pytest.mark.parametrize("method", ["haplotype", "pearson"])
@pytest.mark.parametrize(("p", "r2", "kb"), [(0.05, 0.05, 500), (0.3, 0.2, 5000), (0.5, 0.6, 100)])
@pytest.mark.parametrize("subset", [False, True])
def test_clump__same_clumps_as_all_pairs_implementation(random_cohort, method, p, r2, kb, subset):
    prefix, variants, dosages = random_cohort
    samples = np.flatnonzero(np.arange(len(dosages)) % 3 != 1) if subset else None
    people = dosages if samples is None else dosages[samples]
    expected = _old_clump(variants, people, p, r2, kb, method)
    with Genotypes(prefix) as genotypes:
        result = clump(variants, genotypes, p, r2, kb, samples=samples, r2_method=method)
    assert len(result) > 5 and (result["N_CLUMPED"] > 0).sum() > 2
    pd.testing.assert_frame_equal(result, expected, check_dtype=False)


def _reference_pearson_r2(dosages: np.ndarray, i: int, j: int) -> float:
    """float64 squared correlation of mean-imputed dosages (-127: missing)."""
    x = np.where(dosages < 0, np.nan, dosages).astype(np.float64)[:, [i, j]]
    x = np.where(np.isnan(x), np.nanmean(x, axis=0), x)
    return float(np.corrcoef(x, rowvar=False)[0, 1] ** 2)


def _pair_in_ld(dosages: np.ndarray) -> tuple[int, int, float]:
    """A pair of polymorphic variants with 0.1 < r^2 < 0.9 (both with missing calls)."""
    for i in range(40, 60):
        for j in range(i + 1, i + 10):
            r2 = _reference_pearson_r2(dosages, i, j)
            if 0.1 < r2 < 0.9 and (dosages[:, [i, j]] < 0).any(axis=0).all():
                return i, j, r2
    raise AssertionError("no pair in LD")


@pytest.mark.parametrize(("offset", "joins"), [(-1e-9, True), (1e-9, False)])
def test_clump__pearson_threshold_decided_in_float64(random_cohort, offset, joins):
    """The pearson r^2 equals a float64 re-derivation to ~1e-15, so a threshold 1e-9 below
    or above it decides membership (the replaced float32 path erred by ~1e-7)."""
    prefix, variants, dosages = random_cohort
    i, j, r2 = _pair_in_ld(dosages)
    pair = variants.iloc[[i, j]].assign(P=[1e-9, 1e-4])  # j: a secondary variant only
    with Genotypes(prefix) as genotypes:
        result = clump(pair, genotypes, 1e-5, r2 + offset, 5000, 1e-3, r2_method="pearson")
    assert result["ID"].tolist() == [f"v{i}"]
    assert result["SP2"].tolist() == ([f"v{j}"] if joins else ["NONE"])


@pytest.mark.parametrize("method", ["haplotype", "pearson"])
def test_clump__identical_variants_never_exceed_r2_one(tmp_path, method):
    """Duplicated variants (r^2 = 1 up to rounding, which lands above 1 for some allele
    counts) do not join at clump_r2 = 1, since r^2 > 1 is impossible; just below 1 they
    all join."""
    rng = np.random.default_rng(7)
    n_people, n_pairs = 1001, 30
    freq = rng.uniform(0.05, 0.95, n_pairs)
    first = rng.binomial(2, freq, (n_people, n_pairs)).astype(np.float32)
    dosages = np.repeat(first, 2, axis=1)  # each variant twice, side by side
    ids = [f"v{j}" for j in range(2 * n_pairs)]
    bim = pd.DataFrame(
        {"CHR": "1", "ID": ids, "CM": 0.0, "POS": 10_000_000 * (np.arange(2 * n_pairs) // 2 + 1)}
    ).assign(A1="A", A2="G")
    people = [f"p{i}" for i in range(n_people)]
    write_bed(tmp_path / "dup", dosages, pd.DataFrame({"FID": people, "IID": people}), bim)
    # the first of a pair an index variant, the second a secondary variant only
    variants = bim.assign(P=np.tile([1e-9, 1e-4], n_pairs), BIM_INDEX=np.arange(2 * n_pairs))
    with Genotypes(tmp_path / "dup") as genotypes:
        at_one = clump(variants, genotypes, 1e-5, 1.0, 5000, 1e-3, r2_method=method)
        below = clump(variants, genotypes, 1e-5, 1 - 1e-12, 5000, 1e-3, r2_method=method)
    assert at_one["SP2"].tolist() == ["NONE"] * n_pairs
    assert below["SP2"].tolist() == ids[1::2]
