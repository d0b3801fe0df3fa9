"""The built-in engine against plink2 --glm, statsmodels and its own error paths."""

from __future__ import annotations

import inspect
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.stats import chi2

from gemcont.devices import resolve_device
from gemcont.errors import ConfigError, InputError
from gemcont.gwas.engines.builtin import run_builtin_gwas, scan_builtin_gwas
from gemcont.gwas.inputs import complete_cases, residual_correlation
from gemcont.gwas.kernel import (
    Backend,
    association_block,
    null_model,
    scan_block,
    score_block,
)
from gemcont.gwas.multitrait import combine_z
from gemcont.gwas.prepare import prepare_phenotypes, read_phenotypes, write_phenotypes
from gemcont.gwas.pvalues import t_mlog10p
from gemcont.gwas.settings import gwas_settings
from gemcont.io.bed_codes import MISSING_INT8
from gemcont.io.plink import read_bim, write_bed
from gemcont.io.sumstats import MULTI_TRAIT_COLUMNS, SINGLE_TRAIT_COLUMNS, builtin_frames
from gemcont.projection import Residualizer

N_PEOPLE, N_HELDOUT, N_VARIANTS, D = 2000, 1500, 300, 8
CAUSAL = [5, 50, 100]
GLM_COLS = "chrom,pos,ref,alt,a1freq,nobs,beta,se,tz,p"
needs_plink2 = pytest.mark.skipif(shutil.which("plink2") is None, reason="plink2 not on PATH")


