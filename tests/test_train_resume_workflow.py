"""Training resumes through the real Snakefile (issue 15): a training job killed mid-run
and rerun resumes from its last completed epoch, from the per-epoch state under
results/.state/ (not a Snakemake output, so Snakemake does not delete it), and ends with
the weights of an uninterrupted run, bit for bit. A changed config does not resume the
stale state.

Two kills: SIGTERM to Snakemake and its job (its process group: what SLURM sends at a
time limit or on pre-emption, and `kill -TERM -<pgid>`); and SIGKILL of both (an OOM
kill, a lost node), which leaves Snakemake's lock and incomplete marker behind. SIGTERM
to Snakemake alone is not a kill: Snakemake 9 then waits for its running jobs to finish.

The inputs of training (simulated cohort, panel, features, store, splits) are built once
and copied, with their timestamps and Snakemake's metadata, into each test's folder.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
import yaml

from .conftest import REPO, merged, run_to_end
from .test_workflow import SNAKEMAKE, TINY

EPOCHS = 6
# The tiny configuration of tests/test_workflow.py up to training (GEMCONT, one split);
# tests/test_slurm_cluster.py runs it too, with its own training settings.
TINY_TRAINING = {
    "simulate": merged(TINY, {"n_people": 600, "fundus": {"enabled": False}}),
    "panel": {"p_threshold": 1e-3, "min_variants": 2},
    "pcs": {"n_pcs": 4},
    "phenotypes": {"spirometry_raster_size": 32},
    "splits": {"n_splits": 1, "min_people": 50},
    "methods": ["gemcont"],
}
CONFIG = {
    **TINY_TRAINING,
    "train": {
        "epochs": EPOCHS,
        "batch_size": 32,
        "warmup_epochs": 1,
        "width": 8,
        "device": "cpu",
    },
}
TRAIN_DIR = "results/train/gemcont/split_0"
CHECKPOINT = f"{TRAIN_DIR}/checkpoint.pt"
TRAIN_LOG = "logs/train/gemcont/split_0.log"
STATE_ROOT = "results/.state/train/gemcont/split_0"
EPOCH_DONE = re.compile(rf"epoch (\d+)/{EPOCHS}:")
RESUMED = re.compile(
    rf"resuming from epoch (\d+) of {EPOCHS} \(epochs 1-(\d+) completed\) "
    r"with the state in (\S+)"
)


def command(workdir: Path, *args: str, config: Path, cores: int = 1) -> list[str]:
    """Snakemake on one core (one torch thread: the same arithmetic in every run, and
    no thread contention on a busy machine)."""
    return [
        *SNAKEMAKE,
        *("--snakefile", str(REPO / "Snakefile"), "--cores", str(cores)),
        *("--configfile", str(REPO / "config" / "config.yaml"), str(config)),
        *("--directory", str(workdir), *args),
    ]


def start_training(workdir: Path, config: Path, out, **popen) -> subprocess.Popen:
    """Start Snakemake on the training job (:func:`command`), its output to ``out``."""
    return subprocess.Popen(
        command(workdir, CHECKPOINT, config=config),
        cwd=REPO,
        stdout=out,
        stderr=subprocess.STDOUT,
        **popen,
    )


def snakemake(workdir: Path, *args: str, config: Path, cores: int = 1) -> str:
    result = run_to_end(command(workdir, *args, config=config, cores=cores), 600, cwd=REPO)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-5000:]
    return out


def write_config(path: Path, **train: object) -> Path:
    path.write_text(yaml.safe_dump(merged(CONFIG, {"train": train})))
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> tuple[Path, Path]:
    """A folder holding everything training reads (made by the workflow), and the config."""
    root = tmp_path_factory.mktemp("resume")
    config = write_config(root / "tiny.yaml")
    workdir = root / "inputs"
    snakemake(workdir, "--omit-from", "train_model", CHECKPOINT, config=config, cores=2)
    assert not (workdir / TRAIN_DIR).exists()
    return workdir, config


def copy_of(inputs: tuple[Path, Path], tmp_path: Path) -> Path:
    """The inputs' folder copied with its timestamps (nothing upstream reruns)."""
    workdir = tmp_path / "run"
    shutil.copytree(inputs[0], workdir, symlinks=True)
    return workdir


def weights(workdir: Path) -> dict[str, torch.Tensor]:
    return torch.load(workdir / CHECKPOINT, map_location="cpu", weights_only=True)["model"]


