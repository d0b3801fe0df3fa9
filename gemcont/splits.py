"""Who can be analysed, and the random train / held-out splits of those people.

:func:`eligible_people` keeps the people with genotypes, at least one stored phenotype
item, a disease status (and covariates when given), reporting everyone dropped and why.
:func:`make_splits` draws ``n_splits`` independent, disease-stratified train / held-out
partitions of them (METHOD.md: 5 random 50/50 splits).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gemcont.errors import InputError
from gemcont.io.ids import (
    KEY,
    REPORT_COLUMNS,
    TooFewPeople,
    join_cohort,
    join_summary,
    read_keyed_table,
    set_dropped,
)
from gemcont.io.plink import read_fam
from gemcont.io.splits import HELDOUT, TRAIN, split_columns
from gemcont.io.tables import write_tsv
from gemcont.io.withdrawn import STEP, withdrawn
from gemcont.phenotypes.store import read_exclusions, read_index

log = logging.getLogger(__name__)

DISEASE = "disease_at_assessment"


@dataclass(frozen=True)
class SplitsSettings:
    """The ``splits`` config section."""

    n_splits: int
    train_fraction: float
    seed: int
    min_people: int


def _class_quotas(counts: np.ndarray, n_train: int) -> np.ndarray:
    """Train people per class, proportional to ``counts``, summing to ``n_train``.

    Largest-remainder rounding: each class gets the floor or ceiling of its share.
    """
    share = counts * (n_train / counts.sum())
    quota = np.floor(share).astype(np.int64)
    order = np.argsort(-(share - quota), kind="stable")
    quota[order[: n_train - quota.sum()]] += 1
    return quota


def _one_split(labels: np.ndarray, train_fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Boolean train mask stratified by ``labels``."""
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    quota = _class_quotas(counts, int(round(train_fraction * len(labels))))
    train = np.zeros(len(labels), dtype=bool)
    for k in range(len(classes)):
        members = rng.permutation(np.flatnonzero(inverse == k))
        train[members[: quota[k]]] = True
    return train


def make_splits(
    people: pd.DataFrame, n_splits: int = 5, train_fraction: float = 0.5, seed: int = 0
) -> pd.DataFrame:
    """Disease-stratified random splits: FID IID split_0..split_{k-1} ("train"/"heldout").

    Split ``k`` uses ``np.random.default_rng([seed, k])`` alone, so splits are
    independent and split_0 is the same whatever ``n_splits``. In every split the train
    set holds round(train_fraction * n) people, and each disease class the floor or
    ceiling of its proportional share. Rows keep the order of ``people``.
    """
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
    if n_splits < 1:
        raise ValueError(f"n_splits must be >= 1, got {n_splits}")
    labels = people[DISEASE].to_numpy()
    out = people[KEY].astype(str).reset_index(drop=True)
    for k, name in enumerate(split_columns(n_splits)):
        train = _one_split(labels, train_fraction, np.random.default_rng([seed, k]))
        out[name] = np.where(train, TRAIN, HELDOUT)
    return out


def _phenotyped(store_index: pd.DataFrame, exclusions: pd.DataFrame | None) -> pd.DataFrame:
    """One row per person with a stored item; people with only excluded items as drops."""
    people = store_index[KEY].astype(str).drop_duplicates().reset_index(drop=True)
    dropped = pd.DataFrame(columns=REPORT_COLUMNS)
    if exclusions is not None and len(exclusions):
        lost = exclusions.astype({"FID": str, "IID": str})
        lost = lost[~pd.MultiIndex.from_frame(lost[KEY]).isin(pd.MultiIndex.from_frame(people))]
        dropped = lost.assign(step="phenotypes", reason=lost["item"] + ": " + lost["reason"])
    set_dropped(people, dropped)
    return people


