"""The one summary-statistics column scheme used by every stage and engine.

Per-dimension (or single-trait) files: ``CHR POS ID EA OA EAF N BETA SE P``.
Multi-trait files: ``CHR POS ID EA OA EAF N CHISQ DF P``.
``EA`` is the counted allele (.bim column 5, see :mod:`gemcont.io.plink`).
Files are tab-separated, optionally gzipped, with a header line.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gemcont.io.tables import write_tsv

VARIANT_COLUMNS = ["CHR", "POS", "ID", "EA", "OA", "EAF", "N"]
SINGLE_TRAIT_COLUMNS = [*VARIANT_COLUMNS, "BETA", "SE", "P"]
MULTI_TRAIT_COLUMNS = [*VARIANT_COLUMNS, "CHISQ", "DF", "P"]


def write_sumstats(df: pd.DataFrame, path: str | Path, columns: list[str]) -> None:
    """Write ``df[columns]`` (plus any extra columns after them) atomically as TSV(.gz)."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"sumstats frame lacks columns {missing}")
    extra = [c for c in df.columns if c not in columns]
    write_tsv(df[columns + extra], path)
