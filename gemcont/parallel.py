"""Process pools that work from Snakemake ``script:`` files."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
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
    (image decoding, simulation) run no torch.

    The workers are also forked with SIGTERM blocked and start by taking its default
    action back (:func:`_sigterm_kills`): the pool ends its workers with SIGTERM, and a
    worker that inherited a Python handler (the fundus store's, which raises SystemExit)
    loses a SIGTERM that arrives before the interpreter has finished forking (CPython
    clears the pending flags in the child), then waits forever on the queue the pool
    holds. Blocked, the signal stays pending in the kernel until the default is back."""
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    try:
        os.environ.update(dict.fromkeys(THREAD_VARIABLES, "1"))
        with threadpool_limits(1), _sigterm_blocked():
            return pool_context().Pool(workers, initializer=_sigterm_kills)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def _sigterm_blocked() -> Iterator[None]:
    """SIGTERM held pending in the calling thread (and what it forks) while the block runs;
    one that arrives meanwhile is delivered when the block ends."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _sigterm_kills() -> None:
    """Pool worker start: SIGTERM's default action (end the process), then unblocked."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
