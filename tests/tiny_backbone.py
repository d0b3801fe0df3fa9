"""A timm-like token backbone small enough for tests (also built by path in workflow
tests as ``tests/tiny_backbone.py:tiny_vit``)."""

from __future__ import annotations

import torch
from torch import nn


class TinyViT(nn.Module):
    """Patch embedding + a class token + one transformer layer; tokens (B, 1 + P, F)."""

    num_prefix_tokens = 1

    def __init__(self, width: int = 24) -> None:
        super().__init__()
        self.num_features = width
        self.patch = nn.Conv2d(3, width, 8, stride=8)
        self.cls_token = nn.Parameter(torch.randn(1, 1, width) * 0.02)
        self.block = nn.TransformerEncoderLayer(width, 4, 2 * width, batch_first=True)
        self.head = nn.Identity()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        patches = self.patch(x).flatten(2).transpose(1, 2)
        cls = self.cls_token.expand(len(x), -1, -1)
        return self.block(torch.cat([cls, patches], dim=1))


def tiny_vit(width: int = 24) -> TinyViT:
    """The builder named by ``train.backbone.arch`` in tests."""
    return TinyViT(width)
