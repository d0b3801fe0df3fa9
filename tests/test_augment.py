"""Batched augmentations: shapes, seeded determinism, erasing-only glyphs (no rotation)."""

from __future__ import annotations

import pytest
import torch

from gemcont.errors import ConfigError
from gemcont.train.augment import (
    PIPELINES,
    augmenter,
    colour_jitter,
    gaussian_blur,
    random_erasing,
    random_resized_crop,
)


def batch(c: int = 1, size: int = 28, n: int = 16) -> torch.Tensor:
    return torch.rand(n, c, size, size, generator=torch.Generator().manual_seed(1))


SHAPES = [("glyph", 1, 28), ("spirometry", 1, 64), ("fundus", 3, 32)]


@pytest.mark.parametrize(("modality", "c", "size"), SHAPES)
def test_augmenter__shape_range_and_seeded_determinism(modality: str, c: int, size: int) -> None:
    x = batch(c, size)
    aug = augmenter(modality)
    a = aug(x, torch.Generator().manual_seed(5))
    b = aug(x, torch.Generator().manual_seed(5))
    other = aug(x, torch.Generator().manual_seed(6))
    assert a.shape == x.shape and a.dtype == x.dtype
    assert torch.equal(a, b) and not torch.equal(a, other)
    assert a.min() >= -1e-6 and a.max() <= 1 + 1e-6


def test_glyph_pipeline__erasing_only_never_rotates() -> None:
    assert PIPELINES["glyph"] == (random_erasing,)
    x = batch() + 0.5  # no pixel equals the erase value 0
    out = augmenter("glyph")(x, torch.Generator().manual_seed(0))
    erased = out != x
    assert erased.any(), "with p=0.5 some of 16 samples are erased"
    assert (out[erased] == 0).all()  # changed pixels are erased, nothing else moves
    for mask in erased[:, 0]:  # each erased region is one axis-aligned rectangle
        if mask.any():
            rows, cols = mask.any(1).nonzero(), mask.any(0).nonzero()
            box = mask[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
            assert box.all() and box.sum() == mask.sum()


def test_random_erasing__per_sample_probability() -> None:
    x = batch(n=400) + 0.5
    out = random_erasing(x, torch.Generator().manual_seed(0), p=0.3)
    frac = (out != x).flatten(1).any(1).float().mean().item()
    assert 0.22 < frac < 0.38


def test_random_resized_crop__full_scale_is_identity() -> None:
    x = batch(size=20)
    out = random_resized_crop(x, torch.Generator().manual_seed(0), scale=(1, 1), ratio=(1, 1))
    torch.testing.assert_close(out, x, atol=1e-5, rtol=0)


def test_gaussian_blur__preserves_constant_images_and_smooths_noise() -> None:
    flat = torch.full((4, 2, 24, 24), 0.3)
    gen = torch.Generator().manual_seed(0)
    torch.testing.assert_close(gaussian_blur(flat, gen, p=1.0), flat)
    x = batch(size=24)
    out = gaussian_blur(x, gen, sigma=(1.5, 2.0), p=1.0)
    assert out.std() < 0.5 * x.std()
    assert torch.equal(gaussian_blur(x, gen, p=0.0), x)


def test_colour_jitter__grayscale_image_stays_grayscale() -> None:
    gray = batch(c=1, size=16).expand(-1, 3, -1, -1).contiguous()
    out = colour_jitter(gray, torch.Generator().manual_seed(0))
    torch.testing.assert_close(out[:, 0], out[:, 1], atol=1e-6, rtol=0)
    assert not torch.equal(out, gray)


def test_augmenter__unknown_modality() -> None:
    with pytest.raises(ConfigError, match="train.modality"):
        augmenter("audio")
