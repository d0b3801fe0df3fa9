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
CHUNK = 64  # gwas.chunk_variants of the chunked demo plan (several chunks a chromosome)


@pytest.fixture(scope="module")
def demo_plan(tmp_path_factory) -> dict:
    return dry_run(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def chunked_plan(tmp_path_factory) -> dict:
    """The demo with gwas.chunk_variants: GWAS scan jobs of chunks, merged per chromosome."""
    tmp = tmp_path_factory.mktemp("chunked")
    extra = tmp / "chunked.yaml"
    extra.write_text(f"gwas:\n  chunk_variants: {CHUNK}\n")
    return dry_run(tmp, REPO / "config" / "config.yaml", extra)


@pytest.fixture(scope="module")
def fig2_plan(tmp_path_factory) -> dict:
    return dry_run(
        tmp_path_factory.mktemp("fig2"), REPO / "config" / "fig2_cpu.yaml", target="fig2"
    )


@pytest.mark.parametrize("case", ["demo_plan", "chunked_plan"])
def test_every_job_rule_declares_memory_and_runtime(case, request):
    """No rule that runs a job falls back to a profile's default-resources (4000 MB /
    60 min, which do not grow with the attempt): each declares both itself, with and
    without gwas.chunk_variants (whose DAG adds merge_gwas_chunks)."""
    plan = request.getfixturevalue(case)
    job_rules = {name for name, rule in plan["rules"].items() if not rule["norun"]}
    assert job_rules >= {"build_panel", "regenie_step1", "rotation_point", "export_embeddings"}
    for name in sorted(job_rules):
        assert {"mem_mb", "runtime"} <= set(plan["rules"][name]["declared"]), name
    # merge_gwas_chunks is a rule only with gwas.chunk_variants
    chunked = {"merge_gwas_chunks"} if case == "chunked_plan" else set()
    assert job_rules - OWN_SIZING == set(resources.ESTIMATES) - {"merge_gwas_chunks"} | chunked


def test_planned_requests_grow_with_the_attempt(demo_plan, chunked_plan, fig2_plan):
    """Every planned job asks for more memory and time on each retry (demo, chunked
    demo and Fig. 2)."""
    planned = demo_plan["jobs"] + chunked_plan["jobs"] + fig2_plan["jobs"]
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
    # the rule not in these DAGs (regenie_step1) is checked on the module below
    assert seen == set(resources.ESTIMATES) - {"regenie_step1"} | OWN_SIZING


def test_chunked_jobs_are_sized_by_their_chunk_and_chromosome(chunked_plan):
    """A chunk's scan job holds its chunk's results (and its chromosome's .bim); a chunk
    merge is sized by its chromosome, not by the whole genome."""
    scale, per_chromosome = resources.demo_scale()
    jobs = chunked_plan["jobs"]
    scans = [job for job in jobs if job["rule"] == "gwas_chromosome"]
    merges = [job for job in jobs if job["rule"] == "merge_gwas_chunks"]
    assert scans and merges and per_chromosome > CHUNK
    whole_scan = resources.request("gwas_chromosome", scale, 1, 2, variants=per_chromosome)
    for job in scans:
        # every chunk at most CHUNK variants (the last one may hold fewer)
        want = resources.request(
            "gwas_chromosome", scale, 1, job["threads"], variants=CHUNK, chromosome=per_chromosome
        )
        assert job["resources"]["1"] == want, job["wildcards"]
        assert want["disk_mb"] <= whole_scan["disk_mb"]
    for job in merges:  # (demo sizes round to the floors: paper scale below)
        want = resources.request("merge_gwas_chunks", scale, variants=per_chromosome)
        assert job["resources"]["1"] == want


def test_chunk_requests_count_the_chunk_results_and_the_chromosome_bim():
    """Paper scale, chromosome 1 (800 k variants) in chunks of 100 k: the chunk's results
    (3 x 8 B a variant, dimension and method), the whole chromosome's .bim rows (165 B);
    every embedding dimension tested (gwas.n_components: null)."""
    scale, chromosome, chunk = replace(resources.PAPER, gwas_dim=256), 800_000, 100_000
    whole = resources.request("gwas_chromosome", scale, variants=chromosome)["mem_mb"]
    part = resources.request("gwas_chromosome", scale, variants=chunk, chromosome=chromosome)
    dims = scale.gwas_dim * scale.methods
    assert whole - part["mem_mb"] == pytest.approx(24 * dims * (chromosome - chunk) / 1e6, abs=1)
    assert part["disk_mb"] == math.ceil(30 * chunk * dims / 1e6)
    alone = resources.request("gwas_chromosome", scale, variants=chunk)["mem_mb"]
    assert part["mem_mb"] - alone == pytest.approx(165 * (chromosome - chunk) / 1e6, abs=1)
    merge = resources.request("merge_gwas_chunks", scale, variants=chromosome)
    assert merge["disk_mb"] == max(1000, math.ceil(30 * chromosome * scale.gwas_dim / 1e6))


def test_gwas_summaries_follow_the_scanned_variants_not_the_bim():
    """gwas.genotypes (imputed: 10x the array's variants) sizes the merge, the summaries
    and the plot; the panel, PCs and REGENIE step 1 stay on data.bfile's .bim."""
    array = replace(resources.PAPER, variants=800_000, gwas_variants=800_000)
    imputed = replace(array, gwas_variants=8_000_000)
    for rule in ("merge_gwas", "summarise_gwas", "plot_gwas"):
        assert resources.request(rule, imputed) != resources.request(rule, array), rule
    grown = resources.request("summarise_gwas", imputed)["mem_mb"]
    assert grown - resources.request("summarise_gwas", array)["mem_mb"] == pytest.approx(
        300 * 7_200_000 / 1e6, abs=1
    )
    for rule in ("build_panel", "compute_pcs", "extract_features", "regenie_step1"):
        assert resources.request(rule, imputed) == resources.request(rule, array), rule


def test_training_request_holds_the_rows_whenever_a_panel_may_fit_them():
    """The rows stay in memory when rows + features fit train.on_device_max_gb with the
    real panel (train.loop.make_source), unknown when jobs are planned: whenever the rows
    alone fit, the request holds them, even if PANEL_VARIANTS features would not fit."""
    train_items = 56_500
    rows_gb = train_items * 256 * 256 / 1e9  # 3.7 GB
    with_panel_gb = rows_gb + 4 * train_items * resources.PANEL_VARIANTS / 1e9  # 4.8 GB
    between = replace(resources.PAPER, on_device_gb=(rows_gb + with_panel_gb) / 2)
    assert resources.request("train_model", between)["mem_mb"] > rows_gb * 1000 + 4000
    below = replace(resources.PAPER, on_device_gb=rows_gb * 0.9)
    features = 2 * 4 * train_items * resources.PANEL_VARIANTS  # pages touched, copy
    stats = 9 * resources.STATS_ROWS * 256 * 256  # channel statistics (> 6 batches)
    held = resources.request("train_model", between)["mem_mb"]
    assert held == math.ceil(4000 + (features + rows_gb * 1e9) / 1e6)
    streamed = resources.request("train_model", below)["mem_mb"]
    assert streamed == math.ceil(4000 + (features + stats) / 1e6)


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
    # decoded blocks, and each method's phenotypes and null-model basis (D + 40 columns)
    per_person = 40 * 512 + 16 * (base.gwas_dim + 40) * base.methods
    assert grown - mem == pytest.approx(base.held_out * per_person / 1e6, abs=1)


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


def test_panel_requests_follow_the_panel_genotypes():
    """data.panel_genotypes (imputed: 10x the array's variants, float dosages) sizes
    build_panel's variant table and extract_features' table and dosages; the PCs and
    REGENIE step 1 stay on data.bfile."""
    array = replace(resources.PAPER, variants=800_000)
    imputed = replace(array, panel_variants=8_000_000, panel_dosages=True)
    grown = resources.request("build_panel", imputed)["mem_mb"]
    assert grown - resources.request("build_panel", array)["mem_mb"] == pytest.approx(
        400 * 7_200_000 / 1e6, abs=1
    )
    grown = resources.request("extract_features", imputed)["mem_mb"]
    dosages = 3 * array.genotyped * resources.PANEL_VARIANTS  # float32, not int8
    assert grown - resources.request("extract_features", array)["mem_mb"] == pytest.approx(
        (200 * 7_200_000 + dosages) / 1e6, abs=1
    )
    # the dosage clumper's held chromosome (float64) and candidate blocks
    small = replace(imputed, genotyped=10_000, sumstats_bytes=0, panel_variants=1)
    held = 8 * 10_000 * resources.DOSAGE_PARTICIPANTS + resources.DOSAGE_BLOCKS_BYTES
    assert resources.request("build_panel", small)["mem_mb"] == math.ceil(1000 + held / 1e6)
    for rule in ("compute_pcs", "regenie_step1"):
        assert resources.request(rule, imputed) == resources.request(rule, array), rule
