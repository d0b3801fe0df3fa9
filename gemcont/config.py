"""Configuration: JSON-schema validation with defaults, and messages that name the key."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import yaml

from gemcont.errors import ConfigError

try:
    import jsonschema
except ImportError:  # e.g. a GPU machine's bare Python: defaults are filled, not validated
    jsonschema = None

log = logging.getLogger(__name__)


def _fill_defaults(validator_class: type) -> type:
    """A validator class that also writes schema defaults into the instance."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):  # type: ignore[no-untyped-def]
        if isinstance(instance, MutableMapping):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = _copy(sub["default"])
                elif sub.get("type") == "object" and name not in instance:
                    instance[name] = {}
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def _copy(value: Any) -> Any:
    return yaml.safe_load(yaml.safe_dump(value))


DefaultingValidator = _fill_defaults(jsonschema.Draft202012Validator) if jsonschema else None


def fill_defaults(schema: dict, values: MutableMapping) -> dict:
    """``values`` with ``schema``'s defaults filled in (recursively), without validation."""
    out = _copy(dict(values))
    for name, sub in schema.get("properties", {}).items():
        if sub.get("type") == "object" and "properties" in sub:
            out[name] = fill_defaults(sub, out.get(name) or {})
        elif name not in out and "default" in sub:
            out[name] = _copy(sub["default"])
    return out


def load_schema(path: str | Path) -> dict:
    """Read the YAML JSON-schema."""
    with open(path) as fh:
        return yaml.safe_load(fh)


def validate_config(config: MutableMapping, schema: dict) -> MutableMapping:
    """Fill defaults into ``config`` in place and stop at the first invalid key."""
    validator = DefaultingValidator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        raise _config_error(errors[0])
    return config


def _config_error(error: jsonschema.ValidationError) -> ConfigError:
    path = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        key = ".".join(filter(None, [path, extra[0] if extra else ""]))
        known = ", ".join(sorted(error.schema.get("properties", {})))
        return ConfigError(key, f"unknown key (known keys here: {known})")
    described = error.schema.get("description", "")
    hint = f" ({described})" if described else ""
    return ConfigError(path or "<root>", f"{error.message}{hint}")


def check_consistency(config: MutableMapping) -> None:
    """Cross-key rules that a JSON schema cannot express."""
    sim = config["simulate"]
    n_latent = sim["architecture"]["n_latent"]
    weights = sim["disease"]["latent_weights"]
    if len(weights) != n_latent:
        raise ConfigError(
            "simulate.disease.latent_weights",
            f"has {len(weights)} entries but simulate.architecture.n_latent is {n_latent}",
        )
    d = sim["disease"]
    shares = d["mediated_variance"] + d["direct_variance"] + d["covariate_variance"]
    if shares >= 1:
        raise ConfigError(
            "simulate.disease.mediated_variance",
            f"mediated + direct + covariate variance shares sum to {shares:.3g}; must be < 1",
        )
    train = config["train"]
    needs_backbone = "frozen" in config["methods"] or train["encoder"] == "frozen_vit"
    if needs_backbone and not train["backbone"]["path"]:
        raise ConfigError(
            "train.backbone.path",
            "method 'frozen' and encoder 'frozen_vit' need a local pretrained checkpoint "
            "(e.g. RETFound or DINOv2 weights); set it, or drop them",
        )
    channels = len(train["backbone"]["mean"])
    if len(train["backbone"]["std"]) != channels:
        raise ConfigError(
            "train.backbone.std",
            f"has {len(train['backbone']['std'])} entries, train.backbone.mean {channels}",
        )


def load_config(config: MutableMapping, schema_path: str | Path) -> MutableMapping:
    """Validate, fill defaults and check cross-key rules (the Snakefile's entry point)."""
    validate_config(config, load_schema(schema_path))
    check_consistency(config)
    return config


SCHEMA_PATH = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"


def with_defaults(section: str, values: MutableMapping | None = None) -> dict:
    """Config ``section`` with the schema's defaults under ``values`` (for library callers
    that pass a partial section); validated like a full config where jsonschema is
    installed, only filled where it is not."""
    schema = load_schema(SCHEMA_PATH)
    if jsonschema is None:
        log.warning("jsonschema is not installed: config section '%s' is not validated", section)
        return fill_defaults(schema["properties"][section], values or {})
    return validate_config({section: _copy(dict(values or {}))}, schema)[section]
