"""Embeddings to disk: FID IID set e_0..e_{D-1} per person (TSV.gz), whatever the method.

``frozen`` (backbone features, mean-pooled tokens) and ``clinical`` (the marker as a
1-D embedding) need no training and are produced here.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from gemcont.io.tables import write_tsv
from gemcont.models.phenotype import backbone_tokens
from gemcont.train.loop import autocast, resolve_device, to_float
from gemcont.train.methods import average_by_person


@torch.no_grad()
def frozen_features(
    backbone: nn.Module,
    pheno: np.ndarray,
    batch_size: int = 256,
    device: str = "auto",
    amp: bool = True,
) -> np.ndarray:
    """Mean-pooled backbone tokens of every row of ``pheno`` (uint8): rows x F float32.

    Items enter the backbone as floats in [0, 1]; wrap it with its own normalisation.
    """
    dev = resolve_device(device)
    backbone.to(dev).eval()
    out = []
    for start in range(0, len(pheno), batch_size):
        x_t = torch.from_numpy(np.ascontiguousarray(pheno[start : start + batch_size]))
        with autocast(dev, amp):
            tokens = backbone_tokens(backbone, to_float(x_t.to(dev), channels_last=True))
        out.append(tokens.float().mean(dim=1).cpu().numpy())
    return np.concatenate(out)


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
