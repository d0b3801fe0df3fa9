"""Panel genotype features: A1 dosages, residualisation on covariates and the PRS.

Dosages count the A1 allele (.bim column 5, .pvar ALT, BGEN ALT: see
:mod:`gemcont.io.genotype_source`); panel effect sizes passed here must already be
oriented to A1. Hard calls (.bed) are held as int8, dosages (PGEN, BGEN) as float32,
never rounded.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gemcont.io.atomic import atomic_open
from gemcont.io.bed_codes import MISSING_INT8
from gemcont.io.genotype_source import GenotypeSource
from gemcont.io.ids import KEY
from gemcont.io.plink import Genotypes
from gemcont.io.tables import write_tsv
from gemcont.projection import Residualizer

log = logging.getLogger(__name__)

RESIDUAL_BLOCK = 256  # columns residualised at a time (bounds float64 memory)
STATS_BLOCK = 64  # int8 columns per missingness/mean task


@dataclass
class DosageResult:
    """A1 dosages of the panel variants that passed the missingness filter.

    Hard calls held as int8 (``MISSING_INT8`` = missing, 4x smaller than float32),
    dosages as float32 (NaN = missing); missing entries are mean-imputed by
    :meth:`dosages`.
    """

    genotypes: np.ndarray  # int8 or float32, samples x kept variants
    means: np.ndarray  # float64, mean of the observed dosages of each kept variant
    ids: pd.DataFrame  # FID IID of the rows
    bim_index: np.ndarray  # .bim rows of the kept variants (columns of ``genotypes``)
    kept: np.ndarray  # bool, one per requested variant
    report: pd.DataFrame  # one row per requested variant

    def dosages(self, columns: slice = slice(None), dtype: type = np.float32) -> np.ndarray:
        """Mean-imputed dosages of ``columns`` (samples x columns)."""
        raw = self.genotypes[:, columns]
        missing = np.isnan(raw) if raw.dtype.kind == "f" else raw == MISSING_INT8
        return np.where(missing, self.means[columns].astype(dtype), raw.astype(dtype))


@dataclass
class FeatureSet:
    """Residualised panel features and the PRS, ready to be written."""

    ids: pd.DataFrame
    features: np.ndarray  # float32, samples x kept variants, residualised
    prs: pd.DataFrame  # FID IID PRS PRS_raw
    report: pd.DataFrame


# --- dosages ---------------------------------------------------------------------------


def _missing_and_totals(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column: number of missing entries and sum of the observed dosages."""
    n_missing = np.zeros(raw.shape[1], dtype=np.int64)
    for j in np.flatnonzero(raw.min(axis=0) == MISSING_INT8):
        n_missing[j] = np.count_nonzero(raw[:, j] == MISSING_INT8)
    return n_missing, raw.sum(axis=0, dtype=np.int32) - MISSING_INT8 * n_missing  # n < 10^7


