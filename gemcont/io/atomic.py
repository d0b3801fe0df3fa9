"""Atomic writes: every output is written under a temporary name beside it and renamed
into place only when whole, so a killed job never leaves a truncated file that a rerun
would take as finished.

A write that fails because the disk (or the quota) is full raises
:class:`gemcont.errors.NoSpaceError` naming the output; a large file of known size
(a memory map) is checked against the free space first, and its blocks are reserved,
with :func:`reserve_space` -- writing into an unreserved memory map on a full disk kills
the process with SIGBUS instead of raising."""

from __future__ import annotations

import errno
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from gemcont.errors import NoSpaceError

log = logging.getLogger(__name__)

NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})
"""errno values of a full disk and of an exceeded quota (common on HPC file systems)."""


def free_bytes(path: str | Path) -> int:
    """Free bytes on the file system holding ``path`` (or its nearest existing parent)."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def reserve_space(tmp: str | Path, n_bytes: int, output: str | Path | None = None) -> None:
    """Make sure ``n_bytes`` fit on ``tmp``'s file system and reserve them for ``tmp``.

    Raises :class:`gemcont.errors.NoSpaceError` naming ``output`` (default ``tmp``)
    when they do not. Reservation uses ``posix_fallocate`` where the file system
    supports it, so that a later write into a memory map cannot fail with SIGBUS.
    """
    output = output or tmp
    free = free_bytes(tmp)
    have = Path(tmp).stat().st_blocks * 512 if Path(tmp).exists() else 0
    if n_bytes - have > free:
        raise NoSpaceError(output, n_bytes, free)
    if not hasattr(os, "posix_fallocate") or not Path(tmp).exists():
        return
    fd = os.open(tmp, os.O_RDWR)
    try:
        os.posix_fallocate(fd, 0, n_bytes)
    except OSError as err:
        if err.errno in NO_SPACE:
            raise NoSpaceError(output, n_bytes, free_bytes(tmp)) from None
        if err.errno not in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
            raise
        log.debug("%s: cannot reserve blocks (%s); relying on the free-space check", tmp, err)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | Path, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path beside ``path`` (``name`` + ``suffix``) that is renamed onto
    ``path`` when the block ends normally and removed when it raises."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + suffix)
    try:
        yield tmp
    except OSError as err:
        written = tmp.stat().st_size if tmp.exists() else 0
        tmp.unlink(missing_ok=True)
        if err.errno in NO_SPACE and not isinstance(err, NoSpaceError):
            raise NoSpaceError(path, None, free_bytes(path), written) from err
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(path)


@contextmanager
def atomic_open(path: str | Path, mode: str = "wb", **kwargs: object) -> Iterator[IO]:
    """``open(tmp, mode)`` for :func:`atomic_path`: the file appears at ``path`` whole."""
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as handle:
        yield handle
