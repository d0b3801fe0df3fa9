"""REGENIE engine on real REGENIE v4.1.2 output (shared/fixtures/regenie)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2

from gemcont.errors import ConfigError, InputError
from gemcont.gwas.engines.plink2 import ToolError, run_glm
from gemcont.gwas.engines.regenie import (
    read_regenie,
    read_ydict,
    regenie_binary,
    run_regenie,
    step1_command,
    step2_command,
    step2_outputs,
)
from gemcont.gwas.multitrait import score_z_from_t
from gemcont.io.plink import read_bim
from gemcont.io.sumstats import SINGLE_TRAIT_COLUMNS

from .conftest import shared_dir

TRAITS = ["Y1", "Y2"]
N_SAMPLES, N_COVARIATES = 500, 3


@pytest.fixture(scope="module")
def fx() -> Path:
    return shared_dir() / "fixtures" / "regenie"


@pytest.fixture(scope="module")
def bim(fx: Path) -> pd.DataFrame:
    return read_bim(fx / "input" / "example.bim")


def _split(fx: Path, prefix: str, bim: pd.DataFrame) -> pd.DataFrame:
    paths = step2_outputs(fx / "step2" / prefix, TRAITS)
    return pd.concat(
        [read_regenie(p, t, bim) for p, t in zip(paths, TRAITS, strict=True)], ignore_index=True
    )


def test_read_regenie__all_fixture_files(fx: Path, bim: pd.DataFrame) -> None:
    for prefix in ("assoc", "plain"):
        df = _split(fx, prefix, bim)
        assert list(df.columns) == [*SINGLE_TRAIT_COLUMNS, "CHISQ", "LOG10P", "Z", "TRAIT"]
        np.testing.assert_allclose(df["Z"] ** 2, df["CHISQ"], rtol=2e-5)  # BETA/SE: score z
        assert df.groupby("TRAIT").size().to_dict() == {"Y1": 500, "Y2": 500}
        assert (df["N"] == N_SAMPLES).all() and df["P"].between(0, 1).all()
        np.testing.assert_allclose(-np.log10(df["P"]), df["LOG10P"], rtol=1e-12)
        y1 = df[df["TRAIT"] == "Y1"].reset_index(drop=True)
        assert (y1["EA"] == bim["A1"]).all() and (y1["OA"] == bim["A2"]).all()
        assert (y1["CHR"] == bim["CHR"]).all() and (y1["POS"] == bim["POS"]).all()
    first = read_regenie(fx / "step2" / "assoc_Y1.regenie")
    assert first["TRAIT"].iloc[0] == "assoc_Y1"
    assert first["BETA"].iloc[1] == -0.0749408 and first["EAF"].iloc[1] == 0.076


def test_read_regenie__nosplit_matches_split(fx: Path, bim: pd.DataFrame) -> None:
    nosplit = read_regenie(fx / "step2_nosplit" / "assoc.regenie.gz", bim=bim)
    split = _split(fx, "assoc", bim)
    pd.testing.assert_frame_equal(nosplit, split)


def _plink2_glm(fx: Path, bim: pd.DataFrame, out: Path) -> pd.DataFrame:
    inp = fx / "input"
    return run_glm(
        inp / "example", inp / "phenotype.txt", out, TRAITS, bim, covar=inp / "covariates.txt"
    )


def test_read_regenie__plain_agrees_with_plink2(fx: Path, bim: pd.DataFrame, tmp_path) -> None:
    """REGENIE --ignore-pred = OLS on covariates: same BETA as plink2 --glm.

    Its test differs from plink2's Wald t: the residual variance is the null model's
    (covariates only, N - 1 - C df) and p comes from chi2_1, so
    CHISQ = T^2 (N - 1 - C) / (N - 2 - C + T^2). Measured on the fixture: BETA equal
    to all printed digits, raw |delta -log10 p| <= 0.014, after converting T <= 1e-5.
    """
    regenie = _split(fx, "plain", bim)
    plink = _plink2_glm(fx, bim, tmp_path / "glm")
    m = regenie.merge(plink, on=["TRAIT", "ID"], suffixes=("", "_plink"), validate="1:1")
    assert len(m) == 1000 and (m["EA"] == m["EA_plink"]).all()
    np.testing.assert_allclose(m["BETA"], m["BETA_plink"], rtol=1e-3)
    raw = np.abs(m["LOG10P"] + np.log10(m["P_plink"]))
    assert raw.max() < 0.02
    t2 = m["T"] ** 2
    df_null = N_SAMPLES - 1 - N_COVARIATES
    converted = t2 * df_null / (df_null - 1 + t2)
    np.testing.assert_allclose(converted, m["CHISQ"], rtol=1e-3)
    log10p = -chi2.logsf(converted, 1) / np.log(10)
    assert np.abs(log10p - m["LOG10P"]).max() <= 0.01
    # the multi-trait input of both engines is this score z: REGENIE's BETA/SE, plink2's
    # t converted by the one formula (score_z_from_t)
    z_plink = score_z_from_t(m["T"].to_numpy(), N_SAMPLES - 2 - N_COVARIATES)
    np.testing.assert_allclose(z_plink, m["Z"], rtol=1e-4, atol=1e-5)


def test_read_regenie__only_add_rows(tmp_path: Path) -> None:
    path = tmp_path / "x_Y1.regenie"
    path.write_text(
        "CHROM GENPOS ID ALLELE0 ALLELE1 A1FREQ N TEST BETA SE CHISQ LOG10P EXTRA\n"
        "1 5 rs1 A G 0.1 10 ADD 0.5 0.1 25 6 NA\n"
        "1 5 rs1 A G 0.1 10 DOM 0.2 0.1 4 1.3 NA\n"
        "1 9 rs2 C T 0.3 10 ADD NA NA NA NA TEST_FAIL\n"
    )
    df = read_regenie(path, "Y1")
    assert df["ID"].tolist() == ["rs1", "rs2"]
    assert df["P"].iloc[0] == pytest.approx(1e-6) and np.isnan(df["P"].iloc[1])
    assert df["EA"].tolist() == ["G", "T"] and df["OA"].tolist() == ["A", "C"]


def test_read_regenie__missing_columns_raises(tmp_path: Path) -> None:
    path = tmp_path / "x.regenie"
    path.write_text(
        "CHROM GENPOS ID ALLELE0 ALLELE1 A1FREQ N TEST BETA SE\n1 1 a A G 0.1 9 ADD 1 1\n"
    )
    with pytest.raises(InputError, match=r"missing columns \['CHISQ', 'LOG10P'\]"):
        read_regenie(path)


def test_read_regenie__effect_allele_mismatch_raises(fx: Path, bim: pd.DataFrame) -> None:
    swapped = bim.assign(A1=bim["A2"], A2=bim["A1"])
    with pytest.raises(InputError, match="not .bim column 5"):
        read_regenie(fx / "step2" / "assoc_Y1.regenie", "Y1", swapped)


def test_read_ydict__malformed_raises(tmp_path: Path) -> None:
    path = tmp_path / "a.regenie.Ydict"
    path.write_text("Y1 trait one\n")
    with pytest.raises(InputError, match="2-column"):
        read_ydict(path)


def _readme_commands(fx: Path) -> list[list[str]]:
    """The complete regenie commands of the fixture README (continuations joined)."""
    block = (fx / "README.md").read_text().split("```")[1]
    lines = block.replace("\\\n", " ").splitlines()
    return [
        shlex.split(line)[1:] for line in lines if line.startswith("regenie") and "..." not in line
    ]


def _log_options(log: Path) -> list[str]:
    """The 'Options in effect' of a REGENIE log as an argument list."""
    block = log.read_text().split("Options in effect:")[1].split("\n\n")[0]
    return shlex.split(re.sub(r"\\\n", " ", block))


INPUT = {"bed": "input/example", "pheno_file": "input/phenotype.txt"}
STEP2_INPUT = {"genotypes": "input/example", "pheno_file": "input/phenotype.txt"}
COMMON = {"covar_file": "input/covariates.txt", "pheno_cols": TRAITS}


def test_step1_command__matches_fixture_readme_and_log(fx: Path) -> None:
    cmd = step1_command(**INPUT, out="step1/fit", **COMMON, bsize=100)
    assert cmd[0] == "regenie"
    assert cmd[1:] == _readme_commands(fx)[0] == _log_options(fx / "step1" / "fit.log")


def test_step2_command__matches_fixture_readme_and_logs(fx: Path) -> None:
    pred = "step1/fit_pred.list"
    assoc = step2_command(**STEP2_INPUT, out="step2/assoc", pred=pred, **COMMON, bsize=200)
    nosplit = step2_command(
        **STEP2_INPUT,
        out="step2_nosplit/assoc",
        pred=pred,
        **COMMON,
        bsize=200,
        no_split=True,
        gz=True,
    )
    plain = step2_command(**STEP2_INPUT, out="step2/plain", pred=None, **COMMON, bsize=200)
    assert assoc[1:] == _readme_commands(fx)[1] == _log_options(fx / "step2" / "assoc.log")
    assert nosplit[1:] == _log_options(fx / "step2_nosplit" / "assoc.log")
    assert plain[1:] == _log_options(fx / "step2" / "plain.log")


def test_step1_command__lowmem_and_threads() -> None:
    cmd = step1_command("b", "p", "o/fit", bsize=1000, lowmem_prefix="o/tmp", threads=8, binary="r")
    assert cmd == [
        "r",
        "--step",
        "1",
        "--bed",
        "b",
        "--phenoFile",
        "p",
        "--qt",
        "--bsize",
        "1000",
        "--lowmem",
        "--lowmem-prefix",
        "o/tmp",
        "--use-relative-path",
        "--threads",
        "8",
        "--out",
        "o/fit",
    ]


def test_step2_command__per_chromosome() -> None:
    cmd = step2_command("b", "p", "o/c7", pred="o/fit_pred.list", chrom="7", threads=2, gz=True)
    assert cmd[cmd.index("--chr") + 1] == "7"
    assert cmd[-7:] == ["--pred", "o/fit_pred.list", "--gz", "--threads", "2", "--out", "o/c7"]
    assert "--ignore-pred" not in cmd


def test_step2_outputs__layouts() -> None:
    assert step2_outputs("o/a", ["Y0", "Y1"]) == [Path("o/a_Y0.regenie"), Path("o/a_Y1.regenie")]
    assert step2_outputs("o/a", ["Y0"], no_split=True, gz=True) == [Path("o/a.regenie.gz")]


def test_regenie_binary__missing_names_config_key_and_env() -> None:
    with pytest.raises(ConfigError, match=r"gwas\.regenie\.binary.*envs/gemcont\.yaml"):
        regenie_binary("/nonexistent/regenie")


def test_run_regenie__failure_reports_log_tail(tmp_path: Path) -> None:
    fake = tmp_path / "regenie"
    fake.write_text('#!/bin/sh\necho "ERROR: phenotype file has no Y9" > "$1.log"\nexit 1\n')
    fake.chmod(0o755)
    out = tmp_path / "run" / "fit"
    with pytest.raises(ToolError, match="status 1(.|\n)*ERROR: phenotype file has no Y9"):
        run_regenie([regenie_binary(str(fake)), str(out)], out)


def test_run_regenie__failure_without_log_reports_stderr(tmp_path: Path) -> None:
    fake = tmp_path / "regenie"
    fake.write_text('#!/bin/sh\necho "cannot open input/example.bed" >&2\nexit 2\n')
    fake.chmod(0o755)
    with pytest.raises(ToolError, match="status 2(.|\n)*cannot open input/example.bed"):
        run_regenie([str(fake)], tmp_path / "o")
