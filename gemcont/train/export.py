"""Embeddings to disk: FID IID set e_0..e_{D-1} per person (TSV.gz), whatever the method.

``clinical`` (the marker as a 1-D embedding) needs no training and is produced here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from gemcont.io.embeddings import SET_COLUMN, embedding_columns
from gemcont.io.embeddings import write_embeddings as write_embeddings_table
from gemcont.io.ids import person_keys
from gemcont.io.splits import HELDOUT, TRAIN
from gemcont.io.tables import CHUNK_ROWS
from gemcont.train.methods import average_by_person


def clinical_embedding(marker: np.ndarray) -> np.ndarray:
    """The clinical marker (FEV1/FVC, cup-to-disc ratio) as a rows x 1 embedding."""
    return np.asarray(marker, np.float32).reshape(-1, 1)


def embeddings_frames(
    index: pd.DataFrame, emb: np.ndarray, is_train: np.ndarray, chunk: int = CHUNK_ROWS
) -> Iterator[pd.DataFrame]:
    """One line per person: FID IID set e_0..e_{D-1}, in frames of up to ``chunk``
    people (the whole table is never formatted at once); rows of one person are averaged.

    ``index`` has FID and IID per row of ``emb``; ``is_train`` flags the rows of the
    split's training people (``set`` "train"), the others are "heldout". People are
    told apart by (FID, IID), never by IID alone.
    """
    assert len(index) == len(emb) == len(is_train), (len(index), emb.shape, len(is_train))
    keys = person_keys(index)
    people, mean = average_by_person(list(keys), emb)
    sets = np.where(people.isin(keys[np.asarray(is_train, dtype=bool)]), TRAIN, HELDOUT)
    columns = embedding_columns(mean.shape[1])
    for lo in range(0, len(people) or 1, chunk):  # an empty table still has its header
        part = people[lo : lo + chunk]
        out = pd.DataFrame({"FID": part.get_level_values(0), "IID": part.get_level_values(1)})
        out[SET_COLUMN] = sets[lo : lo + chunk]
        yield pd.concat([out, pd.DataFrame(mean[lo : lo + chunk], columns=columns)], axis=1)


def write_embeddings(
    path: str | Path, index: pd.DataFrame, emb: np.ndarray, is_train: np.ndarray
) -> tuple[int, int]:
    """Write :func:`embeddings_frames` to ``path`` (TSV.gz, atomic, one frame at a
    time); returns (people, held-out people)."""
    counts = [0, 0]

    def counted() -> Iterator[pd.DataFrame]:
        for frame in embeddings_frames(index, emb, is_train):
            counts[0] += len(frame)
            counts[1] += int((frame[SET_COLUMN] == HELDOUT).sum())
            yield frame

    write_embeddings_table(counted(), path)
    return counts[0], counts[1]
