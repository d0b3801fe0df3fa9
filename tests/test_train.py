"""Training end to end on CPU: loss decreases, resume == uninterrupted, data sources,
validation people, schedule, embedding and export."""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from gemcont.errors import InputError
from gemcont.io.embeddings import read_embeddings
from gemcont.settings import from_section
from gemcont.train import loop
from gemcont.train.checkpoint import state_key, state_path
from gemcont.train.config import ModelConfig, TrainConfig, TrainSettings
from gemcont.train.export import write_embeddings
from gemcont.train.loop import TrainData, draw_rows, lr_at, split_validation
from gemcont.train.methods import (
    average_by_person,
    configs_from,
    embed,
    load_trained,
    train_method,
)
from gemcont.train.stage import StageInputs, export_stage, load_stage_data

from .tiny_backbone import TinyViT


def glyphs(n: int, n_variants: int = 20, seed: int = 0) -> tuple[np.ndarray, ...]:
    """1 x 28 x 28 'L' glyphs rotated by 45 deg * tanh(z), z = standardised G beta."""
    rng = np.random.default_rng(seed)
    g = rng.binomial(2, rng.uniform(0.1, 0.5, n_variants), (n, n_variants)).astype(np.float32)
    beta = rng.choice([-1.0, 1.0], n_variants)
    z = g @ beta
    z = ((z - z.mean()) / z.std()).astype(np.float32)
    angle = torch.tensor(np.deg2rad(45) * np.tanh(z), dtype=torch.float32)
    base = torch.zeros(1, 1, 28, 28)
    base[..., 6:22, 12:16] = 1
    base[..., 18:22, 12:22] = 1
    cos, sin, zero = angle.cos(), angle.sin(), torch.zeros_like(angle)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    grid = F.affine_grid(theta, [n, 1, 28, 28], align_corners=False)
    x = F.grid_sample(base.expand(n, -1, -1, -1), grid, align_corners=False)
    return (x * 255).round().to(torch.uint8).numpy(), g, beta, z


def configs(**section: object) -> tuple[ModelConfig, TrainConfig]:
    """Configs of a partial ``train`` section (schema defaults for the rest): small CNN on
    glyphs, MSE target."""
    return configs_from({"encoder": "small_cnn", **section}, "glyph", "mse")


TINY = {"epochs": 3, "batch_size": 64, "lr": 2e-3, "warmup_epochs": 1, "seed": 3}


def tiny_config(**changes: object) -> TrainConfig:
    return configs(**{**TINY, "device": "cpu", "progress": False, **changes})[1]


@pytest.fixture(scope="module")
def data() -> tuple[TrainData, np.ndarray]:
    x, g, beta, z = glyphs(256)
    return TrainData(x, g, target=z), beta


def run(
    method: str, data: TrainData, beta: np.ndarray, out: Path, **cfg: object
) -> torch.nn.Module:
    model_cfg, train_cfg = configs()[0], tiny_config(**cfg)
    return train_method(
        method, data, beta, model_cfg, train_cfg, out / f"{method}.pt", out / f"{method}.tsv"
    )


def test_train_gemcont__loss_decreases_and_metrics_written(data, tmp_path) -> None:
    train_data, beta = data
    model = run("gemcont", train_data, beta, tmp_path)
    metrics = pd.read_csv(tmp_path / "gemcont.tsv", sep="\t")
    assert list(metrics.columns) == loop.METRIC_COLUMNS
    assert metrics["epoch"].tolist() == [1, 2, 3]
    assert metrics["train/loss"].iloc[-1] < metrics["train/loss"].iloc[0] - 0.1
    assert (metrics["train/temperature"] > 0.01).all() and metrics["val/loss"].notna().all()
    assert not (tmp_path / "gemcont.pt.tmp").exists()
    assert embed(model, train_data.pheno[:10], batch_size=4, device="cpu").shape == (10, 256)


