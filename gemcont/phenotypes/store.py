"""The phenotype store: preprocessed, fixed-size items that training memory-maps.

A store is a directory holding

* ``images.npy``: uint8 array (n_items, C, H, W), read with
  ``np.load(path, mmap_mode="r")``;
* ``index.tsv``: FID, IID, eye, row -- one line per stored item, ``row`` indexes
  ``images.npy`` (and every other per-item array of the store); ``eye`` is "" when the
  modality has one item per person;
* ``exclusions.tsv``: FID, IID, item, reason -- every input item that was not stored.

Each file is written to a temporary name and renamed into place (:mod:`gemcont.io.atomic`);
the memory-mapped ``images.npy`` is checked against the free disk space and its blocks
reserved before any item is written (a full disk under a memory map would kill the job
with SIGBUS), and the temporary file is removed on any failure -- unless the build is
resumable (:class:`StoreWriter` with a resume key: the fundus builder), when the partial
file and a progress record stay for the rerun.

Training and export read rows through :class:`StoreRows` (positional reads, in
ascending order), never the whole file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sys
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import numpy as np
import pandas as pd

from gemcont.errors import InputError
from gemcont.io.atomic import atomic_open, atomic_path, reserve_space
from gemcont.io.ids import KEY
from gemcont.io.tables import write_tsv

log = logging.getLogger(__name__)

IMAGES = "images.npy"
INDEX = "index.tsv"
EXCLUSIONS = "exclusions.tsv"
INDEX_COLUMNS = [*KEY, "eye", "row"]
EXCLUSION_COLUMNS = [*KEY, "item", "reason"]
COPY_ROWS = 4096
CHECKPOINT_ITEMS = 1000
"""A resumable build records its progress every this many items (~2 min of fundus
photographs on one thread)."""
PARTIAL = ".partial"
PROGRESS = ".progress.json"
NPY_HEADER_MAX = 4096
"""Upper bound of an .npy header (bytes) for the free-space check before a memory map."""


def open_uint8_memmap(tmp: Path, shape: tuple[int, ...], output: Path) -> np.memmap:
    """A new uint8 .npy memory map at ``tmp`` whose every block is on disk: the space is
    checked before the file is created and reserved after. Raises
    :class:`gemcont.errors.NoSpaceError` naming ``output`` and the bytes it needs."""
    reserve_space(tmp, int(np.prod(shape)) + NPY_HEADER_MAX, output)
    array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
    reserve_space(tmp, tmp.stat().st_size, output)
    return array


def save_npy(array: np.ndarray, path: Path) -> None:
    """``np.save`` to ``path`` atomically."""
    with atomic_open(path) as handle:
        np.save(handle, array)


class StoreWriter:
    """Streams items into ``<out_dir>/images.npy`` in the order they are added.

    At most ``capacity`` items of shape ``item_shape`` are expected; :meth:`finish`
    trims the array to the items actually added and writes the index and exclusions.
    Used as a context manager, the temporary file is removed when an error escapes.

    With ``resume_key`` (a fingerprint of the inputs and settings: :func:`resume_key`)
    the build is resumable: the items go to ``images.npy.partial`` and every
    ``CHECKPOINT_ITEMS`` added or excluded items, and when an error (or a SIGTERM turned
    into one) escapes, the data are flushed and then a progress record
    (``images.npy.progress.json``: the key, the shape, the keys and exclusions so far) is
    written atomically beside it. A writer opened again with the same key continues
    after the recorded items (:attr:`done`); any other key, or a partial file that does
    not match its record, starts again with a log line saying why.
    """

    def __init__(
        self,
        out_dir: str | Path,
        capacity: int,
        item_shape: tuple[int, ...],
        resume_key: str | None = None,
    ) -> None:
        self.out_dir = Path(out_dir)
        self.keys: list[tuple[str, str, str]] = []
        self.excluded: list[tuple[str, str, str, str]] = []
        self.resume_key = resume_key
        shape = (max(capacity, 1), *item_shape)
        self._images = ExitStack()  # renames images.npy into place when closed
        if resume_key is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self.tmp = self.out_dir / (IMAGES + PARTIAL)
            self.record = self.out_dir / (IMAGES + PROGRESS)
            resumed = self._resumed(shape)
            self.array = self._fresh(shape) if resumed is None else resumed
            return
        self.tmp = self._images.enter_context(atomic_path(self.out_dir / IMAGES))
        try:
            self.array = open_uint8_memmap(self.tmp, shape, self.out_dir / IMAGES)
        except BaseException:
            self._images.__exit__(*sys.exc_info())  # removes the temporary file
            raise

    @property
    def done(self) -> int:
        """Items added or excluded so far (including those of an interrupted build)."""
        return len(self.keys) + len(self.excluded)

    def add(self, fid: str, iid: str, eye: str, item: np.ndarray) -> None:
        """Store one item (uint8, ``item_shape``) as the next row."""
        self.array[len(self.keys)] = item
        self.keys.append((fid, iid, eye))
        self._tick()

    def exclude(self, fid: str, iid: str, item: str, reason: str) -> None:
        """Record an input item that is not stored, and why."""
        self.excluded.append((fid, iid, item, reason))
        self._tick()

    def checkpoint(self) -> None:
        """Flush the items to disk, then record them (atomically): a killed build
        resumes from here."""
        self.array.flush()
        progress = {
            "key": self.resume_key,
            "shape": list(self.array.shape),
            "keys": self.keys,
            "excluded": self.excluded,
        }
        with atomic_open(self.record, "w") as handle:
            json.dump(progress, handle)

    def finish(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Write images, exclusions and index; return (index, exclusions)."""
        n = len(self.keys)
        self.array.flush()
        if n < len(self.array):
            self._trim(n)
        del self.array
        if self.resume_key is not None:
            self.tmp.replace(self.out_dir / IMAGES)
        self._images.close()
        exclusions = pd.DataFrame(self.excluded, columns=EXCLUSION_COLUMNS)
        write_tsv(exclusions, self.out_dir / EXCLUSIONS)
        index = pd.DataFrame(self.keys, columns=INDEX_COLUMNS[:3]).assign(row=np.arange(n))
        write_tsv(index, self.out_dir / INDEX)
        if self.resume_key is not None:
            self.record.unlink(missing_ok=True)
        log.info("%s: stored %d items, excluded %d", self.out_dir, n, len(exclusions))
        return index, exclusions

    def _tick(self) -> None:
        if self.resume_key is not None and self.done % CHECKPOINT_ITEMS == 0:
            self.checkpoint()

    def _fresh(self, shape: tuple[int, ...]) -> np.memmap:
        self.tmp.unlink(missing_ok=True)
        self.record.unlink(missing_ok=True)
        try:
            return open_uint8_memmap(self.tmp, shape, self.out_dir / IMAGES)
        except BaseException:
            self.tmp.unlink(missing_ok=True)  # nothing stored yet: nothing to resume
            raise

    def _resumed(self, shape: tuple[int, ...]) -> np.memmap | None:
        """The partial array of an interrupted build with this key, its keys and
        exclusions restored; None (and why, logged) when there is none to resume."""
        if not self.record.exists():
            if self.tmp.exists():
                log.info("%s: a partial store without a progress record: starting again", self.tmp)
            return None
        try:
            progress = json.loads(self.record.read_text())
            same = progress["key"] == self.resume_key and progress["shape"] == list(shape)
        except (OSError, ValueError, KeyError, TypeError) as err:
            log.info("%s: unreadable (%s): starting again", self.record, err)
            return None
        if not same:
            log.info(
                "%s: the inputs or settings changed since the interrupted build: starting again",
                self.out_dir,
            )
            return None
        try:
            array = np.lib.format.open_memmap(self.tmp, mode="r+")
        except (OSError, ValueError) as err:
            log.info("%s: unreadable (%s): starting again", self.tmp, err)
            return None
        if array.shape != shape or array.dtype != np.uint8:
            log.info("%s: shape %s, expected %s: starting again", self.tmp, array.shape, shape)
            return None
        self.keys = [tuple(k) for k in progress["keys"]]
        self.excluded = [tuple(e) for e in progress["excluded"]]
        log.info(
            "%s: resuming an interrupted build after %d items (%d stored, %d excluded)",
            self.out_dir,
            self.done,
            len(self.keys),
            len(self.excluded),
        )
        return array

    def _trim(self, n: int) -> None:
        """Copy the first ``n`` rows into a right-sized temporary array."""
        with atomic_path(self.tmp, ".trim") as trimmed_path:
            shape = (n, *self.array.shape[1:])
            trimmed = open_uint8_memmap(trimmed_path, shape, self.out_dir / IMAGES)
            for start in range(0, n, COPY_ROWS):
                stop = min(start + COPY_ROWS, n)
                trimmed[start:stop] = self.array[start:stop]
            trimmed.flush()
            del trimmed

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            return
        if self.resume_key is not None and "array" in self.__dict__:
            try:
                self.checkpoint()
            except Exception:  # the original error says more
                log.exception("%s: progress not recorded", self.out_dir)
            del self.array
            return
        self.__dict__.pop("array", None)
        self._images.__exit__(exc_type, exc, tb)


