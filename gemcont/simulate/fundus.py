"""Simulated colour fundus photographs for a simulated biobank cohort.

Each person carries three standardised latent traits (``latent_0..2``, genetically
influenced). :func:`latent_to_anatomy` maps them to optic-nerve-head / vessel anatomy,
:func:`render_fundus` draws one fundus-like RGB photograph of that anatomy (plus
non-genetic acquisition nuisance), and :func:`simulate_fundus` renders a whole cohort to
JPEG files together with a noisy clinical marker (the graded cup-to-disc ratio).

Image conventions (as in a clinical fundus photograph seen from the front):

* the right eye ("right", OD) has its optic disc on the right of the image (nasal side),
  the left eye ("left", OS) on the left; the macula lies on the temporal side;
* a circular field of view (radius 0.47 * size) on a black background.

Determinism: person ``i`` (row position in ``people``) uses
``np.random.default_rng([seed, i])`` for everything about that person, so files and tables
are byte-identical for any ``threads``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFilter

from gemcont.errors import InputError
from gemcont.io.atomic import atomic_path
from gemcont.parallel import process_pool
from gemcont.simulate.people import require_columns

EYES: tuple[str, str] = ("left", "right")
JPEG_QUALITY = 92
MAX_SHEET_IMAGES = 16

# latent -> anatomy (see latent_to_anatomy)
CDR_BASE = 0.35
CDR_PER_SD = 0.09
CDR_PER_YEAR_OVER_55 = 0.002
CDR_RANGE = (0.1, 0.85)
CALIBRE_PER_SD = 0.15
CALIBRE_RANGE = (0.5, 2.0)
PALLOR_BASE = 0.5
PALLOR_PER_SD = 0.15
PALLOR_RANGE = (0.0, 1.0)

# per-eye deviations around the person-level anatomy
EYE_CDR_SD = 0.02
EYE_CALIBRE_LOG_SD = 0.03
EYE_PALLOR_SD = 0.04

REQUIRED_COLUMNS = ("FID", "IID", "age", "latent_0", "latent_1", "latent_2")

# geometry in units of the field-of-view radius, canonical (right-eye) orientation:
# +x = nasal (image right for the right eye), +y = down.
_FOV_FRACTION = 0.47
_DISC_XY = (0.42, -0.03)
_DISC_RADIUS = 0.165
_FOVEA_XY = (-0.22, 0.04)
_SUPERSAMPLE = 2

# colours (RGB, 0..255)
_RETINA = np.array([214.0, 92.0, 38.0], np.float32)
_RETINA_EDGE = np.array([120.0, 38.0, 14.0], np.float32)
_MACULA = np.array([130.0, 45.0, 20.0], np.float32)
_RIM_PINK = np.array([238.0, 150.0, 80.0], np.float32)
_RIM_PALE = np.array([248.0, 205.0, 140.0], np.float32)
_CUP = np.array([255.0, 250.0, 232.0], np.float32)
_VEIN = np.array([105.0, 18.0, 12.0], np.float32)
_ARTERY = np.array([160.0, 38.0, 20.0], np.float32)


@dataclass(frozen=True)
class FundusAnatomy:
    """Per-eye anatomy derived from the latent traits.

    cdr: vertical cup-to-disc ratio (cup radius = cdr * disc radius).
    vessel_calibre: multiplier on all vessel widths (1 = average).
    disc_pallor: 0 (pink, healthy-looking rim) .. 1 (pale, whitish rim).
    """

    cdr: float
    vessel_calibre: float
    disc_pallor: float


def latent_to_anatomy(latent: np.ndarray, age: float) -> FundusAnatomy:
    """Map a person's standardised latent traits (shape (3,)) and age to anatomy.

    * ``cdr = clip(0.35 + 0.09*latent_0 + 0.002*max(age - 55, 0), 0.1, 0.85)``
    * ``vessel_calibre = clip(exp(0.15*latent_1), 0.5, 2.0)``
    * ``disc_pallor = clip(0.5 + 0.15*latent_2, 0, 1)``
    """
    lat = np.asarray(latent, dtype=float).reshape(-1)
    if lat.shape != (3,):
        raise ValueError(f"latent must have shape (3,), got {np.shape(latent)}")
    if not np.all(np.isfinite(lat)) or not np.isfinite(age):
        raise ValueError(f"latent and age must be finite, got {lat.tolist()} and {age}")
    cdr = CDR_BASE + CDR_PER_SD * lat[0] + CDR_PER_YEAR_OVER_55 * max(float(age) - 55.0, 0.0)
    calibre = np.exp(CALIBRE_PER_SD * lat[1])
    pallor = PALLOR_BASE + PALLOR_PER_SD * lat[2]
    return FundusAnatomy(
        cdr=float(np.clip(cdr, *CDR_RANGE)),
        vessel_calibre=float(np.clip(calibre, *CALIBRE_RANGE)),
        disc_pallor=float(np.clip(pallor, *PALLOR_RANGE)),
    )


def _eye_anatomy(person: FundusAnatomy, rng: np.random.Generator) -> FundusAnatomy:
    """Small independent per-eye deviation around the person-level anatomy."""
    return FundusAnatomy(
        cdr=float(np.clip(person.cdr + rng.normal(0.0, EYE_CDR_SD), *CDR_RANGE)),
        vessel_calibre=float(
            np.clip(person.vessel_calibre * np.exp(rng.normal(0.0, EYE_CALIBRE_LOG_SD)), 0.4, 2.5)
        ),
        disc_pallor=float(np.clip(person.disc_pallor + rng.normal(0.0, EYE_PALLOR_SD), 0, 1)),
    )


# ---------------------------------------------------------------------------- rendering


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Zero-mean, unit-ish smooth noise field: a cells x cells grid upsampled bicubically."""
    small = rng.standard_normal((cells, cells)).astype(np.float32)
    return np.asarray(Image.fromarray(small, mode="F").resize((size, size), Image.BICUBIC))


