"""Realistic input defects planted in the simulated cohort, so that every stage's
exclusion reporting is exercised by the demo: missing covariate values, people without
a phenotype record, and corrupt records (truncated images, cut-off spirometry blows)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from gemcont.io.atomic import atomic_path

log = logging.getLogger(__name__)
DEFECT_STREAM = 9  # rng stream of the defects, apart from the simulation's own draws


def defect_rng(seed: int, what: int) -> np.random.Generator:
    return np.random.default_rng([seed, DEFECT_STREAM, what])


def missing_covariates(covariates: pd.DataFrame, fraction: float, seed: int) -> pd.DataFrame:
    """Blank BMI for ``fraction`` of people (as when a measurement was not taken)."""
    out = covariates.copy()
    out["bmi"] = out["bmi"].astype(float)
    hit = defect_rng(seed, 0).random(len(out)) < fraction
    out.loc[hit, "bmi"] = np.nan
    log.info("defects: BMI missing for %d people", hit.sum())
    return out


def choose(iids: list[str], fraction: float, n_corrupt: int, seed: int) -> tuple[list, list]:
    """(people without a phenotype record, people with one corrupt record), disjoint."""
    order = defect_rng(seed, 1).permutation(len(iids))
    n_missing = int(round(fraction * len(iids)))
    missing = [iids[i] for i in order[:n_missing]]
    corrupt = [iids[i] for i in order[n_missing : n_missing + n_corrupt]]
    return missing, corrupt


def spirometry_defects(table: Path, missing: list[str], corrupt: list[str]) -> None:
    """Empty every blow of ``missing``; cut the first blow of ``corrupt`` mid-record."""
    df = pd.read_csv(table, sep="\t", dtype=str, keep_default_na=False)
    blows = [c for c in df.columns if c != "eid"]
    df.loc[df["eid"].isin(missing), blows] = ""
    cut = df["eid"].isin(corrupt)
    df.loc[cut, blows[0]] = df.loc[cut, blows[0]].str.slice(0, 40).str.rsplit(",", n=1).str[0] + ","
    with atomic_path(table) as tmp:
        df.to_csv(tmp, sep="\t", index=False)
    log.info("defects: %d people without blows, %d cut-off blows", len(missing), len(corrupt))


def fundus_defects(
    manifest: pd.DataFrame, out_dir: Path, missing: list[str], corrupt: list[str]
) -> pd.DataFrame:
    """Drop ``missing`` people from the manifest; truncate one image of each ``corrupt``."""
    kept = manifest[~manifest["IID"].isin(missing)].reset_index(drop=True)
    for path in kept.drop_duplicates("IID").set_index("IID").loc[corrupt, "path"]:
        image = out_dir / path
        image.write_bytes(image.read_bytes()[:200])
    log.info("defects: %d people without images, %d truncated images", len(missing), len(corrupt))
    return kept
