"""Per-sample random augmentations computed on whole batches (B, C, H, W), on the device.

Every function draws its random numbers from the ``generator`` it is given (on the
batch's device), so a seeded generator makes the output reproducible. Inputs are
floats in [0, 1] (before standardisation).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from gemcont.errors import ConfigError

Augmentation = Callable[[torch.Tensor, torch.Generator | None], torch.Tensor]


def _uniform(
    n: int, low: float, high: float, x_t: torch.Tensor, generator: torch.Generator | None
) -> torch.Tensor:
    """n draws of U(low, high) on x_t's device, float32."""
    u = torch.rand(n, generator=generator, device=x_t.device)
    return low + (high - low) * u


def random_resized_crop(
    x_t: torch.Tensor,
    generator: torch.Generator | None = None,
    scale: tuple[float, float] = (0.6, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> torch.Tensor:
    """Crop a random box (area fraction ``scale``, aspect ``ratio``) and resize it back
    to H x W, via one affine grid per sample (bilinear, no rotation or shear)."""
    b = x_t.shape[0]
    area = _uniform(b, *scale, x_t, generator)
    log_r = _uniform(b, math.log(ratio[0]), math.log(ratio[1]), x_t, generator)
    w = (area * log_r.exp()).sqrt().clamp(max=1.0)
    h = (area / log_r.exp()).sqrt().clamp(max=1.0)
    tx = (1 - w) * _uniform(b, -1.0, 1.0, x_t, generator)
    ty = (1 - h) * _uniform(b, -1.0, 1.0, x_t, generator)
    zero = torch.zeros_like(w)
    theta = torch.stack([torch.stack([w, zero, tx], 1), torch.stack([zero, h, ty], 1)], 1)
    grid = F.affine_grid(theta.to(x_t.dtype), list(x_t.shape), align_corners=False)
    return F.grid_sample(x_t, grid, mode="bilinear", padding_mode="border", align_corners=False)


def gaussian_blur(
    x_t: torch.Tensor,
    generator: torch.Generator | None = None,
    sigma: tuple[float, float] = (0.1, 2.0),
    p: float = 0.5,
) -> torch.Tensor:
    """Blur each sample with probability ``p`` by a Gaussian of random sigma; separable
    grouped convolution with one kernel per sample (reflect padding)."""
    b, c, h, w = x_t.shape
    s = _uniform(b, *sigma, x_t, generator)
    apply = torch.rand(b, generator=generator, device=x_t.device) < p
    radius = math.ceil(3 * sigma[1])
    offsets = torch.arange(-radius, radius + 1, device=x_t.device, dtype=torch.float32)
    kernel = torch.exp(-0.5 * (offsets / s[:, None]) ** 2)
    identity = (offsets == 0).float().expand_as(kernel)
    kernel = torch.where(apply[:, None], kernel / kernel.sum(1, keepdim=True), identity)
    kernel = kernel.repeat_interleave(c, dim=0).to(x_t.dtype)  # (b*c, k)
    y = x_t.reshape(1, b * c, h, w)
    y = F.pad(y, (radius, radius, 0, 0), mode="reflect")
    y = F.conv2d(y, kernel[:, None, None, :], groups=b * c)
    y = F.pad(y, (0, 0, radius, radius), mode="reflect")
    y = F.conv2d(y, kernel[:, None, :, None], groups=b * c)
    return y.reshape(b, c, h, w)


def _gray(x_t: torch.Tensor) -> torch.Tensor:
    """Luma (ITU-R 601) for 3 channels, channel mean otherwise: (B, 1, H, W)."""
    if x_t.shape[1] == 3:
        w = torch.tensor([0.299, 0.587, 0.114], device=x_t.device, dtype=x_t.dtype)
        return (x_t * w.view(1, 3, 1, 1)).sum(1, keepdim=True)
    return x_t.mean(1, keepdim=True)


def colour_jitter(
    x_t: torch.Tensor,
    generator: torch.Generator | None = None,
    brightness: float = 0.4,
    contrast: float = 0.4,
    saturation: float = 0.4,
) -> torch.Tensor:
    """Per-sample brightness, contrast and saturation factors in [1 - a, 1 + a]
    (applied in that order), clipped to [0, 1]."""
    b = x_t.shape[0]
    view = (b, 1, 1, 1)
    fb = _uniform(b, 1 - brightness, 1 + brightness, x_t, generator).view(view)
    fc = _uniform(b, 1 - contrast, 1 + contrast, x_t, generator).view(view)
    fs = _uniform(b, 1 - saturation, 1 + saturation, x_t, generator).view(view)
    y = (x_t * fb).clamp(0, 1)
    mean = _gray(y).mean(dim=(2, 3), keepdim=True)
    y = ((y - mean) * fc + mean).clamp(0, 1)
    gray = _gray(y)
    return ((y - gray) * fs + gray).clamp(0, 1)


def random_erasing(
    x_t: torch.Tensor,
    generator: torch.Generator | None = None,
    p: float = 0.5,
    scale: tuple[float, float] = (0.02, 0.2),
    ratio: tuple[float, float] = (0.3, 3.3),
    value: float = 0.0,
) -> torch.Tensor:
    """With probability ``p`` per sample, set one random rectangle (area fraction
    ``scale``, aspect ``ratio``) to ``value``; every other pixel is left untouched."""
    b, _, h, w = x_t.shape
    area = _uniform(b, *scale, x_t, generator) * h * w
    log_r = _uniform(b, math.log(ratio[0]), math.log(ratio[1]), x_t, generator)
    eh = (area * log_r.exp()).sqrt().round().clamp(1, h)
    ew = (area / log_r.exp()).sqrt().round().clamp(1, w)
    top = ((h - eh + 1) * torch.rand(b, generator=generator, device=x_t.device)).floor()
    left = ((w - ew + 1) * torch.rand(b, generator=generator, device=x_t.device)).floor()
    apply = torch.rand(b, generator=generator, device=x_t.device) < p
    rows = torch.arange(h, device=x_t.device).view(1, h)
    cols = torch.arange(w, device=x_t.device).view(1, w)
    in_rows = (rows >= top[:, None]) & (rows < (top + eh)[:, None])
    in_cols = (cols >= left[:, None]) & (cols < (left + ew)[:, None])
    mask = (in_rows[:, :, None] & in_cols[:, None, :]) & apply[:, None, None]
    return x_t.masked_fill(mask[:, None], value)


PIPELINES: dict[str, tuple[Augmentation, ...]] = {
    "glyph": (random_erasing,),  # never rotate: rotation is the simulated signal
    "spirometry": (random_resized_crop, gaussian_blur),
    "fundus": (random_resized_crop, colour_jitter, gaussian_blur),
    "none": (),
}


def augmenter(modality: str) -> Augmentation:
    """The batch augmentation of ``modality`` (one of PIPELINES) as one function."""
    if modality not in PIPELINES:
        known = ", ".join(PIPELINES)
        raise ConfigError("train.modality", f"unknown modality '{modality}' (known: {known})")
    steps = PIPELINES[modality]

    def apply(x_t: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        for step in steps:
            x_t = step(x_t, generator)
        return x_t

    return apply