def resume_key(settings: Mapping[str, object], sources: Sequence[str | Path]) -> str:
    """Fingerprint of a resumable build: its ``settings`` (JSON-able: the items to
    make, in order, and how) and the identity (path, size, mtime) of every ``sources``
    file (a missing one counts as missing)."""
    stats = []
    for path in sources:
        try:
            st = os.stat(path)
            stats.append([str(path), st.st_size, st.st_mtime_ns])
        except OSError:
            stats.append([str(path), None, None])
    text = json.dumps({"settings": settings, "sources": stats}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def reason_kind(reason: str) -> str:
    """The kind of an exclusion reason: its text before the details (``:`` or `` (``),
    e.g. "malformed blow" for "malformed blow: sample 2 is not a number: 'x'"."""
    return re.split(r":| \(", reason, maxsplit=1)[0]


def check_kept(
    n_kept: int, n_total: int, min_fraction: float, exclusions: pd.DataFrame, source: Path
) -> None:
    """Stop when fewer than ``min_fraction`` of ``n_total`` input items were stored."""
    if n_kept > 0 and n_kept >= min_fraction * n_total:
        return
    top = exclusions["reason"].map(reason_kind).value_counts().head(3)
    reasons = "; ".join(f"{count} x {reason}" for reason, count in top.items())
    raise InputError(
        source,
        f"only {n_kept} of {n_total} items passed QC (min_kept_fraction = {min_fraction:g}); "
        f"most common reasons: {reasons or 'none'}",
        "repair the inputs or the paths in this file (exclusions.tsv next to the store "
        "lists every item and its reason), or lower min_kept_fraction",
    )


def read_index(path: str | Path) -> pd.DataFrame:
    """The store's index.tsv at ``path``: FID, IID, eye as text, row as int64."""
    index = pd.read_csv(
        path, sep="\t", dtype={"FID": str, "IID": str, "eye": str}, keep_default_na=False
    )
    return index.astype({"row": np.int64})


def read_exclusions(path: str | Path) -> pd.DataFrame:
    """The store's exclusions.tsv at ``path``: FID, IID, item, reason (text)."""
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)


