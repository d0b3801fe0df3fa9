"""Failures that explain themselves (issue 15): no disk space, schema-valid method lists
in the figures and the report, and metrics that cannot be estimated."""

from __future__ import annotations

import errno
import os
import shutil
from collections import namedtuple
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gemcont.errors import NoSpaceError
from gemcont.evaluate.collect import EvaluateSettings, aggregate, evaluate_run, read_table
from gemcont.io.atomic import atomic_open
from gemcont.io.tables import write_tsv
from gemcont.phenotypes.fundus import build_fundus_store
from gemcont.phenotypes.spirometry import build_spirometry_store
from gemcont.report import ReportInputs, build_report
from gemcont.report.stage import figures
from gemcont.settings import from_section
from tests.test_phenotype_qc import _blow, _table
from tests.test_phenotype_store import fundus_like, write_manifest
from tests.test_report import METRICS, _curves, _disease_marker, _embeddings, _people, _tsv

Usage = namedtuple("Usage", "total used free")

# ---------------------------------------------------------------------------- disk space


def _fundus(tmp_path: Path) -> Path:
    fundus_like(tmp_path / "a.png", (60, 60), (5, 5, 55, 55))
    rows = [("1", "1", "left", "a.png"), ("2", "2", "right", "a.png")]
    return write_manifest(tmp_path / "manifest.tsv", rows)


def _free(monkeypatch: pytest.MonkeyPatch, n_bytes: int) -> None:
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(10**12, 10**12, n_bytes))


def test_store_stops_before_its_memmap_when_the_disk_is_too_full(tmp_path, monkeypatch):
    manifest = _fundus(tmp_path)
    _free(monkeypatch, 1000)
    store = tmp_path / "store"
    with pytest.raises(NoSpaceError) as err:
        build_fundus_store(manifest, store, image_size=32)
    # 2 images x 3 x 32 x 32 bytes + the .npy header allowance
    assert str(err.value) == (
        f"{store / 'images.npy'}: no space left for this output: needs 10240 bytes "
        "(10.0 KiB) but only 1000 bytes are free on its file system. Fix: free space there, "
        "or run the workflow in a directory on a larger file system (the partial file was "
        "removed)"
    )
    assert err.value.errno == errno.ENOSPC
    assert sorted(p.name for p in store.iterdir()) == []  # no images.npy(.tmp) left


def test_store_stops_when_its_blocks_cannot_be_reserved(tmp_path, monkeypatch):
    # the free-space check passes but the file system refuses the blocks (quota)
    manifest = _fundus(tmp_path)

    def refuse(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.EDQUOT, "Disk quota exceeded")

    monkeypatch.setattr(os, "posix_fallocate", refuse)
    with pytest.raises(NoSpaceError, match=r"images\.npy: no space left for this output"):
        build_fundus_store(manifest, tmp_path / "store", image_size=32)
    assert list((tmp_path / "store").iterdir()) == []


def test_disk_full_while_writing_names_the_output_and_removes_the_partial_file(
    tmp_path, monkeypatch
):
    table = _table(tmp_path / "ukb_3066.tsv", {"1": [_blow()], "2": [_blow(3000.0)]})
    real_save = np.save

    def save_then_fill_up(handle, array):  # the disk fills up while curves.npy is written
        real_save(handle, array[:1])
        handle.flush()
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "save", save_then_fill_up)
    _free(monkeypatch, 10**9)  # the images' memmap passes its check
    store = tmp_path / "store"
    with pytest.raises(NoSpaceError) as err:
        build_spirometry_store(table, store, raster_size=32, curve_points=32)
    assert str(err.value).startswith(
        f"{store / 'curves.npy'}: no space left for this output: the disk filled up after "
        "384 bytes were written (1000000000 bytes (953.7 MiB) free now)"
    )
    assert not (store / "curves.npy.tmp").exists() and not (store / "curves.npy").exists()


def test_atomic_write_on_a_full_disk_removes_the_temporary_file(tmp_path, monkeypatch):
    _free(monkeypatch, 0)
    path = tmp_path / "table.tsv"
    with pytest.raises(NoSpaceError, match="the disk filled up after 5 bytes were written"):
        with atomic_open(path) as handle:
            handle.write(b"12345")
            handle.flush()
            raise OSError(errno.ENOSPC, "No space left on device")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------- method lists


