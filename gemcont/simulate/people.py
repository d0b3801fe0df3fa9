"""The people table the phenotype renderers take (FID, IID, covariates, latent traits)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from gemcont.io import tables as io_tables


def require_columns(people: pd.DataFrame, columns: Sequence[str]) -> None:
    """Stop with an InputError naming the ``columns`` that ``people`` lacks."""
    io_tables.require_columns(people, columns, None, f"provide columns {', '.join(columns)}")