def _vessel_path(
    start: np.ndarray,
    heading: float,
    turn: float,
    decay: float,
    length: float,
    n: int,
    wiggle: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Points (n+1, 2) of a smooth curve.

    The heading integrates a turn rate ``turn * exp(-s / decay)`` (s = arc length, so the
    curve bends most near its origin, like the retinal arcades) plus a smoothed random
    wiggle.
    """
    step = length / n
    s = (np.arange(n) + 0.5) * step
    noise = np.convolve(rng.standard_normal(n + 4), np.full(5, 0.2), mode="valid")
    headings = heading + np.cumsum(turn * np.exp(-s / decay) * step + wiggle * noise * step**0.5)
    steps = step * np.column_stack([np.cos(headings), np.sin(headings)])
    return np.vstack([start, start + np.cumsum(steps, axis=0)])


# main vessels in canonical orientation (+x nasal, +y down):
# (initial heading [rad], turn rate [rad per FOV radius], turn decay length, length)
_MAIN_VESSELS = (
    (-1.75, -3.0, 0.5, 1.30),  # superior temporal arcade: up, then arching temporally
    (1.75, 3.0, 0.5, 1.30),  # inferior temporal arcade
    (-1.20, 0.8, 1.0, 0.60),  # superior nasal
    (1.20, -0.8, 1.0, 0.60),  # inferior nasal
)
_MAIN_SEGMENTS = 14
_BRANCH_SEGMENTS = 7


def _vessel_tree(
    calibre: float, disc: np.ndarray, disc_r: float, rng: np.random.Generator
) -> list[tuple[np.ndarray, float, float, bool]]:
    """Vessels as (points, start width, end width, is_vein) in FOV-radius units.

    Canonical orientation (disc nasal at +x): superior/inferior temporal arcades arch
    around the macula, shorter vessels fan out nasally; each main vessel is a vein/artery
    pair with one or two branches; two thin twigs run towards the macula.
    """
    vessels: list[tuple[np.ndarray, float, float, bool]] = []
    base_w = 0.030 * calibre
    n = _MAIN_SEGMENTS
    for heading, turn, decay, length in _MAIN_VESSELS:
        for is_vein in (True, False):
            offset = (0.15 if is_vein else -0.15) * np.sign(turn)
            h = heading + offset + rng.normal(0.0, 0.1)
            t = turn * (1.0 + rng.normal(0.0, 0.1)) * (0.92 if is_vein else 1.08)
            ln = length * (1.0 + rng.normal(0.0, 0.08))
            start = disc + rng.normal(0.0, 0.15 * disc_r, 2)
            w0 = base_w * (1.0 if is_vein else 0.75)
            pts = _vessel_path(start, h, t, decay, ln, n, 0.3, rng)
            vessels.append((pts, w0, 0.35 * w0, is_vein))
            for _ in range(1 + int(rng.random() < 0.6)):
                k = int(rng.integers(3, n - 3))
                seg = pts[k + 1] - pts[k]
                side = 1.0 if rng.random() < 0.5 else -1.0
                bh = float(np.arctan2(seg[1], seg[0])) + side * rng.uniform(0.5, 0.9)
                bw = w0 * (1.0 - 0.65 * k / n) * 0.75
                bpts = _vessel_path(
                    pts[k],
                    bh,
                    -side * rng.uniform(0.0, 1.2),
                    1.0,
                    ln * rng.uniform(0.3, 0.5),
                    _BRANCH_SEGMENTS,
                    0.4,
                    rng,
                )
                vessels.append((bpts, bw, 0.3 * bw, is_vein))
    for sgn in (-1.0, 1.0):  # macular twigs
        h = np.pi + sgn * rng.uniform(0.2, 0.4)
        start = disc + np.array([-0.7 * disc_r, sgn * 0.3 * disc_r])
        pts = _vessel_path(start, h, -sgn * 0.6, 1.0, 0.35, _BRANCH_SEGMENTS, 0.5, rng)
        vessels.append((pts, 0.4 * base_w, 0.15 * base_w, False))
    return vessels


def _draw_vessels(
    vessels: list[tuple[np.ndarray, float, float, bool]],
    size: int,
    centre: tuple[float, float],
    radius: float,
    nasal_sign: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Rasterise vessels (tapering width) into anti-aliased (vein, artery) masks in [0, 1]."""
    ss = _SUPERSAMPLE
    big = size * ss
    masks = {True: Image.new("L", (big, big), 0), False: Image.new("L", (big, big), 0)}
    draws = {k: ImageDraw.Draw(m) for k, m in masks.items()}
    scale = radius * ss
    for pts, w0, w1, is_vein in vessels:
        px = ((centre[0] + nasal_sign * radius * pts[:, 0]) * ss).tolist()
        py = ((centre[1] + radius * pts[:, 1]) * ss).tolist()
        n = len(px) - 1
        widths = np.maximum(np.rint(np.linspace(w0, w1, n) * scale), 1).astype(int).tolist()
        draw = draws[is_vein]
        for i in range(n):
            w = widths[i]
            draw.line([(px[i], py[i]), (px[i + 1], py[i + 1])], fill=255, width=w)
            if w > 2:  # round the joints so thick segments show no notches
                r = w / 2.0
                draw.ellipse([px[i + 1] - r, py[i + 1] - r, px[i + 1] + r, py[i + 1] + r], 255)
    out = []
    for key in (True, False):
        small = masks[key].resize((size, size), Image.BILINEAR, reducing_gap=None)
        out.append(np.asarray(small, dtype=np.float32) * np.float32(1.0 / 255.0))
    return out[0], out[1]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -30.0, 30.0)))


