"""Typed settings: every section's dataclass is built from the validated config of the
demo and of every template, and a dataclass that drifts from the schema is refused."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from gemcont.evaluate.collect import EvaluateSettings
from gemcont.genotypes.stage import FeaturesSettings, PcsSettings
from gemcont.gwas.settings import RULE_KEYS, GwasSettings, rule_settings
from gemcont.panel.build import PanelSettings
from gemcont.phenotypes.build import PhenotypeSettings
from gemcont.rotation.settings import RotationSettings, build_rotation
from gemcont.settings import build, from_section
from gemcont.simulate.settings import SimulateSettings
from gemcont.splits import SplitsSettings
from gemcont.train.config import TrainSettings

from .conftest import REPO, make_config

SECTIONS = {
    "simulate": SimulateSettings,
    "panel": PanelSettings,
    "pcs": PcsSettings,
    "features": FeaturesSettings,
    "phenotypes": PhenotypeSettings,
    "splits": SplitsSettings,
    "train": TrainSettings,
    "gwas": GwasSettings,
    "evaluate": EvaluateSettings,
}
TEMPLATES = ["ukb_fundus.yaml", "ukb_spirometry.yaml", "fig2_cpu.yaml", "paper_fig2.yaml"]


def _tuples(value: object) -> object:
    """A config value as the settings hold it: lists as tuples, mappings alike inside."""
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


@pytest.mark.parametrize("template", [None, *TEMPLATES])
def test_settings__every_section_builds_from_the_validated_config(template: str | None) -> None:
    override = (
        None if template is None else yaml.safe_load((REPO / "config" / template).read_text())
    )
    config = make_config(override)
    for section, cls in SECTIONS.items():
        settings = build(cls, config[section], section)
        assert isinstance(settings, cls)
        assert dataclasses.asdict(settings) == _tuples(config[section]), section
    assert isinstance(build_rotation(config["rotation"]), RotationSettings)


def test_settings__schema_defaults_reach_the_dataclass() -> None:
    """Defaults come from the schema only: a partial section is filled from it."""
    schema_default = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    gwas_schema = schema_default["properties"]["gwas"]["properties"]
    settings = from_section(GwasSettings, "gwas", {"engine": "plink2"})
    assert settings.engine == "plink2"
    assert settings.p_threshold == gwas_schema["p_threshold"]["default"]
    assert settings.covariates.n_pcs == gwas_schema["covariates"]["properties"]["n_pcs"]["default"]


def test_build__refuses_a_dataclass_that_drifted_from_the_schema() -> None:
    @dataclasses.dataclass(frozen=True)
    class Drifted:
        engine: str
        not_in_schema: int

    section = make_config()["gwas"]
    with pytest.raises(TypeError, match=r"config 'gwas'.*\['not_in_schema'\].*'p_threshold'"):
        build(Drifted, section, "gwas")


def test_rule_settings__a_key_the_rule_does_not_receive_stops_with_its_name() -> None:
    config = make_config()["gwas"]
    params = {key: config[key] for key in RULE_KEYS["summarise_gwas"]}
    settings = rule_settings("summarise_gwas", {**params, "p_threshold": 1e-6})
    assert settings.p_threshold == 1e-6 and settings.clump.r2 == config["clump"]["r2"]
    message = r"gwas\.min_maf is not among the params of rule summarise_gwas"
    with pytest.raises(RuntimeError, match=message):
        _ = settings.min_maf > 0.01
    with pytest.raises(RuntimeError, match=r"gwas\.regenie is not among the params"):
        _ = settings.regenie.binary
    with pytest.raises(TypeError, match=r"rule summarise_gwas params"):
        rule_settings("summarise_gwas", {**params, "engine": "builtin"})
