"""Simulate the demo cohort: genotypes, covariates, disease, truth, external GWAS."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gemcont.io.plink import write_bed
from gemcont.io.sumstats import SINGLE_TRAIT_COLUMNS, write_sumstats
from gemcont.io.tables import write_tsv
from gemcont.parallel import process_pool
from gemcont.simulate.architecture import (
    choose_causal,
    genetic_values,
    liability_and_disease,
)
from gemcont.simulate.defects import missing_covariates
from gemcont.simulate.external_gwas import (
    case_control_scan,
    swap_reported_alleles,
    write_finngen,
)
from gemcont.simulate.genotypes import ChromosomeSpec, simulate_chromosome
from gemcont.simulate.settings import CovariateSettings, SimulateSettings

log = logging.getLogger(__name__)
logging.getLogger("msprime").setLevel(logging.WARNING)
MISSING_INT8 = -127


@dataclass(frozen=True)
class GeneticsPaths:
    """Files written by :func:`simulate_genetics`; ``more_sumstats``: the external GWAS of
    cohorts 2, 3, ... (FinnGen layout), one per cohort after the first."""

    bfile: str
    covariates: Path
    disease: Path
    sumstats: Path
    causal: Path
    latent: Path
    summary: Path
    more_sumstats: tuple[Path, ...] = ()


def simulate_all_chromosomes(
    settings: SimulateSettings, threads: int
) -> tuple[pd.DataFrame, np.ndarray]:
    """Both cohorts' genotypes, chromosome by chromosome (in parallel processes)."""
    n_individuals = settings.n_people + settings.external_gwas.n_people
    specs = [
        ChromosomeSpec(
            chrom=c,
            n_individuals=n_individuals,
            genotypes=settings.genotypes,
            seed=settings.seed,
        )
        for c in range(1, settings.genotypes.n_chromosomes + 1)
    ]
    with process_pool(max(1, min(threads, len(specs)))) as pool:
        parts = pool.map(simulate_chromosome, specs)
    bim = pd.concat([p[0] for p in parts], ignore_index=True)
    dosages = np.concatenate([p[1] for p in parts], axis=1)
    log.info("simulated %d variants on %d chromosomes", len(bim), len(specs))
    return bim, dosages


def simulate_covariates(
    ids: pd.DataFrame, settings: CovariateSettings, rng: np.random.Generator
) -> pd.DataFrame:
    """Age, sex, height, BMI, genotyping batch and assessment centre."""
    n = len(ids)
    sex = rng.integers(0, 2, n)
    height = np.where(sex == 1, rng.normal(175.5, 7.0, n), rng.normal(162.5, 6.5, n))
    cov = ids.copy()
    cov["age"] = np.round(rng.uniform(40, 70, n), 1)
    cov["sex"] = sex
    cov["height"] = np.round(height, 1)
    cov["bmi"] = np.round(np.exp(rng.normal(np.log(27), 0.15, n)), 1)
    cov["batch"] = [f"Batch_{b + 1}" for b in rng.integers(0, settings.n_batches, n)]
    cov["centre"] = [f"{11000 + c + 1}" for c in rng.integers(0, settings.n_centres, n)]
    return cov


def person_ids(n: int, offset: int) -> pd.DataFrame:
    """FID = IID, seven-digit UK Biobank-like identifiers."""
    iid = [str(1_000_001 + offset + i) for i in range(n)]
    return pd.DataFrame({"FID": iid, "IID": iid})


