"""Atomic, deterministic writing of tab-separated tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def write_tsv(df: pd.DataFrame, path: str | Path, float_format: str = "%.6g") -> None:
    """Write a TSV (gzipped when the name ends in .gz) atomically and reproducibly."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    compression = {"method": "gzip", "mtime": 0} if path.suffix == ".gz" else None
    df.to_csv(tmp, sep="\t", index=False, float_format=float_format, compression=compression)
    tmp.replace(path)
