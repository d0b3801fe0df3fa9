"""Panel genotype features: A1 dosages, genetic PCs, residualisation and the PRS.

Dosages count the A1 allele (.bim column 5, see :mod:`gemcont.io.plink`); panel
effect sizes passed here must already be oriented to A1.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.linalg

from gemcont.io.ids import read_keyed_table
from gemcont.io.plink import MISSING_INT8, Genotypes
from gemcont.io.tables import write_tsv

log = logging.getLogger(__name__)

RESIDUAL_BLOCK = 256  # columns residualised at a time (bounds float64 memory)
STATS_BLOCK = 64  # int8 columns per missingness/mean task


@dataclass
class DosageResult:
    """A1 dosages of the panel variants that passed the missingness filter.

    Held as int8 (``MISSING_INT8`` = missing, 4x smaller than float32); missing entries
    are mean-imputed by :meth:`dosages`.
    """

    genotypes: np.ndarray  # int8, samples x kept variants
    means: np.ndarray  # float64, mean of the observed dosages of each kept variant
    ids: pd.DataFrame  # FID IID of the rows
    bim_index: np.ndarray  # .bim rows of the kept variants (columns of ``genotypes``)
    kept: np.ndarray  # bool, one per requested variant
    report: pd.DataFrame  # one row per requested variant

    def dosages(self, columns: slice = slice(None), dtype: type = np.float32) -> np.ndarray:
        """Mean-imputed dosages of ``columns`` (samples x columns)."""
        raw = self.genotypes[:, columns]
        return np.where(raw == MISSING_INT8, self.means[columns].astype(dtype), raw.astype(dtype))


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


def _dosage_report(
    genotypes: Genotypes,
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
    genotypes: Genotypes, bim_index: np.ndarray, samples: np.ndarray | None, max_missing: float
) -> DosageResult:
    """Read panel A1 dosages; drop variants missing in > ``max_missing``, mean-impute the rest.

    ``samples`` are .fam row numbers (None = everyone).
    """
    bim_index = np.asarray(bim_index, dtype=np.intp)
    raw = genotypes.read_int8(bim_index, samples)
    n_missing, means = _missing_and_means(raw, genotypes.threads)
    rate = n_missing / max(raw.shape[0], 1)
    kept = (rate <= max_missing) & (rate < 1.0)
    report = _dosage_report(genotypes, bim_index, rate, n_missing, kept, max_missing)
    for row in report[~kept].itertuples():
        log.warning("panel variant %s dropped: %s (%.3f)", row.ID, row.REASON, row.MISSING_RATE)
    if not kept.all():
        raw = raw[:, kept]
    rows = np.arange(genotypes.n_samples) if samples is None else np.asarray(samples)
    ids = genotypes.fam.iloc[rows][["FID", "IID"]].reset_index(drop=True)
    return DosageResult(raw, means[kept], ids, bim_index[kept], kept, report)


# --- residualisation and PRS -------------------------------------------------------------


def _covariate_basis(covariates: np.ndarray) -> np.ndarray:
    """Orthonormal basis of [1, covariates] (float64), rank-deficient columns removed."""
    design = np.column_stack([np.ones(len(covariates)), np.asarray(covariates, np.float64)])
    q, r, _ = scipy.linalg.qr(design, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    return q[:, diag > diag[0] * max(design.shape) * np.finfo(np.float64).eps]


def regress_out(matrix: np.ndarray, covariates: np.ndarray) -> np.ndarray:
    """Residuals (float64) of each column of ``matrix`` on an intercept plus ``covariates``."""
    basis = _covariate_basis(covariates)
    values = np.asarray(matrix, dtype=np.float64)
    return values - basis @ (basis.T @ values)


def prs(dosages: np.ndarray, betas: np.ndarray) -> np.ndarray:
    """Raw polygenic score, sum over variants of dosage x beta (float64)."""
    return np.asarray(dosages, dtype=np.float64) @ np.asarray(betas, dtype=np.float64)


def make_features(result: DosageResult, betas: np.ndarray, covariates: np.ndarray) -> FeatureSet:
    """Residualise dosages and the PRS on the covariates (rows in ``result.ids`` order).

    ``betas`` are A1 effect sizes, one per requested variant (dropped ones are ignored).
    The PRS is summed from the imputed dosages first, then residualised.
    """
    betas = np.asarray(betas, dtype=np.float64)
    if betas.shape != result.kept.shape:
        raise ValueError(f"{betas.size} betas for {result.kept.size} requested variants")
    if len(covariates) != len(result.ids):
        raise ValueError(f"{len(covariates)} covariate rows for {len(result.ids)} samples")
    basis = _covariate_basis(covariates)
    kept_betas = betas[result.kept]
    features = np.empty(result.genotypes.shape, dtype=np.float32)
    raw = np.zeros(len(result.ids))
    for start in range(0, features.shape[1], RESIDUAL_BLOCK):
        sl = slice(start, start + RESIDUAL_BLOCK)
        block = result.dosages(sl, np.float64)
        raw += prs(block, kept_betas[sl])
        features[:, sl] = block - basis @ (basis.T @ block)
    scores = result.ids.assign(PRS=raw - basis @ (basis.T @ raw), PRS_raw=raw)
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
    tmp = paths["features.npy"].with_name("features.npy.tmp")
    with open(tmp, "wb") as handle:
        np.save(handle, feature_set.features.astype(np.float32, copy=False))
    tmp.replace(paths["features.npy"])
    write_tsv(feature_set.ids[["FID", "IID"]], paths["features_ids.tsv"])
    write_tsv(feature_set.prs[["FID", "IID", "PRS", "PRS_raw"]], paths["prs.tsv"], "%.8g")
    write_tsv(feature_set.report, paths["features_report.tsv"])
    return paths


# --- genetic PCs ---------------------------------------------------------------------------


def _impute_centre(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean-impute NaNs and centre each column; returns (centred, column means)."""
    mean = np.nanmean(x, axis=0) if np.isnan(x).any() else x.mean(axis=0)
    mean = np.nan_to_num(mean)
    x = np.where(np.isnan(x), mean, x) - mean
    return x, mean


