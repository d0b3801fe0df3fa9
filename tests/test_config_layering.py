"""Config layering: the demo (config/config.yaml) loads only when no --configfile is
given, so the real-data templates and the Fig. 2 configs plan the paper's jobs and
schedule (issue 18). Each case dry-runs the repository's Snakefile in a fresh process
(tests/snakemake_plan.py) on tiny UK Biobank-style files."""

from __future__ import annotations

import gzip
import json
import math
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import yaml

from gemcont.config import load_config
from tests.snakemake_plan import dry_run as plan

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"

# the paper's schedule (METHOD.md: 150 epochs, batch 1024, AdamW lr 3e-4, 10 warm-up
# epochs; 5 random 50/50 splits) and GEMCONT's initial noise 0.1
PAPER_TRAIN = {"epochs": 150, "batch_size": 1024, "lr": 3.0e-4, "warmup_epochs": 10}
TRAINED = {"gemcont", "prs", "simclr", "vae", "supervised"}
GENOTYPED = 40_000  # .fam lines
IMAGES = 1_000  # manifest rows / spirometry people: the analysed people
CHROMOSOMES = {"1": 6, "2": 4}  # .bim variants
IMPUTED = {"1": 8, "2": 5, "X": 3}  # variants of each imputed BGEN (X: not on the array)


def write_ukb_files(root: Path) -> dict[str, str]:
    """Tiny files in the formats the templates name: a PLINK 1 fileset, a gzipped GWAS,
    covariates, disease, fundus manifest, field-3066 table, marker tables, weights."""
    root.mkdir(parents=True, exist_ok=True)
    iids = [str(1_000_001 + i) for i in range(GENOTYPED)]
    (root / "cohort.fam").write_text(
        "".join(f"{i} {i} 0 0 {1 + k % 2} -9\n" for k, i in enumerate(iids))
    )
    bim = [
        f"{c}\trs{c}_{v}\t0\t{10_000 * (v + 1)}\tA\tG\n"
        for c, n in CHROMOSOMES.items()
        for v in range(n)
    ]
    (root / "cohort.bim").write_text("".join(bim))
    # SNP-major .bed: magic, then ceil(N/4) bytes a variant (all homozygous A1: 0b00)
    (root / "cohort.bed").write_bytes(
        bytes([0x6C, 0x1B, 0x01]) + bytes(math.ceil(GENOTYPED / 4) * len(bim))
    )
    with gzip.open(root / "gwas.tsv.gz", "wt") as fh:
        fh.write("CHR\tPOS\tID\tEA\tOA\tEAF\tN\tBETA\tSE\tP\n")
        for line in bim:
            c, rsid, _, pos, a1, a2 = line.split()
            fh.write(f"{c}\t{pos}\t{rsid}\t{a1}\t{a2}\t0.3\t50000\t0.02\t0.01\t1e-6\n")
    people = iids[:IMAGES]
    (root / "covariates.tsv").write_text(
        "FID\tIID\tsex\tage\theight\tbmi\tbatch\tcentre\n"
        + "".join(f"{i}\t{i}\t1\t55\t170\t26.1\tb1\t11010\n" for i in people)
    )
    (root / "disease.tsv").write_text(
        "FID\tIID\tdisease_at_assessment\tincident_5y\n"
        + "".join(f"{i}\t{i}\t{k % 7 == 0:d}\t0\n" for k, i in enumerate(people))
    )
    (root / "manifest.tsv").write_text(
        "IID\teye\tpath\n" + "".join(f"{i}\tleft\timages/{i}_21015_0_0.png\n" for i in people)
    )
    blow = ",".join(str(v) for v in range(0, 4000, 25))
    (root / "ukb_3066.tsv").write_text(
        "eid\t3066-0.0\t3066-0.1\t3066-0.2\n" + "".join(f"{i}\t{blow}\t{blow}\t\n" for i in people)
    )
    for name, column in (("cup_to_disc.tsv", "cup_to_disc"), ("fev1_fvc.tsv", "fev1_fvc")):
        (root / name).write_text(
            f"FID\tIID\t{column}\n" + "".join(f"{i}\t{i}\t0.4\n" for i in people)
        )
    (root / "dinov2_vitb14.safetensors").write_bytes(b"\x00" * 16)
    (root / "withdrawals.csv").write_text(f"{iids[-1]}\n")  # UK Biobank: one eid a line
    return {
        "bfile": str(root / "cohort"),
        "sumstats": str(root / "gwas.tsv.gz"),
        "covariates": str(root / "covariates.tsv"),
        "disease": str(root / "disease.tsv"),
        "fundus_manifest": str(root / "manifest.tsv"),
        "spirometry_table": str(root / "ukb_3066.tsv"),
        "exclude": str(root / "withdrawals.csv"),
    }


