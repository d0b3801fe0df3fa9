"""The one reader and writer of ``embeddings.tsv.gz``: one line per person,
FID IID set e_0..e_{D-1}, ``set`` being "train" or "heldout" for the run's split."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from gemcont.errors import InputError
from gemcont.io.tables import write_tsv

SET_COLUMN = "set"
PREFIX = "e_"
DIMENSION = re.compile(rf"{PREFIX}(\d+)")


def embedding_columns(n_dims: int) -> list[str]:
    """Names of the embedding columns: e_0 .. e_{D-1}."""
    return [f"{PREFIX}{d}" for d in range(n_dims)]


def dimension_columns(frame: pd.DataFrame, path: str | Path | None = None) -> list[str]:
    """The ``e_0 .. e_{D-1}`` columns of an embeddings table in numeric order; an error
    naming ``path`` when they are absent or have a gap."""
    found = {int(m.group(1)): c for c in frame.columns if (m := DIMENSION.fullmatch(c))}
    if not found or sorted(found) != list(range(len(found))):
        raise InputError(
            path,
            f"embedding columns must be e_0..e_(D-1); found {sorted(found.values())}",
            "write embeddings with the embed stage (columns FID IID set e_0 ...)",
        )
    return [found[i] for i in range(len(found))]


def read_embeddings(path: str | Path) -> pd.DataFrame:
    """The embeddings table: FID, IID and set as text, the e_* columns as floats."""
    return pd.read_csv(path, sep="\t", dtype={"FID": str, "IID": str, SET_COLUMN: str})


def write_embeddings(frame: pd.DataFrame | Iterable[pd.DataFrame], path: str | Path) -> None:
    """Write the embeddings table (gzipped, atomic, 7 significant digits); ``frame``
    may be its parts in order (see :func:`gemcont.io.tables.write_tsv`)."""
    write_tsv(frame, path, float_format="%.7g")
