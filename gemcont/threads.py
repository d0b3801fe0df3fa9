"""Native thread pools (BLAS, OpenMP, torch) capped at a job's threads.

OpenBLAS, MKL and OpenMP start one thread per core of the node whatever the scheduler
gave the job; beside other jobs that oversubscribes the cores (the GWAS null model's
products ran ~40x slower on two OpenBLAS threads than on one on a busy 2-core machine:
benchmarks/README.md).
"""

from __future__ import annotations

import os
import sys

from threadpoolctl import threadpool_limits

# Read once, when each library loads: caps libraries (and child processes) loaded later.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def limit_threads(threads: int) -> None:
    """Cap every native thread pool of this process, and of those it starts, at ``threads``.

    Call once at the start of a job (scripts/: right after the log is set up); code
    that wants fewer threads for one step nests ``threadpool_limits`` inside.
    """
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    threadpool_limits(threads)  # libraries already loaded (numpy's BLAS, OpenMP runtimes)
    torch = sys.modules.get("torch")
    if torch is not None:  # torch's intra-op pool is not one threadpoolctl sets
        torch.set_num_threads(threads)
