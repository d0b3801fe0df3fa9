"""Typed settings: one frozen dataclass per config section (or sub-section), built once
at a script's edge from the validated config.

Defaults live only in the schema (``workflow/schemas/config.schema.yaml``): a settings
class declares no defaults and must name exactly the keys of its section, so a key added
to the schema without a field (or the reverse) fails :func:`build` at once and in
``tests/test_settings.py``, instead of drifting. Library callers that hold a partial
section get the schema's defaults under it with :func:`from_section`.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from gemcont.config import with_defaults

T = TypeVar("T")


def build(cls: type[T], values: Mapping[str, Any], key: str) -> T:
    """``cls`` from a validated config mapping whose keys are exactly ``cls``'s fields;
    nested dataclass fields are built from their sub-mappings and lists become tuples.
    ``key`` is the section's dotted config key (for the error)."""
    names = [f.name for f in dataclasses.fields(cls)]
    missing = sorted(set(names) - set(values))
    extra = sorted(set(values) - set(names))
    if missing or extra:
        raise TypeError(
            f"settings {cls.__name__} for config '{key}' do not match the schema: "
            f"fields without a key {missing}, keys without a field {extra}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name in names:
        value, hint = values[name], hints[name]
        if dataclasses.is_dataclass(hint) and isinstance(value, Mapping):
            value = build(hint, value, f"{key}.{name}")
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    return cls(**kwargs)


def from_section(cls: type[T], section: str, values: Mapping[str, Any] | None = None) -> T:
    """``cls`` from config ``section`` with the schema's defaults under ``values`` (a
    partial or whole section), validated like a full config."""
    return build(cls, with_defaults(section, values), section)
