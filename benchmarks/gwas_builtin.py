"""Time the built-in GWAS engine against ``plink2 --glm`` on a simulated cohort.

    python benchmarks/gwas_builtin.py [--people 20000 --variants 50000 --dims 16 128 256
        --covariates 10 --threads 2 --dtypes float64 float32 --repeats 1 --skip-plink2]
    python benchmarks/gwas_builtin.py --gpu-target [--variants 200000 --block-size 8192
        --threads 16]
    python benchmarks/gwas_builtin.py --gpu-target --dry-run   # toy size, torch on the CPU

Random genotypes (no missing calls) are written straight as .bed bytes; phenotypes
and covariates are standard normal. For each k, plink2 --glm runs all k phenotypes in
one call and the built-in engine runs on the same files, both with ``--threads``, in
the same run (the machine's load shifts both). Built-in times are end to end from the
.bed to the sumstats frames in memory (the phenotype and covariate tables already
parsed), split into setup (inputs, null model), scan (every block's statistics) and
tables (the multi-trait frame and each trait's frame in turn, as the GWAS stage makes
them for writing; not concatenated); plink2's include parsing its inputs and writing
its .glm.linear files. CPU seconds (user + system, all threads) are reported too: on
a shared machine their ratio moves less with the load than the wall-time ratio. The
.bed is read once first, so both find it in the page cache.

``--gpu-target``: N = 100,000, k = 256 on CUDA, no plink2. Reports variants/s of the
scan end to end (setup + blocks: from the page-cached .bed to every statistic in host
memory) and of the blocks alone, for two runs. Chromosome 1 is small
(``--check-variants``): there the CUDA results are first compared with the CPU
engine's (float64), and its sumstats frames (variants x k per-dimension rows) are timed.
Then where the blocks' time went (the scan's phases: reading .bed in the reader thread;
waiting for reads, queueing device work, waiting for the device and storing results in
the main thread) and what each copy of the .bed bytes manages alone (page cache ->
pinned memory by pread or by memory-map copies, per thread count; pinned -> device).
Needs only numpy, pandas, scipy, tqdm, threadpoolctl and torch besides gemcont (no
bed-reader).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bars in the tables

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from synthetic_bed import simulate_bed  # noqa: E402

from gemcont.gwas.engines.builtin import (  # noqa: E402
    DEFAULT_BLOCK_SIZE,
    run_builtin_gwas,
    scan_builtin_gwas,
)
from gemcont.gwas.kernel import Backend  # noqa: E402
from gemcont.gwas.settings import gwas_settings  # noqa: E402
from gemcont.io.sumstats import builtin_frames  # noqa: E402

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
    threads: int,
    block_size: int,
    backend: Backend,
    chrom: str | None = None,
    tables: bool = True,
) -> dict[str, float]:
    """Seconds of run_builtin_gwas over every variant (no MAF filter), by stage, and the
    CPU seconds of this process (all threads) meanwhile."""
    cpu, start = time.process_time(), time.perf_counter()
    settings = gwas_settings({"min_maf": 0.0, "min_mac": 0, "block_size": block_size})
    scan = scan_builtin_gwas(
        str(bfile), pheno_df, covar_df, settings, chrom, threads=threads, backend=backend
    )
    scanned = time.perf_counter()
    if tables:
        per_trait, _ = builtin_frames(scan)
        for _ in per_trait:
            pass
    end = time.perf_counter()
    phases = {k: v for k, v in scan.seconds.items() if k not in ("setup", "blocks")}
    return {
        "seconds": end - start,
        "cpu s": time.process_time() - cpu,
        "setup": scan.seconds["setup"],
        "scan": scanned - start,
        "tables": end - scanned,
        "variants": scan.rows.size,
        "phases": phases,
    }


def time_plink2(out: Path, dims: int, threads: int) -> tuple[float, float]:
    """Seconds and CPU seconds for one plink2 --glm call on the first ``dims`` phenotypes."""
    cmd = [
        "plink2",
        "--bfile",
        str(out / "geno"),
        "--pheno",
        str(out / "pheno.tsv"),
        "--pheno-col-nums",
        f"3-{dims + 2}",
        "--covar",
        str(out / "covar.tsv"),
        "--covar-variance-standardize",
        "--glm",
        "omit-ref",
        "hide-covar",
        f"cols={GLM_COLS}",
        "--threads",
        str(threads),
        "--out",
        str(out / f"plink2_k{dims}"),
    ]
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    seconds, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return seconds, cpu


def init_cuda() -> str:
    """Create the CUDA context and cuBLAS handle outside the timings; the GPU's name."""
    import torch

    x = torch.ones(1024, 1024, device="cuda")
    (x @ x).sum().item()
    return torch.cuda.get_device_name()


