"""``python -m gemcont.rotation``: points of the rotation simulation without Snakemake,
e.g. on a GPU machine without Snakemake, bed-reader, jsonschema or scikit-learn
(``scripts/fig2_gpu.sh``)::

    python -m gemcont.rotation --config config/paper_fig2.yaml --point default \\
        --methods gemcont simclr --seeds 0 --out results/rotation/gpu.tsv
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pandas as pd

from gemcont.rotation.jobs import parse_point
from gemcont.rotation.run import run_point
from gemcont.rotation.settings import RotationSettings, read_rotation_settings
from gemcont.rotation.tables import METRIC_COLUMNS, write_rows


def with_epochs(settings: RotationSettings, epochs: int) -> RotationSettings:
    """``settings`` trained for ``epochs`` (warm-up cut to a fifteenth of them, at least 1)."""
    warmup = min(settings.train["warmup_epochs"], max(epochs // 15, 1))
    return replace(settings, train={**settings.train, "epochs": epochs, "warmup_epochs": warmup})


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
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
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)s: %(message)s",
        stream=sys.stdout,
        force=True,
    )
    settings = read_rotation_settings(args.config)
    if args.epochs is not None:
        settings = with_epochs(settings, args.epochs)
    point = parse_point(args.point)
    out = Path(args.out)
    workdir = Path(args.workdir) if args.workdir else out.parent / "rotation_work"
    rows: list[dict] = []
    for method in args.methods or settings.methods:
        for seed in args.seeds:
            run_dir = workdir / point.axis / point.value / method / f"seed_{seed}"
            rows.append(run_point(settings, point, method, seed, run_dir))
            write_rows(rows, out)
            shutil.copy(run_dir / "training.tsv", out.parent / f"training_{method}_{seed}.tsv")
    print(pd.DataFrame(rows, columns=METRIC_COLUMNS).to_string(index=False))
    return 0
