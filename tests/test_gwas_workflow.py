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


def test_dry_run__chunks_are_jobs_merged_per_method(tmp_path: Path) -> None:
    """gwas.chunk_variants: one scan job per split, chromosome and chunk (the simulated
    chromosome's variants over the chunk size, rounded up), one chunk merge per method,
    split and chromosome; the other GWAS jobs as without chunks."""
    config = make_config()
    methods, splits = len(config["methods"]), config["splits"]["n_splits"]
    g = config["simulate"]["genotypes"]
    per_chromosome = int(g["chromosome_length_mb"] * 1000 / g["snp_spacing_kb"])
    chunks = -(-per_chromosome // 64)
    assert chunks > 1  # else the count says nothing
    jobs = planned_jobs(tmp_path, {"chunk_variants": 64})
    assert jobs["gwas_chromosome"] == splits * g["n_chromosomes"] * chunks
    assert jobs["merge_gwas_chunks"] == methods * splits * g["n_chromosomes"]
    assert jobs["merge_gwas"] == methods * splits
    assert "merge_gwas_chunks" not in planned_jobs(tmp_path, {"chunk_variants": 0})
