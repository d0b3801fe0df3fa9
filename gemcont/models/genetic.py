"""Genetic encoder (GWAS-beta initialised) and SCARF augmentation of panel dosages."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def beta_init(weight_t: torch.Tensor, betas: np.ndarray, init_noise: float) -> None:
    """Set every latent unit's column j to beta_j, plus noise of sd ``init_noise`` x RMS(beta).

    ``weight_t`` is a Linear weight: latent x variants.
    """
    betas_t = torch.as_tensor(np.asarray(betas, dtype=np.float32))
    assert weight_t.shape[1] == betas_t.numel(), (weight_t.shape, betas_t.shape)
    rms = betas_t.pow(2).mean().sqrt().clamp_min(1e-12)
    noise_t = torch.randn(weight_t.shape) * init_noise * rms
    with torch.no_grad():
        weight_t.copy_(betas_t.expand_as(weight_t) + noise_t)


class GeneticEncoder(nn.Module):
    """Panel dosages (batch x S) -> genetic latent (batch x ``dim``).

    One linear layer by default (the paper); ``mlp=True`` gives the ablation
    Linear -> BatchNorm -> ReLU -> Linear. The first layer is beta-initialised.
    """

    def __init__(
        self, betas: np.ndarray, dim: int = 128, init_noise: float = 0.1, mlp: bool = False
    ) -> None:
        super().__init__()
        n_variants = len(betas)
        first = nn.Linear(n_variants, dim)
        beta_init(first.weight, betas, init_noise)
        nn.init.zeros_(first.bias)
        if mlp:
            self.net: nn.Module = nn.Sequential(
                first, nn.BatchNorm1d(dim), nn.ReLU(inplace=True), nn.Linear(dim, dim)
            )
        else:
            self.net = first

    def forward(self, g_t: torch.Tensor) -> torch.Tensor:
        return self.net(g_t)


def scarf(g_t: torch.Tensor, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """SCARF: each entry, with probability ``p``, takes the same variant's value from
    another random sample of the batch (batch x S -> batch x S)."""
    n = g_t.shape[0]
    if p <= 0 or n < 2:
        return g_t
    dev = g_t.device
    corrupt = torch.rand(g_t.shape, generator=generator, device=dev) < p
    offset = torch.randint(1, n, g_t.shape, generator=generator, device=dev)
    donor = (torch.arange(n, device=dev).unsqueeze(1) + offset) % n
    return torch.where(corrupt, torch.gather(g_t, 0, donor), g_t)
