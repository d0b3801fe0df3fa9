"""The GWAS rules as the real Snakefile plans them: one genotype scan per split and
chromosome for every method (not one per method), REGENIE step 1 once per split."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import REPO, make_config


def planned_jobs(tmp_path: Path, gwas: dict) -> dict[str, int]:
    """Jobs per rule of a dry run of the demo config with ``gwas`` layered over it."""
    override = tmp_path / "gwas.yaml"
    override.write_text(yaml.safe_dump({"gwas": gwas}))
    configs = [str(REPO / "config" / "config.yaml"), str(override)]
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--quiet", "rules", "--cores", "2"]
        + ["--snakefile", str(REPO / "Snakefile"), "--configfile", *configs]
        + ["--directory", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", result.stdout, re.M)}


@pytest.mark.parametrize("engine", ["builtin", "regenie"])
def test_dry_run__one_scan_per_split_and_chromosome(tmp_path: Path, engine: str) -> None:
    config = make_config()
    methods, splits = len(config["methods"]), config["splits"]["n_splits"]
    chromosomes = config["simulate"]["genotypes"]["n_chromosomes"]
    assert methods > 1 and splits > 1 and chromosomes > 1  # else the counts say nothing
    jobs = planned_jobs(tmp_path, {"engine": engine})
    assert jobs["gwas_chromosome"] == splits * chromosomes  # not x methods
    for rule in ("prepare_gwas", "merge_gwas", "summarise_gwas"):
        assert jobs[rule] == methods * splits, rule  # every method keeps its files
    assert jobs.get("regenie_step1", 0) == (splits if engine == "regenie" else 0)