def test_train__resume_after_kill_equals_uninterrupted(data, tmp_path, monkeypatch) -> None:
    train_data, beta = data
    whole = run("gemcont", train_data, beta, tmp_path / "whole", epochs=4).state_dict()

    real_run_epoch, calls = loop.run_epoch, []

    def killed_at_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_run_epoch(*args, **kwargs)

    monkeypatch.setattr(loop, "run_epoch", killed_at_third)
    with pytest.raises(KeyboardInterrupt):
        run("gemcont", train_data, beta, tmp_path / "parts", epochs=4)
    assert torch.load(tmp_path / "parts" / "gemcont.pt", weights_only=True)["epoch"] == 2
    monkeypatch.setattr(loop, "run_epoch", real_run_epoch)
    resumed = run("gemcont", train_data, beta, tmp_path / "parts", epochs=4).state_dict()
    for key, value in whole.items():
        torch.testing.assert_close(resumed[key], value, rtol=0, atol=0)  # bit-identical
    metrics = pd.read_csv(tmp_path / "parts" / "gemcont.tsv", sep="\t")
    assert metrics["epoch"].tolist() == [1, 2, 3, 4]


def test_fit__with_a_state_folder_writes_the_checkpoint_at_the_end_only(
    data, tmp_path, monkeypatch
) -> None:
    """The per-epoch state goes to the state folder; the declared checkpoint appears
    once the run is done, and the state folder is then removed."""
    train_data, beta = data
    small = TrainData(train_data.pheno[:96], train_data.geno[:96], train_data.target[:96])
    state = state_path(tmp_path / "state", {"run": 1})
    real_run_epoch, calls = loop.run_epoch, []

    def killed_at_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_run_epoch(*args, **kwargs)

    monkeypatch.setattr(loop, "run_epoch", killed_at_second)
    model_cfg, train_cfg = configs()[0], tiny_config(epochs=2)
    args = ("prs", small, beta, model_cfg, train_cfg, tmp_path / "out.pt", tmp_path / "m.tsv")
    with pytest.raises(KeyboardInterrupt):
        train_method(*args, state=state)
    assert not (tmp_path / "out.pt").exists()
    assert torch.load(state, weights_only=True)["epoch"] == 1
    assert json.loads((state.parent / "key.json").read_text()) == {"run": 1}
    monkeypatch.setattr(loop, "run_epoch", real_run_epoch)
    train_method(*args, state=state)
    assert torch.load(tmp_path / "out.pt", weights_only=True)["epoch"] == 2
    assert not state.parent.exists()


def test_state_path__same_run_same_folder_changed_config_or_input_removes_it(tmp_path) -> None:
    features = tmp_path / "features.npy"
    features.write_bytes(b"x" * 10)
    root = tmp_path / "state"
    first = state_path(root, state_key({"lr": 1e-3}, [features]))
    first.write_bytes(b"state")
    assert state_path(root, state_key({"lr": 1e-3}, [features])) == first and first.exists()
    second = state_path(root, state_key({"lr": 2e-3}, [features]))
    assert second != first and not first.parent.exists()
    features.write_bytes(b"y" * 11)  # a rewritten input
    third = state_path(root, state_key({"lr": 2e-3}, [features]))
    assert third != second and not second.parent.exists()
    os.utime(features, ns=(1, 1))  # the same size, another modification time
    assert state_path(root, state_key({"lr": 2e-3}, [features])) != third


def test_train__resumed_finished_run_rewrites_its_curve(data, tmp_path) -> None:
    """A rerun whose checkpoint has no epoch left to train still writes the curve."""
    train_data, beta = data
    small = TrainData(train_data.pheno[:96], train_data.geno[:96], train_data.target[:96])
    run("prs", small, beta, tmp_path, epochs=1)
    (tmp_path / "prs.tsv").unlink()
    run("prs", small, beta, tmp_path, epochs=1)
    curve = pd.read_csv(tmp_path / "prs.tsv", sep="\t")
    assert list(curve.columns) == loop.METRIC_COLUMNS and curve["epoch"].tolist() == [1]


