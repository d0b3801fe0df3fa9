"""Read+decode throughput of imputed dosages: BGEN 8-bit (zlib) and PGEN, per core.

    python benchmarks/dosage_decode.py [--people 20000 --variants 50000
        --dosage-freq 0.1 --check-variants 200 --chunk 1000 --workdir DIR --keep]

plink2 writes the data: ``--dummy`` (dosages on a ``--dosage-freq`` share of the
genotypes, the rest hard calls) as a .pgen, exported as BGEN 1.2 8-bit (zlib,
``ref-first``). Each reader then decodes every variant for everyone, on one thread
(the files already in the page cache), and the table gives genotypes/s:

- ``zlib inflate``: only ``zlib.decompress`` of the BGEN genotype blocks, read into
  memory beforehand: the floor any BGEN reader pays;
- ``bgen`` (jeremymcrae) and ``cbgen`` (limix), the two maintained numpy-2 BGEN readers
  on PyPI (``cbgen`` only for this comparison: ``pip install cbgen==1.0.6``; the
  workflow uses ``bgen``): each library's own per-variant decode into a float32/float64 dosage
  vector; and ``gemcont.io.bgen.Bgen`` (on ``bgen``) and ``gemcont.io.pgen.Pgen`` (on
  ``pgenlib``) as the workflow reads: samples x variants blocks of ``--chunk``
  variants.

Correctness: on the first ``--check-variants`` variants every reader's dosages are
compared with ``plink2 --export A`` of the same file (ALT counted, ``--export-allele``):
the largest absolute difference, and whether missing calls agree.
"""

from __future__ import annotations

import argparse
import os
import shutil
import struct
import subprocess
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd


