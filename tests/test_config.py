"""Config validation: defaults filled, bad values stop with the key's name, docs current."""

from __future__ import annotations

import pytest

from gemcont.config import load_config, load_schema
from gemcont.config_docs import update_readme
from gemcont.errors import ConfigError

from .conftest import REPO, SCHEMA, make_config


def test_load_config__fills_every_default():
    config = make_config()
    assert config["simulate"]["genotypes"]["n_chromosomes"] == 5
    assert config["simulate"]["disease"]["latent_weights"] == [1.0, 0.5, 0.25]


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ({"simulate": {"n_people": -5}}, "simulate.n_people"),
        ({"simulate": {"genotypes": {"min_maf": "high"}}}, "simulate.genotypes.min_maf"),
        ({"simulate": {"fundus": {"image_sise": 64}}}, "simulate.fundus.image_sise"),
        ({"simulate": {"disease": {"prevalence": 0.7}}}, "simulate.disease.prevalence"),
        ({"simulate": {"disease": {"latent_weights": [1.0]}}}, "simulate.disease.latent_weights"),
        ({"bogus_section": {}}, "bogus_section"),
        ({"methods": ["gemcont", "frozen"]}, "train.backbone.path"),
        ({"train": {"encoder": "frozen_vit"}}, "train.backbone.path"),
        (
            {"train": {"backbone": {"path": "w.pth", "std": [0.2, 0.2]}}},
            "train.backbone.std",
        ),
    ],
)
def test_load_config__bad_value_names_key(override, key):
    with pytest.raises(ConfigError) as err:
        make_config(override)
    assert err.value.key == key
    assert f"'{key}'" in str(err.value)


def test_load_config__variance_shares_must_leave_noise():
    with pytest.raises(ConfigError, match="sum to 1.1"):
        make_config({"simulate": {"disease": {"mediated_variance": 0.8, "direct_variance": 0.3}}})


def test_schema__every_key_has_default_and_description():
    def walk(node, path):
        for name, sub in node.get("properties", {}).items():
            key = f"{path}{name}"
            assert sub.get("description"), f"{key} lacks a description"
            if sub.get("type") == "object":
                walk(sub, key + ".")
            else:
                assert "default" in sub, f"{key} lacks a default"

    walk(load_schema(SCHEMA), "")


def test_config_readme__documents_current_schema():
    readme = REPO / "config" / "README.md"
    assert readme.read_text() == update_readme(readme, SCHEMA), (
        "config/README.md is stale: run `python -m gemcont.config_docs`"
    )


def test_load_config__real_data_templates_are_valid():
    import yaml

    for path in sorted((REPO / "config").glob("*.yaml")):
        load_config(yaml.safe_load(path.read_text()) or {}, SCHEMA)
