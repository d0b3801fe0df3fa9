"""Phenotype QC of real-data inputs (issue 15): 16-bit and transparent images, eye labels,
and the ATS/ERS acceptability of field-3066 blows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageDraw, PngImagePlugin

from gemcont.errors import InputError
from gemcont.io.spirometry import SAMPLE_INTERVAL_S, BlowCriteria, format_blow
from gemcont.phenotypes.fundus import ExcludedImage, build_fundus_store, preprocess_image
from gemcont.phenotypes.spirometry import CURVES, build_spirometry_store, default_criteria
from gemcont.phenotypes.store import open_images, read_exclusions, read_index
from gemcont.simulate.spirometry import simulate_spirometry

SIZE = 32

# ---------------------------------------------------------------------------- images


def _disc(size: int = 120, inset: int = 20) -> np.ndarray:
    """A (size, size) bool mask of a round field of view."""
    mask = Image.new("1", (size, size), 0)
    ImageDraw.Draw(mask).ellipse((inset, inset, size - inset, size - inset), fill=1)
    return np.asarray(mask)


def _centre(stored: np.ndarray) -> np.ndarray:
    """The stored (3, S, S) image's centre pixel (R, G, B)."""
    return stored[:, SIZE // 2, SIZE // 2]


@pytest.mark.parametrize(
    ("value", "sbit", "expected"),
    [
        (40000, None, round(40000 / 257)),  # 16-bit data: / 257
        (3000, None, round(3000 * 255 / 4095)),  # 12-bit data in 16 bits: by 4095
        (600, 10, round(600 * 255 / 1023)),  # the PNG's sBIT chunk says 10 bits
    ],
)
def test_16_bit_grayscale_png_is_scaled_by_its_bit_depth(tmp_path, value, sbit, expected):
    pixels = np.where(_disc(), value, 0).astype(np.uint16)
    path = tmp_path / "grey16.png"
    info = PngImagePlugin.PngInfo()
    if sbit is not None:
        info.add(b"sBIT", bytes([sbit]))
    Image.fromarray(pixels).save(path, pnginfo=info)
    with Image.open(path) as im:
        assert im.mode == "I;16"  # as Pillow reads a 16-bit grayscale PNG
    stored = preprocess_image(path, SIZE, threshold=10)
    assert _centre(stored).tolist() == [expected] * 3
    assert stored[:, 0, 0].tolist() == [0, 0, 0]


def test_rgba_transparent_border_is_composited_on_black(tmp_path):
    # the border is transparent but holds light grey: it must not count as retina
    rgba = np.zeros((120, 120, 4), np.uint8)
    rgba[:, :, :3] = 220
    rgba[_disc()] = (200, 90, 40, 255)
    path = tmp_path / "rgba.png"
    Image.fromarray(rgba, "RGBA").save(path)
    stored = preprocess_image(path, SIZE, threshold=10)
    assert _centre(stored).tolist() == [200, 90, 40]
    assert stored[:, 0, 0].tolist() == [0, 0, 0]
    # cropped to the opaque disc (80 px of 120): the disc touches the stored edges
    assert stored[0, SIZE // 2, 0] > 100 and stored[0, 0, SIZE // 2] > 100
    # half-transparent pixels are darkened in proportion
    rgba[_disc(), 3] = 128
    Image.fromarray(rgba, "RGBA").save(path)
    assert _centre(preprocess_image(path, SIZE, 10)).tolist() == [100, 45, 20]


@pytest.mark.parametrize("mode", ["LA", "P"])
def test_la_and_palette_transparency_is_black(tmp_path, mode):
    path = tmp_path / f"{mode}.png"
    if mode == "LA":
        la = np.zeros((120, 120, 2), np.uint8)
        la[:, :, 0] = 230
        la[_disc()] = (150, 255)
        Image.fromarray(la, "LA").save(path)
        expected = [150] * 3
    else:
        image = Image.new("P", (120, 120), 1)
        image.putpalette([200, 90, 40, 220, 220, 220] + [0] * 762)
        image.paste(0, mask=Image.fromarray(_disc()))
        image.save(path, transparency=1)  # palette entry 1 (light grey) is transparent
        expected = [200, 90, 40]
    stored = preprocess_image(path, SIZE, threshold=10)
    assert _centre(stored).tolist() == expected
    assert stored[:, 0, 0].tolist() == [0, 0, 0]


def test_32_bit_float_image_is_excluded_with_its_mode(tmp_path):
    path = tmp_path / "float.tif"
    Image.fromarray(np.where(_disc(), 0.5, 0.0).astype(np.float32)).save(path)
    with pytest.raises(ExcludedImage, match="unsupported pixel format F"):
        preprocess_image(path, SIZE, threshold=10)


# ---------------------------------------------------------------------------- eye labels


def _manifest(tmp_path: Path, rows: list[tuple[str, str]]) -> Path:
    image = np.zeros((60, 60, 3), np.uint8)
    image[10:50, 10:50] = (200, 90, 40)
    Image.fromarray(image).save(tmp_path / "eye.png")
    path = tmp_path / "manifest.tsv"
    table = pd.DataFrame(
        [(iid, iid, eye, "eye.png") for iid, eye in rows], columns=["FID", "IID", "eye", "path"]
    )
    table.to_csv(path, sep="\t", index=False)
    return path


def test_eye_labels_are_normalised(tmp_path):
    rows = [("1", "left"), ("1", "RIGHT"), ("2", "Left"), ("2", "od"), ("3", "L"), ("4", "OS")]
    rows += [("5", " r "), ("6", "Right")]
    index = build_fundus_store(_manifest(tmp_path, rows), tmp_path / "store", image_size=SIZE)
    assert index["eye"].tolist() == ["left", "right", "left", "right", "left", "left"] + [
        "right",
        "right",
    ]
    assert read_index(tmp_path / "store" / "index.tsv")["eye"].tolist() == index["eye"].tolist()


def test_one_eye_under_two_spellings_stops_naming_the_person(tmp_path):
    path = _manifest(tmp_path, [("1", "right"), ("2", "left"), ("2", "LEFT")])
    with pytest.raises(InputError) as err:
        build_fundus_store(path, tmp_path / "store", image_size=SIZE)
    image = tmp_path / "eye.png"
    assert str(err.value) == (
        f"{path}: IID 2: the left eye is listed twice, as 'left' and 'LEFT' "
        f"({image}, {image}). Fix: keep one row per person and eye (left/L/OS and right/R/OD "
        "name the same eye in any case)"
    )


def test_unknown_eye_label_stops_naming_the_row(tmp_path):
    path = _manifest(tmp_path, [("1", "right"), ("2", "both"), ("3", "sinister")])
    with pytest.raises(InputError) as err:
        build_fundus_store(path, tmp_path / "store", image_size=SIZE)
    assert str(err.value) == (
        f"{path}: IID 2, path {tmp_path / 'eye.png'}: unknown eye label 'both' (2 row(s) in "
        "all). Fix: label each image's eye left (or L, OS) or right (or R, OD), in any case"
    )


# ---------------------------------------------------------------------------- blows


def _blow(fvc_ml: float = 4400.0, tau_s: float = 0.5, seconds: float = 8.0) -> np.ndarray:
    """V = FVC (1 - exp(-t / tau)) sampled every 10 ms, rounded to mL."""
    t = np.arange(int(round(seconds / SAMPLE_INTERVAL_S)) + 1) * SAMPLE_INTERVAL_S
    return np.rint(fvc_ml * (1.0 - np.exp(-t / tau_s)))


def _truncated() -> np.ndarray:
    """A 4.4 L blow whose recording stops at 2.8 L (0.5 s after the start)."""
    blow = _blow()
    return blow[: int(np.searchsorted(blow, 2800)) + 1]


def _hesitant() -> np.ndarray:
    """0.5 s of a slow 0.6 L/s leak (300 mL) before the forced blow: a large BEV."""
    leak = np.rint(np.arange(51) * 6.0)
    return np.concatenate([leak, leak[-1] + _blow(4100.0)[1:]])


def _table(path: Path, rows: dict[str, list[np.ndarray | None]]) -> Path:
    lines = ["eid\t3066-0.0\t3066-0.1\t3066-0.2"]
    for eid, blows in rows.items():
        cells = ["" if b is None else format_blow(b) for b in blows]
        lines.append("\t".join([eid, *cells, *[""] * (3 - len(cells))]))
    path.write_text("\n".join(lines) + "\n")
    return path


def _store(tmp_path: Path, rows: dict, **criteria: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    qc = BlowCriteria(**{**vars(default_criteria()), **criteria})
    tmp_path.mkdir(exist_ok=True)
    table = _table(tmp_path / "ukb_3066.tsv", rows)
    index = build_spirometry_store(
        table,
        tmp_path / "store",
        raster_size=SIZE,
        curve_points=32,
        min_kept_fraction=0,
        criteria=qc,
    )
    return index, read_exclusions(tmp_path / "store" / "exclusions.tsv")


def test_truncated_blow_is_excluded_and_the_full_blow_used(tmp_path):
    truncated = _truncated()
    assert truncated[-1] == pytest.approx(2800, abs=60)
    index, excl = _store(tmp_path, {"1": [truncated, _blow()], "2": [truncated]})
    assert index["IID"].tolist() == ["1"]
    curves = np.load(tmp_path / "store" / CURVES)
    assert curves[0, 1, -1] == pytest.approx(4.4, abs=0.01)  # FVC of the complete blow
    assert excl.values.tolist() == [
        ["1", "1", "3066-0.0", excl["reason"].iloc[0]],
        ["2", "2", "3066-0.0", excl["reason"].iloc[0]],
    ]
    assert excl["reason"].iloc[0] == (
        "no end of forced expiration: the recording is shorter than the 1 s plateau window "
        "and exhalation lasted 0.5 s (< 15 s); a blow cut short gives a wrong FVC (2.81 L) "
        "and FEV1/FVC (1.00)"
    )


def test_slow_blow_with_a_plateau_passes(tmp_path):
    slow = _blow(3500.0, tau_s=2.5, seconds=12.0)  # obstructive: 12 s to the plateau
    assert slow[-1] - slow[-101] < 25
    index, excl = _store(tmp_path, {"1": [slow]})
    assert index["IID"].tolist() == ["1"] and excl.empty


def test_long_exhalation_without_plateau_passes_at_15_s_or_the_2005_rule(tmp_path):
    long = _blow(3500.0, tau_s=5.0, seconds=15.5)
    assert long[-1] - long[-101] >= 25  # still rising: no plateau, but 15 s of exhalation
    index, _ = _store(tmp_path / "a", {"1": [long]})
    assert index["IID"].tolist() == ["1"]
    eight = long[:801]  # 8 s: no plateau and under 15 s
    index, excl = _store(tmp_path / "b", {"1": [eight], "2": [_blow()]})
    assert index["IID"].tolist() == ["2"]
    assert excl["reason"].tolist() == [
        "no end of forced expiration: volume still rose 156 mL in the last 1 s (a plateau is "
        "< 25 mL) and exhalation lasted 8.0 s (< 15 s); a blow cut short gives a wrong FVC "
        "(2.79 L) and FEV1/FVC (0.23)"
    ]
    index, excl = _store(tmp_path / "c", {"1": [eight]}, exhalation_s=6.0)  # ATS/ERS 2005
    assert index["IID"].tolist() == ["1"] and excl.empty


def test_hesitant_start_is_excluded_with_its_back_extrapolated_volume(tmp_path):
    index, excl = _store(tmp_path, {"1": [_hesitant(), _blow()], "2": [_hesitant()]})
    assert index["IID"].tolist() == ["1"]
    assert excl[["IID", "item"]].values.tolist() == [["1", "3066-0.0"], ["2", "3066-0.0"]]
    assert excl["reason"].iloc[0] == (
        "hesitant start: back-extrapolated volume 276 mL exceeds 220 mL (the greater of 5% "
        "of FVC 4.40 L and 100 mL)"
    )
    # the limit is the greater of 5 % of FVC and the absolute floor
    index, excl = _store(tmp_path / "b", {"2": [_hesitant()]}, max_bev_ml=300.0)
    assert index["IID"].tolist() == ["2"] and excl.empty


def test_simulated_demo_blows_pass_the_criteria(tmp_path):
    n = 300
    rng = np.random.default_rng(5)
    iids = [str(1000000 + i) for i in range(n)]
    sex = np.arange(n) % 2
    people = pd.DataFrame(
        {
            "FID": iids,
            "IID": iids,
            "age": rng.uniform(40, 70, n),
            "sex": sex,
            "height": np.where(sex == 1, rng.normal(176, 7, n), rng.normal(163, 6, n)),
            **{f"latent_{k}": rng.standard_normal(n) for k in range(3)},
        }
    )
    table = tmp_path / "ukb_3066.tsv"
    simulate_spirometry(people, table, max_blows=3, seed=2026)
    n_blows = int((pd.read_csv(table, sep="\t", dtype=str).iloc[:, 1:].notna()).sum().sum())
    index = build_spirometry_store(table, tmp_path / "store", raster_size=SIZE, curve_points=32)
    excl = read_exclusions(tmp_path / "store" / "exclusions.tsv")
    assert len(excl) < 0.02 * n_blows  # a few hesitant starts and 15 s cut-offs
    assert len(index) >= 0.99 * n
    assert open_images(tmp_path / "store" / "images.npy").shape[0] == len(index)
