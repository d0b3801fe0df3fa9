"""Pretrained phenotype backbones (RETFound, DINOv2, ...) loaded from local files.

A backbone is built from ``arch`` (a timm model name, or ``path/to/file.py:function``
for the user's own model code) with ``options`` as keyword arguments, then its weights
are read from a local checkpoint without unpickling code (``weights_only`` for
``.pt``/``.pth``, or ``.safetensors``).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

from gemcont.errors import ConfigError
from gemcont.train.config import BackboneSettings

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def backbone_tokens(backbone: nn.Module, x_t: torch.Tensor) -> torch.Tensor:
    """Tokens (B, T, F) of a timm-style backbone (``forward_features``) or a plain
    callable; a CNN's feature map (B, F, H, W) becomes H x W tokens."""
    out = getattr(backbone, "forward_features", backbone)(x_t)
    return out.flatten(2).transpose(1, 2) if out.ndim == 4 else out


def _file_function(spec: str) -> Callable[..., nn.Module]:
    """``path/to/file.py:function`` -> the function (the file is imported by path)."""
    file, _, name = spec.rpartition(":")
    path = Path(file)
    if not path.is_file():
        raise ConfigError("train.backbone.arch", f"{path} (from '{spec}') does not exist")
    module_spec = importlib.util.spec_from_file_location(f"gemcont_backbone_{path.stem}", path)
    module = importlib.util.module_from_spec(module_spec)
    sys.path.insert(0, str(path.parent.resolve()))  # its sibling modules (a model repo)
    try:
        module_spec.loader.exec_module(module)
    except ImportError as err:
        raise ConfigError(
            "train.backbone.arch", f"importing {path} failed: {err}; install what it needs"
        ) from err
    finally:
        sys.path.remove(str(path.parent.resolve()))
    fn = getattr(module, name, None)
    if not callable(fn):
        raise ConfigError("train.backbone.arch", f"{path} has no function '{name}'")
    return fn


def backbone_builder(arch: str, options: Mapping | None = None) -> Callable[[], nn.Module]:
    """A builder of backbone ``arch`` without classification head: a timm name (timm
    imported lazily, ``num_classes=0``) or ``file.py:function``; ``options`` are passed
    as keyword arguments (e.g. ``dynamic_img_size=True`` for DINOv2 ViTs at 224 px)."""
    options = dict(options or {})
    if arch.partition(":")[0].endswith(".py"):
        fn = _file_function(arch)
        return lambda: fn(**options)

    def build() -> nn.Module:
        try:
            import timm
        except ImportError as err:
            raise ConfigError(
                "train.backbone.arch",
                f"the backbone '{arch}' needs timm, which is not installed; "
                "run `pip install timm` (keep the installed torch) or name a "
                "file.py:function that builds the model",
            ) from err
        return timm.create_model(arch, pretrained=False, num_classes=0, **options)

    return build


def _read_state(path: Path) -> dict:
    """A checkpoint's tensors: a raw state dict, or one nested under model/state_dict."""
    if not path.is_file():
        raise ConfigError(
            "train.backbone.path",
            f"{path} does not exist; download the pretrained weights and point the key at them",
        )
    if path.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError as err:
            raise ConfigError(
                "train.backbone.path", f"{path} needs safetensors: `pip install safetensors`"
            ) from err
        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("model", "state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    return state


def load_backbone(path: str | Path, build: Callable[[], nn.Module]) -> nn.Module:
    """Build the backbone and load its weights from a local checkpoint.

    Keys the backbone does not have (heads, decoders) are ignored; missing ones or
    shape mismatches are errors naming the file and the likely fix.
    """
    path = Path(path)
    state = _read_state(path)
    try:
        backbone = build()
    except TypeError as err:
        raise ConfigError(
            "train.backbone.options", f"the backbone builder rejected its options: {err}"
        ) from err
    try:
        missing, _ = backbone.load_state_dict(state, strict=False)
    except RuntimeError as err:
        raise ConfigError(
            "train.backbone.path",
            f"{path} does not fit train.backbone.arch ({str(err).splitlines()[1].strip()}); "
            "check the architecture and train.backbone.options (e.g. img_size)",
        ) from err
    if missing:
        raise ConfigError(
            "train.backbone.path",
            f"{path} lacks {len(missing)} backbone weights (e.g. {missing[0]}); "
            "check that train.backbone.arch matches the checkpoint",
        )
    return backbone.eval()


def backbone_from_config(settings: BackboneSettings) -> nn.Module:
    """The frozen backbone named by the ``train.backbone`` settings."""
    if not settings.path:
        raise ConfigError(
            "train.backbone.path",
            "method 'frozen' and encoder 'frozen_vit' need a pretrained backbone checkpoint",
        )
    return load_backbone(settings.path, backbone_builder(settings.arch, settings.options))


def feature_width(backbone: nn.Module, in_shape: Sequence[int]) -> int:
    """Token width F of ``backbone`` on items of ``in_shape`` (one zero item is run)."""
    try:
        with torch.no_grad():
            out = backbone_tokens(backbone, torch.zeros(1, *in_shape))
    except (AssertionError, RuntimeError, ValueError) as err:
        raise ConfigError(
            "train.backbone.options",
            f"the backbone does not take the stored items ({' x '.join(map(str, in_shape))}): "
            f"{err}; store images at the backbone's size (phenotypes.fundus_image_size, e.g. "
            "224) or pass options such as dynamic_img_size / dynamic_img_pad",
        ) from err
    return int(out.shape[-1])


def mean_pool(backbone: nn.Module, tokens_t: torch.Tensor) -> torch.Tensor:
    """Mean over patch tokens, timm's ``num_prefix_tokens`` class/register tokens
    skipped: (B, F)."""
    return tokens_t[:, getattr(backbone, "num_prefix_tokens", 0) :].mean(dim=1)
