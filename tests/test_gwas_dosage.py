"""GWAS on imputed dosages (issue 17, item 4): the built-in engine on PGEN and BGEN
against ``plink2 --glm`` on the same files, the plink2 and REGENIE step 2 command lines
for those formats, and chunked scans merged byte for byte into one chromosome's files.

The cohort is made as a user's imputed data would be: genotype probabilities (hard
calls blurred by imputation noise) imported by plink2 (``--import-dosage``) into a
.pgen, then exported by plink2 as BGEN 1.2 8-bit, ``ref-first`` and REF-last.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gemcont.errors import ConfigError, InputError
from gemcont.gwas.covariates import write_covariates
from gemcont.gwas.engines.plink2 import glm_command
from gemcont.gwas.engines.regenie import read_regenie, step2_command
from gemcont.gwas.genotypes import Chunk, GwasGenotypes, chunk_rows, n_chunks
from gemcont.gwas.inputs import residual_correlation
from gemcont.gwas.joint import MethodGwas
from gemcont.gwas.prepare import prepare_phenotypes, write_correlation, write_phenotypes
from gemcont.gwas.settings import GenotypeSettings, gwas_settings
from gemcont.gwas.stage import merge_chunks, run_chromosome, run_split_chromosome
from gemcont.io.bgen import Bgen
from gemcont.settings import build
from tests.conftest import shared_dir
from tests.plink2_files import import_dosage, plink2

N, CHROMS, N_EMB = 600, {"1": 70, "2": 50}, 4
CFG = {"min_maf": 0.01, "min_mac": 5, "block_size": 16, "device": "cpu"}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """600 people x 120 imputed variants on chromosomes 1 and 2 (PGEN, two BGENs), three
    planted effects, prepared GWAS inputs."""
    root = tmp_path_factory.mktemp("dosage_gwas")
    rng = np.random.default_rng(4)
    iids = [str(2000001 + k) for k in range(N)]
    psam = pd.DataFrame({"#FID": iids, "IID": iids, "SEX": rng.integers(1, 3, N)})
    lines = []
    dosage_of = {}
    for chrom, m in CHROMS.items():
        for j in range(m):
            calls = rng.binomial(2, rng.uniform(0.05, 0.5), N)
            probs = 0.85 * np.eye(3)[calls] + 0.15 * rng.dirichlet([1, 1, 1], N)
            probs = np.round(probs, 4)
            probs[:, 2] = 1 - probs[:, 0] - probs[:, 1]
            snp = f"rs{chrom}_{j}"
            dosage_of[snp] = probs[:, 1] + 2 * probs[:, 0]  # of --import-dosage's A1
            alleles = rng.choice(list("ACGT"), 2, replace=False)
            values = [f"{p:.4f}" for p in probs.reshape(-1)]
            lines.append("\t".join([chrom, str(1000 + 100 * j), snp, *alleles, *values]))
    pgen = import_dosage(root, psam, lines, "imputed")
    plink2("--pfile", pgen, "--export", "bgen-1.2", "bits=8", "ref-first", "--out", root / "first")
    plink2("--pfile", pgen, "--export", "bgen-1.2", "bits=8", "--out", root / "last")
    plink2("--pfile", pgen, "--make-bed", "--out", root / "calls")
    covar = pd.DataFrame(
        {"FID": iids, "IID": iids, "age": rng.uniform(40, 70, N), "sex": psam["SEX"] - 1.0}
    )
    write_covariates(covar, root / "covar.tsv")
    emb = covar[["FID", "IID"]].assign(set="heldout")
    values = rng.normal(size=(N, N_EMB)) + 0.02 * covar[["age"]].to_numpy()
    for k, snp in enumerate(["rs1_5", "rs1_40", "rs2_7"]):
        g = dosage_of[snp]
        values[:, k] += 0.4 * (g - g.mean()) / g.std()
    emb[[f"e_{i}" for i in range(N_EMB)]] = values
    pheno_df, _ = prepare_phenotypes(emb, n_components=None)
    write_phenotypes(pheno_df, root / "pheno.tsv")
    write_correlation(residual_correlation(pheno_df, covar), root / "corr.tsv")
    return {"root": root, "pgen": f"{pgen}.pgen", "bed": str(root / "calls")}


def genotypes(cohort: dict, kind: str) -> GwasGenotypes:
    """The cohort's file set as gwas.genotypes names it."""
    root = cohort["root"]
    path = {"pgen": cohort["pgen"], "bed": cohort["bed"]}.get(kind, str(root / f"{kind}.bgen"))
    ref = "ref-last" if kind == "last" else "ref-first"
    values = {"path": path, "sample": None, "bgen_ref": ref, "mfi": None}
    return GwasGenotypes.configured(build(GenotypeSettings, values, "gwas.genotypes"), "unused")


