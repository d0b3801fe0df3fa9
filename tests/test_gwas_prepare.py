"""Embeddings -> GWAS phenotypes: held-out rows, PCA, rank-based inverse-normal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import ndtri
from scipy.stats import kurtosis, skew

from gemcont.errors import ConfigError, InputError
from gemcont.gwas.prepare import (
    heldout_embeddings,
    pca_scores,
    prepare_phenotypes,
    rank_inverse_normal,
    read_correlation,
    read_phenotypes,
    write_correlation,
    write_phenotypes,
)


def embeddings(n: int = 400, d: int = 5, seed: int = 0) -> pd.DataFrame:
    """FID IID set e_0..e_{d-1}; every third person is in the training set."""
    rng = np.random.default_rng(seed)
    x = rng.exponential(size=(n, d)) @ rng.normal(size=(d, d))  # skewed, correlated
    ids = pd.DataFrame({"FID": [f"F{i}" for i in range(n)], "IID": [f"I{i}" for i in range(n)]})
    sets = pd.Series(np.where(np.arange(n) % 3 == 0, "train", "heldout"), name="set")
    return pd.concat([ids, sets, pd.DataFrame(x, columns=[f"e_{j}" for j in range(d)])], axis=1)


def test_rank_inverse_normal__blom_values_with_averaged_ties() -> None:
    x = np.array([[3.0], [1.0], [1.0], [7.0]])  # ranks 3, 1.5, 1.5, 4
    expected = ndtri((np.array([3.0, 1.5, 1.5, 4.0]) - 3 / 8) / (4 + 1 / 4))
    np.testing.assert_allclose(rank_inverse_normal(x)[:, 0], expected, rtol=1e-12)


def test_rank_inverse_normal__normal_shaped_and_rank_preserving() -> None:
    x = np.random.default_rng(1).exponential(size=(5000, 3)) ** 3  # heavily skewed
    y = rank_inverse_normal(x)
    for j in range(3):
        np.testing.assert_array_equal(np.argsort(y[:, j]), np.argsort(x[:, j]))
    assert np.abs(y.mean(axis=0)).max() < 1e-12
    assert np.abs(y.std(axis=0) - 1).max() < 0.01
    assert np.abs(skew(y, axis=0)).max() < 1e-6
    assert np.abs(kurtosis(y, axis=0)).max() < 0.05


def test_prepare_phenotypes__keeps_heldout_rows_only() -> None:
    emb = embeddings()
    pheno_df, corr_df = prepare_phenotypes(emb, None)
    heldout = emb[emb["set"] == "heldout"]
    assert pheno_df["IID"].tolist() == heldout["IID"].tolist()
    assert list(pheno_df.columns) == ["FID", "IID", "Y0", "Y1", "Y2", "Y3", "Y4"]
    y = pheno_df[["Y0", "Y1", "Y2", "Y3", "Y4"]].to_numpy()
    np.testing.assert_allclose(corr_df.to_numpy(), np.corrcoef(y, rowvar=False), atol=1e-12)
    # None keeps all D components: ranks are those of the held-out PC scores
    scores = pca_scores(heldout[[f"e_{j}" for j in range(5)]].to_numpy(), None)
    for j in range(5):
        np.testing.assert_array_equal(np.argsort(y[:, j]), np.argsort(scores[:, j]))


def test_prepare_phenotypes__pca_keeps_top_components() -> None:
    pheno_df, corr_df = prepare_phenotypes(embeddings(n=3000), 3)
    assert list(pheno_df.columns) == ["FID", "IID", "Y0", "Y1", "Y2"]
    # principal components are uncorrelated; rank-INT keeps them nearly so
    np.testing.assert_allclose(corr_df.to_numpy(), np.eye(3), atol=0.1)


def test_pca_scores__caps_components_at_dimension() -> None:
    x = np.random.default_rng(0).normal(size=(10, 4))
    assert pca_scores(x, 5).shape == (10, 4)  # a 1-D clinical marker keeps its one column


def test_pca_scores__rejects_more_components_than_people() -> None:
    with pytest.raises(ConfigError, match="gwas.n_components"):
        pca_scores(np.random.default_rng(0).normal(size=(3, 8)), 5)


def test_heldout_embeddings__rejects_unknown_set_label() -> None:
    emb = embeddings().assign(set="test")
    with pytest.raises(InputError, match="unknown set labels"):
        heldout_embeddings(emb)


def test_heldout_embeddings__rejects_no_heldout_rows() -> None:
    with pytest.raises(InputError, match="no held-out rows"):
        heldout_embeddings(embeddings().assign(set="train"))


def test_heldout_embeddings__rejects_gapped_columns() -> None:
    with pytest.raises(InputError, match="e_0..e_"):
        heldout_embeddings(embeddings().drop(columns="e_1"))


def test_heldout_embeddings__rejects_non_finite_values() -> None:
    emb = embeddings()
    emb.loc[1, "e_2"] = np.nan
    with pytest.raises(InputError, match="IID I1"):
        heldout_embeddings(emb)


def test_write_phenotypes__plink_regenie_phenotype_file(tmp_path) -> None:
    source = tmp_path / "emb.tsv.gz"
    embeddings().to_csv(source, sep="\t", index=False)
    emb_df = pd.read_csv(source, sep="\t", dtype={"FID": str, "IID": str, "set": str})
    pheno_df, corr_df = prepare_phenotypes(emb_df, 2, source)
    write_phenotypes(pheno_df, tmp_path / "pheno.tsv")
    write_correlation(corr_df, tmp_path / "R.tsv")
    header = (tmp_path / "pheno.tsv").read_text().splitlines()[0].split()
    assert header == ["FID", "IID", "Y0", "Y1"]
    back = read_phenotypes(tmp_path / "pheno.tsv")
    pd.testing.assert_frame_equal(back, pheno_df, rtol=1e-9)
    corr = read_correlation(tmp_path / "R.tsv")
    assert list(corr.index) == list(corr.columns) == ["Y0", "Y1"]
