"""Clumping many hits in one window: gemcont's bit-set engine against the old all-pairs
engine and plink1.9 --clump, on the same synthetic .bed, at 1 and 2 threads.

The old engine is gemcont/panel/clump.py as of commit b2e351d (before the bit sets),
read with ``git show`` into a temporary module. Every run is its own process: wall
time, CPU time and peak RSS come from ``os.wait4`` (the clump call and the genotype
read, plus imports: the ``base`` column is the peak RSS of a run that only imports and
reads the variants). A run past ``--timeout`` is killed; for the old engine the table
then shows how many index variants it had finished and the whole run extrapolated.

    python benchmarks/clump.py --people 100000 --hits 5000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from gemcont.io.bed_codes import pack_bed  # noqa: E402

OLD_COMMIT = "b2e351d"
WINDOW_BP = 5_000_000
BLOCK = 25  # variants per LD block
COPY = 0.9  # chance a haplotype copies the previous variant's allele within a block


def write_cohort(prefix: Path, people: int, hits: int, seed: int) -> pd.DataFrame:
    """LD blocks along one 5 Mb window, every variant a hit (P < 5e-8); returns variants."""
    rng = np.random.default_rng(seed)
    with open(f"{prefix}.bed", "wb") as bed:
        bed.write(bytes([0x6C, 0x1B, 0x01]))
        for lo in range(0, hits, BLOCK):
            width = min(BLOCK, hits - lo)
            freq = rng.uniform(0.05, 0.5, width)
            haps = np.empty((2 * people, width), dtype=np.int8)
            haps[:, 0] = rng.random(2 * people) < freq[0]
            for j in range(1, width):
                fresh = rng.random(2 * people) < freq[j]
                haps[:, j] = np.where(rng.random(2 * people) < COPY, haps[:, j - 1], fresh)
            dosages = (haps[:people] + haps[people:]).astype(np.float32)
            bed.write(pack_bed(dosages).tobytes())
    ids = [f"I{i}" for i in range(people)]
    pd.DataFrame({"FID": ids, "IID": ids, "P": 0, "M": 0, "S": 0, "Y": -9}).to_csv(
        f"{prefix}.fam", sep="\t", header=False, index=False
    )
    pos = np.linspace(1_000, WINDOW_BP - 1_000, hits).astype(np.int64)
    bim = pd.DataFrame(
        {"CHR": 1, "ID": [f"v{j}" for j in range(hits)], "CM": 0, "POS": pos, "A1": "A", "A2": "G"}
    )
    bim.to_csv(f"{prefix}.bim", sep="\t", header=False, index=False)
    p = 10.0 ** -rng.uniform(8, 40, hits)
    return bim.assign(P=p, BIM_INDEX=np.arange(hits))[["ID", "CHR", "POS", "P", "BIM_INDEX"]]


def child(engine: str, threads: int, bfile: str, variants: str, out: str) -> None:
    """One clumping run in this process (``--child``): writes the index variants."""
    from gemcont.threads import limit_threads

    limit_threads(threads)
    from gemcont.io.plink import Genotypes

    hits = pd.read_csv(variants, sep="\t", dtype={"ID": str, "CHR": str})
    if engine == "base":
        return
    if engine == "old":
        source = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{OLD_COMMIT}:gemcont/panel/clump.py"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        module: dict = {"__name__": "old_clump"}
        exec(compile(source, "old_clump.py", "exec"), module)
        count = module["_haplotype_r2"]

        def counted(*args):  # one line per index variant: progress if killed
            print("index", file=sys.stderr, flush=True)
            return count(*args)

        module["_haplotype_r2"] = counted
        clump = module["clump"]
    else:
        from gemcont.panel.clump import clump
    with Genotypes(bfile, threads=threads) as genotypes:
        result = clump(hits, genotypes, 5e-8, 0.05, 5000)
    result.to_csv(out, sep="\t", index=False)


def measure(command: list[str], timeout: float) -> dict:
    """Wall and CPU seconds, peak RSS (GB) and stderr of one process; killed at timeout."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "wall_s": time.perf_counter() - start,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_gb": usage.ru_maxrss / 1e6,
        "killed": proc.returncode < 0,
        "failed": proc.returncode > 0,
        "stderr": stderr,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--hits", type=int, default=5_000)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--engines", nargs="+", default=["new", "old", "plink1.9"])
    parser.add_argument("--timeout", type=float, default=300, help="seconds per run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        engine, threads, *paths = args.child
        child(engine, int(threads), *paths)
        return
    with tempfile.TemporaryDirectory(prefix="clump_bench_") as tmp:
        work = Path(tmp)
        start = time.perf_counter()
        variants = write_cohort(work / "cohort", args.people, args.hits, args.seed)
        variants.to_csv(work / "hits.tsv", sep="\t", index=False)
        print(
            f"# synthetic .bed: {args.people} people x {args.hits} hits in one 5 Mb window, "
            f"LD blocks of {BLOCK}, written in {time.perf_counter() - start:.0f} s"
        )
        bfile, hits = str(work / "cohort"), str(work / "hits.tsv")
        me = [sys.executable, __file__, "--child"]
        base = measure([*me, "base", "1", bfile, hits, "-"], args.timeout)
        print(f"# base (imports + reading the hits): {base['peak_gb']:.2f} GB peak RSS")
        rows, results = [], {}
        for engine in args.engines:
            for threads in args.threads:
                out = work / f"{engine}_{threads}.tsv"
                if engine == "plink1.9":
                    hits_plink = work / "plink_hits.tsv"
                    variants[["ID", "P"]].to_csv(hits_plink, sep="\t", index=False)
                    command = ["plink1.9", "--bfile", bfile, "--clump", str(hits_plink)]
                    command += ["--clump-snp-field", "ID", "--clump-field", "P"]
                    command += ["--clump-p1", "5e-8", "--clump-p2", "5e-8"]
                    command += ["--clump-r2", "0.05", "--clump-kb", "5000"]
                    command += ["--threads", str(threads), "--out", str(out.with_suffix(""))]
                else:
                    command = [*me, engine, str(threads), bfile, hits, str(out)]
                run = measure(command, args.timeout)
                ids = _index_ids(engine, out)
                if ids is not None:
                    results[(engine, threads)] = ids
                rows.append(_row(engine, threads, run, ids, results))
        table = pd.DataFrame(rows)
        print(table.to_string(index=False))


def _index_ids(engine: str, out: Path) -> list[str] | None:
    if engine == "plink1.9":
        clumped = out.with_suffix(".clumped")
        if not clumped.exists():
            return None
        return pd.read_csv(clumped, sep=r"\s+")["SNP"].tolist()
    return pd.read_csv(out, sep="\t")["ID"].tolist() if out.exists() else None


def _row(engine: str, threads: int, run: dict, ids: list[str] | None, results: dict) -> dict:
    """One table row; ``same as new``: identical index variants (in order) to the new engine."""
    done = run["stderr"].count("index\n")
    new = next((v for (e, _), v in results.items() if e == "new"), None)
    row = {
        "engine": engine,
        "threads": threads,
        "wall_s": round(run["wall_s"], 1),
        "cpu_s": round(run["cpu_s"], 1),
        "peak_gb": round(run["peak_gb"], 2),
        "index_variants": len(ids) if ids is not None else None,
        "same_as_new": (ids == new) if ids is not None and new is not None else None,
        "note": "",
    }
    if run["killed"] and engine == "old" and new:
        row["note"] = (
            f"killed: {done} of {len(new)} index variants done, "
            f"~{run['wall_s'] * len(new) / max(done, 1):.0f} s for all at that rate "
            "(an upper bound: early index variants have the most candidates)"
        )
    elif run["killed"]:
        row["note"] = "killed at the timeout"
    elif run["failed"]:
        row["note"] = "failed: " + run["stderr"].strip().splitlines()[-1][:80]
    return row


if __name__ == "__main__":
    main()
