"""Time panel dosage extraction (gemcont.genotypes.features.extract_dosages) against plink2.

    python benchmarks/panel_extraction.py [--people N --variants S --total M --threads T]

Two files are simulated: one holding exactly the S panel variants, and one holding M
variants among which the S panel variants are scattered. Each tool runs ``--repeats``
times after one warm-up (page cache hot); the median wall time is reported.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from synthetic_bed import simulate_bed

from gemcont.genotypes.features import extract_dosages
from gemcont.io.plink import Genotypes


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` runs after one warm-up."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def gemcont_run(prefix: Path, index: np.ndarray, threads: int) -> Callable[[], object]:
    """Open the fileset (.bim/.fam parsing) and extract the panel, as plink2 does."""

    def run() -> object:
        with Genotypes(prefix, threads=threads) as genotypes:
            return extract_dosages(genotypes, index, None, max_missing=0.05)

    return run


def gemcont_extract_only(genotypes: Genotypes, index: np.ndarray) -> Callable[[], object]:
    """Extract the panel from an already opened fileset."""
    return lambda: extract_dosages(genotypes, index, None, max_missing=0.05)


def plink2_run(prefix: Path, ids_file: Path, out: Path, threads: int) -> Callable[[], object]:
    cmd = ["plink2", "--bfile", str(prefix), "--extract", str(ids_file), "--make-bed"]
    cmd += ["--threads", str(threads), "--out", str(out)]
    return lambda: subprocess.run(cmd, check=True, capture_output=True)


def bench_case(
    label: str, prefix: Path, index: np.ndarray, threads: int, repeats: int
) -> list[tuple[str, str, float]]:
    ids_file = prefix.with_name(prefix.name + ".panel.txt")
    ids_file.write_text("".join(f"rs{j}\n" for j in index))
    out = prefix.with_name(prefix.name + ".plink2")
    plink2 = median_seconds(plink2_run(prefix, ids_file, out, threads), repeats)
    ours = median_seconds(gemcont_run(prefix, index, threads), repeats)
    with Genotypes(prefix, threads=threads) as genotypes:
        extract = median_seconds(gemcont_extract_only(genotypes, index), repeats)
        decode = median_seconds(lambda: genotypes.read_int8(index), repeats)
        bed_reader = median_seconds(lambda: genotypes.read(index, dtype="int8"), repeats)
    return [
        (label, "plink2 --extract --make-bed", plink2),
        (label, "gemcont open + extract_dosages", ours),
        (label, "gemcont extract_dosages (open fileset)", extract),
        (label, "Genotypes.read_int8 (open fileset)", decode),
        (label, "bed-reader read int8 (open fileset)", bed_reader),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--variants", type=int, default=2_000, help="panel size S")
    parser.add_argument("--total", type=int, default=20_000, help="variants in the scattered file")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        rows = []
        dense = Path(tmp) / "panel"
        simulate_bed(dense, args.people, args.variants, seed=0)
        rows += bench_case(
            f"{args.variants} of {args.variants}",
            dense,
            np.arange(args.variants),
            args.threads,
            args.repeats,
        )
        scattered = Path(tmp) / "scattered"
        simulate_bed(scattered, args.people, args.total, seed=1)
        index = np.sort(np.random.default_rng(2).choice(args.total, args.variants, replace=False))
        rows += bench_case(
            f"{args.variants} of {args.total}", scattered, index, args.threads, args.repeats
        )
    table = pd.DataFrame(rows, columns=["panel", "tool", "seconds"])
    plink2 = table.groupby("panel")["seconds"].transform("first")
    table["ratio_vs_plink2"] = table["seconds"] / plink2
    print(f"{args.people} people, {args.threads} threads, median of {args.repeats}")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))


if __name__ == "__main__":
    main()
