"""Phenotype encoders: an item (C x H x W image or C x L curve) -> e_p (batch x D)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from gemcont.errors import ConfigError
from gemcont.models.backbone import backbone_tokens

ENCODERS = ("small_cnn", "cnn2d", "resnet18", "cnn1d", "frozen_vit")


def _conv2d(c_in: int, c_out: int, k: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


def _conv1d(c_in: int, c_out: int, k: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv1d(c_in, c_out, k, stride=stride, padding=k // 2, bias=False),
        nn.BatchNorm1d(c_out),
        nn.ReLU(inplace=True),
    )


class SmallCNN(nn.Module):
    """Three 3x3 conv blocks for 28 x 28 glyphs (any channel count) -> D."""

    def __init__(self, in_channels: int = 1, dim: int = 256) -> None:
        super().__init__()
        self.features = nn.Sequential(
            _conv2d(in_channels, 32, 3, 1),
            _conv2d(32, 64, 3, 2),  # 14 x 14
            _conv2d(64, 128, 3, 2),  # 7 x 7
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Linear(128, dim)

    def forward(self, x_t: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x_t))


class CNN2d(nn.Module):
    """Generic small conv net for C x H x W: a stride-``stem_stride`` stem, then stride-2
    blocks until the map is about 8 pixels wide, global average pooling -> D."""

    def __init__(
        self, in_shape: Sequence[int], dim: int = 256, width: int = 32, max_width: int = 256
    ) -> None:
        super().__init__()
        c, h, w = in_shape
        stem_stride = 4 if min(h, w) >= 128 else (2 if min(h, w) >= 32 else 1)
        layers: list[nn.Module] = [_conv2d(c, width, 5 if stem_stride == 4 else 3, stem_stride)]
        size, ch = min(h, w) // stem_stride, width
        while size > 8:
            nxt = min(ch * 2, max_width)
            layers.append(_conv2d(ch, nxt, 3, 2))
            size, ch = size // 2, nxt
        layers += [_conv2d(ch, ch, 3, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(ch, dim)

    def forward(self, x_t: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x_t))


class CNN1d(nn.Module):
    """Conv net for curves C x L: stride-2 blocks down to about 8 samples -> D."""

    def __init__(self, in_shape: Sequence[int], dim: int = 256, width: int = 32) -> None:
        super().__init__()
        c, length = in_shape
        layers: list[nn.Module] = [_conv1d(c, width, 7, 2)]
        size, ch = length // 2, width
        while size > 8:
            nxt = min(ch * 2, 256)
            layers.append(_conv1d(ch, nxt, 5, 2))
            size, ch = size // 2, nxt
        layers += [nn.AdaptiveAvgPool1d(1), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(ch, dim)

    def forward(self, x_t: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x_t))


class ResNetEncoder(nn.Module):
    """torchvision ResNet-18 (random init) with ``in_channels`` inputs -> D."""

    def __init__(self, in_channels: int, dim: int = 256) -> None:
        super().__init__()
        try:
            from torchvision.models import resnet18
        except ImportError as err:
            raise ConfigError(
                "train.encoder",
                "'resnet18' needs torchvision, which is not installed; "
                "run `pip install torchvision` or choose encoder 'cnn2d'",
            ) from err
        net = resnet18(weights=None)
        net.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        net.fc = nn.Linear(net.fc.in_features, dim)
        self.net = net

    def forward(self, x_t: torch.Tensor) -> torch.Tensor:
        return self.net(x_t)


class AttentionPool(nn.Module):
    """One learned query attending over tokens: (B, T, F) -> (B, F)."""

    def __init__(self, features: int, heads: int = 8) -> None:
        super().__init__()
        heads = heads if features % heads == 0 else 1
        self.query = nn.Parameter(torch.zeros(1, 1, features))
        nn.init.normal_(self.query, std=0.02)
        self.attn = nn.MultiheadAttention(features, heads, batch_first=True)
        self.norm = nn.LayerNorm(features)

    def forward(self, tokens_t: torch.Tensor) -> torch.Tensor:
        q = self.query.expand(tokens_t.shape[0], -1, -1)
        pooled, _ = self.attn(q, tokens_t, tokens_t, need_weights=False)
        return self.norm(pooled.squeeze(1))


class FrozenBackbone(nn.Module):
    """A frozen token backbone used online + attention pooling + 2-layer MLP -> D.

    The backbone stays in eval mode and receives no gradient.
    """

    def __init__(self, backbone: nn.Module, features: int, dim: int = 256) -> None:
        super().__init__()
        self.backbone = backbone.eval().requires_grad_(False)
        self.pool = AttentionPool(features)
        self.mlp = nn.Sequential(nn.Linear(features, features), nn.GELU(), nn.Linear(features, dim))

    def train(self, mode: bool = True) -> FrozenBackbone:
        super().train(mode)
        self.backbone.eval()
        return self

    def forward(self, x_t: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            tokens_t = backbone_tokens(self.backbone, x_t)
        return self.mlp(self.pool(tokens_t.float()))


def _backbone_prefixes(model: nn.Module) -> tuple[str, ...]:
    return tuple(
        f"{name}.backbone." if name else "backbone."
        for name, module in model.named_modules()
        if isinstance(module, FrozenBackbone)
    )


def state_without_backbones(model: nn.Module) -> dict[str, torch.Tensor]:
    """``model.state_dict()`` less the weights of frozen pretrained backbones, which are
    read from their own checkpoint (a ViT-B would add ~350 MB to every checkpoint)."""
    skip = _backbone_prefixes(model)
    return {k: v for k, v in model.state_dict().items() if not k.startswith(skip)}


def load_without_backbones(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load a :func:`state_without_backbones` dict: strict for everything else."""
    skip = _backbone_prefixes(model)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith(skip)]
    if missing or unexpected:
        raise RuntimeError(
            f"checkpoint does not fit the model: missing {missing[:3]}, unexpected {unexpected[:3]}"
        )


def build_phenotype_encoder(
    name: str,
    in_shape: Sequence[int],
    dim: int,
    width: int,
    backbone: nn.Module | None = None,
    backbone_features: int | None = None,
) -> nn.Module:
    """The encoder ``name`` (one of ENCODERS) for items of shape ``in_shape``; ``width`` is
    the first layer's channel count of the compact CNNs (cnn2d, cnn1d); ``backbone`` and
    its token width ``backbone_features`` are needed by ``frozen_vit`` only."""
    if name == "small_cnn":
        return SmallCNN(in_shape[0], dim)
    if name == "cnn2d":
        return CNN2d(in_shape, dim, width=width)
    if name == "resnet18":
        return ResNetEncoder(in_shape[0], dim)
    if name == "cnn1d":
        return CNN1d(in_shape, dim, width=width)
    if name == "frozen_vit":
        if backbone is None or backbone_features is None:
            raise ConfigError("train.encoder", "'frozen_vit' needs train.backbone.path")
        return FrozenBackbone(backbone, backbone_features, dim)
    raise ConfigError("train.encoder", f"unknown encoder '{name}' (known: {', '.join(ENCODERS)})")


class Standardize(nn.Module):
    """(x - mean) / sd per channel; statistics are buffers saved with the model."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).clamp_min(1e-6))

    def forward(self, x_t: torch.Tensor) -> torch.Tensor:
        shape = (1, -1) + (1,) * (x_t.ndim - 2)
        return (x_t - self.mean.view(shape)) / self.std.view(shape)