def test_train__memmap_source_equals_device_source(data, tmp_path) -> None:
    train_data, beta = data
    np.save(tmp_path / "x.npy", train_data.pheno)
    mapped = TrainData(np.load(tmp_path / "x.npy", mmap_mode="r"), train_data.geno)
    cfg = {"epochs": 1, "num_workers": 0}
    on_device = run("prs", mapped, beta, tmp_path / "a", **cfg).state_dict()
    streamed = run("prs", mapped, beta, tmp_path / "b", on_device_max_gb=0.0, **cfg).state_dict()
    for key, value in on_device.items():
        torch.testing.assert_close(streamed[key], value, rtol=0, atol=0)


@pytest.mark.parametrize("method", ["prs", "simclr", "vae", "supervised"])
def test_train_method__baselines_run_and_reload(method: str, data, tmp_path) -> None:
    train_data, beta = data
    small = TrainData(train_data.pheno[:96], train_data.geno[:96], train_data.target[:96])
    model = run(method, small, beta, tmp_path, epochs=1, batch_size=32)
    assert np.isfinite(pd.read_csv(tmp_path / f"{method}.tsv", sep="\t")["train/loss"]).all()
    reloaded = load_trained(method, tmp_path / f"{method}.pt", configs()[0], (1, 28, 28), 20)
    x = small.pheno[:5]
    np.testing.assert_allclose(embed(reloaded, x, device="cpu"), embed(model, x, device="cpu"))


def test_train_method__frozen_vit_encoder_keeps_backbone_and_reloads(data, tmp_path) -> None:
    train_data, beta = data
    small = TrainData(train_data.pheno[:96], train_data.geno[:96])
    torch.manual_seed(1)
    backbone = TinyViT()
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    cfg = replace(configs(encoder="frozen_vit", dim=16, latent=8)[0], backbone_features=24)
    train_cfg = tiny_config(epochs=1, batch_size=32)
    model = train_method(
        "gemcont", small, beta, cfg, train_cfg, tmp_path / "g.pt", tmp_path / "g.tsv", backbone
    )
    for key, value in backbone.state_dict().items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)
    # grey glyphs are normalised with the backbone's 3-channel (ImageNet) statistics
    standardize = model.phenotype[0]
    np.testing.assert_allclose(standardize.mean.numpy(), cfg.backbone_mean, rtol=1e-6)
    # the checkpoint holds the trained weights only; the backbone comes from its own file
    saved = torch.load(tmp_path / "g.pt", weights_only=True)["model"]
    assert saved and not [k for k in saved if "backbone" in k]
    assert all(k in saved for k, _ in model.named_parameters() if "backbone" not in k)
    reloaded = load_trained("gemcont", tmp_path / "g.pt", cfg, (1, 28, 28), 20, backbone)
    x = small.pheno[:5]
    np.testing.assert_allclose(embed(reloaded, x, device="cpu"), embed(model, x, device="cpu"))


def test_split_validation__people_disjoint_first_row_each() -> None:
    person = np.repeat(np.arange(100), 2)  # both eyes
    train_rows, val_rows = split_validation(person, 0.05, seed=0)
    assert len(val_rows) == 5 and len(set(person[val_rows])) == 5
    assert not set(person[train_rows]) & set(person[val_rows])
    assert len(train_rows) + 2 * len(val_rows) == len(person)
    again = split_validation(person, 0.05, seed=0)
    assert np.array_equal(again[1], val_rows)


def test_draw_rows__one_row_per_person_random_eye() -> None:
    person_t = torch.tensor([0, 0, 1, 2, 2, 3])
    picks = [draw_rows(person_t, torch.Generator().manual_seed(s)) for s in range(30)]
    for pick in picks:
        assert sorted(person_t[pick].tolist()) == [0, 1, 2, 3]
    eyes_of_0 = {int(p[person_t[p] == 0]) for p in picks}
    assert eyes_of_0 == {0, 1}


