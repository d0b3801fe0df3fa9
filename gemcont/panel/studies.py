"""The external GWAS studies of ``data.sumstats``: one file, or several to meta-analyse.

Kept apart from :mod:`gemcont.panel.build` (and free of its imports) because the
workflow reads the studies when it is planned: the rule's inputs and the resource
requests (:mod:`gemcont.resources`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gemcont.errors import ConfigError

# the file name up to its first dot names a study by default: GCST90012345.h.tsv.gz -> GCST90012345
_STEM = re.compile(r"^[^.]+")


@dataclass(frozen=True)
class Study:
    """One external GWAS (an entry of ``data.sumstats``)."""

    name: str
    path: str
    columns: Mapping[str, str]


def studies_from_config(
    sumstats: str | Sequence[str | Mapping], sumstats_columns: Mapping[str, str]
) -> tuple[Study, ...]:
    """The studies of ``data.sumstats`` (a path, or a list of paths and {path, columns,
    name} entries); ``data.sumstats_columns`` maps the columns of a single path."""
    if isinstance(sumstats, str):
        return (Study(_default_name(sumstats), sumstats, dict(sumstats_columns)),)
    if sumstats_columns:
        raise ConfigError(
            "data.sumstats_columns",
            f"applies to a single data.sumstats file, but data.sumstats lists {len(sumstats)} "
            "studies; give the map to its study instead, as data.sumstats: "
            "[{path: <file>, columns: {...}}, ...], and remove data.sumstats_columns",
        )
    studies = tuple(
        Study(_default_name(entry), entry, {})
        if isinstance(entry, str)
        else Study(
            entry.get("name") or _default_name(entry["path"]),
            entry["path"],
            dict(entry.get("columns") or {}),
        )
        for entry in sumstats
    )
    repeated = [name for name, n in Counter(s.name for s in studies).items() if n > 1]
    if repeated:
        paths = [s.path for s in studies if s.name == repeated[0]]
        raise ConfigError(
            "data.sumstats",
            f"study name '{repeated[0]}' is used by {len(paths)} entries ({', '.join(paths)}); "
            "name each study uniquely: {path: <file>, name: <study>}",
        )
    return studies


def _default_name(path: str) -> str:
    return _STEM.match(Path(path).name).group(0)
