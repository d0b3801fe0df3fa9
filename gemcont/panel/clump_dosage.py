"""LD clumping on dosages (a PGEN or BGEN ``data.panel_genotypes``).

The greedy rule is :mod:`gemcont.panel.clump`'s (PLINK's ``--clump``: candidates
visited by increasing P, window ``kb * 1000 - 1`` bp, joined when ``r^2 > r2``); only
the LD differs. r^2 is the squared Pearson correlation of the two variants' dosages over
the people with a dosage at both (complete cases; imputed files rarely have missing
ones), in float64: the dosage correlation PLINK 2 reports as unphased r^2. Not checked
against plink2 itself (the one installed, v2.00a3.5, predates ``--clump`` and
``--r2-unphased``): tests/test_panel_dosages.py re-derives the index variants with all
pairs' pairwise-complete correlations in float64. The bit-set hard-call engine cannot
hold fractional dosages, so this one reads float64 dosages instead: every participant
of a chromosome at once where they fit :data:`CACHE_BYTES`, else each index variant's
window again as it is visited. Either way r^2 is computed between each index variant
and a block of its window's not-yet-clumped candidates at a time (:data:`BLOCK_BYTES`
of float64), never all pairs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gemcont.io.genotype_source import GenotypeSource
from gemcont.panel.clump import PairR2, greedy_clump

CACHE_BYTES = 1 << 32  # float64 dosages of a chromosome's participants held at most
BLOCK_BYTES = 1 << 26  # float64 candidate dosages per r^2 block


class _Dosages:
    """Dosages of one chromosome's participants (columns = rows of its table): held in
    memory as float64 when they fit :data:`CACHE_BYTES` (with each column's mean and
    centred sum of squares, computed once; float64 held, because converting float32
    candidates for every index variant costs 20-40x the product itself), else read from
    the source when asked."""

    def __init__(
        self,
        genotypes: GenotypeSource,
        bim_index: np.ndarray,
        samples: np.ndarray | slice | None,
        n: int,
        cache_bytes: int,
        block: int,
    ) -> None:
        """``n``: the people ``samples`` selects."""
        self._genotypes, self._bim_index, self._samples = genotypes, bim_index, samples
        self._held: np.ndarray | None = None
        if 8 * n * len(bim_index) > cache_bytes:
            return
        # Fortran order: a span of columns is a contiguous view for the products below
        self._held = np.asfortranarray(genotypes.read(bim_index, samples, dtype="float64"))
        m = len(bim_index)
        self._complete = np.zeros(m, dtype=bool)
        self._mean, self._css = np.zeros(m), np.zeros(m)
        for lo in range(0, m, block):
            part = self._held[:, lo : lo + block]
            self._complete[lo : lo + block] = ~np.isnan(part).any(axis=0)
            mean = part.mean(axis=0)
            self._mean[lo : lo + block] = mean
            self._css[lo : lo + block] = ((part - mean) ** 2).sum(axis=0)

    def columns(self, cols: np.ndarray) -> np.ndarray:
        """float64 dosages (NaN missing), people x ``cols``."""
        if self._held is not None:
            return self._held[:, cols]
        return self._genotypes.read(self._bim_index[cols], self._samples, dtype="float64")

    def r2(self, index: int, x: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """r^2 of column ``index`` (its dosages ``x``, float64) with ``cols``: from the held
        columns' sums where neither has a missing dosage (the centred index column times
        the raw candidates is their covariance), else :func:`dosage_r2`."""
        if self._held is None or not (self._complete[index] and self._complete[cols].all()):
            return dosage_r2(x, self.columns(cols))
        # the span from the first to the last column asked for is a view: its product is
        # cheaper than gathering ``cols`` unless most of it is clumped already
        lo, hi = int(cols.min()), int(cols.max()) + 1
        span = self._held[:, lo:hi]
        if len(cols) < (hi - lo) // 2:
            cov = (x - self._mean[index]) @ span[:, cols - lo]
        else:
            cov = ((x - self._mean[index]) @ span)[cols - lo]
        with np.errstate(divide="ignore", invalid="ignore"):
            return _bounded(cov * cov / (self._css[index] * self._css[cols]))


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
    return _bounded(r2)


def _bounded(r2: np.ndarray) -> np.ndarray:
    """r^2 in [0, 1]: 0 where a variant is constant (NaN, inf); identical variants can
    round to just above 1 (then a clump_r2 of 1 would pass)."""
    return np.minimum(np.nan_to_num(r2, nan=0.0, posinf=0.0), 1.0)


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
    n = genotypes.n_samples if samples is None else len(np.arange(genotypes.n_samples)[samples])
    block = max(1, block_bytes // (8 * max(n, 1)))

    def chromosome_r2(chrom: pd.DataFrame) -> PairR2:
        rows = chrom["BIM_INDEX"].to_numpy()
        dosages = _Dosages(genotypes, rows, samples, n, cache_bytes, block)

        def r2_of(i: int, near: np.ndarray) -> np.ndarray:
            x = dosages.columns(np.array([i]))[:, 0]
            parts = (near[lo : lo + block] for lo in range(0, len(near), block))
            return np.concatenate([dosages.r2(i, x, part) for part in parts])

        return r2_of

    return greedy_clump(variants, p_threshold, r2_threshold, window_kb, p2_threshold, chromosome_r2)
