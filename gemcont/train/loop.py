"""The training loop: data on the device, schedule, steps, evaluation (the checkpoint
and the state carried between epochs are in :mod:`gemcont.train.checkpoint`).

An epoch draws one random row per person (both eyes: one eye per draw), shuffles, and
runs optimizer steps; the validation loss is computed on a held-back fraction of the
TRAINING people. Every epoch ends with an atomic checkpoint (the per-epoch state); a
run restarted with the same config resumes from the last completed epoch and reaches
bit-identical weights (data order and augmentation draw from per-epoch generators; the
model, optimizer, scheduler and RNG states are restored).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from gemcont.devices import resolve_device
from gemcont.io.tables import write_tsv
from gemcont.models.gemcont import Gemcont
from gemcont.models.phenotype import load_without_backbones
from gemcont.train.checkpoint import EarlyStopping, Run, remove_state, save_checkpoint
from gemcont.train.config import TrainConfig
from gemcont.train.stream import Pheno, all_rows, host_rows, host_values, prefetched

log = logging.getLogger(__name__)

METRIC_COLUMNS = ["epoch", "train/loss", "train/temperature", "val/loss", "samples_per_s", "lr"]


@dataclass
class TrainData:
    """Training people's rows: uint8 items, float32 genetic features, optional target.

    ``person`` holds one integer code per row; rows of one person (both eyes) share it.
    """

    pheno: Pheno  # rows x C x H x W (or C x L), uint8: an array or rows of a store's file
    geno: np.ndarray  # rows x S, float32
    target: np.ndarray | None = None  # rows, float32
    person: np.ndarray | None = None  # rows, int64

    def person_codes(self) -> np.ndarray:
        if self.person is None:
            return np.arange(len(self.pheno), dtype=np.int64)
        return np.asarray(self.person, dtype=np.int64)


@dataclass
class Batch:
    """One batch on the device: x floats in [0, 1], g features, y target (or None)."""

    x: torch.Tensor
    g: torch.Tensor
    y: torch.Tensor | None


Objective = Callable[[nn.Module, Batch, torch.Generator, bool], torch.Tensor]


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA when enabled; a no-op elsewhere."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def to_float(x_t: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """uint8 items -> float32 in [0, 1] (channels_last for 4-D CUDA batches if asked)."""
    x_t = x_t.float().div_(255.0)
    if channels_last and x_t.ndim == 4 and x_t.is_cuda:
        x_t = x_t.contiguous(memory_format=torch.channels_last)
    return x_t


# ---------------------------------------------------------------- rows and batches


def split_validation(
    person: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, validation rows): ``fraction`` of the people, all rows of the
    others for training, the first row of each validation person."""
    people = np.unique(person)
    n_val = min(math.ceil(fraction * len(people)), len(people) - 1) if fraction > 0 else 0
    val_people = np.random.default_rng(seed).permutation(people)[:n_val]
    is_val = np.isin(person, val_people)
    first = np.unique(person, return_index=True)[1]
    val_rows = np.sort(first[is_val[first]])
    return np.flatnonzero(~is_val), val_rows


