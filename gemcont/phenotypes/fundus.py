"""Fundus photographs -> the phenotype store: (n_images, 3, S, S) uint8, one row per eye.

Input is a manifest TSV with columns FID (optional: taken from the .fam by IID when
absent), IID, eye and path; a relative path is relative to the manifest's directory.
Eye labels are normalised, whatever their case, to "left" (``left``, ``L``, ``OS``) or
"right" (``right``, ``R``, ``OD``); any other label, or one eye listed twice for a person
under two spellings, stops with the manifest's path and the row.

Each image is decoded with PIL and converted to 8-bit RGB (:func:`to_rgb`):

* 16-bit grayscale (PNG ``I;16``) is scaled by its bit depth to 0..255: by the PNG's
  ``sBIT`` chunk when it declares the significant bits, else as 16-bit data (divided by
  257) -- unless no value exceeds 4095, which is taken as 12-bit data stored in 16 bits
  (a camera's 12-bit sensor; a true 16-bit photograph whose brightest pixel is below
  1/16 of the range is not a usable exposure); the depth used is logged;
* an image with transparency (RGBA, LA, a palette or grayscale with a transparent
  colour) is composited on black, the fundus background, so a transparent border
  counts as black whatever colour it holds;
* palette, grayscale, CMYK and other 8-bit modes are converted by PIL; a floating-point
  or 32-bit image is excluded with its mode named.

The RGB image is then cropped to its field of view:

1. pixels whose brightest channel exceeds ``threshold`` (0..255) are "lit";
2. rows and columns holding at least ``EDGE_FRACTION`` of the largest per-row/column
   count of lit pixels bound the field of view (so stray lit pixels such as text labels
   in the black border do not widen it, while the round field keeps all but its
   extreme edge);
3. that box is padded with black to a square centred on it, then resized to
   ``image_size`` pixels (bilinear with antialiasing).

An image that is missing, empty, unreadable, truncated or all black is excluded with
its reason (``exclusions.tsv``); the run stops only when fewer than
``min_kept_fraction`` of the manifest's images remain. Images of withdrawn participants
(:func:`gemcont.io.withdrawn.store_reasons`: a negative IID, or listed in
``data.exclude``) are never opened: they are listed with that reason and do not count
towards ``min_kept_fraction``.

The build resumes where a killed run stopped (a SLURM time limit): the store writer
records its progress every ``CHECKPOINT_ITEMS`` images and on SIGTERM, and a rerun with
the same manifest, images (path, size, mtime), withdrawals, settings and preprocessing
(:func:`preprocessing_version`) skips the images already stored; anything changed
starts the store again, with a log line (:class:`gemcont.phenotypes.store.StoreWriter`).
"""

from __future__ import annotations

import hashlib
import logging
import signal
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import PIL
from PIL import Image

from gemcont.errors import InputError
from gemcont.io.ids import KEY, dropped_rows, read_keyed_table
from gemcont.io.withdrawn import store_reasons
from gemcont.parallel import process_pool
from gemcont.phenotypes.store import StoreWriter, check_kept, resume_key

log = logging.getLogger(__name__)

EDGE_FRACTION = 0.05
"""A row/column is inside the field of view when its lit count is >= this x the largest."""

MANIFEST = "fundus manifest"

EYE_LABELS = {
    **dict.fromkeys(("left", "l", "os"), "left"),
    **dict.fromkeys(("right", "r", "od"), "right"),
}
"""Accepted eye labels (lower-cased) and the label stored for each."""

SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
TWELVE_BIT_MAX = 4095


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


def png_significant_bits(path: Path) -> int | None:
    """The grey-level significant bits a PNG declares in its ``sBIT`` chunk (None if none)."""
    with open(path, "rb") as handle:
        if handle.read(8) != b"\x89PNG\r\n\x1a\n":
            return None
        while header := handle.read(8):
            if len(header) < 8:
                return None
            length, kind = struct.unpack(">I4s", header)
            if kind == b"sBIT":
                data = handle.read(length)
                return data[0] if data else None
            if kind in (b"IDAT", b"IEND"):
                return None
            handle.seek(length + 4, 1)  # data and CRC
    return None


