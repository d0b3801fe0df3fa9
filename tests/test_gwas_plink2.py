"""PLINK 2 engine: command line, column names accepted by the installed plink2, A1."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gemcont.errors import ConfigError, InputError
from gemcont.gwas.engines.plink2 import (
    GLM_COLS,
    ToolError,
    check_effect_allele,
    find_binary,
    glm_command,
    read_glm,
    run_glm,
    run_tool,
)
from gemcont.io.plink import Genotypes, read_bim
from gemcont.io.sumstats import SINGLE_TRAIT_COLUMNS

from .conftest import shared_dir


@pytest.fixture(scope="module")
def fixture_input() -> Path:
    return shared_dir() / "fixtures" / "regenie" / "input"


def test_glm_command__all_options() -> None:
    cmd = glm_command(
        "g/b",
        "p.txt",
        "o/x",
        pheno_names=["Y0", "Y1"],
        covar="c.txt",
        chrom="7",
        maf=0.01,
        mac=20,
        threads=4,
        binary="/bin/plink2",
    )
    assert cmd == [
        "/bin/plink2",
        "--bfile",
        "g/b",
        "--pheno",
        "p.txt",
        "--pheno-name",
        "Y0,Y1",
        "--covar",
        "c.txt",
        "--covar-variance-standardize",
        "--glm",
        "omit-ref",
        "hide-covar",
        "no-x-sex",
        "cols=" + ",".join(GLM_COLS),
        "--xchr-model",
        "2",
        "--chr",
        "7",
        "--maf",
        "0.01",
        "--mac",
        "20",
        "--threads",
        "4",
        "--out",
        "o/x",
    ]


def test_glm_command__col_nums_as_ranges() -> None:
    cmd = glm_command("b", "p", "o", pheno_col_nums=[7, 3, 4, 5, 9, 10], covar="c")
    assert cmd[cmd.index("--pheno-col-nums") + 1] == "3-5,7,9-10"


def test_glm_command__no_covar_allows_no_covars() -> None:
    cmd = glm_command("b", "p", "o", pheno_names=["Y1"])
    assert "allow-no-covars" in cmd
    assert "--covar" not in cmd and "--covar-variance-standardize" not in cmd


def test_glm_command__both_pheno_selectors_raises() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        glm_command("b", "p", "o", pheno_names=["Y1"], pheno_col_nums=[3])


def test_glm_command__columns_accepted_by_installed_plink2(
    fixture_input: Path, tmp_path: Path
) -> None:
    cmd = glm_command(
        fixture_input / "example",
        fixture_input / "phenotype.txt",
        tmp_path / "o",
        pheno_col_nums=[3],
        covar=fixture_input / "covariates.txt",
        threads=1,
    )
    cmd[0] = find_binary(None, "plink2", "gwas.plink2.binary", "envs/gemcont.yaml")
    run_tool(cmd, tmp_path / "o.log")
    header = (tmp_path / "o.Y1.glm.linear").read_text().splitlines()[0].split("\t")
    expected = "#CHROM POS ID REF ALT A1 A1_FREQ TEST OBS_CT BETA SE T_STAT P"
    assert header == expected.split()


def _swap_bim(src: Path, dst: Path) -> pd.DataFrame:
    """Copy a fileset with the .bim allele labels 5 and 6 swapped (same .bed bits)."""
    for ext in ("bed", "fam"):
        shutil.copy(src.with_suffix(f".{ext}"), dst.with_suffix(f".{ext}"))
    bim = read_bim(src.with_suffix(".bim"))
    bim[["A1", "A2"]] = bim[["A2", "A1"]].to_numpy()
    bim.to_csv(dst.with_suffix(".bim"), sep="\t", header=False, index=False)
    return bim


def _ols_beta_a1(prefix: Path, covar: Path, pheno: Path, trait: str) -> np.ndarray:
    """Per-variant OLS slope on the bed-reader count_A1=True dosage, with covariates."""
    with Genotypes(prefix) as geno:
        dosage = geno.read(dtype="float64")
    x = pd.read_csv(covar, sep=r"\s+").iloc[:, 2:].to_numpy()
    x = np.column_stack([np.ones(len(x)), x])
    y = pd.read_csv(pheno, sep=r"\s+")[trait].to_numpy()
    g = dosage - x @ np.linalg.lstsq(x, dosage, rcond=None)[0]
    r = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
    return (g * r[:, None]).sum(0) / (g * g).sum(0)


def test_run_glm__effect_allele_is_bim_column5(fixture_input: Path, tmp_path: Path) -> None:
    covar, pheno = fixture_input / "covariates.txt", fixture_input / "phenotype.txt"
    bim = read_bim(fixture_input / "example.bim")
    base = run_glm(fixture_input / "example", pheno, tmp_path / "a", ["Y1", "Y2"], bim, covar=covar)
    swapped_bim = _swap_bim(fixture_input / "example", tmp_path / "swapped")
    swapped = run_glm(tmp_path / "swapped", pheno, tmp_path / "b", ["Y1"], swapped_bim, covar=covar)

    assert list(base.columns[:10]) == SINGLE_TRAIT_COLUMNS
    assert base.groupby("TRAIT").size().to_dict() == {"Y1": 500, "Y2": 500}
    y1 = base[base["TRAIT"] == "Y1"].reset_index(drop=True)
    assert (y1["EA"] == bim["A1"]).all() and (y1["OA"] == bim["A2"]).all()
    assert (y1["N"] == 500).all()
    expected = _ols_beta_a1(fixture_input / "example", covar, pheno, "Y1")
    np.testing.assert_allclose(y1["BETA"], expected, rtol=1e-4, atol=1e-7)
    # the same .bed bits under swapped labels: EA follows column 5, BETA does not move
    assert (swapped["EA"] == swapped_bim["A1"]).all()
    np.testing.assert_allclose(swapped["BETA"], y1["BETA"], rtol=1e-6)


def test_run_glm__failure_reports_log_tail(fixture_input: Path, tmp_path: Path) -> None:
    bim = read_bim(fixture_input / "example.bim")
    with pytest.raises(ToolError, match="'NOPE' does not appear in header") as err:
        run_glm(
            fixture_input / "example",
            fixture_input / "phenotype.txt",
            tmp_path / "o",
            ["NOPE"],
            bim,
            covar=fixture_input / "covariates.txt",
        )
    assert "--pheno-name NOPE" in str(err.value)


def test_find_binary__missing_names_config_key() -> None:
    with pytest.raises(ConfigError, match="gwas.plink2.binary.*envs/gemcont.yaml"):
        find_binary("/nonexistent/plink2", "plink2", "gwas.plink2.binary", "envs/gemcont.yaml")


CURRENT_BUILD = """\
#CHROM\tPOS\tID\tREF\tALT1\tALT\tA1\tOMITTED\tA1_FREQ\tTEST\tOBS_CT\tBETA\tSE\tT_STAT\tP\tERRCODE
1\t10\trs1\tA\tG\tG\tG\tA\t0.2\tADD\t100\t0.5\t0.1\t5\t1e-6\t.
1\t20\trs2\tC\tT\tT\tC\tT\t0.7\tADD\t99\t-0.1\t0.2\t-0.5\t0.6\t.
1\t20\trs2\tC\tT\tT\tC\tT\t0.7\tDOMDEV\t99\t0.3\t0.2\t1.5\t0.1\t.
2\t5\trs3\tA\tC\tC\tC\tA\t0.1\tADD\t98\tNA\tNA\tNA\tNA\tCONST_ALLELE
"""


def test_read_glm__by_column_name(tmp_path: Path) -> None:
    path = tmp_path / "o.Y3.glm.linear"
    path.write_text(CURRENT_BUILD)
    df = read_glm(path, "Y3")
    assert list(df.columns) == [*SINGLE_TRAIT_COLUMNS, "T", "TRAIT"]
    assert df["ID"].tolist() == ["rs1", "rs2", "rs3"]
    assert df["EA"].tolist() == ["G", "C", "C"] and df["OA"].tolist() == ["A", "T", "A"]
    assert df["EAF"].tolist() == [0.2, 0.7, 0.1] and df["N"].tolist() == [100, 99, 98]
    assert df["P"].iloc[0] == 1e-6 and np.isnan(df["BETA"].iloc[2])
    assert df["CHR"].tolist() == ["1", "1", "2"]


def test_read_glm__missing_columns_raises(tmp_path: Path) -> None:
    path = tmp_path / "o.Y1.glm.linear"
    path.write_text("#CHROM\tPOS\tID\tA1\tTEST\tOBS_CT\tOR\tP\n1\t1\trs1\tA\tADD\t10\t1\t0.5\n")
    with pytest.raises(InputError, match=r"missing columns .*cols="):
        read_glm(path)


def test_check_effect_allele__mismatch_raises() -> None:
    bim = pd.DataFrame({"ID": ["a", "b"], "POS": [1, 2], "A1": ["A", "C"], "A2": ["G", "T"]})
    ok = pd.DataFrame({"ID": ["a", "b"], "POS": [1, 2], "EA": ["A", "C"]})
    check_effect_allele(ok, bim, "x")
    flipped = ok.assign(EA=["A", "T"])
    with pytest.raises(InputError, match="1 variants .* e.g. b EA=T"):
        check_effect_allele(flipped, bim, "x")


def test_check_effect_allele__absent_variant_raises() -> None:
    bim = pd.DataFrame({"ID": ["a"], "POS": [1], "A1": ["A"], "A2": ["G"]})
    other = pd.DataFrame({"ID": ["z"], "POS": [1], "EA": ["A"]})
    with pytest.raises(InputError, match="absent from the .bim"):
        check_effect_allele(other, bim, "x")
