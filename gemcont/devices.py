"""The one device resolver of the GPU-capable stages (training, export, built-in GWAS)."""

from __future__ import annotations

from gemcont.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(name: str, key: str) -> str:
    """'auto' -> 'cuda' when torch sees a GPU, else 'cpu'. ``key`` is the config key the
    value came from, named in the error when 'cuda' is asked for without a GPU. 'cpu'
    never imports torch (the CPU GWAS does not need it)."""
    if name not in DEVICES:
        raise ConfigError(key, f"'{name}' is not one of {DEVICES}")
    if name == "cpu":
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if name == "cuda":
        raise ConfigError(key, "'cuda' requested but torch sees no GPU")
    return "cpu"
