"""The built-in scan's numpy pipeline (CPU; float64 by default, float32 on request).

Counts from the .bed bytes, int8 decoding (:meth:`Genotypes.read_int8`) and conversion
to float into reused buffers, one block ahead in a background thread; then the product
and the statistics in float64 (cache-sized slices, :func:`numpy_stats_into`).
"""

from __future__ import annotations

import numpy as np

from gemcont.gwas.engines.streaming import ScanInputs
from gemcont.gwas.kernel import (
    COLLINEAR_TOL,
    AlleleCounts,
    centre_impute,
    counts_from_codes,
    numpy_stats_into,
    to_numpy64,
)
from gemcont.io.bed_codes import code_counts, selection_bits


class NumpyEngine:
    """Blocks of .bim rows scored with numpy into ``results`` (see
    :class:`gemcont.gwas.engines.streaming.Engine`)."""

    def __init__(self, scan: ScanInputs) -> None:
        self.genotypes, self.blocks, self.samples = scan.genotypes, scan.blocks, scan.samples
        self.models, self.backend, self.results = scan.models, scan.backend, scan.results
        self.timings = scan.timings
        n_fam = scan.genotypes.n_samples
        self.n = n_fam if scan.samples is None else scan.samples.size
        self.selected = selection_bits(n_fam, scan.samples)
        shape = (max(b.size for b in scan.blocks), self.n)
        self.codes = [np.empty(shape, np.int8) for _ in range(2)]  # variants x samples
        self.floats = [np.empty(shape, scan.backend.dtype) for _ in range(2)]
        self.tol = COLLINEAR_TOL[scan.backend.dtype]

    def __enter__(self) -> NumpyEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def load(self, i: int) -> tuple[np.ndarray, AlleleCounts]:
        """Block i as centred (float32) or plain (float64) imputed dosages, samples x
        variants in a reused buffer, and its counts (with exact css)."""
        rows, slot, n = self.blocks[i], i % 2, self.n
        with self.timings.phase("reading and decoding"):
            packed = self.genotypes.read_packed(rows)
            counts = counts_from_codes(*code_counts(packed, self.selected), n)
            codes = self.codes[slot][: rows.size]
            dosages = self.genotypes.read_int8(rows, self.samples, out=codes)
            g = centre_impute(
                dosages,
                2.0 * counts.eaf,
                self.backend.dtype,
                self.floats[slot][: rows.size].T,
                counts.n_obs < n,
                centre=self.backend.dtype != "float64",
            )
        return g, counts

    def score(self, loaded: tuple[np.ndarray, AlleleCounts], i: int, lo: int) -> tuple:
        """The block's product and statistics into rows lo.. of each group's results.

        One product per group, not one over all groups side by side: a group's numbers
        then do not depend on which other groups share the scan (bit for bit)."""
        g, counts = loaded
        with self.timings.phase("statistics"):
            for model, results in zip(self.models, self.results, strict=True):
                product = to_numpy64(g.T @ model.basis)  # the group's one big product
                dof, css = model.residualizer.dof, counts.css
                stats = (css, model.yty, model.c_inv, dof, self.tol)
                numpy_stats_into(results.arrays, lo, product, *stats)
        return lo, counts

    def finish(self, scored: tuple[int, AlleleCounts]) -> int:
        """Exact tails, counts and filters of the scored block's rows."""
        lo, counts = scored
        with self.timings.phase("statistics"):
            for model, results in zip(self.models, self.results, strict=True):
                results.store(lo, counts, model.residualizer.dof)
        return counts.n_obs.size
