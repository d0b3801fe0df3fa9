"""The one reader of ``splits.tsv``: FID IID split_0..split_{k-1}, each "train" or
"heldout" (written by :func:`gemcont.splits.build_splits`).

Membership is always looked up by the (FID, IID) pair: IIDs may repeat across families.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gemcont.errors import ConfigError, InputError
from gemcont.io.ids import person_keys

TRAIN, HELDOUT = "train", "heldout"


def split_columns(n_splits: int) -> list[str]:
    """Names of the split columns: split_0 .. split_{n-1}."""
    return [f"split_{k}" for k in range(n_splits)]


def read_splits(path: str | Path) -> pd.DataFrame:
    """The splits table, every column as text."""
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)


def membership(splits: pd.DataFrame, split: int, path: str | Path) -> pd.Series:
    """Split ``split``'s "train"/"heldout" label per person, indexed by (FID, IID);
    ``path`` names the table in the error when the split is missing, a label is neither
    "train" nor "heldout", or a person is listed twice."""
    column = split_columns(split + 1)[-1]
    if column not in splits:
        raise ConfigError("splits.n_splits", f"{path} has no {column}; rerun make_splits")
    label = pd.Series(splits[column].to_numpy(), index=person_keys(splits))
    fix = "rerun make_splits (it writes this table)"
    odd = ~label.isin([TRAIN, HELDOUT])
    if odd.any():
        line = int(odd.to_numpy().argmax()) + 2  # the header is line 1
        fid, iid = label.index[odd.to_numpy().argmax()]
        raise InputError(
            path,
            f"{column} is {label[odd].iloc[0]!r}, not {TRAIN!r} or {HELDOUT!r} "
            f"({int(odd.sum())} row(s) in all)",
            fix,
            f"line {line} (FID {fid} IID {iid})",
        )
    twice = label.index.duplicated()
    if twice.any():
        fid, iid = label.index[twice][0]
        raise InputError(path, "person listed twice", fix, f"FID {fid} IID {iid}")
    return label
