"""Resource requests (gemcont.resources): every job rule sizes mem_mb and runtime from
the data and the config, more on each attempt; the README table is the module's output."""

from __future__ import annotations

import gzip
import math
import re
from dataclasses import replace
from pathlib import Path

import pytest

from gemcont import resources
from gemcont.errors import InputError
from tests.snakemake_plan import dry_run

REPO = Path(__file__).resolve().parents[1]
#: sized by gemcont.rotation.jobs.memory_mb, not by this module
OWN_SIZING = {"rotation_point"}


@pytest.fixture(scope="module")
def demo_plan(tmp_path_factory) -> dict:
    return dry_run(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def fig2_plan(tmp_path_factory) -> dict:
    return dry_run(
        tmp_path_factory.mktemp("fig2"), REPO / "config" / "fig2_cpu.yaml", target="fig2"
    )


def test_every_job_rule_declares_memory_and_runtime(demo_plan):
    """No rule that runs a job falls back to a profile's default-resources (4000 MB /
    60 min, which do not grow with the attempt): each declares both itself."""
    job_rules = {name for name, rule in demo_plan["rules"].items() if not rule["norun"]}
    assert job_rules >= {"build_panel", "regenie_step1", "rotation_point", "export_embeddings"}
    for name in sorted(job_rules):
        assert {"mem_mb", "runtime"} <= set(demo_plan["rules"][name]["declared"]), name
    # merge_gwas_chunks is a rule only with gwas.chunk_variants (sized by the module too)
    assert job_rules - OWN_SIZING == set(resources.ESTIMATES) - {"merge_gwas_chunks"}


def test_planned_requests_grow_with_the_attempt(demo_plan, fig2_plan):
    """Every planned job asks for more memory and time on each retry (demo and Fig. 2)."""
    planned = demo_plan["jobs"] + fig2_plan["jobs"]
    seen = set()
    for job in planned:
        if job["rule"] in {"all", "fig2"}:
            continue
        first, second, third = (job["resources"][a] for a in ("1", "2", "3"))
        for key in ("mem_mb", "runtime"):
            assert first[key] > 0, (job["rule"], key)
            assert first[key] < second[key] < third[key], (job["rule"], key)
            assert second[key] >= 2 * first[key] - 1, (job["rule"], key)
        seen.add(job["rule"])
    # the rules not in these DAGs (regenie_step1, merge_gwas_chunks) are checked on the
    # module below
    assert seen == set(resources.ESTIMATES) - {"regenie_step1", "merge_gwas_chunks"} | OWN_SIZING


@pytest.mark.parametrize("rule", sorted(resources.ESTIMATES))
@pytest.mark.parametrize("scale", [resources.PAPER, resources.PAPER_FUNDUS])
def test_module_requests_scale_with_the_attempt(rule, scale):
    extra = {"variants": 800_000} if rule in resources.PER_CHROMOSOME else {}
    one, two, three = (resources.request(rule, scale, a, 2, **extra) for a in (1, 2, 3))
    assert one.keys() == two.keys() >= {"mem_mb", "runtime"}
    for key in one:
        assert 2 * one[key] - 1 <= two[key] <= 2 * one[key]
        assert 3 * one[key] - 2 <= three[key] <= 3 * one[key]


def test_gwas_memory_follows_the_held_out_people_not_the_fam():
    """Twice the people in a split's held-out half cost twice the decoded blocks; twice
    the .fam (same held-out people) costs only its packed rows (N / 4 bytes a variant)."""
    base = replace(resources.PAPER, variants=10**7)
    chromosome = 800_000
    mem = resources.request("gwas_chromosome", base, variants=chromosome)["mem_mb"]
    more_fam = replace(base, genotyped=2 * base.genotyped)
    assert more_fam.held_out == base.held_out
    grown = resources.request("gwas_chromosome", more_fam, variants=chromosome)["mem_mb"]
    assert grown - mem == pytest.approx(base.genotyped / 4 * 512 / 1e6, abs=1)
    more_held = replace(base, items=2 * base.items)
    assert more_held.held_out == 2 * base.held_out
    grown = resources.request("gwas_chromosome", more_held, variants=chromosome)["mem_mb"]
    assert grown - mem == pytest.approx(40 * base.held_out * 512 / 1e6, abs=1)


def test_held_out_people_are_the_analysed_half():
    scale = replace(resources.PAPER, genotyped=500_000, items=113_000, train_fraction=0.5)
    assert scale.analysed == 113_000
    assert scale.held_out == 56_500
    assert replace(scale, items=600_000).held_out == 250_000  # bounded by the genotyped


def test_paper_requests_hold_what_the_stages_load():
    """Paper scale: training and export stream the 47 GB of 512 px photographs (more than
    train.on_device_max_gb), holding R + 2 batches of them, never the store; training
    holds the 3.7 GB of spirometry rows (under the budget); the spirometry store builder
    reads the whole 10 GB field-3066 table."""
    fundus_store = 60_000 * 3 * 512 * 512 / 1e6
    batch = 1024 * 3 * 512 * 512 / 1e6
    for rule in ("train_model", "export_embeddings"):
        mem = resources.request(rule, resources.PAPER_FUNDUS)["mem_mb"]
        assert 6 * batch < mem < fundus_store / 4
    spirometry_rows = 113_000 / 2 * 256 * 256 / 1e6
    assert resources.request("train_model", resources.PAPER)["mem_mb"] > spirometry_rows
    small_budget = replace(resources.PAPER, on_device_gb=1)
    streamed = resources.request("train_model", small_budget)["mem_mb"]
    assert streamed < resources.request("train_model", resources.PAPER)["mem_mb"] - 1000
    store = resources.request("build_phenotype_store", resources.PAPER)
    assert store["mem_mb"] > 10_000
    assert store["disk_mb"] == math.ceil(113_000 * 256 * 256 / 1e6)


def test_count_lines_and_sumstats_text_bytes(tmp_path):
    text = tmp_path / "gwas.tsv"
    text.write_text("CHR\tPOS\n1\t100\n1\t200\n")
    assert resources.count_lines(text) == 3
    assert resources.sumstats_text_bytes(text) == text.stat().st_size
    packed = tmp_path / "gwas.tsv.gz"
    with gzip.open(packed, "wt") as fh:
        fh.write(text.read_text())
    assert resources.sumstats_text_bytes(packed) == 4 * packed.stat().st_size


def test_missing_input_names_the_file(tmp_path):
    missing = tmp_path / "manifest.tsv"
    with pytest.raises(InputError) as err:
        resources.count_lines(missing)
    assert str(err.value) == (
        f"{missing}: file not found (the resource requests are sized from it). "
        "Fix: check the data: paths of the config"
    )


def test_readme_table_is_the_module_output(capsys):
    """README.md's table is ``python -m gemcont.resources --paper``, unedited."""
    resources.main(["--paper"])
    printed = capsys.readouterr().out.strip()
    readme = (REPO / "README.md").read_text()
    block = re.search(
        r"<!-- resources: python -m gemcont.resources --paper -->\n(.*?)\n\n", readme, re.S
    )
    assert block, "README.md lacks the resource table"
    assert block.group(1).strip() == printed
