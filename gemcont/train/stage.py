"""Training and embedding-export stages: join the store, features and splits, then
train one method on one split's training people and embed everyone.

People are matched on (FID, IID) throughout: IIDs may repeat across families.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from torch import nn

from gemcont.errors import ConfigError, InputError
from gemcont.genotypes.features import feature_betas, read_feature_ids
from gemcont.io.atomic import atomic_open
from gemcont.io.ids import KEY, person_keys, read_keyed_table
from gemcont.io.splits import TRAIN, membership, read_splits
from gemcont.models.backbone import backbone_from_config, feature_width
from gemcont.models.baselines import FrozenFeatures
from gemcont.phenotypes.store import StoreRows, read_index
from gemcont.train.checkpoint import state_key, state_path
from gemcont.train.config import (
    ModelConfig,
    TrainConfig,
    TrainSettings,
    loop_config,
    model_config,
)
from gemcont.train.export import clinical_embedding, write_embeddings
from gemcont.train.loop import TrainData
from gemcont.train.methods import embed, load_trained, train_method

log = logging.getLogger(__name__)


@dataclass
class StageData:
    """Store rows of the analysed people, with their features and split membership.

    Neither the store nor the feature file is read whole: ``images`` reads rows when
    asked, ``features`` is memory-mapped and :meth:`geno` gathers the rows it needs."""

    images: StoreRows  # rows of ``index`` in the store (C x H x W uint8, read on demand)
    index: pd.DataFrame  # FID IID eye row, analysed people only
    features: np.ndarray  # features.npy, memory-mapped: people x S (PC-residualised dosages)
    feature_rows: np.ndarray  # rows of ``index``: the person's row of ``features``
    betas: np.ndarray  # S, A1 effect sizes of the feature columns
    is_train: np.ndarray  # rows of ``index``: person in this split's training set
    person: np.ndarray  # rows of ``index``: person code (both eyes share one)

    @property
    def n_variants(self) -> int:
        return self.features.shape[1]

    def geno(self, positions: np.ndarray | None = None) -> np.ndarray:
        """Features (float32) of the rows of ``index`` at ``positions`` (all when None),
        read from the file in ascending order."""
        rows = self.feature_rows if positions is None else self.feature_rows[positions]
        order = np.argsort(rows, kind="stable")
        out = np.empty((len(rows), self.n_variants), np.float32)
        out[order] = self.features[rows[order]]
        return out


@dataclass(frozen=True)
class StageInputs:
    """Every file the training and export stages read (a rule's named inputs)."""

    images: Path  # phenotype store images.npy
    index: Path  # phenotype store index.tsv
    features: Path  # features.npy
    feature_ids: Path  # features_ids.tsv
    feature_report: Path  # features_report.tsv (external GWAS betas)
    splits: Path  # splits.tsv
    dropped: Path | None = None  # make_splits' drop report (why store people are left out)
    marker: Path | None = None  # clinical marker table (export of method clinical)
    checkpoint: Path | None = None  # trained weights (export of a trained method)


def stage_inputs(rule_input) -> StageInputs:
    """:class:`StageInputs` from a rule's named inputs (dropped, marker and checkpoint
    optional)."""
    named = dict(rule_input.items())
    optional = {
        k: Path(named[k]) if named.get(k) else None for k in ("dropped", "marker", "checkpoint")
    }
    return StageInputs(
        images=Path(named["images"]),
        index=Path(named["index"]),
        features=Path(named["features"]),
        feature_ids=Path(named["feature_ids"]),
        feature_report=Path(named["feature_report"]),
        splits=Path(named["splits"]),
        **optional,
    )


def load_stage_data(inputs: StageInputs, split: int) -> StageData:
    """Join store rows, genotype features and split ``split`` on (FID, IID).

    Exactly the people of ``splits.tsv`` are analysed, each in the set it has there:
    people of the store absent from the splits (withdrawn, failed QC, lacking a table:
    see :func:`left_out`) drop, and a person of the splits without a store row stops
    the stage (the store changed after the splits were made)."""
    splits = read_splits(inputs.splits)
    label = membership(splits, split, inputs.splits)
    index = read_index(inputs.index)
    in_splits = person_keys(index).isin(label.index)
    left_out(index[~in_splits], inputs.splits, inputs.dropped)
    index = index[in_splits].reset_index(drop=True)
    keys = person_keys(index)
    unstored = ~label.index.isin(keys)
    if unstored.any():
        fid, iid = label.index[unstored][0]
        raise InputError(
            inputs.splits,
            f"{int(unstored.sum())} people of the splits have no row in the phenotype store "
            f"{inputs.index}",
            "rerun make_splits after rebuilding the phenotype store",
            f"FID {fid} IID {iid}",
        )
    feature_ids = read_feature_ids(inputs.feature_ids)
    feature_row = pd.Series(np.arange(len(feature_ids)), index=person_keys(feature_ids))
    person, _ = keys.factorize()
    return StageData(
        images=StoreRows(inputs.images, index["row"].to_numpy()),
        index=index,
        features=np.load(inputs.features, mmap_mode="r"),
        feature_rows=feature_row.loc[keys].to_numpy(),
        betas=feature_betas(inputs.feature_report),
        is_train=label.loc[keys].to_numpy() == TRAIN,
        person=person.astype(np.int64),
    )


def left_out(rows: pd.DataFrame, splits_path: Path, report: Path | None) -> None:
    """Log the people of the store's ``rows`` that are absent from the splits, per step
    of make_splits' drop ``report`` (when given)."""
    people = person_keys(rows).unique()
    if not len(people):
        return
    why = f"absent from {splits_path}"
    if report is not None:
        dropped = pd.read_csv(report, sep="\t", dtype=str, keep_default_na=False)
        step = pd.Series(dropped["step"].to_numpy(), index=person_keys(dropped))
        step = step[~step.index.duplicated()].reindex(people).fillna("not in the drop report")
        why += " (" + ", ".join(f"{n} {s}" for s, n in step.value_counts().items()) + ")"
    log.info("%d people of the phenotype store left out: %s", len(people), why)


def values_per_row(path: str | Path, column: str, index: pd.DataFrame, key: str) -> np.ndarray:
    """``column`` of the FID/IID-keyed table ``path`` for every store row in ``index``."""
    table = read_keyed_table(path, [column], [column], key, unique_by=KEY)
    values = pd.Series(table[column].to_numpy(np.float32), index=person_keys(table))
    missing = ~person_keys(index).isin(values.index)
    if missing.any():
        first = index.loc[missing, "IID"].iloc[0]
        raise ConfigError(key, f"{path} lacks {missing.sum()} analysed people (first IID {first})")
    return values.loc[person_keys(index)].to_numpy()


def stage_configs(
    method: str, settings: TrainSettings, modality: str, in_shape: tuple[int, ...]
) -> tuple[ModelConfig, TrainConfig, nn.Module | None]:
    """Model and loop configs from the ``train`` settings, plus the frozen pretrained
    backbone (checked on one item of ``in_shape``; its width recorded in the model
    config) when ``method`` is ``frozen`` or the encoder ``frozen_vit``."""
    model_cfg = model_config(settings, modality, settings.supervised_target.loss)
    loop_cfg = loop_config(settings)
    if method != "frozen" and model_cfg.encoder != "frozen_vit":
        return model_cfg, loop_cfg, None
    backbone = backbone_from_config(settings.backbone)
    model_cfg = replace(model_cfg, backbone_features=feature_width(backbone, in_shape))
    return model_cfg, loop_cfg, backbone


def write_hparams(
    path: Path, method: str, split: int, model: ModelConfig, loop: TrainConfig
) -> None:
    """The run's method, split and both configs as JSON."""
    run = {"method": method, "split": split, "model": asdict(model), "train": asdict(loop)}
    with atomic_open(path, "w") as handle:
        handle.write(json.dumps(run, indent=2) + "\n")


# loop settings that never change the trained weights (not part of the state key)
NEUTRAL_LOOP_KEYS = ("num_workers", "progress")


def run_state(
    root: Path,
    method: str,
    split: int,
    model_cfg: ModelConfig,
    loop_cfg: TrainConfig,
    inputs: Iterable[Path],
    extra: Mapping | None = None,
) -> Path:
    """The per-epoch state file of this run under ``root`` (the job's state folder,
    ``results/.state/train/{method}/split_{k}``), keyed on the method, split, both
    configs and the identity (path, size, mtime) of every input file, so that a changed
    config or a rewritten input never resumes a stale state. ``extra``: further settings
    of the run (the backbone's, the supervised target's)."""
    loop = {k: v for k, v in asdict(loop_cfg).items() if k not in NEUTRAL_LOOP_KEYS}
    settings = {"method": method, "split": split, "model": asdict(model_cfg), "train": loop}
    settings.update(extra or {})
    return state_path(root, state_key(settings, inputs))


def train_stage(
    method: str,
    split: int,
    inputs: StageInputs,
    settings: TrainSettings,
    modality: str,
    checkpoint: Path,
    metrics: Path,
    hparams: Path,
    state_root: Path | None = None,
) -> None:
    """Train ``method`` on split ``split``'s training people. With ``state_root`` the
    per-epoch state is kept there (see :func:`run_state`) and an interrupted run resumes
    from it; without, it resumes from ``checkpoint``."""
    data = load_stage_data(inputs, split)
    model_cfg, loop_cfg, backbone = stage_configs(method, settings, modality, data.images.shape[1:])
    loop_cfg = replace(loop_cfg, seed=loop_cfg.seed + split)
    rows = np.flatnonzero(data.is_train)
    read = [inputs.images, inputs.index, inputs.features, inputs.feature_ids]
    read += [inputs.feature_report, inputs.splits]
    extra: dict = {}
    if backbone is not None:
        read.append(Path(settings.backbone.path))
        extra["backbone"] = asdict(settings.backbone)
    target = None
    if method == "supervised":
        spec = settings.supervised_target
        read.append(Path(spec.table))
        extra["supervised_target"] = asdict(spec)
        target = values_per_row(spec.table, spec.column, data.index, "train.supervised_target")
        target = target[rows]
    train_data = TrainData(
        pheno=data.images.subset(rows),
        geno=data.geno(rows),
        target=target,
        person=data.person[rows],
    )
    log.info(
        "training %s on split %d: %d rows of %d people, %d variants",
        method,
        split,
        len(rows),
        len(np.unique(data.person[rows])),
        data.n_variants,
    )
    write_hparams(hparams, method, split, model_cfg, loop_cfg)
    state = None
    if state_root is not None:
        state = run_state(state_root, method, split, model_cfg, loop_cfg, read, extra)
    train_method(
        method, train_data, data.betas, model_cfg, loop_cfg, checkpoint, metrics, backbone, state
    )


def export_stage(
    method: str,
    split: int,
    inputs: StageInputs,
    settings: TrainSettings,
    modality: str,
    clinical_column: str,
    out: Path,
) -> None:
    """Embeddings (FID IID set e_0..) of exactly the people of split ``split`` in
    ``splits.tsv``, ``set`` being their label there (:func:`load_stage_data` keeps
    exactly them and checks the labels); nobody absent from the splits (withdrawn, or
    dropped for another reason: logged) gets a row."""
    data = load_stage_data(inputs, split)
    if method == "clinical":
        marker = values_per_row(inputs.marker, clinical_column, data.index, "data.clinical_marker")
        emb = clinical_embedding(marker)
    else:
        model_cfg, loop_cfg, backbone = stage_configs(
            method, settings, modality, data.images.shape[1:]
        )
        if method == "frozen":
            model = FrozenFeatures(backbone, model_cfg.backbone_mean, model_cfg.backbone_std)
        else:
            model = load_trained(
                method,
                inputs.checkpoint,
                model_cfg,
                data.images.shape[1:],
                data.n_variants,
                backbone,
            )
        emb = embed(model, data.images, device=loop_cfg.device, workers=loop_cfg.num_workers)
    people, held_out = write_embeddings(out, data.index, emb, data.is_train)
    log.info("embedded %d people (%d held out), D = %d", people, held_out, emb.shape[1])
