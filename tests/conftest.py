"""Shared fixtures: a small simulated cohort and the validated default config."""

from __future__ import annotations

import copy
import os
import shlex
import signal
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from gemcont.config import load_config
from gemcont.panel.build import PanelPaths
from gemcont.settings import build
from gemcont.simulate.cohort import GeneticsPaths, simulate_genetics
from gemcont.simulate.settings import SimulateSettings

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
    # one external cohort (the demo config has two): its sumstats hold all external people
    return make_config({"simulate": merged(SMALL_SIMULATION, {"external_gwas": {"n_cohorts": 1}})})


def run_simulation(settings: SimulateSettings, out: Path) -> GeneticsPaths:
    """Simulate the genetic part of a cohort under ``out``."""
    paths = GeneticsPaths(
        bfile=str(out / "genotypes" / "cohort"),
        covariates=out / "covariates.tsv",
        disease=out / "disease.tsv",
        sumstats=out / "external_gwas" / "sumstats.tsv.gz",
        causal=out / "truth" / "causal_variants.tsv",
        latent=out / "truth" / "latent_traits.tsv",
        summary=out / "truth" / "summary.json",
        more_sumstats=tuple(
            out / "external_gwas" / f"cohort_{k}_finngen.tsv.gz"
            for k in range(2, settings.external_gwas.n_cohorts + 1)
        ),
    )
    simulate_genetics(settings, paths, threads=2)
    return paths


def panel_paths(out: Path) -> PanelPaths:
    """The panel stage's files under ``out`` (results/ and the logs/ copies)."""
    return PanelPaths(
        panel=out / "results" / "panel.tsv",
        coverage=out / "results" / "coverage.tsv",
        harmonise_report=out / "results" / "harmonise.tsv.gz",
        clumps=out / "results" / "clumps.tsv",
        harmonise_log=out / "logs" / "harmonise.tsv.gz",
        coverage_log=out / "logs" / "coverage.tsv",
        meta=out / "results" / "meta_sumstats.tsv.gz",
        eaf_check=out / "results" / "eaf_check.tsv",
    )


def read(path: Path) -> pd.DataFrame:
    """A TSV with ID columns kept as strings."""
    return pd.read_csv(path, sep="\t", dtype={"FID": str, "IID": str, "ID": str, "CHR": str})


@pytest.fixture(scope="session")
def sim(small_config, tmp_path_factory) -> tuple[SimulateSettings, GeneticsPaths]:
    """The small simulated cohort's genetics, shared by every test that needs it."""
    settings = build(SimulateSettings, small_config["simulate"], "simulate")
    return settings, run_simulation(settings, tmp_path_factory.mktemp("sim"))


@pytest.fixture(scope="session")
def sim_two_cohorts(small_config, tmp_path_factory) -> tuple[SimulateSettings, GeneticsPaths]:
    """The same simulation with its external people as two cohorts (the second's sumstats
    in FinnGen's layout), as the demo config has them."""
    section = merged(small_config["simulate"], {"external_gwas": {"n_cohorts": 2}})
    settings = build(SimulateSettings, section, "simulate")
    return settings, run_simulation(settings, tmp_path_factory.mktemp("sim2"))


def run_to_end(command: list[str], timeout: float, **popen) -> subprocess.CompletedProcess:
    """``command`` run to its end (text output captured), or the test failed after
    ``timeout`` s with what it printed, the jobs it started among it, and its process
    group killed (Snakemake's jobs with it, not left hanging for the rest of the run)."""
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        **popen,
    ) as process:
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            out, err = process.communicate()
            pytest.fail(
                f"still running after {timeout} s: {shlex.join(command)}\n{(out + err)[-8000:]}"
            )
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def shared_dir() -> Path:
    """shared/ beside the repository, or $GEMCONT_SHARED; fail loudly when absent."""
    candidates = [REPO.parent / "shared"]
    if os.environ.get("GEMCONT_SHARED"):
        candidates.insert(0, Path(os.environ["GEMCONT_SHARED"]))
    for path in candidates:
        if (path / "fixtures" / "regenie").is_dir():
            return path
    pytest.fail(f"REGENIE fixtures not found in {candidates}; set GEMCONT_SHARED")