def open_images(path: str | Path) -> np.ndarray:
    """The store's images.npy at ``path``, memory-mapped read-only: (n_items, C, H, W) uint8."""
    return np.load(path, mmap_mode="r")


class StoreRows:
    """Rows ``rows`` of a store's images.npy (all rows by default), read from the file
    only when asked, so that a store larger than RAM is never gathered whole.

    Reads are positional reads of the .npy's data in ascending row order (runs of
    consecutive rows in one read) written straight to each row's place in the output:
    what a memory map would read, without the mapped pages counting towards the job's
    resident memory (a memory-mapped store read once through is all resident)."""

    def __init__(self, path: str | Path, rows: np.ndarray | None = None) -> None:
        mapped = open_images(path)
        if not mapped.flags.c_contiguous:
            raise InputError(path, "images.npy is stored in Fortran order", "rebuild the store")
        self.path = Path(path)
        self.offset = mapped.offset
        self.item_shape: tuple[int, ...] = mapped.shape[1:]
        self.dtype = mapped.dtype
        n_stored = mapped.shape[0]
        del mapped
        self.rows = np.arange(n_stored) if rows is None else np.asarray(rows, np.int64)
        if len(self.rows) and (self.rows.min() < 0 or self.rows.max() >= n_stored):
            bad = self.rows[(self.rows < 0) | (self.rows >= n_stored)][0]
            raise InputError(
                self.path,
                f"the index names row {bad}, but the store holds {n_stored} rows",
                "rebuild the phenotype store (images.npy and index.tsv come from one run)",
            )

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.rows), *self.item_shape)

    @property
    def item_bytes(self) -> int:
        return int(np.prod(self.item_shape)) * self.dtype.itemsize

    @property
    def nbytes(self) -> int:
        return len(self.rows) * self.item_bytes

    def __len__(self) -> int:
        return len(self.rows)

    def subset(self, positions: np.ndarray) -> StoreRows:
        """The rows at ``positions`` of these rows (nothing is read)."""
        view = object.__new__(StoreRows)
        view.__dict__.update(self.__dict__, rows=self.rows[np.asarray(positions, np.int64)])
        return view

    def read(
        self, positions: np.ndarray | None = None, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Items at ``positions`` (all when None), in that order: ``out[k]`` = item
        ``positions[k]`` (``out``: C-contiguous, e.g. a pinned host buffer)."""
        rows = self.rows if positions is None else self.rows[np.asarray(positions, np.int64)]
        n = len(rows)
        if out is None:
            out = np.empty((n, *self.item_shape), self.dtype)
        assert out.shape == (n, *self.item_shape) and out.flags.c_contiguous, out.shape
        flat = out.reshape(n, -1).view(np.uint8)
        order = np.argsort(rows, kind="stable")  # ascending reads
        src = rows[order]
        # a run: consecutive store rows that go to consecutive output rows (one read)
        cut = np.flatnonzero((np.diff(src) != 1) | (np.diff(order) != 1)) + 1
        starts, stops = np.r_[0, cut], np.r_[cut, n]
        size = self.item_bytes
        with open(self.path, "rb", buffering=0) as handle:
            for start, stop in zip(starts[:n], stops[:n], strict=True):
                handle.seek(self.offset + int(src[start]) * size)
                target = memoryview(flat[order[start] : order[start] + stop - start]).cast("B")
                if not _read_fully(handle, target):
                    raise InputError(
                        self.path,
                        f"the file ends before row {int(src[stop - 1])}",
                        "rebuild the phenotype store (the file is truncated)",
                    )
        return out


def _read_fully(handle: BinaryIO, target: memoryview) -> bool:
    """Fill ``target`` from ``handle`` (one read returns at most ~2 GB on Linux); False
    when the file ends first."""
    done = 0
    while done < len(target):
        got = handle.readinto(target[done:])
        if not got:
            return False
        done += got
    return True
