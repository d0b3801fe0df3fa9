"""The GWAS covariate design of METHOD.md ("Evaluation"), built from a config spec.

The spec (config key ``gwas.covariates``) has three entries:

* ``terms``: model terms, each a product of integer powers of column names, e.g.
  ``age``, ``age^2``, ``sex*age``, ``sex*age^2``, ``height^2``. They are parsed by a
  tiny grammar (``term := factor ('*' factor)*``, ``factor := NAME ('^' INT)?``),
  never evaluated. A categorical column inside a product expands to its dummies
  (``sex*age`` with string-coded sex gives one column per non-reference level).
  A bare column (``age``) is used as given; inside a derived term (a power or a
  product) each numeric factor is centred on its mean first, e.g. (age - mean)².
  With the term's lower-order terms in the design (METHOD.md's set is hierarchical;
  a warning names any that are missing) this is the same model, and it keeps the
  columns from being nearly collinear (``plink2 --glm`` stops on VIF > 50 otherwise).
* ``categorical``: columns one-hot encoded with the first level (sorted) dropped.
* ``n_pcs``: the top genetic PCs ``PC1 .. PCn`` (from the PC table, else the
  covariate table).

Rows missing a used value are dropped (logged); constant columns are dropped
(logged). The result, ``FID IID`` + numeric columns, is what ``plink2 --covar`` and
``regenie --covarFile`` read.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd

from gemcont.errors import ConfigError, InputError
from gemcont.gwas.settings import CovariateSettings
from gemcont.io.ids import KEY, MISSING_TOKENS
from gemcont.io.tables import write_tsv

log = logging.getLogger(__name__)

SPEC_KEY = "gwas.covariates"
FACTOR = re.compile(r"\s*([A-Za-z_][\w.]*)\s*(?:\^\s*(\d+)\s*)?")
SAFE_NAME = re.compile(r"[^\w.]+")
COVAR_FLOAT_FORMAT = "%.10g"


@dataclass(frozen=True)
class Factor:
    """One factor of a term: a column raised to a positive integer power."""

    column: str
    power: int = 1


def parse_term(term: str) -> tuple[Factor, ...]:
    """'sex*age^2' -> (Factor('sex', 1), Factor('age', 2)); anything else is an error."""
    factors = []
    for part in str(term).split("*"):
        match = FACTOR.fullmatch(part)
        if match is None or (match.group(2) is not None and int(match.group(2)) < 1):
            raise ConfigError(
                f"{SPEC_KEY}.terms",
                f"cannot parse term {term!r}: use products (*) of column names with "
                "optional positive integer powers (^), e.g. 'sex*age^2'",
            )
        factors.append(Factor(match.group(1), int(match.group(2) or 1)))
    return tuple(factors)


def _check_columns(table: pd.DataFrame, columns: list[str], key: str, what: str) -> None:
    absent = [c for c in columns if c not in table.columns]
    if absent:
        raise ConfigError(
            f"{SPEC_KEY}.{key}",
            f"{what} column(s) {absent} not found; available: {list(table.columns)}",
        )


def one_hot(values: pd.Series) -> pd.DataFrame:
    """Indicator columns ``<name>_<level>`` for every level but the first (sorted)."""
    levels = sorted(values.astype(str).unique())
    name = str(values.name)
    columns = {
        f"{name}_{SAFE_NAME.sub('_', lvl)}": (values.astype(str) == lvl).astype(np.float64)
        for lvl in levels[1:]
    }
    return pd.DataFrame(columns, index=values.index)


def _factor_columns(
    table: pd.DataFrame, factor: Factor, categorical: set[str], centre: bool
) -> pd.DataFrame:
    """The column(s) of one factor: a numeric power, or a categorical's dummies."""
    if factor.column in categorical:
        if factor.power != 1:
            raise ConfigError(
                f"{SPEC_KEY}.terms", f"categorical column '{factor.column}' cannot be raised to ^"
            )
        return one_hot(table[factor.column])
    values = pd.to_numeric(table[factor.column], errors="coerce")
    if values.isna().any():
        raise ConfigError(
            f"{SPEC_KEY}.terms",
            f"column '{factor.column}' is not numeric (e.g. "
            f"{table.loc[values.isna(), factor.column].iloc[0]!r}); list it under "
            f"{SPEC_KEY}.categorical",
        )
    if centre:
        values = values - values.mean()
    suffix = "" if factor.power == 1 else f"_p{factor.power}"
    return pd.DataFrame({f"{factor.column}{suffix}": values**factor.power})


def term_columns(table: pd.DataFrame, term: str, categorical: set[str]) -> pd.DataFrame:
    """Design columns of one term: the row-wise product of its factors' columns."""
    factors = parse_term(term)
    derived = len(factors) > 1 or factors[0].power > 1
    parts = [_factor_columns(table, f, categorical, derived) for f in factors]
    out = parts[0]
    for cols in parts[1:]:
        out = pd.DataFrame(
            {f"{a}_x_{b}": out[a] * cols[b] for a in out.columns for b in cols.columns},
            index=table.index,
        )
    return out


