"""The phenotype store: fundus images and spirometry curves -> memory-mapped uint8 arrays."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageDraw

from gemcont.errors import InputError
from gemcont.io.spirometry import read_3066_table
from gemcont.phenotypes.fundus import build_fundus_store, preprocess_image
from gemcont.phenotypes.spirometry import CURVES, build_spirometry_store, rasterise
from gemcont.phenotypes.store import open_images, read_exclusions, read_index
from gemcont.simulate.spirometry import simulate_spirometry

RETINA = (200, 90, 40)


def fundus_like(path: Path, size: tuple[int, int], box: tuple[int, int, int, int]) -> None:
    """A black canvas with a lit elliptical field of view inside ``box``; saved by suffix."""
    image = Image.new("RGB", size, (0, 0, 0))
    ImageDraw.Draw(image).ellipse(box, fill=RETINA)
    image.save(path, quality=95)


def write_manifest(path: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    pd.DataFrame(rows, columns=["FID", "IID", "eye", "path"]).to_csv(path, sep="\t", index=False)
    return path


@pytest.fixture
def fundus_dir(tmp_path: Path) -> Path:
    """Two good images, one of each failure kind, and a manifest listing them all."""
    img = tmp_path / "img"
    img.mkdir()
    fundus_like(img / "good_left.jpg", (200, 150), (100, 30, 180, 110))
    fundus_like(img / "good_right.png", (120, 120), (10, 10, 110, 110))
    fundus_like(img / "truncated.jpg", (300, 300), (20, 20, 280, 280))
    data = (img / "truncated.jpg").read_bytes()
    (img / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (img / "empty.jpg").write_bytes(b"")
    Image.new("RGB", (80, 80)).save(img / "black.png")
    (img / "notes.jpg").write_text("not an image at all")
    write_manifest(
        tmp_path / "manifest.tsv",
        [
            ("f1", "1", "left", "img/good_left.jpg"),
            ("f1", "1", "right", "img/good_right.png"),
            ("f2", "2", "left", "img/truncated.jpg"),
            ("f3", "3", "left", "img/empty.jpg"),
            ("f4", "4", "left", "img/missing.jpg"),
            ("f5", "5", "right", "img/black.png"),
            ("f6", "6", "right", "img/notes.jpg"),
            ("f7", "7", "NA", "img/good_left.jpg"),
        ],
    )
    return tmp_path


def test_fundus_failures_are_excluded_with_reasons(fundus_dir: Path) -> None:
    index = build_fundus_store(
        fundus_dir / "manifest.tsv", fundus_dir / "store", image_size=32, min_kept_fraction=0.2
    )
    assert index[["FID", "IID", "eye", "row"]].values.tolist() == [
        ["f1", "1", "left", 0],
        ["f1", "1", "right", 1],
    ]
    excl = read_exclusions(fundus_dir / "store" / "exclusions.tsv").set_index("IID")["reason"]
    assert "truncated" in excl["2"]
    assert "empty file" in excl["3"]
    assert excl["4"] == "file not found"
    assert "all black" in excl["5"]
    assert "unreadable image" in excl["6"]
    assert "missing value" in excl["7"]
    assert len(excl) == 6


def test_store_round_trips_through_mmap(fundus_dir: Path) -> None:
    build_fundus_store(
        fundus_dir / "manifest.tsv", fundus_dir / "store", image_size=32, min_kept_fraction=0.2
    )
    images = np.load(fundus_dir / "store" / "images.npy", mmap_mode="r")
    assert isinstance(images, np.memmap)
    assert images.shape == (2, 3, 32, 32) and images.dtype == np.uint8
    assert read_index(fundus_dir / "store" / "index.tsv")["row"].tolist() == [0, 1]
    direct = preprocess_image(fundus_dir / "img" / "good_right.png", 32, 10)
    np.testing.assert_array_equal(open_images(fundus_dir / "store" / "images.npy")[1], direct)
    assert not list((fundus_dir / "store").glob("*.tmp"))


def test_black_border_is_cropped_to_the_field_of_view(tmp_path: Path) -> None:
    path = tmp_path / "wide.png"
    fundus_like(path, (400, 240), (230, 40, 390, 200))  # a 160 px disc, off centre
    out = preprocess_image(path, 64, 10)
    lit = out.max(axis=0) > 10
    assert out.shape == (3, 64, 64)
    assert lit[32].all() and lit[:, 32].all()  # the disc touches all four sides
    assert not lit[0, 0] and not lit[-1, -1]  # corners of the circle stay black
    assert lit.mean() == pytest.approx(np.pi / 4, abs=0.03)
    assert tuple(out[:, 32, 32]) == RETINA


def test_crop_pads_to_a_square_centred_on_the_field(tmp_path: Path) -> None:
    path = tmp_path / "flat.png"
    image = Image.new("RGB", (300, 300))
    ImageDraw.Draw(image).rectangle((50, 100, 249, 199), fill=RETINA)  # 200 x 100 field
    image.putpixel((2, 2), (255, 255, 255))  # a stray lit pixel in the border
    image.save(path)
    lit = preprocess_image(path, 40, 10).max(axis=0) > 10
    rows = np.flatnonzero(lit.any(axis=1))
    assert lit[:, 0].any() and lit[:, -1].any()  # full width
    assert rows[0] == pytest.approx(10, abs=1) and rows[-1] == pytest.approx(29, abs=1)


def test_fundus_parallel_equals_serial_and_fid_from_fam(tmp_path: Path) -> None:
    rows = []
    for i in range(6):
        name = f"img{i}.jpg"
        fundus_like(tmp_path / name, (100 + 10 * i, 90), (5, 5, 85, 85))
        rows.append((str(i), "right", name))
    pd.DataFrame(rows, columns=["IID", "eye", "path"]).to_csv(
        tmp_path / "m.tsv", sep="\t", index=False
    )
    fam = pd.DataFrame({"FID": [f"fam{i}" for i in range(5)], "IID": [str(i) for i in range(5)]})
    serial = build_fundus_store(tmp_path / "m.tsv", tmp_path / "a", 24, threads=1, fam=fam)
    parallel = build_fundus_store(tmp_path / "m.tsv", tmp_path / "b", 24, threads=3, fam=fam)
    pd.testing.assert_frame_equal(serial, parallel)
    np.testing.assert_array_equal(
        open_images(tmp_path / "a" / "images.npy"), open_images(tmp_path / "b" / "images.npy")
    )
    assert serial["FID"].tolist() == [f"fam{i}" for i in range(5)]
    assert read_exclusions(tmp_path / "a" / "exclusions.tsv")["reason"].tolist() == [
        "IID not in the .fam"
    ]


def test_too_few_images_stop_with_counts_and_fix(fundus_dir: Path) -> None:
    with pytest.raises(InputError, match=r"only 2 of 8 items passed QC") as err:
        build_fundus_store(fundus_dir / "manifest.tsv", fundus_dir / "store", image_size=32)
    assert "min_kept_fraction" in err.value.fix


# ---------------------------------------------------------------------------- spirometry


@pytest.fixture
def spirometry_table(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    """A simulated field-3066 table of 12 people; person 1000004 has a malformed blow."""
    n = 12
    rng = np.random.default_rng(3)
    iids = [str(1000000 + i) for i in range(n)]
    people = pd.DataFrame(
        {
            "FID": iids,
            "IID": iids,
            "age": rng.uniform(40, 70, n),
            "sex": np.arange(n) % 2,
            "height": rng.normal(170, 8, n),
            **{f"latent_{k}": rng.standard_normal(n) for k in range(3)},
        }
    )
    path = tmp_path / "ukb_3066.tsv"
    markers = simulate_spirometry(people, path, max_blows=3, seed=1)
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    table.loc[4, "3066-0.1"] = "0,15,abc,90"
    table.to_csv(path, sep="\t", index=False)
    return path, markers


def test_malformed_blow_excludes_the_person_with_reason(spirometry_table, tmp_path) -> None:
    path, _ = spirometry_table
    with pytest.raises(InputError, match="1000004"):
        read_3066_table(path)  # the strict reader stops; the store must not
    index = build_spirometry_store(path, tmp_path / "store", raster_size=64, curve_points=50)
    assert len(index) == 11 and "1000004" not in index["IID"].tolist()
    assert (index["eye"] == "").all()
    excl = read_exclusions(tmp_path / "store" / "exclusions.tsv")
    assert excl[["FID", "IID", "item"]].values.tolist() == [["1000004", "1000004", "3066-0.1"]]
    assert "not a number: 'abc'" in excl["reason"].iloc[0]


def exponential_blow(fvc_ml: float = 4000.0, tau_s: float = 0.6, seconds: float = 6.0) -> str:
    """Field-3066 text of an acceptable blow: V = FVC (1 - exp(-t / tau)), a plateau at the end."""
    t = np.arange(0, seconds, 0.01)
    return ",".join(str(int(fvc_ml * (1 - np.exp(-t / tau_s)))) for t in t)


def test_people_without_blows_are_listed_but_not_counted(tmp_path: Path) -> None:
    path = tmp_path / "t.tsv"
    path.write_text(f"eid\t3066-0.0\t3066-0.1\n1\t{exponential_blow()}\t\n2\tNA\t\n3\t\t\n")
    index = build_spirometry_store(path, tmp_path / "store", raster_size=32, min_kept_fraction=1)
    assert index["IID"].tolist() == ["1"]
    excl = read_exclusions(tmp_path / "store" / "exclusions.tsv")
    assert excl["IID"].tolist() == ["2", "3"] and set(excl["reason"]) == {"no blow recorded"}


def test_spirometry_arrays(spirometry_table, tmp_path) -> None:
    path, markers = spirometry_table
    index = build_spirometry_store(path, tmp_path / "store", curve_points=50)
    images = np.load(tmp_path / "store" / "images.npy", mmap_mode="r")
    curves = np.load(tmp_path / "store" / CURVES, mmap_mode="r")
    assert images.shape == (11, 1, 256, 256) and images.dtype == np.uint8
    assert curves.shape == (11, 2, 50) and curves.dtype == np.float32
    fvc = markers.set_index("IID").loc[index["IID"], "fvc"].to_numpy()
    np.testing.assert_allclose(curves[:, 1, -1], fvc, atol=1e-3)
    assert (curves[:, 0] >= 0).all() and (np.diff(curves[:, 1], axis=1) > 0).all()
    rightmost = [np.flatnonzero(im[0].max(axis=0) > 0)[-1] for im in images]
    assert rightmost[int(np.argmax(fvc))] > rightmost[int(np.argmin(fvc))]
    assert set(np.unique(images)) - {0, 255}  # anti-aliased edge


def test_raster_is_on_fixed_axes() -> None:
    volume = np.linspace(0.0, 4.0, 100)
    flow = 8.0 * (1.0 - volume / 4.0)  # a straight descending limb: 8 L/s -> 0 at 4 L
    image = rasterise(volume, flow, size=64, volume_max_l=8.0, flow_max_l_s=16.0)
    lit = image > 127
    assert image.shape == (64, 64) and image.dtype == np.uint8
    assert np.flatnonzero(lit.any(axis=0))[-1] == pytest.approx(31, abs=1)  # 4 of 8 L
    assert np.flatnonzero(lit.any(axis=1))[0] == pytest.approx(32, abs=1)  # 8 of 16 L/s
    assert lit[-1, :31].all()  # filled down to zero flow
    bigger = rasterise(volume * 1.5, flow * 1.5, size=64)
    assert (bigger > 127).sum() > lit.sum()


def test_people_outside_the_fam_are_excluded(spirometry_table, tmp_path) -> None:
    path, markers = spirometry_table
    fam = markers[["IID"]].iloc[1:].assign(FID=lambda d: "F" + d["IID"])[["FID", "IID"]]
    index = build_spirometry_store(path, tmp_path / "store", raster_size=32, fam=fam)
    assert index["FID"].tolist() == ["F" + i for i in index["IID"]]
    excl = read_exclusions(tmp_path / "store" / "exclusions.tsv").set_index("IID")
    assert excl.loc["1000000", "reason"] == "IID not in the .fam"
    assert excl.loc["1000004", "FID"] == "F1000004"


def test_spirometry_stops_when_most_people_fail(tmp_path: Path) -> None:
    path = tmp_path / "bad.tsv"
    good = exponential_blow()
    path.write_text(f"eid\t3066-0.0\n1\t0,10,x\n2\t{good}\n3\t5,-900\n4\tNA\n5\t\n")
    with pytest.raises(InputError, match=r"only 1 of 3 items"):
        build_spirometry_store(path, tmp_path / "store", raster_size=32)


def test_truncated_and_all_nan_blows_are_excluded_with_reasons(tmp_path: Path) -> None:
    good = exponential_blow()
    path = tmp_path / "t.tsv"
    path.write_text(
        "eid\t3066-0.0\n"
        f"1\t{good}\n"
        f"2\t{good}\n"
        "3\t0,15,\n"  # truncated record: the export was cut mid-blow
        "4\tNaN,NaN,NaN,NaN\n"  # all-NaN curve
    )
    index = build_spirometry_store(path, tmp_path / "store", raster_size=32, min_kept_fraction=0.5)
    assert index["IID"].tolist() == ["1", "2"]
    excl = read_exclusions(tmp_path / "store" / "exclusions.tsv").set_index("IID")
    assert set(excl.index) == {"3", "4"}
    assert "not a number" in excl.loc["3", "reason"]
    assert "not finite" in excl.loc["4", "reason"]


# ---------------------------------------------------------------- resumable fundus build

STORE_FILES = ("images.npy", "index.tsv", "exclusions.tsv")
KILLED_BUILD = """
import os, signal, sys
from gemcont.phenotypes import fundus, store
manifest, out, every, stop_after, how = sys.argv[1:]
store.CHECKPOINT_ITEMS = int(every)
real, calls = fundus.preprocess_image, []
def dying(*args):
    calls.append(1)
    if len(calls) > int(stop_after):
        os.kill(os.getpid(), getattr(signal, how))
    return real(*args)
