"""GWAS inputs for one method and split: held-out phenotypes, covariates, the trait
correlation, and the samples every engine analyses (complete cases in .fam order)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gemcont.errors import InputError
from gemcont.gwas.covariates import (
    COVAR_FLOAT_FORMAT,
    gwas_covariates,
    parse_term,
    write_covariates,
)
from gemcont.gwas.prepare import (
    PHENO_FLOAT_FORMAT,
    phenotype_names,
    prepare_phenotypes,
    write_correlation,
    write_phenotypes,
)
from gemcont.gwas.settings import CovariateSettings
from gemcont.io.embeddings import read_embeddings
from gemcont.io.ids import KEY, dropped_rows, read_keyed_table
from gemcont.io.plink import read_fam
from gemcont.projection import Residualizer
from gemcont.settings import build

log = logging.getLogger(__name__)
MIN_PEOPLE = 50


def complete_cases(
    pheno_df: pd.DataFrame, covar_df: pd.DataFrame | None
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """People with every phenotype and covariate, in phenotype-file order.

    Returns (FID IID frame, y samples x D, covariates samples x c).
    """
    names = phenotype_names(pheno_df)
    table, covar_names = pheno_df, []
    if covar_df is not None:
        covar_names = [c for c in covar_df.columns if c not in KEY]
        table = table.merge(covar_df, on=KEY)
    values = table[names + covar_names]
    text = [c for c in values.columns if not pd.api.types.is_numeric_dtype(values[c])]
    if text:  # parsed column by column only where needed
        values = values.assign(**{c: pd.to_numeric(values[c], errors="coerce") for c in text})
    complete = values.notna().all(axis=1).to_numpy()
    log.info(
        "GWAS samples: %d with phenotypes%s, %d dropped for missing or non-numeric values",
        len(table),
        "+covariates" if covar_df is not None else "",
        int((~complete).sum()),
    )
    values = values[complete]
    return (
        table.loc[complete, KEY].reset_index(drop=True),
        values[names].to_numpy(np.float64),
        values[covar_names].to_numpy(np.float64).reshape(len(values), len(covar_names)),
    )


def align_samples(
    fam: pd.DataFrame, pheno_df: pd.DataFrame, covar_df: pd.DataFrame | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Complete cases that are in .fam, in .fam order.

    Returns (fam row indices ascending, y samples x D, covariates samples x c).
    """
    ids, y, covariates = complete_cases(pheno_df, covar_df)
    fam_rows = fam[KEY].assign(_row=np.arange(len(fam)))
    rows = ids.merge(fam_rows, on=KEY, how="left")["_row"].to_numpy(np.float64)
    in_fam = np.flatnonzero(~np.isnan(rows))
    log.info("GWAS samples: %d without genotypes dropped", len(rows) - len(in_fam))
    pick = in_fam[np.argsort(rows[in_fam], kind="stable")]
    return rows[pick].astype(np.int64), y[pick], covariates[pick]


def residual_correlation(pheno_df: pd.DataFrame, covar_df: pd.DataFrame | None) -> pd.DataFrame:
    """Correlation of covariate-residualised phenotypes: the R for combine_z (D x D).

    With covariates that explain phenotype variance, this (not the raw phenotype
    correlation) is the correlation of the per-dimension statistics under the null.
    """
    _, y, covariates = complete_cases(pheno_df, covar_df)
    y_res = Residualizer(covariates).transform(y)  # samples x D
    names = phenotype_names(pheno_df)
    return pd.DataFrame(np.corrcoef(y_res, rowvar=False), index=names, columns=names)


def as_written(table: pd.DataFrame, float_format: str) -> pd.DataFrame:
    """``table`` with its float columns as a reader of its TSV gets them back (each value
    rounded through ``float_format``), so that what is computed from it in memory equals
    what a later job computes from the file."""
    floats = [c for c in table.columns if pd.api.types.is_float_dtype(table[c])]
    rounded = {c: np.char.mod(float_format, table[c].to_numpy()).astype(np.float64) for c in floats}
    return table.assign(**rounded)


def design_columns(spec: CovariateSettings) -> list[str]:
    """Covariate-table columns named by the ``gwas.covariates`` terms and categoricals."""
    names = [factor.column for term in spec.terms for factor in parse_term(term)]
    return list(dict.fromkeys([*names, *spec.categorical]))


def numeric_columns(spec: CovariateSettings) -> list[str]:
    """Covariate-table columns of the numeric terms (checked as numbers when read)."""
    names = [factor.column for term in spec.terms for factor in parse_term(term)]
    return [c for c in dict.fromkeys(names) if c not in spec.categorical]


def covariate_columns(spec: Mapping[str, Any]) -> list[str]:
    """:func:`design_columns` of the ``gwas.covariates`` config slice (for rules)."""
    return design_columns(build(CovariateSettings, spec, "gwas.covariates"))


def numeric_covariate_columns(spec: Mapping[str, Any]) -> list[str]:
    """:func:`numeric_columns` of the ``gwas.covariates`` config slice (for rules)."""
    return numeric_columns(build(CovariateSettings, spec, "gwas.covariates"))


def build_gwas_inputs(
    embeddings: Path,
    covariates_path: str,
    pcs_path: str,
    fam_path: str,
    spec: CovariateSettings,
    n_components: int | None,
    out: dict[str, Path],
) -> None:
    """Write pheno.tsv (held-out people, PCA + rank-INT), covar.tsv and trait_corr.tsv
    (the residual correlation R of :func:`residual_correlation`), each once. Withdrawn
    participants never reach the embeddings (the splits drop them, export writes only
    the split's people), so nothing is filtered here again."""
    fam = read_fam(fam_path)
    pheno, _ = prepare_phenotypes(read_embeddings(embeddings), n_components, embeddings)
    covariates = read_keyed_table(
        covariates_path, design_columns(spec), numeric_columns(spec), "covariates", fam=fam
    )
    pcs = read_keyed_table(pcs_path, [], [], "pcs", fam=fam)
    dropped = dropped_rows(covariates)
    if len(dropped):
        reasons = dropped["reason"].value_counts().to_dict()
        log.warning("GWAS covariates: %d people dropped: %s", len(dropped), reasons)
    design = gwas_covariates(covariates, pcs, spec)
    keyed = design.set_index(KEY)
    keep = pheno.set_index(KEY).index.isin(keyed.index)
    if not keep.all():
        log.warning("GWAS: %d held-out people lack covariates and are dropped", (~keep).sum())
    pheno = pheno[keep].reset_index(drop=True)
    if len(pheno) < MIN_PEOPLE:
        raise InputError(
            embeddings,
            f"only {len(pheno)} held-out people have covariates",
            "check data.covariates and gwas.covariates",
        )
    design = keyed.loc[pheno.set_index(KEY).index].reset_index()
    corr = residual_correlation(
        as_written(pheno, PHENO_FLOAT_FORMAT), as_written(design, COVAR_FLOAT_FORMAT)
    )
    write_phenotypes(pheno, out["pheno"])
    write_covariates(design, out["covar"])
    write_correlation(corr, out["corr"])
    log.info(
        "GWAS inputs: %d held-out people, %d phenotypes, %d covariate columns",
        len(pheno),
        pheno.shape[1] - 2,
        design.shape[1] - 2,
    )
