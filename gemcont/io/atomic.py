"""Atomic writes: every output is written under a temporary name beside it and renamed
into place only when whole, so a killed job never leaves a truncated file that a rerun
would take as finished."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


@contextmanager
def atomic_path(path: str | Path, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path beside ``path`` (``name`` + ``suffix``) that is renamed onto
    ``path`` when the block ends normally and removed when it raises."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + suffix)
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(path)


@contextmanager
def atomic_open(path: str | Path, mode: str = "wb", **kwargs: object) -> Iterator[IO]:
    """``open(tmp, mode)`` for :func:`atomic_path`: the file appears at ``path`` whole."""
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as handle:
        yield handle
