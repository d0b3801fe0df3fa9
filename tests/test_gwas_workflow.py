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


def _snakemake(tmp_path: Path, configs: list[Path], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", "--snakefile", str(REPO / "Snakefile")]
        + ["--configfile", str(REPO / "config" / "config.yaml"), *map(str, configs)]
        + ["--directory", str(tmp_path), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def _override(tmp_path: Path, name: str, gwas: dict) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"gwas": gwas}))
    return path


def rerun_reasons(stdout: str) -> dict[str, set[str]]:
    """Rule -> the reasons of its jobs in a dry run's job list."""
    reasons: dict[str, set[str]] = {}
    rule = None
    for line in stdout.splitlines():
        if m := re.match(r"^(?:local)?rule (\w+):", line):
            rule = m[1]
        elif rule and (m := re.match(r"^\s+reason: (.*)", line)):
            reasons.setdefault(rule, set()).add(m[1])
    return reasons


def test_dry_run__p_threshold_change_reruns_only_the_loci_summaries(tmp_path: Path) -> None:
    """Every output of the demo (REGENIE engine) made and recorded (snakemake --touch:
    params stored as a run stores them), then a changed gwas.p_threshold: only
    summarise_gwas reruns for its params (and what reads its outputs); step 1, the scans,
    the merges and the inputs do not. A changed gwas.min_maf or min_info reruns the scans."""
    base = _override(tmp_path, "base", {"engine": "regenie"})
    summary = _snakemake(tmp_path, [base], "--summary")
    for line in summary.splitlines()[1:]:
        path = tmp_path / line.split("\t")[0]
        if "/chr/work_" in str(path) or path.name == "images":
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
    _snakemake(tmp_path, [base], "--touch", "--forceall", "--quiet")
    trigger = ["-n", "--rerun-triggers", "params"]
    assert rerun_reasons(_snakemake(tmp_path, [base], *trigger)) == {}  # all recorded

    changed = _override(tmp_path, "p", {"engine": "regenie", "p_threshold": 1e-6})
    reasons = rerun_reasons(_snakemake(tmp_path, [changed], *trigger))
    by_params = {rule for rule, why in reasons.items() if any("Params" in r for r in why)}
    assert by_params == {"summarise_gwas"}, reasons
    scans = {"prepare_gwas", "regenie_step1", "gwas_chromosome", "merge_gwas", "plot_gwas"}
    assert not scans & set(reasons), reasons

    for name, key, value in [("maf", "min_maf", 0.02), ("info", "min_info", 0.8)]:
        changed = _override(tmp_path, name, {"engine": "regenie", key: value})
        reasons = rerun_reasons(_snakemake(tmp_path, [changed], *trigger))
        by_params = {rule for rule, why in reasons.items() if any("Params" in r for r in why)}
        assert by_params == {"gwas_chromosome"}, (key, reasons)
        assert not {"prepare_gwas", "regenie_step1"} & set(reasons), (key, reasons)


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


def test_dry_run__demo_scans_the_simulated_imputed_bgen(tmp_path: Path) -> None:
    """The demo's GWAS reads the simulated BGEN of its chromosome and its .sample (not
    yet written: the chromosomes come from the simulation), made by one
    simulate_imputed job; the panel and PCs keep the hard calls."""
    config = make_config()
    chromosomes = config["simulate"]["genotypes"]["n_chromosomes"]
    assert config["gwas"]["genotypes"]["path"] == "results/simulate/imputed/cohort_c{chrom}.bgen"
    out = _snakemake(tmp_path, [], "-n")
    jobs = re.findall(r"^rule (\w+):\n((?:    .*\n)+)", out, re.M)
    assert [rule for rule, _ in jobs].count("simulate_imputed") == 1
    scans = [body for rule, body in jobs if rule == "gwas_chromosome"]
    assert len(scans) == config["splits"]["n_splits"] * chromosomes
    for body in scans:
        chrom = re.search(r"wildcards: .*chrom=(\w+)", body)[1]
        stem = f"results/simulate/imputed/cohort_c{chrom}"
        inputs = re.search(r"input: (.*)", body)[1].split(", ")
        assert f"{stem}.bgen" in inputs and f"{stem}.sample" in inputs
        assert not [path for path in inputs if path.endswith((".bed", ".pgen"))]
    pcs = next(body for rule, body in jobs if rule == "compute_pcs")
    assert "results/simulate/genotypes/cohort.bed" in pcs


def test_dry_run__simulated_imputed_path_needs_the_simulation_to_write_it(tmp_path: Path) -> None:
    off = tmp_path / "off.yaml"
    off.write_text(yaml.safe_dump({"simulate": {"imputed": {"enabled": False}}}))
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "1"]
        + ["--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path)]
        + ["--configfile", str(REPO / "config" / "config.yaml"), str(off)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert (
        "config key 'gwas.genotypes.path': results/simulate/imputed/cohort_c{chrom}.bgen is "
        "written by the simulation only with simulate.imputed.enabled: set it to true, or "
        "leave gwas.genotypes.path unset"
    ) in result.stdout + result.stderr