def _correlation_scaled(x: np.ndarray, maf_min: float) -> tuple[np.ndarray, np.ndarray]:
    """Columns scaled so that z_i . z_j is their correlation; mask of columns with MAF >= min."""
    z, mean = _impute_centre(x)
    maf = np.minimum(mean, 2.0 - mean) / 2.0
    norm = np.linalg.norm(z, axis=0)
    ok = (maf >= maf_min) & (norm > 0)
    return z[:, ok] / norm[ok], ok


def _prune_block(
    z: np.ndarray, pos: np.ndarray, kept_z: np.ndarray, kept_pos: np.ndarray, window: int, r2: float
) -> np.ndarray:
    """Greedy keep-mask for one block given the variants already kept before it."""
    linked_prev = ((kept_z.T @ z) ** 2 > r2) & (np.abs(pos - kept_pos[:, None]) <= window)
    blocked = linked_prev.any(axis=0)
    linked = ((z.T @ z) ** 2 > r2) & (np.abs(pos - pos[:, None]) <= window)
    keep = np.zeros(len(pos), dtype=bool)
    for j in range(len(pos)):
        if not blocked[j]:
            keep[j] = True
            blocked |= linked[j]
    return keep


def _prune_chromosome(
    genotypes: Genotypes, index: np.ndarray, window: int, r2: float, maf_min: float, block: int
) -> list[np.ndarray]:
    all_pos = genotypes.bim["POS"].to_numpy()
    kept: list[np.ndarray] = []
    kept_z = np.empty((genotypes.n_samples, 0), dtype=np.float32)
    kept_pos = np.empty(0, dtype=np.int64)
    for start in range(0, len(index), block):
        variants = index[start : start + block]
        z, ok = _correlation_scaled(genotypes.read(variants), maf_min)
        variants, pos = variants[ok], all_pos[variants[ok]]
        if not len(variants):
            continue
        near = kept_pos >= pos[0] - window
        kept_z, kept_pos = kept_z[:, near], kept_pos[near]
        keep = _prune_block(z, pos, kept_z, kept_pos, window, r2)
        kept.append(variants[keep])
        kept_z = np.hstack([kept_z, z[:, keep]])
        kept_pos = np.concatenate([kept_pos, pos[keep]])
    return kept


def ld_prune(
    genotypes: Genotypes, window_kb: float, r2: float, maf_min: float, block_size: int = 2000
) -> np.ndarray:
    """Greedy LD pruning: walk each chromosome by position, keep a variant unless its r²
    with an already kept variant within ``window_kb`` exceeds ``r2``. Returns sorted .bim rows.
    """
    bim = genotypes.bim
    kept: list[np.ndarray] = []
    for index in bim.groupby("CHR", sort=False).indices.values():
        index = index[np.argsort(bim["POS"].to_numpy()[index], kind="stable")]
        kept += _prune_chromosome(genotypes, index, int(window_kb * 1000), r2, maf_min, block_size)
    pruned = np.sort(np.concatenate(kept)) if kept else np.empty(0, dtype=np.intp)
    log.info("LD pruning kept %d of %d variants", len(pruned), genotypes.n_variants)
    return pruned


