"""Typed settings of the ``rotation`` config section (defaults only in the schema).

:class:`RunSettings` is what one training run depends on: the section without the list
of runs (``seeds``, ``methods``, ``sweeps``), so adding a sweep value or a seed neither
changes a finished run's Snakemake params nor its resume key; its
:class:`SimulationSettings` part is what the simulated people depend on.
:class:`RotationSettings` adds the list of runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from gemcont.errors import ConfigError
from gemcont.rotation.glyphs import GlyphSettings
from gemcont.settings import build

RUN_LIST_KEYS = ("seeds", "methods", "sweeps")


@dataclasses.dataclass(frozen=True)
class Sweeps:
    """``rotation.sweeps``: the values of each swept axis and the methods run there."""

    n_train: tuple[int, ...]
    h: tuple[float, ...]
    alpha_max: tuple[float, ...]
    methods: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Evaluate:
    """``rotation.evaluate``: scoring of the test embeddings."""

    n_components: int | None
    p_threshold: float
    r2_folds: int


@dataclasses.dataclass(frozen=True)
class SimulationSettings:
    """What the simulated people of a run depend on: the ``rotation`` section without
    the list of runs, the training and the scoring. Hashable, so the settings of one
    point are :func:`gemcont.rotation.data.simulate`'s cache key."""

    seed: int
    n_causal: int
    n_null: int
    maf_min: float
    maf_max: float
    n_train: int
    n_test: int
    h: float
    alpha_max: float
    c: float
    external_gwas_n: int | None
    panel_p_threshold: float
    glyphs: GlyphSettings


@dataclasses.dataclass(frozen=True)
class RunSettings(SimulationSettings):
    """The ``rotation`` section without the list of runs: the simulation, ``train``
    (the config mapping: :func:`gemcont.train.methods.configs_from` types it) and
    ``evaluate``."""

    train: Mapping[str, Any]
    evaluate: Evaluate


@dataclasses.dataclass(frozen=True)
class RotationSettings(RunSettings):
    """The whole ``rotation`` section: one run's settings and the list of runs."""

    seeds: int
    methods: tuple[str, ...]
    sweeps: Sweeps


def run_section(section: Mapping[str, Any]) -> dict[str, Any]:
    """The validated ``rotation`` mapping without the list of runs (a rule's params)."""
    return {k: v for k, v in section.items() if k not in RUN_LIST_KEYS}


def check_rotation(section: Mapping[str, Any]) -> None:
    """Cross-key rules of the rotation section (the schema cannot state them)."""
    if section["maf_min"] > section["maf_max"]:
        raise ConfigError(
            "rotation.maf_min", f"{section['maf_min']} exceeds maf_max {section['maf_max']}"
        )


def build_rotation(section: Mapping[str, Any]) -> RotationSettings:
    """Settings from a validated ``rotation`` section (the Snakefile's, or
    :func:`rotation_settings`'s), after the cross-key rules."""
    check_rotation(section)
    return build(RotationSettings, section, "rotation")


def build_run(section: Mapping[str, Any]) -> RunSettings:
    """One run's settings from :func:`run_section`'s mapping of a checked section."""
    return build(RunSettings, section, "rotation")


def rotation_settings(values: Mapping[str, Any] | None = None) -> RotationSettings:
    """Settings with the schema's defaults under ``values`` (a partial section;
    validated where jsonschema is installed)."""
    from gemcont.config import with_defaults

    return build_rotation(with_defaults("rotation", dict(values or {})))


def read_rotation_settings(path: str | Path) -> RotationSettings:
    """Settings of the ``rotation`` section of a YAML config file, with defaults."""
    with open(path) as fh:
        raw = yaml.safe_load(fh) or {}
    return rotation_settings(raw.get("rotation") or {})