def render_fundus(
    anatomy: FundusAnatomy, eye: str, size: int, rng: np.random.Generator
) -> np.ndarray:
    """Render one fundus-like RGB photograph of ``anatomy``; returns (size, size, 3) uint8.

    ``eye`` is "left" or "right" (optic disc on the image left / right). Vessel geometry
    and all acquisition nuisance (field jitter, vignetting strength, illumination gain,
    colour cast, blur strength, noise, background texture) are drawn from ``rng``.
    """
    if eye not in EYES:
        raise ValueError(f"eye must be one of {EYES}, got {eye!r}")
    if size < 16:
        raise ValueError(f"size must be >= 16 pixels, got {size}")
    nasal = 1.0 if eye == "right" else -1.0

    # --- nuisance draws (fixed order) ---
    jx, jy = (
        float(j) for j in np.clip(rng.normal(0.0, 0.015 * size, 2), -0.025 * size, 0.025 * size)
    )
    gain = float(np.exp(rng.normal(0.0, 0.12)))
    cast = np.exp(rng.normal(0.0, 0.05, 3)).astype(np.float32) * np.float32(gain)
    blur = float(rng.uniform(0.0, 1.0)) * size / 128.0
    noise_sd = float(rng.uniform(0.5, 2.5))
    vignette = float(rng.uniform(0.45, 0.7))

    radius = _FOV_FRACTION * size
    cx, cy = (size - 1) / 2.0 + jx, (size - 1) / 2.0 + jy
    ax = np.arange(size, dtype=np.float32)
    u = ((ax - cx) * (nasal / radius))[None, :]  # canonical coordinates: +u = nasal
    v = ((ax - cy) / radius)[:, None]
    r2 = u * u + v * v

    # --- retina background: vignetting and two scales of texture (scalar maps) ---
    texture = 0.06 * _smooth_noise(rng, size, 5) + 0.025 * _smooth_noise(rng, size, 20)
    falloff = np.clip(1.0 - vignette * r2, 0.0, 1.0)
    dx, dy = _DISC_XY
    fx, fy = _FOVEA_XY
    du2, dv2 = (u - dx) ** 2, (v - dy) ** 2
    fd2 = (u - fx) ** 2 + (v - fy) ** 2
    sheen = np.exp(-(du2 / 0.12 + dv2 / 0.35))  # brighter nerve-fibre layer near the disc
    mac = 0.55 * np.exp(-fd2 / (2 * 0.11**2))  # darker macula, temporal to the disc
    reflex = 25.0 * np.exp(-fd2 / (2 * 0.012**2))  # tiny foveal reflex
    shade = (1.0 + texture) * (1.0 - mac)
    # every background channel is a linear combination of these scalar maps: one matmul
    maps = np.stack([shade, shade * falloff, mac, sheen, reflex], axis=-1)
    colours = np.stack(
        [
            _RETINA_EDGE,
            _RETINA - _RETINA_EDGE,
            _MACULA,
            np.array([12.0, 10.0, 4.0], np.float32),
            np.ones(3, np.float32),
        ]
    )
    img = maps @ colours

    # --- optic disc: vertically oval, soft rim, bright central cup, peripapillary halo ---
    # (computed only in a box around the disc; zero outside it)
    disc_r = _DISC_RADIUS
    half = int(np.ceil(2.0 * disc_r * radius)) + 2
    px, py = int(round(cx + nasal * dx * radius)), int(round(cy + dy * radius))
    ys = slice(max(py - half, 0), max(min(py + half + 1, size), 0))
    xs = slice(max(px - half, 0), max(min(px + half + 1, size), 0))
    uc, vc = u[:, xs], v[ys, :]
    dvc2 = (vc - dy) ** 2 / (1.08 * disc_r) ** 2
    dd = np.sqrt((uc - dx) ** 2 / disc_r**2 + dvc2)
    cd = np.sqrt((uc - dx + 0.1 * disc_r) ** 2 / disc_r**2 + dvc2)
    disc_a = np.zeros((size, size), np.float32)
    cup_a = np.zeros((size, size), np.float32)
    disc_a[ys, xs] = _sigmoid((1.0 - dd) / 0.05)
    cup_a[ys, xs] = _sigmoid((anatomy.cdr - cd) / 0.04)
    halo = 8.0 * np.exp(-((dd - 1.0) ** 2) / 0.15) * (1.0 - disc_a[ys, xs])
    rim = _RIM_PINK + (_RIM_PALE - _RIM_PINK) * np.float32(anatomy.disc_pallor)
    box = img[ys, xs]  # a view: the edits below write into img
    box += (rim - box) * disc_a[ys, xs, None]
    box += (_CUP - box) * cup_a[ys, xs, None]
    box += halo[..., None]

    # --- vessels (a bit lighter where they cross the disc) ---
    vessels = _vessel_tree(anatomy.vessel_calibre, np.array([dx, dy]), disc_r, rng)
    vein_m, art_m = _draw_vessels(vessels, size, (cx, cy), radius, nasal)
    on_disc = 1.0 - 0.15 * disc_a - 0.55 * cup_a
    img += (_ARTERY - img) * (0.85 * art_m * on_disc)[..., None]
    img += (_VEIN - img) * (0.9 * vein_m * on_disc)[..., None]

    # --- acquisition nuisance: gain + colour cast, blur, noise; then the FOV mask ---
    # (the gain / colour cast is linear, so it is applied after the blur, with the mask)
    pil = Image.fromarray(np.clip(img, 0.0, 255.0).astype(np.uint8), mode="RGB")
    if blur > 0.05:
        pil = pil.filter(ImageFilter.GaussianBlur(blur))
    out = np.asarray(pil, dtype=np.float32) * cast
    out += rng.normal(0.0, noise_sd, (size, size, 1)).astype(np.float32)
    fov = np.clip((1.0 - np.sqrt(r2)) * radius + 0.5, 0.0, 1.0)
    out *= fov[..., None]
    out += 0.5
    return np.clip(out, 0.0, 255.0).astype(np.uint8)


