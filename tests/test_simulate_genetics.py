"""The simulated cohort's genetics: PLINK-readable, LD, heritability, power, determinism."""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from gemcont.io.plink import Genotypes
from gemcont.simulate.architecture import disease_thresholds
from gemcont.simulate.external_gwas import case_control_scan

from .conftest import read, run_simulation


def test_simulate_genetics__plink2_frequencies_match(sim, tmp_path):
    _, paths = sim
    out = tmp_path / "freq"
    subprocess.run(
        ["plink2", "--bfile", paths.bfile, "--freq", "--out", str(out)],
        check=True,
        capture_output=True,
    )
    freq = pd.read_csv(f"{out}.afreq", sep="\t")
    with Genotypes(paths.bfile) as geno:
        dosages = geno.read()
        bim = geno.bim
    a1_freq = np.nanmean(dosages, axis=0) / 2
    # plink2 reports ALT_FREQS for column 5 (ALT = A1 in a .bim)
    assert (freq["ALT"].to_numpy() == bim["A1"].to_numpy()).all()
    np.testing.assert_allclose(freq["ALT_FREQS"].to_numpy(), a1_freq, atol=1e-4)
    maf = np.minimum(a1_freq, 1 - a1_freq)
    assert maf.min() >= 0.005  # simulated at MAF >= 1% in both cohorts pooled
    assert 0.005 > np.isnan(dosages).mean() > 0.0005  # configured missing rate 0.002


def test_simulate_genetics__ld_decays_with_distance(sim):
    _, paths = sim
    with Genotypes(paths.bfile) as geno:
        chr1 = np.flatnonzero(geno.bim["CHR"].to_numpy() == "1")
        g = geno.read(chr1, dtype="float64")
        pos = geno.bim["POS"].to_numpy()[chr1]
    g = np.where(np.isnan(g), np.nanmean(g, axis=0), g)
    z = (g - g.mean(0)) / g.std(0)
    r2 = ((z.T @ z) / len(z)) ** 2
    dist = np.abs(pos[:, None] - pos[None, :])
    upper = np.triu(np.ones_like(r2, dtype=bool), k=1)
    near = r2[upper & (dist < 10_000)].mean()
    mid = r2[upper & (dist > 100_000) & (dist < 200_000)].mean()
    far = r2[upper & (dist > 2_000_000)].mean()
    assert near > 3 * mid > 0
    assert mid > far
    assert far < 2.5 / len(z)  # unlinked: r2 ~ 1/N


def test_simulate_genetics__latent_heritability_close_to_configured(sim):
    cfg, paths = sim
    latent = read(paths.latent)
    causal = read(paths.causal)
    h2 = cfg.architecture.latent_heritability
    with Genotypes(paths.bfile) as geno:
        g = geno.read(causal["BIM_INDEX"].to_numpy(), dtype="float64")
    g = np.where(np.isnan(g), np.nanmean(g, axis=0), g)
    for k in range(cfg.architecture.n_latent):
        cols = (causal["latent"] == k).to_numpy()
        x = np.column_stack([np.ones(len(g)), g[:, cols]])
        y = latent[f"latent_{k}"].to_numpy()
        fitted = x @ np.linalg.lstsq(x, y, rcond=None)[0]
        r2 = np.var(fitted) / np.var(y)
        # sampling sd of R2 at N=1500 is ~0.02; few variants per trait add LD noise
        assert abs(r2 - h2) < 0.08, (k, r2)


def test_simulate_genetics__external_gwas_power_as_expected(sim):
    cfg, paths = sim
    causal = read(paths.causal)
    sumstats = read(paths.sumstats)
    merged = causal.merge(sumstats, on="ID", suffixes=("", "_gwas"))
    assert len(merged) == len(causal)
    k = cfg.disease.prevalence
    t = stats.norm.isf(k)
    n = cfg.external_gwas.n_people
    sd_g = np.sqrt(2 * merged["EAF"] * (1 - merged["EAF"]))
    r2 = (stats.norm.pdf(t) * merged["BETA_LIABILITY"] * sd_g) ** 2 / (k * (1 - k))
    power = stats.ncx2.sf(stats.chi2.isf(1e-5, 1), 1, n * r2 / (1 - r2))
    found = (merged["P"] < 1e-5).sum()
    expected, sd = power.sum(), np.sqrt((power * (1 - power)).sum())
    assert abs(found - expected) <= 3 * sd + 1, (found, expected, sd)


def test_case_control_scan__calibrated_under_permuted_status(sim):
    _, paths = sim
    with Genotypes(paths.bfile) as geno:
        dosages = np.nan_to_num(geno.read(dtype="float64"), nan=1.0)
        bim = geno.bim
    status = np.random.default_rng(3).permutation(read(paths.disease)["disease_at_assessment"])
    p = case_control_scan(dosages, status, bim)["P"].to_numpy()
    n = len(p)
    assert abs((p < 0.01).mean() - 0.01) < 4 * np.sqrt(0.01 * 0.99 / n)
    lam = np.median(stats.chi2.isf(p, 1)) / stats.chi2.median(1)
    assert 0.9 < lam < 1.1