def simulate_genetics(settings: SimulateSettings, paths: GeneticsPaths, threads: int = 1) -> None:
    """Run the genetic part of the simulation and write every file in ``paths``."""
    n_files = 1 + len(paths.more_sumstats)
    if n_files != settings.external_gwas.n_cohorts:
        raise ValueError(
            f"simulate.external_gwas.n_cohorts is {settings.external_gwas.n_cohorts} but "
            f"{n_files} external sumstats paths were given"
        )
    arch = settings.architecture
    rng = np.random.default_rng([settings.seed, 0])
    bim, dosages = simulate_all_chromosomes(settings, threads)
    freq = dosages.mean(axis=0) / 2
    causal = choose_causal(bim, freq, arch, settings.disease, rng)
    n_cohort = settings.n_people
    ids = person_ids(len(dosages), 0)
    covariates = simulate_covariates(ids, settings.covariates, rng)
    latent_g, direct_g = genetic_values(dosages, causal, arch.n_latent)
    env = rng.standard_normal(latent_g.shape) * np.sqrt(1 - arch.latent_heritability)
    latent = latent_g + env
    disease = liability_and_disease(latent, direct_g, covariates, settings.disease, rng)

    cohort = slice(0, n_cohort)
    external = slice(n_cohort, None)
    _write_cohort_genotypes(
        paths.bfile,
        dosages[cohort],
        ids.iloc[cohort],
        covariates,
        bim,
        settings.genotypes.missing_rate,
        rng,
    )
    write_tsv(
        missing_covariates(
            covariates.iloc[cohort], settings.defects.missing_covariate_fraction, settings.seed
        ),
        paths.covariates,
    )
    write_tsv(
        pd.concat([ids, disease[["disease_at_assessment", "incident_5y"]]], axis=1).iloc[cohort],
        paths.disease,
    )
    truth = ids.copy()
    for k in range(arch.n_latent):
        truth[f"latent_{k}_genetic"] = latent_g[:, k]
        truth[f"latent_{k}"] = latent[:, k]
    truth["direct_genetic"] = direct_g
    truth["liability"] = disease["liability"]
    write_tsv(truth.iloc[cohort], paths.latent)
    write_tsv(causal, paths.causal)

    ext_status = disease["disease_at_assessment"].to_numpy()[external]
    hits = _external_gwas(
        dosages[external], ext_status, bim, settings, (paths.sumstats, *paths.more_sumstats), rng
    )
    summary = {
        "n_cohort": n_cohort,
        "n_external": int(len(dosages) - n_cohort),
        "n_variants": int(len(bim)),
        "external_cases": int(ext_status.sum()),
        "cohort_prevalence": float(disease["disease_at_assessment"].iloc[cohort].mean()),
        "cohort_incidence_5y": float(disease["incident_5y"].iloc[cohort].mean()),
        "external_hits_1e-5": hits[0],
    }
    if len(hits) > 1:
        summary["external_hits_1e-5_per_cohort"] = hits
    paths.summary.write_text(json.dumps(summary, indent=2) + "\n")
    log.info("simulation summary: %s", summary)


def _external_gwas(
    dosages: np.ndarray,
    status: np.ndarray,
    bim: pd.DataFrame,
    settings: SimulateSettings,
    files: tuple[Path, ...],
    rng: np.random.Generator,
) -> list[int]:
    """Scan each external cohort (consecutive blocks of the external people, so their
    genotypes are those of the one simulation) and write its sumstats: the first in the
    project's scheme, the others in FinnGen's layout. Returns the hits at P < 1e-5."""
    sizes = [len(part) for part in np.array_split(np.arange(len(status)), len(files))]
    bounds = np.cumsum([0, *sizes])
    hits = []
    for k, path in enumerate(files):
        people = slice(bounds[k], bounds[k + 1])
        scan = case_control_scan(dosages[people], status[people], bim)
        scan = swap_reported_alleles(scan, settings.external_gwas.allele_swap_fraction, rng)
        if k == 0:
            write_sumstats(scan[SINGLE_TRAIT_COLUMNS], path, SINGLE_TRAIT_COLUMNS)
        else:
            write_finngen(scan, dosages[people], status[people], bim["A1"].to_numpy(), path)
        hits.append(int((scan["P"] < 1e-5).sum()))
        log.info("external cohort %d: %d people, %d hits at P < 1e-5", k + 1, sizes[k], hits[-1])
    return hits


def _write_cohort_genotypes(
    bfile: str,
    dosages: np.ndarray,
    ids: pd.DataFrame,
    covariates: pd.DataFrame,
    bim: pd.DataFrame,
    missing_rate: float,
    rng: np.random.Generator,
) -> None:
    """Write the cohort .bed/.bim/.fam with sporadic missing genotype calls."""
    calls = dosages.copy()
    missing = rng.random(calls.shape, dtype=np.float32) < missing_rate
    calls[missing] = MISSING_INT8
    fam = ids.assign(PAT="0", MAT="0", SEX=np.where(covariates["sex"].iloc[: len(ids)] == 1, 1, 2))
    fam["PHENO"] = "-9"
    write_bed(bfile, calls, fam, bim)
