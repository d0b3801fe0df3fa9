"""Peak resident memory of embedding export on a store larger than the on-device budget.

Writes a synthetic stage (store of N fundus-like items 3 x S x S, features, splits, an
untrained cnn2d checkpoint) and runs ``gemcont.train.stage.export_stage`` in a fresh
process per code tree (``--code PATH``, e.g. an export of an older commit beside this
checkout), printing a table of each run's peak RSS and wall time and whether the
embeddings files are byte-identical. Example:

    git archive <old commit> | tar -x -C /tmp/before
    python benchmarks/stream_export.py --code /tmp/before --code .
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

CHILD = """
import json, resource, sys, time
from pathlib import Path
import gemcont
assert Path(gemcont.__file__).parent.parent == Path.cwd(), gemcont.__file__
from gemcont.settings import from_section
from gemcont.train.config import TrainSettings
from gemcont.train.stage import StageInputs, export_stage
root, out, section = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
inputs = StageInputs(**{k: root / v for k, v in json.loads(sys.argv[4]).items()})
start = time.perf_counter()
export_stage("gemcont", 0, inputs, from_section(TrainSettings, "train", section), "fundus",
             "marker", out)
print(json.dumps({"seconds": time.perf_counter() - start,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

FILES = {
    "images": "store/images.npy",
    "index": "store/index.tsv",
    "features": "features.npy",
    "feature_ids": "features_ids.tsv",
    "feature_report": "features_report.tsv",
    "splits": "splits.tsv",
    "checkpoint": "checkpoint.pt",
}


def write_stage(root: Path, n: int, side: int, variants: int, section: dict) -> None:
    """The synthetic stage files under ``root`` (one item per person)."""
    import torch

    from gemcont.settings import from_section
    from gemcont.train.config import TrainSettings
    from gemcont.train.methods import build_model
    from gemcont.train.stage import stage_configs

    rng = np.random.default_rng(0)
    (root / "store").mkdir(parents=True)
    images = np.lib.format.open_memmap(
        root / FILES["images"], mode="w+", dtype=np.uint8, shape=(n, 3, side, side)
    )
    for lo in range(0, n, 256):
        images[lo : lo + 256] = rng.integers(0, 256, images[lo : lo + 256].shape, np.uint8)
    images.flush()
    del images
    people = pd.DataFrame({"FID": [f"f{i}" for i in range(n)], "IID": [f"i{i}" for i in range(n)]})
    people.assign(eye="left", row=rng.permutation(n)).to_csv(
        root / FILES["index"], sep="\t", index=False
    )
    people.to_csv(root / FILES["feature_ids"], sep="\t", index=False)
    np.save(root / FILES["features"], rng.normal(size=(n, variants)).astype(np.float32))
    report = pd.DataFrame({"ID": [f"v{j}" for j in range(variants)], "COLUMN": range(variants)})
    report.assign(BETA=rng.normal(size=variants)).to_csv(
        root / FILES["feature_report"], sep="\t", index=False
    )
    split = np.where(rng.random(n) < 0.5, "train", "heldout")
    people.assign(split_0=split).to_csv(root / FILES["splits"], sep="\t", index=False)
    settings = from_section(TrainSettings, "train", section)
    model_cfg, _, _ = stage_configs("gemcont", settings, "fundus", (3, side, side))
    stats = ([0.5] * 3, [0.25] * 3)
    model = build_model("gemcont", model_cfg, (3, side, side), np.ones(variants), stats)
    torch.save({"model": model.state_dict()}, root / FILES["checkpoint"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", action="append", required=True, help="code tree to run")
    parser.add_argument("--items", type=int, default=4000)
    parser.add_argument("--side", type=int, default=160)
    parser.add_argument("--variants", type=int, default=500)
    parser.add_argument("--budget-gb", type=float, default=0.05)
    args = parser.parse_args()
    section = {
        "encoder": "cnn2d",
        "width": 4,
        "dim": 8,
        "latent": 8,
        "device": "cpu",
        "progress": False,
        "num_workers": 2,
        "on_device_max_gb": args.budget_gb,
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_stage(root, args.items, args.side, args.variants, section)
        store_mb = (root / FILES["images"]).stat().st_size / 1e6
        print(
            f"store {store_mb:.0f} MB ({args.items} x 3 x {args.side}^2), features "
            f"{(root / FILES['features']).stat().st_size / 1e6:.0f} MB, budget "
            f"{args.budget_gb * 1000:.0f} MB\n"
        )
        print("| code | peak RSS (MB) | wall (s) | embeddings = first run's |")
        print("|---|---|---|---|")
        first = None
        for i, code in enumerate(args.code):
            out = root / f"emb_{i}.tsv.gz"
            code = Path(code).resolve()
            env = {**os.environ, "PYTHONPATH": str(code)}
            argv = [str(root), str(out), json.dumps(section), json.dumps(FILES)]
            done = subprocess.run(  # in the code tree: `python -c` imports from its cwd first
                [sys.executable, "-c", CHILD, *argv],
                cwd=code,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            run = json.loads(done.stdout.strip().splitlines()[-1])
            first = first or out.read_bytes()
            same = "yes" if out.read_bytes() == first else "NO"
            print(f"| {code} | {run['peak_mb']:.0f} | {run['seconds']:.1f} | {same} |")


if __name__ == "__main__":
    main()
