"""Time reading (and harmonising) a large published sumstats file against a bare pandas read.

    python benchmarks/sumstats_read.py [--rows R --bim-variants M --dir D]

Writes a FinnGen-like and a GWAS-SSF-like gzip file of R rows (default 10 million; kept
in ``--dir`` and reused) and a synthetic .bim of M variants (default 3 million; half of
them at sumstats positions). Each step runs in a fresh process, so that its peak RSS is
its own: ``pandas.read_csv`` of the file with its defaults (the peer), ``load_sumstats``,
and ``load_sumstats`` + ``harmonise`` (given the reader's codes, as ``build_panel`` calls
it). The three steps run in turn ``--repeat`` times (default 3; every other round in
reverse order), so that a burst of load on a shared machine hits one round, not one step:
prints the median wall and CPU seconds, the median and range of the ratios to pandas'
read in the same round (paired: the machine's speed drifts over minutes), and peak RSS.
"""

from __future__ import annotations

import argparse
import gzip
import multiprocessing as mp
import resource
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm

CHUNK = 1_000_000


def _chunk(rng: np.random.Generator, start: int, n: int, total: int) -> dict[str, np.ndarray]:
    """Shared statistics for rows start..start+n: 22 chromosomes, sorted positions."""
    row = np.arange(start, start + n)
    pairs = np.array(["A/G", "C/T", "A/C", "G/T", "A/T", "C/G"])[rng.integers(0, 6, n)]
    ref, alt = np.char.partition(pairs.astype(str), "/")[:, [0, 2]].T
    beta = rng.normal(0, 0.02, n)
    se = rng.uniform(0.005, 0.03, n)

    mlogp = -(np.log(2.0) + norm.logsf(np.abs(beta / se))) / np.log(10.0)
    return {
        "chrom": (1 + row * 22 // total).astype(str),
        "pos": 10 * row + 1,
        "ref": ref,
        "alt": alt,
        "rsid": np.char.add("rs", row.astype(str)),
        "p": np.power(10.0, -mlogp),
        "mlogp": mlogp,
        "beta": beta,
        "se": se,
        "af": rng.uniform(0.01, 0.99, n),
    }


def _write(path: Path, rows: int, layout: str) -> None:
    rng = np.random.default_rng(18)
    with path.open("wb") as sink:
        for i, start in enumerate(range(0, rows, CHUNK)):
            c = _chunk(rng, start, min(CHUNK, rows - start), rows)
            if layout == "finngen":
                rsids = np.where(np.arange(len(c["pos"])) % 10 == 0, "", c["rsid"])
                df = pd.DataFrame(
                    {"#chrom": c["chrom"], "pos": c["pos"], "ref": c["ref"], "alt": c["alt"]}
                    | {"rsids": rsids, "nearest_genes": "GENE1", "pval": c["p"]}
                    | {"mlogp": c["mlogp"], "beta": c["beta"], "sebeta": c["se"]}
                    | {"af_alt": c["af"], "af_alt_cases": c["af"], "af_alt_controls": c["af"]}
                )
            else:
                rsid = np.where(np.arange(len(c["pos"])) % 10 == 0, "#NA", c["rsid"])
                variant = np.char.add(np.char.add(c["chrom"], "_"), c["pos"].astype(str))
                df = pd.DataFrame(
                    {"chromosome": c["chrom"], "base_pair_location": c["pos"]}
                    | {"effect_allele": c["alt"], "other_allele": c["ref"], "beta": c["beta"]}
                    | {"standard_error": c["se"], "effect_allele_frequency": c["af"]}
                    | {"p_value": c["p"], "variant_id": variant, "rsid": rsid, "n": 400000}
                )
            # one gzip member per chunk (bgzip-like), fast level: the read is measured
            sink.write(
                gzip.compress(
                    df.to_csv(sep="\t", index=False, header=i == 0, float_format="%.6g").encode(),
                    compresslevel=1,
                )
            )


def _bim(rows: int, variants: int) -> pd.DataFrame:
    """Half at sumstats positions (same alleles, random A1), half at positions in between."""
    rng = np.random.default_rng(19)
    rows_hit = np.sort(rng.choice(rows, variants // 2, replace=False))
    ref, alt = np.empty(rows, object), np.empty(rows, object)
    gen = np.random.default_rng(18)  # the files' generator: the same alleles, row by row
    for start in range(0, rows, CHUNK):
        part = _chunk(gen, start, min(CHUNK, rows - start), rows)
        ref[start : start + len(part["ref"])] = part["ref"]
        alt[start : start + len(part["alt"])] = part["alt"]
    flip = rng.random(len(rows_hit)) < 0.5
    hit = pd.DataFrame(
        {
            "CHR": (1 + rows_hit * 22 // rows).astype(str),
            "ID": np.char.add("rs", rows_hit.astype(str)),
            "POS": 10 * rows_hit + 1,
            "A1": np.where(flip, ref[rows_hit], alt[rows_hit]),
            "A2": np.where(flip, alt[rows_hit], ref[rows_hit]),
        }
    )
    miss = hit.assign(POS=hit["POS"] + 5, ID="x" + hit["ID"])
    bim = pd.concat([hit, miss]).sort_values(
        ["CHR", "POS"], key=lambda s: s if s.name == "POS" else s.astype(int)
    )
    return bim.reset_index(drop=True).assign(CM=0.0)


def _step(name: str, path: str, bim_path: str | None, out: mp.Queue) -> None:
    """One step: (wall s, CPU s, rows, peak GB, wall s of the read within it); read +
    harmonise includes unpickling the .bim (0.3 s)."""
    start, cpu = time.perf_counter(), _cpu()
    read_s = None
    if name == "pandas.read_csv":
        n = len(pd.read_csv(path, sep="\t"))
    else:
        from gemcont.io.sumstats import load_sumstats

        loaded = load_sumstats(path)
        n = len(loaded.frame)
        if bim_path is not None:
            from gemcont.panel.harmonise import harmonise

            read_s = time.perf_counter() - start
            bim = pd.read_pickle(bim_path)
            n = len(harmonise(loaded.frame, bim, codes=loaded.codes).matched)
    out.put((time.perf_counter() - start, _cpu() - cpu, n, _peak_gb(), read_s))


def _cpu() -> float:
    """This process's CPU seconds (user + system)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_gb() -> float:
    """This process's peak RSS (VmHWM: ru_maxrss would carry the parent's over exec)."""
    status = Path("/proc/self/status").read_text()
    kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))
    return int(kib) / 1024**2


def _run(name: str, path: Path, bim_path: Path | None = None) -> tuple:
    queue: mp.Queue = mp.get_context("spawn").Queue()
    proc = mp.get_context("spawn").Process(
        target=_step, args=(name, str(path), None if bim_path is None else str(bim_path), queue)
    )
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--bim-variants", type=int, default=3_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/sumstats_read_bench"))
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    bim_path = args.dir / f"bim_{args.rows}_{args.bim_variants}.pkl"
    if not bim_path.exists():
        _bim(args.rows, args.bim_variants).to_pickle(bim_path)
    steps = (("pandas.read_csv", None), ("load_sumstats", None))
    steps += (("load_sumstats + harmonise", bim_path),)
    print(
        f"{'file':<10} {'step':<27} {'wall s':>7} {'CPU s':>7} {'x pandas':>9} "
        f"{'range':>11} {'peak GB':>8} {'rows':>10}"
    )
    for layout in ("finngen", "gwas_ssf"):
        path = args.dir / f"{layout}_{args.rows}.tsv.gz"
        if not path.exists():
            _write(path, args.rows, layout)
        rounds = []  # every other round runs the steps backwards: a machine that slows
        for i in range(args.repeat):  # down within a round does not favour one step
            order = steps if i % 2 == 0 else steps[::-1]
            done = {name: _run(name, path, bim) for name, bim in order}
            rounds.append([done[name] for name, _ in steps])
        for k, (name, _) in enumerate(steps):
            runs = [r[k] for r in rounds]
            wall, cpu = (statistics.median(run[i] for run in runs) for i in (0, 1))
            ratios = [r[k][0] / r[0][0] for r in rounds]
            read = [run[4] for run in runs if run[4] is not None]
            print(
                f"{layout:<10} {name:<27} {wall:7.1f} "
                f"{cpu:7.1f} {statistics.median(ratios):9.2f} "
                f"{min(ratios):5.2f}-{max(ratios):<5.2f} "
                f"{max(run[3] for run in runs):8.2f} {runs[0][2]:>10}"
                + (f"  (read {statistics.median(read):.1f} s)" if read else "")
            )


if __name__ == "__main__":
    main()