# ---------------------------------------------------------------------------- cohort


def _person_task(
    args: tuple[int, str, str, float, np.ndarray, str, int, float, float, int],
) -> tuple[list[tuple[str, str, str, str]], tuple[str, str, float]]:
    """Render all imaged eyes of one person; returns (manifest rows, marker row)."""
    idx, fid, iid, age, latent, out_dir, size, both_frac, noise_sd, seed = args
    rng = np.random.default_rng([seed, idx])
    person = latent_to_anatomy(latent, age)
    if rng.random() < both_frac:
        eyes = list(EYES)
    else:
        eyes = [EYES[int(rng.random() < 0.5)]]
    rows = []
    cdrs = []
    for eye in eyes:
        anat = _eye_anatomy(person, rng)
        img = render_fundus(anat, eye, size, rng)
        rel = f"images/{iid}_{eye}.jpg"
        Image.fromarray(img, mode="RGB").save(Path(out_dir) / rel, quality=JPEG_QUALITY)
        rows.append((fid, iid, eye, rel))
        cdrs.append(anat.cdr)
    measured = round(float(np.mean(cdrs) + rng.normal(0.0, noise_sd)), 2)
    return rows, (fid, iid, measured)


def _validate_people(people: pd.DataFrame) -> None:
    require_columns(people, REQUIRED_COLUMNS)
    iids = people["IID"].astype(str)
    dup = iids[iids.duplicated()]
    if len(dup):
        raise InputError(
            None, f"duplicate IID(s) {dup.head(5).tolist()}", "make IIDs unique", "people"
        )
    bad = [i for i in iids if not i or any(ch in i for ch in '/\\:*?"<>| ')]
    if bad:
        raise InputError(
            None,
            f"IID(s) {bad[:5]} cannot be used in file names",
            "use IIDs without path separators, spaces or shell metacharacters",
            "people",
        )
    num = people[["age", "latent_0", "latent_1", "latent_2"]].to_numpy(dtype=float)
    if not np.all(np.isfinite(num)):
        raise InputError(
            None, "age/latent columns contain missing or non-finite values", "impute or drop them"
        )


