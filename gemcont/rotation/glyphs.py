"""28 x 28 grayscale glyphs for the rotation simulation (paper Fig. 2).

Base glyphs come from one of two sources:

* fonts (the default, offline): every character of ``characters`` rendered upright with
  Pillow at every font size and stroke width of the settings, centred on its ink box.
  With no font files configured the font is Pillow's built-in scalable one
  (``ImageFont.load_default(size=...)``, Pillow >= 10.1 with FreeType), so no font needs
  to be installed; TrueType/OpenType files can be added.
* an EMNIST file supplied by the user: the images of an IDX file (``*-images-idx3-ubyte``,
  optionally gzipped) as distributed by NIST, transposed to upright by default.

Each person then gets one random base glyph, a random sub-pixel shift and scale jitter
(the nuisance variation a handwriting data set has), and the rotation the simulation
assigns; the shift, scale and rotation are one bilinear affine warp (torch
``grid_sample`` on CPU, chunked), the result rounded to uint8. Everything is determined
by the numpy generator passed in.
"""

from __future__ import annotations

import gzip
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gemcont.errors import ConfigError, InputError

SIZE = 28
IDX_UBYTE = 0x08  # IDX data type code of unsigned bytes
WARP_CHUNK = 8192


@dataclass(frozen=True)
class GlyphSettings:
    """``rotation.glyphs``: where base glyphs come from (``source`` fonts or emnist; no
    ``fonts`` means Pillow's built-in font) and how much nuisance variation each person
    gets (a shift uniform in +- ``max_shift`` pixels per axis, a scale uniform in
    1 +- ``scale_jitter``)."""

    source: str
    characters: str
    fonts: Sequence[str]
    font_sizes: Sequence[int]
    stroke_widths: Sequence[int]
    max_shift: float
    scale_jitter: float
    emnist_path: str | None
    emnist_transpose: bool


@dataclass
class GlyphBank:
    """Upright base glyphs (K x 28 x 28 float32 in [0, 1]) and what each one is."""

    images: np.ndarray
    labels: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.images)


# ---------------------------------------------------------------- fonts


def load_font(path: str | None, size: int):  # -> PIL.ImageFont.FreeTypeFont
    """A font of ``size`` pixels: the file at ``path``, or Pillow's built-in font."""
    from PIL import ImageFont

    if path is not None:
        try:
            return ImageFont.truetype(str(path), size)
        except OSError as err:
            raise InputError(
                path, f"cannot load the font ({err})", "give a .ttf/.otf file"
            ) from err
    font = ImageFont.load_default(size=size)
    if not isinstance(font, ImageFont.FreeTypeFont):
        raise ConfigError(
            "rotation.glyphs.fonts",
            "Pillow's built-in font is not scalable here (Pillow < 10.1 or no FreeType); "
            "install Pillow >= 10.1 or list a .ttf file",
        )
    return font


def render_glyph(char: str, font, stroke_width: int = 0, size: int = SIZE) -> np.ndarray:
    """One upright glyph, white on black, its ink box centred: size x size float32 in [0, 1]."""
    from PIL import Image, ImageDraw

    canvas = Image.new("L", (2 * size, 2 * size), 0)
    draw = ImageDraw.Draw(canvas)
    draw.text(
        (size, size),
        char,
        fill=255,
        font=font,
        anchor="mm",
        stroke_width=stroke_width,
        stroke_fill=255,
    )
    ink = np.asarray(canvas, dtype=np.float32) / 255.0
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if rows.size == 0:
        raise ConfigError("rotation.glyphs.characters", f"character {char!r} renders empty")
    cy, cx = (rows[0] + rows[-1] + 1) / 2, (cols[0] + cols[-1] + 1) / 2
    top, left = int(round(cy - size / 2)), int(round(cx - size / 2))
    padded = np.pad(ink, size)
    return padded[top + size : top + 2 * size, left + size : left + 2 * size].copy()


def font_bank(settings: GlyphSettings) -> GlyphBank:
    """Every character x font x size x stroke width, rendered upright."""
    if not settings.characters:
        raise ConfigError("rotation.glyphs.characters", "is empty")
    images, labels = [], []
    for path in list(settings.fonts) or [None]:
        for size in settings.font_sizes:
            font = load_font(path, int(size))
            for stroke in settings.stroke_widths:
                for char in settings.characters:
                    images.append(render_glyph(char, font, int(stroke)))
                    labels.append(
                        f"{char}|{Path(path).name if path else 'builtin'}|{size}|{stroke}"
                    )
    return GlyphBank(np.stack(images), labels)


# ---------------------------------------------------------------- EMNIST


