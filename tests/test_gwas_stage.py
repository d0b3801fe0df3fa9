"""Stage-level GWAS API: covariate design, engines agree, merge order, loci and recovery."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gemcont.errors import ConfigError
from gemcont.gwas.covariates import (
    Factor,
    gwas_covariates,
    missing_marginals,
    parse_term,
    write_covariates,
)
from gemcont.gwas.engines.builtin import scan_builtin_groups, scan_builtin_gwas
from gemcont.gwas.engines.regenie import step1
from gemcont.gwas.inputs import residual_correlation
from gemcont.gwas.joint import MethodGwas, read_step1_manifest, regenie_step1_groups
from gemcont.gwas.kernel import Backend
from gemcont.gwas.prepare import (
    prepare_phenotypes,
    read_correlation,
    read_phenotypes,
    write_correlation,
    write_phenotypes,
)
from gemcont.gwas.settings import CovariateSettings, gwas_settings
from gemcont.gwas.stage import (
    merge_chromosomes,
    run_chromosome,
    run_split_chromosome,
    summarise_gwas,
)
from gemcont.io.chromosomes import sort_key
from gemcont.io.plink import read_bim, write_bed
from gemcont.panel.clump import clump
from gemcont.projection import Residualizer

N_PEOPLE, N_PER_CHROM, N_HELDOUT, N_EMB = 1200, 200, 1000, 6
CAUSAL = ["rs1_57", "rs2_131"]  # one planted variant per chromosome
SPEC = {
    "terms": ["sex", "age", "age^2", "sex*age", "sex*age^2", "height"],
    "categorical": ["batch"],
    "n_pcs": 2,
}
CFG = {"min_maf": 0.02, "min_mac": 10, "block_size": 64, "device": "cpu"}


def covariate_spec(spec: dict) -> CovariateSettings:
    """The settings of a partial covariates spec (absent keys: none, no PCs)."""
    terms, categorical = spec.get("terms", []), spec.get("categorical", [])
    return CovariateSettings(tuple(terms), tuple(categorical), spec.get("n_pcs", 0))


def covariate_table(n: int, rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "FID": [f"F{i}" for i in range(n)],
            "IID": [f"I{i}" for i in range(n)],
            "sex": rng.integers(0, 2, n).astype(float),
            "age": np.round(rng.uniform(40, 70, n), 1),
            "height": rng.normal(170, 9, n),
            "batch": rng.choice(["B1", "B2", "B3"], n),
        }
    )


# --- covariate design ------------------------------------------------------------------


def test_parse_term__products_and_powers() -> None:
    assert parse_term("age^2") == (Factor("age", 2),)
    assert parse_term(" sex * age ^ 2 ") == (Factor("sex", 1), Factor("age", 2))


@pytest.mark.parametrize(
    "term", ["__import__('os')", "age**2", "age^0", "2*age", "age+1", "", "age^-1", "exp(age)"]
)
def test_parse_term__rejects_anything_else(term: str) -> None:
    with pytest.raises(ConfigError, match=r"gwas\.covariates"):
        parse_term(term)


def test_gwas_covariates__design(caplog: pytest.LogCaptureFixture) -> None:
    cov = covariate_table(50, np.random.default_rng(1)).assign(site="S1")
    cov.loc[3, "age"] = np.nan  # dropped, logged
    pcs = cov[["FID", "IID"]].assign(PC1=np.arange(50.0), PC2=1.0 / (1 + np.arange(50)), PC3=0.0)
    spec = {**SPEC, "categorical": ["batch", "site"]}
    with caplog.at_level(logging.INFO):
        design = gwas_covariates(cov, pcs, covariate_spec(spec))
    assert list(design.columns) == [
        "FID",
        "IID",
        "sex",
        "age",
        "age_p2",
        "sex_x_age",
        "sex_x_age_p2",
        "height",
        "batch_B2",
        "batch_B3",
        "PC1",
        "PC2",
    ]
    kept = cov.drop(index=3).reset_index(drop=True)
    assert design["IID"].tolist() == kept["IID"].tolist()
    age_c, sex_c = kept["age"] - kept["age"].mean(), kept["sex"] - kept["sex"].mean()
    np.testing.assert_allclose(design["age"], kept["age"])  # bare terms as given
    np.testing.assert_allclose(design["age_p2"], age_c**2)  # derived terms centred
    np.testing.assert_allclose(design["sex_x_age_p2"], sex_c * age_c**2)
    np.testing.assert_array_equal(design["batch_B3"], (kept["batch"] == "B3").astype(float))
    assert "missing value" in caplog.text and "I3" in caplog.text


def test_gwas_covariates__centring_keeps_the_model() -> None:
    """Centred derived terms span the same space as the raw ones (hierarchical set)."""
    cov = covariate_table(200, np.random.default_rng(6))
    design = gwas_covariates(cov, None, covariate_spec({"terms": SPEC["terms"]}))
    sex, age = cov["sex"].to_numpy(), cov["age"].to_numpy()
    raw = np.column_stack([sex, age, age**2, sex * age, sex * age**2, cov["height"]])
    y = np.random.default_rng(7).normal(size=(200, 3))
    ours = Residualizer(design.drop(columns=["FID", "IID"]).to_numpy()).transform(y)
    np.testing.assert_allclose(ours, Residualizer(raw).transform(y), atol=1e-8)


def test_missing_marginals() -> None:
    assert missing_marginals(SPEC["terms"], []) == []
    assert missing_marginals(["age^2"], []) == ["age"]
    assert missing_marginals(["sex*age^2", "age"], ["sex"]) == ["age^2", "age*sex"]


def test_gwas_covariates__constant_dropped(caplog: pytest.LogCaptureFixture) -> None:
    cov = covariate_table(30, np.random.default_rng(2)).assign(one=1.0)
    with caplog.at_level(logging.INFO):
        design = gwas_covariates(cov, None, covariate_spec({"terms": ["age", "one"]}))
    assert list(design.columns) == ["FID", "IID", "age"]
    assert "constant" in caplog.text and "one" in caplog.text


def test_gwas_covariates__categorical_in_product() -> None:
    cov = covariate_table(40, np.random.default_rng(3))
    cov["sex"] = np.where(cov["sex"] == 1, "M", "F")
    spec = {"terms": ["age", "sex*age"], "categorical": ["sex"]}
    design = gwas_covariates(cov, None, covariate_spec(spec))
    assert list(design.columns) == ["FID", "IID", "age", "sex_M_x_age", "sex_M"]
    age_c = cov["age"] - cov["age"].mean()
    np.testing.assert_allclose(design["sex_M_x_age"], (cov["sex"] == "M") * age_c)


@pytest.mark.parametrize(
    ("spec", "missing"),
    [
        ({"terms": ["age", "weight^2"]}, "weight"),
        ({"terms": ["age"], "categorical": ["centre"]}, "centre"),
        ({"terms": ["age"], "n_pcs": 3}, "PC1"),
    ],
)
def test_gwas_covariates__missing_column_names_key(spec: dict, missing: str) -> None:
    cov = covariate_table(10, np.random.default_rng(4))
    with pytest.raises(ConfigError, match=r"gwas\.covariates") as err:
        gwas_covariates(cov, None, covariate_spec(spec))
    assert missing in str(err.value)


def test_gwas_covariates__string_column_needs_categorical() -> None:
    cov = covariate_table(10, np.random.default_rng(5))
    with pytest.raises(ConfigError, match=r"batch.*gwas\.covariates\.categorical"):
        gwas_covariates(cov, None, covariate_spec({"terms": ["batch*age"]}))


# --- a small cohort run through the stage ----------------------------------------------


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """1,200 people x 400 variants (2 chromosomes), 2 planted causal variants."""
    rng = np.random.default_rng(11)
    root = tmp_path_factory.mktemp("stage")
    n_var = 2 * N_PER_CHROM
    freqs = rng.uniform(0.05, 0.5, n_var)
    freqs[3::40], freqs[5] = 0.008, 0.0  # rare (fail min_maf) and monomorphic
    dosages = rng.binomial(2, freqs, (N_PEOPLE, n_var)).astype(np.float32)
    chroms = np.repeat(["1", "2"], N_PER_CHROM)
    within = np.tile(np.arange(N_PER_CHROM), 2)
    bim = pd.DataFrame(
        {
            "CHR": chroms,
            "ID": [f"rs{c}_{i}" for c, i in zip(chroms, within, strict=True)],
            "CM": 0.0,
            "POS": 100_000 + within * 20_000,
            "A1": "A",
            "A2": "G",
        }
    )
    cov = covariate_table(N_PEOPLE, rng)
    pcs = cov[["FID", "IID"]].assign(PC1=rng.normal(size=N_PEOPLE), PC2=rng.normal(size=N_PEOPLE))
    write_bed(root / "g", dosages, cov[["FID", "IID"]], bim)
    design = gwas_covariates(cov, pcs, covariate_spec(SPEC))
    covar_path = root / "covar.tsv"
    write_covariates(design, covar_path)
    # embeddings: covariate effects + the causal variants on two latent directions
    d = design.drop(columns=["FID", "IID"]).to_numpy()
    d = (d - d.mean(0)) / d.std(0)
    emb = d @ rng.normal(scale=0.3, size=(d.shape[1], N_EMB)) + rng.normal(size=(N_PEOPLE, N_EMB))
    for k, snp in enumerate(CAUSAL):
        g = dosages[:, bim.index[bim["ID"] == snp][0]]
        emb[:, k] += 0.5 * (g - g.mean()) / g.std()
    emb_df = cov[["FID", "IID"]].assign(
        set=np.where(np.arange(N_PEOPLE) < N_HELDOUT, "heldout", "train")
    )
    emb_df[[f"e_{i}" for i in range(N_EMB)]] = emb
    pheno_df, _ = prepare_phenotypes(emb_df, n_components=4)
    pheno_path = root / "pheno.tsv"
    write_phenotypes(pheno_df, pheno_path)
    eaf = dosages[:N_HELDOUT].mean(0) / 2
    maf = np.minimum(eaf, 1 - eaf)
    corr_path = root / "trait_corr.tsv"
    write_correlation(residual_correlation(pheno_df, read_phenotypes(covar_path)), corr_path)
    out: dict = {"root": root, "bfile": str(root / "g"), "pheno": pheno_path, "covar": covar_path}
    out["corr"] = corr_path
    out["kept"] = bim.loc[maf >= CFG["min_maf"], "ID"].tolist()
    for engine in ("builtin", "plink2"):
        for chrom in ("1", "2"):
            outputs = (
                root / engine / f"chr{chrom}.per_dim.tsv.gz",
                root / engine / f"chr{chrom}.multi.tsv.gz",
            )
            settings = gwas_settings({**CFG, "engine": engine})
            run_chromosome(
                settings,
                out["bfile"],
                pheno_path,
                covar_path,
                corr_path,
                chrom,
                outputs,
                2,
                root / engine / "work",
            )
    return out


def read_out(cohort: dict, engine: str, kind: str) -> pd.DataFrame:
    frames = [
        pd.read_csv(cohort["root"] / engine / f"chr{c}.{kind}.tsv.gz", sep="\t", dtype={"CHR": str})
        for c in ("1", "2")
    ]
    return pd.concat(frames, ignore_index=True)


def test_run_chromosome__scheme_and_variant_set(cohort: dict) -> None:
    per_dim, multi = read_out(cohort, "builtin", "per_dim"), read_out(cohort, "builtin", "multi")
    assert list(per_dim.columns) == [
        "CHR",
        "POS",
        "ID",
        "EA",
        "OA",
        "EAF",
        "N",
        "BETA",
        "SE",
        "P",
        "LOG10P",
        "TRAIT",
    ]
    assert list(multi.columns) == [
        "CHR",
        "POS",
        "ID",
        "EA",
        "OA",
        "EAF",
        "N",
        "CHISQ",
        "DF",
        "P",
        "LOG10P",
    ]
    assert (multi["DF"] == 4).all() and (multi["N"] == N_HELDOUT).all()
    assert multi["ID"].tolist() == cohort["kept"]  # .bim order, MAF filter applied
    assert len(cohort["kept"]) < 2 * N_PER_CHROM - 5
    for _, trait in per_dim.groupby("TRAIT"):
        assert trait["ID"].tolist() == multi["ID"].tolist()


def test_run_chromosome__float32_option_close_to_float64(cohort: dict) -> None:
    root = cohort["root"]
    outputs = (root / "f32.per_dim.tsv.gz", root / "f32.multi.tsv.gz")
    settings = gwas_settings({**CFG, "dtype": "float32"})
    run_chromosome(
        settings,
        cohort["bfile"],
        cohort["pheno"],
        cohort["covar"],
        cohort["corr"],
        "1",
        outputs,
        2,
        root / "f32",
    )
    f32 = pd.read_csv(root / "f32.per_dim.tsv.gz", sep="\t", dtype={"CHR": str})
    f64 = read_out(cohort, "builtin", "per_dim").query("CHR == '1'").reset_index(drop=True)
    assert f32["ID"].tolist() == f64["ID"].tolist()
    np.testing.assert_allclose(f32["BETA"], f64["BETA"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(f32["LOG10P"], f64["LOG10P"], atol=1e-3)
    assert not np.array_equal(f32["BETA"], f64["BETA"])  # a different code path did run


def test_engines_agree__per_dimension(cohort: dict) -> None:
    ours, plink = read_out(cohort, "builtin", "per_dim"), read_out(cohort, "plink2", "per_dim")
    variant = ["CHR", "POS", "ID", "EA", "OA", "N", "TRAIT"]
    pd.testing.assert_frame_equal(ours[variant], plink[variant])
    np.testing.assert_allclose(plink["EAF"], ours["EAF"], rtol=1e-4)
    np.testing.assert_allclose(plink["BETA"], ours["BETA"], rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(plink["SE"], ours["SE"], rtol=1e-4)
    np.testing.assert_allclose(plink["LOG10P"], ours["LOG10P"], atol=0.01)


def test_engines_agree__multi_trait(cohort: dict) -> None:
    """One multi-trait statistic for every engine: plink2's T from its Wald t turned
    into score z's (score_z_from_t) equals the builtin's T = gᵀY C⁻¹Yᵀg / gᵀg up to
    plink2's 6-digit output, null and planted variants alike (the Wald t's combined
    differ by ≈ max t²/dof: several % at the planted ones)."""
    ours, plink = read_out(cohort, "builtin", "multi"), read_out(cohort, "plink2", "multi")
    pd.testing.assert_frame_equal(
        ours[["CHR", "POS", "ID", "DF"]], plink[["CHR", "POS", "ID", "DF"]]
    )
    np.testing.assert_allclose(plink["CHISQ"], ours["CHISQ"], rtol=2e-5, atol=1e-5)
    np.testing.assert_allclose(plink["LOG10P"], ours["LOG10P"], rtol=1e-4, atol=1e-5)
    planted = ours["ID"].isin(CAUSAL).to_numpy()
    assert ours.loc[planted, "LOG10P"].min() > 15  # the planted variants are strong
    per_dim = read_out(cohort, "plink2", "per_dim")
    t2_max = (
        per_dim.assign(T2=(per_dim["BETA"] / per_dim["SE"]) ** 2)
        .groupby("ID", sort=False)["T2"]
        .max()
        .loc[ours["ID"]]
        .to_numpy()
    )
    assert t2_max[planted].min() / N_HELDOUT > 0.03  # where Wald and score would part


def test_write_trait_correlation(cohort: dict, tmp_path: Path) -> None:
    pheno_df, covar_df = read_phenotypes(cohort["pheno"]), read_phenotypes(cohort["covar"])
    corr = residual_correlation(pheno_df, covar_df)
    write_correlation(corr, tmp_path / "R.tsv")
    back = read_correlation(tmp_path / "R.tsv")
    np.testing.assert_allclose(back.to_numpy(), corr.to_numpy(), atol=1e-10)
    assert list(back.columns) == ["Y0", "Y1", "Y2", "Y3"]
    raw = pd.read_csv(cohort["pheno"], sep="\t", dtype={"FID": str, "IID": str})
    assert not np.allclose(corr, residual_correlation(raw, None))  # covariates matter


def test_merge_chromosomes__order_and_headers(cohort: dict, tmp_path: Path) -> None:
    parts = [cohort["root"] / "builtin" / f"chr{c}.multi.tsv.gz" for c in ("2", "1")]
    merge_chromosomes(parts, tmp_path / "merged.tsv.gz")
    merged = pd.read_csv(tmp_path / "merged.tsv.gz", sep="\t", dtype={"CHR": str})
    pd.testing.assert_frame_equal(merged, read_out(cohort, "builtin", "multi"))
    other = cohort["root"] / "builtin" / "chr1.per_dim.tsv.gz"
    with pytest.raises(ValueError, match="header differs"):
        merge_chromosomes([parts[0], other], tmp_path / "bad.tsv.gz")


def test_chrom_sort_key() -> None:
    chroms = ["X", "10", "MT", "2", "Y", "1", "23"]
    assert sorted(chroms, key=sort_key) == ["1", "2", "10", "23", "X", "Y", "MT"]


OUTPUTS = {"loci": "tsv", "recovery": "tsv", "summary": "json"}


def test_summarise_gwas__finds_and_recovers_planted_loci(cohort: dict, tmp_path: Path) -> None:
    parts = [cohort["root"] / "builtin" / f"chr{c}.multi.tsv.gz" for c in ("1", "2")]
    merge_chromosomes(parts, tmp_path / "multi.tsv.gz")
    bim = read_bim(f"{cohort['bfile']}.bim")
    panel = bim[bim["ID"].isin(CAUSAL)][["ID", "CHR", "POS"]].assign(
        EA="A", OA="G", BETA=0.1, SE=0.01, P=1e-9
    )
    panel.to_csv(tmp_path / "panel.tsv", sep="\t", index=False)
    out = {name: tmp_path / f"{name}.{ext}" for name, ext in OUTPUTS.items()}
    summary = summarise_gwas(
        tmp_path / "multi.tsv.gz",
        tmp_path / "panel.tsv",
        cohort["bfile"],
        out,
        gwas_settings(),
        clump,
    )
    assert json.loads((tmp_path / "summary.json").read_text()) == pytest.approx(summary)
    assert summary["n_loci"] == 2 and summary["n_new"] == 0
    assert (
        summary["fraction_recovered_gw"] == 1.0 and summary["fraction_recovered_bonferroni"] == 1.0
    )
    assert (summary["S"], summary["D"], summary["N"]) == (2, 4, N_HELDOUT)
    assert 0.7 < summary["lambda_gc"] < 1.4
    found = pd.read_csv(tmp_path / "loci.tsv", sep="\t")
    assert sorted(found["ID"]) == CAUSAL and not found["NEW"].any()
    recovery = pd.read_csv(tmp_path / "recovery.tsv", sep="\t")
    assert sorted(recovery["MIN_P_ID"]) == CAUSAL


# --- REGENIE and config errors -------------------------------------------------------


def test_regenie__missing_binary_names_config_key(cohort: dict, tmp_path: Path) -> None:
    cfg = gwas_settings(
        {"engine": "regenie", "regenie": {"binary": str(tmp_path / "no" / "regenie")}}
    )
    with pytest.raises(ConfigError, match=r"gwas\.regenie\.binary"):
        step1(cohort["bfile"], cohort["pheno"], cohort["covar"], tmp_path / "s1", cfg.regenie)
    with pytest.raises(ConfigError, match=r"gwas\.regenie\.binary"):
        run_chromosome(
            cfg,
            cohort["bfile"],
            cohort["pheno"],
            cohort["covar"],
            cohort["corr"],
            "1",
            (tmp_path / "a.tsv.gz", tmp_path / "b.tsv.gz"),
            1,
            tmp_path / "w",
        )
    assert not (tmp_path / "a.tsv.gz").exists()


def test_run_chromosome__unknown_engine(cohort: dict, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"gwas\.engine"):
        run_chromosome(
            gwas_settings({"engine": "bolt"}),
            cohort["bfile"],
            cohort["pheno"],
            None,
            None,
            "1",
            (tmp_path / "a.tsv.gz", tmp_path / "b.tsv.gz"),
            1,
            tmp_path,
        )


# --- one scan per split for every method ---------------------------------------------


def method_inputs(cohort: dict, root: Path, n_dims: dict[str, int], drop: str = "") -> list:
    """Per method the files prepare_gwas writes (the cohort's people and covariates, its
    own embedding and trait_corr.tsv); method ``drop`` loses its first held-out person."""
    rng = np.random.default_rng(5)
    covar_df = read_phenotypes(cohort["covar"])
    base = read_phenotypes(cohort["pheno"])
    methods = []
    for method, d in n_dims.items():
        folder = root / method
        folder.mkdir(parents=True)
        emb = base[["FID", "IID"]].assign(set="heldout")
        emb[[f"e_{i}" for i in range(d)]] = base[["Y0"] * d].to_numpy() + rng.normal(
            size=(len(base), d)
        )
        pheno_df, _ = prepare_phenotypes(emb, n_components=None)
        if method == drop:
            pheno_df = pheno_df.iloc[1:].reset_index(drop=True)
        write_phenotypes(pheno_df, folder / "pheno.tsv")
        write_covariates(covar_df, folder / "covar.tsv")
        write_correlation(residual_correlation(pheno_df, covar_df), folder / "trait_corr.tsv")
        out = (folder / "chr1.per_dim.tsv.gz", folder / "chr1.multi.tsv.gz")
        methods.append(
            MethodGwas(
                method, folder / "pheno.tsv", folder / "covar.tsv", folder / "trait_corr.tsv", out
            )
        )
    return methods


def per_method_bytes(cohort: dict, methods: list, engine: str, root: Path) -> dict:
    """Each method's chromosome 1 files from a scan of that method alone."""
    settings = gwas_settings({**CFG, "engine": engine})
    found = {}
    for m in methods:
        out = (root / f"{m.method}.per_dim.tsv.gz", root / f"{m.method}.multi.tsv.gz")
        run_chromosome(settings, cohort["bfile"], m.pheno, m.covar, m.corr, "1", out, 2, root / "w")
        found[m.method] = [p.read_bytes() for p in out]
    return found


