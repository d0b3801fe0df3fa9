"""End-to-end built-in GWAS on imputed dosages (PGEN, BGEN 8-bit) against ``plink2
--glm`` on the same file, in the same run.

    python benchmarks/gwas_dosage.py [--people 20000 --variants 50000 --dims 128
        --covariates 10 --threads 2 --dosage-freq 0.1 --workdir DIR]

plink2 writes the data (``--dummy``, dosages on a ``--dosage-freq`` share of the
genotypes; BGEN 1.2 8-bit ``ref-first`` exported from it; ``dosage_decode.make_data``);
phenotypes and covariates are standard normal. Each file is read once first (page
cache). Built-in: from the file to the per-dimension and multi-trait TSV.gz on disk, as
the GWAS stage writes them; plink2: ``--glm`` on ``--pfile`` / ``--bgen ... ref-first
--sample`` for all k phenotypes in one call, its .glm.linear files written. Wall and
CPU seconds (user + system, children included) per engine, and the projection of a
10 M-variant, 250 k-person scan on a 32-core node from the built-in's measured
variant x person throughput per core (the scan is linear in both, and chunks run as
independent jobs, one per core).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from dosage_decode import make_data  # noqa: E402

from gemcont.gwas.engines.builtin import scan_builtin_gwas  # noqa: E402
from gemcont.gwas.engines.plink2 import glm_command  # noqa: E402
from gemcont.gwas.genotypes import GwasGenotypes  # noqa: E402
from gemcont.gwas.settings import gwas_settings  # noqa: E402
from gemcont.io.sumstats import (  # noqa: E402
    MULTI_COLUMNS,
    PER_DIM_COLUMNS,
    builtin_frames,
    write_sumstats,  # noqa: E402
)


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed(task: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), cpu_seconds()
    task()
    return time.perf_counter() - wall, cpu_seconds() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--variants", type=int, default=50_000)
    parser.add_argument("--dims", type=int, default=128)
    parser.add_argument("--covariates", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dosage-freq", type=float, default=0.1)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="gwas_dosage_"))
    work.mkdir(parents=True, exist_ok=True)
    paths = make_data(work, args.people, args.variants, args.dosage_freq)
    psam = pd.read_csv(f"{paths['pgen']}.psam", sep="\t", dtype=str)
    iid = psam["#IID"] if "#IID" in psam else psam["IID"]
    fid = psam["#FID"] if "#FID" in psam else pd.Series("0", index=psam.index)
    rng = np.random.default_rng(0)
    key = pd.DataFrame({"FID": fid.to_numpy(), "IID": iid.to_numpy()})

    def normal(prefix: str, k: int) -> pd.DataFrame:
        values = rng.normal(size=(len(key), k))
        return pd.concat(
            [key, pd.DataFrame(values, columns=[f"{prefix}{j}" for j in range(k)])], axis=1
        )

    pheno, covar = normal("Y", args.dims), normal("C", args.covariates)
    pheno.to_csv(work / "pheno.tsv", sep="\t", index=False)
    covar.to_csv(work / "covar.tsv", sep="\t", index=False)
    settings = gwas_settings({"min_maf": 0.0, "min_mac": 0, "device": "cpu"})
    sources = {
        "PGEN": GwasGenotypes(f"{paths['pgen']}.pgen", "pgen"),
        "BGEN 8-bit": GwasGenotypes(str(paths["bgen"]), "bgen", str(paths["sample"])),
    }
    genotypes = args.people * args.variants
    rows = []
    for name, source in sources.items():
        for file in source.files("1"):
            Path(file).read_bytes()  # into the page cache

        def builtin(source: GwasGenotypes = source, name: str = name) -> None:
            scan = scan_builtin_gwas(source, pheno, covar, settings, threads=args.threads)
            per_dim, multi = builtin_frames(scan)
            tag = name.split()[0]
            write_sumstats(
                (f[PER_DIM_COLUMNS] for f in per_dim),
                work / f"{tag}.per_dim.tsv.gz",
                PER_DIM_COLUMNS,
            )
            write_sumstats(multi[MULTI_COLUMNS], work / f"{tag}.multi.tsv.gz", MULTI_COLUMNS)

        cmd = glm_command(
            source,
            work / "pheno.tsv",
            work / f"plink2_{name.split()[0]}",
            pheno_names=list(pheno.columns[2:]),
            covar=work / "covar.tsv",
            threads=args.threads,
        )

        def plink2(cmd: list[str] = cmd) -> None:
            subprocess.run(cmd, check=True, capture_output=True)

        ours, theirs = timed(builtin), timed(plink2)
        rows.append(
            {
                "file": name,
                "builtin wall s": round(ours[0], 1),
                "builtin CPU s": round(ours[1], 1),
                "plink2 wall s": round(theirs[0], 1),
                "plink2 CPU s": round(theirs[1], 1),
                "speed-up (wall)": round(theirs[0] / ours[0], 1),
                "speed-up (CPU)": round(theirs[1] / ours[1], 1),
                "M genotypes/s per core (builtin)": round(genotypes / ours[1] / 1e6, 1),
            }
        )
    table = pd.DataFrame(rows)
    print(
        f"N = {args.people}, M = {args.variants}, k = {args.dims}, "
        f"{args.covariates} covariates, --threads {args.threads}"
    )
    print(table.to_markdown(index=False))
    for row in rows:  # 10 M variants x 250 k people on 32 cores, linear in both
        seconds = 10e6 * 250e3 / (row["M genotypes/s per core (builtin)"] * 1e6) / 32
        print(f"projected 10 M x 250 k on 32 cores, {row['file']}: {seconds / 3600:.1f} h")


if __name__ == "__main__":
    main()