def _scale_16_bit(im: Image.Image, path: Path) -> np.ndarray:
    """A 16-bit grayscale image as (H, W, 3) uint8, scaled by its bit depth."""
    values = np.asarray(im).astype(np.int64)
    top = int(values.max(initial=0))
    if top > 0xFFFF or values.min(initial=0) < 0:
        raise ExcludedImage(f"{im.mode} image with values outside 0..65535 (not 16-bit)")
    bits = png_significant_bits(path) if im.format == "PNG" else None
    if bits is None or top >= 1 << bits:  # no (or a wrong) sBIT: judge by the values
        bits = 12 if top <= TWELVE_BIT_MAX else 16
    full = (1 << bits) - 1
    log.debug("%s: %s image scaled as %d-bit data", path, im.mode, bits)
    grey = ((values * 255 + full // 2) // full).astype(np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=2)


def to_rgb(im: Image.Image, path: Path) -> np.ndarray:
    """An opened image as (H, W, 3) uint8 RGB: 16-bit data scaled, transparency
    composited on black (see the module docstring)."""
    if im.mode in SIXTEEN_BIT_MODES:
        return _scale_16_bit(im, path)
    if im.mode == "F" or im.mode.startswith("I;"):
        raise ExcludedImage(f"unsupported pixel format {im.mode} (store 8- or 16-bit images)")
    if im.has_transparency_data:
        rgba = np.asarray(im.convert("RGBA")).astype(np.uint16)
        alpha = rgba[:, :, 3:]
        return ((rgba[:, :, :3] * alpha + 127) // 255).astype(np.uint8)
    return np.asarray(im.convert("RGB"))


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
            pixels = to_rgb(im, path)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise ExcludedImage(f"unreadable image ({type(err).__name__}: {err})") from None
    box = field_of_view(pixels, threshold)
    square = square_crop(Image.fromarray(pixels), box)
    resized = square.resize((image_size, image_size), Image.Resampling.BILINEAR)
    return np.ascontiguousarray(np.asarray(resized).transpose(2, 0, 1))


def preprocessing_version() -> str:
    """What else decides a stored image's bytes: this module's code (decoding, 16-bit
    scaling, cropping) and the PIL and numpy releases (resampling), so that a resumed
    build never mixes images preprocessed two ways."""
    code = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    return f"{code} PIL {PIL.__version__} numpy {np.__version__}"


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
    manifest["eye"] = normalise_eyes(manifest, path)
    return manifest


def normalise_eyes(manifest: pd.DataFrame, path: Path) -> pd.Series:
    """The manifest's eye labels as "left" / "right" (:data:`EYE_LABELS`, any case).

    Raises :class:`gemcont.errors.InputError` naming the row for an unknown label, and
    the person for one eye listed twice under two spellings (``left`` and ``LEFT``).
    """
    eyes = manifest["eye"].str.strip().str.lower().map(EYE_LABELS)
    unknown = eyes.isna()
    if unknown.any():
        row = manifest[unknown].iloc[0]
        raise InputError(
            path,
            f"unknown eye label {row['eye']!r} ({int(unknown.sum())} row(s) in all)",
            "label each image's eye left (or L, OS) or right (or R, OD), in any case",
            record=f"IID {row['IID']}, path {row['path']}",
        )
    twice = manifest.assign(eye=eyes).duplicated([*KEY, "eye"], keep=False)
    if twice.any():
        rows = manifest[twice]
        first = rows[rows["IID"] == rows["IID"].iloc[0]]
        labels = " and ".join(repr(e) for e in first["eye"])
        raise InputError(
            path,
            f"the {eyes[twice].iloc[0]} eye is listed twice, as {labels} "
            f"({', '.join(first['path'])})",
            "keep one row per person and eye (left/L/OS and right/R/OD name the same eye "
            "in any case)",
            record=f"IID {first['IID'].iloc[0]}",
        )
    return eyes


def build_fundus_store(
    manifest_path: str | Path,
    out_dir: str | Path,
    image_size: int = 224,
    threshold: int = 10,
    min_kept_fraction: float = 0.5,
    threads: int = 1,
    fam: pd.DataFrame | None = None,
    exclude: str | Path | None = None,
) -> pd.DataFrame:
    """Preprocess every image of the manifest into the store at ``out_dir``, but those of
    withdrawn participants (``exclude``: the withdrawal list, data.exclude).

    Items keep the manifest's order; returns the store index (FID IID eye row). Raises
    :class:`gemcont.errors.InputError` when fewer than ``min_kept_fraction`` remain.
    """
    manifest_path = Path(manifest_path)
    manifest = read_manifest(manifest_path, fam)
    dropped = dropped_rows(manifest)
    where = f"the {MANIFEST} {manifest_path}"
    reasons = store_reasons(
        pd.concat([manifest[KEY], dropped[KEY]], ignore_index=True), exclude, where
    )
    gone = pd.Series(reasons.to_numpy()[: len(manifest)], index=manifest.index)
    gone_dropped = pd.Series(reasons.to_numpy()[len(manifest) :], index=dropped.index)
    withdrawn = manifest[gone != ""].assign(reason=gone[gone != ""])
    manifest = manifest[gone == ""].reset_index(drop=True)
    dropped = dropped.assign(reason=gone_dropped.where(gone_dropped != "", dropped["reason"]))
    n_total = len(manifest) + int((gone_dropped == "").sum())
    n_gone = len(withdrawn) + int((gone_dropped != "").sum())
    if n_gone:
        log.warning("%s: %d rows of withdrawn participants left out unread", manifest_path, n_gone)
    upfront = [
        (fid, iid, "manifest row", why) for fid, iid, why in dropped[[*KEY, "reason"]].values
    ]
    upfront += [tuple(row) for row in withdrawn[[*KEY, "path", "reason"]].values]
    keys = [tuple(row) for row in manifest[[*KEY, "eye", "path"]].values]
    settings = {"image_size": image_size, "threshold": threshold, "upfront": upfront}
    settings["preprocessing"] = preprocessing_version()
    key = resume_key({**settings, "images": keys}, [manifest_path, *manifest["path"]])
    shape = (3, image_size, image_size)
    with StoreWriter(out_dir, len(manifest), shape, key) as writer, _sigterm_as_exit():
        for excluded in upfront[writer.done :]:
            writer.exclude(*excluded)
        skip = max(0, writer.done - len(upfront))  # images an interrupted build stored
        tasks = [(p, image_size, threshold) for p in manifest["path"].iloc[skip:]]
        for (fid, iid, eye, path), result in zip(keys[skip:], _run(tasks, threads), strict=True):
            if isinstance(result, str):
                writer.exclude(fid, iid, path, result)
            else:
                writer.add(fid, iid, eye, result)
        index, exclusions = writer.finish()
    check_kept(len(index), n_total, min_kept_fraction, exclusions, manifest_path)
    return index


@contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """SIGTERM (a SLURM time limit, scancel) raises SystemExit in the main thread while
    the block runs, so the store writer records its progress before the job ends."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(tasks: list[tuple[str, int, int]], threads: int) -> Iterator[np.ndarray | str]:
    """Results of :func:`_worker` in task order, on a process pool when ``threads > 1``."""
    if threads <= 1 or len(tasks) < 2:
        yield from map(_worker, tasks)
        return
    chunk = max(1, min(64, len(tasks) // (threads * 16)))
    with process_pool(min(threads, len(tasks))) as pool:
        yield from pool.imap(_worker, tasks, chunksize=chunk)
