"""Phenotype-only baselines: SimCLR, VAE, supervised, frozen pretrained features. Each
has ``encode(x) -> e_p``."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from gemcont.models.backbone import IMAGENET_MEAN, IMAGENET_STD, backbone_tokens, mean_pool
from gemcont.models.phenotype import Standardize


class SimCLR(nn.Module):
    """Encoder + 2-layer projection head (D -> D -> ``latent``)."""

    def __init__(self, phenotype: nn.Module, dim: int = 256, latent: int = 128) -> None:
        super().__init__()
        self.phenotype = phenotype
        self.head = nn.Sequential(
            nn.Linear(dim, dim), nn.ReLU(inplace=True), nn.Linear(dim, latent)
        )

    def encode(self, x_t: torch.Tensor) -> torch.Tensor:
        return self.phenotype(x_t)

    def forward(self, x_t: torch.Tensor) -> torch.Tensor:
        return self.head(self.encode(x_t))


class ConvDecoder(nn.Module):
    """Small decoder: latent -> 8-wide map -> x2 upsampling conv blocks -> ``out_shape``.

    Works for images (C, H, W) and curves (C, L); channels halve from 64 down to 16.
    """

    def __init__(self, latent: int, out_shape: Sequence[int], base: int = 8) -> None:
        super().__init__()
        self.out_shape = tuple(out_shape)
        nd = len(out_shape) - 1
        conv = nn.Conv2d if nd == 2 else nn.Conv1d
        self.start = (64,) + (base,) * nd
        self.fc = nn.Linear(latent, math.prod(self.start))
        n_up = max(0, math.ceil(math.log2(max(out_shape[1:]) / base)))
        blocks: list[nn.Module] = []
        ch = 64
        for _ in range(n_up):
            nxt = max(ch // 2, 16)
            blocks += [nn.Upsample(scale_factor=2), conv(ch, nxt, 3, padding=1), nn.ReLU(True)]
            ch = nxt
        blocks.append(conv(ch, out_shape[0], 3, padding=1))
        self.net = nn.Sequential(*blocks)

    def forward(self, z_t: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.fc(z_t)).view(-1, *self.start)
        out = self.net(h)
        if tuple(out.shape[2:]) != self.out_shape[1:]:
            mode = "bilinear" if out.ndim == 4 else "linear"
            out = F.interpolate(out, size=self.out_shape[1:], mode=mode, align_corners=False)
        return out


class VAE(nn.Module):
    """Encoder -> (mu, logvar) of size D; Gaussian decoder with one learned sigma.
    The embedding is mu."""

    def __init__(self, phenotype: nn.Module, in_shape: Sequence[int], dim: int = 256) -> None:
        super().__init__()
        self.phenotype = phenotype
        self.mu = nn.Linear(dim, dim)
        self.logvar = nn.Linear(dim, dim)
        self.decoder = ConvDecoder(dim, in_shape)
        self.log_sigma = nn.Parameter(torch.zeros(()))

    def encode(self, x_t: torch.Tensor) -> torch.Tensor:
        return self.mu(self.phenotype(x_t))

    def forward(
        self, x_t: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(reconstruction, mu, logvar); samples z only in training mode."""
        h = self.phenotype(x_t)
        mu, logvar = self.mu(h), self.logvar(h).clamp(-10, 10)
        z = mu
        if self.training:
            eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
            z = mu + eps * (0.5 * logvar).exp()
        return self.decoder(z), mu, logvar


class Supervised(nn.Module):
    """Encoder + linear head to one output (disease logit or latent trait)."""

    def __init__(self, phenotype: nn.Module, dim: int = 256) -> None:
        super().__init__()
        self.phenotype = phenotype
        self.head = nn.Linear(dim, 1)

    def encode(self, x_t: torch.Tensor) -> torch.Tensor:
        return self.phenotype(x_t)

    def forward(self, x_t: torch.Tensor) -> torch.Tensor:
        return self.head(self.encode(x_t))


class FrozenFeatures(nn.Module):
    """The ``frozen`` baseline: e_p = mean-pooled tokens of a pretrained backbone on the
    item standardised with the backbone's ``mean``/``std`` (a grey item broadcasts to
    its channels). Nothing is trained."""

    def __init__(
        self,
        backbone: nn.Module,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
    ) -> None:
        super().__init__()
        self.standardize = Standardize(mean, std)
        self.backbone = backbone.eval().requires_grad_(False)

    def encode(self, x_t: torch.Tensor) -> torch.Tensor:
        tokens_t = backbone_tokens(self.backbone, self.standardize(x_t))
        return mean_pool(self.backbone, tokens_t.float())
