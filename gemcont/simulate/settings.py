"""Typed settings of the ``simulate`` config section (keys, limits and defaults: the
schema, ``workflow/schemas/config.schema.yaml``), built once by each simulation script
with :func:`gemcont.settings.build` and passed down."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GenotypeSettings:
    """``simulate.genotypes``: the coalescent of every chromosome."""

    n_chromosomes: int
    chromosome_length_mb: float
    snp_spacing_kb: float
    min_maf: float
    effective_population_size: int
    recent_population_size: int
    growth_generations: int
    recombination_rate: float
    mutation_rate: float
    ambiguous_fraction: float
    missing_rate: float


@dataclass(frozen=True)
class ArchitectureSettings:
    """``simulate.architecture``: causal variants and latent traits."""

    n_latent: int
    n_mediated: int
    n_direct: int
    latent_heritability: float
    causal_min_maf: float
    causal_min_distance_kb: float


@dataclass(frozen=True)
class DiseaseSettings:
    """``simulate.disease``: the liability-threshold disease."""

    prevalence: float
    incidence_5y: float
    mediated_variance: float
    direct_variance: float
    covariate_variance: float
    latent_weights: tuple[float, ...]
    progression_sd: float


@dataclass(frozen=True)
class CovariateSettings:
    """``simulate.covariates``."""

    n_batches: int
    n_centres: int


@dataclass(frozen=True)
class ExternalGwasSettings:
    """``simulate.external_gwas``: the independent cohort behind the panel."""

    n_people: int
    allele_swap_fraction: float
    n_cohorts: int


@dataclass(frozen=True)
class DefectSettings:
    """``simulate.defects``: input defects planted for the exclusion reports."""

    missing_covariate_fraction: float
    no_phenotype_fraction: float
    corrupt_records: int


@dataclass(frozen=True)
class FundusSettings:
    """``simulate.fundus``."""

    enabled: bool
    image_size: int
    both_eyes_fraction: float
    marker_noise_sd: float


@dataclass(frozen=True)
class SpirometrySettings:
    """``simulate.spirometry``."""

    enabled: bool
    max_blows: int


@dataclass(frozen=True)
class ImputedSettings:
    """``simulate.imputed``: the cohort also as imputed dosages (PGEN, BGEN)."""

    enabled: bool
    min_info: float


@dataclass(frozen=True)
class SimulateSettings:
    """The ``simulate`` section."""

    enabled: bool
    seed: int
    n_people: int
    genotypes: GenotypeSettings
    architecture: ArchitectureSettings
    disease: DiseaseSettings
    covariates: CovariateSettings
    external_gwas: ExternalGwasSettings
    defects: DefectSettings
    fundus: FundusSettings
    spirometry: SpirometrySettings
    imputed: ImputedSettings
