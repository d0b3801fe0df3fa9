"""One run of the rotation simulation: simulate a point, train a method, embed and score.

For one point, method and seed, :func:`run_point` simulates the training people of that
seed and the fixed test set (:mod:`gemcont.rotation.data`), trains the method with the
workflow's trainer (glyph modality: random erasing only, never rotation), embeds the
test people and scores the embedding (:mod:`gemcont.rotation.score`).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, fields, replace
from pathlib import Path

import numpy as np

from gemcont.rotation.data import Simulation, simulate
from gemcont.rotation.jobs import Point, settings_at
from gemcont.rotation.score import score_embedding
from gemcont.rotation.settings import RunSettings, SimulationSettings

log = logging.getLogger(__name__)


def model_configs(train: dict, seed: int):  # -> tuple[ModelConfig, TrainConfig]
    """The trainer's configs from ``rotation.train`` (glyph augmentation, MSE target)."""
    from gemcont.train.methods import configs_from

    model, loop = configs_from(train, "glyph", "mse")
    return model, replace(loop, seed=seed, num_workers=0)


def simulation_at(settings: RunSettings, point: Point) -> SimulationSettings:
    """The simulation settings of ``point``: the defaults with its swept value."""
    values = {f.name: getattr(settings, f.name) for f in fields(SimulationSettings)}
    return SimulationSettings(**values | settings_at(settings, point))


def _settings_key(settings: RunSettings, point: Point, method: str, seed: int) -> str:
    return json.dumps(
        {"cfg": asdict(settings), "point": asdict(point), "method": method, "seed": seed},
        sort_keys=True,
        default=str,
    )


def _resume_or_restart(workdir: Path, key: str) -> Path:
    """The checkpoint path in ``workdir``; a checkpoint of other settings is removed."""
    checkpoint = workdir / "checkpoint.pt"
    key_file = workdir / "settings.json"
    if checkpoint.exists() and (not key_file.exists() or key_file.read_text() != key):
        log.info("%s: settings changed, not resuming", checkpoint)
        checkpoint.unlink()
    key_file.write_text(key)
    return checkpoint


def _log_simulated(point: Point, method: str, seed: int, sim: Simulation, seconds: float) -> None:
    log.info(
        "%s %s seed %d: %d train, %d test people, %d variants (%d causal), panel of %d "
        "(%d causal); simulated in %.1f s",
        point.name,
        method,
        seed,
        len(sim.train.z),
        len(sim.test.z),
        sim.arch.n_variants,
        int(sim.arch.causal.sum()),
        sim.variants.size,
        int(sim.arch.causal[sim.variants].sum()),
        seconds,
    )


def run_point(
    settings: RunSettings, point: Point, method: str, seed: int, workdir: str | Path
) -> dict[str, float | int | str]:
    """Simulate, train ``method`` (seed ``seed``), embed and score one point: one row of
    :data:`gemcont.rotation.tables.METRIC_COLUMNS`. ``workdir`` holds the checkpoint (an
    interrupted run with the same settings resumes; it is removed once the run is done)
    and the training curve."""
    from gemcont.train.loop import TrainData
    from gemcont.train.methods import embed, train_method

    start = time.perf_counter()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    checkpoint = _resume_or_restart(workdir, _settings_key(settings, point, method, seed))

    values = settings_at(settings, point)
    sim = simulate(simulation_at(settings, point), seed)
    _log_simulated(point, method, seed, sim, time.perf_counter() - start)

    model_cfg, loop_cfg = model_configs(settings.train, seed)
    geno = sim.train.geno[:, sim.variants].astype(np.float32)
    data = TrainData(
        pheno=sim.train.images,
        geno=geno - geno.mean(axis=0),
        target=sim.train.z.astype(np.float32),
    )
    t_train = time.perf_counter()
    model = train_method(
        method, data, sim.betas, model_cfg, loop_cfg, checkpoint, workdir / "training.tsv"
    )
    train_seconds = time.perf_counter() - t_train
    emb = embed(model, sim.test.images, batch_size=4096, device=loop_cfg.device, amp=loop_cfg.amp)
    test = sim.test
    scores = score_embedding(
        emb, test.z, test.genetic, test.geno, sim.arch.causal, settings.evaluate, seed
    )
    checkpoint.unlink(missing_ok=True)
    row = {
        "axis": point.axis,
        "value": point.value,
        "method": method,
        "seed": seed,
        "n_train": values["n_train"],
        "n_test": settings.n_test,
        "h": values["h"],
        "alpha_max": values["alpha_max"],
        "epochs": settings.train["epochs"],
        "panel": sim.variants.size,
        **scores,
        "train_seconds": round(train_seconds, 1),
        "total_seconds": round(time.perf_counter() - start, 1),
    }
    log.info("%s %s seed %d: %s", point.name, method, seed, row)
    return row
