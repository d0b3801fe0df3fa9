"""The trainable methods (gemcont, prs, simclr, vae, supervised): models, objectives,
one ``train_method`` dispatch, and ``embed`` (eval mode, batched, no augmentation)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from gemcont.devices import resolve_device
from gemcont.errors import ConfigError
from gemcont.models.baselines import VAE, SimCLR, Supervised
from gemcont.models.gemcont import Gemcont
from gemcont.models.genetic import GeneticEncoder, scarf
from gemcont.models.loss import ClipLoss, nt_xent, supervised_loss, vae_loss
from gemcont.models.phenotype import (
    Standardize,
    build_phenotype_encoder,
    load_without_backbones,
)
from gemcont.settings import from_section
from gemcont.train.augment import Augmentation, augmenter
from gemcont.train.config import (
    ModelConfig,
    TrainConfig,
    TrainSettings,
    loop_config,
    model_config,
)
from gemcont.train.loop import Batch, Objective, TrainData, autocast, fit, to_float
from gemcont.train.stream import Pheno, host_rows, prefetched

METHODS = ("gemcont", "prs", "simclr", "vae", "supervised")


def configs_from(
    section: Mapping, modality: str, supervised_loss: str
) -> tuple[ModelConfig, TrainConfig]:
    """Model and loop configs from a partial ``train``-like section (``rotation.train``,
    tests): the keys it lacks take the ``train`` section's schema defaults."""
    settings = from_section(TrainSettings, "train", section)
    return model_config(settings, modality, supervised_loss), loop_config(settings)


def channel_stats(pheno: Pheno, max_rows: int = 4096) -> tuple[list[float], list[float]]:
    """Per-channel mean and sd in [0, 1] units, from up to ``max_rows`` evenly spaced rows."""
    rows = np.unique(np.linspace(0, len(pheno) - 1, min(max_rows, len(pheno))).astype(int))
    x = np.asarray(host_rows(pheno, rows, pin=False).numpy(), dtype=np.float32) / 255.0
    axes = (0,) + tuple(range(2, x.ndim))
    return x.mean(axis=axes).tolist(), x.std(axis=axes).tolist()


def prs_features(geno: np.ndarray, betas: np.ndarray) -> np.ndarray:
    """The PRS (dosages x betas; PC-residualised when the dosages are), standardised: n x 1."""
    prs = np.asarray(geno, np.float64) @ np.asarray(betas, np.float64)
    sd = prs.std()
    return ((prs - prs.mean()) / (sd if sd > 0 else 1.0)).astype(np.float32)[:, None]


def build_model(
    method: str,
    cfg: ModelConfig,
    in_shape: Sequence[int],
    betas: np.ndarray,
    stats: tuple[Sequence[float], Sequence[float]],
    backbone: nn.Module | None = None,
) -> nn.Module:
    """The untrained model of ``method``; the phenotype path starts with Standardize
    (a frozen backbone's own normalisation for encoder ``frozen_vit``, else ``stats``)."""
    if cfg.encoder == "frozen_vit":
        stats = (cfg.backbone_mean, cfg.backbone_std)
    encoder = build_phenotype_encoder(
        cfg.encoder, in_shape, cfg.dim, cfg.width, backbone, cfg.backbone_features
    )
    phenotype = nn.Sequential(Standardize(*stats), encoder)
    if method in ("gemcont", "prs"):
        genetic = GeneticEncoder(betas, cfg.latent, cfg.init_noise, cfg.genetic_mlp)
        return Gemcont(genetic, phenotype, cfg.dim, cfg.latent, cfg.temperature)
    if method == "simclr":
        return SimCLR(phenotype, cfg.dim, cfg.latent)
    if method == "vae":
        return VAE(phenotype, in_shape, cfg.dim)
    if method == "supervised":
        return Supervised(phenotype, cfg.dim)
    raise ConfigError("method", f"unknown method '{method}' (known: {', '.join(METHODS)})")


def contrastive_objective(augment: Augmentation, scarf_p: float) -> Objective:
    """CLIP loss; augmented phenotypes and SCARF-corrupted genetics in training only."""
    clip = ClipLoss()

    def objective(
        model: nn.Module, batch: Batch, gen: torch.Generator, train: bool
    ) -> torch.Tensor:
        x_t, g_t = batch.x, batch.g
        if train:
            x_t, g_t = augment(x_t, gen), scarf(g_t, scarf_p, gen)
        return clip(*model(g_t, x_t))

    return objective


def simclr_objective(augment: Augmentation, temperature: float) -> Objective:
    """NT-Xent between two augmented views (validation: views from a fixed generator)."""

    def objective(
        model: nn.Module, batch: Batch, gen: torch.Generator, train: bool
    ) -> torch.Tensor:
        return nt_xent(model(augment(batch.x, gen)), model(augment(batch.x, gen)), temperature)

    return objective