@pytest.fixture(scope="module")
def uninterrupted(inputs, tmp_path_factory) -> dict[str, torch.Tensor]:
    """The final weights of a run that nobody interrupts."""
    workdir = copy_of(inputs, tmp_path_factory.mktemp("whole"))
    snakemake(workdir, CHECKPOINT, config=inputs[1])
    log = (workdir / TRAIN_LOG).read_text()
    assert "no saved state at" in log and "resuming" not in log
    assert len(EPOCH_DONE.findall(log)) == EPOCHS
    assert not (workdir / STATE_ROOT).exists() or not any((workdir / STATE_ROOT).iterdir())
    return weights(workdir)


def start_and_kill(workdir: Path, config: Path, after_epoch: int, kill) -> int:
    """Start the training job through Snakemake, wait until the job's log shows epoch
    ``after_epoch`` completed, then ``kill(process)``; returns the last epoch logged."""
    log = workdir / TRAIN_LOG
    with open(workdir / "snakemake_killed.log", "w") as out:
        process = start_training(
            workdir,
            config,
            out,
            start_new_session=True,  # its own process group: the job's processes too
        )
    deadline = time.monotonic() + 300
    done: list[str] = []
    while not done or int(done[-1]) < after_epoch:
        assert process.poll() is None, (workdir / "snakemake_killed.log").read_text()[-3000:]
        assert time.monotonic() < deadline, "training did not reach the epoch in time"
        time.sleep(0.05)
        done = EPOCH_DONE.findall(log.read_text()) if log.exists() else []
    kill(process)
    process.wait(timeout=120)
    last = int(EPOCH_DONE.findall(log.read_text())[-1])
    assert last < EPOCHS, "the run ended before it was killed: make the epochs slower"
    return last


def sigterm_snakemake_and_job(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)


def sigkill_snakemake_and_job(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)


def assert_resumed(workdir: Path, killed_after: int) -> None:
    log = (workdir / TRAIN_LOG).read_text()
    resumed = RESUMED.search(log)
    assert resumed, log[-3000:]
    start, completed, state = int(resumed[1]), int(resumed[2]), Path(resumed[3])
    assert completed >= killed_after and start == completed + 1
    assert state.parent.parent == Path(STATE_ROOT) and state.name == "state.pt"
    assert [int(e) for e in EPOCH_DONE.findall(log)] == list(range(start, EPOCHS + 1))
    assert not (workdir / state.parent).exists()  # a finished run removes its state


def assert_same_weights(workdir: Path, expected: dict[str, torch.Tensor]) -> None:
    got = weights(workdir)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert torch.equal(got[key], value), key  # bit-identical


def test_resume__sigterm_to_snakemake_and_its_job_then_rerun(inputs, uninterrupted, tmp_path):
    workdir = copy_of(inputs, tmp_path)
    killed_after = start_and_kill(workdir, inputs[1], 2, sigterm_snakemake_and_job)
    assert not (workdir / CHECKPOINT).exists()  # Snakemake removed the failed job's outputs
    assert list((workdir / STATE_ROOT).glob("*/state.pt"))  # ... but not the state
    snakemake(workdir, CHECKPOINT, config=inputs[1])  # the same command again
    assert_resumed(workdir, killed_after)
    assert_same_weights(workdir, uninterrupted)


def test_resume__sigkill_of_snakemake_and_its_job_then_rerun_incomplete(
    inputs, uninterrupted, tmp_path
):
    workdir = copy_of(inputs, tmp_path)
    killed_after = start_and_kill(workdir, inputs[1], 3, sigkill_snakemake_and_job)
    snakemake(workdir, "--unlock", config=inputs[1])
    snakemake(workdir, CHECKPOINT, "--rerun-incomplete", config=inputs[1])
    assert_resumed(workdir, killed_after)
    assert_same_weights(workdir, uninterrupted)


def test_resume__changed_config_does_not_resume_the_stale_state(inputs, tmp_path):
    workdir = copy_of(inputs, tmp_path)
    start_and_kill(workdir, inputs[1], 2, sigkill_snakemake_and_job)
    (stale,) = (workdir / STATE_ROOT).iterdir()
    other_lr = write_config(tmp_path / "other_lr.yaml", lr=0.003)
    snakemake(workdir, "--unlock", config=other_lr)
    snakemake(workdir, CHECKPOINT, "--rerun-incomplete", config=other_lr)
    log = (workdir / TRAIN_LOG).read_text()
    assert f"removing {STATE_ROOT}/{stale.name}: saved state of another config" in log
    assert "resuming" not in log and f"training from epoch 1 of {EPOCHS}" in log
    assert [int(e) for e in EPOCH_DONE.findall(log)] == list(range(1, EPOCHS + 1))
    assert '"lr": 0.003' in (workdir / TRAIN_DIR / "hparams.json").read_text()
