"""Tests for the simulated fundus photographs (gemcont.simulate.fundus)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageFilter

from gemcont.errors import InputError
from gemcont.simulate.fundus import (
    FundusAnatomy,
    contact_sheet,
    latent_to_anatomy,
    render_fundus,
    simulate_fundus,
)


def _people(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "FID": [f"F{i}" for i in range(n)],
            "IID": [f"{1000 + i}" for i in range(n)],
            "age": rng.uniform(40, 70, n),
            "latent_0": rng.normal(size=n),
            "latent_1": rng.normal(size=n),
            "latent_2": rng.normal(size=n),
        }
    )


def _files(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / "images").glob("*.jpg"))}


def test_same_seed_identical_across_threads(tmp_path: Path) -> None:
    people = _people(12)
    args = {"image_size": 64, "both_eyes_fraction": 0.5, "marker_noise_sd": 0.03, "seed": 7}
    m1, k1 = simulate_fundus(people, tmp_path / "a", threads=1, **args)
    m2, k2 = simulate_fundus(people, tmp_path / "b", threads=1, **args)
    m3, k3 = simulate_fundus(people, tmp_path / "c", threads=2, **args)
    fa, fb, fc = _files(tmp_path / "a"), _files(tmp_path / "b"), _files(tmp_path / "c")
    assert len(fa) == len(m1) > 0
    assert fa == fb == fc
    pd.testing.assert_frame_equal(m1, m2)
    pd.testing.assert_frame_equal(m1, m3)
    pd.testing.assert_frame_equal(k1, k3)
    # a different seed changes the images
    m4, _ = simulate_fundus(people, tmp_path / "d", threads=1, **{**args, "seed": 8})
    fd = _files(tmp_path / "d")
    common = set(fa) & set(fd)
    assert common and any(fa[n] != fd[n] for n in common)


def test_manifest_and_marker_tables(tmp_path: Path) -> None:
    people = _people(12)
    manifest, marker = simulate_fundus(people, tmp_path, 64, 0.5, 0.03, seed=1)
    assert list(manifest.columns) == ["FID", "IID", "eye", "path"]
    assert list(marker.columns) == ["FID", "IID", "cup_to_disc"]
    assert marker["IID"].tolist() == people["IID"].tolist()
    assert marker["FID"].tolist() == people["FID"].tolist()
    assert 12 <= len(manifest) <= 24
    assert set(manifest["eye"]) <= {"left", "right"}
    # ordered by people order, then eye
    order = {iid: i for i, iid in enumerate(people["IID"])}
    keys = list(zip(manifest["IID"].map(order), manifest["eye"], strict=True))
    assert keys == sorted(keys)
    assert not manifest.duplicated(["IID", "eye"]).any()
    for iid, eye, rel in zip(manifest["IID"], manifest["eye"], manifest["path"], strict=True):
        assert rel == f"images/{iid}_{eye}.jpg"
        with Image.open(tmp_path / rel) as im:
            assert im.format == "JPEG" and im.size == (64, 64) and im.mode == "RGB"
    assert np.allclose(marker["cup_to_disc"], marker["cup_to_disc"].round(2))
    assert marker["cup_to_disc"].between(0.0, 1.0).all()


@pytest.mark.parametrize("fraction", [0.0, 0.3, 1.0])
def test_both_eyes_fraction(tmp_path: Path, fraction: float) -> None:
    people = _people(60)
    manifest, _ = simulate_fundus(people, tmp_path, 16, fraction, 0.0, seed=3)
    n_both = int((manifest.groupby("IID").size() == 2).sum())
    assert manifest["IID"].nunique() == 60
    if fraction in (0.0, 1.0):
        assert n_both == 60 * fraction
    else:
        assert abs(n_both / 60 - fraction) < 0.2
    if fraction == 0.0:  # the single eye is random, not always the same side
        assert manifest["eye"].nunique() == 2


def test_latent_to_anatomy_mapping() -> None:
    base = latent_to_anatomy(np.zeros(3), age=50.0)
    assert base.cdr == pytest.approx(0.35)
    assert base.vessel_calibre == pytest.approx(1.0)
    assert base.disc_pallor == pytest.approx(0.5)
    assert latent_to_anatomy(np.array([1.0, 0, 0]), 50.0).cdr > base.cdr
    assert latent_to_anatomy(np.array([0, 1.0, 0]), 50.0).vessel_calibre > 1.0
    assert latent_to_anatomy(np.array([0, 0, 1.0]), 50.0).disc_pallor > 0.5
    old = latent_to_anatomy(np.zeros(3), age=75.0)
    assert 0.0 < old.cdr - base.cdr < 0.06  # small age effect
    assert latent_to_anatomy(np.array([50.0, 0, 0]), 50.0).cdr <= 0.85
    with pytest.raises(ValueError):
        latent_to_anatomy(np.zeros(2), 50.0)


def test_measured_cdr_tracks_latent_0(tmp_path: Path) -> None:
    people = _people(200, seed=5)
    _, marker = simulate_fundus(people, tmp_path, 16, 0.5, 0.03, seed=2)
    r = np.corrcoef(marker["cup_to_disc"], people["latent_0"])[0, 1]
    assert r > 0.8
    # latent_1 / latent_2 do not drive the CDR marker
    r1 = np.corrcoef(marker["cup_to_disc"], people["latent_1"])[0, 1]
    assert abs(r1) < 0.3


def test_image_structure() -> None:
    size = 64
    anat = FundusAnatomy(cdr=0.4, vessel_calibre=1.0, disc_pallor=0.5)
    img = render_fundus(anat, "right", size, np.random.default_rng(0))
    assert img.shape == (size, size, 3) and img.dtype == np.uint8
    gray = img.astype(float).mean(axis=2)
    for corner in (gray[:5, :5], gray[:5, -5:], gray[-5:, :5], gray[-5:, -5:]):
        assert corner.max() < 10  # black outside the circular field of view
    yy, xx = np.mgrid[0:size, 0:size]
    inside = (xx - size / 2) ** 2 + (yy - size / 2) ** 2 < (0.35 * size) ** 2
    retina = gray[inside].mean()
    assert retina > 40  # the retina is lit
    red = img[..., 0][inside].mean()
    assert red > img[..., 1][inside].mean() > img[..., 2][inside].mean()  # orange-red
    # the disc (nasal = right for the right eye) is much brighter than the retina
    disc_col = int(round((size - 1) / 2 + 0.42 * 0.47 * size))
    disc = gray[size // 2 - 4 : size // 2 + 3, disc_col - 3 : disc_col + 4]
    assert disc.max() > retina + 60


def _brightest_column(img: np.ndarray) -> float:
    gray = Image.fromarray(img).convert("L").filter(ImageFilter.BoxBlur(2))
    g = np.asarray(gray, dtype=float)
    return float(np.unravel_index(np.argmax(g), g.shape)[1])


def test_left_and_right_disc_on_opposite_sides() -> None:
    size = 64
    anat = FundusAnatomy(cdr=0.4, vessel_calibre=1.0, disc_pallor=0.5)
    for seed in range(5):
        right = render_fundus(anat, "right", size, np.random.default_rng(seed))
        left = render_fundus(anat, "left", size, np.random.default_rng(seed))
        assert _brightest_column(right) > 0.6 * size
        assert _brightest_column(left) < 0.4 * size


def test_latent_changes_the_image() -> None:
    """Same nuisance draws, bigger CDR -> more bright (cup) pixels."""
    size = 128

    def bright_pixels(cdr: float) -> int:
        img = render_fundus(FundusAnatomy(cdr, 1.0, 0.5), "left", size, np.random.default_rng(4))
        return int((img.astype(float).mean(axis=2) > 215).sum())

    assert bright_pixels(0.7) > bright_pixels(0.2) + 10


def test_invalid_inputs(tmp_path: Path) -> None:
    anat = FundusAnatomy(0.4, 1.0, 0.5)
    with pytest.raises(ValueError):
        render_fundus(anat, "middle", 64, np.random.default_rng(0))
    people = _people(3)
    with pytest.raises(InputError):
        simulate_fundus(people.drop(columns="latent_2"), tmp_path, 32, 0.5, 0.03, seed=0)
    dup = people.assign(IID=["1", "1", "2"])
    with pytest.raises(InputError):
        simulate_fundus(dup, tmp_path, 32, 0.5, 0.03, seed=0)
    with pytest.raises(ValueError):
        simulate_fundus(people, tmp_path, 32, 1.5, 0.03, seed=0)


def test_contact_sheet(tmp_path: Path) -> None:
    manifest, _ = simulate_fundus(_people(10), tmp_path, 32, 1.0, 0.03, seed=0)
    paths = [tmp_path / p for p in manifest["path"]]
    assert len(paths) == 20
    out = tmp_path / "qc" / "sheet.png"
    contact_sheet(paths, out, ncol=4, title="fundus")
    with Image.open(out) as im:
        assert im.format == "PNG"
        w, h = im.size
    assert w > 300 and h > 300 and h > w  # 16 tiles in 4 columns -> 4 rows (+ title)