def simulate(args: argparse.Namespace, out: Path, first_chrom: int | None = None):
    """The fileset and the phenotype/covariate tables (written for plink2 if it runs)."""
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    fam = simulate_bed(
        out / "geno", args.people, args.variants, args.seed, args.threads, first_chrom
    )
    pheno = pd.DataFrame(rng.normal(size=(args.people, max(args.dims))))
    pheno_df = pd.concat([fam, pheno.add_prefix("Y")], axis=1)
    covar = pd.DataFrame(rng.normal(size=(args.people, args.covariates)))
    covar_df = pd.concat([fam, covar.add_prefix("C")], axis=1)
    if not args.skip_plink2:
        pheno_df.to_csv(out / "pheno.tsv", sep="\t", index=False, float_format="%.8g")
        covar_df.to_csv(out / "covar.tsv", sep="\t", index=False, float_format="%.8g")
    size = (out / "geno.bed").stat().st_size / 1e9
    print(f"simulated {size:.2f} GB .bed in {time.perf_counter() - start:.1f} s", flush=True)
    warm_page_cache(out / "geno.bed")
    return pheno_df, covar_df


def cpu_suite(args: argparse.Namespace, out: Path) -> None:
    """Built-in (each dtype) vs plink2 --glm for each k; one table."""
    pheno_df, covar_df = simulate(args, out)
    rows = []
    for _ in range(args.repeats):
        for dims in args.dims:
            if not args.skip_plink2:
                seconds, cpu = time_plink2(out, dims, args.threads)
                rows.append({"k": dims, "tool": "plink2 --glm", "seconds": seconds, "cpu s": cpu})
                print(rows[-1], flush=True)
            for dtype in args.dtypes:
                backend = Backend(dtype=dtype)
                pheno_k = pheno_df.iloc[:, : dims + 2]
                t = time_builtin(
                    out / "geno", pheno_k, covar_df, args.threads, args.block_size, backend
                )
                del t["variants"], t["phases"]
                rows.append({"k": dims, "tool": f"builtin {dtype}", **t})
                print(rows[-1], "load", os.getloadavg(), flush=True)
    table = pd.DataFrame(rows).groupby(["k", "tool"], sort=False).median().reset_index()
    table["variants/s"] = args.variants / table["seconds"]
    plink2 = table[table["tool"] == "plink2 --glm"].set_index("k")["seconds"]
    table["plink2/this"] = table["k"].map(plink2) / table["seconds"]
    plink2_cpu = table[table["tool"] == "plink2 --glm"].set_index("k")["cpu s"]
    table["plink2/this cpu"] = table["k"].map(plink2_cpu) / table["cpu s"]
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"\nN = {args.people} people, M = {args.variants} variants, {args.covariates} "
        f"covariates, {args.threads} threads, block {args.block_size}, {os.cpu_count()} "
        f"CPUs, median of {args.repeats}, load average {load}"
    )
    print(table.to_string(index=False, float_format=lambda x: f"{x:,.2f}", na_rep="-"))


def compare(cpu: tuple[pd.DataFrame, pd.DataFrame], gpu: tuple[pd.DataFrame, pd.DataFrame]):
    """Largest differences of the device results from the CPU engine's."""
    (cpu_dims, cpu_multi), (gpu_dims, gpu_multi) = cpu, gpu
    assert len(cpu_dims) == len(gpu_dims) and len(cpu_multi) == len(gpu_multi)
    se = cpu_dims["SE"].to_numpy()
    return {
        "max |dBETA|/SE": np.max(np.abs(gpu_dims["BETA"].to_numpy() - cpu_dims["BETA"]) / se),
        "max rel dSE": np.max(np.abs(gpu_dims["SE"].to_numpy() / se - 1)),
        "max |dLOG10P|": np.max(np.abs(gpu_dims["LOG10P"].to_numpy() - cpu_dims["LOG10P"])),
        "max rel dCHISQ": np.max(np.abs(gpu_multi["CHISQ"].to_numpy() / cpu_multi["CHISQ"] - 1)),
        "EAF, N equal": bool(
            (gpu_multi["EAF"].to_numpy() == cpu_multi["EAF"]).all()
            and (gpu_multi["N"].to_numpy() == cpu_multi["N"]).all()
        ),
    }


