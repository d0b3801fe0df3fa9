"""Training and embedding-export stages: join the store, features and splits, then
train one method on one split's training people and embed everyone."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from torch import nn

from gemcont.errors import ConfigError
from gemcont.io.ids import KEY, read_keyed_table
from gemcont.models.backbone import backbone_from_config, feature_width
from gemcont.models.baselines import FrozenFeatures
from gemcont.phenotypes.store import open_images, read_index
from gemcont.train.export import clinical_embedding, write_embeddings
from gemcont.train.loop import TrainConfig, TrainData
from gemcont.train.methods import (
    ModelConfig,
    configs_from,
    embed,
    load_trained,
    train_method,
)

log = logging.getLogger(__name__)
TRAIN = "train"


@dataclass
class StageData:
    """Store rows of the analysed people, with their features and split membership."""

    images: np.ndarray  # store rows x C x H x W uint8 (memory-mapped)
    index: pd.DataFrame  # FID IID eye row, analysed people only
    geno: np.ndarray  # rows of ``index`` x S float32 (PC-residualised dosages)
    betas: np.ndarray  # S, A1 effect sizes of the feature columns
    is_train: np.ndarray  # rows of ``index``: person in this split's training set
    person: np.ndarray  # rows of ``index``: person code (both eyes share one)


def _keys(df: pd.DataFrame) -> pd.MultiIndex:
    return pd.MultiIndex.from_frame(df[KEY].astype(str))


def stage_inputs(rule_input) -> dict[str, Path | None]:
    """The store, features and splits locations (plus marker and checkpoint when the rule
    has them) from a rule's named inputs."""
    named = dict(rule_input.items())
    checkpoint = named.get("checkpoint")
    return {
        "store": Path(named["images"]).parent,
        "features": Path(named["features"]).parent,
        "splits": Path(named["splits"]),
        "marker": Path(named["marker"]) if named.get("marker") else None,
        "checkpoint": Path(checkpoint) if checkpoint else None,
    }


def feature_betas(report_path: Path) -> np.ndarray:
    """External GWAS betas in the column order of features.npy (kept variants only)."""
    report = pd.read_csv(report_path, sep="\t")
    kept = report.dropna(subset=["COLUMN"]).sort_values("COLUMN")
    return kept["BETA"].to_numpy(np.float64)


def load_stage_data(
    store_dir: Path, features_dir: Path, splits_path: Path, split: int
) -> StageData:
    """Join store rows, genotype features and the split (people outside the splits drop)."""
    splits = pd.read_csv(splits_path, sep="\t", dtype=str)
    column = f"split_{split}"
    if column not in splits:
        raise ConfigError("splits.n_splits", f"{splits_path} has no {column}; rerun make_splits")
    index = read_index(store_dir)
    analysed = _keys(index).isin(_keys(splits))
    index = index[analysed].reset_index(drop=True)
    feature_ids = pd.read_csv(features_dir / "features_ids.tsv", sep="\t", dtype=str)
    features = np.load(features_dir / "features.npy")
    feature_row = pd.Series(np.arange(len(feature_ids)), index=_keys(feature_ids))
    geno = features[feature_row.loc[_keys(index)].to_numpy()]
    membership = pd.Series(splits[column].to_numpy(), index=_keys(splits))
    is_train = membership.loc[_keys(index)].to_numpy() == TRAIN
    person, _ = pd.Index(list(zip(index["FID"], index["IID"], strict=True))).factorize()
    return StageData(
        images=open_images(store_dir),
        index=index,
        geno=geno.astype(np.float32),
        betas=feature_betas(features_dir / "features_report.tsv"),
        is_train=is_train,
        person=person.astype(np.int64),
    )


def values_per_row(path: str | Path, column: str, index: pd.DataFrame, key: str) -> np.ndarray:
    """``column`` of the FID/IID-keyed table ``path`` for every store row in ``index``."""
    table = read_keyed_table(path, [column], [column], key)
    values = pd.Series(table[column].to_numpy(np.float32), index=_keys(table))
    missing = ~_keys(index).isin(values.index)
    if missing.any():
        first = index.loc[missing, "IID"].iloc[0]
        raise ConfigError(key, f"{path} lacks {missing.sum()} analysed people (first IID {first})")
    return values.loc[_keys(index)].to_numpy()