def read_idx_images(path: str | Path) -> np.ndarray:
    """The images of an IDX file (magic 0x00000803, unsigned bytes), gzipped or not:
    N x rows x cols uint8."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            head = fh.read(4)
            if len(head) < 4 or head[:2] != b"\0\0" or head[2] != IDX_UBYTE:
                raise InputError(
                    path, "not an IDX file of unsigned bytes", "give *-images-idx3-ubyte(.gz)"
                )
            ndim = head[3]
            if ndim != 3:
                raise InputError(
                    path,
                    f"IDX file has {ndim} dimensions, images need 3",
                    "give the images file, not the labels file",
                )
            shape = struct.unpack(">3I", fh.read(12))
            data = np.frombuffer(fh.read(), dtype=np.uint8)
    except (OSError, EOFError, struct.error) as err:
        raise InputError(path, f"cannot read ({err})", "check the file") from err
    if data.size != int(np.prod(shape)):
        raise InputError(
            path, f"holds {data.size} bytes, header says {shape}", "the file is truncated"
        )
    return data.reshape(shape)


def emnist_bank(settings: GlyphSettings) -> GlyphBank:
    """The images of the user's EMNIST IDX file as base glyphs (upright when transposed)."""
    if not settings.emnist_path:
        raise ConfigError("rotation.glyphs.emnist_path", "is needed when source is 'emnist'")
    images = read_idx_images(settings.emnist_path)
    if images.shape[1:] != (SIZE, SIZE):
        raise InputError(
            settings.emnist_path, f"images are {images.shape[1:]}, not 28 x 28", "use EMNIST"
        )
    if settings.emnist_transpose:
        images = images.transpose(0, 2, 1)
    return GlyphBank(images.astype(np.float32) / 255.0, [f"emnist|{i}" for i in range(len(images))])


def glyph_bank(settings: GlyphSettings) -> GlyphBank:
    """The base glyphs of ``settings.source``."""
    if settings.source == "fonts":
        return font_bank(settings)
    if settings.source == "emnist":
        return emnist_bank(settings)
    raise ConfigError(
        "rotation.glyphs.source", f"unknown source '{settings.source}' (fonts, emnist)"
    )


# ---------------------------------------------------------------- people


def warp(
    base: np.ndarray, angle_deg: np.ndarray, shift: np.ndarray, scale: np.ndarray
) -> np.ndarray:
    """Rotate each image counter-clockwise (as displayed, rows down) by ``angle_deg`` about
    its centre, scale it by ``scale`` and move it by ``shift`` (x, y pixels), bilinear:
    n x 28 x 28 float -> n x 28 x 28 float32 (zeros outside)."""
    import torch
    import torch.nn.functional as F

    n, h, w = base.shape
    out = np.empty((n, h, w), np.float32)
    for start in range(0, n, WARP_CHUNK):
        sl = slice(start, start + WARP_CHUNK)
        a = torch.as_tensor(np.deg2rad(angle_deg[sl]), dtype=torch.float64)
        s = torch.as_tensor(scale[sl], dtype=torch.float64)
        t = torch.as_tensor(shift[sl], dtype=torch.float64)
        cos, sin = a.cos() / s, a.sin() / s
        # output (x, y) in normalised coordinates -> input: inverse rotation and scale;
        # y points down, so an on-screen counter-clockwise turn is R(-a) in (x, y)
        tx, ty = 2 * t[:, 0] / w, 2 * t[:, 1] / h
        theta = torch.stack(
            [
                torch.stack([cos, -sin, -(cos * tx - sin * ty)], 1),
                torch.stack([sin, cos, -(sin * tx + cos * ty)], 1),
            ],
            1,
        ).float()
        x = torch.as_tensor(np.ascontiguousarray(base[sl], np.float32))[:, None]
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        y = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        out[sl] = y[:, 0].numpy()
    return out


def to_uint8(images: np.ndarray) -> np.ndarray:
    """[0, 1] floats -> uint8 (rounded, clipped)."""
    return np.clip(np.rint(images * 255.0), 0, 255).astype(np.uint8)


def render_people(
    bank: GlyphBank, angle_deg: np.ndarray, settings: GlyphSettings, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """One glyph per angle: a random base glyph, shift and scale, rotated by the angle.

    Returns (images n x 1 x 28 x 28 uint8, base glyph index per person). The draws come
    from ``rng`` in a fixed order and do not depend on the angles, so the same generator
    state gives the same people at any rotation strength.
    """
    n = len(angle_deg)
    which = rng.integers(0, len(bank), n)
    shift = rng.uniform(-settings.max_shift, settings.max_shift, (n, 2))
    scale = rng.uniform(1 - settings.scale_jitter, 1 + settings.scale_jitter, n)
    images = warp(bank.images[which], np.asarray(angle_deg, np.float64), shift, scale)
    return to_uint8(images)[:, None], which
