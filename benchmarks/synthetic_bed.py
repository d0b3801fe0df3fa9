"""Random PLINK filesets written straight as .bed bytes (fast at biobank sizes), shared by
the benchmarks. Genotypes are 0/1/2 with no missing calls. Needs numpy and pandas only
(no bed-reader): the GPU machine's Python cannot import bed-reader's compiled module."""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd

# .bed bytes whose four 2-bit genotypes are never 01 (missing); a random byte b maps to
# VALID_BYTES[b % 81] (the first 13 are slightly more frequent: irrelevant for timing)
VALID_BYTES = np.array(
    [a | b << 2 | c << 4 | d << 6 for a, b, c, d in product((0, 2, 3), repeat=4)], np.uint8
)
BYTE_MAP = VALID_BYTES[np.arange(256) % VALID_BYTES.size]
ROWS_PER_WRITE = 2000


def simulate_bed(
    prefix: Path,
    people: int,
    variants: int,
    seed: int,
    threads: int | None = None,
    first_chrom: int | None = None,
) -> pd.DataFrame:
    """Write random 0/1/2 genotypes as .bed bytes plus .bim/.fam; return FID IID.

    Chunks of ROWS_PER_WRITE variants are drawn in ``threads`` threads (default: all
    CPUs), each from its own stream of ``seed``, so the file does not depend on the
    thread count. first_chrom: the first that many variants on chromosome 1, the rest
    on 2 (default: all on 1).
    """
    row_bytes = (people + 3) // 4
    starts = range(0, variants, ROWS_PER_WRITE)
    streams = np.random.SeedSequence(seed).spawn(len(starts))

    def chunk(i: int) -> bytes:
        rows = min(ROWS_PER_WRITE, variants - starts[i])
        raw = np.random.default_rng(streams[i]).integers(0, 256, rows * row_bytes, np.uint8)
        return BYTE_MAP[raw].tobytes()

    workers = threads or os.cpu_count() or 1
    with open(f"{prefix}.bed", "wb") as bed, ThreadPoolExecutor(workers) as pool:
        bed.write(bytes([0x6C, 0x1B, 0x01]))
        ahead = deque(pool.submit(chunk, i) for i in range(min(2 * workers, len(starts))))
        for i in range(len(starts)):  # in order, at most 2 x workers chunks in memory
            bed.write(ahead.popleft().result())
            if i + len(ahead) + 1 < len(starts):
                ahead.append(pool.submit(chunk, i + len(ahead) + 1))
    ids = [f"I{i}" for i in range(people)]
    fam = pd.DataFrame({"FID": ids, "IID": ids})
    fam.assign(P=0, M=0, S=0, Y=-9).to_csv(f"{prefix}.fam", sep="\t", header=False, index=False)
    chrom = np.ones(variants, dtype=np.int64)
    if first_chrom is not None:
        chrom[first_chrom:] = 2
    pd.DataFrame(
        {
            "CHR": chrom,
            "ID": [f"rs{j}" for j in range(variants)],
            "CM": 0,
            "POS": np.arange(variants) * 100 + 1,
            "A1": "A",
            "A2": "G",
        }
    ).to_csv(f"{prefix}.bim", sep="\t", header=False, index=False)
    return fam
