"""LD clumping: built-in engine against plink1.9 --clump and independent r^2."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize_scalar
from scipy.stats import norm

from gemcont.io.plink import Genotypes, write_bed
from gemcont.panel.clump import clump, clump_plink, radius_bp

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