def stage_configs(
    method: str, train_cfg: dict, modality: str, in_shape: tuple[int, ...]
) -> tuple[ModelConfig, TrainConfig, nn.Module | None]:
    """Model and loop configs from the ``train`` section, plus the frozen pretrained
    backbone (checked on one item of ``in_shape``; its width and normalisation recorded
    in the model config) when ``method`` is ``frozen`` or the encoder ``frozen_vit``."""
    model_cfg, loop_cfg = configs_from(train_cfg, modality, train_cfg["supervised_target"]["loss"])
    if method != "frozen" and model_cfg.encoder != "frozen_vit":
        return model_cfg, loop_cfg, None
    section = train_cfg["backbone"]
    backbone = backbone_from_config(section)
    model_cfg = replace(
        model_cfg,
        backbone_features=feature_width(backbone, in_shape),
        backbone_mean=tuple(section["mean"]),
        backbone_std=tuple(section["std"]),
    )
    return model_cfg, loop_cfg, backbone


def train_stage(
    method: str,
    split: int,
    inputs: dict[str, Path],
    train_cfg: dict,
    modality: str,
    checkpoint: Path,
    metrics: Path,
    hparams: Path,
) -> None:
    """Train ``method`` on split ``split``'s training people; resumes from ``checkpoint``."""
    data = load_stage_data(inputs["store"], inputs["features"], inputs["splits"], split)
    model_cfg, loop_cfg, backbone = stage_configs(
        method, train_cfg, modality, data.images.shape[1:]
    )
    loop_cfg = replace(loop_cfg, seed=loop_cfg.seed + split)
    rows = np.flatnonzero(data.is_train)
    target = None
    if method == "supervised":
        spec = train_cfg["supervised_target"]
        target = values_per_row(
            spec["table"], spec["column"], data.index, "train.supervised_target"
        )[rows]
    train_data = TrainData(
        pheno=data.images[data.index["row"].to_numpy()[rows]],
        geno=data.geno[rows],
        target=target,
        person=data.person[rows],
    )
    log.info(
        "training %s on split %d: %d rows of %d people, %d variants",
        method,
        split,
        len(rows),
        len(np.unique(data.person[rows])),
        data.geno.shape[1],
    )
    hparams.parent.mkdir(parents=True, exist_ok=True)
    hparams.write_text(
        json.dumps(
            {
                "method": method,
                "split": split,
                "model": asdict(model_cfg),
                "train": asdict(loop_cfg),
            },
            indent=2,
        )
        + "\n"
    )
    train_method(method, train_data, data.betas, model_cfg, loop_cfg, checkpoint, metrics, backbone)


def export_stage(
    method: str,
    split: int,
    inputs: dict[str, Path],
    train_cfg: dict,
    modality: str,
    clinical_column: str,
    out: Path,
) -> None:
    """Embeddings of every analysed person (FID IID set e_0..), the held-out ones flagged."""
    data = load_stage_data(inputs["store"], inputs["features"], inputs["splits"], split)
    train_iids = set(data.index["IID"][data.is_train])
    if method == "clinical":
        marker = values_per_row(
            inputs["marker"], clinical_column, data.index, "data.clinical_marker"
        )
        emb = clinical_embedding(marker)
    else:
        model_cfg, loop_cfg, backbone = stage_configs(
            method, train_cfg, modality, data.images.shape[1:]
        )
        if method == "frozen":
            model = FrozenFeatures(backbone, model_cfg.backbone_mean, model_cfg.backbone_std)
        else:
            model = load_trained(
                method,
                inputs["checkpoint"],
                model_cfg,
                data.images.shape[1:],
                data.geno.shape[1],
                backbone,
            )
        emb = embed(model, data.images[data.index["row"].to_numpy()], device=loop_cfg.device)
    frame = write_embeddings(out, data.index, emb, train_iids)
    log.info(
        "embedded %d people (%d held out), D = %d",
        len(frame),
        int((frame["set"] == "heldout").sum()),
        emb.shape[1],
    )
