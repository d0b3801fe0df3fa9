"""The rotation simulation (paper Fig. 2): glyphs, rotation, z, EMNIST reader, one point
end to end, the summary and figure, and the fig2 DAG."""

from __future__ import annotations

import gzip
import struct
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import yaml

from gemcont.errors import InputError
from gemcont.rotation.data import (
    architecture,
    external_gwas,
    genetic_score,
    genotypes,
    latent_z,
    panel,
    rotation_angle,
    simulate_people,
    stream,
)
from gemcont.rotation.figure import fig_rotation
from gemcont.rotation.glyphs import (
    GlyphSettings,
    font_bank,
    glyph_bank,
    read_idx_images,
    render_people,
    warp,
)
from gemcont.rotation.jobs import (
    DEFAULT_POINT,
    Point,
    jobs,
    parse_point,
    point_methods,
    settings_at,
    sweep_points,
)
from gemcont.rotation.run import run_point
from gemcont.rotation.score import score_embedding
from gemcont.rotation.settings import Evaluate, read_rotation_settings, rotation_settings
from gemcont.rotation.tables import METRIC_COLUMNS, collect, write_rows

from .conftest import REPO

SMALL_GLYPHS = {"characters": "AB7k", "font_sizes": [16, 20], "stroke_widths": [0]}


def glyph_settings(**values) -> GlyphSettings:
    """``rotation.glyphs`` with the schema's defaults under ``values``."""
    return rotation_settings({"glyphs": values}).glyphs


def orientation(image: np.ndarray) -> float:
    """Major-axis angle (degrees, counter-clockwise from the x axis, y up) of an image."""
    rows, cols = np.indices(image.shape)
    w = image / image.sum()
    x, y = cols + 0.5, -(rows + 0.5)
    mx, my = (w * x).sum(), (w * y).sum()
    mu20, mu02 = (w * (x - mx) ** 2).sum(), (w * (y - my) ** 2).sum()
    mu11 = (w * (x - mx) * (y - my)).sum()
    return float(np.degrees(0.5 * np.arctan2(2 * mu11, mu20 - mu02)))


def test_glyph_bank__renders_every_combination_deterministically():
    settings = glyph_settings(**SMALL_GLYPHS)
    bank = font_bank(settings)
    assert bank.images.shape == (4 * 2, 28, 28)
    assert bank.images.dtype == np.float32
    assert 0 <= bank.images.min() and bank.images.max() <= 1
    assert (bank.images.reshape(len(bank), -1).max(axis=1) > 0.5).all()  # ink in every glyph
    assert np.array_equal(bank.images, font_bank(settings).images)
    angles = np.linspace(-15, 15, 9)
    a, which_a = render_people(bank, angles, settings, np.random.default_rng(1))
    b, which_b = render_people(bank, angles, settings, np.random.default_rng(1))
    assert a.shape == (9, 1, 28, 28) and a.dtype == np.uint8
    assert np.array_equal(a, b) and np.array_equal(which_a, which_b)
    c, _ = render_people(bank, angles, settings, np.random.default_rng(2))
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("angle", [-20.0, 0.0, 12.0, 30.0])
def test_warp__rotates_counter_clockwise_by_the_angle(angle):
    bar = np.zeros((1, 28, 28), np.float32)
    bar[0, 6:22, 13:15] = 1.0  # vertical: 90 degrees
    out = warp(bar, np.array([angle]), np.zeros((1, 2)), np.ones(1))[0]
    difference = (orientation(out) - (90.0 + angle) + 90.0) % 180.0 - 90.0  # axes mod 180
    assert difference == pytest.approx(0.0, abs=1.5)
    shifted = warp(bar, np.zeros(1), np.array([[3.0, -2.0]]), np.ones(1))[0]
    assert np.allclose(shifted[4:20, 16:18], 1.0, atol=1e-4)  # 3 right, 2 up