def test_lr_at__warmup_then_cosine_to_zero() -> None:
    cfg = configs(epochs=10, warmup_epochs=2, lr=1.0)[1]
    lrs = [lr_at(step, cfg, steps_per_epoch=5) for step in range(50)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[10] == pytest.approx(1.0) and all(np.diff(lrs[10:]) < 0)
    assert lrs[-1] < 0.01


def test_average_by_person__means_both_eyes_in_first_seen_order() -> None:
    emb = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], np.float32)
    ids, mean = average_by_person(["b", "a", "b"], emb)
    assert list(ids) == ["b", "a"]
    np.testing.assert_allclose(mean, [[3.0, 4.0], [3.0, 4.0]])


def test_write_embeddings__columns_sets_and_eye_average(tmp_path) -> None:
    index = pd.DataFrame({"FID": ["f1", "f2", "f1"], "IID": ["i1", "i2", "i1"]})
    emb = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]], np.float32)
    path = tmp_path / "emb.tsv.gz"
    write_embeddings(path, index, emb, is_train=np.array([False, True, False]))
    with gzip.open(path, "rt") as fh:
        back = pd.read_csv(fh, sep="\t")
    assert list(back.columns) == ["FID", "IID", "set", "e_0", "e_1"]
    assert back["set"].tolist() == ["heldout", "train"]
    np.testing.assert_allclose(back[["e_0", "e_1"]].to_numpy(), [[2.0, 3.0], [2.0, 3.0]])


@pytest.mark.parametrize("trained", [0, 1])
def test_write_embeddings__iid_shared_by_two_families_flagged_by_fid_and_iid(
    trained: int, tmp_path
) -> None:
    """People are (FID, IID) pairs: the training person's IID in another family is held
    out (an IID-only join would leak it into training)."""
    index = pd.DataFrame({"FID": ["fA", "fB", "fA"], "IID": ["1", "1", "2"]})
    is_train = np.arange(3) == trained
    write_embeddings(tmp_path / "e.tsv.gz", index, np.zeros((3, 1), np.float32), is_train)
    back = read_embeddings(tmp_path / "e.tsv.gz")
    assert back[["FID", "IID"]].values.tolist() == [["fA", "1"], ["fB", "1"], ["fA", "2"]]
    assert back["set"].tolist() == np.where(is_train, "train", "heldout").tolist()


def shared_iid_stage(root: Path) -> StageInputs:
    """Stage files of 4 people (two eyes each) where families A and B both have IID 1:
    split_0 trains (A, 1) and holds out (B, 1); split_1 the other way round."""
    people = pd.DataFrame({"FID": ["A", "B", "A", "C"], "IID": ["1", "1", "2", "1"]})
    store = root / "store"
    store.mkdir()
    index = people.loc[people.index.repeat(2)].reset_index(drop=True)
    index = index.assign(eye=["left", "right"] * 4, row=np.arange(8)[::-1])
    index.to_csv(store / "index.tsv", sep="\t", index=False)
    np.save(store / "images.npy", np.zeros((8, 1, 4, 4), np.uint8))
    features = root / "features"
    features.mkdir()
    ids = people.iloc[::-1]  # another order than the store's
    ids.to_csv(features / "features_ids.tsv", sep="\t", index=False)
    np.save(features / "features.npy", np.arange(8, dtype=np.float32).reshape(4, 2))
    report = pd.DataFrame({"ID": ["v1", "v2"], "COLUMN": [0, 1], "BETA": [0.5, -0.5]})
    report.to_csv(features / "features_report.tsv", sep="\t", index=False)
    splits = people.assign(
        split_0=["train", "heldout", "heldout", "train"],
        split_1=["heldout", "train", "train", "heldout"],
    )
    splits.to_csv(root / "splits.tsv", sep="\t", index=False)
    marker = people.assign(marker=[0.1, 0.2, 0.3, 0.4])
    marker.to_csv(root / "marker.tsv", sep="\t", index=False)
    return StageInputs(
        images=store / "images.npy",
        index=store / "index.tsv",
        features=features / "features.npy",
        feature_ids=features / "features_ids.tsv",
        feature_report=features / "features_report.tsv",
        splits=root / "splits.tsv",
        marker=root / "marker.tsv",
    )