DIMS = {"gemcont": 4, "simclr": 3, "clinical": 1}


@pytest.mark.parametrize("engine", ["builtin", "plink2"])
def test_run_split_chromosome__one_scan_equals_per_method_scans(
    cohort: dict, tmp_path: Path, engine: str, caplog: pytest.LogCaptureFixture
) -> None:
    methods = method_inputs(cohort, tmp_path / "in", DIMS)
    with caplog.at_level(logging.INFO):
        run_split_chromosome(
            gwas_settings({**CFG, "engine": engine}),
            cohort["bfile"],
            methods,
            "1",
            2,
            tmp_path / "work",
        )
    assert caplog.text.count("methods gemcont, simclr, clinical") == 1  # one scan
    alone = per_method_bytes(cohort, methods, engine, tmp_path / "alone")
    for m in methods:
        joint = [p.read_bytes() for p in m.out]
        assert joint == alone[m.method], m.method  # byte for byte
        multi = pd.read_csv(m.out[1], sep="\t")
        assert (multi["DF"] == DIMS[m.method]).all()  # its own dimensions only
        traits = pd.read_csv(m.out[0], sep="\t")["TRAIT"].unique().tolist()
        assert traits == [f"Y{i}" for i in range(DIMS[m.method])]
    if engine == "plink2":  # the joint file plink2 read holds every method's traits
        header = (tmp_path / "work" / "group0" / "pheno.tsv").read_text().splitlines()[0]
        assert header.split("\t")[2:] == [f"{m}_Y{i}" for m, d in DIMS.items() for i in range(d)]


