"""Errors that name the file, the record, the reason and the fix."""

from __future__ import annotations

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