def _check_disease(disease: pd.DataFrame) -> None:
    values = pd.to_numeric(disease[DISEASE], errors="coerce")
    bad = ~values.isin([0, 1])
    if bad.any():
        raise InputError(
            None,
            f"{DISEASE} must be 0 or 1; IID {disease.loc[bad, 'IID'].iloc[0]} has "
            f"{disease.loc[bad, DISEASE].iloc[0]}",
            "code the disease as 0 (control) / 1 (case), NA when unknown",
        )


def eligible_people(
    fam: pd.DataFrame,
    store_index: pd.DataFrame,
    disease: pd.DataFrame,
    covariates: pd.DataFrame | None = None,
    exclusions: pd.DataFrame | None = None,
    min_people: int = 1,
    withdrawals: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """People in the .fam who did not withdraw (``withdrawals``: drop-report rows of
    :func:`gemcont.io.withdrawn.withdrawn`), the phenotype store, the disease table (and
    covariates).

    ``store_index`` and ``exclusions`` are the store's tables; ``disease`` and
    ``covariates`` are read with :func:`gemcont.io.ids.read_keyed_table`, whose
    ``attrs["dropped"]`` carry into the report. Returns (people: FID IID
    disease_at_assessment (int) in .fam order, report: FID IID step reason).
    """
    _check_disease(disease)
    tables = {}
    if withdrawals is not None and len(withdrawals):
        keys = pd.MultiIndex.from_frame(fam[KEY].astype(str))
        stayed = fam.loc[~keys.isin(pd.MultiIndex.from_frame(withdrawals[KEY])), KEY]
        stayed = stayed.astype(str).reset_index(drop=True)
        set_dropped(stayed, withdrawals)
        tables[STEP] = stayed
    tables |= {"phenotypes": _phenotyped(store_index, exclusions), "disease": disease}
    if covariates is not None:
        tables["covariates"] = covariates
    cohort, report = join_cohort(tables, fam, min_people)
    keys = pd.MultiIndex.from_arrays([disease[c].astype(str) for c in KEY])
    status = pd.Series(pd.to_numeric(disease[DISEASE]).to_numpy(), index=keys)
    people = cohort[KEY].copy()
    people[DISEASE] = status.loc[pd.MultiIndex.from_frame(people)].to_numpy().astype(np.int64)
    return people, report


def build_splits(
    fam_path: str,
    index_path: Path,
    exclusions_path: Path,
    disease_path: str,
    covariates_path: str,
    covariate_columns: list[str],
    numeric_covariates: list[str],
    cfg: SplitsSettings,
    out_splits: Path,
    out_report: Path,
    exclude: str | None = None,
) -> pd.DataFrame:
    """The splits stage: who is eligible (logged with reasons), then the seeded splits.
    ``index_path`` and ``exclusions_path`` are the phenotype store's index.tsv and
    exclusions.tsv; ``exclude`` the withdrawal list (data.exclude)."""
    fam = read_fam(fam_path)
    outcomes = [DISEASE, "incident_5y"]
    disease = read_keyed_table(disease_path, outcomes, outcomes, "disease", fam=fam)
    covariates = read_keyed_table(
        covariates_path, covariate_columns, numeric_covariates, "covariates", fam=fam
    )
    try:
        people, report = eligible_people(
            fam,
            read_index(index_path),
            disease,
            covariates,
            read_exclusions(exclusions_path),
            min_people=cfg.min_people,
            withdrawals=withdrawn(fam, exclude),
        )
    except TooFewPeople as err:  # the job's outputs are removed: keep the report beside
        failed = Path(out_report).with_suffix(".failed.tsv")
        write_tsv(err.report, failed)
        raise TooFewPeople(f"{err.reason}; drop report: {failed}", err.fix, err.report) from err
    write_tsv(report, out_report)
    summary = join_summary(report, len(people))
    for row in summary.itertuples():
        log.info("cohort join: %s", " ".join(str(v) for v in row[1:]))
    splits = make_splits(people, cfg.n_splits, cfg.train_fraction, cfg.seed)
    write_tsv(splits, out_splits)
    return splits