def test_rotation_angle__follows_alpha_max_tanh_cz():
    z = np.linspace(-4, 4, 81)
    angle = rotation_angle(z, 15.0, 0.5)
    assert np.allclose(angle, 15.0 * np.tanh(0.5 * z))
    assert np.abs(angle).max() < 15.0 and np.all(np.diff(angle) > 0)
    arch = architecture(3, 10, 5)
    bank = glyph_bank(glyph_settings(**SMALL_GLYPHS))
    people = simulate_people(
        arch, 50, 0.3, 10.0, 0.5, bank, glyph_settings(**SMALL_GLYPHS), stream(3, "test")
    )
    assert np.allclose(people.angle, 10.0 * np.tanh(0.5 * people.z))


def test_latent_z__has_the_configured_heritability():
    arch = architecture(11, 100, 20)
    assert arch.causal.sum() == 100 and np.all(arch.beta[~arch.causal] == 0)
    assert set(np.unique(arch.beta[arch.causal])) == {-1.0, 1.0}
    assert np.all((arch.freq >= 0.05) & (arch.freq <= 0.5))
    rng = np.random.default_rng(0)
    geno = genotypes(arch, 20000, rng)
    assert geno.dtype == np.int8 and set(np.unique(geno)) <= {0, 1, 2}
    genetic = genetic_score(geno, arch)
    assert genetic.mean() == pytest.approx(0, abs=0.03)
    assert genetic.std() == pytest.approx(1, abs=0.03)
    for h in (0.1, 0.3):
        z = latent_z(genetic, rng.standard_normal(len(genetic)), h)
        assert z.std() == pytest.approx(1, abs=0.03)
        assert np.corrcoef(z, genetic)[0, 1] ** 2 == pytest.approx(h, abs=0.02)
    # a smaller draw from the same stream is the first rows of a larger one
    first = genotypes(arch, 100, np.random.default_rng(5))
    assert np.array_equal(first, genotypes(arch, 300, np.random.default_rng(5))[:100])


def test_external_gwas__estimates_the_per_allele_effects():
    arch = architecture(4, 50, 50)
    truth, se0 = external_gwas(arch, 0.3, None, 4)
    assert np.all(se0 == 0) and np.all(truth[~arch.causal] == 0)
    estimate, se = external_gwas(arch, 0.3, 100000, 4)
    assert np.all(se > 0)
    assert np.corrcoef(estimate, truth)[0, 1] > 0.95
    assert np.abs((estimate - truth) / se).max() < 5
    causal = np.flatnonzero(arch.causal)
    assert np.array_equal(panel(estimate, se, 1e-5), causal)  # the paper's panel threshold
    assert np.array_equal(panel(truth, se0, 1e-5), causal)
    assert panel(estimate, se, 1.0).size == arch.n_variants


def test_ridge_r2__equals_sklearn_ridgecv_out_of_fold():
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from gemcont.evaluate.ridge import ALPHAS, kfold_splits, oof_r2, ridge_r2

    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 30)) * rng.uniform(0.5, 3, 30)
    y = np.column_stack([x[:, 0] + 2 * rng.standard_normal(500), rng.standard_normal(500)])
    model = make_pipeline(StandardScaler(), RidgeCV(alphas=ALPHAS, alpha_per_target=True))
    pred = cross_val_predict(model, x, y, cv=kfold_splits(500, 5, 3))
    assert np.allclose(ridge_r2(x, y, 3), oof_r2(y, pred), atol=1e-8)
    assert ridge_r2(x, y[:, 0], 3).shape == (1,)


