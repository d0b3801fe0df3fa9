"""Panel features: A1 dosages against plink2, missingness, residualisation, PRS and PCs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gemcont.errors import InputError
from gemcont.genotypes.features import (
    extract_dosages,
    make_features,
    prs,
    write_features,
)
from gemcont.genotypes.pcs import ld_prune, plink2_pcs, randomized_pcs, read_user_pcs
from gemcont.io.plink import Genotypes, write_bed
from gemcont.projection import Residualizer

ALLELES = np.array(["A", "C", "G", "T"])


def _fam(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {"FID": [f"F{i}" for i in range(n)], "IID": [f"{1000 + i}" for i in range(n)]}
    )


def _bim(m: int, rng: np.random.Generator, chrom: str = "1", spacing: int = 1000) -> pd.DataFrame:
    pairs = np.array([rng.choice(ALLELES, 2, replace=False) for _ in range(m)])
    return pd.DataFrame(
        {
            "CHR": chrom,
            "ID": [f"rs{chrom}_{j}" for j in range(m)],
            "CM": 0.0,
            "POS": 1 + np.arange(m) * spacing,
            "A1": pairs[:, 0],
            "A2": pairs[:, 1],
        }
    )


@pytest.fixture(scope="module")
def panel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """200 people x 40 variants, 3% missing; variant 5 is 40% missing, variant 6 all missing."""
    rng = np.random.default_rng(1)
    n, m = 200, 40
    g = rng.binomial(2, rng.uniform(0.05, 0.6, m), (n, m)).astype(np.float32)
    g[rng.random((n, m)) < 0.03] = np.nan
    g[rng.random(n) < 0.4, 5] = np.nan
    g[:, 6] = np.nan
    prefix = tmp_path_factory.mktemp("panel") / "panel"
    write_bed(prefix, g, _fam(n), _bim(m, rng))
    return prefix, g


def _plink2_raw(prefix: Path, variants: pd.DataFrame, out: Path) -> pd.DataFrame:
    """Dosages from plink2 --export A, counting A1 as given by --export-allele."""
    (out.parent / "ids.txt").write_text("\n".join(variants["ID"]) + "\n")
    variants[["ID", "A1"]].to_csv(out.parent / "allele.txt", sep="\t", header=False, index=False)
    cmd = [
        "plink2",
        "--bfile",
        str(prefix),
        "--extract",
        str(out.parent / "ids.txt"),
        "--export",
        "A",
    ]
    cmd += ["--export-allele", str(out.parent / "allele.txt"), "--out", str(out)]
    subprocess.run(cmd, check=True, capture_output=True)
    return pd.read_csv(f"{out}.raw", sep="\t", dtype={"FID": str, "IID": str})


def test_dosages_equal_plink2_a1_counts(panel: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    prefix, _ = panel
    with Genotypes(prefix) as genotypes:
        index = np.array([30, 2, 17, 0, 5, 39, 11])  # panel order, not .bim order
        result = extract_dosages(genotypes, index, None, max_missing=1.0)
        variants = genotypes.bim.iloc[index]
    raw = _plink2_raw(prefix, variants, tmp_path / "x")
    assert raw["IID"].tolist() == result.ids["IID"].tolist()
    for col, (_, v) in enumerate(variants.iterrows()):
        expected = raw[f"{v['ID']}_{v['A1']}"].to_numpy(dtype=float)
        observed = result.dosages()[:, col]
        seen = ~np.isnan(expected)
        np.testing.assert_array_equal(observed[seen], expected[seen])
        np.testing.assert_allclose(observed[~seen], expected[seen].mean(), rtol=1e-6)
        assert result.report["N_IMPUTED"].iloc[col] == (~seen).sum()


def test_missingness_filter_drops_and_reports(panel: tuple[Path, np.ndarray]) -> None:
    prefix, g = panel
    samples = np.arange(0, 200, 2)
    with Genotypes(prefix, threads=1) as genotypes:
        result = extract_dosages(genotypes, np.arange(10), samples, max_missing=0.2)
    report = result.report.set_index("ID")
    rate = np.isnan(g[samples, :10]).mean(axis=0)
    np.testing.assert_allclose(report["MISSING_RATE"], rate)
    assert report.loc["rs1_5", "REASON"] == "missing rate > max_missing = 0.2"
    assert report.loc["rs1_6", "REASON"] == "all genotypes missing"
    assert result.kept.tolist() == [i not in (5, 6) for i in range(10)]
    assert result.bim_index.tolist() == [0, 1, 2, 3, 4, 7, 8, 9]
    assert result.ids["FID"].tolist() == [f"F{i}" for i in samples]
    assert not np.isnan(result.dosages()).any()
    assert result.genotypes.dtype == np.int8
    assert report.loc["rs1_5", "N_IMPUTED"] == 0
    assert report.loc["rs1_0", "N_IMPUTED"] == np.isnan(g[samples, 0]).sum() > 0


def regress_out(matrix: np.ndarray, covariates: np.ndarray) -> np.ndarray:
    """Residuals (float64) through the one covariate projection the features stage uses."""
    return Residualizer(covariates).transform(np.asarray(matrix, dtype=np.float64))


def test_regress_out_matches_lstsq() -> None:
    rng = np.random.default_rng(3)
    cov = rng.normal(size=(300, 5))
    y = rng.normal(size=(300, 4)) + cov[:, :1] * 3.0 + 7.0
    design = np.column_stack([np.ones(300), cov])
    expected = y - design @ np.linalg.lstsq(design, y, rcond=None)[0]
    residuals = regress_out(y.astype(np.float32), cov)
    assert residuals.dtype == np.float64
    np.testing.assert_allclose(residuals, expected, atol=1e-5)
    np.testing.assert_allclose(regress_out(y[:, 0], cov), expected[:, 0], atol=1e-5)


def test_regress_out__collinear_pcs_stop_naming_the_file() -> None:
    """The features stage and the GWAS share one projection and one policy: a PC that
    duplicates another is refused (it used to be dropped silently here)."""
    rng = np.random.default_rng(4)
    cov = rng.normal(size=(50, 3))
    with pytest.raises(InputError, match=r"^covariates are collinear"):
        regress_out(rng.normal(size=(50, 2)), np.column_stack([cov, cov[:, 1]]))
    with pytest.raises(InputError, match=r"results/genotypes/pcs\.tsv: covariates are collinear"):
        Residualizer(np.column_stack([cov, 2 * cov[:, 0]]), "results/genotypes/pcs.tsv")


def test_features_and_prs_residualised(panel: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    prefix, _ = panel
    index = np.arange(12)
    with Genotypes(prefix) as genotypes:
        result = extract_dosages(genotypes, index, None, max_missing=0.2)
    rng = np.random.default_rng(4)
    betas = rng.normal(size=index.size)
    cov = rng.normal(size=(len(result.ids), 3))
    fs = make_features(result, betas, cov)
    dosages = result.dosages(dtype=np.float64)
    raw = dosages @ betas[result.kept]
    np.testing.assert_allclose(fs.prs["PRS_raw"], raw)
    np.testing.assert_allclose(prs(dosages, betas[result.kept]), raw)
    np.testing.assert_allclose(fs.prs["PRS"], regress_out(raw, cov), atol=1e-9)
    np.testing.assert_allclose(fs.features, regress_out(dosages, cov), atol=1e-5)
    assert abs(np.corrcoef(fs.prs["PRS"], cov[:, 0])[0, 1]) < 1e-8
    paths = write_features(fs, tmp_path / "out")
    features = np.load(paths["features.npy"])
    assert features.dtype == np.float32 and features.shape == (200, 10)
    ids = pd.read_csv(paths["features_ids.tsv"], sep="\t", dtype=str)
    assert ids["IID"].tolist() == [str(1000 + i) for i in range(200)]
    report = pd.read_csv(paths["features_report.tsv"], sep="\t")
    assert report["COLUMN"].isna().tolist() == [not k for k in result.kept]
    assert pd.read_csv(paths["prs.tsv"], sep="\t").columns.tolist() == [
        "FID",
        "IID",
        "PRS",
        "PRS_raw",
    ]


@pytest.fixture(scope="module")
def structured(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 subpopulations (Balding-Nichols, Fst 0.05) of 200 people x 2,000 variants."""
    rng = np.random.default_rng(5)
    m, fst = 2000, 0.05
    p = rng.uniform(0.1, 0.9, m)
    a, b = p * (1 - fst) / fst, (1 - p) * (1 - fst) / fst
    g = np.vstack([rng.binomial(2, rng.beta(a, b), (200, m)) for _ in range(3)]).astype(np.float32)
    g[rng.random(g.shape) < 0.01] = np.nan
    prefix = tmp_path_factory.mktemp("pops") / "pops"
    write_bed(prefix, g, _fam(600), _bim(m, rng, spacing=100_000))
    return prefix


