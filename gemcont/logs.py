"""Logging set-up shared by the workflow's scripts."""

from __future__ import annotations

import logging
import sys
from pathlib import Path


def to_file(path: str | Path, level: int = logging.INFO) -> None:
    """Send log records to ``path`` (the rule's log) and to stderr."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    handlers: list[logging.Handler] = [
        logging.FileHandler(path, mode="w"),
        logging.StreamHandler(sys.stderr),
    ]
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
