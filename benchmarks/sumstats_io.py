"""Time writing and merging the embedding GWAS's gzipped sumstats against the plain ways.

    python benchmarks/sumstats_io.py [--variants M --dims D --chromosomes C]

Per-dimension sumstats of M variants x D dimensions (random statistics through
``builtin_tables``, so the columns and types are the engine's) are written as one
file per chromosome, then merged. Peers, in the same run: pandas ``to_csv`` with its
gzip defaults (level 9, one member; what gemcont did before) and a line-by-line
decompress-and-recompress merge.
"""

from __future__ import annotations

import argparse
import gzip
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gemcont.gwas.engines.builtin import BuiltinScan
from gemcont.gwas.stage import merge_chromosomes
from gemcont.io.sumstats import builtin_tables
from gemcont.io.tables import write_tsv


def per_dim_table(m: int, d: int, chrom: str, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    bim = pd.DataFrame(
        {
            "CHR": chrom,
            "ID": [f"rs{chrom}_{i}" for i in range(m)],
            "CM": 0.0,
            "POS": np.arange(m) + 1,
            "A1": rng.choice(list("ACGT"), m),
            "A2": rng.choice(list("ACGT"), m),
        }
    )
    t = rng.normal(size=(m, d))
    scan = BuiltinScan(
        bim,
        [f"Y{i}" for i in range(d)],
        np.arange(m),
        np.ones(m, bool),
        np.full(m, 20_000),
        rng.uniform(0.01, 0.99, m),
        0.01 * t,
        np.full((m, d), 0.01),
        np.abs(t),
        (t * t).sum(1),
        np.abs(t[:, 0]),
        {},
    )
    return builtin_tables(scan)[0]


def pandas_gzip(df: pd.DataFrame, path: Path) -> None:
    compression = {"method": "gzip", "mtime": 0}
    df.to_csv(path, sep="\t", index=False, float_format="%.6g", compression=compression)


def recompress_merge(paths: list[Path], out: Path) -> None:
    with gzip.open(out, "wb") as sink:
        for i, path in enumerate(paths):
            with gzip.open(path, "rb") as source:
                header = source.readline()
                if i == 0:
                    sink.write(header)
                for line in source:
                    sink.write(line)


def timed(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=100_000, help="per chromosome")
    parser.add_argument("--dims", type=int, default=10)
    parser.add_argument("--chromosomes", type=int, default=2)
    args = parser.parse_args()
    chroms = [str(c + 1) for c in range(args.chromosomes)]
    frames = [per_dim_table(args.variants, args.dims, c, i) for i, c in enumerate(chroms)]
    rows = sum(len(f) for f in frames)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ours = [root / f"ours_{c}.tsv.gz" for c in chroms]
        peer = [root / f"pandas_{c}.tsv.gz" for c in chroms]

        def write_all(write, paths: list[Path]) -> float:
            pairs = zip(frames, paths, strict=True)
            return sum(timed(lambda f=f, p=p: write(f, p)) for f, p in pairs)

        seconds = {
            "write, pandas gzip defaults": write_all(pandas_gzip, peer),
            "write, gemcont write_tsv": write_all(write_tsv, ours),
            "merge, line by line recompressed": timed(
                lambda: recompress_merge(peer, root / "peer.tsv.gz")
            ),
            "merge, gemcont merge_chromosomes": timed(
                lambda: merge_chromosomes(ours, root / "ours.tsv.gz")
            ),
        }
        same = gzip.open(root / "peer.tsv.gz").read() == gzip.open(root / "ours.tsv.gz").read()
        size = {
            "write, pandas gzip defaults": sum(p.stat().st_size for p in peer),
            "write, gemcont write_tsv": sum(p.stat().st_size for p in ours),
            "merge, line by line recompressed": (root / "peer.tsv.gz").stat().st_size,
            "merge, gemcont merge_chromosomes": (root / "ours.tsv.gz").stat().st_size,
        }
    table = pd.DataFrame(
        {
            "step": list(seconds),
            "seconds": list(seconds.values()),
            "rows/s": [rows / s for s in seconds.values()],
            "MB": [size[k] / 1e6 for k in seconds],
        }
    )
    table["x peer"] = table["seconds"].shift(1) / table["seconds"]
    table.loc[[0, 2], "x peer"] = np.nan
    print(
        f"{rows:,} rows ({args.chromosomes} chromosomes x {args.variants:,} variants x "
        f"{args.dims} dimensions); merged text identical: {same}"
    )
    print(table.to_string(index=False, float_format=lambda x: f"{x:,.2f}", na_rep=""))


if __name__ == "__main__":
    main()
