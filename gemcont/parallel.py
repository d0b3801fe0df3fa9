"""Process pools that work from Snakemake ``script:`` files."""

from __future__ import annotations

import multiprocessing
import os
import sys
from multiprocessing.context import BaseContext
from multiprocessing.pool import Pool

from threadpoolctl import threadpool_limits

from gemcont.threads import THREAD_VARIABLES


def pool_context() -> BaseContext:
    """'fork' on Linux (works from unguarded scripts such as Snakemake ``script:`` files),
    else 'spawn' (workers must then be top-level functions)."""
    return multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")


def process_pool(workers: int) -> Pool:
    """A pool of ``workers`` processes, each with one BLAS/OpenMP thread: a forked worker
    inherits the job's cap (``limit_threads(threads)``), so ``threads`` workers would
    otherwise run up to threads x threads native threads on the job's cores.

    The workers are forked while this process holds the pools (and the *_NUM_THREADS
    variables) at one thread, so they start capped without calling into any native
    runtime themselves: a forked child must not (a worker that set torch's threads died
    in the test suite, and a Pool waits forever for a dead worker's task). The workers
    (image decoding, simulation) run no torch."""
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    try:
        os.environ.update(dict.fromkeys(THREAD_VARIABLES, "1"))
        with threadpool_limits(1):
            return pool_context().Pool(workers)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
