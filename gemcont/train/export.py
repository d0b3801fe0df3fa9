"""Embeddings to disk: FID IID set e_0..e_{D-1} per person (TSV.gz), whatever the method.

``clinical`` (the marker as a 1-D embedding) needs no training and is produced here.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import numpy as np
import pandas as pd

from gemcont.io.tables import write_tsv
from gemcont.train.methods import average_by_person


def clinical_embedding(marker: np.ndarray) -> np.ndarray:
    """The clinical marker (FEV1/FVC, cup-to-disc ratio) as a rows x 1 embedding."""
    return np.asarray(marker, np.float32).reshape(-1, 1)


def embeddings_frame(
    index: pd.DataFrame, emb: np.ndarray, train_iids: Collection[str]
) -> pd.DataFrame:
    """One line per person: FID IID set e_0..e_{D-1}; rows of one person are averaged.

    ``index`` has FID and IID per row of ``emb``; ``set`` is "train" for IIDs in
    ``train_iids``, else "heldout".
    """
    assert len(index) == len(emb), (len(index), emb.shape)
    keys = list(zip(index["FID"].astype(str), index["IID"].astype(str), strict=True))
    people, mean = average_by_person(keys, emb)
    out = pd.DataFrame({"FID": people.get_level_values(0), "IID": people.get_level_values(1)})
    out["set"] = np.where(out["IID"].isin(set(train_iids)), "train", "heldout")
    cols = pd.DataFrame(mean, columns=[f"e_{d}" for d in range(mean.shape[1])])
    return pd.concat([out, cols], axis=1)


def write_embeddings(
    path: str | Path, index: pd.DataFrame, emb: np.ndarray, train_iids: Collection[str]
) -> pd.DataFrame:
    """Write :func:`embeddings_frame` to ``path`` (TSV.gz, atomic); returns the frame."""
    frame = embeddings_frame(index, emb, train_iids)
    write_tsv(frame, path, float_format="%.7g")
    return frame