def write_cohort(prefix: Path, dosages: np.ndarray, seed: int = 0) -> pd.DataFrame:
    """Write a fileset (chr 1 then chr 2, A1 alternating A/C) and return its .fam IDs."""
    n, m = dosages.shape
    fam = pd.DataFrame({"FID": [f"F{i}" for i in range(n)], "IID": [f"I{i}" for i in range(n)]})
    bim = pd.DataFrame(
        {
            "CHR": np.where(np.arange(m) < m // 2, "1", "2"),
            "ID": [f"rs{j}" for j in range(m)],
            "CM": 0.0,
            "POS": np.arange(m) * 1000 + 1,
            "A1": np.where(np.arange(m) % 2 == 0, "A", "C"),
            "A2": np.where(np.arange(m) % 2 == 0, "G", "T"),
        }
    )
    write_bed(prefix, dosages, fam, bim)
    return fam


def genotypes(n: int, m: int, rng: np.random.Generator) -> np.ndarray:
    return rng.binomial(2, rng.uniform(0.05, 0.5, m), size=(n, m)).astype(np.float32)


def embeddings(fam: pd.DataFrame, e: np.ndarray) -> pd.DataFrame:
    """FID IID set e_..; the first N_HELDOUT people are held out."""
    sets = np.where(np.arange(len(fam)) < N_HELDOUT, "heldout", "train")
    cols = pd.DataFrame(e, columns=[f"e_{j}" for j in range(e.shape[1])])
    return pd.concat([fam, pd.Series(sets, name="set"), cols], axis=1)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> dict:
    """Bed + rank-INT phenotypes (3 causal variants, covariate effects) + 3 covariates."""
    rng = np.random.default_rng(42)
    tmp = tmp_path_factory.mktemp("cohort")
    g = genotypes(N_PEOPLE, N_VARIANTS, rng)
    fam = write_cohort(tmp / "geno", g)
    covar = rng.normal(size=(N_PEOPLE, 3))
    effects = rng.normal(scale=0.3, size=(len(CAUSAL), D))
    noise = rng.normal(size=(N_PEOPLE, D)) @ rng.normal(size=(D, D))
    e = g[:, CAUSAL] @ effects + covar @ rng.normal(scale=0.3, size=(3, D)) + noise
    pheno_df, corr_df = prepare_phenotypes(embeddings(fam, e), None)
    write_phenotypes(pheno_df, tmp / "pheno.tsv")
    covar_df = pd.concat([fam, pd.DataFrame(covar, columns=["age", "sex", "pc1"])], axis=1)
    covar_df.to_csv(tmp / "covar.tsv", sep="\t", index=False)
    pheno_df = read_phenotypes(tmp / "pheno.tsv")  # the values plink2 reads
    per_dim, multi = run_builtin_gwas(
        str(tmp / "geno"),
        pheno_df,
        covar_df,
        settings=gwas_settings({"min_maf": 0.0, "min_mac": 0, "device": "cpu"}),
    )
    return {
        "dir": tmp,
        "pheno_df": pheno_df,
        "covar_df": covar_df,
        "corr_df": corr_df,
        "per_dim": per_dim,
        "multi": multi,
        "g": g,
    }


def run_plink2_glm(tmp: Path, bfile: Path) -> pd.DataFrame:
    """plink2 --glm on every phenotype; long table with a TRAIT column."""
    cmd = [
        "plink2",
        "--bfile",
        str(bfile),
        "--pheno",
        str(tmp / "pheno.tsv"),
        "--covar",
        str(tmp / "covar.tsv"),
        "--covar-variance-standardize",
        "--glm",
        "omit-ref",
        "hide-covar",
        "log10",
        f"cols={GLM_COLS}",
        "--threads",
        "2",
        "--out",
        str(tmp / "plink2"),
    ]
    subprocess.run(cmd, check=True, capture_output=True)
    tables = [
        pd.read_csv(tmp / f"plink2.Y{d}.glm.linear", sep="\t").assign(TRAIT=f"Y{d}")
        for d in range(D)
    ]
    return pd.concat(tables, ignore_index=True)


@needs_plink2
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_run_builtin_gwas__matches_plink2_glm(cohort, dtype) -> None:
    ours = cohort["per_dim"]
    if dtype != "float64":  # the CPU engine with float32 genotype blocks and products
        args = (str(cohort["dir"] / "geno"), cohort["pheno_df"], cohort["covar_df"])
        ours, _ = run_builtin_gwas(
            *args,
            settings=gwas_settings({"min_maf": 0.0, "min_mac": 0, "device": "cpu", "dtype": dtype}),
        )
    theirs = run_plink2_glm(cohort["dir"], cohort["dir"] / "geno")
    both = ours.merge(theirs, on=["ID", "TRAIT"], validate="one_to_one")
    assert len(both) == N_VARIANTS * D
    bim = read_bim(cohort["dir"] / "geno.bim").set_index("ID")
    assert (both["A1"] == both["EA"]).all()  # plink2 omit-ref A1 = ALT = .bim column 5
    assert (both["EA"] == bim.loc[both["ID"], "A1"].to_numpy()).all()
    assert (both["OBS_CT"] == both["N"]).all() and (both["N"] == N_HELDOUT).all()
    np.testing.assert_allclose(both["EAF"], both["A1_FREQ"], atol=1e-6)
    np.testing.assert_allclose(both["BETA_x"], both["BETA_y"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(both["SE_x"], both["SE_y"], rtol=1e-4)
    assert np.abs(both["LOG10P"] - both["LOG10_P"]).max() <= 0.01


def test_run_builtin_gwas__matches_statsmodels_ols(cohort) -> None:
    pheno = cohort["pheno_df"].merge(cohort["covar_df"], on=["FID", "IID"])
    x_cov = sm.add_constant(pheno[["age", "sex", "pc1"]].to_numpy())
    per_dim = cohort["per_dim"].set_index(["ID", "TRAIT"])
    for j in [0, 5, 50, 123, 299]:
        x = np.column_stack([x_cov, cohort["g"][:N_HELDOUT, j]])
        for d in range(D):
            fit = sm.OLS(pheno[f"Y{d}"].to_numpy(), x).fit()
            row = per_dim.loc[(f"rs{j}", f"Y{d}")]
            assert row["BETA"] == pytest.approx(fit.params[-1], rel=1e-9)
            assert row["SE"] == pytest.approx(fit.bse[-1], rel=1e-9)
            assert row["P"] == pytest.approx(fit.pvalues[-1], rel=1e-6)


def test_run_builtin_gwas__finds_the_causal_variants(cohort) -> None:
    hits = cohort["multi"].loc[cohort["multi"]["P"] < 5e-8, "ID"]
    assert sorted(hits) == sorted(f"rs{j}" for j in CAUSAL)
    assert (cohort["multi"]["DF"] == D).all()


def combine_gap(per_dim: pd.DataFrame, multi: pd.DataFrame, corr: np.ndarray) -> np.ndarray:
    """|combine_z(BETA/SE, R) - builtin CHISQ| / builtin CHISQ per variant."""
    z = (per_dim["BETA"] / per_dim["SE"]).to_numpy().reshape(D, -1).T  # variants x D
    chisq, _ = combine_z(z, corr)
    return np.abs(chisq - multi["CHISQ"].to_numpy()) / multi["CHISQ"].to_numpy()


def is_causal(multi: pd.DataFrame) -> np.ndarray:
    return multi["ID"].isin([f"rs{j}" for j in CAUSAL]).to_numpy()


def test_combine_z__reproduces_builtin_without_covariates(cohort) -> None:
    """Not exact: t_d uses the residual variance of the model with g (factor
    1/(1 - r²_d)) on N - 2 dof, the kernel C fixed under the null on N - 1 dof.
    Observed: null variants max gap 0.6% (median 0.08% ~ 1/N); causal variants
    (CHISQ 80-310, per-dimension r² up to ~0.1) up to 12%.
    """
    args = (str(cohort["dir"] / "geno"), cohort["pheno_df"], None)
    per_dim, multi = run_builtin_gwas(
        *args, settings=gwas_settings({"min_maf": 0, "min_mac": 0, "device": "cpu"})
    )
    gap = combine_gap(per_dim, multi, cohort["corr_df"].to_numpy())
    assert gap[~is_causal(multi)].max() < 0.01
    assert gap[is_causal(multi)].max() < 0.2


def test_combine_z__needs_residual_correlation_with_covariates(cohort) -> None:
    """Covariates explain up to 40% of some phenotype PCs here: the raw R is then off
    (max gap ~49% on null variants), the covariate-residualised R is not (~0.5%)."""
    per_dim, multi = cohort["per_dim"], cohort["multi"]
    null = ~is_causal(multi)
    raw = combine_gap(per_dim, multi, cohort["corr_df"].to_numpy())
    resid_r = residual_correlation(cohort["pheno_df"], cohort["covar_df"]).to_numpy()
    assert combine_gap(per_dim, multi, resid_r)[null].max() < 0.01
    assert raw[null].max() > 0.1


def test_run_builtin_gwas__calibrated_under_the_null(tmp_path) -> None:
    rng = np.random.default_rng(7)
    n, m, d = 2000, 2000, 8
    fam = write_cohort(tmp_path / "null", genotypes(n, m, rng))
    pheno_df = pd.concat([fam, pd.DataFrame(rng.normal(size=(n, d))).add_prefix("Y")], axis=1)
    covar_df = pd.concat([fam, pd.DataFrame(rng.normal(size=(n, 2))).add_prefix("C")], axis=1)
    per_dim, multi = run_builtin_gwas(
        str(tmp_path / "null"),
        pheno_df,
        covar_df,
        settings=gwas_settings({"min_maf": 0.01, "min_mac": 10, "device": "cpu"}),
    )
    lambda_multi = np.median(multi["CHISQ"]) / chi2.ppf(0.5, d)
    lambda_dim = np.median(chi2.isf(per_dim["P"], 1)) / chi2.ppf(0.5, 1)
    assert 0.95 <= lambda_multi <= 1.05
    assert 0.95 <= lambda_dim <= 1.05
    assert (multi["P"] < 5e-8).sum() == 0


@needs_plink2
def test_run_builtin_gwas__missing_genotypes_mean_imputed(tmp_path, cohort) -> None:
    g = cohort["g"].copy()
    g[np.random.default_rng(1).random(g.shape) < 0.02] = np.nan
    write_cohort(tmp_path / "geno", g)
    for name in ["pheno.tsv", "covar.tsv"]:
        shutil.copy(cohort["dir"] / name, tmp_path / name)
    per_dim, _ = run_builtin_gwas(
        str(tmp_path / "geno"),
        cohort["pheno_df"],
        cohort["covar_df"],
        settings=gwas_settings({"min_maf": 0, "min_mac": 0, "device": "cpu"}),
    )
    # exact against OLS on the mean-imputed dosages
    held = g[:N_HELDOUT, 7].astype(np.float64)
    imputed = np.where(np.isnan(held), np.nanmean(held), held)
    pheno = cohort["pheno_df"].merge(cohort["covar_df"], on=["FID", "IID"])
    x = sm.add_constant(np.column_stack([pheno[["age", "sex", "pc1"]], imputed]))
    fit = sm.OLS(pheno["Y0"].to_numpy(), x).fit()
    row = per_dim.set_index(["ID", "TRAIT"]).loc[("rs7", "Y0")]
    assert row["BETA"] == pytest.approx(fit.params[-1], rel=1e-9)
    assert row["N"] == (~np.isnan(held)).sum()
    # plink2 drops the sample instead: close, not equal
    theirs = run_plink2_glm(tmp_path, tmp_path / "geno")
    both = per_dim.merge(theirs, on=["ID", "TRAIT"])
    assert (both["N"] == both["OBS_CT"]).all()
    gap = np.abs(both["LOG10P"] - both["LOG10_P"]) / np.maximum(1.0, both["LOG10_P"])
    assert 0.001 < gap.max() < 0.05  # observed ~0.02 with 2% missing


def test_run_builtin_gwas__one_chromosome_equals_the_full_scan(cohort) -> None:
    per_dim, multi = run_builtin_gwas(
        str(cohort["dir"] / "geno"),
        cohort["pheno_df"],
        cohort["covar_df"],
        chrom="2",
        settings=gwas_settings({"min_maf": 0, "min_mac": 0, "block_size": 37, "device": "cpu"}),
    )
    full = cohort["multi"][cohort["multi"]["CHR"] == "2"].reset_index(drop=True)
    assert len(multi) == N_VARIANTS // 2
    pd.testing.assert_frame_equal(multi, full, rtol=1e-10)
    assert len(per_dim) == D * N_VARIANTS // 2


def test_run_builtin_gwas__maf_and_mac_filters(cohort) -> None:
    bfile, pheno_df, covar_df = str(cohort["dir"] / "geno"), cohort["pheno_df"], cohort["covar_df"]
    _, multi = run_builtin_gwas(
        bfile,
        pheno_df,
        covar_df,
        settings=gwas_settings({"min_maf": 0.2, "min_mac": 0, "device": "cpu"}),
    )
    maf = np.minimum(multi["EAF"], 1 - multi["EAF"])
    assert 0 < len(multi) < N_VARIANTS and (maf >= 0.2).all()
    _, multi = run_builtin_gwas(
        bfile,
        pheno_df,
        covar_df,
        settings=gwas_settings({"min_maf": 0, "min_mac": 400, "device": "cpu"}),
    )
    assert (np.minimum(multi["EAF"], 1 - multi["EAF"]) * 2 * multi["N"] >= 400).all()


def test_run_builtin_gwas__rejects_unknown_chromosome(cohort) -> None:
    with pytest.raises(InputError, match="no variants on chromosome '7'"):
        run_builtin_gwas(
            str(cohort["dir"] / "geno"),
            cohort["pheno_df"],
            None,
            chrom="7",
            settings=gwas_settings({"device": "cpu"}),
        )


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"min_maf": 0.7}, "gwas.min_maf"),
        ({"min_mac": -1}, "gwas.min_mac"),
        ({"block_size": 0}, "gwas.block_size"),
        ({"device": "tpu"}, "gwas.device"),
        ({"device": "cpu", "dtype": "float16"}, "gwas.dtype"),
    ],
)
def test_run_builtin_gwas__rejects_bad_config(cohort, kwargs, key) -> None:
    with pytest.raises(ConfigError, match=key):
        run_builtin_gwas(
            str(cohort["dir"] / "geno"),
            cohort["pheno_df"],
            None,
            settings=gwas_settings({**kwargs}),
        )


