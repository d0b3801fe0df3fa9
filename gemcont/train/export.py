"""Embeddings to disk: FID IID set e_0..e_{D-1} per person (TSV.gz), whatever the method.

``clinical`` (the marker as a 1-D embedding) needs no training and is produced here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gemcont.io.embeddings import SET_COLUMN, embedding_columns
from gemcont.io.embeddings import write_embeddings as write_embeddings_table
from gemcont.io.splits import HELDOUT, TRAIN, person_keys
from gemcont.train.methods import average_by_person


def clinical_embedding(marker: np.ndarray) -> np.ndarray:
    """The clinical marker (FEV1/FVC, cup-to-disc ratio) as a rows x 1 embedding."""
    return np.asarray(marker, np.float32).reshape(-1, 1)


def embeddings_frame(index: pd.DataFrame, emb: np.ndarray, is_train: np.ndarray) -> pd.DataFrame:
    """One line per person: FID IID set e_0..e_{D-1}; rows of one person are averaged.

    ``index`` has FID and IID per row of ``emb``; ``is_train`` flags the rows of the
    split's training people (``set`` "train"), the others are "heldout". People are
    told apart by (FID, IID), never by IID alone.
    """
    assert len(index) == len(emb) == len(is_train), (len(index), emb.shape, len(is_train))
    keys = person_keys(index)
    people, mean = average_by_person(list(keys), emb)
    out = pd.DataFrame({"FID": people.get_level_values(0), "IID": people.get_level_values(1)})
    train_people = keys[np.asarray(is_train, dtype=bool)]
    out[SET_COLUMN] = np.where(people.isin(train_people), TRAIN, HELDOUT)
    cols = pd.DataFrame(mean, columns=embedding_columns(mean.shape[1]))
    return pd.concat([out, cols], axis=1)


def write_embeddings(
    path: str | Path, index: pd.DataFrame, emb: np.ndarray, is_train: np.ndarray
) -> pd.DataFrame:
    """Write :func:`embeddings_frame` to ``path`` (TSV.gz, atomic); returns the frame."""
    frame = embeddings_frame(index, emb, is_train)
    write_embeddings_table(frame, path)
    return frame