def scan(cohort: dict, kind: str, engine: str, chrom: str, out: Path, **cfg: object) -> Path:
    """One chromosome with ``engine``; the per-dimension and multi-trait files in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    root = cohort["root"]
    files = (out / f"{chrom}.per_dim.tsv.gz", out / f"{chrom}.multi.tsv.gz")
    settings = gwas_settings({**CFG, **cfg, "engine": engine})
    run_chromosome(
        settings,
        genotypes(cohort, kind),
        root / "pheno.tsv",
        root / "covar.tsv",
        root / "corr.tsv",
        chrom,
        files,
        2,
        out / "work",
    )
    return out


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype={"CHR": str, "ID": str})


# --- built-in on dosages against plink2 --glm on the same file -----------------------


@pytest.mark.parametrize("kind", ["pgen", "first", "last"])
def test_builtin_on_dosages_agrees_with_plink2_glm(cohort: dict, kind: str) -> None:
    """PGEN (--pfile) and BGEN 8-bit (--bgen ... ref-first/ref-last --sample): same
    variants and effect alleles, -log10 P to 0.01, BETA to 1e-4 relative.

    BGEN: plink2 imports each 8-bit dosage onto its 1/16384 grid (up to 3e-5 off the
    exact k/255 the built-in engine reads), which moves every BETA by ~1e-4 of its SE:
    relative 1e-4 then holds where the effect is clear of zero (|t| > 5, the planted
    ones), and every BETA within 1e-3 SE. PGEN stores that grid, so all agree."""
    root = cohort["root"] / f"agree_{kind}"
    for chrom in CHROMS:
        name = f"{chrom}.per_dim.tsv.gz"
        ours = read(scan(cohort, kind, "builtin", chrom, root / "builtin") / name)
        theirs = read(scan(cohort, kind, "plink2", chrom, root / "plink2") / name)
        assert len(ours) == len(theirs) == CHROMS[chrom] * N_EMB  # every variant passes
        both = ours.merge(theirs, on=["ID", "TRAIT"], suffixes=("", "_plink2"), validate="1:1")
        assert (both["EA"] == both["EA_plink2"]).all()
        assert (both["POS"] == both["POS_plink2"]).all()
        assert np.abs(both["LOG10P"] - both["LOG10P_plink2"]).max() <= 0.01
        clear = (both["BETA"] / both["SE"]).abs() > (0 if kind == "pgen" else 5)
        assert clear.sum() >= (len(both) if kind == "pgen" else 2)
        np.testing.assert_allclose(both["BETA"][clear], both["BETA_plink2"][clear], rtol=1e-4)
        np.testing.assert_allclose(both["SE"], both["SE_plink2"], rtol=1e-4)
        assert ((both["BETA"] - both["BETA_plink2"]).abs() <= 1e-3 * both["SE"]).all()
        assert both["LOG10P"].max() > 8  # the planted effects are tested too
    with Bgen(root.parent / "last.bgen", root.parent / "last.sample", ref="ref-last") as last:
        with Bgen(root.parent / "first.bgen", root.parent / "first.sample") as first:
            assert (last.bim["A1"] == first.bim["A1"]).all()  # plink2 wrote REF last / first


def test_chunks_merge_byte_for_byte_into_one_scan(cohort: dict) -> None:
    """Chunks of 32 variants (blocks of 16) of chromosome 1 (70 variants: 32, 32, 6),
    merged, are the bytes of one scan of the chromosome: dosages and the .bed path."""
    root = cohort["root"] / "chunks"
    assert n_chunks(70, 32) == 3 and [c.size for c in chunk_rows(70, 32)] == [32, 32, 6]
    for kind in ("pgen", "bed"):
        whole = scan(cohort, kind, "builtin", "1", root / kind / "whole")
        parts = []
        for chunk in range(3):
            out = root / kind / f"chunk{chunk}"
            out.mkdir(parents=True)
            files = (out / "per_dim.tsv.gz", out / "multi.tsv.gz")
            c = cohort["root"]
            method = MethodGwas("m", c / "pheno.tsv", c / "covar.tsv", c / "corr.tsv", files)
            settings = gwas_settings({**CFG, "engine": "builtin", "chunk_variants": 32})
            run_split_chromosome(
                settings, genotypes(cohort, kind), [method], "1", 2, out, chunk=Chunk(chunk, 3)
            )
            parts.append(files)
        for k, name in enumerate(("per_dim", "multi")):
            merge_chunks([p[k] for p in parts], root / kind / f"merged.{name}.tsv.gz")
            merged = (root / kind / f"merged.{name}.tsv.gz").read_bytes()
            assert merged == (whole / f"1.{name}.tsv.gz").read_bytes()
        last = read(parts[2][1])
        assert last["POS"].tolist() == [1000 + 100 * j for j in range(64, 70)]  # the last 6


def test_chunk_past_the_chromosome_end_is_refused(cohort: dict, tmp_path: Path) -> None:
    c = cohort["root"]
    files = (tmp_path / "a.tsv.gz", tmp_path / "b.tsv.gz")
    method = MethodGwas("m", c / "pheno.tsv", c / "covar.tsv", c / "corr.tsv", files)
    settings = gwas_settings({**CFG, "engine": "builtin", "chunk_variants": 32})
    with pytest.raises(InputError) as err:
        run_split_chromosome(
            settings, genotypes(cohort, "pgen"), [method], "2", 2, tmp_path, chunk=Chunk(2, 3)
        )
    assert str(err.value) == (
        f"{cohort['pgen']}: has 50 variants on this chromosome, 2 chunks of 32 variants, "
        "but the workflow planned 3 chunks (this job: chunk 2). "
        "Fix: the genotypes changed since the jobs were planned: rerun snakemake"
    )
    # more variants than planned: the planned chunks' merge would miss the tail
    with pytest.raises(InputError, match="2 chunks of 32 variants, but the workflow planned 1"):
        run_split_chromosome(
            settings, genotypes(cohort, "pgen"), [method], "2", 2, tmp_path, chunk=Chunk(0, 1)
        )
    with pytest.raises(ConfigError, match="builtin engine only, not plink2: set it to 0"):
        plink2_settings = gwas_settings({**CFG, "engine": "plink2", "chunk_variants": 32})
        run_split_chromosome(
            plink2_settings,
            genotypes(cohort, "pgen"),
            [method],
            "2",
            2,
            tmp_path,
            chunk=Chunk(0, 2),
        )


def test_merge_chunks__other_header_refused(cohort: dict, tmp_path: Path) -> None:
    whole = scan(cohort, "pgen", "builtin", "2", tmp_path / "whole")
    with pytest.raises(InputError, match="header differs from"):
        merge_chunks([whole / "2.per_dim.tsv.gz", whole / "2.multi.tsv.gz"], tmp_path / "x.gz")


# --- command lines -----------------------------------------------------------------


def test_glm_command__pfile_and_bgen(cohort: dict) -> None:
    root = cohort["root"]
    pfile = glm_command(genotypes(cohort, "pgen"), "p", "o", pheno_names=["Y0"], chrom="1")
    assert pfile[:3] == ["plink2", "--pfile", str(root / "imputed")]
    bgen = glm_command(genotypes(cohort, "last"), "p", "o", pheno_names=["Y0"], chrom="1")
    assert bgen[:6] == [
        "plink2",
        "--bgen",
        str(root / "last.bgen"),
        "ref-last",
        "--sample",
        str(root / "last.sample"),
    ]
    per_chrom = GwasGenotypes("/ukb/c{chrom}.bgen", "bgen", "/ukb/c{chrom}.sample")
    assert glm_command(per_chrom, "p", "o", pheno_names=["Y0"], chrom="X")[1:6] == [
        "--bgen",
        "/ukb/cX.bgen",
        "ref-first",
        "--sample",
        "/ukb/cX.sample",
    ]


def _log_options(log: Path) -> list[str]:
    block = log.read_text().split("Options in effect:")[1].split("\n\n")[0]
    return shlex.split(block.replace("\\\n", " "))


def test_regenie_step2_command__bgen_and_pgen_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    """Exact command lines; the fixture's REGENIE v4.1.2 runs on BGEN and PGEN (logs in
    shared/fixtures/regenie) took the same options (the BGEN one without --bgi, which
    it then found by itself)."""
    fx = shared_dir() / "fixtures" / "regenie"
    monkeypatch.chdir(fx)  # the .bgi is looked up where the command runs
    common = {
        "pheno_file": "input/phenotype.txt",
        "covar_file": "input/covariates.txt",
        "pheno_cols": ["Y1", "Y2"],
        "bsize": 200,
    }
    bgen = GwasGenotypes("input/example.bgen", "bgen", "input/example.sample", "ref-last")
    cmd = step2_command(bgen, out="step2_bgen/assoc", pred="step1/fit_pred.list", **common)
    assert cmd == [
        "regenie",
        "--step",
        "2",
        "--bgen",
        "input/example.bgen",
        "--sample",
        "input/example.sample",
        "--bgi",
        "input/example.bgen.bgi",
        "--covarFile",
        "input/covariates.txt",
        "--phenoFile",
        "input/phenotype.txt",
        "--phenoColList",
        "Y1,Y2",
        "--qt",
        "--bsize",
        "200",
        "--pred",
        "step1/fit_pred.list",
        "--out",
        "step2_bgen/assoc",
    ]
    assert cmd[1:7] + cmd[9:] == _log_options(fx / "step2_bgen" / "assoc.log")
    pgen = GwasGenotypes("input/example.pgen", "pgen")
    cmd = step2_command(pgen, out="step2_pgen/assoc", pred="step1/fit_pred.list", **common)
    assert cmd[:5] == ["regenie", "--step", "2", "--pgen", "input/example"]
    assert cmd[1:] == _log_options(fx / "step2_pgen" / "assoc.log")
    ukb = GwasGenotypes("/ukb/ukb22828_c{chrom}_b0_v3.bgen", "bgen", "/ukb/c{chrom}.sample")
    cmd = step2_command(ukb, "p", "o/c7", pred="o/fit_pred.list", chrom="7", threads=2)
    assert cmd == [
        "regenie",
        "--step",
        "2",
        "--bgen",
        "/ukb/ukb22828_c7_b0_v3.bgen",
        "--sample",
        "/ukb/c7.sample",
        "--ref-first",
        "--chr",
        "7",
        "--phenoFile",
        "p",
        "--qt",
        "--bsize",
        "400",
        "--pred",
        "o/fit_pred.list",
        "--threads",
        "2",
        "--out",
        "o/c7",
    ]


def test_regenie_bgen_output_counts_the_first_allele_without_ref_first() -> None:
    """REGENIE's ALLELE1 on the fixture's BGEN (run without --ref-first) is our A1 under
    ref-last, so ``bgen_ref: ref-first`` must pass --ref-first: checked on its output."""
    fx = shared_dir() / "fixtures" / "regenie"
    path = fx / "step2_bgen" / "assoc_Y1.regenie"
    sample = fx / "input" / "example.sample"
    with Bgen(fx / "input" / "example.bgen", sample, ref="ref-last") as last:
        assert len(read_regenie(path, "Y1", last.bim)) == 500
    with Bgen(fx / "input" / "example.bgen", sample, ref="ref-first") as first:
        with pytest.raises(InputError, match="500 variants have an effect allele"):
            read_regenie(path, "Y1", first.bim)


def test_configured__paths_and_formats() -> None:
    def of(path: str | None, sample: str | None = None) -> GwasGenotypes:
        values = {"path": path, "sample": sample, "bgen_ref": "ref-first", "mfi": None}
        return GwasGenotypes.configured(build(GenotypeSettings, values, "g"), "data/cohort")

    assert of(None) == GwasGenotypes("data/cohort", "bed")
    assert of("imp/c{chrom}.bed") == GwasGenotypes("imp/c{chrom}", "bed")
    assert of("imp/all.pgen").files("1") == ["imp/all.pgen", "imp/all.pvar", "imp/all.psam"]
    ukb = of("imp/ukb22828_c{chrom}_b0_v3.bgen", "imp/ukb22828_c{chrom}_b0_v3_s487160.sample")
    assert ukb.files("X") == [
        "imp/ukb22828_cX_b0_v3.bgen",
        "imp/ukb22828_cX_b0_v3_s487160.sample",
    ]
    assert of("imp/c{chrom}.bgen").sample == "imp/c{chrom}.sample"
