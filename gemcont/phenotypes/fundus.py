"""Fundus photographs -> the phenotype store: (n_images, 3, S, S) uint8, one row per eye.

Input is a manifest TSV with columns FID (optional: taken from the .fam by IID when
absent), IID, eye and path; a relative path is relative to the manifest's directory.
Each image is decoded with PIL, converted to RGB and cropped to its field of view:

1. pixels whose brightest channel exceeds ``threshold`` (0..255) are "lit";
2. rows and columns holding at least ``EDGE_FRACTION`` of the largest per-row/column
   count of lit pixels bound the field of view (so stray lit pixels such as text labels
   in the black border do not widen it, while the round field keeps all but its
   extreme edge);
3. that box is padded with black to a square centred on it, then resized to
   ``image_size`` pixels (bilinear with antialiasing).

An image that is missing, empty, unreadable, truncated or all black is excluded with
its reason (``exclusions.tsv``); the run stops only when fewer than
``min_kept_fraction`` of the manifest's images remain.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from gemcont.io.ids import KEY, dropped_rows, read_keyed_table
from gemcont.parallel import pool_context
from gemcont.phenotypes.store import StoreWriter, check_kept

log = logging.getLogger(__name__)

EDGE_FRACTION = 0.05
"""A row/column is inside the field of view when its lit count is >= this x the largest."""

MANIFEST = "fundus manifest"


class ExcludedImage(Exception):
    """An image that cannot be used; the message is the reason."""


def field_of_view(rgb: np.ndarray, threshold: int) -> tuple[int, int, int, int]:
    """Bounding box (left, top, right, bottom; right/bottom exclusive) of the lit field."""
    lit = rgb.max(axis=2) > threshold
    rows, cols = lit.sum(axis=1), lit.sum(axis=0)
    if rows.max(initial=0) == 0:
        raise ExcludedImage(f"all black (no pixel brighter than {threshold})")
    ys = np.flatnonzero(rows >= EDGE_FRACTION * rows.max())
    xs = np.flatnonzero(cols >= EDGE_FRACTION * cols.max())
    return int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1


def square_crop(image: Image.Image, box: tuple[int, int, int, int]) -> Image.Image:
    """The smallest square centred on ``box`` that contains it (black outside the image)."""
    left, top, right, bottom = box
    side = max(right - left, bottom - top)
    x0 = (left + right - side) // 2
    y0 = (top + bottom - side) // 2
    return image.crop((x0, y0, x0 + side, y0 + side))


def preprocess_image(path: Path, image_size: int, threshold: int) -> np.ndarray:
    """Decode, crop to the field of view and resize one image: (3, S, S) uint8.

    Raises :class:`ExcludedImage` with the reason when the file cannot be used.
    """
    if not path.is_file():
        raise ExcludedImage("file not found")
    if path.stat().st_size == 0:
        raise ExcludedImage("empty file (0 bytes)")
    try:
        with Image.open(path) as im:
            im.draft("RGB", (2 * image_size, 2 * image_size))
            rgb = im.convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise ExcludedImage(f"unreadable image ({type(err).__name__}: {err})") from None
    box = field_of_view(np.asarray(rgb), threshold)
    square = square_crop(rgb, box)
    resized = square.resize((image_size, image_size), Image.Resampling.BILINEAR)
    return np.ascontiguousarray(np.asarray(resized).transpose(2, 0, 1))


def _worker(args: tuple[str, int, int]) -> np.ndarray | str:
    """Pool task: the preprocessed image, or the reason it is excluded."""
    path, image_size, threshold = args
    try:
        return preprocess_image(Path(path), image_size, threshold)
    except ExcludedImage as err:
        return str(err)


def read_manifest(path: str | Path, fam: pd.DataFrame | None = None) -> pd.DataFrame:
    """The manifest (FID IID eye path, text; ``path`` made absolute).

    Rows with a missing value, or whose IID is not in ``fam`` when the manifest has no
    FID column, are left out and listed in ``attrs["dropped"]`` (FID IID step reason).
    """
    path = Path(path)
    manifest = read_keyed_table(
        path, ["eye", "path"], [], MANIFEST, fam=fam, unique_by=[*KEY, "eye"]
    )
    manifest["path"] = [str(path.parent / p) for p in manifest["path"]]
    return manifest


def build_fundus_store(
    manifest_path: str | Path,
    out_dir: str | Path,
    image_size: int = 224,
    threshold: int = 10,
    min_kept_fraction: float = 0.5,
    threads: int = 1,
    fam: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Preprocess every image of the manifest into the store at ``out_dir``.

    Items keep the manifest's order; returns the store index (FID IID eye row). Raises
    :class:`gemcont.errors.InputError` when fewer than ``min_kept_fraction`` remain.
    """
    manifest_path = Path(manifest_path)
    manifest = read_manifest(manifest_path, fam)
    dropped = dropped_rows(manifest)
    n_total = len(manifest) + len(dropped)
    tasks = [(p, image_size, threshold) for p in manifest["path"]]
    with StoreWriter(out_dir, len(manifest), (3, image_size, image_size)) as writer:
        for fid, iid, reason in dropped[[*KEY, "reason"]].itertuples(index=False):
            writer.exclude(fid, iid, "manifest row", reason)
        keys = manifest[[*KEY, "eye", "path"]].itertuples(index=False)
        for (fid, iid, eye, path), result in zip(keys, _run(tasks, threads), strict=True):
            if isinstance(result, str):
                writer.exclude(fid, iid, path, result)
            else:
                writer.add(fid, iid, eye, result)
        index, exclusions = writer.finish()
    check_kept(len(index), n_total, min_kept_fraction, exclusions, manifest_path)
    return index


def _run(tasks: list[tuple[str, int, int]], threads: int) -> Iterator[np.ndarray | str]:
    """Results of :func:`_worker` in task order, on a process pool when ``threads > 1``."""
    if threads <= 1 or len(tasks) < 2:
        yield from map(_worker, tasks)
        return
    chunk = max(1, min(64, len(tasks) // (threads * 16)))
    with pool_context().Pool(min(threads, len(tasks))) as pool:
        yield from pool.imap(_worker, tasks, chunksize=chunk)
