"""What a training run carries between epochs and how it survives a kill: the model,
optimizer, scheduler, early-stopping state, RNG states and metrics in one checkpoint,
written atomically after every epoch and read back on resume.

Through the workflow the per-epoch state lives in a *state directory* that is not a
Snakemake output (Snakemake deletes the outputs of a failed or incomplete job before
rerunning it): ``results/.state/train/{method}/split_{k}/<key>/state.pt``, where
``<key>`` hashes everything that shapes the run (:func:`state_key`). A rerun of the rule
(plain, ``--rerun-incomplete``, a SLURM retry) finds the state of the same key and
resumes; a changed config or input gives another key, and the state of the old one is
removed instead of resumed. The declared output ``checkpoint.pt`` is written once, at
the end, and the state directory is then removed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from gemcont.io.atomic import atomic_path
from gemcont.models.phenotype import load_without_backbones, state_without_backbones

log = logging.getLogger(__name__)


def rng_states() -> dict[str, torch.Tensor | list[torch.Tensor]]:
    """The CPU (and CUDA) random generator states, restored on resume."""
    states: dict[str, torch.Tensor | list[torch.Tensor]] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def save_checkpoint(path: str | Path, state: dict) -> None:
    """``torch.save`` a plain dict atomically (a killed job leaves the last whole one)."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
) -> dict:
    """Restore weights (and optimizer, scheduler, RNG when given); returns the dict."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    load_without_backbones(model, state["model"])
    if optimizer is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["rng"]["torch"])
    if "cuda" in state["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["rng"]["cuda"])
    return state


@dataclass
class EarlyStopping:
    """Best validation loss so far, its weights, and epochs since it improved."""

    patience: int
    val_loss: float = math.inf
    bad_epochs: int = 0
    weights: dict = field(default_factory=dict)

    def update(self, val_loss: float, model: nn.Module) -> None:
        """Record one epoch's validation loss (and the weights when it is the best)."""
        if val_loss < self.val_loss:
            self.val_loss, self.bad_epochs = val_loss, 0
            weights = state_without_backbones(model)
            self.weights = {k: v.detach().cpu().clone() for k, v in weights.items()}
        else:
            self.bad_epochs += 1

    @property
    def stopped(self) -> bool:
        return self.bad_epochs >= self.patience

    def state_dict(self) -> dict:
        return {"val_loss": self.val_loss, "bad_epochs": self.bad_epochs, "weights": self.weights}

    def load_state_dict(self, state: dict) -> None:
        self.val_loss, self.bad_epochs = state["val_loss"], state["bad_epochs"]
        self.weights = state["weights"]


@dataclass
class Run:
    """Everything one training run holds between epochs."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    stopper: EarlyStopping | None
    epoch: int = 0
    history: list[dict] = field(default_factory=list)

    def state(self) -> dict:
        """The checkpoint dict: weights, optimizer, scheduler, epoch, RNG, metrics."""
        return {
            "model": state_without_backbones(self.model),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "epoch": self.epoch,
            "rng": rng_states(),
            "metrics": self.history,
            "early_stopping": None if self.stopper is None else self.stopper.state_dict(),
        }

    def resume(self, path: Path, epochs: int) -> None:
        """Continue from ``path`` when it exists (``epochs``: the run's total, logged)."""
        if not path.exists():
            log.info("no saved state at %s: training from epoch 1 of %d", path, epochs)
            return
        state = load_checkpoint(path, self.model, self.optimizer, self.scheduler)
        self.epoch, self.history = state["epoch"], state["metrics"]
        if self.stopper is not None and state["early_stopping"] is not None:
            self.stopper.load_state_dict(state["early_stopping"])
        log.info(
            "resuming from epoch %d of %d (epochs 1-%d completed) with the state in %s",
            self.epoch + 1,
            epochs,
            self.epoch,
            path,
        )


# ---------------------------------------------------------------- the state directory

STATE_FILE = "state.pt"
KEY_FILE = "key.json"


def file_identity(path: str | Path) -> dict[str, str | int]:
    """What identifies an input file without reading it: its path, size and
    modification time (a rewritten or replaced file changes the last two)."""
    stat = Path(path).stat()
    return {"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def state_key(settings: Mapping, inputs: Iterable[str | Path]) -> dict:
    """The identity of a run: ``settings`` (JSON-able: method, split, model and loop
    configs ...) and the identity of every input file."""
    return {
        "settings": json.loads(json.dumps(settings, sort_keys=True, default=str)),
        "inputs": [file_identity(path) for path in inputs],
    }


def state_path(root: str | Path, key: Mapping) -> Path:
    """``root/<hash of key>/state.pt`` for this run's ``key`` (see :func:`state_key`).

    The folder records the key (``key.json``). Folders of other keys under ``root`` are
    states of another config or other inputs of the same job: they are removed, never
    resumed.
    """
    text = json.dumps(key, sort_keys=True, indent=1)
    folder = Path(root) / hashlib.sha256(text.encode()).hexdigest()[:16]
    if Path(root).is_dir():
        for other in sorted(Path(root).iterdir()):
            if other != folder:
                log.info("removing %s: saved state of another config or other inputs", other)
                shutil.rmtree(other) if other.is_dir() else other.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / KEY_FILE).write_text(text + "\n")
    return folder / STATE_FILE


def remove_state(path: str | Path) -> None:
    """Remove the state folder of ``path`` (a finished run no longer needs it)."""
    folder = Path(path).parent
    shutil.rmtree(folder, ignore_errors=True)
    log.info("run finished: removed its saved state %s", folder)
