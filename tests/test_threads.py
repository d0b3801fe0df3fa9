"""gemcont.threads: native pools capped at the job's threads, here and in children."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import run_to_end

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"

CHILD = """
import json, os, sys
from threadpoolctl import threadpool_info
import numpy  # loads the BLAS before the cap
from gemcont.threads import limit_threads
limit_threads(int(sys.argv[1]))
import torch  # loaded after the cap: reads OMP_NUM_THREADS
child = "import numpy; from threadpoolctl import threadpool_info; import json;" \\
    "print(json.dumps([p['num_threads'] for p in threadpool_info()]))"
import subprocess
grandchild = json.loads(subprocess.run([sys.executable, "-c", child], capture_output=True,
                                        text=True, check=True).stdout)
print(json.dumps({
    "pools": [p["num_threads"] for p in threadpool_info()],
    "torch": torch.get_num_threads(),
    "child": grandchild,
}))
"""


def _run(threads: int) -> dict:
    env = {**os.environ}
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.pop(name, None)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(threads)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return json.loads(out.stdout)


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: pools start at 1 thread")
def test_limit_threads__caps_loaded_later_loaded_and_child_pools() -> None:
    result = _run(1)
    assert result["pools"] and set(result["pools"]) == {1}
    assert result["torch"] == 1
    assert result["child"] and set(result["child"]) == {1}


def test_limit_threads__zero_threads_is_an_error() -> None:
    from gemcont.threads import limit_threads

    with pytest.raises(ValueError, match="threads must be >= 1, got 0"):
        limit_threads(0)


def test_every_job_script_caps_its_threads() -> None:
    """Each Python job script caps native pools at the rule's threads after its log."""
    scripts = sorted(SCRIPTS.glob("*.py"))
    assert len(scripts) > 10
    for script in scripts:
        lines = script.read_text().splitlines()
        assert "limit_threads(sm.threads)" in lines, script.name
        log = next(k for k, line in enumerate(lines) if line.startswith("to_file(sm.log"))
        assert lines.index("limit_threads(sm.threads)") == log + 1, script.name


POOL_CHILD = """
import json, sys
import numpy, torch
from threadpoolctl import threadpool_info
from gemcont.parallel import process_pool
from gemcont.threads import limit_threads


def pools(_):
    import os
    blas = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    return blas, os.environ["OMP_NUM_THREADS"]


limit_threads(2)  # the job's threads, inherited by forked workers unless capped
with process_pool(2) as pool:
    workers = pool.map(pools, range(4), chunksize=1)
print(json.dumps({"job": [*pools(0), torch.get_num_threads()], "workers": workers}))
"""


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: pools start at 1 thread")
def test_process_pool__each_worker_runs_one_native_thread() -> None:
    """A job at 2 threads running 2 worker processes (fundus simulation, fundus store,
    genotype simulation) gives each worker 1 thread, not the job's 2 (4 on 2 cores)."""
    out = subprocess.run(
        [sys.executable, "-c", POOL_CHILD], capture_output=True, text=True, check=True
    )
    result = json.loads(out.stdout)
    blas, omp, torch_threads = result["job"]
    assert set(blas) == {2} and torch_threads == 2 and omp == "2"
    # BLAS capped; torch's OpenMP runtime is left alone in a forked worker (the workers
    # run no torch, and a forked child must not call into it), *_NUM_THREADS set for
    # anything the worker loads or starts
    for blas, omp in result["workers"]:
        assert blas and set(blas) == {1} and omp == "1"


POOL_SIGTERM_CHILD = """
import json, signal
from gemcont.parallel import process_pool


def stop(signum, frame):
    raise SystemExit(128 + signum)


def sigterm(_):
    blocked = signal.SIGTERM in signal.pthread_sigmask(signal.SIG_BLOCK, [])
    return signal.getsignal(signal.SIGTERM) == signal.SIG_DFL, blocked


signal.signal(signal.SIGTERM, stop)  # as the fundus store builder does around its pool
with process_pool(2) as pool:
    workers = pool.map(sigterm, range(4), chunksize=1)
for _ in range(20):  # terminated at once: the second worker may not have run yet
    with process_pool(2) as pool:
        pool.map(abs, [1])
print(json.dumps({
    "workers": workers,
    "job_handler": signal.getsignal(signal.SIGTERM) is stop,
    "job_blocks": signal.SIGTERM in signal.pthread_sigmask(signal.SIG_BLOCK, []),
}))
"""


def test_process_pool__workers_take_sigterm_default_action() -> None:
    """Pool.terminate ends its workers with SIGTERM. A worker forked with the job's Python
    handler (the fundus store's raises SystemExit) lost a SIGTERM that came before the
    interpreter had finished forking (CPython clears pending signals in the child), and
    the job then waited for it forever (a hung workflow test). Workers run SIGTERM's
    default action, unblocked; the job keeps its handler and its signal mask."""
    out = run_to_end([sys.executable, "-c", POOL_SIGTERM_CHILD], 120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["workers"] == [[True, False]] * 4  # default action, not blocked
    assert result["job_handler"] and not result["job_blocks"]


def test_every_process_pool_caps_its_workers() -> None:
    """Worker processes are started by gemcont.parallel.process_pool only."""
    package = SCRIPTS.parent / "gemcont"
    for path in sorted(package.rglob("*.py")):
        text = path.read_text()
        for pattern in ("ProcessPoolExecutor", ".Pool(", "multiprocessing.Pool"):
            if path.name != "parallel.py":
                assert pattern not in text, f"{path}: {pattern}"