def test_builtin_frames__one_frame_per_trait_from_the_scan_arrays(cohort) -> None:
    scan = scan_builtin_gwas(
        str(cohort["dir"] / "geno"),
        cohort["pheno_df"],
        None,
        settings=gwas_settings({"min_maf": 0.2}),
    )
    assert 0 < scan.keep.sum() < N_VARIANTS  # some variants filtered out
    per_trait, multi = builtin_frames(scan)
    assert inspect.isgenerator(per_trait)  # made one at a time, as written
    frames = list(per_trait)
    assert [f["TRAIT"].unique().tolist() for f in frames] == [[n] for n in scan.names]
    ids = scan.bim["ID"].to_numpy()[scan.rows[scan.keep]]
    assert multi["ID"].tolist() == ids.tolist()
    for j, frame in enumerate(frames):
        assert list(frame.columns[:10]) == SINGLE_TRAIT_COLUMNS
        assert frame["ID"].tolist() == ids.tolist()
        np.testing.assert_array_equal(frame["BETA"], scan.beta[scan.keep, j])
        np.testing.assert_array_equal(frame["LOG10P"], scan.mlog10p[scan.keep, j])
        np.testing.assert_allclose(frame["P"], 10 ** -scan.mlog10p[scan.keep, j], rtol=1e-12)
    assert list(multi.columns[:10]) == MULTI_TRAIT_COLUMNS


