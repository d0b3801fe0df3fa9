"""Time the built-in GWAS engine against ``plink2 --glm`` on a simulated cohort.

    python benchmarks/gwas_builtin.py [--people 20000 --variants 50000 --dims 16 128 256
        --covariates 10 --threads 2 --device cpu --skip-plink2]
    python benchmarks/gwas_builtin.py --gpu-target [--variants 50000]

Random genotypes (no missing calls) are written straight as .bed bytes; phenotypes
and covariates are standard normal. For each k, plink2 --glm runs all k phenotypes in
one call and the built-in engine runs on the same files, both with ``--threads``.
Built-in times are end to end from the .bed to the sumstats tables in memory (the
phenotype and covariate tables already parsed); plink2's include parsing them and
writing its .glm.linear files. The .bed is read once first, so both find it in the
page cache. ``--gpu-target`` is N = 100,000, k = 256 on CUDA without plink2.
Needs only numpy, pandas, scipy, torch (for CUDA) and bed-reader besides gemcont.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from synthetic_bed import simulate_bed

from gemcont.gwas.builtin import DEFAULT_BLOCK_SIZE, run_builtin_gwas

GLM_COLS = "chrom,pos,ref,alt,a1freq,nobs,beta,se,tz,p"


def warm_page_cache(path: Path) -> None:
    """Read a file once so that timed runs find it in the page cache."""
    with open(path, "rb", buffering=0) as handle:
        while handle.read(1 << 26):
            pass


def time_builtin(
    bfile: Path,
    pheno_df: pd.DataFrame,
    covar_df: pd.DataFrame,
    device: str,
    threads: int,
    block_size: int,
) -> float:
    """Seconds for run_builtin_gwas over every variant (no MAF filter)."""
    start = time.perf_counter()
    run_builtin_gwas(str(bfile), pheno_df, covar_df, None, 0.0, 0, block_size, device, threads)
    return time.perf_counter() - start


def time_plink2(out: Path, dims: int, threads: int) -> float:
    """Seconds for one plink2 --glm call on the first ``dims`` phenotypes."""
    cmd = [
        "plink2", "--bfile", str(out / "geno"), "--pheno", str(out / "pheno.tsv"),
        "--pheno-col-nums", f"3-{dims + 2}", "--covar", str(out / "covar.tsv"),
        "--covar-variance-standardize", "--glm", "omit-ref", "hide-covar", f"cols={GLM_COLS}",
        "--threads", str(threads), "--out", str(out / f"plink2_k{dims}"),
    ]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def init_cuda() -> None:
    """Create the CUDA context and cuBLAS handle outside the timings."""
    import torch

    x = torch.ones(1024, 1024, device="cuda")
    (x @ x).sum().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--variants", type=int, default=50_000)
    parser.add_argument("--dims", type=int, nargs="+", default=[16, 128, 256])
    parser.add_argument("--covariates", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu")
    parser.add_argument("--block-size", type=int, default=DEFAULT_BLOCK_SIZE)
    parser.add_argument("--skip-plink2", action="store_true")
    parser.add_argument(
        "--gpu-target", action="store_true", help="N=100,000, k=256, CUDA, no plink2"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    if args.gpu_target:
        args.people, args.dims, args.device, args.skip_plink2 = 100_000, [256], "cuda", True
    rng = np.random.default_rng(args.seed)
    rows = []
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        out = Path(tmp)
        start = time.perf_counter()
        fam = simulate_bed(out / "geno", args.people, args.variants, args.seed)
        pheno = pd.DataFrame(rng.normal(size=(args.people, max(args.dims))))
        pheno_df = pd.concat([fam, pheno.add_prefix("Y")], axis=1)
        covar = pd.DataFrame(rng.normal(size=(args.people, args.covariates)))
        covar_df = pd.concat([fam, covar.add_prefix("C")], axis=1)
        if not args.skip_plink2:
            pheno_df.to_csv(out / "pheno.tsv", sep="\t", index=False, float_format="%.8g")
            covar_df.to_csv(out / "covar.tsv", sep="\t", index=False, float_format="%.8g")
        print(f"simulated in {time.perf_counter() - start:.1f} s", flush=True)
        warm_page_cache(out / "geno.bed")
        if args.device in ("auto", "cuda"):
            init_cuda()
        for dims in args.dims:
            if not args.skip_plink2:
                rows.append((dims, "plink2 --glm", time_plink2(out, dims, args.threads)))
                print(rows[-1], flush=True)
            pheno_k = pheno_df.iloc[:, : dims + 2]
            seconds = time_builtin(
                out / "geno", pheno_k, covar_df, args.device, args.threads, args.block_size
            )
            rows.append((dims, f"builtin ({args.device})", seconds))
            print(rows[-1], os.getloadavg(), flush=True)
    table = pd.DataFrame(rows, columns=["k", "tool", "seconds"])
    table["variants/s"] = args.variants / table["seconds"]
    plink2 = table[table["tool"] == "plink2 --glm"].set_index("k")["seconds"]
    table["plink2/this"] = table["k"].map(plink2) / table["seconds"]
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"\nN = {args.people} people, M = {args.variants} variants, {args.covariates} "
        f"covariates, {args.threads} threads, block {args.block_size}, "
        f"{os.cpu_count()} CPUs, load average {load}"
    )
    print(table.to_string(index=False, float_format=lambda x: f"{x:,.2f}"))


if __name__ == "__main__":
    main()