def result_memory(m: int, dims: int) -> pd.DataFrame:
    """GB/s of storing a scan's float32 results (BETA, SE, -log10 P of ``dims``
    dimensions, m variants) into fresh and then into reused host memory, and the
    variants/s each allows. Run first, so that "fresh" is what a new process gets (each
    page costs a fault; in some VMs ~0.5 GB/s)."""
    per_variant = 3 * dims * 4
    results = np.empty((m, per_variant // 4), np.float32)
    rows = []
    for memory in ("fresh", "reused"):
        start = time.perf_counter()
        results.fill(1.0)
        seconds = time.perf_counter() - start
        rows.append(_ceiling(f"results -> {memory} host memory", seconds, m, m, per_variant))
    return pd.DataFrame(rows)


def io_ceilings(bfile: str, block: int, threads: list[int], device: str) -> pd.DataFrame:
    """GB/s of the two copies every .bed byte makes on its way to the device, each alone:
    page cache -> pinned host buffer (``read_packed``, per thread count) and pinned host
    buffer -> device; with the variants/s each would allow at this N."""
    import torch

    from gemcont.io.plink import Genotypes

    rows = []
    with Genotypes(bfile) as genotypes:
        width, m = genotypes.bytes_per_variant, genotypes.n_variants
        pinned = device == "cuda"
        host = torch.empty((block, width), dtype=torch.uint8, pin_memory=pinned)
        target = "pinned host" if pinned else "host"
        for n_threads in threads:
            genotypes.threads = n_threads
            seconds = _time_blocks(m, block, lambda r: genotypes.read_packed(r, out=host.numpy()))
            rows.append(
                _ceiling(
                    f"page cache -> {target}, pread, {n_threads} threads", seconds, m, block, width
                )
            )
        with ThreadPoolExecutor(max(threads)) as pool:
            for n_threads in threads:  # the alternative: copies out of the memory map
                edges = np.linspace(0, block, n_threads + 1).astype(int)
                pieces = [slice(lo, hi) for lo, hi in zip(edges[:-1], edges[1:], strict=True)]

                def copy(r: np.ndarray, pieces: list = pieces) -> None:
                    mapped = genotypes.read_packed(r)  # a view of the map
                    out = host.numpy()  # row slices: views, copied into in place
                    list(pool.map(lambda p: np.copyto(out[p], mapped[p]), pieces))

                seconds = _time_blocks(m, block, copy)
                rows.append(
                    _ceiling(
                        f"page cache -> {target}, mmap copy, {n_threads} threads",
                        seconds,
                        m,
                        block,
                        width,
                    )
                )
        if pinned:
            dev = torch.empty_like(host, device="cuda")
            dev.copy_(host, non_blocking=True)
            torch.cuda.synchronize()
            start, repeats = time.perf_counter(), 20
            for _ in range(repeats):
                dev.copy_(host, non_blocking=True)
            torch.cuda.synchronize()
            seconds = (time.perf_counter() - start) / repeats
            rows.append(_ceiling("pinned host -> device", seconds, block, block, width))
    return pd.DataFrame(rows)


def _time_blocks(m: int, block: int, read: Callable[[np.ndarray], object]) -> float:
    """Seconds to ``read`` every whole block of ``block`` consecutive variants."""
    start = time.perf_counter()
    for lo in range(0, m - block + 1, block):
        read(np.arange(lo, lo + block))
    return time.perf_counter() - start


def _ceiling(copy: str, seconds: float, m: int, block: int, width: int) -> dict:
    done = (m // block) * block
    return {"copy": copy, "GB/s": done * width / seconds / 1e9, "variants/s": done / seconds}


def gpu_suite(args: argparse.Namespace, out: Path) -> None:
    """The CUDA pipeline at N = 100,000, k = 256: parity check, then throughput."""
    if args.dry_run:
        device, name = "cpu", "CPU (dry run: the torch pipeline on the CPU)"
    else:
        device, name = "cuda", init_cuda()
    backend = Backend(device=device, dtype="float32", use_torch=True)
    memory = result_memory(args.variants, args.dims[0])  # first: fresh memory, as a new job's
    check = min(args.check_variants, args.variants)
    pheno_df, covar_df = simulate(args, out, first_chrom=check)
    bfile = str(out / "geno")
    sizes = (
        f"N = {args.people}, M = {args.variants}, k = {args.dims[0]}, {args.covariates} "
        f"covariates, block {args.block_size}, {args.threads} threads"
    )
    print(f"device: {name}; {sizes}", flush=True)
    start = time.perf_counter()
    filters = {"min_maf": 0.0, "min_mac": 0}
    # CPU blocks of 1024: its buffers take N x block x 18 bytes (1.8 GB here)
    on_cpu = gwas_settings({**filters, "block_size": min(args.block_size, 1024), "device": "cpu"})
    on_device = gwas_settings({**filters, "block_size": args.block_size})
    common = (bfile, pheno_df, covar_df)
    cpu = run_builtin_gwas(*common, on_cpu, "1", args.threads)
    device_res = run_builtin_gwas(*common, on_device, "1", args.threads, backend=backend)
    gaps = compare(cpu, device_res)
    ok = (
        gaps["max |dBETA|/SE"] < 1e-3
        and gaps["max rel dSE"] < 1e-4
        and gaps["max |dLOG10P|"] < 1e-3
        and gaps["max rel dCHISQ"] < 1e-4
        and gaps["EAF, N equal"]
    )
    summary = ", ".join(
        f"{k} {v:.2e}" if k != "EAF, N equal" else f"{k} {v}" for k, v in gaps.items()
    )
    seconds = time.perf_counter() - start
    verdict = "PASS" if ok else "FAIL"
    print(f"parity on {check} variants vs CPU float64 ({seconds:.1f} s): {summary} -> {verdict}")
    rows, phases = [], []
    for run in range(args.repeats):
        t = time_builtin(
            bfile, pheno_df, covar_df, args.threads, args.block_size, backend, tables=False
        )
        blocks = t["scan"] - t["setup"]
        rows.append(
            {
                "run": run + 1,
                "variants": t["variants"],
                "setup s": t["setup"],
                "blocks s": blocks,
                "scan s": t["scan"],
                "variants/s end to end": t["variants"] / t["scan"],
                "variants/s blocks": t["variants"] / blocks,
            }
        )
        print(rows[-1], flush=True)
        phases.append({"run": run + 1, **t["phases"]})
    threads = sorted({1, 4, args.threads})
    ceilings = pd.concat([memory, io_ceilings(bfile, args.block_size, threads, device)])
    t = time_builtin(bfile, pheno_df, covar_df, args.threads, args.block_size, backend, "1")
    print(
        f"\n{name}\n{sizes}, float32 products, {os.cpu_count()} CPUs; "
        "target >= 700,000 variants/s end to end"
    )
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda x: f"{x:,.2f}"))
    print(
        "\nseconds per phase of the blocks (main thread: waiting for reads, queueing device "
        "work, waiting for the device, storing results; reading .bed: the reader thread)"
    )
    print(pd.DataFrame(phases).to_string(index=False, float_format=lambda x: f"{x:,.2f}"))
    print(
        "\neach copy alone (results: the whole scan's, first thing in the process; .bed: by block)"
    )
    print(ceilings.to_string(index=False, float_format=lambda x: f"{x:,.2f}"))
    print(
        f"with tables, chromosome 1 only ({check} variants x {args.dims[0]} = "
        f"{check * args.dims[0]:,} rows): {t['seconds']:.2f} s = setup {t['setup']:.2f} "
        f"+ blocks {t['scan'] - t['setup']:.2f} + tables {t['tables']:.2f}"
    )
    if not ok:
        sys.exit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--variants", type=int, default=50_000)
    parser.add_argument("--dims", type=int, nargs="+", default=[16, 128, 256])
    parser.add_argument("--covariates", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--dtypes", nargs="+", choices=["float64", "float32"], default=["float64", "float32"]
    )
    parser.add_argument("--block-size", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=1, help="median over this many runs")
    parser.add_argument("--skip-plink2", action="store_true")
    parser.add_argument(
        "--gpu-target", action="store_true", help="N=100,000, k=256, CUDA, no plink2"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="--gpu-target at toy size, torch on the CPU"
    )
    parser.add_argument("--check-variants", type=int, default=4096)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    if args.gpu_target:
        args.skip_plink2 = True
        args.repeats = max(args.repeats, 2)
        if args.dry_run:
            args.people, args.dims = 3000, [16]
            args.variants = min(args.variants, 6000)
            args.check_variants = 1000
            args.block_size = args.block_size or 512
        else:
            args.people, args.dims = 100_000, [256]
            args.block_size = args.block_size or 8192
    args.block_size = args.block_size or DEFAULT_BLOCK_SIZE["cpu"]
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        (gpu_suite if args.gpu_target else cpu_suite)(args, Path(tmp))


if __name__ == "__main__":
    main()
