"""Process pools that work from Snakemake ``script:`` files."""

from __future__ import annotations

import multiprocessing
import sys
from multiprocessing.context import BaseContext
from multiprocessing.pool import Pool

from gemcont.threads import limit_threads


def pool_context() -> BaseContext:
    """'fork' on Linux (works from unguarded scripts such as Snakemake ``script:`` files),
    else 'spawn' (workers must then be top-level functions)."""
    return multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")


def process_pool(workers: int) -> Pool:
    """A pool of ``workers`` processes, each capped at one native thread: a forked worker
    inherits the job's cap (``limit_threads(threads)``), so ``threads`` workers would
    otherwise run up to threads x threads BLAS/OpenMP/torch threads on the job's cores."""
    return pool_context().Pool(workers, initializer=limit_threads, initargs=(1,))