def test_randomized_pcs_agree_with_plink2(structured: Path, tmp_path: Path) -> None:
    with Genotypes(structured) as genotypes:
        index = np.arange(genotypes.n_variants)
        ours = randomized_pcs(genotypes, index, 3, seed=0, block_size=700)
        streamed = randomized_pcs(genotypes, index, 3, seed=0, block_size=700, cache_bytes=0)
        ids = genotypes.bim["ID"].to_numpy()
    theirs = plink2_pcs(structured, ids, 3, tmp_path / "pca", threads=2, mode="exact")
    assert theirs["IID"].tolist() == ours["IID"].tolist()
    for pc in ("PC1", "PC2"):
        assert abs(np.corrcoef(ours[pc], theirs[pc])[0, 1]) > 0.99
    np.testing.assert_allclose(streamed[["PC1", "PC2"]], ours[["PC1", "PC2"]], atol=1e-5)
    users = read_user_pcs(tmp_path / "pca.eigenvec", 2)
    assert users.columns.tolist() == ["FID", "IID", "PC1", "PC2"]
    with pytest.raises(ValueError, match="exact"):
        plink2_pcs(structured, ids, 3, tmp_path / "pca", threads=2, mode="fast")


def test_ld_prune_drops_linked_copies_within_window(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    n = 400
    base = rng.binomial(2, 0.4, (n, 6)).astype(np.float32)
    rare = (rng.random(n) < 0.005).astype(np.float32)
    # columns: 0-5 independent, 6 = copy of 0 (near), 7 = copy of 1 (near), 8 = rare
    g = np.column_stack([base, base[:, 0], base[:, 1], rare])
    bim = _bim(9, rng)
    bim["POS"] = [1000, 2000, 3000, 4000, 5000, 6000, 1500, 9_000_000, 7000]
    bim = bim.iloc[np.argsort(bim["POS"].to_numpy())].reset_index(drop=True)
    g = g[:, np.argsort([1000, 2000, 3000, 4000, 5000, 6000, 1500, 9_000_000, 7000])]
    g2 = base[:, :2]  # same genotypes on another chromosome are not linked
    bim2 = _bim(2, rng, chrom="2")
    write_bed(
        tmp_path / "ld",
        np.column_stack([g, g2]),
        _fam(n),
        pd.concat([bim, bim2], ignore_index=True),
    )
    with Genotypes(tmp_path / "ld") as genotypes:
        kept = ld_prune(genotypes, window_kb=1000, r2=0.5, maf_min=0.01, block_size=3)
        ids = genotypes.bim["ID"].to_numpy()[kept]
    positions = dict(zip(bim["ID"], bim["POS"], strict=True))
    kept_pos = sorted(positions[i] for i in ids if i.startswith("rs1_"))
    assert kept_pos == [1000, 2000, 3000, 4000, 5000, 6000, 9_000_000]  # 1500 linked, 7000 rare
    assert sum(i.startswith("rs2_") for i in ids) == 2