def by_person(table: pd.DataFrame, column: str) -> dict[tuple[str, str], str]:
    keys = zip(table["FID"], table["IID"], strict=True)
    return dict(zip(keys, table[column], strict=True))


@pytest.mark.parametrize("split", [0, 1])
def test_export_stage__iid_shared_by_two_families_held_out_exactly(split: int, tmp_path) -> None:
    inputs = shared_iid_stage(tmp_path)
    splits = pd.read_csv(inputs.splits, sep="\t", dtype=str)
    expected = by_person(splits, f"split_{split}")
    data = load_stage_data(inputs, split)
    keys = list(zip(data.index["FID"], data.index["IID"], strict=True))
    assert data.is_train.tolist() == [expected[k] == "train" for k in keys]
    assert data.geno()[:, 0].tolist() == [6, 6, 4, 4, 2, 2, 0, 0]  # rows of each (FID, IID)
    settings = from_section(TrainSettings, "train")
    out = tmp_path / "emb.tsv.gz"
    export_stage("clinical", split, inputs, settings, "glyph", "marker", out)
    back = read_embeddings(out)
    assert by_person(back, "set") == expected
    np.testing.assert_allclose(back["e_0"], [0.1, 0.2, 0.3, 0.4], rtol=1e-6)


def test_export_stage__a_label_neither_train_nor_heldout_stops_naming_the_line(tmp_path) -> None:
    """Before: every label but "train" was exported as held out."""
    inputs = shared_iid_stage(tmp_path)
    splits = pd.read_csv(inputs.splits, sep="\t", dtype=str)
    splits.loc[2, "split_0"] = "withdrawn"
    splits.to_csv(inputs.splits, sep="\t", index=False)
    with pytest.raises(InputError) as err:
        load_stage_data(inputs, 0)
    assert str(err.value) == (
        f"{inputs.splits}: line 4 (FID A IID 2): split_0 is 'withdrawn', not 'train' or "
        "'heldout' (1 row(s) in all). Fix: rerun make_splits (it writes this table)"
    )


def test_export_stage__a_person_of_the_splits_without_store_rows_stops(tmp_path) -> None:
    """Before: the held-out set silently lost them."""
    inputs = shared_iid_stage(tmp_path)
    index = pd.read_csv(inputs.index, sep="\t", dtype=str)
    index[index["FID"] != "C"].to_csv(inputs.index, sep="\t", index=False)
    with pytest.raises(InputError) as err:
        load_stage_data(inputs, 0)
    assert str(err.value) == (
        f"{inputs.splits}: FID C IID 1: 1 people of the splits have no row in the phenotype "
        f"store {inputs.index}. Fix: rerun make_splits after rebuilding the phenotype store"
    )


def test_export_stage__store_people_absent_from_the_splits_get_no_row(tmp_path, caplog) -> None:
    inputs = shared_iid_stage(tmp_path)
    splits = pd.read_csv(inputs.splits, sep="\t", dtype=str)
    splits[splits["IID"] != "2"].to_csv(inputs.splits, sep="\t", index=False)
    report = pd.DataFrame(
        [["A", "2", "withdrawn", "negative IID (withdrawn from UK Biobank)"]],
        columns=["FID", "IID", "step", "reason"],
    )
    report.to_csv(tmp_path / "dropped.tsv", sep="\t", index=False)
    inputs = replace(inputs, dropped=tmp_path / "dropped.tsv")
    out = tmp_path / "emb.tsv.gz"
    with caplog.at_level("INFO", logger="gemcont.train.stage"):
        export_stage(
            "clinical", 0, inputs, from_section(TrainSettings, "train"), "glyph", "marker", out
        )
    expected = (
        f"1 people of the phenotype store left out: absent from {inputs.splits} (1 withdrawn)"
    )
    assert expected in caplog.messages
    back = read_embeddings(out)
    assert by_person(back, "set") == {
        ("A", "1"): "train",
        ("B", "1"): "heldout",
        ("C", "1"): "train",
    }
