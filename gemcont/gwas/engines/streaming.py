"""What both built-in pipelines share: per-phase timings, reading one block ahead, the
result arrays filled block by block, and the loop that drives an engine."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np

from gemcont.gwas.engines.prefault import prefault
from gemcont.gwas.kernel import (
    QC_KEPT,
    AlleleCounts,
    Backend,
    NullModel,
    VariantFilters,
    finish_stats,
    qc_codes,
    result_arrays,
)
from gemcont.io.genotype_source import GenotypeSource

T = TypeVar("T")
R = TypeVar("R")


class Timings(dict):
    """Seconds spent per pipeline phase, summed over blocks (each phase timed by one
    thread): where a scan's time went, logged and reported by the benchmarks."""

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self[name] = self.get(name, 0.0) + time.perf_counter() - start


def read_ahead(load: Callable[[T], R], keys: Sequence[T], timings: Timings) -> Iterator[R]:
    """``load(key)`` for each key in order, the next one running in a background thread;
    the time the caller waits for a load goes to ``timings["waiting for reads"]``."""
    if not keys:
        return
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(load, keys[0])
        for key in keys[1:]:
            with timings.phase("waiting for reads"):
                done = pending.result()
            pending = pool.submit(load, key)
            yield done
        with timings.phase("waiting for reads"):
            done = pending.result()
        yield done


class ScanResults:
    """The scan's statistics, one row per scanned variant, filled block by block; their
    pages fault in from a background thread meanwhile
    (:func:`gemcont.gwas.engines.prefault.prefault`).

    arrays: :func:`gemcont.gwas.kernel.result_arrays` (m x d and m); n_obs, eaf, keep,
    qc (each variant's :data:`gemcont.gwas.kernel.QC_REASONS` code): m. One per
    phenotype group of a scan (one method's traits: its multi-trait statistic is its
    own). dosages: rows where the INFO filter applies, mfi_low: rows whose mfi INFO
    fails (masks, or one bool for all).
    """

    def __init__(
        self,
        m: int,
        d: int,
        dtype: str,
        filters: VariantFilters,
        dosages: bool | np.ndarray = True,
        mfi_low: bool | np.ndarray = False,
    ) -> None:
        self.arrays = result_arrays(m, d, dtype)
        self.n_obs = np.zeros(m, dtype=np.int64)
        self.eaf = np.full(m, np.nan)
        self.keep = np.zeros(m, dtype=bool)
        self.qc = np.zeros(m, dtype=np.int8)
        self.filters, self.dosages, self.mfi_low = filters, dosages, mfi_low
        self.prefaulting = prefault(list(self.arrays.values()))

    def close(self) -> None:
        """Wait for the page faulting to finish (its time belongs to the scan)."""
        if self.prefaulting is not None:
            self.prefaulting.join()

    def store(self, lo: int, counts: AlleleCounts, dof: int) -> None:
        """Finish rows lo.. (statistics already there) and record counts and filters."""
        hi = lo + counts.n_obs.size
        finish_stats(self.arrays, lo, hi, dof)
        self.n_obs[lo:hi], self.eaf[lo:hi] = counts.n_obs, counts.eaf
        tested = np.isfinite(self.arrays["chisq"][lo:hi])
        dosages, mfi_low = (
            m if np.ndim(m) == 0 else m[lo:hi] for m in (self.dosages, self.mfi_low)
        )
        self.qc[lo:hi] = qc_codes(counts, self.filters, tested, dosages, mfi_low)
        self.keep[lo:hi] = self.qc[lo:hi] == QC_KEPT


@dataclass(frozen=True)
class ScanInputs:
    """What an engine scans: ``blocks`` of ``genotypes``' variant rows for the sample rows
    ``samples`` (ascending; None: everyone) against each of ``models`` (phenotype groups
    sharing these samples: each block is read and decoded once for all), on ``backend``,
    into the ``results`` of the same position; seconds per phase into ``timings``."""

    genotypes: GenotypeSource  # .bed engines: a gemcont.io.plink.Genotypes
    blocks: list[np.ndarray]
    samples: np.ndarray | None
    models: list[NullModel]
    backend: Backend
    results: list[ScanResults]
    timings: Timings


class Engine(Protocol):
    """A streaming pipeline of the built-in scan over a list of blocks of .bim rows.

    ``load(i)`` runs in a background thread one block ahead; ``score(loaded, i, lo)``
    starts block i's statistics for rows lo.. of the results (on a device it may only
    queue them); ``finish(scored)`` stores them, after the next block was scored, and
    returns the block's variant count. Used as a context manager around the loop.
    """

    def __enter__(self) -> Engine: ...
    def __exit__(self, *exc: object) -> None: ...
    def load(self, i: int) -> Any: ...
    def score(self, loaded: Any, i: int, lo: int) -> Any: ...
    def finish(self, scored: Any) -> int: ...


def drive(engine: Engine, blocks: Sequence[np.ndarray], timings: Timings) -> Iterator[int]:
    """Run ``engine`` over ``blocks``; yields each block's variant count once stored."""
    pending, lo = None, 0
    with engine:
        for i, loaded in enumerate(read_ahead(engine.load, range(len(blocks)), timings)):
            scored = engine.score(loaded, i, lo)
            lo += blocks[i].size
            if pending is not None:
                yield engine.finish(pending)
            pending = scored
        if pending is not None:
            yield engine.finish(pending)
