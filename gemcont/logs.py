"""Logging set-up shared by the workflow's scripts."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from types import TracebackType

log = logging.getLogger("gemcont")


def _log_uncaught(
    kind: type[BaseException], error: BaseException, trace: TracebackType | None
) -> None:
    """Record an error that ends the script, traceback included, in the rule's log (an
    external tool's error carries its command and the tail of its log or stderr)."""
    log.critical("stopped by %s: %s", kind.__name__, error, exc_info=(kind, error, trace))


def to_file(path: str | Path, level: int = logging.INFO) -> None:
    """Send log records to ``path`` (the rule's log) and to stderr; an uncaught error is
    recorded there too, with its traceback (else the log ends before the failure)."""
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
    sys.excepthook = _log_uncaught
