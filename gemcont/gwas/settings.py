"""Typed settings of the ``gwas`` config section (keys, limits and defaults: the schema,
``workflow/schemas/config.schema.yaml``), built once by each GWAS script with
:func:`gemcont.settings.build` and passed down."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gemcont.settings import from_section


@dataclass(frozen=True)
class CovariateSettings:
    """``gwas.covariates``: the design of :func:`gemcont.gwas.covariates.gwas_covariates`."""

    terms: tuple[str, ...]
    categorical: tuple[str, ...]
    n_pcs: int


@dataclass(frozen=True)
class ClumpSettings:
    """``gwas.clump``."""

    r2: float
    kb: float


@dataclass(frozen=True)
class GenotypeSettings:
    """``gwas.genotypes``: what the GWAS scans (:mod:`gemcont.gwas.genotypes`)."""

    path: str | None
    sample: str | None
    bgen_ref: str


@dataclass(frozen=True)
class Plink2Settings:
    """``gwas.plink2``."""

    binary: str | None


@dataclass(frozen=True)
class RegenieSettings:
    """``gwas.regenie``."""

    binary: str | None
    step1_bsize: int
    step2_bsize: int
    lowmem: bool


@dataclass(frozen=True)
class GwasSettings:
    """The ``gwas`` section."""

    engine: str
    n_components: int | None
    chromosomes: tuple[str, ...]
    covariates: CovariateSettings
    min_maf: float
    min_mac: float
    genotypes: GenotypeSettings
    chunk_variants: int
    block_size: int | None
    device: str
    dtype: str
    p_threshold: float
    clump: ClumpSettings
    recovery_window_kb: float
    plink2: Plink2Settings
    regenie: RegenieSettings


def gwas_settings(values: Mapping[str, Any] | None = None) -> GwasSettings:
    """:class:`GwasSettings` of a partial ``gwas`` section, the schema's defaults under it
    (library callers and tests; scripts build theirs from the rule's config slice)."""
    return from_section(GwasSettings, "gwas", values)