def _run_outputs(d: Path, methods: tuple[str, ...], trained: bool) -> dict:
    """Per-run metric and score files of ``methods`` (2 splits), aggregated as the
    evaluate rule does, plus the embeddings, disease and marker tables."""
    metric_paths, score_paths = [], {}
    for method in methods:
        for split in (0, 1):
            rows = [
                (method, split, metric, values[0] + step * split, "")
                for metric, (values, step) in METRICS.items()
            ]
            frame = pd.DataFrame(rows, columns=["method", "split", "metric", "value", "note"])
            metric_paths.append(_tsv(frame, d / "evaluation" / method / f"{split}.tsv"))
            rng = np.random.default_rng(split)
            scores = _people(100).assign(
                split=split, outcome="assessment", y=np.arange(100) % 5 == 0, score=rng.random(100)
            )
            score_paths.setdefault(method, []).append(
                _tsv(scores, d / "evaluation" / method / f"scores_{split}.tsv")
            )
    out = {n: d / "evaluation" / f"{n}.tsv" for n in ("metrics", "summary", "comparison")}
    aggregate(metric_paths, score_paths, out | {"truth_r2": d / "truth_r2.tsv"}, truth=False)
    disease, marker = _disease_marker()
    curves = {(m, s): p for (_, s), p in _curves(d).items() for m in methods} if trained else {}
    return out | {
        "training": curves,
        "embeddings": _tsv(_embeddings(300, 1), d / "embeddings.tsv"),
        "disease": _tsv(disease, d / "disease.tsv"),
        "marker": _tsv(marker, d / "marker.tsv"),
    }


@pytest.mark.parametrize(("method", "trained"), [("clinical", False), ("prs", True)])
def test_one_method_runs_through_figures_and_report(tmp_path, method, trained):
    run = _run_outputs(tmp_path, (method,), trained)
    figs = {n: tmp_path / "figures" / f"{n}.png" for n in ("methods", "training", "pca", "violin")}
    figures(
        run["metrics"],
        run["training"],
        run["embeddings"],
        run["disease"],
        run["marker"],
        "fev1_fvc",
        figs,
        method=method,
    )
    assert all(p.is_file() and p.with_suffix(".pdf").is_file() for p in figs.values())
    splits = _people(300).assign(split_0=np.where(np.arange(300) % 2, "train", "heldout"))
    inputs = ReportInputs(
        config={"methods": [method], "data": {"modality": "spirometry"}},
        metrics=run["metrics"],
        splits=_tsv(splits, tmp_path / "splits.tsv"),
        dropped=_tsv(pd.DataFrame(columns=["FID", "IID", "step", "reason"]), tmp_path / "d.tsv"),
        panel=_tsv(pd.DataFrame({"ID": ["rs1"], "CHR": ["1"]}), tmp_path / "panel.tsv"),
        coverage=_tsv(
            pd.DataFrame({"status": ["matched"], "count": [1], "fraction": [1.0]}),
            tmp_path / "coverage.tsv",
        ),
        comparison=run["comparison"],
        methods_figure=figs["methods"],
        training_figure=figs["training"],
        pca_figure=figs["pca"],
        violin_figure=figs["violin"],
    )
    page = build_report(inputs, tmp_path / "report" / "index.html").read_text()
    label = {"clinical": "Clinical marker", "prs": "PRS"}[method]
    assert f"Held-out {label} embedding, PC1 vs PC2" in page
    assert f"Independent loci, {label} split 0" in page
    assert (
        "No DeLong comparison: it needs GEMCONT and at least one other method "
        f"(methods: {method})." in page
    )


# ---------------------------------------------------------------------------- NA metrics


def _tiny_cohort(tmp_path: Path, method: str, seed: int) -> dict[str, Path]:
    """80 held-out people, 20 of them prevalent cases; ONE incident case among the 60 others."""
    n = 160
    rng = np.random.default_rng(seed)
    ids = [str(1000 + i) for i in range(n)]
    emb = pd.DataFrame(
        {"FID": ids, "IID": ids, "set": np.where(np.arange(n) % 2, "heldout", "train")}
    )
    emb = emb.join(pd.DataFrame(rng.normal(size=(n, 3)), columns=["e_0", "e_1", "e_2"]))
    prevalent = (np.arange(n) % 8 == 1).astype(int)
    incident = np.zeros(n, int)
    incident[3] = 1  # held out, not prevalent
    disease = pd.DataFrame(
        {"FID": ids, "IID": ids, "disease_at_assessment": prevalent, "incident_5y": incident}
    )
    return {
        "embeddings": _tsv(emb, tmp_path / f"{method}_emb.tsv"),
        "disease": _tsv(disease, tmp_path / "disease.tsv"),
    }