def _pca_blocks(
    genotypes: Genotypes, variant_index: np.ndarray, samples: np.ndarray | None, block: int
) -> Iterator[np.ndarray]:
    """Standardised (x - 2p) / sqrt(2p(1-p)) genotype blocks, missing set to 0 (the mean)."""
    for start in range(0, len(variant_index), block):
        z, mean = _impute_centre(genotypes.read(variant_index[start : start + block], samples))
        p = mean / 2.0
        sd = np.sqrt(2.0 * p * (1.0 - p))
        yield z / np.where(sd > 0, sd, 1.0)


def _randomized_svd_u(
    passes: Callable[[], Iterator[np.ndarray]], n_cols: int, k: int, n_iter: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k left singular vectors and values of a column-blocked matrix (Halko et al.)."""
    omega = np.random.default_rng(seed).standard_normal((n_cols, k)).astype(np.float32)
    y, start = 0.0, 0
    for z in passes():
        y = y + z @ omega[start : start + z.shape[1]]
        start += z.shape[1]
    q = np.linalg.qr(y)[0]
    for _ in range(n_iter):
        q = np.linalg.qr(sum(z @ (z.T @ q) for z in passes()))[0]
    bt = np.vstack([z.T @ q for z in passes()]).astype(np.float64)  # (Q^T X)^T
    _, s, ut = np.linalg.svd(bt, full_matrices=False)
    u = q.astype(np.float64) @ ut.T
    signs = np.sign(u[np.abs(u).argmax(axis=0), np.arange(u.shape[1])])
    return u * signs, s


def randomized_pcs(
    genotypes: Genotypes,
    variant_index: np.ndarray,
    n_pcs: int,
    seed: int,
    samples: np.ndarray | None = None,
    n_iter: int = 7,
    block_size: int = 4096,
    cache_bytes: int = 2**31,
) -> pd.DataFrame:
    """Top genetic PCs (unit-norm eigenvectors, as plink2's .eigenvec) by randomized SVD.

    Genotypes are standardised as plink2 does and streamed in variant blocks; held in
    memory when they fit in ``cache_bytes``.
    """
    variant_index = np.asarray(variant_index, dtype=np.intp)
    n = genotypes.n_samples if samples is None else len(samples)
    blocks = None
    if n * len(variant_index) * 4 <= cache_bytes:
        blocks = list(_pca_blocks(genotypes, variant_index, samples, block_size))

    def passes() -> Iterator[np.ndarray]:
        if blocks is not None:
            return iter(blocks)
        return _pca_blocks(genotypes, variant_index, samples, block_size)

    k = min(n_pcs + 10, n, len(variant_index))
    u, _ = _randomized_svd_u(passes, len(variant_index), k, n_iter, seed)
    rows = np.arange(genotypes.n_samples) if samples is None else np.asarray(samples)
    pcs = genotypes.fam.iloc[rows][["FID", "IID"]].reset_index(drop=True)
    for i in range(n_pcs):
        pcs[f"PC{i + 1}"] = u[:, i]
    return pcs


def read_user_pcs(path: str | Path, n_pcs: int, fam: pd.DataFrame | None = None) -> pd.DataFrame:
    """Read FID IID PC1..PC``n_pcs`` from a table (a plink2 .eigenvec works: ``#FID``)."""
    columns = [f"PC{i + 1}" for i in range(n_pcs)]
    table = read_keyed_table(path, [], columns, "pcs", fam=fam)
    pcs = table[["FID", "IID", *columns]]
    pcs.attrs = table.attrs
    return pcs


def plink2_pcs(
    bfile: str | Path,
    variant_ids: list[str] | np.ndarray,
    n_pcs: int,
    out_prefix: str | Path,
    threads: int,
    mode: str = "exact",
) -> pd.DataFrame:
    """PCs from ``plink2 --pca`` on ``variant_ids``; ``mode`` "approx" (large N) or "exact"."""
    if mode not in ("exact", "approx"):
        raise ValueError(f"plink2 PCA mode must be 'exact' or 'approx', not {mode!r}")
    out_prefix = Path(out_prefix)
    out_prefix.parent.mkdir(parents=True, exist_ok=True)
    extract = out_prefix.with_name(out_prefix.name + ".extract.txt")
    extract.write_text("".join(f"{v}\n" for v in variant_ids))
    pca = ["--pca", str(n_pcs)] + (["approx"] if mode == "approx" else [])
    cmd = ["plink2", "--bfile", str(bfile), "--extract", str(extract), *pca]
    cmd += ["--threads", str(threads), "--out", str(out_prefix)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-10:])
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {done.returncode}):\n{tail}")
    return read_user_pcs(f"{out_prefix}.eigenvec", n_pcs)
