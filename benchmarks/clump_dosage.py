"""Dosage clumping (``data.panel_genotypes`` a PGEN or BGEN) beside the bit-set hard-call
engine on the same haplotypes: the dosage engine with a chromosome's participants held
in memory, and re-read from the PGEN for every index variant (what a chromosome past
``CACHE_BYTES`` gets), and the hard-call engine (pearson) on the rounded calls as a .bed.

Haplotypes: each variant copies the previous one's allele with probability 0.9 (LD
decaying along the chromosome), 1 kb apart; dosages are the calls plus N(0, 0.15)
imputation noise, clipped to [0, 2], written by ``pgenlib`` (as ``simulate_imputed``);
every variant a participant and index candidate (P uniform below p1).

    python benchmarks/clump_dosage.py --people 20000 --variants 3000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pgenlib

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from gemcont.io.pgen import Pgen  # noqa: E402
from gemcont.io.plink import Genotypes, write_bed  # noqa: E402
from gemcont.panel.clump import clump  # noqa: E402
from gemcont.panel.clump_dosage import clump_dosages  # noqa: E402

P1, R2, KB = 1e-3, 0.1, 250


def write(root: Path, people: int, variants: int, seed: int) -> pd.DataFrame:
    """The PGEN (dosages) and .bed (rounded calls) of ``root``; returns the variants."""
    rng = np.random.default_rng(seed)
    hap = np.empty((variants, 2 * people), np.int8)
    hap[0] = rng.random(2 * people) < 0.3
    for j in range(1, variants):
        fresh = rng.random(2 * people) < rng.uniform(0.1, 0.5)
        hap[j] = np.where(rng.random(2 * people) < 0.9, hap[j - 1], fresh)
    calls = (hap[:, ::2] + hap[:, 1::2]).astype(np.float32)
    dosages = np.clip(calls + rng.normal(0, 0.15, calls.shape), 0, 2).astype(np.float32)
    writer = pgenlib.PgenWriter(
        str(root / "x.pgen").encode(), people, variants, False, dosage_present=True
    )
    writer.append_dosages_batch(np.ascontiguousarray(dosages))
    writer.close()
    ids = [f"v{j}" for j in range(variants)]
    pos = 1000 * (np.arange(variants) + 1)
    pvar = pd.DataFrame({"#CHROM": "1", "POS": pos, "ID": ids, "REF": "A", "ALT": "C"})
    pvar.to_csv(root / "x.pvar", sep="\t", index=False)
    iids = [f"p{i}" for i in range(people)]
    pd.DataFrame({"#FID": iids, "IID": iids}).to_csv(root / "x.psam", sep="\t", index=False)
    fam = pd.DataFrame({"FID": iids, "IID": iids})
    bim = pd.DataFrame({"CHR": "1", "ID": ids, "CM": 0.0, "POS": pos, "A1": "C", "A2": "A"})
    write_bed(root / "x", np.rint(dosages.T), fam, bim)
    p = rng.uniform(0, P1, variants)
    return pd.DataFrame(
        {"ID": ids, "CHR": "1", "POS": pos, "P": p, "BIM_INDEX": np.arange(variants)}
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--variants", type=int, default=3_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        variants = write(root, args.people, args.variants, args.seed)
        runs = {}
        with Pgen(root / "x") as pgen:
            for name, options in (("dosage, held", {}), ("dosage, re-read", {"cache_bytes": 0})):
                start = time.perf_counter()
                out = clump_dosages(variants, pgen, P1, R2, KB, **options)
                runs[name] = (time.perf_counter() - start, out)
        with Genotypes(root / "x") as bed:
            start = time.perf_counter()
            out = clump(variants, bed, P1, R2, KB, r2_method="pearson")
            runs["hard calls (bit sets, pearson)"] = (time.perf_counter() - start, out)
    print(f"N = {args.people:,}, M = {args.variants:,}, r2 > {R2}, {KB} kb")
    print("| engine | index variants | seconds |\n|---|---|---|")
    for name, (seconds, out) in runs.items():
        print(f"| {name} | {len(out)} | {seconds:.2f} |")
    same = set(runs["dosage, held"][1]["ID"]) == set(runs["dosage, re-read"][1]["ID"])
    print(f"held and re-read choose the same index variants: {same}")


if __name__ == "__main__":
    main()