def test_simulate_genetics__external_sumstats_schema_and_swaps(sim):
    cfg, paths = sim
    sumstats = read(paths.sumstats)
    assert list(sumstats.columns) == ["CHR", "POS", "ID", "EA", "OA", "EAF", "N", "BETA", "SE", "P"]
    bim = pd.read_csv(f"{paths.bfile}.bim", sep="\t", header=None, dtype=str)
    swapped = (sumstats["EA"].to_numpy() == bim[5].to_numpy()).mean()
    assert abs(swapped - cfg.external_gwas.allele_swap_fraction) < 0.05


def test_simulate_genetics__same_seed_is_byte_identical(sim, tmp_path):
    cfg, first = sim
    second = run_simulation(cfg, tmp_path)
    for ext in ("bed", "bim", "fam"):
        assert (
            Path(f"{first.bfile}.{ext}").read_bytes() == Path(f"{second.bfile}.{ext}").read_bytes()
        )
    for name in ("covariates", "disease", "sumstats", "causal", "latent"):
        assert getattr(first, name).read_bytes() == getattr(second, name).read_bytes(), name


def test_simulate_genetics__disease_follows_liability_thresholds(sim):
    cfg, paths = sim
    disease = read(paths.disease)
    liability = read(paths.latent)["liability"].to_numpy()
    assert abs(np.var(liability) - 1) < 0.1  # variance shares add up to 1
    prevalent = disease["disease_at_assessment"].to_numpy() == 1
    t, t2 = disease_thresholds(cfg.disease)
    assert (prevalent == (liability > t)).all()
    # incidence among the disease-free: each person's risk is P(liability + progression > t2)
    risk = stats.norm.sf((t2 - liability[~prevalent]) / cfg.disease.progression_sd)
    observed = disease["incident_5y"].to_numpy()[~prevalent].sum()
    assert abs(observed - risk.sum()) < 4 * np.sqrt((risk * (1 - risk)).sum())
    assert disease["incident_5y"].to_numpy()[prevalent].sum() == 0


def test_simulate_genetics__plants_missing_bmi(sim):
    cfg, paths = sim
    covariates = read(paths.covariates)
    missing = covariates["bmi"].isna()
    expected = cfg.defects.missing_covariate_fraction * len(covariates)
    assert 0 < missing.sum() <= 3 * expected + 3
    assert covariates.drop(columns="bmi").notna().all().all()


FINNGEN_HEADER = (
    "#chrom\tpos\tref\talt\trsids\tnearest_genes\tpval\tmlogp\tbeta\tsebeta\taf_alt\t"
    "af_alt_cases\taf_alt_controls"
)


def _a1_frequency(eaf: pd.Series, ea: pd.Series, a1: np.ndarray) -> np.ndarray:
    return np.where(ea.to_numpy() == a1, eaf, 1 - eaf)


def test_simulate_genetics__two_cohorts_split_the_same_external_people(sim, sim_two_cohorts):
    _, one = sim
    cfg, two = sim_two_cohorts
    # the cohort itself and the truth do not change with the external cohorts
    for ext in ("bed", "bim", "fam"):
        assert Path(f"{one.bfile}.{ext}").read_bytes() == Path(f"{two.bfile}.{ext}").read_bytes()
    for name in ("covariates", "disease", "causal", "latent"):
        assert getattr(one, name).read_bytes() == getattr(two, name).read_bytes(), name
    (finngen,) = two.more_sumstats
    with gzip.open(finngen, "rt") as handle:
        assert handle.readline().rstrip("\n") == FINNGEN_HEADER
    first = read(two.sumstats)
    second = pd.read_csv(finngen, sep="\t", dtype={"#chrom": str, "rsids": str})
    pooled = read(one.sumstats)
    n_first = cfg.external_gwas.n_people // 2
    assert (first["N"] == n_first).all()
    a1 = pd.read_csv(f"{one.bfile}.bim", sep="\t", header=None, dtype=str)[4].to_numpy()
    assert (second["rsids"].to_numpy() == pooled["ID"].to_numpy()).all()
    # the two halves' allele frequencies average to the pooled external cohort's
    f1 = _a1_frequency(first["EAF"], first["EA"], a1)
    f2 = _a1_frequency(second["af_alt"], second["alt"], a1)
    fp = _a1_frequency(pooled["EAF"], pooled["EA"], a1)
    n_second = cfg.external_gwas.n_people - n_first
    np.testing.assert_allclose((n_first * f1 + n_second * f2) / (n_first + n_second), fp, atol=2e-6)
    # alt is the effect allele: strong pooled hits keep their direction in the second half
    strong = (pooled["P"] < 1e-12).to_numpy()
    assert strong.sum() >= 3
    sign_a1 = np.sign(np.where(second["alt"] == a1, second["beta"], -second["beta"]))
    sign_pooled = np.sign(np.where(pooled["EA"] == a1, pooled["BETA"], -pooled["BETA"]))
    assert (sign_a1[strong] == sign_pooled[strong]).all()
    # pval and mlogp are both printed to 6 significant digits
    np.testing.assert_allclose(second["mlogp"], -np.log10(second["pval"]), rtol=1e-5, atol=1e-6)
    swapped = (second["alt"].to_numpy() != a1).mean()
    assert abs(swapped - cfg.external_gwas.allele_swap_fraction) < 0.05
