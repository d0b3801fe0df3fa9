"""Errors that name the file, the record, the reason and the fix."""

from __future__ import annotations

import errno
import math
from pathlib import Path


class InputError(ValueError):
    """Bad user input: says where, what, why and how to fix it."""

    def __init__(
        self,
        path: str | Path | None,
        reason: str,
        fix: str,
        record: str | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.reason = reason
        self.fix = fix
        self.record = record
        where = f"{self.path}: " if self.path else ""
        what = f"{record}: " if record else ""
        super().__init__(f"{where}{what}{reason}. Fix: {fix}")


class ConfigError(ValueError):
    """An invalid configuration value; names the offending key."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        super().__init__(f"config key '{key}': {reason}")


class NoSpaceError(OSError):
    """Not enough disk space for an output: names the file, the bytes it needs and the
    bytes free (``needed`` is None when a write failed part-way and the total is unknown)."""

    def __init__(self, path: str | Path, needed: int | None, free: int, written: int = 0) -> None:
        self.path = str(path)
        self.needed, self.free, self.written = needed, free, written
        if needed is not None:
            what = f"needs {_size(needed)} but only {_size(free)} are free on its file system"
        else:
            what = (
                f"the disk filled up after {_size(written)} were written ({_size(free)} free now)"
            )
        super().__init__(
            f"{self.path}: no space left for this output: {what}. Fix: free space there, or "
            "run the workflow in a directory on a larger file system (the partial file was "
            "removed)"
        )
        self.errno = errno.ENOSPC


def _size(n_bytes: int) -> str:
    """A byte count with a readable unit: '1234567 bytes (1.2 MiB)'."""
    if n_bytes < 1024:
        return f"{n_bytes} bytes"
    exponent = min(int(math.log(n_bytes, 1024)), 4)
    unit = ("bytes", "KiB", "MiB", "GiB", "TiB")[exponent]
    return f"{n_bytes} bytes ({n_bytes / 1024**exponent:.1f} {unit})"
