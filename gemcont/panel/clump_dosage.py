"""LD clumping on dosages (a PGEN or BGEN ``data.panel_genotypes``).

The greedy rule is :mod:`gemcont.panel.clump`'s (PLINK's ``--clump``: candidates
visited by increasing P, window ``kb * 1000 - 1`` bp, joined when ``r^2 > r2``); only
the LD differs. r^2 is the squared Pearson correlation of the two variants' dosages over
the people with a dosage at both (complete cases; imputed files rarely have missing
ones), what PLINK 2 calls unphased r^2 (``--r2-unphased``, the dosage correlation), in
float64. The bit-set hard-call engine cannot hold fractional dosages, so this one reads
float32 dosages instead: every participant of a chromosome at once where they fit
:data:`CACHE_BYTES`, else each index variant's window again as it is visited. Either
way r^2 is computed between each index variant and a block of its window's
not-yet-clumped candidates at a time (:data:`BLOCK_BYTES` of float64), never all pairs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gemcont.io.genotype_source import GenotypeSource
from gemcont.panel.clump import CLUMP_COLUMNS, _clump_table, _participants, radius_bp

CACHE_BYTES = 1 << 30  # float32 dosages of a chromosome's participants held at most
BLOCK_BYTES = 1 << 26  # float64 candidate dosages per r^2 block


class _Dosages:
    """Dosages of one chromosome's participants (columns = rows of its table): held in
    memory when they fit :data:`CACHE_BYTES`, else read from the source when asked."""

    def __init__(
        self,
        genotypes: GenotypeSource,
        bim_index: np.ndarray,
        samples: np.ndarray | slice | None,
        cache_bytes: int,
    ) -> None:
        self._genotypes, self._bim_index, self._samples = genotypes, bim_index, samples
        n = genotypes.n_samples if samples is None else len(np.arange(genotypes.n_samples)[samples])
        self._held: np.ndarray | None = None
        if 4 * n * len(bim_index) <= cache_bytes:
            self._held = genotypes.read(bim_index, samples, dtype="float32")

    def columns(self, cols: np.ndarray) -> np.ndarray:
        """float64 dosages (NaN missing), people x ``cols``."""
        if self._held is not None:
            return self._held[:, cols].astype(np.float64)
        return self._genotypes.read(self._bim_index[cols], self._samples, dtype="float64")


def dosage_r2(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Squared Pearson correlation of dosage vector ``x`` with each column of ``y``
    (people x candidates) over the people with both dosages, float64; 0 where either is
    constant, at most 1."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ox, oy = ~np.isnan(x), ~np.isnan(y)
    with np.errstate(divide="ignore", invalid="ignore"):
        if ox.all() and oy.all():  # no missing dosage: centred sums (more accurate)
            xc = x - x.mean()
            yc = y - y.mean(axis=0)
            cov = xc @ yc
            r2 = cov * cov / ((xc @ xc) * np.einsum("ij,ij->j", yc, yc))
        else:  # per-pair complete cases, from sums over the people observed at both
            x0, y0 = np.where(ox, x, 0.0), np.where(oy, y, 0.0)
            wx, wy = ox.astype(np.float64), oy.astype(np.float64)
            n = wx @ wy
            sx, sy = x0 @ wy, wx @ y0
            cov = x0 @ y0 - sx * sy / n
            vx = (x0 * x0) @ wy - sx * sx / n
            vy = wx @ (y0 * y0) - sy * sy / n
            r2 = cov * cov / (vx * vy)
    # identical variants can round to just above 1 (then a clump_r2 of 1 would pass)
    return np.minimum(np.nan_to_num(r2, nan=0.0, posinf=0.0), 1.0)


def _clump_chromosome(
    v: pd.DataFrame,
    dosages: _Dosages,
    r2_threshold: float,
    radius: int,
    block: int,
) -> list[tuple[int, list[int]]]:
    """Greedy clumping of one chromosome's participants (rows of ``v``, file order)."""
    pos = v["POS"].to_numpy()
    clumped = np.zeros(len(v), dtype=bool)
    clumps = []
    for i in v["RANK"].dropna().sort_values().index:
        if clumped[i]:
            continue
        clumped[i] = True
        near = np.flatnonzero(~clumped & (np.abs(pos - pos[i]) <= radius))
        x = dosages.columns(np.array([i]))[:, 0]
        members = [
            part[dosage_r2(x, dosages.columns(part)) > r2_threshold]
            for part in (near[lo : lo + block] for lo in range(0, len(near), block))
        ]
        joined = np.concatenate(members) if members else near
        clumped[joined] = True
        clumps.append((i, sorted(joined.tolist())))
    return clumps


def clump_dosages(
    variants: pd.DataFrame,
    genotypes: GenotypeSource,
    p_threshold: float = 1e-5,
    r2_threshold: float = 0.05,
    window_kb: float = 5000,
    p2_threshold: float | None = None,
    samples: np.ndarray | slice | None = None,
    cache_bytes: int = CACHE_BYTES,
    block_bytes: int = BLOCK_BYTES,
) -> pd.DataFrame:
    """Greedy LD clumping with dosage r^2; the arguments and result of
    :func:`gemcont.panel.clump.clump` (``BIM_INDEX``: rows of ``genotypes.bim``)."""
    p2 = p_threshold if p2_threshold is None else p2_threshold
    v = _participants(variants, p_threshold, p2)
    radius = radius_bp(window_kb)
    n = genotypes.n_samples if samples is None else len(np.arange(genotypes.n_samples)[samples])
    block = max(1, block_bytes // (8 * max(n, 1)))
    tables = []
    for _, chrom in v.groupby("CHR", sort=False):
        if chrom["RANK"].isna().all():
            continue
        chrom = chrom.reset_index(drop=True)
        dosages = _Dosages(genotypes, chrom["BIM_INDEX"].to_numpy(), samples, cache_bytes)
        clumps = _clump_chromosome(chrom, dosages, r2_threshold, radius, block)
        table = _clump_table(chrom, clumps)
        table["RANK"] = chrom.loc[[i for i, _ in clumps], "RANK"].to_numpy()
        tables.append(table)
    if not tables:
        return pd.DataFrame(columns=CLUMP_COLUMNS)
    out = pd.concat(tables).sort_values("RANK").drop(columns="RANK")
    return out.reset_index(drop=True)