def write_imputed_bgen(root: Path) -> str:
    """UK Biobank's imputed layout, tiny: ukb22828_c{chrom}_b0_v3.bgen (8-bit, ref-first)
    and .sample per chromosome of ``IMPUTED`` for the people of write_ukb_files' .fam,
    written by plink2 from a PLINK 1 fileset; returns the {chrom} path."""
    bim = [
        f"{c}\timp{c}_{v}\t0\t{5_000 * (v + 1)}\tA\tG\n"
        for c, n in IMPUTED.items()
        for v in range(n)
    ]
    (root / "imputed.bim").write_text("".join(bim))
    (root / "imputed.fam").write_bytes((root / "cohort.fam").read_bytes())
    (root / "imputed.bed").write_bytes(
        bytes([0x6C, 0x1B, 0x01]) + bytes(math.ceil(GENOTYPED / 4) * len(bim))
    )
    for chrom in IMPUTED:
        out = root / f"ukb22828_c{chrom}_b0_v3"
        cmd = ["plink2", "--bfile", root / "imputed", "--chr", chrom, "--export", "bgen-1.2"]
        cmd += ["bits=8", "ref-first", "--out", out]
        done = subprocess.run(list(map(str, cmd)), capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    return str(root / "ukb22828_c{chrom}_b0_v3.bgen")


def template_on(tmp: Path, name: str) -> Path:
    """config/<name> with only its /data/... paths pointed at the tiny files."""
    files = write_ukb_files(tmp / "data")
    config = yaml.safe_load((REPO / "config" / name).read_text())
    data = config["data"]
    for key in files:
        if key in data:
            data[key] = files[key]
    data["clinical_marker"] = str(tmp / "data" / Path(data["clinical_marker"]).name)
    config["train"]["supervised_target"]["table"] = data["disease"]
    if "backbone" in config["train"]:
        config["train"]["backbone"]["path"] = str(tmp / "data" / "dinov2_vitb14.safetensors")
    out = tmp / name
    out.write_text(yaml.safe_dump(config))
    return out


def count(jobs: list[dict]) -> Counter:
    return Counter(job["rule"] for job in jobs)


@pytest.fixture(scope="module")
def imputed(tmp_path_factory) -> tuple[Path, dict]:
    """config/ukb_imputed.yaml with its BGEN paths at tiny plink2-written files."""
    tmp = tmp_path_factory.mktemp("imputed")
    path = template_on(tmp, "ukb_imputed.yaml")
    config = yaml.safe_load(path.read_text())
    bgen = write_imputed_bgen(tmp / "data")
    config["gwas"]["genotypes"].update(path=bgen, sample=bgen.replace(".bgen", ".sample"))
    path.write_text(yaml.safe_dump(config))
    return path, plan(tmp, path)


@pytest.fixture(scope="module")
def fundus(tmp_path_factory) -> tuple[Path, dict]:
    tmp = tmp_path_factory.mktemp("fundus")
    config = template_on(tmp, "ukb_fundus.yaml")
    return config, plan(tmp, config)


@pytest.fixture(scope="module")
def spirometry(tmp_path_factory) -> tuple[Path, dict]:
    tmp = tmp_path_factory.mktemp("spirometry")
    config = template_on(tmp, "ukb_spirometry.yaml")
    return config, plan(tmp, config)


@pytest.mark.parametrize(
    ("case", "methods"),
    [("fundus", 7), ("spirometry", 6)],
)
def test_template_plans_the_paper_jobs_and_schedule(case, methods, request):
    """5 splits: 25 trainings (5 trained methods), an export and an evaluation of every
    method and split, one GWAS scan per split and chromosome (for all methods), each
    training with the paper's schedule."""
    _, planned = request.getfixturevalue(case)
    jobs = count(planned["jobs"])
    assert jobs["train_model"] == 25
    assert jobs["export_embeddings"] == jobs["evaluate_run"] == 5 * methods
    assert jobs["gwas_chromosome"] == 5 * len(CHROMOSOMES)
    assert jobs["prepare_gwas"] == jobs["merge_gwas"] == 5 * methods
    assert "simulate_genetics" not in jobs
    trains = [job for job in planned["jobs"] if job["rule"] == "train_model"]
    assert {job["wildcards"]["method"] for job in trains} == TRAINED
    assert {job["wildcards"]["split"] for job in trains} == {"0", "1", "2", "3", "4"}
    for job in trains:
        assert {k: job["params"][k] for k in PAPER_TRAIN} == PAPER_TRAIN
        assert job["params"]["init_noise"] == 0.1


def test_imputed_template_plans_regenie_on_the_imputed_bgen(imputed):
    """REGENIE step 1 once a split (on the array), step 2 once a split and chromosome of
    the imputed BGEN files found by their {chrom} pattern (X too, absent from the
    array), the paper's 25 trainings, the withdrawal list an input."""
    path, planned = imputed
    config = planned["config"]
    assert config["gwas"]["engine"] == "regenie" and config["gwas"]["chunk_variants"] == 0
    assert config["data"]["exclude"].endswith("withdrawals.csv")
    jobs = count(planned["jobs"])
    assert jobs["train_model"] == 25 and jobs["regenie_step1"] == 5
    scans = [job["wildcards"] for job in planned["jobs"] if job["rule"] == "gwas_chromosome"]
    assert sorted((s["split"], s["chrom"]) for s in scans) == sorted(
        (str(k), c) for k in range(5) for c in IMPUTED
    )
    assert not [rule for rule in jobs if rule.startswith("simulate")]


def test_imputed_template_chunks_with_the_builtin_engine(imputed, tmp_path):
    """The template's SLURM alternative (engine builtin, chunk_variants): one scan per
    split, chromosome and chunk of the BGEN's variants, merged per method; no step 1."""
    path, _ = imputed
    chunked = tmp_path / "chunked.yaml"
    chunked.write_text(yaml.safe_dump({"gwas": {"engine": "builtin", "chunk_variants": 4}}))
    planned = plan(tmp_path, path, chunked)
    jobs, methods = count(planned["jobs"]), len(planned["config"]["methods"])
    chunks = sum(-(-n // 4) for n in IMPUTED.values())  # 2 + 2 + 1
    assert jobs["gwas_chromosome"] == 5 * chunks
    assert jobs["merge_gwas_chunks"] == 5 * methods * len(IMPUTED)
    assert "regenie_step1" not in jobs


@pytest.mark.parametrize("case", ["fundus", "spirometry", "imputed"])
def test_demo_config_is_not_merged_into_a_template(case, request):
    """The workflow's config is exactly the template with the schema's defaults: none of
    the demo's keys (2 splits, 20 epochs, width 16, lr 1e-3, init noise 1.0, 5 L2
    strengths, 64 px photographs) leaks in."""
    path, planned = request.getfixturevalue(case)
    expected = load_config(yaml.safe_load(path.read_text()), SCHEMA)
    assert planned["config"] == json.loads(json.dumps(expected))
    demo = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    train = planned["config"]["train"]
    assert train["width"] != demo["train"]["width"]
    assert train["init_noise"] != demo["train"]["init_noise"]
    assert planned["config"]["evaluate"]["n_cs"] != demo["evaluate"]["n_cs"]
    assert planned["config"]["splits"]["n_splits"] == 5


def test_gwas_memory_counts_the_held_out_people(fundus):
    """gwas_chromosome asks for the held-out half of the analysed people (1,000 images:
    500), not the 40,000 of the .fam; re-derived here from the formula's terms."""
    _, planned = fundus
    jobs = [job for job in planned["jobs"] if job["rule"] == "gwas_chromosome"]
    assert jobs
    # gwas.n_components (the embeddings' top PCs tested); the builtin engine's CPU block
    dim, block, methods = 10, 512, 7

    def expected(people: int, variants: int, attempt: int) -> int:
        decoded = 40 * people * block + GENOTYPED / 4 * block
        models = 16 * people * (dim + 40) * methods  # phenotypes and null model a method
        results = (165 + 24 * dim * methods) * variants
        return math.ceil(attempt * (1000 + (decoded + models + results) / 1e6))

    for job in jobs:
        variants = CHROMOSOMES[job["wildcards"]["chrom"]]
        for attempt in ("1", "2", "3"):
            got = job["resources"][attempt]["mem_mb"]
            assert got == expected(IMAGES // 2, variants, int(attempt))
            assert got < expected(GENOTYPED, variants, int(attempt))


def test_no_configfile_runs_the_demo(tmp_path):
    """Without --configfile the demo is the configuration: 2 splits, 20 epochs."""
    planned = plan(tmp_path)
    trains = [job for job in planned["jobs"] if job["rule"] == "train_model"]
    assert len(trains) == 2 * 5
    assert {job["params"]["epochs"] for job in trains} == {20}
    assert count(planned["jobs"])["simulate_genetics"] == 1


def test_configfiles_named_together_still_layer(tmp_path):
    """Layering stays possible by naming both files (as tests/test_workflow.py does)."""
    extra = tmp_path / "three_splits.yaml"
    extra.write_text("splits:\n  n_splits: 3\n")
    planned = plan(tmp_path, REPO / "config" / "config.yaml", extra)
    trains = [job for job in planned["jobs"] if job["rule"] == "train_model"]
    assert len(trains) == 3 * 5
    assert {job["params"]["epochs"] for job in trains} == {20}


@pytest.mark.parametrize(
    ("name", "runs", "epochs", "batch"),
    # paper: 4 methods x 5 seeds x (1 default point + 3 x 3 swept values); CPU: the
    # default point for 4 methods and the sweeps for 2, 3 seeds (42 runs: README)
    [("paper_fig2.yaml", 4 * 5 * 10, 150, 1024), ("fig2_cpu.yaml", 42, 8, 256)],
)
def test_fig2_configs_plan_their_runs(tmp_path, name, runs, epochs, batch):
    planned = plan(tmp_path, REPO / "config" / name, target="fig2")
    points = [job for job in planned["jobs"] if job["rule"] == "rotation_point"]
    assert len(points) == runs
    for job in points:
        assert job["params"]["train"]["epochs"] == epochs
        assert job["params"]["train"]["batch_size"] == batch
    assert "simulate_genetics" not in count(planned["jobs"])
