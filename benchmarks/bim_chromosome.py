"""Time reading one chromosome of a large .bim: the whole table then filtering
(``read_bim``) vs only that chromosome's lines (``read_bim_chromosome``).

    python benchmarks/bim_chromosome.py [--variants 10000000 --chromosomes 22 --repeats 3]

Each read runs in a fresh Python process (as a per-chromosome GWAS job does); the
table gives its seconds (median) and its peak resident memory above the imports. The
.bim (rsIDs, tab-separated, sorted by chromosome) is read once first, so every read
finds it in the page cache.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

CHILD = """
import json, sys, time
import numpy as np
from gemcont.io.plink import read_bim, read_bim_chromosome

def peak_kb():  # this process's peak resident memory (ru_maxrss counts the parent's)
    status = open("/proc/self/status").read()
    return int(status.split("VmHWM:")[1].split()[0])

path, chrom, how = sys.argv[1:]
base = peak_kb()
start = time.perf_counter()
if how == "whole":
    bim = read_bim(path)
    rows = np.flatnonzero(bim["CHR"].to_numpy() == chrom)
    bim = bim.iloc[rows].reset_index(drop=True)
else:
    bim, rows, _ = read_bim_chromosome(path, chrom)
seconds = time.perf_counter() - start
peak = peak_kb() - base
print(json.dumps({"seconds": seconds, "MB": peak / 1024, "rows": len(bim)}))
"""


def write_bim(path: Path, variants: int, chromosomes: int) -> None:
    """A sorted .bim of ``variants`` rsIDs spread evenly over the chromosomes."""
    rng = np.random.default_rng(0)
    chrom = np.sort(np.arange(variants) % chromosomes) + 1
    alleles = np.array(list("ACGT"))
    with open(path, "w") as handle:
        for lo in range(0, variants, 1_000_000):
            hi = min(lo + 1_000_000, variants)
            pd.DataFrame(
                {
                    "CHR": chrom[lo:hi],
                    "ID": [f"rs{i}" for i in range(lo, hi)],
                    "CM": 0,
                    "POS": np.arange(lo, hi) * 10 + 1,
                    "A1": alleles[rng.integers(0, 4, hi - lo)],
                    "A2": alleles[rng.integers(0, 4, hi - lo)],
                }
            ).to_csv(handle, sep="\t", header=False, index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", type=int, default=10_000_000)
    parser.add_argument("--chromosomes", type=int, default=22)
    parser.add_argument("--chrom", default="7")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.bim"
        write_bim(path, args.variants, args.chromosomes)
        path.read_bytes()  # into the page cache
        rows = []
        for how in ("whole", "chromosome") * args.repeats:
            cmd = [sys.executable, "-c", CHILD, str(path), args.chrom, how]
            result = json.loads(subprocess.run(cmd, check=True, capture_output=True).stdout)
            rows.append({"read": how, **result})
        size = path.stat().st_size / 1e6
    table = pd.DataFrame(rows).groupby("read", sort=False).median().reset_index()
    table["whole/this"] = table["seconds"].iloc[0] / table["seconds"]
    print(
        f"\n.bim of {args.variants:,} variants ({size:,.0f} MB), {args.chromosomes} "
        f"chromosomes; chromosome {args.chrom}; median of {args.repeats}"
    )
    print(table.to_string(index=False, float_format=lambda x: f"{x:,.2f}"))


if __name__ == "__main__":
    main()
