"""The real Snakefile: DAG, lint, fail-fast config errors and a tiny end-to-end run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from PIL import Image

from .conftest import REPO, SMALL_SIMULATION, merged, run_to_end
from .tiny_backbone import TinyViT

TINY_BACKBONE = REPO / "tests" / "tiny_backbone.py"

SNAKEMAKE = [sys.executable, "-m", "snakemake"]

TINY = merged(
    SMALL_SIMULATION,
    {
        "n_people": 300,
        "genotypes": {"n_chromosomes": 2, "chromosome_length_mb": 4},
        "architecture": {"n_mediated": 4, "n_direct": 2, "causal_min_distance_kb": 500},
        "external_gwas": {"n_people": 1500},
        "fundus": {"image_size": 48},
    },
)


def snakemake(*args: str, configs: tuple[Path, ...] = ()) -> subprocess.CompletedProcess:
    """Run the repository's Snakefile; ``configs`` are layered over config/config.yaml."""
    configfiles = [str(REPO / "config" / "config.yaml"), *map(str, configs)]
    return run_to_end(
        [*SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--configfile", *configfiles, *args],
        timeout=600,
        cwd=REPO,
    )


def dry_run(workdir: Path, config: dict, target: str) -> str:
    """``snakemake -n target`` in ``workdir`` with ``config`` layered over the demo: the
    printed plan (and any error)."""
    extra = workdir / "extra.yaml"
    extra.write_text(yaml.safe_dump(config))
    result = snakemake("-n", "--cores", "1", target, "--directory", str(workdir), configs=(extra,))
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "tiny.yaml"
    path.write_text(yaml.safe_dump({"simulate": TINY}))
    return path


def test_workflow__dry_run_prints_dag(tmp_path):
    result = snakemake("-n", "--cores", "2", "--directory", str(tmp_path))
    assert result.returncode == 0, result.stderr
    out = result.stdout + result.stderr
    for rule in (
        "simulate_genetics",
        "simulate_imputed",
        "simulate_spirometry",
        "build_panel",
        "extract_features",
        "build_phenotype_store",
        "make_splits",
        "train_model",
        "export_embeddings",
        "all",
    ):
        assert rule in out


def test_workflow__lint_is_clean():
    result = snakemake("--lint")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "Lints for" not in out


def test_workflow__bad_config_fails_fast_naming_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"simulate": {"genotypes": {"n_chromosomes": 40}}}))
    result = snakemake("-n", "--cores", "1", "--directory", str(tmp_path), configs=(bad,))
    assert result.returncode != 0
    assert "config key 'simulate.genotypes.n_chromosomes'" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


def test_workflow__tiny_simulation_runs_end_to_end(tmp_path, tiny_config):
    result = snakemake(
        "--cores", "2", "simulate", "--directory", str(tmp_path), configs=(tiny_config,)
    )
    assert result.returncode == 0, result.stderr[-4000:]
    sim = tmp_path / "results" / "simulate"
    for name in (
        "genotypes/cohort.bed",
        "external_gwas/sumstats.tsv.gz",
        "fundus/manifest.tsv",
        "spirometry/ukb_3066.tsv",
        "qc/fundus_contact_sheet.png",
        "qc/flow_volume_curves.png",
    ):
        assert (sim / name).stat().st_size > 0, name
    manifest = (sim / "fundus" / "manifest.tsv").read_text().splitlines()
    first_image = manifest[1].split("\t")[3]
    assert (sim / "fundus" / first_image).exists()
    assert (tmp_path / "logs" / "simulate" / "genetics.log").stat().st_size > 0