def _key(factors: tuple[Factor, ...]) -> frozenset[tuple[str, int]]:
    return frozenset((f.column, f.power) for f in factors if f.power > 0)


def missing_marginals(terms: list[str], categorical: list[str]) -> list[str]:
    """Lower-order terms of the derived terms that the design lacks, as 'a*b^2' strings."""
    present = {_key(parse_term(t)) for t in terms} | {frozenset({(c, 1)}) for c in categorical}
    missing: dict[frozenset, None] = {}
    for term in terms:
        factors = parse_term(term)
        for powers in product(*(range(f.power + 1) for f in factors)):
            key = _key(tuple(Factor(f.column, q) for f, q in zip(factors, powers, strict=True)))
            if key and key != _key(factors) and key not in present:
                missing[key] = None
    return ["*".join(f"{c}^{q}" if q > 1 else c for c, q in sorted(k)) for k in missing]


def _drop_missing(table: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Rows with a missing value in ``columns`` are dropped and logged."""
    text = table[columns].astype(str).apply(lambda c: c.str.strip())
    bad = (text.isin(MISSING_TOKENS) | table[columns].isna()).any(axis=1)
    if bad.any():
        log.warning(
            "covariates: dropped %d people with a missing value in %s (IIDs %s)",
            int(bad.sum()),
            columns,
            ", ".join(table.loc[bad, "IID"].astype(str).head(5)),
        )
    return table.loc[~bad].reset_index(drop=True)


def _with_pcs(
    covariates_df: pd.DataFrame, pcs_df: pd.DataFrame | None, n_pcs: int
) -> tuple[pd.DataFrame, list[str]]:
    """The covariate table joined with PC1..PCn (from pcs_df when given)."""
    names = [f"PC{i + 1}" for i in range(n_pcs)]
    if pcs_df is None or n_pcs == 0:
        _check_columns(covariates_df, names, "n_pcs", "PC")
        return covariates_df, names
    _check_columns(pcs_df, names, "n_pcs", "PC")
    table = covariates_df.drop(columns=[c for c in names if c in covariates_df])
    joined = table.merge(pcs_df[[*KEY, *names]].astype({k: str for k in KEY}), on=KEY)
    if len(joined) < len(table):
        log.warning("covariates: dropped %d people without PCs", len(table) - len(joined))
    return joined, names


def _drop_constant(design: pd.DataFrame) -> pd.DataFrame:
    """Drop columns with a single value, logging their names."""
    constant = [c for c in design.columns if design[c].nunique(dropna=False) <= 1]
    if constant:
        log.info("covariates: dropped constant column(s) %s", constant)
    return design.drop(columns=constant)


def gwas_covariates(
    covariates_df: pd.DataFrame, pcs_df: pd.DataFrame | None, spec: CovariateSettings
) -> pd.DataFrame:
    """FID IID + numeric design columns from ``spec`` (terms, categorical, n_pcs)."""
    terms, categorical, n_pcs = list(spec.terms), list(spec.categorical), spec.n_pcs
    if not set(KEY) <= set(covariates_df.columns):
        raise InputError(None, "covariate table lacks FID/IID columns", "add a FID IID header")
    table = covariates_df.astype({k: str for k in KEY})
    used = list(dict.fromkeys(f.column for t in terms for f in parse_term(t)))
    _check_columns(table, used, "terms", "term")
    _check_columns(table, categorical, "categorical", "categorical")
    table, pc_names = _with_pcs(table, pcs_df, n_pcs)
    lacking = missing_marginals(terms, categorical)
    if lacking:
        log.warning(
            "covariates: derived terms are centred; without their lower-order terms %s "
            "the model differs from the uncentred one (add them to %s.terms)",
            lacking,
            SPEC_KEY,
        )
    table = _drop_missing(table, list(dict.fromkeys([*used, *categorical, *pc_names])))
    parts = [term_columns(table, t, set(categorical)) for t in terms]
    parts += [one_hot(table[c]) for c in categorical]
    parts.append(table[pc_names].apply(pd.to_numeric, errors="raise"))
    design = pd.concat(parts, axis=1)
    duplicated = design.columns[design.columns.duplicated()].tolist()
    if duplicated:
        raise ConfigError(SPEC_KEY, f"design columns {duplicated} appear twice; remove repeats")
    return pd.concat([table[KEY], _drop_constant(design)], axis=1)


def write_covariates(design: pd.DataFrame, path: str | Path) -> None:
    """Write the design for ``plink2 --covar`` / ``regenie --covarFile`` (FID IID header)."""
    write_tsv(design, path, float_format=COVAR_FLOAT_FORMAT)
