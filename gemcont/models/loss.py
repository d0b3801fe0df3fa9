"""Losses: symmetric CLIP, SimCLR NT-Xent, VAE ELBO (Gaussian decoder), supervised."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def full_precision(t: torch.Tensor) -> torch.Tensor:
    """Half / bfloat16 (autocast) -> float32; float32 and float64 unchanged."""
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


class ClipLoss(nn.Module):
    """L = 1/2 (CE(logits, labels) + CE(logits^T, labels)); labels cached per size/device."""

    def __init__(self) -> None:
        super().__init__()
        self._labels: dict[tuple[torch.device, int], torch.Tensor] = {}

    def labels(self, n: int, device: torch.device) -> torch.Tensor:
        key = (device, n)
        if key not in self._labels:
            self._labels[key] = torch.arange(n, device=device)
        return self._labels[key]

    @staticmethod
    def get_logits(z_g: torch.Tensor, z_p: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """Genetics -> phenotype logits (batch x batch)."""
        return scale * z_g @ z_p.T

    def forward(self, z_g: torch.Tensor, z_p: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        logits = full_precision(self.get_logits(z_g, z_p, scale))
        labels = self.labels(logits.shape[0], logits.device)
        return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """SimCLR NT-Xent between two views (each batch x d); each row's positive is its
    other view, the other 2N - 2 rows are negatives."""
    n = z1.shape[0]
    z = F.normalize(full_precision(torch.cat([z1, z2])), dim=-1)
    sim = z @ z.T / temperature
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    targets = torch.arange(2 * n, device=z.device).roll(n)
    return F.cross_entropy(sim, targets)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per sample (batch,)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)


def vae_loss(
    x_t: torch.Tensor,
    recon_t: torch.Tensor,
    log_sigma: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
) -> torch.Tensor:
    """Negative ELBO per item (mean over the batch), Gaussian decoder N(recon, sigma^2)."""
    sq = (full_precision(x_t) - full_precision(recon_t)).pow(2).flatten(1)
    nll = 0.5 * sq * torch.exp(-2 * log_sigma) + log_sigma + 0.5 * math.log(2 * math.pi)
    return (nll.sum(dim=1) + gaussian_kl(full_precision(mu), full_precision(logvar))).mean()


def supervised_loss(pred_t: torch.Tensor, y_t: torch.Tensor, kind: str) -> torch.Tensor:
    """BCE with logits for a binary disease ("bce"), MSE for a continuous trait ("mse")."""
    pred_t = full_precision(pred_t).squeeze(-1)
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(pred_t, y_t)
    return F.mse_loss(pred_t, y_t)