def plink2(*args: object) -> None:
    done = subprocess.run(
        ["plink2", "--threads", "2", *map(str, args)], capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(done.stdout + done.stderr)


def make_data(out: Path, people: int, variants: int, dosage_freq: float) -> dict[str, Path]:
    """A dummy .pgen with dosages and its BGEN 1.2 8-bit export (ref-first)."""
    pgen, bgen = out / "dummy", out / "dummy_bgen"
    if not Path(f"{bgen}.bgen").exists():
        plink2(
            "--dummy",
            people,
            variants,
            f"dosage-freq={dosage_freq}",
            "acgt",
            "--make-pgen",
            "--out",
            pgen,
        )
        plink2("--pfile", pgen, "--export", "bgen-1.2", "bits=8", "ref-first", "--out", bgen)
    return {"pgen": pgen, "bgen": Path(f"{bgen}.bgen"), "sample": Path(f"{bgen}.sample")}


def bgen_blocks(path: Path) -> list[bytes]:
    """The compressed genotype blocks of a layout-2 BGEN, in file order."""
    data = path.read_bytes()
    offset, _, n_variants = struct.unpack_from("<III", data, 0)
    flags = struct.unpack_from("<I", data, 20)[0]
    if flags & 3 != 1 or (flags >> 2) & 15 != 2:
        raise SystemExit(f"{path}: not a zlib layout-2 BGEN")
    pos, blocks = offset + 4, []
    for _ in range(n_variants):
        for _field in range(3):  # variant ID, rsid, chromosome
            pos += 2 + struct.unpack_from("<H", data, pos)[0]
        pos += 4  # position
        n_alleles = struct.unpack_from("<H", data, pos)[0]
        pos += 2
        for _allele in range(n_alleles):
            pos += 4 + struct.unpack_from("<I", data, pos)[0]
        size = struct.unpack_from("<I", data, pos)[0]  # compressed size + 4
        blocks.append(data[pos + 8 : pos + 4 + size])
        pos += 4 + size
    return blocks


def timed(task: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = task()
    return time.perf_counter() - start, result


def inflate_all(blocks: list[bytes]) -> int:
    return sum(len(zlib.decompress(block)) for block in blocks)


def bgen_lib(path: Path, variants: int) -> np.ndarray:
    """The ``bgen`` package's per-variant ALT dosage (second allele), variants x people."""
    from bgen import BgenReader

    with BgenReader(str(path), delay_parsing=True) as reader:
        rows = []
        for k, variant in enumerate(reader):
            if k == variants:
                break
            rows.append(variant.alt_dosage)
    return np.vstack(rows)


def cbgen_lib(path: Path, variants: int, metafile: Path) -> np.ndarray:
    """``cbgen``'s per-variant probabilities (float32) turned into second-allele dosages."""
    import cbgen

    with cbgen.bgen_file(path) as bgen, cbgen.bgen_metafile(metafile) as meta:
        offsets = np.concatenate(
            [meta.read_partition(p).variants.offset for p in range(meta.npartitions)]
        )[:variants]
        out = np.empty((offsets.size, bgen.nsamples), dtype=np.float32)
        for k, offset in enumerate(offsets):
            probs = bgen.read_probability(int(offset), precision=32)
            np.add(probs[:, 1], 2 * probs[:, 2], out=out[k])
    return out


def gemcont_reader(reader: object, variants: int, chunk: int) -> np.ndarray:
    """``read`` in blocks of ``chunk`` variants, as a GWAS job does; variants x people."""
    parts = [
        reader.read(np.arange(lo, min(lo + chunk, variants))).T for lo in range(0, variants, chunk)
    ]
    return np.vstack(parts)


def reference(paths: dict[str, Path], check: int, workdir: Path, fmt: str) -> np.ndarray:
    """``plink2 --export A`` ALT dosages of the first ``check`` variants of the BGEN or
    the PGEN (``fmt``), variants x people."""
    pvar = pd.read_csv(f"{paths['pgen']}.pvar", sep="\t").iloc[:check]
    pvar[["ID", "ALT"]].to_csv(workdir / "alt.txt", sep="\t", header=False, index=False)
    pvar[["ID"]].to_csv(workdir / "check.txt", header=False, index=False)
    source = ["--pfile", paths["pgen"]]
    if fmt == "bgen":
        source = ["--bgen", paths["bgen"], "ref-first", "--sample", paths["sample"]]
    extract = ["--extract", workdir / "check.txt"]
    export = ["--export", "A", "--export-allele", workdir / "alt.txt"]
    plink2(*source, *extract, *export, "--out", workdir / f"check_{fmt}")
    raw = pd.read_csv(workdir / f"check_{fmt}.raw", sep="\t", na_values="NA")
    return raw.iloc[:, 6:].to_numpy(dtype=np.float64).T


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--variants", type=int, default=50_000)
    parser.add_argument("--dosage-freq", type=float, default=0.1)
    parser.add_argument("--check-variants", type=int, default=200)
    parser.add_argument("--chunk", type=int, default=1000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="dosage_decode_"))
    workdir.mkdir(parents=True, exist_ok=True)
    n, m = args.people, args.variants
    seconds, paths = timed(lambda: make_data(workdir, n, m, args.dosage_freq))
    sizes = {k: paths[k].stat().st_size for k in ("bgen",)}
    sizes["pgen"] = Path(f"{paths['pgen']}.pgen").stat().st_size
    print(
        f"N = {n}, M = {m}, dosage-freq {args.dosage_freq}; plink2 wrote them in "
        f"{seconds:.0f} s; .bgen {sizes['bgen'] / 2**20:.0f} MiB, .pgen "
        f"{sizes['pgen'] / 2**20:.0f} MiB; one thread per reader"
    )

    import cbgen

    from gemcont.io.bgen import Bgen
    from gemcont.io.pgen import Pgen

    check = min(args.check_variants, m)
    expected = {fmt: reference(paths, check, workdir, fmt) for fmt in ("bgen", "pgen")}
    metafile = workdir / "dummy.metafile"
    meta_s = 0.0
    if not metafile.exists():
        meta_s, _ = timed(lambda: cbgen.bgen_file(paths["bgen"]).create_metafile(metafile))
    blocks = bgen_blocks(paths["bgen"])  # and the .bgen is in the page cache
    Path(f"{paths['pgen']}.pgen").read_bytes()

    with Bgen(paths["bgen"], paths["sample"]) as bgen, Pgen(paths["pgen"]) as pgen:
        runs: dict[str, tuple[Callable[[int], object], str]] = {
            "zlib inflate (floor)": (lambda k: inflate_all(blocks[:k]), "BGEN blocks in memory"),
            "bgen 1.10.3 alt_dosage": (lambda k: bgen_lib(paths["bgen"], k), "per variant"),
            "cbgen 1.0.6 + numpy": (
                lambda k: cbgen_lib(paths["bgen"], k, metafile),
                f"metafile built once in {meta_s:.1f} s",
            ),
            "gemcont.io.bgen.Bgen": (
                lambda k: gemcont_reader(bgen, k, args.chunk),
                f"blocks of {args.chunk}, float32",
            ),
            "gemcont.io.pgen.Pgen": (
                lambda k: gemcont_reader(pgen, k, args.chunk),
                f"blocks of {args.chunk}, float32",
            ),
        }
        rows = []
        for name, (run, note) in runs.items():
            checked = run(check)
            if isinstance(checked, np.ndarray):
                want = expected["pgen" if "pgen" in name else "bgen"]
                diff = np.nanmax(np.abs(checked - want))
                nan_ok = bool(np.array_equal(np.isnan(checked), np.isnan(want)))
                accuracy = f"{diff:.2e}" + ("" if nan_ok else " (missing differ)")
            else:
                accuracy = "-"
            cpu0 = time.process_time()
            wall, _ = timed(lambda run=run: run(m))
            cpu = time.process_time() - cpu0
            rows.append(
                {
                    "reader": name,
                    "wall s": round(wall, 2),
                    "cpu s": round(cpu, 2),
                    "M genotypes/s per core": round(n * m / cpu / 1e6, 1),
                    "max |d - plink2 --export A|": accuracy,
                    "note": note,
                }
            )
    print(pd.DataFrame(rows).to_string(index=False))
    if not args.keep and args.workdir is None:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