def draw_rows(person_t: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Positions of one random row per person, in random order."""
    n = person_t.numel()
    key = torch.rand(n, generator=generator, device=person_t.device, dtype=torch.float64)
    order = torch.argsort(person_t.double() + 0.5 * key)
    grouped = person_t[order]
    first = torch.ones(n, dtype=torch.bool, device=person_t.device)
    first[1:] = grouped[1:] != grouped[:-1]
    chosen = order[first]
    perm = torch.randperm(chosen.numel(), generator=generator, device=person_t.device)
    return chosen[perm]


def chunks(rows_t: torch.Tensor, batch_size: int, drop_last: bool) -> list[torch.Tensor]:
    """Consecutive batches of ``rows_t``; the short tail is dropped when asked and
    there is at least one full batch."""
    parts = list(rows_t.split(batch_size))
    if drop_last and len(parts) > 1 and parts[-1].numel() < batch_size:
        parts.pop()
    return parts


class DeviceSource:
    """The whole data set as device tensors (uint8 items); batches are index gathers."""

    def __init__(self, data: TrainData, device: torch.device, channels_last: bool) -> None:
        self.x_t = torch.from_numpy(all_rows(data.pheno)).to(device)
        self.g_t = torch.from_numpy(np.ascontiguousarray(data.geno, np.float32)).to(device)
        y = data.target
        self.y_t = None if y is None else torch.from_numpy(np.asarray(y, np.float32)).to(device)
        self.channels_last = channels_last

    def batches(self, parts: list[torch.Tensor]) -> Iterator[Batch]:
        for idx in parts:
            idx = idx.to(self.x_t.device)
            y = None if self.y_t is None else self.y_t[idx]
            yield Batch(to_float(self.x_t[idx], self.channels_last), self.g_t[idx], y)


class StreamSource:
    """Batches read from the host (the store's file, or an array) by ``workers`` reader
    threads ahead of the model, into pinned buffers on CUDA (:mod:`gemcont.train.stream`).
    Each batch holds the same rows in the same order as :class:`DeviceSource`'s, so both
    train the same weights."""

    def __init__(
        self, data: TrainData, device: torch.device, channels_last: bool, workers: int
    ) -> None:
        self.data, self.device = data, device
        self.channels_last, self.workers = channels_last, workers

    def _read(self, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        pin = self.device.type == "cuda"
        y = self.data.target
        return (
            host_rows(self.data.pheno, idx, pin),
            host_values(self.data.geno, idx, pin),
            None if y is None else host_values(y, idx, pin),
        )

    def batches(self, parts: list[torch.Tensor]) -> Iterator[Batch]:
        rows = [p.cpu().numpy() for p in parts]
        for x, g, y in prefetched(self._read, rows, self.workers):
            x, g = (t.to(self.device, non_blocking=True) for t in (x, g))
            y = None if y is None else y.to(self.device, non_blocking=True)
            yield Batch(to_float(x, self.channels_last), g, y)


def make_source(
    data: TrainData, device: torch.device, cfg: TrainConfig
) -> DeviceSource | StreamSource:
    """Device tensors when the data fit under ``cfg.on_device_max_gb``, else batches
    streamed from the host."""
    channels_last = cfg.channels_last and device.type == "cuda"
    gb = (data.pheno.nbytes + data.geno.nbytes) / 1e9
    if gb <= cfg.on_device_max_gb:
        return DeviceSource(data, device, channels_last)
    log.info(
        "data (%.2f GB) exceed train.on_device_max_gb (%g): batches stream from the host",
        gb,
        cfg.on_device_max_gb,
    )
    return StreamSource(data, device, channels_last, cfg.num_workers)


# ---------------------------------------------------------------- optimisation


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW; no weight decay on biases, norms, gains and the logit scale (open_clip)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim < 2 or "logit_scale" in name else decay).append(p)
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.lr)


def lr_at(step: int, cfg: TrainConfig, steps_per_epoch: int) -> float:
    """Linear warm-up over ``warmup_epochs``, then cosine annealing to 0 at the end."""
    total = cfg.epochs * steps_per_epoch
    warm = min(cfg.warmup_epochs * steps_per_epoch, total)
    if step < warm:
        return cfg.lr * (step + 1) / warm
    progress = (step - warm) / max(1, total - warm)
    return 0.5 * cfg.lr * (1 + math.cos(math.pi * min(progress, 1.0)))


def make_scheduler(
    optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_at(step, cfg, steps_per_epoch) / cfg.lr
    )


def train_step(
    model: nn.Module,
    objective: Objective,
    batch: Batch,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    generator: torch.Generator,
    amp: bool,
) -> torch.Tensor:
    """One optimizer step; returns the detached loss (no host sync)."""
    with autocast(batch.x.device, amp):
        loss = objective(model, batch, generator, True)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    scheduler.step()
    if isinstance(model, Gemcont):
        model.clamp_temperature()
    return loss.detach()


def epoch_generator(device: torch.device, seed: int, epoch: int) -> torch.Generator:
    """The generator of one epoch: shuffling and augmentation depend on (seed, epoch) only."""
    return torch.Generator(device=device).manual_seed(seed * 1_000_003 + epoch)


def n_steps(n_people: int, batch_size: int) -> int:
    """Optimizer steps per epoch (the short tail batch is dropped)."""
    return max(1, n_people // batch_size)


def run_epoch(
    model: nn.Module,
    objective: Objective,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    source: DeviceSource | StreamSource,
    rows_t: torch.Tensor,
    person_t: torch.Tensor,
    cfg: TrainConfig,
    epoch: int,
) -> tuple[float, float]:
    """Train one epoch over ``rows_t`` (one row per person of ``person_t``, same length);
    returns (mean training loss, samples per second)."""
    gen = epoch_generator(rows_t.device, cfg.seed, epoch)
    parts = chunks(rows_t[draw_rows(person_t, gen)], cfg.batch_size, drop_last=True)
    model.train()
    total = torch.zeros((), device=rows_t.device)
    n_seen, start = 0, time.perf_counter()
    bar = tqdm(total=len(parts), desc=f"epoch {epoch + 1}", disable=not cfg.progress, leave=False)
    for batch in source.batches(parts):
        loss = train_step(model, objective, batch, optimizer, scheduler, gen, cfg.amp)
        total += loss * batch.x.shape[0]
        n_seen += batch.x.shape[0]
        bar.update()
    bar.close()
    mean_loss = float(total) / max(n_seen, 1)
    return mean_loss, n_seen / (time.perf_counter() - start)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    objective: Objective,
    source: DeviceSource | StreamSource,
    rows_t: torch.Tensor,
    cfg: TrainConfig,
) -> float:
    """Mean loss over ``rows_t`` in eval mode without augmentation (NaN when empty)."""
    if rows_t.numel() == 0:
        return float("nan")
    model.eval()
    gen = epoch_generator(rows_t.device, cfg.seed, -1)
    total, n = 0.0, 0
    for batch in source.batches(chunks(rows_t, cfg.batch_size, drop_last=False)):
        with autocast(batch.x.device, cfg.amp):
            loss = objective(model, batch, gen, False)
        total += float(loss) * batch.x.shape[0]
        n += batch.x.shape[0]
    return total / n


# ---------------------------------------------------------------- the loop


def metric_row(
    epoch: int, loss: float, val: float, speed: float, model: nn.Module, lr: float
) -> dict:
    temperature = model.temperature() if isinstance(model, Gemcont) else float("nan")
    values = [epoch + 1, loss, temperature, val, speed, lr]
    return dict(zip(METRIC_COLUMNS, values, strict=True))


def fit(
    model: nn.Module,
    objective: Objective,
    data: TrainData,
    cfg: TrainConfig,
    checkpoint: str | Path,
    metrics: str | Path,
    early_stopping: bool = False,
    state: str | Path | None = None,
) -> nn.Module:
    """Train ``model``; returns it on CPU.

    The per-epoch state goes to ``state`` (a file in a state folder of
    :func:`gemcont.train.checkpoint.state_path`) and the run resumes from it when it
    exists; the final checkpoint is written to ``checkpoint`` at the end and the state
    folder removed. Without ``state`` the per-epoch state is ``checkpoint`` itself.
    With ``early_stopping`` the run stops after ``cfg.patience`` epochs without a better
    validation loss and the best epoch's weights are returned.
    """
    state_file = Path(checkpoint if state is None else state)
    device = torch.device(resolve_device(cfg.device, "train.device"))
    model.to(device)
    if cfg.channels_last and device.type == "cuda":
        model.to(memory_format=torch.channels_last)
    person = data.person_codes()
    train_rows, val_rows = split_validation(person, cfg.val_fraction, cfg.seed)
    rows_t = torch.as_tensor(train_rows, device=device)
    person_t = torch.as_tensor(person[train_rows], device=device)
    val_t = torch.as_tensor(val_rows, device=device)
    source = make_source(data, device, cfg)
    optimizer = make_optimizer(model, cfg)
    steps = n_steps(len(np.unique(person[train_rows])), cfg.batch_size)
    stopper = EarlyStopping(cfg.patience) if early_stopping else None
    run = Run(model, optimizer, make_scheduler(optimizer, cfg, steps), stopper)
    run.resume(state_file, cfg.epochs)
    if cfg.compile:
        model.compile()
    while run.epoch < cfg.epochs and not (stopper is not None and stopper.stopped):
        lr = run.scheduler.get_last_lr()[0]
        loss, speed = run_epoch(
            model, objective, optimizer, run.scheduler, source, rows_t, person_t, cfg, run.epoch
        )
        val = evaluate(model, objective, source, val_t, cfg)
        run.history.append(metric_row(run.epoch, loss, val, speed, model, lr))
        if stopper is not None:
            stopper.update(val, model)
        run.epoch += 1
        save_checkpoint(state_file, run.state())
        write_tsv(pd.DataFrame(run.history, columns=METRIC_COLUMNS), metrics)
        log.info("epoch %d/%d: %s", run.epoch, cfg.epochs, run.history[-1])
    # again after the loop: a resumed run with no epoch left still has its curve
    write_tsv(pd.DataFrame(run.history, columns=METRIC_COLUMNS), metrics)
    if state is not None:
        save_checkpoint(checkpoint, run.state())
        remove_state(state_file)
    if stopper is not None and stopper.weights:
        load_without_backbones(model, stopper.weights)
    return model.cpu()