def simulate_fundus(
    people: pd.DataFrame,
    out_dir: Path,
    image_size: int,
    both_eyes_fraction: float,
    marker_noise_sd: float,
    seed: int,
    threads: int = 1,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Render fundus photographs for a cohort and grade a noisy cup-to-disc marker.

    ``people`` has columns FID, IID, age, latent_0, latent_1, latent_2. Images go to
    ``out_dir/images/<IID>_<eye>.jpg`` (JPEG quality 92). A fraction ``both_eyes_fraction``
    of people (in expectation) get both eyes imaged, the rest one random eye.

    Returns ``(manifest, marker)``: manifest has columns FID, IID, eye, path (relative to
    ``out_dir``), one row per image in ``people`` order then eye; marker has FID, IID,
    cup_to_disc = mean true per-eye CDR over the imaged eyes + N(0, marker_noise_sd) grader
    noise (one draw per person), rounded to 2 decimals. Output is identical for any
    ``threads`` (a process pool is used when ``threads > 1``: 'fork' on Linux, so unguarded
    scripts work; 'spawn' elsewhere, where the caller needs an ``if __name__ ==
    "__main__"`` guard).
    """
    _validate_people(people)
    if not 0.0 <= both_eyes_fraction <= 1.0:
        raise ValueError(f"both_eyes_fraction must be in [0, 1], got {both_eyes_fraction}")
    if marker_noise_sd < 0:
        raise ValueError(f"marker_noise_sd must be >= 0, got {marker_noise_sd}")
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    lat = people[["latent_0", "latent_1", "latent_2"]].to_numpy(dtype=float)
    tasks = [
        (
            i,
            str(fid),
            str(iid),
            float(age),
            lat[i],
            str(out_dir),
            int(image_size),
            float(both_eyes_fraction),
            float(marker_noise_sd),
            int(seed),
        )
        for i, (fid, iid, age) in enumerate(
            zip(people["FID"], people["IID"], people["age"], strict=True)
        )
    ]
    if threads > 1 and len(tasks) > 1:
        chunk = max(1, len(tasks) // (threads * 8))
        with process_pool(min(threads, len(tasks))) as pool:
            results = pool.map(_person_task, tasks, chunksize=chunk)
    else:
        results = [_person_task(t) for t in tasks]
    manifest = pd.DataFrame(
        [row for rows, _ in results for row in rows], columns=["FID", "IID", "eye", "path"]
    )
    marker = pd.DataFrame([m for _, m in results], columns=["FID", "IID", "cup_to_disc"])
    return manifest, marker


# ---------------------------------------------------------------------------- QC figure


def contact_sheet(
    image_paths: list[Path], out_png: Path, ncol: int = 4, title: str | None = None
) -> None:
    """Tile up to 16 images in a grid labelled with their file stem (IID_eye); save a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    paths = [Path(p) for p in image_paths][:MAX_SHEET_IMAGES]
    if not paths:
        raise ValueError("contact_sheet needs at least one image")
    ncol = max(1, min(int(ncol), len(paths)))
    nrow = -(-len(paths) // ncol)
    fig = Figure(figsize=(2.0 * ncol, 2.1 * nrow + (0.4 if title else 0.0)), dpi=100)
    FigureCanvasAgg(fig)
    for k in range(nrow * ncol):
        ax = fig.add_subplot(nrow, ncol, k + 1)
        ax.axis("off")
        if k < len(paths):
            with Image.open(paths[k]) as im:
                ax.imshow(np.asarray(im.convert("RGB")))
            ax.set_title(paths[k].stem, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, format="png", facecolor="white")
