"""Shared fixtures: a small simulated cohort and the validated default config."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from gemcont.config import load_config

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"

SMALL_SIMULATION = {
    "seed": 7,
    "n_people": 1500,
    "genotypes": {"n_chromosomes": 2, "chromosome_length_mb": 10, "snp_spacing_kb": 5},
    "architecture": {"n_mediated": 8, "n_direct": 6},
    "external_gwas": {"n_people": 6000},
    "fundus": {"image_size": 64},
}


def merged(base: dict, override: dict) -> dict:
    """Deep-merge ``override`` into a copy of ``base``."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def make_config(override: dict | None = None) -> dict:
    """The repository's default config with ``override`` applied, validated."""
    with open(REPO / "config" / "config.yaml") as fh:
        config = yaml.safe_load(fh)
    return load_config(merged(config, override or {}), SCHEMA)


@pytest.fixture(scope="session")
def small_config() -> dict:
    return make_config({"simulate": SMALL_SIMULATION})
