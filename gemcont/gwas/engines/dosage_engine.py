"""The built-in scan's pipeline for dosage formats (PGEN, BGEN): float dosages from the
reader (:class:`gemcont.io.genotype_source.GenotypeSource`), one block ahead in a
background thread, then the numpy pipeline's product and statistics.

Counts and centred sums of squares come from the float64 dosages themselves
(:meth:`gemcont.gwas.kernel.Backend.genotypes`): dosages are not integers, so the
.bed path's exact integer counts do not apply; a variant without missing dosages (the
rule in imputed data) is only centred, never searched for NaN. On CUDA the centred
block is copied to the device and the product runs there; the statistics stay on the
host (the product is variants x (D + c + 1), small beside the block).
"""

from __future__ import annotations

import numpy as np

from gemcont.gwas.engines.numpy_engine import NumpyEngine
from gemcont.gwas.engines.streaming import ScanInputs
from gemcont.gwas.kernel import COLLINEAR_TOL, AlleleCounts


class DosageEngine(NumpyEngine):
    """Blocks of variant rows of a dosage source scored into ``results`` (see
    :class:`gemcont.gwas.engines.streaming.Engine`); :meth:`score` and :meth:`finish`
    are the numpy pipeline's."""

    def __init__(self, scan: ScanInputs) -> None:
        self.genotypes, self.blocks, self.samples = scan.genotypes, scan.blocks, scan.samples
        self.models, self.backend, self.results = scan.models, scan.backend, scan.results
        self.timings = scan.timings
        n = scan.genotypes.n_samples if scan.samples is None else scan.samples.size
        shape = (n, max(b.size for b in scan.blocks))  # samples x variants, as read
        # float64 centring buffers (reused: fresh ones cost page faults), numpy float64 only
        direct = scan.backend.dtype == "float64" and not scan.backend.use_torch
        self.buffers = [np.empty(shape, order="F") for _ in range(2)] if direct else None
        self.tol = COLLINEAR_TOL[scan.backend.dtype]

    def load(self, i: int) -> tuple[object, AlleleCounts]:
        """Block i as centred mean-imputed dosages on the backend (samples x variants)
        and its counts (with css)."""
        rows = self.blocks[i]
        with self.timings.phase("reading and decoding"):
            dosages = self.genotypes.read(rows, self.samples, dtype="float32")
            out = None if self.buffers is None else self.buffers[i % 2][:, : rows.size]
            return self.backend.genotypes(dosages, out)
