"""Genetic principal components: LD pruning, randomized SVD, plink2 --pca or the user's table."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from gemcont.io.ids import KEY, read_keyed_table
from gemcont.io.plink import Genotypes

log = logging.getLogger(__name__)


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
    genotypes: Genotypes,
    index: np.ndarray,
    window: int,
    r2: float,
    maf_min: float,
    block: int,
    samples: np.ndarray | None = None,
) -> list[np.ndarray]:
    all_pos = genotypes.bim["POS"].to_numpy()
    kept: list[np.ndarray] = []
    n = genotypes.n_samples if samples is None else len(samples)
    kept_z = np.empty((n, 0), dtype=np.float32)
    kept_pos = np.empty(0, dtype=np.int64)
    for start in range(0, len(index), block):
        variants = index[start : start + block]
        z, ok = _correlation_scaled(genotypes.read(variants, samples), maf_min)
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
    genotypes: Genotypes,
    window_kb: float,
    r2: float,
    maf_min: float,
    block_size: int = 2000,
    samples: np.ndarray | None = None,
) -> np.ndarray:
    """Greedy LD pruning: walk each chromosome by position, keep a variant unless its r²
    with an already kept variant within ``window_kb`` exceeds ``r2``. Returns sorted .bim rows.
    ``samples``: the .fam rows used (None = everyone).
    """
    bim = genotypes.bim
    kept: list[np.ndarray] = []
    for index in bim.groupby("CHR", sort=False).indices.values():
        index = index[np.argsort(bim["POS"].to_numpy()[index], kind="stable")]
        kept += _prune_chromosome(
            genotypes, index, int(window_kb * 1000), r2, maf_min, block_size, samples
        )
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
    pcs = genotypes.fam.iloc[rows][KEY].reset_index(drop=True)
    for i in range(n_pcs):
        pcs[f"PC{i + 1}"] = u[:, i]
    return pcs


def read_user_pcs(path: str | Path, n_pcs: int, fam: pd.DataFrame | None = None) -> pd.DataFrame:
    """Read FID IID PC1..PC``n_pcs`` from a table (a plink2 .eigenvec works: ``#FID``)."""
    columns = [f"PC{i + 1}" for i in range(n_pcs)]
    table = read_keyed_table(path, [], columns, "pcs", fam=fam)
    pcs = table[[*KEY, *columns]]
    pcs.attrs = table.attrs
    return pcs


def plink2_pcs(
    bfile: str | Path,
    variant_ids: list[str] | np.ndarray,
    n_pcs: int,
    out_prefix: str | Path,
    threads: int,
    mode: str = "exact",
    remove: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """PCs from ``plink2 --pca`` on ``variant_ids``; ``mode`` "approx" (large N) or "exact";
    ``remove``: FID IID of people left out (withdrawn)."""
    if mode not in ("exact", "approx"):
        raise ValueError(f"plink2 PCA mode must be 'exact' or 'approx', not {mode!r}")
    out_prefix = Path(out_prefix)
    out_prefix.parent.mkdir(parents=True, exist_ok=True)
    extract = out_prefix.with_name(out_prefix.name + ".extract.txt")
    extract.write_text("".join(f"{v}\n" for v in variant_ids))
    pca = ["--pca", str(n_pcs)] + (["approx"] if mode == "approx" else [])
    cmd = ["plink2", "--bfile", str(bfile), "--extract", str(extract), *pca]
    if remove is not None and len(remove):
        removed = out_prefix.with_name(out_prefix.name + ".remove.txt")
        remove[KEY].to_csv(removed, sep="\t", header=False, index=False)
        cmd += ["--remove", str(removed)]
    cmd += ["--threads", str(threads), "--out", str(out_prefix)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-10:])
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {done.returncode}):\n{tail}")
    return read_user_pcs(f"{out_prefix}.eigenvec", n_pcs)
