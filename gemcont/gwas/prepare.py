"""Embeddings -> GWAS phenotypes: held-out rows, optional PCA, rank-based inverse-normal.

The output phenotype file is keyed by FID/IID with a header ``FID IID Y0 Y1 ...``
(whitespace-separated), which PLINK 2 ``--pheno`` and REGENIE ``--phenoFile`` read
directly. The R with which :func:`gemcont.gwas.multitrait.combine_z` combines
per-dimension results is their correlation after the covariates are projected out
(:func:`gemcont.gwas.inputs.residual_correlation`), not the plain correlation that
:func:`prepare_phenotypes` returns beside them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import ndtri
from scipy.stats import rankdata

from gemcont.errors import ConfigError, InputError
from gemcont.io.embeddings import SET_COLUMN, dimension_columns
from gemcont.io.ids import KEY
from gemcont.io.splits import HELDOUT, TRAIN
from gemcont.io.tables import require_columns, write_tsv

SET_VALUES = {TRAIN, HELDOUT}
PHENO_PREFIX = "Y"
BLOM_OFFSET = 3.0 / 8.0
PHENO_FLOAT_FORMAT = "%.10g"


def heldout_embeddings(emb_df: pd.DataFrame, path: str | Path | None = None) -> pd.DataFrame:
    """Held-out rows only: FID IID e_0..e_{D-1}; validates IDs, set labels and values."""
    require_columns(emb_df, [*KEY, SET_COLUMN], path, "expected FID IID set e_0 ...")
    bad = sorted(set(emb_df[SET_COLUMN].astype(str)) - SET_VALUES)
    if bad:
        raise InputError(path, f"unknown set labels {bad}", "use 'train' or 'heldout'")
    cols = dimension_columns(emb_df, path)
    held = emb_df.loc[emb_df[SET_COLUMN] == HELDOUT, [*KEY, *cols]]
    if held.empty:
        raise InputError(path, "no held-out rows", "check the split used to embed")
    if held.duplicated(KEY).any():
        dup = held.loc[held.duplicated(KEY), "IID"].iloc[0]
        raise InputError(path, "duplicated FID/IID", "deduplicate the embeddings", f"IID {dup}")
    values = held[cols].to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        row = held.iloc[int(np.flatnonzero(~np.isfinite(values).all(axis=1))[0])]
        raise InputError(path, "non-finite embedding", "re-run embed", f"IID {row['IID']}")
    return held.reset_index(drop=True)


def pca_scores(x: np.ndarray, n_components: int | None) -> np.ndarray:
    """Principal-component scores of x (samples x D) -> samples x min(k, D); None keeps all D."""
    n, d = x.shape
    k = d if n_components is None else min(n_components, d)
    if not 1 <= k <= n:
        raise ConfigError("gwas.n_components", f"{k} is not in [1, N={n}]")
    centred = x - x.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)  # u: samples x min(n, d)
    return u[:, :k] * s[:k]


def rank_inverse_normal(x: np.ndarray) -> np.ndarray:
    """Column-wise rank-based inverse-normal transform (Blom 3/8, ties averaged)."""
    n = x.shape[0]
    ranks = rankdata(x, method="average", axis=0)  # samples x D, 1..n
    return ndtri((ranks - BLOM_OFFSET) / (n - 2 * BLOM_OFFSET + 1))


def prepare_phenotypes(
    emb_df: pd.DataFrame, n_components: int | None, path: str | Path | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Embeddings table -> (pheno_df FID IID Y0.., correlation_df of Y0.. x Y0..)."""
    held = heldout_embeddings(emb_df, path)
    x = held[dimension_columns(held, path)].to_numpy(dtype=np.float64)  # samples x D
    y = rank_inverse_normal(pca_scores(x, n_components))  # samples x k
    names = [f"{PHENO_PREFIX}{i}" for i in range(y.shape[1])]
    pheno_df = pd.concat([held[KEY].astype(str), pd.DataFrame(y, columns=names)], axis=1)
    corr_df = pd.DataFrame(np.atleast_2d(np.corrcoef(y, rowvar=False)), index=names, columns=names)
    return pheno_df, corr_df


def phenotype_names(pheno_df: pd.DataFrame) -> list[str]:
    """The phenotype columns of a prepared phenotype table (all but FID, IID)."""
    return [c for c in pheno_df.columns if c not in KEY]


def write_phenotypes(pheno_df: pd.DataFrame, path: str | Path) -> None:
    """Write the PLINK 2 / REGENIE phenotype file (header FID IID Y0 ...)."""
    write_tsv(pheno_df, path, float_format=PHENO_FLOAT_FORMAT)


def read_phenotypes(path: str | Path) -> pd.DataFrame:
    """Read a phenotype (or covariate) file keyed by FID IID."""
    df = pd.read_csv(path, sep=r"\s+", dtype={"FID": str, "IID": str})
    if list(df.columns[:2]) != KEY:
        raise InputError(path, "header must start with FID IID", "write it with write_phenotypes")
    return df


def write_correlation(corr_df: pd.DataFrame, path: str | Path) -> None:
    """Write R as a TSV with a leading PHENO column naming the rows."""
    write_tsv(corr_df.rename_axis("PHENO").reset_index(), path, float_format="%.12g")


def read_correlation(path: str | Path) -> pd.DataFrame:
    """Read R written by :func:`write_correlation` (square, rows named)."""
    return pd.read_csv(path, sep="\t", index_col="PHENO")
