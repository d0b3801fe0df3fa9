"""The people table the phenotype renderers take (FID, IID, covariates, latent traits)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from gemcont.errors import InputError


def require_columns(people: pd.DataFrame, columns: Sequence[str]) -> None:
    """Stop with an InputError naming the ``columns`` that ``people`` lacks."""
    missing = [c for c in columns if c not in people.columns]
    if missing:
        raise InputError(
            None,
            f"people table lacks column(s) {missing}",
            f"provide columns {', '.join(columns)}",
        )