def test_tiny_cohort_reports_not_estimable_metrics_and_goes_on(tmp_path):
    settings = from_section(EvaluateSettings, "evaluate", {})
    paths, scores = [], {}
    for method, seed in (("gemcont", 0), ("vae", 1)):
        inputs = _tiny_cohort(tmp_path, method, seed)
        metrics = evaluate_run(
            method, 0, settings, 2026, **inputs, scores_out=tmp_path / f"{method}_scores.tsv"
        )
        paths.append(tmp_path / f"{method}_metrics.tsv")
        from gemcont.evaluate.collect import write_metrics

        write_metrics(metrics, paths[-1])
        scores[method] = [tmp_path / f"{method}_scores.tsv"]
    rows = read_table(paths[0]).set_index("metric")
    reason = (
        "not estimable: 1 case(s) and 59 control(s) among the 60 held-out people; 5-fold "
        "cross-fitting with 5-fold inner CV needs at least 7 of each"
    )
    assert np.isnan(rows.loc["auc_incident_5y", "value"])
    assert rows.loc["auc_incident_5y", "note"] == reason
    assert rows.loc["auprc_incident_5y", "note"] == reason
    assert rows.loc["n_cases_incident_5y", "value"] == 1
    assert 0 < rows.loc["auc_assessment", "value"] < 1  # estimable: 20 cases, 60 controls
    assert pd.isna(rows.loc["auc_assessment", "note"])

    out = {n: tmp_path / f"{n}.tsv" for n in ("metrics", "summary", "comparison", "truth_r2")}
    aggregate(paths, scores, out, truth=False)
    comparison = read_table(out["comparison"])
    assert comparison["outcome"].tolist() == ["assessment"]  # no incident scores to compare

    inputs = ReportInputs(
        config={"methods": ["gemcont", "vae"], "data": {"modality": "fundus"}},
        metrics=out["metrics"],
        splits=_tsv(_people(10).assign(split_0="heldout"), tmp_path / "splits.tsv"),
        dropped=_tsv(pd.DataFrame(columns=["FID", "IID", "step", "reason"]), tmp_path / "d.tsv"),
        panel=_tsv(pd.DataFrame({"ID": ["rs1"], "CHR": ["1"]}), tmp_path / "panel.tsv"),
        coverage=_tsv(
            pd.DataFrame({"status": ["matched"], "count": [1], "fraction": [1.0]}),
            tmp_path / "coverage.tsv",
        ),
        comparison=out["comparison"],
    )
    page = build_report(inputs, tmp_path / "report" / "index.html").read_text()
    assert "<h3>Metrics not estimable (NA)</h3>" in page
    assert page.count(reason) == 4  # AUC and AUPRC of two methods
    assert ">NA<" in page


def test_delong_without_two_cases_is_na_with_the_reason(tmp_path):
    from gemcont.evaluate.collect import compare_methods

    ids = [str(i) for i in range(30)]
    y = np.zeros(30, int)
    y[0] = 1
    frame = pd.DataFrame(
        {"split": 0, "outcome": "incident_5y", "FID": ids, "IID": ids, "y": y}
    ).assign(score=np.linspace(0, 1, 30))
    table = compare_methods({"gemcont": frame, "vae": frame.assign(score=frame["score"][::-1])})
    row = table.iloc[0]
    assert np.isnan(row["p_delong"]) and np.isnan(row["auc"])
    assert row["note"] == (
        "not estimable: 1 case(s) and 29 control(s); DeLong's test needs at least 2 of each"
    )
    write_tsv(table, tmp_path / "comparison.tsv")  # written like any other, and shown
    from gemcont.report.sections import delong_table

    shown = delong_table(read_table(tmp_path / "comparison.tsv"))
    assert f"split 0: {row['note']}" in shown.replace("&#x27;", "'")
    assert "nan" not in shown  # the NA AUCs print as '–'