@pytest.mark.parametrize(
    ("profile", "gpu_request"), [("slurm", "gpu=1"), ("slurm-gres", "gres=gpu:1")]
)
def test_workflow__slurm_profiles_parse_and_request_gpus(tmp_path, profile, gpu_request):
    result = snakemake(
        "-n",
        *("--profile", str(REPO / "profiles" / profile), "--workflow-profile", "none"),
        *("--directory", str(tmp_path)),
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    train = out[out.index("rule train_model:") :]
    train = train[: train.index("\n\n")]
    assert gpu_request in train and "slurm_partition=<gpu-partition>" in train


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """The whole workflow on a tiny config, run once: its folder and the snakemake run."""
    tmp_path = tmp_path_factory.mktemp("tiny_run")
    weights = tmp_path / "tiny_vit.pth"
    torch.save({"model": TinyViT().state_dict()}, weights)
    backbone = {"path": str(weights), "arch": f"{TINY_BACKBONE}:tiny_vit", "options": {}}
    tiny = tmp_path / "tiny_all.yaml"
    tiny.write_text(
        yaml.safe_dump(
            {
                "simulate": merged(TINY, {"n_people": 600, "fundus": {"enabled": False}}),
                "panel": {"p_threshold": 1e-3, "min_variants": 2},
                "pcs": {"n_pcs": 4},
                "phenotypes": {"spirometry_raster_size": 32},
                "splits": {"n_splits": 1, "min_people": 50},
                "methods": ["gemcont", "frozen", "clinical"],
                "train": {
                    "epochs": 2,
                    "batch_size": 64,
                    "warmup_epochs": 1,
                    "width": 8,
                    "encoder": "frozen_vit",  # GEMCONT on the pretrained backbone
                    "backbone": backbone,
                    # a budget below the training rows: training streams them from the
                    # store's memory map, as a 512 px fundus store does at paper scale
                    "on_device_max_gb": 1e-4,
                },
                "gwas": {"n_components": 4, "covariates": {"n_pcs": 4}},
                "evaluate": {"n_folds": 2, "inner_folds": 2, "n_cs": 3},
            }
        )
    )
    return tmp_path, snakemake("--cores", "2", "--directory", str(tmp_path), configs=(tiny,))


def test_workflow__tiny_config_runs_to_the_report(tiny_run):
    tmp_path, result = tiny_run
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    html = (tmp_path / "results" / "report" / "index.html").read_text()
    assert "GEMCONT" in html and "Clinical marker" in html and "Frozen FM" in html
    emb = tmp_path / "results" / "embeddings" / "gemcont" / "split_0" / "embeddings.tsv.gz"
    assert emb.stat().st_size > 0
    frozen = pd.read_csv(str(emb).replace("gemcont", "frozen"), sep="\t")
    assert [c for c in frozen if c.startswith("e_")] == [f"e_{d}" for d in range(24)]
    assert not (tmp_path / "results" / "train" / "frozen").exists()  # nothing trained
    trained = tmp_path / "results" / "train" / "gemcont" / "split_0"
    assert '"backbone_features": 24' in (trained / "hparams.json").read_text()
    saved = torch.load(trained / "checkpoint.pt", weights_only=True)["model"]
    assert not [k for k in saved if ".backbone." in k]  # read from train.backbone.path
    train_log = (tmp_path / "logs" / "train" / "gemcont" / "split_0.log").read_text()
    assert "exceed train.on_device_max_gb (0.0001): batches stream from the host" in train_log
    dropped = (tmp_path / "results" / "splits" / "dropped.tsv").read_text()
    assert "no blow recorded" in dropped or "missing value" in dropped


def test_workflow__screenshot_of_the_tiny_report(tiny_run, tmp_path):
    """scripts/screenshot_report.sh renders the tiny run's report in headless Chromium:
    a PNG of the requested size showing the page (text and figures), not a blank one."""
    run_dir, result = tiny_run
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    report, png = run_dir / "results" / "report" / "index.html", tmp_path / "report.png"
    shot = subprocess.run(
        [str(REPO / "scripts" / "screenshot_report.sh"), str(report), str(png), "3000"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert shot.returncode == 0, shot.stdout + shot.stderr
    with Image.open(png) as image:
        assert image.format == "PNG" and image.size == (1400, 3000)
        grey = np.asarray(image.convert("L"), dtype=np.int16)
    background = np.bincount(grey.ravel()).argmax()
    assert (np.abs(grey - background) > 40).mean() > 0.01  # text, tables, figures drawn
    top = grey[:150]  # the title and the navigation links
    assert (top < 100).mean() > 0.005
    rows = (np.abs(grey - background) > 40).any(axis=1)
    assert rows[: len(rows) // 2].mean() > 0.2 and rows[len(rows) // 2 :].mean() > 0.2
