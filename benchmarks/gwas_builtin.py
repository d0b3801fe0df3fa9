"""Time the built-in GWAS engine against ``plink2 --glm`` on a simulated cohort.

Usage: python benchmarks/gwas_builtin.py [--people 5000 --variants 20000 --traits 16]
Prints seconds per engine and the ratio to plink2 (both with the same thread count).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gemcont.gwas.builtin import resolve_device, run_builtin_gwas
from gemcont.gwas.prepare import write_phenotypes
from gemcont.io.plink import write_bed

N_COVARIATES = 5
CHUNK = 2000
GLM_COLS = "chrom,pos,ref,alt,a1freq,nobs,beta,se,tz,p"


def simulate(out: Path, people: int, variants: int, traits: int, seed: int) -> None:
    """Bed (int8 dosages), phenotypes and covariates files under ``out``."""
    rng = np.random.default_rng(seed)
    freq = rng.uniform(0.02, 0.5, variants)
    dosages = np.empty((people, variants), dtype=np.int8)
    for start in range(0, variants, CHUNK):  # int64 draws chunk by chunk
        sl = slice(start, start + CHUNK)
        dosages[:, sl] = rng.binomial(2, freq[sl], size=(people, freq[sl].size))
    fam = pd.DataFrame({"FID": [f"F{i}" for i in range(people)]})
    fam["IID"] = [f"I{i}" for i in range(people)]
    bim = pd.DataFrame(
        {
            "CHR": "1",
            "ID": [f"rs{j}" for j in range(variants)],
            "CM": 0.0,
            "POS": np.arange(variants) * 100 + 1,
            "A1": "A",
            "A2": "G",
        }
    )
    write_bed(out / "geno", dosages, fam, bim)
    pheno = pd.DataFrame(rng.normal(size=(people, traits))).add_prefix("Y")
    write_phenotypes(pd.concat([fam, pheno], axis=1), out / "pheno.tsv")
    covar = pd.DataFrame(rng.normal(size=(people, N_COVARIATES))).add_prefix("C")
    pd.concat([fam, covar], axis=1).to_csv(out / "covar.tsv", sep="\t", index=False)


def time_builtin(out: Path, device: str, threads: int, block_size: int) -> float:
    pheno_df = pd.read_csv(out / "pheno.tsv", sep="\t", dtype={"FID": str, "IID": str})
    covar_df = pd.read_csv(out / "covar.tsv", sep="\t", dtype={"FID": str, "IID": str})
    if device == "cuda":
        import torch

        torch.zeros(1, device="cuda")  # CUDA context creation is not timed
    start = time.perf_counter()
    run_builtin_gwas(
        str(out / "geno"), pheno_df, covar_df, None, 0.0, 0, block_size, device, threads
    )
    return time.perf_counter() - start


def time_plink2(out: Path, threads: int) -> float:
    cmd = [
        "plink2", "--bfile", str(out / "geno"), "--pheno", str(out / "pheno.tsv"),
        "--covar", str(out / "covar.tsv"), "--covar-variance-standardize",
        "--glm", "omit-ref", "hide-covar", f"cols={GLM_COLS}",
        "--threads", str(threads), "--out", str(out / "plink2"),
    ]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--variants", type=int, default=20000)
    parser.add_argument("--traits", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--block-size", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        simulate(out, args.people, args.variants, args.traits, args.seed)
        timings = {"plink2 --glm": time_plink2(out, args.threads)} if shutil.which("plink2") else {}
        devices = ["cpu"] + (["cuda"] if resolve_device("auto") == "cuda" else [])
        for device in devices:
            timings[f"builtin ({device})"] = time_builtin(
                out, device, args.threads, args.block_size
            )
    base = timings.get("plink2 --glm")
    print(
        f"\n{args.people} people x {args.variants} variants x {args.traits} traits, "
        f"{N_COVARIATES} covariates, {args.threads} threads"
    )
    print(f"{'engine':<16} {'seconds':>8} {'/ plink2':>9}")
    for name, seconds in timings.items():
        ratio = f"{seconds / base:9.2f}" if base else f"{'-':>9}"
        print(f"{name:<16} {seconds:8.2f} {ratio}")


if __name__ == "__main__":
    main()