def test_complete_cases__parses_text_columns_and_drops_incomplete_people() -> None:
    ids = {"FID": ["a", "b", "c", "d"], "IID": ["1", "2", "3", "4"]}
    pheno_df = pd.DataFrame({**ids, "Y0": [0.5, np.nan, 1.5, 2.0], "Y1": ["1", "2", "x", "4"]})
    covar_df = pd.DataFrame({**ids, "C0": [1, 2, 3, 4], "C1": ["7", "8", "9", "NA"]})
    kept, y, covariates = complete_cases(pheno_df, covar_df)
    assert kept["IID"].tolist() == ["1"]  # b: missing Y0, c: Y1 not a number, d: C1 NA
    np.testing.assert_array_equal(y, [[0.5, 1.0]])
    np.testing.assert_array_equal(covariates, [[1.0, 7.0]])


def test_Residualizer__too_few_dof_names_n_and_covariates() -> None:
    with pytest.raises(InputError, match=r"N=5 samples with 4 covariates"):
        Residualizer(np.random.default_rng(0).normal(size=(5, 4)))


def test_Residualizer__rejects_collinear_covariates() -> None:
    covariates = np.random.default_rng(0).normal(size=(50, 2))
    with pytest.raises(InputError, match="collinear"):
        Residualizer(np.column_stack([covariates, covariates[:, 0] * 2]))