fundus.preprocess_image = dying
fundus.build_fundus_store(manifest, out, image_size=32, min_kept_fraction=0.2)
"""


def store_bytes(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in STORE_FILES}


@pytest.fixture
def uninterrupted(fundus_dir: Path) -> dict[str, bytes]:
    build_fundus_store(
        fundus_dir / "manifest.tsv", fundus_dir / "whole", image_size=32, min_kept_fraction=0.2
    )
    return store_bytes(fundus_dir / "whole")


def test_fundus_build_interrupted_after_k_images_resumes_to_the_same_store(
    fundus_dir: Path, uninterrupted, monkeypatch, caplog
) -> None:
    from gemcont.phenotypes import fundus

    real, opened = fundus.preprocess_image, []

    def interrupted_at_fourth(path, *args):
        opened.append(Path(path).name)
        if len(opened) == 4:
            raise KeyboardInterrupt
        return real(path, *args)

    monkeypatch.setattr(fundus, "preprocess_image", interrupted_at_fourth)
    out = fundus_dir / "parts"
    with pytest.raises(KeyboardInterrupt):
        build_fundus_store(fundus_dir / "manifest.tsv", out, image_size=32, min_kept_fraction=0.2)
    assert not (out / "images.npy").exists() and (out / "images.npy.partial").exists()
    opened.clear()

    def counted(path, *args):
        opened.append(Path(path).name)
        return real(path, *args)

    monkeypatch.setattr(fundus, "preprocess_image", counted)
    with caplog.at_level("INFO", logger="gemcont.phenotypes.store"):
        build_fundus_store(fundus_dir / "manifest.tsv", out, image_size=32, min_kept_fraction=0.2)
    assert f"{out}: resuming an interrupted build after 4 items (2 stored, 2 excluded)" in (
        caplog.messages
    )  # the dropped manifest row and 3 images: 2 stored, truncated.jpg excluded
    assert opened == ["empty.jpg", "missing.jpg", "black.png", "notes.jpg"]
    assert store_bytes(out) == uninterrupted
    assert sorted(p.name for p in out.iterdir()) == sorted(STORE_FILES)


@pytest.mark.parametrize(
    ("how", "resumed_after"), [("SIGTERM", 5), ("SIGKILL", 3)], ids=["sigterm", "sigkill"]
)
def test_fundus_build_killed_resumes_to_the_same_store(
    how: str, resumed_after: int, fundus_dir: Path, uninterrupted, caplog
) -> None:
    """SIGTERM (a SLURM time limit) records the progress at once; after SIGKILL the
    last periodic record (every 3 items here) is where the rerun starts."""
    out = fundus_dir / "killed"
    args = [str(fundus_dir / "manifest.tsv"), str(out), "3", "4", how]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    done = subprocess.run(
        [sys.executable, "-c", KILLED_BUILD, *args], env=env, capture_output=True, text=True
    )
    assert done.returncode == (143 if how == "SIGTERM" else -9), done.stderr
    with caplog.at_level("INFO", logger="gemcont.phenotypes.store"):
        build_fundus_store(fundus_dir / "manifest.tsv", out, image_size=32, min_kept_fraction=0.2)
    assert any(
        f"resuming an interrupted build after {resumed_after} items" in m for m in caplog.messages
    )
    assert store_bytes(out) == uninterrupted


def test_fundus_build_with_changed_settings_starts_again(fundus_dir: Path, caplog) -> None:
    out = fundus_dir / "changed"
    args = [str(fundus_dir / "manifest.tsv"), str(out), "1000", "2", "SIGTERM"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    subprocess.run([sys.executable, "-c", KILLED_BUILD, *args], env=env, check=False)
    assert (out / "images.npy.progress.json").exists()
    with caplog.at_level("INFO", logger="gemcont.phenotypes.store"):
        build_fundus_store(fundus_dir / "manifest.tsv", out, image_size=24, min_kept_fraction=0.2)
    assert (
        f"{out}: the inputs or settings changed since the interrupted build: starting again"
        in caplog.messages
    )
    build_fundus_store(
        fundus_dir / "manifest.tsv", fundus_dir / "fresh", image_size=24, min_kept_fraction=0.2
    )
    assert store_bytes(out) == store_bytes(fundus_dir / "fresh")


def test_fundus_build_with_changed_preprocessing_starts_again(
    fundus_dir: Path, monkeypatch, caplog
) -> None:
    """Another release of the preprocessing code (or of PIL) stores other bytes for the
    same image: a build interrupted under one is not resumed under the other."""
    from gemcont.phenotypes import fundus

    out = fundus_dir / "recoded"
    args = [str(fundus_dir / "manifest.tsv"), str(out), "1000", "4", "SIGTERM"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    subprocess.run([sys.executable, "-c", KILLED_BUILD, *args], env=env, check=False)
    assert (out / "images.npy.progress.json").exists()
    version = fundus.preprocessing_version()
    assert "PIL" in version and len(version.split()[0]) == 64
    monkeypatch.setattr(fundus, "preprocessing_version", lambda: version + " changed")
    with caplog.at_level("INFO", logger="gemcont.phenotypes.store"):
        build_fundus_store(fundus_dir / "manifest.tsv", out, image_size=32, min_kept_fraction=0.2)
    assert (
        f"{out}: the inputs or settings changed since the interrupted build: starting again"
        in caplog.messages
    )
