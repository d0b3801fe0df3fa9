"""The GEMCONT model: genetic encoder + phenotype encoder + projector, CLIP temperature."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

MAX_LOG_SCALE = math.log(100.0)


class Gemcont(nn.Module):
    """z_g = normalise(genetic(g)); z_p = normalise(projector(phenotype(x))).

    The logit scale 1/tau is a log-scale parameter initialised at log(1/``temperature``),
    exponentiated in forward and clamped to <= ln 100 by :meth:`clamp_temperature`.
    """

    def __init__(
        self,
        genetic: nn.Module,
        phenotype: nn.Module,
        dim: int = 256,
        latent: int = 128,
        temperature: float = 0.07,
    ) -> None:
        super().__init__()
        self.genetic = genetic
        self.phenotype = phenotype
        self.projector = nn.Linear(dim, latent)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / temperature)))

    def encode(self, x_t: torch.Tensor) -> torch.Tensor:
        """The phenotype embedding e_p (batch x D)."""
        return self.phenotype(x_t)

    def forward(
        self, g_t: torch.Tensor, x_t: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(z_g, z_p, logit scale): both batch x latent, unit norm."""
        z_g = F.normalize(self.genetic(g_t), dim=-1)
        z_p = F.normalize(self.projector(self.encode(x_t)), dim=-1)
        return z_g, z_p, self.logit_scale.exp()

    @torch.no_grad()
    def clamp_temperature(self) -> None:
        """Keep the logit scale <= 100 (call after every optimizer step)."""
        self.logit_scale.clamp_(0, MAX_LOG_SCALE)

    def temperature(self) -> float:
        return float(1.0 / self.logit_scale.detach().exp())
