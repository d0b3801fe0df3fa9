"""chrX in every engine: a simulated X locus of real effect (males coded 0/2 in the .bed,
sex a covariate, the .bim writing X as 23) is found on CHR "X" in the sumstats and the
loci by the built-in engine and plink2 (run for real), and REGENIE's 23 is read as X."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gemcont.gwas.engines.regenie import read_regenie
from gemcont.gwas.inputs import residual_correlation
from gemcont.gwas.prepare import read_correlation, write_correlation, write_phenotypes
from gemcont.gwas.settings import gwas_settings
from gemcont.gwas.stage import combine_engine_output, run_chromosome, summarise_gwas
from gemcont.io.plink import read_bim, write_bed
from gemcont.io.sumstats import MULTI_COLUMNS, write_sumstats
from gemcont.panel.clump import clump

N, M_AUTO, M_X = 1000, 40, 40
CAUSAL_X = "rsX_17"
CFG = {"min_maf": 0.02, "min_mac": 10, "device": "cpu", "p_threshold": 5e-8}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> dict:
    rng = np.random.default_rng(23)
    root = tmp_path_factory.mktemp("chrx")
    sex = rng.integers(1, 3, N)  # 1 male, 2 female (.fam)
    freqs = rng.uniform(0.1, 0.5, M_AUTO + M_X)
    g = rng.binomial(2, freqs, (N, M_AUTO + M_X)).astype(float)
    male = sex == 1
    g[np.ix_(male, np.arange(M_AUTO, M_AUTO + M_X))] = 2.0 * rng.binomial(
        1, freqs[M_AUTO:], (male.sum(), M_X)
    )  # hemizygous: 0 or 2 in the .bed
    ids = [f"rs1_{i}" for i in range(M_AUTO)] + [f"rsX_{i}" for i in range(M_X)]
    bim = pd.DataFrame(
        {
            "CHR": ["1"] * M_AUTO + ["23"] * M_X,  # PLINK 1's number for X
            "ID": ids,
            "CM": 0.0,
            "POS": np.r_[np.arange(M_AUTO), np.arange(M_X)] * 50_000 + 1_000_000,
            "A1": "T",
            "A2": "C",
        }
    )
    fam = pd.DataFrame({"FID": [f"f{i}" for i in range(N)], "IID": [f"i{i}" for i in range(N)]})
    fam["SEX"] = sex
    write_bed(root / "g", g, fam, bim)
    covar = fam[["FID", "IID"]].assign(sex=sex.astype(float), age=rng.normal(50, 8, N))
    x = g[:, ids.index(CAUSAL_X)]
    y = rng.normal(size=(N, 3))
    y[:, 0] += 0.4 * (x - x.mean()) / x.std() + 0.5 * (sex - 1.5)  # the X locus, sex effect
    pheno = fam[["FID", "IID"]].assign(Y0=y[:, 0], Y1=y[:, 1], Y2=y[:, 2])
    write_phenotypes(pheno, root / "pheno.tsv")
    write_phenotypes(covar, root / "covar.tsv")
    write_correlation(residual_correlation(pheno, covar), root / "corr.tsv")
    panel = pd.DataFrame(
        {"ID": [CAUSAL_X], "CHR": ["X"], "POS": [bim.loc[ids.index(CAUSAL_X), "POS"]]}
    ).assign(EA="T", OA="C", EAF=0.3, BETA=0.1, SE=0.01, P=1e-20, BIM_INDEX=ids.index(CAUSAL_X))
    panel.to_csv(root / "panel.tsv", sep="\t", index=False)
    return {"root": root, "bfile": str(root / "g")}


def _summarise(cohort: dict, multi: Path, out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    paths = {k: out / f"{k}.tsv" for k in ("loci", "recovery")} | {"summary": out / "s.json"}
    summarise_gwas(
        multi, cohort["root"] / "panel.tsv", cohort["bfile"], paths, gwas_settings(CFG), clump
    )
    return {
        "loci": pd.read_csv(paths["loci"], sep="\t", dtype={"CHR": str}),
        **json.loads(paths["summary"].read_text()),
    }


@pytest.mark.parametrize("engine", ["builtin", "plink2"])
def test_x_locus_found_on_chr_x(cohort: dict, engine: str) -> None:
    root = cohort["root"] / engine
    out = (root / "per_dim.tsv.gz", root / "multi.tsv.gz")
    run_chromosome(
        gwas_settings({**CFG, "engine": engine}),
        cohort["bfile"],
        cohort["root"] / "pheno.tsv",
        cohort["root"] / "covar.tsv",
        cohort["root"] / "corr.tsv",
        "X",
        out,
        2,
        root / "work",
    )
    multi = pd.read_csv(out[1], sep="\t", dtype={"CHR": str})
    assert len(multi) == M_X and (multi["CHR"] == "X").all()
    assert multi.loc[multi["LOG10P"].idxmax(), "ID"] == CAUSAL_X
    assert multi["LOG10P"].max() > 10
    summary = _summarise(cohort, out[1], root / "loci")
    assert summary["loci"]["CHR"].tolist() == ["X"] and summary["recovered_gw"] == 1


def test_plink2_and_builtin_agree_on_chr_x(cohort: dict) -> None:
    """Males 0/2 in both (--xchr-model 2), sex once among the covariates (no-x-sex)."""
    frames = {
        e: pd.read_csv(cohort["root"] / e / "per_dim.tsv.gz", sep="\t")
        for e in ("builtin", "plink2")
    }
    np.testing.assert_allclose(
        frames["plink2"]["BETA"], frames["builtin"]["BETA"], rtol=1e-4, atol=1e-7
    )
    multi = {
        e: pd.read_csv(cohort["root"] / e / "multi.tsv.gz", sep="\t") for e in ("builtin", "plink2")
    }
    np.testing.assert_allclose(
        multi["plink2"]["CHISQ"], multi["builtin"]["CHISQ"], rtol=2e-5, atol=1e-5
    )


def test_regenie_23_read_as_x(cohort: dict, tmp_path: Path) -> None:
    """REGENIE writes chrX as 23: the parser gives X, and the locus is found on X."""
    builtin = pd.read_csv(cohort["root"] / "builtin" / "per_dim.tsv.gz", sep="\t")
    bim = read_bim(f"{cohort['bfile']}.bim")
    traits = ["Y0", "Y1", "Y2"]
    frames = []
    for trait in traits:
        rows = builtin[builtin["TRAIT"] == trait]
        path = tmp_path / f"assoc_{trait}.regenie"
        pd.DataFrame(
            {
                "CHROM": 23,
                "GENPOS": rows["POS"],
                "ID": rows["ID"],
                "ALLELE0": rows["OA"],
                "ALLELE1": rows["EA"],
                "A1FREQ": rows["EAF"],
                "N": rows["N"],
                "TEST": "ADD",
                "BETA": rows["BETA"],
                "SE": rows["SE"],
                "CHISQ": (rows["BETA"] / rows["SE"]) ** 2,
                "LOG10P": rows["LOG10P"],
                "EXTRA": "NA",
            }
        ).to_csv(path, sep=" ", index=False)
        frames.append(read_regenie(path, trait, bim))
    raw = pd.concat(frames, ignore_index=True)
    assert (raw["CHR"] == "X").all()
    corr = read_correlation(cohort["root"] / "corr.tsv")
    _, multi = combine_engine_output(raw, traits, corr, CFG["min_maf"], CFG["min_mac"])
    write_sumstats(multi[MULTI_COLUMNS], tmp_path / "multi.tsv.gz", MULTI_COLUMNS)
    summary = _summarise(cohort, tmp_path / "multi.tsv.gz", tmp_path / "loci")
    assert summary["loci"]["CHR"].tolist() == ["X"] and summary["recovered_gw"] == 1
