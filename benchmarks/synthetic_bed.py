"""Random PLINK filesets written straight as .bed bytes (fast at biobank sizes), shared by
the benchmarks. Genotypes are 0/1/2 with no missing calls."""

from __future__ import annotations

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


def simulate_bed(prefix: Path, people: int, variants: int, seed: int) -> pd.DataFrame:
    """Write random 0/1/2 genotypes as .bed bytes plus .bim/.fam; return FID IID."""
    rng = np.random.default_rng(seed)
    row_bytes = (people + 3) // 4
    with open(f"{prefix}.bed", "wb") as bed:
        bed.write(bytes([0x6C, 0x1B, 0x01]))
        for start in range(0, variants, ROWS_PER_WRITE):
            rows = min(ROWS_PER_WRITE, variants - start)
            raw = np.frombuffer(rng.bytes(rows * row_bytes), np.uint8)
            bed.write(BYTE_MAP[raw].tobytes())
    ids = [f"I{i}" for i in range(people)]
    fam = pd.DataFrame({"FID": ids, "IID": ids})
    fam.assign(P=0, M=0, S=0, Y=-9).to_csv(f"{prefix}.fam", sep="\t", header=False, index=False)
    pd.DataFrame(
        {
            "CHR": 1,
            "ID": [f"rs{j}" for j in range(variants)],
            "CM": 0,
            "POS": np.arange(variants) * 100 + 1,
            "A1": "A",
            "A2": "G",
        }
    ).to_csv(f"{prefix}.bim", sep="\t", header=False, index=False)
    return fam