def _missing_and_means(
    raw: np.ndarray, threads: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per column: number of missing entries and mean of the observed dosages.

    Column blocks run on ``threads`` threads (None = all cores); numpy releases the GIL.
    """
    blocks = [raw[:, i : i + STATS_BLOCK] for i in range(0, raw.shape[1], STATS_BLOCK)]
    with ThreadPoolExecutor(max(1, min(threads or os.cpu_count() or 1, len(blocks)))) as pool:
        parts = list(pool.map(_missing_and_totals, blocks)) or [_missing_and_totals(raw)]
    n_missing = np.concatenate([part[0] for part in parts])
    total = np.concatenate([part[1] for part in parts])
    with np.errstate(invalid="ignore", divide="ignore"):
        return n_missing, total / (raw.shape[0] - n_missing)


def _float_missing_and_means(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column of float dosages (NaN missing): missing entries and the mean of the
    observed ones (float64 sums)."""
    n_missing = np.isnan(raw).sum(axis=0).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        total = np.nansum(raw, axis=0, dtype=np.float64)
        return n_missing, total / (raw.shape[0] - n_missing)


def _dosage_report(
    genotypes: GenotypeSource,
    bim_index: np.ndarray,
    rate: np.ndarray,
    n_missing: np.ndarray,
    kept: np.ndarray,
    max_missing: float,
) -> pd.DataFrame:
    bim = genotypes.bim.iloc[bim_index]
    reason = np.where(
        rate >= 1.0, "all genotypes missing", f"missing rate > max_missing = {max_missing:g}"
    )
    return pd.DataFrame(
        {
            "ID": bim["ID"].to_numpy(),
            "A1": bim["A1"].to_numpy(),
            "BIM_INDEX": bim_index,
            "MISSING_RATE": rate,
            "N_IMPUTED": np.where(kept, n_missing, 0),
            "KEPT": kept,
            "REASON": np.where(kept, "", reason),
        }
    )


def extract_dosages(
    genotypes: GenotypeSource, bim_index: np.ndarray, samples: np.ndarray | None, max_missing: float
) -> DosageResult:
    """Read panel A1 dosages; drop variants missing in > ``max_missing``, mean-impute the rest.

    ``samples`` are .fam row numbers (None = everyone).
    """
    bim_index = np.asarray(bim_index, dtype=np.intp)
    if isinstance(genotypes, Genotypes):
        raw = genotypes.read_int8(bim_index, samples)
    else:  # PLINK 1 files per chromosome read as one (the same int8 codes)
        raw = genotypes.read(bim_index, samples, dtype="int8")
    n_missing, means = _missing_and_means(raw, getattr(genotypes, "threads", None))
    rows = np.arange(genotypes.n_samples) if samples is None else np.asarray(samples)
    ids = genotypes.fam.iloc[rows]
    return _called_enough(genotypes, bim_index, raw, n_missing, means, ids, max_missing)


def extract_float_dosages(
    genotypes: GenotypeSource,
    bim_index: np.ndarray,
    samples: np.ndarray,
    ids: pd.DataFrame,
    max_missing: float,
) -> DosageResult:
    """:func:`extract_dosages` for a dosage source (PGEN, BGEN): float32 A1 dosages as
    stored, not rounded; ``samples`` are rows of ``genotypes.fam`` in the order of
    ``ids`` (the cohort's FID IID, the rows of the result)."""
    bim_index = np.asarray(bim_index, dtype=np.intp)
    raw = np.asarray(genotypes.read(bim_index, samples, dtype="float32"))
    n_missing, means = _float_missing_and_means(raw)
    return _called_enough(genotypes, bim_index, raw, n_missing, means, ids, max_missing)


def _called_enough(
    genotypes: GenotypeSource,
    bim_index: np.ndarray,
    raw: np.ndarray,
    n_missing: np.ndarray,
    means: np.ndarray,
    ids: pd.DataFrame,
    max_missing: float,
) -> DosageResult:
    """The panel variants missing in at most ``max_missing`` of the people (and not in
    all), the others reported and logged by name."""
    rate = n_missing / max(raw.shape[0], 1)
    kept = (rate <= max_missing) & (rate < 1.0)
    report = _dosage_report(genotypes, bim_index, rate, n_missing, kept, max_missing)
    for row in report[~kept].itertuples():
        log.warning("panel variant %s dropped: %s (%.3f)", row.ID, row.REASON, row.MISSING_RATE)
    if not kept.all():
        raw = raw[:, kept]
    ids = ids[KEY].reset_index(drop=True)
    return DosageResult(raw, means[kept], ids, bim_index[kept], kept, report)


# --- residualisation and PRS -------------------------------------------------------------


def prs(dosages: np.ndarray, betas: np.ndarray) -> np.ndarray:
    """Raw polygenic score, sum over variants of dosage x beta (float64)."""
    return np.asarray(dosages, dtype=np.float64) @ np.asarray(betas, dtype=np.float64)


def make_features(
    result: DosageResult, betas: np.ndarray, covariates: np.ndarray, source: str | None = None
) -> FeatureSet:
    """Residualise dosages and the PRS on the covariates (rows in ``result.ids`` order;
    ``source`` names them in errors, e.g. the PCs file).

    ``betas`` are A1 effect sizes, one per requested variant (dropped ones are ignored).
    The PRS is summed from the imputed dosages first, then residualised.
    """
    betas = np.asarray(betas, dtype=np.float64)
    if betas.shape != result.kept.shape:
        raise ValueError(f"{betas.size} betas for {result.kept.size} requested variants")
    if len(covariates) != len(result.ids):
        raise ValueError(f"{len(covariates)} covariate rows for {len(result.ids)} samples")
    residualizer = Residualizer(covariates, source)
    kept_betas = betas[result.kept]
    features = np.empty(result.genotypes.shape, dtype=np.float32)
    raw = np.zeros(len(result.ids))
    for start in range(0, features.shape[1], RESIDUAL_BLOCK):
        sl = slice(start, start + RESIDUAL_BLOCK)
        block = result.dosages(sl, np.float64)
        raw += prs(block, kept_betas[sl])
        features[:, sl] = residualizer.transform(block)
    scores = result.ids.assign(PRS=residualizer.transform(raw), PRS_raw=raw)
    report = result.report.assign(BETA=betas, COLUMN=pd.array(np.full(betas.size, pd.NA), "Int64"))
    report.loc[result.kept, "COLUMN"] = np.arange(result.kept.sum())
    return FeatureSet(result.ids, features, scores, report)


def write_features(feature_set: FeatureSet, out_dir: str | Path) -> dict[str, Path]:
    """Write features.npy, features_ids.tsv, prs.tsv and features_report.tsv atomically."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        name: out_dir / name
        for name in ("features.npy", "features_ids.tsv", "prs.tsv", "features_report.tsv")
    }
    with atomic_open(paths["features.npy"]) as handle:
        np.save(handle, feature_set.features.astype(np.float32, copy=False))
    write_tsv(feature_set.ids[KEY], paths["features_ids.tsv"])
    write_tsv(feature_set.prs[[*KEY, "PRS", "PRS_raw"]], paths["prs.tsv"], "%.8g")
    write_tsv(feature_set.report, paths["features_report.tsv"])
    return paths


def read_feature_ids(path: str | Path) -> pd.DataFrame:
    """features_ids.tsv: FID and IID (text) of each row of features.npy."""
    return pd.read_csv(path, sep="\t", dtype=str)


def feature_betas(report_path: str | Path) -> np.ndarray:
    """External GWAS betas in the column order of features.npy (kept variants only),
    from features_report.tsv."""
    report = pd.read_csv(report_path, sep="\t")
    kept = report.dropna(subset=["COLUMN"]).sort_values("COLUMN")
    return kept["BETA"].to_numpy(np.float64)
