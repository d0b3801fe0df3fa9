"""Peak memory and time of each workflow stage at two cohort sizes, beside its request.

Each stage runs the gemcont function its rule's script calls (scripts/<rule>.py), in a
fresh child Python (``--child``), on synthetic inputs written here; the parent reads the
child's peak RSS and CPU time from ``os.wait4``. The same sizes go into a
``gemcont.resources.Scale``, so each row shows ``request(rule, scale)`` (attempt 1,
2 threads) beside the measurement. A row at ``--extrapolate`` people follows from the
two measured sizes: every request formula is linear in N at fixed variants and D, so
peak and time are extrapolated linearly in N through the two points (a + b N).

Synthetic data: a .bed whose variants come in runs of 10 identical copies (LD pruning
and clumping keep about 1 in 10, as on array data), 5 kb apart, on chromosomes 1 and 2;
a disease GWAS with hits on HIT_RUNS runs; a PANEL_VARIANTS-row panel for the features
(the request's own panel size); one item per person (spirometry rasters, B bytes:
only the index is read by these stages); D-wide embeddings of everyone, one dimension
carrying genotype effects so that the GWAS summary clumps real hits.

    python benchmarks/scale.py --people 20000 100000 --variants 10000 --dim 128
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

RUN = 10  # identical copies per LD run
SPACING = 5000  # bp between variants (~array density)
HIT_RUNS = 400  # disease GWAS runs with P < 1e-5: 2,000 hits a chromosome (= WINDOW_VARIANTS)
EFFECT_RUNS = 20  # genotype runs shaping embedding e_0
CHROMS = ("1", "2")
STAGES = (
    "imports",
    "build_panel",
    "compute_pcs",
    "extract_features",
    "make_splits",
    "prepare_gwas",
    "gwas_chromosome",
    "merge_gwas",
    "summarise_gwas",
    "evaluate_run",
)
# .bed 2-bit codes -> A1 count (01 missing never written by synthetic_bed.BYTE_MAP)
CODE_DOSAGE = (2.0, float("nan"), 1.0, 0.0)


# --- inputs --------------------------------------------------------------------------


def write_inputs(root: Path, people: int, variants: int, dim: int, seed: int) -> None:
    """Every stage's synthetic inputs under ``root``."""
    import numpy as np
    import pandas as pd

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from synthetic_bed import BYTE_MAP

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ids = np.array([f"{1_000_000 + i}" for i in range(people)])
    key = pd.DataFrame({"FID": ids, "IID": ids})
    runs = variants // RUN
    row_bytes = (people + 3) // 4
    rows = BYTE_MAP[rng.integers(0, 256, (runs, row_bytes), np.uint8)]
    with open(root / "cohort.bed", "wb") as bed:
        bed.write(bytes([0x6C, 0x1B, 0x01]))
        for start in range(0, runs, 100):
            bed.write(np.repeat(rows[start : start + 100], RUN, axis=0).tobytes())
    per_chrom = variants // len(CHROMS)
    chrom = np.repeat(np.array(CHROMS), per_chrom)
    pos = np.tile(np.arange(per_chrom) * SPACING + 1, len(CHROMS))
    bim = pd.DataFrame(
        {"CHR": chrom, "ID": [f"rs{j}" for j in range(variants)], "CM": 0, "POS": pos}
    ).assign(A1="A", A2="G")
    bim.to_csv(root / "cohort.bim", sep="\t", header=False, index=False)
    key.assign(P=0, M=0, S=0, Y=-9).to_csv(root / "cohort.fam", sep="\t", header=False, index=False)

    # disease GWAS: every variant (half with swapped alleles), hits on HIT_RUNS runs
    p = rng.uniform(1e-4, 1, variants)
    hit_runs = rng.choice(runs, min(HIT_RUNS, runs // 2), replace=False)
    p[(hit_runs[:, None] * RUN + np.arange(RUN)).ravel()] = 1e-9
    swap = rng.random(variants) < 0.5
    beta = rng.normal(0, 0.05, variants)
    pd.DataFrame(
        {
            "CHR": chrom,
            "POS": pos,
            "ID": bim["ID"],
            "EA": np.where(swap, "G", "A"),
            "OA": np.where(swap, "A", "G"),
            "EAF": 0.5,
            "N": 400_000,
            "BETA": beta,
            "SE": 0.01,
            "P": p,
        }
    ).to_csv(root / "sumstats.tsv", sep="\t", index=False, float_format="%.6g")

    # the features' panel: PANEL_VARIANTS rows (the request's panel size)
    from gemcont.resources import PANEL_VARIANTS

    take = np.linspace(0, variants - 1, min(PANEL_VARIANTS, variants)).astype(int)
    pd.DataFrame(
        {
            "ID": bim["ID"].to_numpy()[take],
            "CHR": chrom[take],
            "POS": pos[take],
            "EA": "A",
            "OA": "G",
            "EAF": 0.5,
            "BETA": rng.normal(0, 0.05, len(take)),
            "SE": 0.01,
            "P": 1e-9,
            "BIM_INDEX": take,
        }
    ).to_csv(root / "features_panel.tsv", sep="\t", index=False)

    pcs = key.copy()
    for i in range(20):
        pcs[f"PC{i + 1}"] = rng.normal(0, 0.003, people)
    pcs.to_csv(root / "pcs_input.tsv", sep="\t", index=False, float_format="%.8g")
    key.assign(
        age=rng.uniform(40, 70, people).round(1),
        sex=rng.integers(0, 2, people),
        height=rng.normal(170, 9, people).round(1),
        bmi=rng.normal(27, 4, people).round(1),
        batch=[f"Batch_{b}" for b in rng.integers(1, 5, people)],
        centre=rng.integers(11001, 11007, people),
    ).to_csv(root / "covariates.tsv", sep="\t", index=False)
    disease = (rng.random(people) < 0.1).astype(int)
    incident = ((rng.random(people) < 0.05) & (disease == 0)).astype(int)
    key.assign(disease_at_assessment=disease, incident_5y=incident).to_csv(
        root / "disease.tsv", sep="\t", index=False
    )
    key.assign(eye="", row=np.arange(people)).to_csv(root / "index.tsv", sep="\t", index=False)
    pd.DataFrame(columns=["FID", "IID", "item", "reason"]).to_csv(
        root / "exclusions.tsv", sep="\t", index=False
    )

    # embeddings of everyone; e_0 carries EFFECT_RUNS genotype runs (GWAS hits)
    emb = rng.standard_normal((people, dim))
    for r in rng.choice(runs, min(EFFECT_RUNS, runs // 2), replace=False):
        codes = (rows[r][:, None] >> np.arange(0, 8, 2)) & 3
        emb[:, 0] += 0.3 * np.array(CODE_DOSAGE)[codes.ravel()[:people]]
    table = key.assign(set=np.where(rng.random(people) < 0.5, "heldout", "train"))
    table = pd.concat([table, pd.DataFrame(emb, columns=[f"e_{j}" for j in range(dim)])], axis=1)
    table.to_csv(root / "embeddings.tsv.gz", sep="\t", index=False, float_format="%.6g")
    (root / "inputs.done").write_text(f"{people} {variants} {dim} {seed}\n")


# --- stages (each runs in a child) ---------------------------------------------------


def run_stage(stage: str, root: Path, threads: int) -> None:
    """The function ``scripts/<stage>.py`` calls, on the inputs under ``root``."""
    from gemcont.settings import from_section

    bfile = str(root / "cohort")
    if stage.startswith("inputs"):
        people, variants, dim = (int(x) for x in stage.split(":")[1:])
        write_inputs(root, people, variants, dim, seed=people)
    elif stage == "imports":  # the floor: the imports every stage pays
        import sklearn  # noqa: F401

        import gemcont.gwas.stage  # noqa: F401
        import gemcont.panel.build  # noqa: F401
    elif stage == "build_panel":
        from gemcont.panel.build import PanelPaths, PanelSettings, build_panel
        from gemcont.panel.studies import studies_from_config

        names = ("out", "cov", "harm", "clumps", "harm_log", "cov_log")
        paths = PanelPaths(*(root / f"panel_{n}.tsv" for n in names))
        build_panel(
            studies_from_config(str(root / "sumstats.tsv"), {}),
            bfile,
            from_section(PanelSettings, "panel"),
            paths,
            threads,
        )
    elif stage == "compute_pcs":
        from gemcont.genotypes.stage import PcsSettings, compute_pcs

        compute_pcs(bfile, from_section(PcsSettings, "pcs"), root / "pcs.tsv", threads)
    elif stage == "extract_features":
        from gemcont.genotypes.stage import FeaturesSettings, build_features

        build_features(
            bfile,
            str(root / "features_panel.tsv"),
            str(root / "pcs_input.tsv"),
            from_section(FeaturesSettings, "features"),
            20,
            root / "features",
            threads,
        )
    elif stage == "make_splits":
        from gemcont.gwas.inputs import design_columns, numeric_columns
        from gemcont.splits import SplitsSettings, build_splits

        spec = _gwas_settings().covariates
        build_splits(
            bfile + ".fam",
            root / "index.tsv",
            root / "exclusions.tsv",
            str(root / "disease.tsv"),
            str(root / "covariates.tsv"),
            design_columns(spec),
            numeric_columns(spec),
            from_section(SplitsSettings, "splits"),
            root / "splits.tsv",
            root / "dropped.tsv",
        )
    elif stage == "prepare_gwas":
        from gemcont.gwas.inputs import build_gwas_inputs

        settings = _gwas_settings()
        build_gwas_inputs(
            root / "embeddings.tsv.gz",
            str(root / "covariates.tsv"),
            str(root / "pcs_input.tsv"),
            bfile + ".fam",
            settings.covariates,
            settings.n_components,
            {name: root / f"{name}.tsv" for name in ("pheno", "covar", "corr")},
        )
    elif stage.startswith("gwas_chromosome"):
        from gemcont.gwas.joint import MethodGwas
        from gemcont.gwas.stage import run_split_chromosome

        chrom = stage.rsplit("_", 1)[1]
        out = (root / f"per_dim_{chrom}.tsv.gz", root / f"multi_{chrom}.tsv.gz")
        method = MethodGwas(
            "gemcont", root / "pheno.tsv", root / "covar.tsv", root / "corr.tsv", out
        )
        run_split_chromosome(_gwas_settings(), bfile, [method], chrom, threads, root / "work")
    elif stage == "merge_gwas":
        from gemcont.gwas.stage import merge_chromosomes

        for kind in ("per_dim", "multi"):
            merge_chromosomes(
                [root / f"{kind}_{c}.tsv.gz" for c in CHROMS], root / f"{kind}.tsv.gz"
            )
    elif stage == "summarise_gwas":
        from gemcont.gwas.stage import summarise_gwas
        from gemcont.panel.clump import clump

        out = {name: root / f"gwas_{name}" for name in ("loci", "recovery", "summary")}
        summarise_gwas(
            root / "multi.tsv.gz", root / "panel_out.tsv", bfile, out, _gwas_settings(), clump
        )
    elif stage == "evaluate_run":
        from gemcont.evaluate.collect import EvaluateSettings, evaluate_run, write_metrics

        metrics = evaluate_run(
            "gemcont",
            0,
            from_section(EvaluateSettings, "evaluate"),
            2026,
            embeddings=root / "embeddings.tsv.gz",
            disease=root / "disease.tsv",
            gwas_summary=root / "gwas_summary",
            gwas_loci=root / "gwas_loci",
            scores_out=root / "scores.tsv",
        )
        write_metrics(metrics, root / "metrics.tsv")
    else:
        raise ValueError(f"unknown stage {stage}")


def _gwas_settings():
    """The schema's gwas settings, with every embedding dimension analysed (D, as the
    request's Scale counts them)."""
    from gemcont.gwas.settings import GwasSettings
    from gemcont.settings import from_section

    return from_section(GwasSettings, "gwas", {"n_components": None})


# --- measuring -----------------------------------------------------------------------


def measure(stage: str, root: Path, threads: int) -> tuple[float, float, float]:
    """(peak RSS MB, wall s, CPU s) of one stage in a fresh child."""
    env = os.environ | {
        name: str(threads)
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    }
    cmd = [
        sys.executable,
        __file__,
        "--child",
        stage,
        "--dir",
        str(root),
        "--threads",
        str(threads),
    ]
    start = time.perf_counter()
    Path(root).mkdir(parents=True, exist_ok=True)
    child = subprocess.Popen(cmd, env=env)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"stage {stage} failed (exit {child.returncode})")
    return usage.ru_maxrss / 1000 * 1.024, wall, usage.ru_utime + usage.ru_stime


def scale_of(people: int, variants: int, dim: int, sums: int):
    """The run's ``Scale`` (one spirometry raster of 256 x 256 a person, 1 method)."""
    from gemcont.gwas.engines.builtin import DEFAULT_BLOCK_SIZE
    from gemcont.resources import PAPER

    return replace(
        PAPER,
        genotyped=people,
        variants=variants,
        sumstats_bytes=sums,
        items=people,
        dim=dim,
        gpu=False,
        methods=1,
        block_size=DEFAULT_BLOCK_SIZE["cpu"],
    )


def requested(rule: str, scale, variants: int, threads: int) -> dict[str, int]:
    from gemcont.resources import request

    extra = {"variants": variants // len(CHROMS)} if rule == "gwas_chromosome" else {}
    return request(rule, scale, 1, threads, **extra)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--variants", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--extrapolate", type=int, default=500_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/gemcont_scale"))
    parser.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    parser.add_argument(
        "--merge", type=Path, nargs="+", help="print the table of these --json files (no runs)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run_stage(args.child, args.dir, args.threads)
        return
    if args.merge:
        rows = [row for path in args.merge for row in json.loads(path.read_text())]
        print(report(rows, args))
        return
    rows = []
    for people in args.people:
        root = args.dir / f"n{people}"
        # in a child too: this process stays small (a child inherits its peak RSS)
        done = root / "inputs.done"
        if not done.exists() or done.read_text().split()[:3] != [
            str(people),
            str(args.variants),
            str(args.dim),
        ]:
            peak, wall, _ = measure(
                f"inputs:{people}:{args.variants}:{args.dim}", root, args.threads
            )
            print(f"N {people}: inputs written in {wall:.0f} s", flush=True)
        sums = (root / "sumstats.tsv").stat().st_size
        for stage in args.stages:
            runs = (
                [f"gwas_chromosome_{c}" for c in CHROMS] if stage == "gwas_chromosome" else [stage]
            )
            for run in runs:
                peak, wall, cpu = measure(run, root, args.threads)
                rows.append(
                    {
                        "rule": stage,
                        "run": run,
                        "N": people,
                        "peak_mb": peak,
                        "wall_s": wall,
                        "cpu_s": cpu,
                        "sums": sums,
                    }
                )
                print(
                    f"  {run}: peak {peak:.0f} MB, {wall:.1f} s wall, {cpu:.1f} s CPU", flush=True
                )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    if len(args.people) == 2:
        print(report(rows, args))


def report(rows: list[dict], args: argparse.Namespace) -> str:
    """The table: measured rows at both sizes and the extrapolated row per rule."""
    import pandas as pd

    table = pd.DataFrame(rows).drop_duplicates(["run", "N"], keep="last")  # reruns win
    # a rule's row: its largest run (chromosome 1 and 2 are the same size)
    table = table.sort_values("peak_mb").groupby(["rule", "N"], sort=False).last().reset_index()
    lines = [
        "| rule | N | peak RSS | requested mem | request / peak | wall | CPU | requested runtime |",
        "|---|---|---|---|---|---|---|---|",
    ]
    (n1, n2), big = sorted(table["N"].unique()), args.extrapolate
    for stage in args.stages:
        got = table[table["rule"] == stage].set_index("N")
        if got.empty:
            continue
        points = [
            (n, got.loc[n, "peak_mb"], got.loc[n, "wall_s"], got.loc[n, "cpu_s"], "")
            for n in (n1, n2)
        ]
        # linear in N through the two measured points; a fall (noise) counts as flat
        frac = (big - n1) / (n2 - n1)
        points.append(
            (
                big,
                *(
                    got.loc[n2, c] + max(0.0, (frac - 1) * (got.loc[n2, c] - got.loc[n1, c]))
                    for c in ("peak_mb", "wall_s", "cpu_s")
                ),
                " (extrapolated)",
            )
        )
        for n, peak, wall, cpu, note in points:
            if stage == "imports":
                req_mem, req_time, ratio = "-", "-", "-"
            else:
                sums = got["sums"].iloc[0]  # the disease GWAS does not grow with N
                req = requested(
                    stage, scale_of(n, args.variants, args.dim, sums), args.variants, args.threads
                )
                req_mem, req_time = f"{req['mem_mb']} MB", f"{req['runtime']} min"
                ratio = f"{req['mem_mb'] / peak:.2f}"
            lines.append(
                f"| {stage} | {n:,}{note} | {peak:.0f} MB | {req_mem} | {ratio} "
                f"| {wall:.0f} s | {cpu:.0f} s | {req_time} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