def write_idx(path, images: np.ndarray) -> None:
    head = struct.pack(">4B3I", 0, 0, 0x08, 3, *images.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(head + images.astype(np.uint8).tobytes())


def test_read_idx_images__reads_emnist_layout_and_transposes(tmp_path):
    rng = np.random.default_rng(0)
    upright = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    path = tmp_path / "emnist-tiny-images-idx3-ubyte.gz"
    write_idx(path, upright.transpose(0, 2, 1))  # NIST stores EMNIST transposed
    assert np.array_equal(read_idx_images(path), upright.transpose(0, 2, 1))
    bank = glyph_bank(glyph_settings(source="emnist", emnist_path=str(path)))
    assert np.allclose(bank.images * 255, upright)
    labels = tmp_path / "labels-idx1-ubyte.gz"
    with gzip.open(labels, "wb") as fh:
        fh.write(struct.pack(">4BI", 0, 0, 0x08, 1, 3) + bytes(3))
    with pytest.raises(InputError, match="images need 3"):
        read_idx_images(labels)
    truncated = tmp_path / "short-idx3-ubyte"
    truncated.write_bytes(struct.pack(">4B3I", 0, 0, 0x08, 3, 2, 28, 28) + bytes(100))
    with pytest.raises(InputError, match="truncated"):
        read_idx_images(truncated)


def test_points__default_then_distinct_sweep_values():
    cfg = rotation_settings({"sweeps": {"n_train": [25000, 100000], "h": [0.3], "alpha_max": [5]}})
    points = sweep_points(cfg)
    assert points == [DEFAULT_POINT, Point("n_train", "25000"), Point("alpha_max", "5")]
    assert settings_at(cfg, Point("alpha_max", "5")) == {
        "n_train": 100000,
        "h": 0.3,
        "alpha_max": 5.0,
    }
    assert parse_point("h=0.10") == Point("h", "0.1")
    cfg = replace(cfg, sweeps=replace(cfg.sweeps, methods=("gemcont",)))
    assert point_methods(cfg, DEFAULT_POINT) == list(cfg.methods)
    assert point_methods(cfg, Point("n_train", "25000")) == ["gemcont"]
    assert len(jobs(cfg)) == cfg.seeds * (len(cfg.methods) + 2)


TINY = {
    "n_causal": 10,
    "n_null": 20,
    "n_train": 256,
    "n_test": 300,
    "seeds": 2,
    "methods": ["gemcont", "simclr"],
    "glyphs": SMALL_GLYPHS,
    "train": {
        "epochs": 1,
        "batch_size": 64,
        "warmup_epochs": 0,
        "device": "cpu",
        "dim": 32,
        "latent": 16,
    },
    "evaluate": {"n_components": 4, "r2_folds": 3},
}


def test_run_point__tiny_point_yields_every_metric(tmp_path):
    cfg, method = rotation_settings(TINY), "gemcont"
    row = run_point(cfg, Point("alpha_max", "20"), method, 1, tmp_path / method)
    assert list(row) == METRIC_COLUMNS
    assert row["alpha_max"] == 20.0 and row["n_train"] == 256 and row["method"] == method
    for key in ("r2", "r2_genetic", "recovery", "null_lambda"):
        assert np.isfinite(row[key]), key
    assert (tmp_path / method / "training.tsv").exists()
    assert not (tmp_path / method / "checkpoint.pt").exists()


def test_score_embedding__exact_recovery_and_false_positives():
    """Three causal variants drive the embedding, a fourth has no effect and a 'null'
    variant does: recovery is exactly 3/4 and null_fp exactly 1 (p-values far from the
    threshold, so the counts cannot depend on noise)."""
    rng = np.random.default_rng(7)
    n, d = 3000, 4
    geno = rng.binomial(2, 0.4, (n, 12)).astype(np.float64)
    causal = np.zeros(12, bool)
    causal[:4] = True
    emb = rng.normal(size=(n, d))
    emb[:, 0] += geno[:, 0] + geno[:, 1]
    emb[:, 1] += geno[:, 2] - geno[:, 1]
    emb[:, 2] += 0.8 * geno[:, 6]  # a null variant with an effect: one false positive
    z = emb[:, 0] + rng.normal(size=n)
    settings = Evaluate(n_components=None, p_threshold=5e-8, r2_folds=3)
    row = score_embedding(emb, z, z, geno, causal, settings, seed=0)
    assert row["recovery"] == 0.75 and row["recovery_bonferroni"] == 0.75
    assert row["null_fp"] == 1


def test_cli__runs_without_snakemake_bed_reader_jsonschema_or_sklearn(tmp_path):
    """The GPU machine has none of them (nor scikit-learn): the standalone path must not
    import them."""
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({"rotation": TINY}))
    out = tmp_path / "out" / "metrics.tsv"
    args = ["--config", str(config), "--methods", "supervised", "--out", str(out)]
    code = (
        "import sys; sys.modules.update(bed_reader=None, snakemake=None, jsonschema=None, "
        "sklearn=None); "
        f"from gemcont.rotation.cli import main; raise SystemExit(main({args!r}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "not validated" in result.stdout + result.stderr
    metrics = pd.read_csv(out, sep="\t")
    assert list(metrics.columns) == METRIC_COLUMNS and metrics["method"].tolist() == ["supervised"]
    assert (out.parent / "training_supervised_0.tsv").exists()


def test_collect_and_figure__summarise_seeds_and_draw_fig2(tmp_path):
    cfg = rotation_settings(
        TINY | {"sweeps": {"n_train": [128, 256], "h": [], "alpha_max": [5, 15]}}
    )
    paths = []
    for i, (point, method, seed) in enumerate(jobs(cfg)):
        values = settings_at(cfg, point)
        row = {
            "axis": point.axis,
            "value": point.value,
            "method": method,
            "seed": seed,
            "n_test": 300,
            "epochs": 1,
            "panel": 10,
            **values,
            "r2": 0.1 * seed + 0.5,
            "r2_genetic": 0.1,
            "recovery": 0.5,
            "recovery_bonferroni": 0.6,
            "null_fp": 0,
            "null_lambda": 1.0,
            "train_seconds": 1.0,
            "total_seconds": 2.0,
        }
        paths.append(tmp_path / f"{i}.tsv")
        write_rows([row], paths[-1])
    summary = collect(paths, tmp_path / "metrics.tsv", tmp_path / "summary.tsv")
    assert len(pd.read_csv(tmp_path / "metrics.tsv", sep="\t")) == len(paths)
    r2 = summary[(summary["metric"] == "r2") & (summary["method"] == "gemcont")]
    assert len(r2) == 3  # default point, n_train 128, alpha_max 5
    assert np.allclose(r2["mean"], 0.55) and np.allclose(r2["sd"], np.std([0.5, 0.6], ddof=1))
    written = fig_rotation(summary, cfg, tmp_path / "fig2")
    assert sorted(p.suffix for p in written) == [".pdf", ".png"]
    assert all(p.stat().st_size > 0 for p in written)


def test_configs__shipped_fig2_configs_are_valid():
    paper = read_rotation_settings(REPO / "config" / "paper_fig2.yaml")
    assert (paper.n_train, paper.n_test, paper.h, paper.alpha_max) == (
        100000,
        100000,
        0.3,
        15,
    )
    cpu = read_rotation_settings(REPO / "config" / "fig2_cpu.yaml")
    assert cpu.seeds >= 3 and cpu.train["device"] == "cpu"
    assert {"gemcont", "simclr", "vae", "supervised"} <= set(cpu.methods)


def test_fig2__dry_run_lists_every_point(tmp_path):
    cfg = read_rotation_settings(REPO / "config" / "fig2_cpu.yaml")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(REPO / "Snakefile"),
            "--configfile",
            str(REPO / "config" / "config.yaml"),
            str(REPO / "config" / "fig2_cpu.yaml"),
            "-n",
            "--cores",
            "2",
            "--directory",
            str(tmp_path),
            "fig2",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    counts = dict(
        line.split()[:2]
        for line in out.splitlines()
        if line.strip() and line.split()[0] in {"rotation_point", "rotation_collect", "fig2"}
    )
    assert int(counts["rotation_point"]) == len(jobs(cfg))
    assert counts["rotation_collect"] == "1" and counts["fig2"] == "1"
    assert "simulate_genetics" not in out and "train_model" not in out


def test_fig2_cpu_config__is_a_yaml_mapping():
    with open(REPO / "config" / "fig2_cpu.yaml") as fh:
        assert set(yaml.safe_load(fh)) == {"rotation"}
