"""Time harmonising published sumstats to a cohort .bim (``gemcont.panel.harmonise``).

    python benchmarks/harmonise.py [--rows N --bim M --repeat R]

Synthetic inputs as the reader returns them (``str`` columns, float statistics): a
.bim of M variants on 22 chromosomes (random allele pairs, every 500th position
multi-allelic) and N sumstats rows, sorted by position: min(N, M) of them are .bim
variants (half with EA/OA swapped, 5% on the other strand, 10% named CHR:POS instead
of the rsid), the rest absent from the .bim; 0.1% of rows are written twice (exact
duplicate lines). Prints wall and CPU seconds per run (best of R; CPU
seconds are steadier on a shared machine), rows/s and the peak resident
memory above the inputs (VmHWM after resetting it; Linux).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gemcont.panel.harmonise import harmonise

BASES = np.array(list("ACGT"), dtype=object)


def synthetic_bim(m: int, rng: np.random.Generator) -> pd.DataFrame:
    chrom = np.minimum(np.arange(m) * 22 // m + 1, 22)
    pos = 1000 + 10 * (np.arange(m) - np.searchsorted(chrom, chrom))
    multi = np.arange(m) % 500 == 1  # shares the previous variant's position
    pos[multi] = pos[np.flatnonzero(multi) - 1]
    a1 = rng.integers(0, 4, m)
    a2 = (a1 + rng.integers(1, 4, m)) % 4
    return pd.DataFrame(
        {
            "CHR": pd.array(chrom.astype(str), dtype="str"),
            "ID": pd.array(("rs" + pd.Series(np.arange(m)).astype(str)).to_numpy(), dtype="str"),
            "CM": 0.0,
            "POS": pos,
            "A1": pd.array(BASES[a1], dtype="str"),
            "A2": pd.array(BASES[a2], dtype="str"),
        }
    )


def synthetic_sumstats(n: int, bim: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    m = len(bim)
    k = min(n, m)
    take = np.sort(rng.choice(m, k, replace=False)) if k < m else np.arange(m)
    chrom = bim["CHR"].to_numpy()[take]
    pos = bim["POS"].to_numpy()[take]
    ids = bim["ID"].to_numpy(dtype=object)[take]
    code = {base: i for i, base in enumerate(BASES)}
    a1 = bim["A1"].map(code).to_numpy()[take]
    a2 = bim["A2"].map(code).to_numpy()[take]
    swap = rng.random(k) < 0.5
    ea, oa = np.where(swap, a2, a1), np.where(swap, a1, a2)
    strand = rng.random(k) < 0.05
    ea, oa = np.where(strand, 3 - ea, ea), np.where(strand, 3 - oa, oa)
    by_pos = rng.random(k) < 0.1
    ids = np.where(by_pos, pd.Series(chrom).str.cat(pd.Series(pos).astype(str), sep=":"), ids)
    absent = n - k  # odd positions, never in the .bim
    extra_chrom = np.minimum(np.arange(absent) * 22 // max(absent, 1) + 1, 22)
    frame = pd.DataFrame(
        {
            "CHR": np.concatenate([chrom, extra_chrom.astype(str).astype(object)]),
            "POS": np.concatenate([pos, 1005 + 10 * np.arange(absent)]),
            "ID": np.concatenate(
                [ids, ("rsx" + pd.Series(np.arange(absent)).astype(str)).to_numpy(object)]
            ),
            "EA": BASES[np.concatenate([ea, rng.integers(0, 4, absent)])],
            "OA": BASES[np.concatenate([oa, (rng.integers(1, 4, absent) + 1) % 4])],
        }
    )
    frame["EA"] = frame["EA"].where(frame["EA"] != frame["OA"], "A")
    frame["OA"] = frame["OA"].where(frame["EA"] != frame["OA"], "G")
    frame["EAF"] = rng.uniform(0.01, 0.99, n)
    frame["N"] = 50_000.0
    frame["BETA"] = rng.normal(0, 0.02, n)
    frame["SE"] = 0.01
    frame["LOG10P"] = rng.exponential(1 / np.log(10), n)
    frame["P"] = 10.0 ** -frame["LOG10P"]
    dup = rng.random(n) < 0.001  # exact duplicate lines, next to the original
    frame = pd.concat([frame, frame[dup]]).sort_index(kind="stable").reset_index(drop=True)
    cols = ["CHR", "POS", "ID", "EA", "OA", "EAF", "N", "BETA", "SE", "P", "LOG10P"]
    out = frame[cols].copy()
    for c in ("CHR", "ID", "EA", "OA"):
        out[c] = pd.array(out[c].to_numpy(dtype=object), dtype="str")
    return out


def peak_rss_gb() -> float:
    """Peak resident memory since the last :func:`reset_peak` (GB)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1e6
    return float("nan")


def rss_gb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1e6
    return float("nan")


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 2_000_000])
    parser.add_argument("--bim", type=int, default=None, help="default: 0.6 x rows")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    results = []
    for n in args.rows:
        rng = np.random.default_rng(0)
        bim = synthetic_bim(args.bim or int(0.6 * n), rng)
        sumstats = synthetic_sumstats(n, bim, rng)
        best, cpu = np.inf, np.inf
        for _ in range(args.repeat):
            before = rss_gb()
            reset_peak()
            start, start_cpu = time.perf_counter(), time.process_time()
            result = harmonise(sumstats, bim)
            best = min(best, time.perf_counter() - start)
            cpu = min(cpu, time.process_time() - start_cpu)
            peak = peak_rss_gb() - before
            del result
        results.append(
            {
                "sumstats rows": len(sumstats),
                ".bim variants": len(bim),
                "seconds": best,
                "CPU seconds": cpu,
                "rows/s": len(sumstats) / best,
                "peak GB above inputs": peak,
            }
        )
    print(pd.DataFrame(results).to_string(index=False, float_format=lambda x: f"{x:,.2f}"))


if __name__ == "__main__":
    main()
