"""Typed settings of the ``train`` config section and the two views the trainer uses:
:class:`ModelConfig` (architecture and objective) and :class:`TrainConfig` (the loop).

None of them declares a default: every value comes from the validated config, whose
defaults live in the schema only (:mod:`gemcont.settings`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class BackboneSettings:
    """``train.backbone``: the pretrained backbone of method frozen / encoder frozen_vit."""

    path: str | None
    arch: str
    options: Mapping[str, Any]
    mean: tuple[float, ...]
    std: tuple[float, ...]


@dataclass(frozen=True)
class SupervisedTarget:
    """``train.supervised_target``: the table, column and loss of the supervised method."""

    table: str
    column: str
    loss: str


@dataclass(frozen=True)
class TrainConfig:
    """Training-loop settings (field order is the order in hparams.json)."""

    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    warmup_epochs: int
    seed: int
    device: str  # auto | cpu | cuda
    amp: bool  # bf16 autocast, CUDA only
    channels_last: bool  # CUDA only
    compile: bool
    patience: int  # early stopping (supervised only)
    num_workers: int  # memory-mapped loading only
    val_fraction: float
    on_device_max_gb: float
    progress: bool


@dataclass(frozen=True)
class TrainSettings(TrainConfig):
    """The ``train`` section (keys of ``workflow/schemas/config.schema.yaml``): the
    training-loop fields of :class:`TrainConfig`, then the model and method fields."""

    encoder: str
    width: int
    dim: int
    latent: int
    temperature: float
    init_noise: float
    genetic_mlp: bool
    scarf_p: float
    simclr_temperature: float
    backbone: BackboneSettings
    supervised_target: SupervisedTarget


@dataclass
class ModelConfig:
    """Architecture and method settings (field order is the order in hparams.json)."""

    encoder: str  # small_cnn | cnn2d | resnet18 | cnn1d | frozen_vit
    modality: str  # glyph | spirometry | fundus | none (augmentations)
    dim: int  # embedding size D
    latent: int  # contrastive space
    temperature: float  # initial CLIP temperature
    init_noise: float  # sd of the noise on beta-initialised weights, x RMS(beta)
    genetic_mlp: bool
    scarf_p: float
    simclr_temperature: float
    supervised_loss: str  # bce (disease) | mse (continuous latent trait)
    backbone_features: int | None  # token width of the frozen backbone (None: no backbone)
    backbone_mean: tuple[float, ...]  # frozen backbone's input normalisation
    backbone_std: tuple[float, ...]
    width: int  # first-layer channels of cnn2d / cnn1d


def _view(cls: type[T], settings: TrainSettings, **given: Any) -> T:
    """``cls`` with ``given`` values and every other field taken from ``settings``."""
    taken = {f.name: getattr(settings, f.name) for f in fields(cls) if f.name not in given}
    return cls(**taken, **given)


def model_config(settings: TrainSettings, modality: str, supervised_loss: str) -> ModelConfig:
    """The model view of ``settings`` for items of ``modality``; no backbone width yet
    (the stage measures it when a frozen backbone is used)."""
    return _view(
        ModelConfig,
        settings,
        modality=modality,
        supervised_loss=supervised_loss,
        backbone_features=None,
        backbone_mean=tuple(settings.backbone.mean),
        backbone_std=tuple(settings.backbone.std),
    )


def loop_config(settings: TrainSettings) -> TrainConfig:
    """The training-loop view of ``settings``."""
    return _view(TrainConfig, settings)
