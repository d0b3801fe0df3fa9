"""The rotation simulation of the paper's Fig. 2, one point at a time, in memory.

A *point* is the default setting (``rotation.n_train``, ``h``, ``alpha_max``) or the
default with one axis swept to another value. For one point, method and seed,
:func:`run_point` simulates the training people of that seed and the fixed test set
(:mod:`gemcont.simulate.rotation`), trains the method with the workflow's trainer
(glyph modality: random erasing only, never rotation), embeds the test people and
scores the embedding:

* ``r2``: out-of-fold ridge R² of z from the test embedding (``r2_genetic``: of the
  genetic part std(Gβ));
* ``recovery``: fraction of causal variants with multi-trait p < ``p_threshold`` in the
  embedding GWAS of the test people (top ``n_components`` PCs, rank-inverse-normal,
  the built-in engine's LRT of METHOD.md); ``recovery_bonferroni`` at 0.05 / n_causal;
* ``null_fp``: null variants with p < ``p_threshold`` (expected 0), ``null_lambda``:
  their median χ² over the χ²_D median (expected 1).

Run from the workflow (``snakemake fig2``) or standalone, e.g. on a GPU machine without
Snakemake, bed-reader, jsonschema or scikit-learn (``scripts/fig2_gpu.sh``)::

    python -m gemcont.rotation --config config/paper_fig2.yaml --point default \\
        --methods gemcont simclr --seeds 0 --out results/rotation/gpu.tsv

This path imports neither snakemake, bed_reader nor sklearn (the GWAS kernel is called
on an in-memory genotype matrix; the ridge R² is numpy's).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import shutil
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from gemcont.errors import ConfigError
from gemcont.io.tables import write_tsv

log = logging.getLogger(__name__)

SWEEP_AXES = ("n_train", "h", "alpha_max")
DEFAULT_AXIS = "default"
METRIC_COLUMNS = [
    "axis",
    "value",
    "method",
    "seed",
    "n_train",
    "n_test",
    "h",
    "alpha_max",
    "epochs",
    "panel",
    "r2",
    "r2_genetic",
    "recovery",
    "recovery_bonferroni",
    "null_fp",
    "null_lambda",
    "train_seconds",
    "total_seconds",
]


# ---------------------------------------------------------------- points


@dataclass(frozen=True)
class Point:
    """One setting of Fig. 2: ``axis`` default (value default) or a swept axis and value."""

    axis: str
    value: str

    @property
    def name(self) -> str:
        return f"{self.axis}/{self.value}"


DEFAULT_POINT = Point(DEFAULT_AXIS, DEFAULT_AXIS)


def format_value(value: float) -> str:
    """A sweep value as a path component: 25000, 0.1, 15."""
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:g}"


def parse_point(text: str) -> Point:
    """``default`` or ``axis=value`` (command line) -> Point."""
    if text == DEFAULT_AXIS:
        return DEFAULT_POINT
    axis, sep, value = text.partition("=")
    if not sep or axis not in SWEEP_AXES:
        raise ConfigError("--point", f"'{text}' is not 'default' or one of {SWEEP_AXES} '=value'")
    return Point(axis, format_value(float(value)))


def settings_at(cfg: dict, point: Point) -> dict:
    """n_train, h and alpha_max of ``point`` (the defaults with one axis replaced)."""
    values = {axis: cfg[axis] for axis in SWEEP_AXES}
    if point.axis == DEFAULT_AXIS:
        return values
    if point.axis not in SWEEP_AXES:
        raise ConfigError("rotation.sweeps", f"unknown sweep axis '{point.axis}'")
    value = float(point.value)
    values[point.axis] = int(value) if point.axis == "n_train" else value
    return values


def sweep_points(cfg: dict) -> list[Point]:
    """The default point, then every swept value that differs from the default."""
    points = [DEFAULT_POINT]
    for axis in SWEEP_AXES:
        for value in cfg["sweeps"][axis]:
            if format_value(value) != format_value(cfg[axis]):
                points.append(Point(axis, format_value(value)))
    return list(dict.fromkeys(points))


def point_methods(cfg: dict, point: Point) -> list[str]:
    """Methods run at ``point``: all at the default, ``sweeps.methods`` (or all) elsewhere."""
    if point.axis == DEFAULT_AXIS or not cfg["sweeps"]["methods"]:
        return list(cfg["methods"])
    return [m for m in cfg["methods"] if m in cfg["sweeps"]["methods"]]


def jobs(cfg: dict) -> list[tuple[Point, str, int]]:
    """Every (point, method, seed) the figure needs."""
    return [
        (point, method, seed)
        for point in sweep_points(cfg)
        for method in point_methods(cfg, point)
        for seed in range(cfg["seeds"])
    ]


RUN_PATTERN = "{root}/runs/{axis}/{value}/{method}/seed_{seed}"


def metrics_paths(cfg: dict, root: str = "results/rotation") -> list[str]:
    """The metrics file of every run the figure needs (the workflow's rule inputs)."""
    return [
        RUN_PATTERN.format(root=root, axis=p.axis, value=p.value, method=m, seed=s) + "/metrics.tsv"
        for p, m, s in jobs(cfg)
    ]


def run_settings(cfg: dict) -> dict:
    """What one run depends on: the section without the list of runs (seeds, methods,
    sweeps), so adding a sweep value or a seed does not redo finished runs."""
    return {k: v for k, v in cfg.items() if k not in ("seeds", "methods", "sweeps")}


def memory_mb(cfg: dict) -> int:
    """Memory of one run: images and genotypes of the train and test people, a few copies."""
    people = cfg["n_test"] + max([cfg["n_train"], *cfg["sweeps"]["n_train"]])
    per_person = 28 * 28 + 8 * (cfg["n_causal"] + cfg["n_null"])
    return int(2000 + 4 * people * per_person / 10**6)


# ---------------------------------------------------------------- config


def rotation_config(values: dict | None = None) -> dict:
    """The ``rotation`` section with schema defaults (validated where jsonschema is)."""
    from gemcont.config import with_defaults

    cfg = dict(with_defaults("rotation", values or {}))
    check_rotation(cfg)
    return cfg


def check_rotation(cfg: dict) -> None:
    """Cross-key rules of the rotation section."""
    if cfg["maf_min"] > cfg["maf_max"]:
        raise ConfigError("rotation.maf_min", f"{cfg['maf_min']} exceeds maf_max {cfg['maf_max']}")


def read_rotation_config(path: str | Path) -> dict:
    """The ``rotation`` section of a YAML config file, with defaults."""
    with open(path) as fh:
        raw = yaml.safe_load(fh) or {}
    return rotation_config(raw.get("rotation") or {})


# ---------------------------------------------------------------- one point


def model_configs(train: dict, seed: int):  # -> tuple[ModelConfig, TrainConfig]
    """The trainer's configs from ``rotation.train`` (glyph augmentation, MSE target)."""
    from gemcont.train.methods import configs_from

    model, loop = configs_from(train, "glyph", "mse")
    return model, replace(loop, seed=seed, num_workers=0)


def embedding_gwas(
    emb: np.ndarray, geno: np.ndarray, n_components: int | None, block: int = 512
) -> np.ndarray:
    """Multi-trait -log10 P per variant of the test embedding (samples x D) on ``geno``
    (samples x M): PCA to ``n_components``, rank-inverse-normal, built-in engine
    (intercept only; NaN for monomorphic variants)."""
    from gemcont.gwas.builtin import Backend, null_model, scan_block
    from gemcont.gwas.prepare import pca_scores, rank_inverse_normal

    y = rank_inverse_normal(pca_scores(emb.astype(np.float64), n_components))
    backend = Backend()
    model = null_model(y, np.zeros((len(y), 0)), backend)
    mlog10p = np.full(geno.shape[1], np.nan)
    for start in range(0, geno.shape[1], block):
        cols = np.arange(start, min(start + block, geno.shape[1]))
        keep, _, result = scan_block(geno[:, cols], model, 0.0, 0.0, backend)
        mlog10p[cols[keep]] = result.chisq_mlog10p
    return mlog10p


def score_embedding(
    emb: np.ndarray,
    z: np.ndarray,
    genetic: np.ndarray,
    geno: np.ndarray,
    causal: np.ndarray,
    evaluate: dict,
    seed: int,
) -> dict[str, float]:
    """R² of z (and of its genetic part) and the embedding GWAS's recovery and calibration."""
    from gemcont.evaluate.ridge import ridge_r2
    from gemcont.gwas.loci import lambda_gc

    r2, r2_genetic = ridge_r2(emb, np.column_stack([z, genetic]), seed, evaluate["r2_folds"])
    mlog10p = embedding_gwas(emb, geno, evaluate["n_components"])
    dof = min(evaluate["n_components"] or emb.shape[1], emb.shape[1])
    gw = -math.log10(evaluate["p_threshold"])
    bonferroni = -math.log10(0.05 / max(int(causal.sum()), 1))
    hits = np.nan_to_num(mlog10p, nan=0.0)
    null = ~causal
    return {
        "r2": float(r2),
        "r2_genetic": float(r2_genetic),
        "recovery": float((hits[causal] > gw).mean()),
        "recovery_bonferroni": float((hits[causal] > bonferroni).mean()),
        "null_fp": int((hits[null] > gw).sum()),
        "null_lambda": lambda_gc(10.0 ** -mlog10p[null], dof) if null.any() else float("nan"),
    }


_SIMULATED: dict[str, tuple] = {}


def simulate_point(cfg: dict, point: Point, seed: int) -> tuple:
    """(architecture, training people of ``seed``, test people, panel variant indices,
    their external GWAS betas) of ``point``; the last result is kept, so several methods
    of one point simulate once."""
    from gemcont.simulate.glyphs import GlyphSettings, glyph_bank
    from gemcont.simulate.rotation import (
        architecture,
        external_gwas,
        panel,
        simulate_people,
        stream,
    )

    key = json.dumps(
        {
            "cfg": {k: v for k, v in cfg.items() if k not in ("train", "evaluate")},
            "point": asdict(point),
            "seed": seed,
        },
        sort_keys=True,
        default=str,
    )
    if key in _SIMULATED:
        return _SIMULATED[key]
    values = settings_at(cfg, point)
    glyphs = GlyphSettings.from_config(cfg["glyphs"])
    bank = glyph_bank(glyphs)
    arch = architecture(
        cfg["seed"], cfg["n_causal"], cfg["n_null"], (cfg["maf_min"], cfg["maf_max"])
    )
    common = dict(
        h=values["h"], alpha_max=values["alpha_max"], c=cfg["c"], bank=bank, glyphs=glyphs
    )
    train = simulate_people(
        arch, values["n_train"], **common, seed_seq=stream(cfg["seed"], "train", seed)
    )
    test = simulate_people(arch, cfg["n_test"], **common, seed_seq=stream(cfg["seed"], "test"))
    beta_hat, se = external_gwas(arch, values["h"], cfg["external_gwas_n"], cfg["seed"])
    variants = panel(beta_hat, se, cfg["panel_p_threshold"])
    if variants.size == 0:
        raise ConfigError(
            "rotation.panel_p_threshold",
            f"no variant reaches p < {cfg['panel_p_threshold']:g} in the external GWAS of "
            f"{cfg['external_gwas_n']} people; raise the threshold or external_gwas_n",
        )
    _SIMULATED.clear()
    _SIMULATED[key] = (arch, train, test, variants, beta_hat[variants])
    return _SIMULATED[key]


def _settings_key(cfg: dict, point: Point, method: str, seed: int) -> str:
    return json.dumps(
        {"cfg": cfg, "point": asdict(point), "method": method, "seed": seed},
        sort_keys=True,
        default=str,
    )


def run_point(
    cfg: dict, point: Point, method: str, seed: int, workdir: str | Path
) -> dict[str, float | int | str]:
    """Simulate, train ``method`` (seed ``seed``), embed and score one point: one row of
    METRIC_COLUMNS. ``workdir`` holds the checkpoint (an interrupted run with the same
    settings resumes; it is removed once the run is done) and the training curve."""
    from gemcont.train.loop import TrainData
    from gemcont.train.methods import embed, train_method

    start = time.perf_counter()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    checkpoint = workdir / "checkpoint.pt"
    key_file = workdir / "settings.json"
    key = _settings_key(cfg, point, method, seed)
    if checkpoint.exists() and (not key_file.exists() or key_file.read_text() != key):
        log.info("%s: settings changed, not resuming", checkpoint)
        checkpoint.unlink()
    key_file.write_text(key)

    values = settings_at(cfg, point)
    arch, train, test, variants, betas = simulate_point(cfg, point, seed)
    log.info(
        "%s %s seed %d: %d train, %d test people, %d variants (%d causal), panel of %d "
        "(%d causal); simulated in %.1f s",
        point.name,
        method,
        seed,
        len(train.z),
        len(test.z),
        arch.n_variants,
        int(arch.causal.sum()),
        variants.size,
        int(arch.causal[variants].sum()),
        time.perf_counter() - start,
    )

    model_cfg, loop_cfg = model_configs(cfg["train"], seed)
    geno = train.geno[:, variants].astype(np.float32)
    data = TrainData(
        pheno=train.images, geno=geno - geno.mean(axis=0), target=train.z.astype(np.float32)
    )
    t_train = time.perf_counter()
    model = train_method(
        method, data, betas, model_cfg, loop_cfg, checkpoint, workdir / "training.tsv"
    )
    train_seconds = time.perf_counter() - t_train
    emb = embed(model, test.images, batch_size=4096, device=loop_cfg.device, amp=loop_cfg.amp)
    scores = score_embedding(
        emb, test.z, test.genetic, test.geno, arch.causal, cfg["evaluate"], seed
    )
    checkpoint.unlink(missing_ok=True)
    row = {
        "axis": point.axis,
        "value": point.value,
        "method": method,
        "seed": seed,
        "n_train": values["n_train"],
        "n_test": cfg["n_test"],
        "h": values["h"],
        "alpha_max": values["alpha_max"],
        "epochs": cfg["train"]["epochs"],
        "panel": variants.size,
        **scores,
        "train_seconds": round(train_seconds, 1),
        "total_seconds": round(time.perf_counter() - start, 1),
    }
    log.info("%s %s seed %d: %s", point.name, method, seed, row)
    return row


def write_rows(rows: Sequence[dict], path: str | Path) -> pd.DataFrame:
    """Metric rows as a TSV (atomically replaced)."""
    frame = pd.DataFrame(list(rows), columns=METRIC_COLUMNS)
    write_tsv(frame, path)
    return frame


# ---------------------------------------------------------------- all points


def read_metrics(paths: Iterable[str | Path]) -> pd.DataFrame:
    """Concatenate per-run metric TSVs."""
    frames = [pd.read_csv(p, sep="\t", dtype={"value": str, "axis": str}) for p in paths]
    if not frames:
        return pd.DataFrame(columns=METRIC_COLUMNS)
    return pd.concat(frames, ignore_index=True)[METRIC_COLUMNS]


SUMMARY_METRICS = ("r2", "r2_genetic", "recovery", "recovery_bonferroni", "null_fp", "null_lambda")


def summarise(metrics: pd.DataFrame) -> pd.DataFrame:
    """Mean, sd and count over seeds per point setting and method (long: one row per
    metric). Each sweep axis shows the default point at its default value."""
    keys = ["n_train", "h", "alpha_max", "method"]
    long = metrics.melt(
        id_vars=[*keys, "seed"],
        value_vars=list(SUMMARY_METRICS),
        var_name="metric",
        value_name="val",
    )
    stats = long.groupby([*keys, "metric"], sort=False)["val"].agg(["mean", "std", "count"])
    return stats.rename(columns={"std": "sd", "count": "n"}).fillna({"sd": 0.0}).reset_index()


def collect(
    paths: Iterable[str | Path], metrics_out: str | Path, summary_out: str | Path
) -> pd.DataFrame:
    """All runs' metrics -> ``metrics_out``; mean, sd and n over seeds -> ``summary_out``."""
    metrics = read_metrics(paths)
    write_rows(metrics.to_dict("records"), metrics_out)
    summary = summarise(metrics)
    write_tsv(summary, summary_out)
    log.info("%d runs summarised:\n%s", len(metrics), summary.to_string(index=False))
    return summary


def _at_defaults(summary: pd.DataFrame, cfg_defaults: dict, axes: Iterable[str]) -> pd.DataFrame:
    """Summary rows whose ``axes`` are at their default values."""
    mask = np.ones(len(summary), bool)
    for axis in axes:
        mask &= np.isclose(summary[axis].astype(float), float(cfg_defaults[axis]))
    return summary[mask]


def sweep_table(summary: pd.DataFrame, cfg_defaults: dict, axis: str) -> pd.DataFrame:
    """Summary rows of one sweep: the other two axes at their defaults."""
    others = [a for a in SWEEP_AXES if a != axis]
    return _at_defaults(summary, cfg_defaults, others).sort_values(axis)


def default_table(summary: pd.DataFrame, cfg_defaults: dict) -> pd.DataFrame:
    """Summary rows of the default point."""
    return _at_defaults(summary, cfg_defaults, SWEEP_AXES)


# ---------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gemcont.rotation",
        description="Run points of the rotation simulation (paper Fig. 2) without Snakemake.",
    )
    parser.add_argument("--config", required=True, help="YAML file with a rotation section")
    parser.add_argument("--point", default="default", help="default, or n_train=, h=, alpha_max=")
    parser.add_argument("--methods", nargs="+", help="methods (default: rotation.methods)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--epochs", type=int, help="override rotation.train.epochs")
    parser.add_argument("--out", required=True, help="metrics TSV, rewritten after every run")
    parser.add_argument("--workdir", help="checkpoints and training curves (default: beside --out)")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)s: %(message)s",
        stream=sys.stdout,
        force=True,
    )
    cfg = read_rotation_config(args.config)
    if args.epochs is not None:
        cfg["train"]["epochs"] = args.epochs
        cfg["train"]["warmup_epochs"] = min(
            cfg["train"]["warmup_epochs"], max(args.epochs // 15, 1)
        )
    point = parse_point(args.point)
    out = Path(args.out)
    workdir = Path(args.workdir) if args.workdir else out.parent / "rotation_work"
    rows: list[dict] = []
    for method in args.methods or cfg["methods"]:
        for seed in args.seeds:
            run_dir = workdir / point.axis / point.value / method / f"seed_{seed}"
            rows.append(run_point(cfg, point, method, seed, run_dir))
            write_rows(rows, out)
            shutil.copy(run_dir / "training.tsv", out.parent / f"training_{method}_{seed}.tsv")
    print(pd.DataFrame(rows, columns=METRIC_COLUMNS).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