def test_Residualizer__output_orthogonal_to_the_basis() -> None:
    rng = np.random.default_rng(0)
    covariates, x = rng.normal(size=(100, 3)), rng.normal(size=(100, 4))
    res = Residualizer(covariates).transform(x)
    basis = np.column_stack([np.ones(100), covariates])
    assert np.abs(basis.T @ res).max() < 1e-10


def test_resolve_device__cuda_without_gpu() -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert resolve_device("auto", "gwas.device") == "cpu"
    with pytest.raises(ConfigError, match="no GPU"):
        resolve_device("cuda", "gwas.device")


def block_results(cohort, backend: Backend):
    """scan_block over all variants of the cohort with the given backend."""
    y = cohort["pheno_df"][[f"Y{d}" for d in range(D)]].to_numpy()
    covariates = cohort["covar_df"][["age", "sex", "pc1"]].to_numpy()[:N_HELDOUT]
    model = null_model(y, covariates, backend)
    return scan_block(cohort["g"][:N_HELDOUT], model, 0.0, 0.0, backend)[2]


@pytest.mark.parametrize(("dtype", "rtol"), [("float64", 1e-6), ("float32", 1e-3)])
def test_association_block__torch_matches_numpy(cohort, dtype, rtol) -> None:
    pytest.importorskip("torch")
    expected = block_results(cohort, Backend())
    got = block_results(cohort, Backend(dtype=dtype, use_torch=True))
    for name in ["beta", "se", "mlog10p", "chisq", "chisq_mlog10p"]:
        want = getattr(expected, name)
        atol = rtol * np.abs(want).max()  # float32: near-zero betas are not relative-exact
        np.testing.assert_allclose(getattr(got, name), want, rtol=rtol, atol=atol)


