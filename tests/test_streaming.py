"""Phenotypes streamed from the store: row reads, read-ahead, and the training and export
stages on a store larger than a tiny ``train.on_device_max_gb`` giving exactly what the
in-memory path gives."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from gemcont.errors import InputError
from gemcont.phenotypes import store as store_module
from gemcont.phenotypes.store import StoreRows
from gemcont.settings import from_section
from gemcont.train import loop, methods, stream
from gemcont.train.config import TrainSettings
from gemcont.train.export import write_embeddings
from gemcont.train.methods import embed, load_trained
from gemcont.train.stage import StageInputs, export_stage, stage_configs, train_stage

from .test_train import glyphs


def test_store_rows__reads_any_positions_in_ascending_file_order(tmp_path, monkeypatch) -> None:
    items = np.random.default_rng(0).integers(0, 256, (50, 2, 3, 4), dtype=np.uint8)
    np.save(tmp_path / "images.npy", items)
    rows = np.array([7, 3, 4, 5, 49, 0, 3, 20, 21, 22])  # runs, a repeat, unsorted
    store = StoreRows(tmp_path / "images.npy", rows)
    offsets = []
    real = store_module._read_fully

    def spy(handle, target):
        offsets.append(handle.tell())
        return real(handle, target)

    monkeypatch.setattr(store_module, "_read_fully", spy)
    positions = np.array([9, 0, 1, 2, 3, 8, 6, 4, 5, 7])
    got = store.read(positions)
    np.testing.assert_array_equal(got, items[rows[positions]])
    assert offsets == sorted(offsets)  # one pass through the file
    # 0; 3 twice (two places); 4-5 go to consecutive places and are read at once
    assert len(offsets) < len(positions)
    np.testing.assert_array_equal(store.read(), items[rows])
    np.testing.assert_array_equal(store.subset([2, 0]).read(), items[[4, 7]])
    assert store.shape == (10, 2, 3, 4) and store.nbytes == 240


def test_store_rows__a_truncated_file_stops_naming_it(tmp_path) -> None:
    np.save(tmp_path / "images.npy", np.zeros((10, 1, 4, 4), np.uint8))
    store = StoreRows(tmp_path / "images.npy")
    with open(tmp_path / "images.npy", "r+b") as handle:
        handle.truncate(store.offset + 5 * 16 + 3)
    with pytest.raises(InputError) as err:
        store.read([9, 2, 5])
    assert str(err.value) == (
        f"{tmp_path / 'images.npy'}: the file ends before row 5. "
        "Fix: rebuild the phenotype store (the file is truncated)"
    )


def test_store_rows__an_index_row_beyond_the_store_stops(tmp_path) -> None:
    np.save(tmp_path / "images.npy", np.zeros((3, 1, 2, 2), np.uint8))
    with pytest.raises(InputError) as err:
        StoreRows(tmp_path / "images.npy", np.array([0, 3]))
    assert str(err.value) == (
        f"{tmp_path / 'images.npy'}: the index names row 3, but the store holds 3 rows. "
        "Fix: rebuild the phenotype store (images.npy and index.tsv come from one run)"
    )


@pytest.mark.parametrize("threads", [0, 1, 3])
def test_prefetched__in_order_and_at_most_threads_plus_one_ahead(threads: int) -> None:
    started, consumed = [], []
    lock = threading.Lock()

    def read(i: int) -> int:
        with lock:
            started.append(i)
            assert i - len(consumed) <= threads + 1, (i, len(consumed))
        return i * i

    for value in stream.prefetched(read, range(20), threads):
        consumed.append(value)
    assert consumed == [i * i for i in range(20)]


def test_prefetched__a_consumer_that_stops_early_leaves_no_thread() -> None:
    before = threading.active_count()
    gen = stream.prefetched(lambda i: i, range(100), 2)
    assert next(gen) == 0
    gen.close()
    assert threading.active_count() == before


# ---------------------------------------------------------------- the stages

N_PEOPLE = 700  # 1,220 store rows (both eyes of most): more than one export batch of 1,024


def glyph_stage(root: Path) -> StageInputs:
    """Stage files of glyph 'photographs': people with one or two eyes, store rows in
    another order than the index, features in another order than the store."""
    rng = np.random.default_rng(1)
    x, g, _, _ = glyphs(N_PEOPLE, n_variants=20, seed=2)
    people = pd.DataFrame({"FID": [f"f{i}" for i in range(N_PEOPLE)]})
    people["IID"] = [f"i{i}" for i in range(N_PEOPLE)]
    eyes = np.where(rng.random(N_PEOPLE) < 0.75, 2, 1)
    person = np.repeat(np.arange(N_PEOPLE), eyes)
    noise = rng.integers(0, 20, (len(person), 1, 28, 28))
    items = np.clip(x[person].astype(int) + noise, 0, 255).astype(np.uint8)
    row = rng.permutation(len(person))  # store row of each index line
    store = root / "store"
    store.mkdir()
    images = np.empty_like(items)
    images[row] = items
    np.save(store / "images.npy", images)
    eye = np.where(np.r_[True, person[1:] != person[:-1]], "left", "right")
    index = people.iloc[person].assign(eye=eye, row=row)
    index.to_csv(store / "index.tsv", sep="\t", index=False)
    features = root / "features"
    features.mkdir()
    order = rng.permutation(N_PEOPLE)
    people.iloc[order].to_csv(features / "features_ids.tsv", sep="\t", index=False)
    np.save(features / "features.npy", (g - g.mean(0))[order])
    report = pd.DataFrame({"ID": [f"v{j}" for j in range(20)], "COLUMN": range(20)})
    report.assign(BETA=rng.normal(size=20)).to_csv(
        features / "features_report.tsv", sep="\t", index=False
    )
    split = np.where(rng.random(N_PEOPLE) < 0.5, "train", "heldout")
    people.assign(split_0=split).to_csv(root / "splits.tsv", sep="\t", index=False)
    return StageInputs(
        images=store / "images.npy",
        index=store / "index.tsv",
        features=features / "features.npy",
        feature_ids=features / "features_ids.tsv",
        feature_report=features / "features_report.tsv",
        splits=root / "splits.tsv",
    )


def settings(**changes: object) -> TrainSettings:
    section = {"encoder": "small_cnn", "epochs": 2, "batch_size": 64, "warmup_epochs": 1}
    section.update(device="cpu", progress=False, dim=8, latent=8, **changes)
    return from_section(TrainSettings, "train", section)


def train(inputs: StageInputs, out: Path, **changes: object) -> dict[str, torch.Tensor]:
    out.mkdir()
    train_stage(
        "gemcont",
        0,
        inputs,
        settings(**changes),
        "glyph",
        out / "checkpoint.pt",
        out / "metrics.tsv",
        out / "hparams.json",
        out / "state",
    )
    return torch.load(out / "checkpoint.pt", weights_only=True)["model"]


@pytest.fixture(scope="module")
def stage(tmp_path_factory) -> tuple[StageInputs, Path, dict[str, torch.Tensor]]:
    root = tmp_path_factory.mktemp("stage")
    inputs = glyph_stage(root)
    in_memory = train(inputs, root / "in_memory")
    return inputs, root, in_memory


def batch_sizes(monkeypatch, module) -> list[int]:
    """Rows of every ``host_rows`` call made through ``module``."""
    sizes: list[int] = []
    real = stream.host_rows

    def counted(pheno, positions, pin):
        sizes.append(len(positions))
        return real(pheno, positions, pin)

    monkeypatch.setattr(module, "host_rows", counted)
    return sizes


@pytest.mark.parametrize("workers", [0, 2])
def test_train_stage__streamed_past_a_tiny_budget_equals_in_memory(
    workers: int, stage, tmp_path, monkeypatch, caplog
) -> None:
    inputs, _, in_memory = stage
    store_gb = inputs.images.stat().st_size / 1e9
    budget = store_gb / 10
    reads = batch_sizes(monkeypatch, loop)
    with caplog.at_level(logging.INFO, logger="gemcont.train.loop"):
        streamed = train(inputs, tmp_path / "s", on_device_max_gb=budget, num_workers=workers)
    assert any("batches stream from the host" in m for m in caplog.messages)
    assert reads and max(reads) <= 64  # batch by batch, never the store
    for key, value in in_memory.items():
        torch.testing.assert_close(streamed[key], value, rtol=0, atol=0)  # bit-identical


def test_export_stage__streams_batches_and_equals_the_in_memory_path(
    stage, tmp_path, monkeypatch
) -> None:
    inputs, root, _ = stage
    inputs = StageInputs(**{**inputs.__dict__, "checkpoint": root / "in_memory/checkpoint.pt"})
    cfg = settings(on_device_max_gb=1e-6, num_workers=2)
    reads = batch_sizes(monkeypatch, methods)
    loaded = []
    real_load = np.load
    monkeypatch.setattr(
        np, "load", lambda *a, **k: loaded.append(k.get("mmap_mode")) or real_load(*a, **k)
    )
    streamed = tmp_path / "streamed.tsv.gz"
    export_stage("gemcont", 0, inputs, cfg, "glyph", "marker", streamed)
    monkeypatch.undo()
    assert reads == [1024, 1220 - 1024]  # the store in batches
    assert loaded and set(loaded) == {"r"}  # store and features memory-mapped, never loaded
    # the in-memory path: every analysed row gathered into RAM, embedded, written whole
    index = pd.read_csv(inputs.index, sep="\t", dtype=str)
    splits = pd.read_csv(inputs.splits, sep="\t", dtype=str).set_index(["FID", "IID"])
    model_cfg, _, _ = stage_configs("gemcont", cfg, "glyph", (1, 28, 28))
    model = load_trained("gemcont", inputs.checkpoint, model_cfg, (1, 28, 28), 20)
    rows = index["row"].astype(int).to_numpy()
    emb = embed(model, np.load(inputs.images)[rows], device="cpu")
    is_train = splits.loc[list(zip(index["FID"], index["IID"], strict=True)), "split_0"]
    reference = tmp_path / "in_memory.tsv.gz"
    write_embeddings(reference, index, emb, (is_train == "train").to_numpy())
    assert streamed.read_bytes() == reference.read_bytes()