def vae_objective(
    model_: nn.Module, batch: Batch, gen: torch.Generator, train: bool
) -> torch.Tensor:
    """Negative ELBO of the un-augmented items."""
    recon, mu, logvar = model_(batch.x, gen)
    return vae_loss(batch.x, recon, model_.log_sigma, mu, logvar)


def supervised_objective(augment: Augmentation, kind: str) -> Objective:
    """BCE / MSE against the target; augmented items in training only."""

    def objective(
        model: nn.Module, batch: Batch, gen: torch.Generator, train: bool
    ) -> torch.Tensor:
        x_t = augment(batch.x, gen) if train else batch.x
        return supervised_loss(model(x_t), batch.y, kind)

    return objective


def make_objective(method: str, cfg: ModelConfig) -> Objective:
    augment = augmenter(cfg.modality)
    if method in ("gemcont", "prs"):
        return contrastive_objective(augment, cfg.scarf_p)
    if method == "simclr":
        return simclr_objective(augment, cfg.simclr_temperature)
    if method == "vae":
        return vae_objective
    return supervised_objective(augment, cfg.supervised_loss)


def train_method(
    method: str,
    data: TrainData,
    betas: np.ndarray,
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    checkpoint: str | Path,
    metrics: str | Path,
    backbone: nn.Module | None = None,
    state: str | Path | None = None,
) -> nn.Module:
    """Train ``method`` on the training people's ``data`` (panel dosages in ``data.geno``,
    external GWAS ``betas``); returns the model on CPU. The run resumes from its
    per-epoch ``state`` (``checkpoint`` itself when not given; see
    :func:`gemcont.train.loop.fit`)."""
    if method not in METHODS:
        raise ConfigError("method", f"'{method}' is not trained (trained: {', '.join(METHODS)})")
    if method == "supervised" and data.target is None:
        raise ConfigError("train.supervised_target", "supervised training needs a target")
    if method == "prs":
        data, betas = replace(data, geno=prs_features(data.geno, betas)), np.ones(1)
    torch.manual_seed(train_cfg.seed)
    # a frozen backbone brings its own normalisation (build_model): no rows to read
    stats = ([], []) if model_cfg.encoder == "frozen_vit" else channel_stats(data.pheno)
    model = build_model(method, model_cfg, data.pheno.shape[1:], betas, stats, backbone)
    objective = make_objective(method, model_cfg)
    early = method == "supervised"
    return fit(model, objective, data, train_cfg, checkpoint, metrics, early, state)


def load_trained(
    method: str,
    checkpoint: str | Path,
    cfg: ModelConfig,
    in_shape: Sequence[int],
    n_variants: int,
    backbone: nn.Module | None = None,
) -> nn.Module:
    """Rebuild ``method``'s model and load its final weights (the best epoch's when
    early stopping kept them)."""
    n_in = 1 if method == "prs" else n_variants
    stats = ([0.0] * in_shape[0], [1.0] * in_shape[0])
    model = build_model(method, cfg, in_shape, np.ones(n_in), stats, backbone)
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    best = state.get("early_stopping") or {}
    load_without_backbones(model, best.get("weights") or state["model"])
    return model


@torch.no_grad()
def embed(
    model: nn.Module,
    pheno: Pheno,
    batch_size: int = 1024,
    device: str = "auto",
    amp: bool = True,
    workers: int = 0,
) -> np.ndarray:
    """e_p of every row of ``pheno`` (uint8 items: an array or rows of a store's file):
    rows x D float32. Batches of ``batch_size`` consecutive rows are read by ``workers``
    reader threads ahead of the model (:func:`gemcont.train.stream.prefetched`), so only
    a few batches of items are ever in memory."""
    dev = torch.device(resolve_device(device, "train.device"))
    model.to(dev).eval()
    n = len(pheno)
    starts = range(0, n, batch_size)

    def read(start: int) -> torch.Tensor:
        return host_rows(pheno, np.arange(start, min(start + batch_size, n)), dev.type == "cuda")

    out: np.ndarray | None = None
    for start, x_t in zip(starts, prefetched(read, starts, workers), strict=True):
        with autocast(dev, amp):
            e = model.encode(to_float(x_t.to(dev, non_blocking=True), channels_last=True))
        if out is None:
            out = np.empty((n, e.shape[1]), np.float32)
        out[start : start + len(x_t)] = e.float().cpu().numpy()
    return out if out is not None else np.zeros((0, 0), np.float32)


def average_by_person(ids: Sequence, emb: np.ndarray) -> tuple[pd.Index, np.ndarray]:
    """Mean embedding per id (e.g. both eyes of one person), ids in first-seen order.

    ``ids`` has one entry per row of ``emb`` (strings, or (FID, IID) tuples).
    """
    codes, uniques = pd.Index(ids).factorize()
    sums = np.zeros((len(uniques), emb.shape[1]), np.float64)
    np.add.at(sums, codes, emb)
    counts = np.bincount(codes, minlength=len(uniques))[:, None]
    return uniques, (sums / counts).astype(np.float32)