@pytest.mark.parametrize("use_torch", [False, True])
def test_Backend_genotypes__int8_block_equals_float_dosages(cohort, use_torch) -> None:
    """int8 blocks (MISSING_INT8) as run_builtin_gwas reads them: same counts and results."""
    if use_torch:
        pytest.importorskip("torch")
    g = cohort["g"][:N_HELDOUT].astype(np.float64)
    g[np.random.default_rng(3).random(g.shape) < 0.02] = np.nan
    int8 = np.asfortranarray(np.where(np.isnan(g), MISSING_INT8, g).astype(np.int8))
    y = cohort["pheno_df"][[f"Y{d}" for d in range(D)]].to_numpy()
    covariates = cohort["covar_df"][["age", "sex", "pc1"]].to_numpy()[:N_HELDOUT]
    keep, counts, expected = scan_block(g, null_model(y, covariates, Backend()), 0, 0, Backend())
    backend = Backend(use_torch=use_torch)
    block, got_counts = backend.genotypes(int8)
    got_keep, _, got = score_block(block, got_counts, null_model(y, covariates, backend), 0, 0)
    assert (got_keep == keep).all()
    assert (got_counts.n_obs == counts.n_obs).all() and (counts.n_obs < N_HELDOUT).all()
    np.testing.assert_allclose(got_counts.eaf, counts.eaf, rtol=1e-12)
    np.testing.assert_allclose(got_counts.mac, counts.mac, rtol=1e-12)
    for name in ["beta", "se", "mlog10p", "chisq"]:
        np.testing.assert_allclose(getattr(got, name), getattr(expected, name), rtol=1e-8)


def test_scan_block__drops_a_variant_collinear_with_the_covariates(cohort) -> None:
    g = cohort["g"][:N_HELDOUT]
    y = cohort["pheno_df"][[f"Y{d}" for d in range(D)]].to_numpy()
    covariates = np.column_stack([cohort["covar_df"][["age"]].to_numpy()[:N_HELDOUT], g[:, 3]])
    keep, _, result = scan_block(g, null_model(y, covariates, Backend()), 0, 0, Backend())
    assert not keep[3] and keep.sum() == N_VARIANTS - 1
    assert np.isfinite(result.chisq).all()


def test_association_block__zero_variance_variant_is_nan() -> None:
    y = np.random.default_rng(0).normal(size=(20, 2))
    basis = np.column_stack([y, np.ones(20) / np.sqrt(20)])  # [Y_res | Q]
    result = association_block(np.zeros((20, 1)), basis, np.eye(2), 17)
    assert np.isnan(result.beta).all() and np.isnan(result.chisq).all()


def test_t_mlog10p__exact_far_below_double_range() -> None:
    # Student t with 2 dof: two-sided P = 2 / (s (s + t)), s = sqrt(t² + 2)
    t = np.array([3.0, 1e3, 1e120])
    s = np.sqrt(t**2 + 2)
    expected = -(np.log10(2.0) - np.log10(s) - np.log10(s + t))
    np.testing.assert_allclose(t_mlog10p(t, 2), expected, rtol=1e-12)
    np.testing.assert_allclose(t_mlog10p(-t, 2), expected, rtol=1e-12)
