"""Genetic architecture of the simulated disease and its latent traits.

Two kinds of causal variants: *mediated* ones shift a latent trait that the
phenotype (fundus image, spirometry curve) shows; *direct* ones raise disease
liability without a trace in the phenotype. Effects are scaled with the
expected genotype variance 2p(1-p), so the configured variance shares hold in
expectation in any sample drawn from the same population.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import integrate, optimize, stats

from gemcont.simulate.settings import ArchitectureSettings, DiseaseSettings


def choose_causal(
    bim: pd.DataFrame,
    freq: np.ndarray,
    arch: ArchitectureSettings,
    disease: DiseaseSettings,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Pick causal variants: common, at least ``causal_min_distance_kb`` apart, and never
    strand-ambiguous, so that the truth does not depend on the harmonisation policy."""
    n_needed = arch.n_mediated + arch.n_direct
    maf = np.minimum(freq, 1 - freq)
    pair = bim["A1"] + bim["A2"]
    ambiguous = pair.isin(["AT", "TA", "CG", "GC"]).to_numpy()
    candidates = rng.permutation(np.flatnonzero((maf >= arch.causal_min_maf) & ~ambiguous))
    chosen: list[int] = []
    min_bp = arch.causal_min_distance_kb * 1000
    for idx in candidates:
        same_chr = [c for c in chosen if bim["CHR"].iat[c] == bim["CHR"].iat[idx]]
        if all(abs(bim["POS"].iat[c] - bim["POS"].iat[idx]) >= min_bp for c in same_chr):
            chosen.append(int(idx))
        if len(chosen) == n_needed:
            break
    if len(chosen) < n_needed:
        raise ValueError(
            f"only {len(chosen)} of {n_needed} causal variants fit "
            f"{arch.causal_min_distance_kb} kb apart; lower simulate.architecture.n_mediated "
            "or n_direct, or simulate more chromosomes"
        )
    chosen = np.sort(np.asarray(chosen))
    pathway = np.array(["mediated"] * arch.n_mediated + ["direct"] * arch.n_direct)
    pathway = pathway[rng.permutation(n_needed)]
    causal = bim.iloc[chosen][["ID", "CHR", "POS", "A1", "A2"]].reset_index(drop=True)
    causal.insert(0, "BIM_INDEX", chosen)
    causal["EAF"] = freq[chosen]
    causal["pathway"] = pathway
    causal["latent"] = -1
    mediated = np.flatnonzero(pathway == "mediated")
    causal.loc[mediated, "latent"] = np.arange(len(mediated)) % arch.n_latent
    return _assign_effects(causal, arch, disease, rng)


def _scaled(raw: np.ndarray, freq: np.ndarray, variance: float) -> np.ndarray:
    """Scale raw effects so that sum 2p(1-p) beta^2 equals ``variance``."""
    expected = np.sum(2 * freq * (1 - freq) * raw**2)
    return raw * np.sqrt(variance / expected) if expected > 0 else raw


def _assign_effects(
    causal: pd.DataFrame,
    arch: ArchitectureSettings,
    disease: DiseaseSettings,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Per-allele effects on the latent traits and on the disease liability."""
    raw = rng.normal(size=len(causal))
    beta_latent = np.zeros(len(causal))
    for k in range(arch.n_latent):
        rows = (causal["pathway"] == "mediated") & (causal["latent"] == k)
        beta_latent[rows] = _scaled(
            raw[rows], causal.loc[rows, "EAF"].to_numpy(), arch.latent_heritability
        )
    direct = (causal["pathway"] == "direct").to_numpy()
    beta_liability = np.zeros(len(causal))
    beta_liability[direct] = _scaled(
        raw[direct], causal.loc[direct, "EAF"].to_numpy(), disease.direct_variance
    )
    weights = np.asarray(disease.latent_weights, dtype=float)
    mediated_scale = np.sqrt(disease.mediated_variance) / np.sqrt(np.sum(weights**2))
    latent_idx = causal["latent"].to_numpy()
    med = ~direct
    beta_liability[med] = beta_latent[med] * weights[latent_idx[med]] * mediated_scale
    causal["BETA_LATENT"] = beta_latent
    causal["BETA_LIABILITY"] = beta_liability
    return causal


def genetic_values(
    dosages: np.ndarray, causal: pd.DataFrame, n_latent: int
) -> tuple[np.ndarray, np.ndarray]:
    """(people x n_latent latent genetic values, people direct liability values), centred."""
    g = dosages[:, causal["BIM_INDEX"].to_numpy()].astype(np.float64)
    g -= 2 * causal["EAF"].to_numpy()
    latent_g = np.zeros((len(g), n_latent))
    for k in range(n_latent):
        rows = (causal["latent"] == k).to_numpy()
        latent_g[:, k] = g[:, rows] @ causal.loc[rows, "BETA_LATENT"].to_numpy()
    direct = (causal["pathway"] == "direct").to_numpy()
    direct_g = g[:, direct] @ causal.loc[direct, "BETA_LIABILITY"].to_numpy()
    return latent_g, direct_g


def covariate_score(covariates: pd.DataFrame) -> np.ndarray:
    """A standardised non-genetic risk score from age and sex (population constants)."""
    age_z = (covariates["age"].to_numpy() - 55.0) / np.sqrt(30.0**2 / 12)
    sex_z = (covariates["sex"].to_numpy() - 0.5) / 0.5
    return 0.8 * age_z + 0.6 * sex_z


def liability_and_disease(
    latent: np.ndarray,
    direct_g: np.ndarray,
    covariates: pd.DataFrame,
    disease: DiseaseSettings,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Liability (variance ~1), prevalent disease and incident disease within 5 years."""
    weights = np.asarray(disease.latent_weights, dtype=float)
    mediated = latent @ weights / np.sqrt(np.sum(weights**2))
    noise_var = 1 - disease.mediated_variance - disease.direct_variance - disease.covariate_variance
    liability = (
        np.sqrt(disease.mediated_variance) * mediated
        + direct_g
        + np.sqrt(disease.covariate_variance) * covariate_score(covariates)
        + np.sqrt(noise_var) * rng.standard_normal(len(latent))
    )
    threshold, future_threshold = disease_thresholds(disease)
    prevalent = liability > threshold
    future = liability + disease.progression_sd * rng.standard_normal(len(latent))
    incident = ~prevalent & (future > future_threshold)
    return pd.DataFrame(
        {
            "liability": liability,
            "disease_at_assessment": prevalent.astype(np.int8),
            "incident_5y": incident.astype(np.int8),
        }
    )


def disease_thresholds(disease: DiseaseSettings) -> tuple[float, float]:
    """Liability thresholds giving the configured prevalence and 5-year incidence.

    Incidence is among people free of disease at assessment: a person becomes a case
    when liability plus N(0, progression_sd^2) progression crosses the second threshold.
    """
    t = stats.norm.isf(disease.prevalence)
    s = disease.progression_sd

    def incidence(t2: float) -> float:
        integrand = lambda x: stats.norm.pdf(x) * stats.norm.sf((t2 - x) / s)  # noqa: E731
        return integrate.quad(integrand, -8, t)[0] / (1 - disease.prevalence)

    t2 = optimize.brentq(lambda u: incidence(u) - disease.incidence_5y, t - 5, t + 10)
    return float(t), float(t2)
