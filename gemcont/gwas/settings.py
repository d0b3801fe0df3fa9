"""Typed settings of the ``gwas`` config section (keys, limits and defaults: the schema,
``workflow/schemas/config.schema.yaml``), built once by each GWAS script with
:func:`gemcont.settings.build` and passed down."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, NoReturn

from gemcont.errors import ConfigError
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
    mfi: str | None


@dataclass(frozen=True)
class Plink2Settings:
    """``gwas.plink2``."""

    binary: str | None


@dataclass(frozen=True)
class Step1QcSettings:
    """``gwas.regenie.step1_qc``: plink2 filters choosing step 1's variants."""

    maf: float
    mac: int
    geno: float
    prune_window: int
    prune_step: int
    prune_r2: float


@dataclass(frozen=True)
class RegenieSettings:
    """``gwas.regenie``."""

    binary: str | None
    step1_bsize: int
    step2_bsize: int
    lowmem: bool
    step1_qc: Step1QcSettings


@dataclass(frozen=True)
class GwasSettings:
    """The ``gwas`` section."""

    engine: str
    n_components: int | None
    chromosomes: tuple[str, ...]
    covariates: CovariateSettings
    min_maf: float
    min_mac: float
    min_info: float
    max_missing: float
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


def check_engine_filters(engine: str, max_missing: float) -> None:
    """ConfigError for a filter the engine cannot apply: REGENIE and gwas.max_missing."""
    if engine == "regenie" and max_missing < 1:
        raise ConfigError(
            "gwas.max_missing",
            "REGENIE step 2 has no missingness filter (it imputes missing calls with the "
            "mean): set it to 1, or use engine builtin or plink2",
        )


# The gwas keys each rule reads, its ``params`` (gwas_common.smk ``gwas_params``): a key
# change reruns only the rules that read it (`--rerun-triggers params`), e.g.
# gwas.p_threshold only the loci summaries, never step 1 or the scans.
RULE_KEYS: dict[str, tuple[str, ...]] = {
    "prepare_gwas": ("n_components", "covariates"),
    "regenie_step1": ("plink2", "regenie"),
    "gwas_chromosome": ("engine", "min_maf", "min_mac", "min_info", "max_missing")
    + ("block_size", "device", "dtype", "plink2", "regenie", "genotypes", "chunk_variants"),
    "summarise_gwas": ("p_threshold", "clump", "recovery_window_kb"),
}


class NotPassed:
    """A gwas setting a rule does not receive: any use of it is an error naming the key
    (a default in its place would be a silent wrong value)."""

    def __init__(self, key: str, rule: str) -> None:
        self._key, self._rule = key, rule

    def _fail(self, *_: object) -> NoReturn:
        raise RuntimeError(
            f"gwas.{self._key} is not among the params of rule {self._rule}: add it to "
            "gemcont.gwas.settings.RULE_KEYS"
        )

    def __getattr__(self, name: str) -> NoReturn:
        if name.startswith("_"):
            raise AttributeError(name)
        self._fail()

    __bool__ = __float__ = __int__ = __index__ = __iter__ = __len__ = __str__ = _fail
    __format__ = __lt__ = __le__ = __gt__ = __ge__ = __eq__ = __hash__ = _fail


def rule_settings(rule: str, values: Mapping[str, Any]) -> GwasSettings:
    """:class:`GwasSettings` of a rule's ``params`` (exactly its :data:`RULE_KEYS`); the
    keys it does not read are :class:`NotPassed`."""
    keys = RULE_KEYS[rule]
    if set(values) != set(keys):
        raise TypeError(f"rule {rule} params {sorted(values)} are not gwas keys {sorted(keys)}")
    full = gwas_settings(values)
    unread = {f.name: NotPassed(f.name, rule) for f in fields(full) if f.name not in keys}
    return replace(full, **unread)