def test_run_split_chromosome__torch_pipeline_groups_equal_own_scans(cohort: dict) -> None:
    methods = method_inputs(cohort, cohort["root"] / "torch_groups", DIMS)
    phenos = [read_phenotypes(m.pheno) for m in methods]
    covar_df = read_phenotypes(cohort["covar"])
    settings = gwas_settings(CFG)
    backend = Backend(use_torch=True, dtype="float32")
    together = scan_builtin_groups(cohort["bfile"], phenos, covar_df, settings, "1", 2, backend)
    for pheno_df, got in zip(phenos, together, strict=True):
        want = scan_builtin_gwas(cohort["bfile"], pheno_df, covar_df, settings, "1", 2, backend)
        for key in ("beta", "se", "mlog10p", "chisq", "chisq_mlog10p", "keep", "eaf"):
            np.testing.assert_array_equal(getattr(got, key), getattr(want, key), err_msg=key)


def test_run_split_chromosome__method_with_other_people_scanned_apart(
    cohort: dict, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    methods = method_inputs(cohort, tmp_path / "in", DIMS, drop="simclr")
    with caplog.at_level(logging.INFO):
        run_split_chromosome(
            gwas_settings(CFG), cohort["bfile"], methods, "1", 2, tmp_path / "work"
        )
    assert (
        "the methods' held-out people or covariates differ, so they are scanned in 2 passes "
        "over the genotypes instead of one: gemcont, clinical; simclr" in caplog.text
    )
    alone = per_method_bytes(cohort, methods, "builtin", tmp_path / "alone")
    for m in methods:
        assert [p.read_bytes() for p in m.out] == alone[m.method], m.method
    n = pd.read_csv(methods[1].out[1], sep="\t")["N"]
    assert (n == N_HELDOUT - 1).all()


def test_run_split_chromosome__regenie_preds_must_name_the_group(
    cohort: dict, tmp_path: Path
) -> None:
    methods = method_inputs(cohort, tmp_path / "in", DIMS)
    preds = {("gemcont",): tmp_path / "p.list"}
    with pytest.raises(ValueError, match=r"no REGENIE step 1 predictions for methods "):
        run_split_chromosome(
            gwas_settings({**CFG, "engine": "regenie"}),
            cohort["bfile"],
            methods,
            "1",
            2,
            tmp_path / "work",
            preds,
        )


FAKE_REGENIE = '''#!{python}
"""A stand-in for regenie: step 1 lists its traits; step 2 stops unless the predictions
name each trait, then writes per trait a BETA from that trait's own column."""
import sys
from pathlib import Path

import numpy as np
import pandas as pd

args = sys.argv[1:]
opt = {{k: v for k, v in zip(args, args[1:]) if k.startswith("--")}}
out, traits = opt["--out"], opt["--phenoColList"].split(",")
pheno = pd.read_csv(opt["--phenoFile"], sep=r"\\s+")
Path(out + ".log").write_text("fake regenie\\n")
if opt["--step"] == "1":
    Path(out + "_pred.list").write_text("".join(f"{{t}} {{t}}.loco\\n" for t in traits))
    sys.exit(0)
if "--pred" in opt:
    listed = [line.split()[0] for line in Path(opt["--pred"]).read_text().splitlines()]
    if not set(traits) <= set(listed):
        sys.exit(f"traits {{traits}} not in step 1 predictions {{listed}}")
bim = pd.read_csv(opt["--bed"] + ".bim", sep="\\t", header=None, dtype={{0: str}})
bim = bim[bim[0] == opt["--chr"]]
for trait in traits:
    beta = (1 + abs(pheno[trait].iloc[:10].sum())) * (1 + np.arange(len(bim))) / len(bim)
    table = pd.DataFrame({{
        "CHROM": bim[0], "GENPOS": bim[3], "ID": bim[1], "ALLELE0": bim[5],
        "ALLELE1": bim[4], "A1FREQ": 0.3, "INFO": 1, "N": len(pheno), "TEST": "ADD",
        "BETA": beta, "SE": 0.1, "CHISQ": (beta / 0.1) ** 2, "LOG10P": beta,
    }})
    table.to_csv(f"{{out}}_{{trait}}.regenie", sep=" ", index=False)
'''


def test_regenie__one_step1_and_scan_per_split_equal_per_method_runs(
    cohort: dict, tmp_path: Path
) -> None:
    """Step 1 once for the split's methods (their traits side by side), step 2 once per
    chromosome, each method's files byte for byte those of its own step 1 and 2."""
    fake = tmp_path / "regenie"
    fake.write_text(FAKE_REGENIE.format(python=sys.executable))
    fake.chmod(0o755)
    settings = gwas_settings({**CFG, "engine": "regenie", "regenie": {"binary": str(fake)}})
    methods = method_inputs(cohort, tmp_path / "in", DIMS)
    manifest = tmp_path / "split" / "step1.tsv"
    manifest.parent.mkdir()
    regenie_step1_groups(cohort["bfile"], methods, manifest, settings.regenie, 2)
    assert (
        manifest.read_text() == "METHODS\tPRED\ngemcont,simclr,clinical\tgroup0_step1_pred.list\n"
    )
    preds = read_step1_manifest(manifest)
    run_split_chromosome(settings, cohort["bfile"], methods, "1", 2, tmp_path / "work", preds)
    betas = set()
    for m in methods:
        own = tmp_path / "own" / m.method
        pred = step1(cohort["bfile"], m.pheno, m.covar, own / "step1", settings.regenie)
        out = (own / "per_dim.tsv.gz", own / "multi.tsv.gz")
        run_chromosome(settings, cohort["bfile"], m.pheno, m.covar, m.corr, "1", out, 2, own, pred)
        assert [p.read_bytes() for p in m.out] == [p.read_bytes() for p in out], m.method
        per_dim = pd.read_csv(m.out[0], sep="\t")
        assert per_dim["TRAIT"].unique().tolist() == [f"Y{i}" for i in range(DIMS[m.method])]
        betas |= set(per_dim.groupby("TRAIT")["BETA"].last())
    assert len(betas) == sum(DIMS.values())  # every method's traits its own numbers
