"""HTML report and paper-style figures on a tiny synthetic set of run outputs."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.text import Text
from PIL import Image

from gemcont.errors import InputError
from gemcont.plots.figures import (
    LEGEND_SIZE,
    TITLE_SIZE,
    embedding_pca_figure,
    fig_embedding_pca,
    fig_marker_violin,
    fig_methods,
    fig_training_curves,
    heldout_pcs,
    marker_violin_figure,
    methods_figure,
    metric_summary,
    training_curves_figure,
)
from gemcont.plots.gwas import DPI
from gemcont.report import ReportInputs, build_report
from gemcont.report.cells import count_mean_sd, fmt, mean_sd

METHODS = ("gemcont", "simclr")
# metric: (GEMCONT, SimCLR) on split 0, and the step added per split
METRICS = {
    "auc_assessment": ((0.71, 0.65), 0.01),
    "auc_incident_5y": ((0.66, 0.60), 0.01),
    "gwas_recovery_gw": ((0.40, 0.10), 0.01),
    "gwas_recovery_bonferroni": ((0.70, 0.30), 0.01),
    "gwas_n_loci": ((7.0, 2.0), 1.0),
    "gwas_n_new": ((0.0, 0.0), 0.0),
    "n_assessment": ((195.0, 195.0), 0.0),
    "r2_latent_0": ((0.80, 0.40), 0.01),
}


def _tsv(df: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, sep="\t", index=False)
    return path


def _png(path: Path) -> Path:
    fig = Figure(figsize=(1, 1))
    fig.add_subplot().plot([0, 1], [0, 1])
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=20)
    return path


def _metrics() -> pd.DataFrame:
    rows = [
        (method, split, metric, values[i] + step * split)
        for i, method in enumerate(METHODS)
        for split in (0, 1)
        for metric, (values, step) in METRICS.items()
    ]
    return pd.DataFrame(rows, columns=["method", "split", "metric", "value"])


def _people(n: int) -> pd.DataFrame:
    ids = [str(1000 + i) for i in range(n)]
    return pd.DataFrame({"FID": ids, "IID": ids})


@pytest.fixture
def inputs(tmp_path: Path) -> ReportInputs:
    d = tmp_path / "results"
    people = _people(1200)
    splits = people.assign(
        split_0=np.where(np.arange(1200) % 2, "train", "heldout"), split_1="train"
    )
    dropped = pd.DataFrame(
        {
            "FID": ["1", "2", "3"],
            "IID": ["1", "2", "3"],
            "step": ["genotypes (.fam)", "phenotypes", "phenotypes"],
            "reason": ["not in .fam", "curve: <unreadable>", "curve: <unreadable>"],
        }
    )
    comparison = pd.DataFrame(
        {
            "method": ["simclr"] * 2,
            "split": [0, 1],
            "outcome": ["disease_at_assessment"] * 2,
            "auc": [0.65, 0.66],
            "auc_ref": [0.71, 0.72],
            "diff": [-0.06, -0.06],
            "p_delong": [3.2e-5, 0.042],
        }
    )
    loci = pd.DataFrame(
        {
            "ID": ["rs1", "rs2"],
            "CHR": ["1", "2"],
            "POS": [12345, 67890],
            "P": [2.6e-12, 1e-9],
            "N_CLUMPED": [3, 0],
            "SP2": ["a,b,c", "NONE"],
            "BIM_INDEX": [1, 2],
            "NEAREST_PANEL_KB": [0.0, 812.5],
            "NEW": [False, True],
        }
    )
    variant_qc = pd.DataFrame(
        {
            "CHR": ["1", "X"],
            "SCANNED": [12000, 900],
            "MFI_INFO": [3000, 0],
            "MISSING": [10, 2],
            "INFO": [2000, 0],
            "MAF_MAC": [990, 98],
            "UNTESTED": [0, 0],
            "KEPT": [6000, 800],
        }
    )
    panel = pd.DataFrame({"ID": ["rs1", "rs3", "rs4"], "CHR": ["1", "1", "3"]})
    coverage = pd.DataFrame(
        {
            "status": ["matched", "dropped_ambiguous"],
            "count": [14799, 351],
            "fraction": [0.9768, 0.0232],
        }
    )
    eaf_check = pd.DataFrame(
        {
            "study": ["finngen", "mvp<1>"],
            "checked": [True, False],
            "n_compared": [812, 0],
            "median_abs_diff": [0.012, np.nan],
            "correlation": [0.97, np.nan],
            "n_ambiguous_without_eaf": [0, 37],
            "message": [
                "EAF agrees with the cohort on 812 variants",
                "no EAF column: 37 strand-ambiguous variants dropped for lack of it",
            ],
        }
    )
    truth = d / "simulate" / "truth" / "summary.json"
    truth.parent.mkdir(parents=True)
    truth.write_text(json.dumps({"n_cohort": 1200, "cohort_prevalence": 0.1045}))
    config = {
        "methods": list(METHODS),
        "data": {"modality": "spirometry"},
        "splits": {"n_splits": 2},
        "train": {"epochs": 20, "lr": 3e-4},
    }
    return ReportInputs(
        config=config,
        metrics=_tsv(_metrics(), d / "evaluate" / "metrics.tsv"),
        splits=_tsv(splits, d / "splits" / "splits.tsv"),
        dropped=_tsv(dropped, d / "splits" / "dropped.tsv"),
        panel=_tsv(panel, d / "panel" / "panel.tsv"),
        coverage=_tsv(coverage, d / "panel" / "coverage.tsv"),
        eaf_check=_tsv(eaf_check, d / "panel" / "eaf_check.tsv"),
        comparison=_tsv(comparison, d / "evaluate" / "comparison.tsv"),
        loci=_tsv(loci, d / "gwas" / "gemcont" / "split_0" / "loci.tsv"),
        variant_qc=_tsv(variant_qc, d / "gwas" / "gemcont" / "split_0" / "variant_qc.tsv"),
        truth_summary=truth,
        methods_figure=_png(d / "figures" / "methods.png"),
        manhattan={m: _png(d / "gwas" / m / "split_0" / "manhattan.png") for m in METHODS},
        qq={m: _png(d / "gwas" / m / "split_0" / "qq.png") for m in METHODS},
        qc_images=[_png(d / "simulate" / "qc" / "flow_volume_curves.png")],
    )


def _build(inputs: ReportInputs, tmp_path: Path) -> tuple[str, Path]:
    out = build_report(inputs, tmp_path / "report" / "index.html")
    return out.read_text(), out


def test_build_report__sections_tables_and_numbers(inputs: ReportInputs, tmp_path: Path) -> None:
    page, _ = _build(inputs, tmp_path)
    for anchor in ("config", "cohort", "panel", "comparison", "figures", "gwas", "simulation"):
        assert f'<section id="{anchor}">' in page
    assert "<strong>1,200</strong> people" in page
    assert "14,799" in page and "97.7%" in page  # coverage counts and fractions
    assert "0.715 ± 0.007" in page  # GEMCONT AUC at assessment over two splits
    # counts print as integers: loci 7 and 8 over two splits, nothing new, 195 people
    assert '<td class="num">7.5 ± 0.7</td>' in page
    assert '<td class="num">0 ± 0</td>' in page
    assert '<td class="num">195 ± 0</td>' in page
    assert "195.000" not in page and "0.0 ± " not in page
    assert "3.2×10<sup>−5</sup>, 0.042" in page  # DeLong p per split
    assert "2.6×10<sup>−12</sup>" in page and ">812.5<" in page
    assert ">known<" in page and ">new<" in page
    # variant QC per chromosome and in all: 12,900 scanned, 6,800 tested
    assert '<td>X</td><td class="num">900</td>' in page
    assert '<td>all</td><td class="num">12,900</td><td class="num">3,000</td>' in page
    assert '<td class="num">6,800</td></tr>' in page
    assert "curve: &lt;unreadable&gt;" in page and "<unreadable>" not in page
    assert page.count("<table>") >= 8
    # a study whose effect allele went unchecked is named, its dropped count shown
    assert "<strong>Not checked: mvp&lt;1&gt;</strong>" in page
    assert "no EAF column: 37 strand-ambiguous variants dropped for lack of it" in page


def test_build_report__figures_copied_and_relative(inputs: ReportInputs, tmp_path: Path) -> None:
    page, out = _build(inputs, tmp_path)
    sources = re.findall(r'<img src="([^"]+)"', page)
    # shown at their printed size: 1 inch at 20 dpi -> 96 CSS px
    assert page.count('<img src="figures/methods.png" width="96"') == 1
    assert len(sources) == 6  # methods, 2 x (Manhattan, QQ), one QC image
    assert all(src.startswith("figures/") for src in sources)
    assert all((out.parent / src).is_file() for src in sources)
    assert not re.search(r'(src|href)="(https?:)?//', page)


def test_build_report__optional_inputs_missing_are_noted(
    inputs: ReportInputs, tmp_path: Path
) -> None:
    sparse = replace(
        inputs, comparison=None, truth_summary=None, qc_images=(), loci=tmp_path / "no.tsv"
    )
    page, _ = _build(sparse, tmp_path)
    assert "No DeLong comparison table for this run" in page
    assert f"No loci table: {tmp_path / 'no.tsv'} not found." in page
    assert "No variant QC table" not in page
    no_qc, _ = _build(replace(inputs, variant_qc=None), tmp_path / "no_qc")
    assert "No variant QC table for this run" in no_qc
    engine = tmp_path / "engine_qc.tsv"  # plink2 / REGENIE: MISSING and INFO are NA
    engine.write_text(
        "CHR\tSCANNED\tMFI_INFO\tMISSING\tINFO\tMAF_MAC\tUNTESTED\tKEPT\n1\t10\t0\t\t\t1\t2\t7\n"
    )
    with_na, _ = _build(replace(inputs, variant_qc=engine), tmp_path / "engine")
    assert '<td class="num">0</td><td>–</td><td>–</td><td class="num">1</td>' in with_na
    assert 'id="simulation"' not in page


def test_build_report__missing_required_input_raises(inputs: ReportInputs, tmp_path: Path) -> None:
    inputs.metrics.unlink()
    with pytest.raises(InputError, match="required report input 'metrics'.*evaluate"):
        _build(inputs, tmp_path)


def test_fmt__numbers() -> None:
    assert fmt(1234567) == "1,234,567"
    assert fmt(0.5) == "0.500"
    assert fmt(-0.25) == "−0.250"
    assert fmt(float("nan")) == "–"
    assert fmt(4.2e-9) == "4.2×10<sup>−9</sup>"
    assert fmt(True) == "yes"
    assert mean_sd(0.71234, 0.01489, 2) == "0.712 ± 0.015"
    assert mean_sd(0.71234, 0.0, 1) == "0.712"
    assert mean_sd(float("nan"), float("nan"), 1) == "–"  # a DeLong test NA in every split
    assert count_mean_sd(0.0, 0.0, 1) == "0"
    assert count_mean_sd(195.0, 0.0, 1) == "195"
    assert count_mean_sd(1234.0, 0.0, 2) == "1,234 ± 0"
    assert count_mean_sd(7.5, 0.70710678, 2) == "7.5 ± 0.7"
    assert count_mean_sd(float("nan"), float("nan"), 2) == "– ± –"


def test_metric_summary__mean_sd_long_or_wide() -> None:
    long = _metrics()
    wide = long.pivot_table(index=["method", "split"], columns="metric", values="value")
    for table in (long, wide.reset_index()):
        stats = metric_summary(table).set_index(["method", "metric"])
        row = stats.loc[("gemcont", "auc_assessment")]
        assert row["mean"] == pytest.approx(0.715)
        assert row["sd"] == pytest.approx(0.01 / np.sqrt(2))
        assert row["n"] == 2


def _embeddings(n: int, dims: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    emb = _people(n).assign(set=np.where(np.arange(n) % 2, "heldout", "train"))
    values = rng.standard_normal((n, dims)) * np.linspace(3, 1, dims)
    return pd.concat([emb, pd.DataFrame(values, columns=[f"e_{i}" for i in range(dims)])], axis=1)


def test_heldout_pcs__heldout_only_and_one_dimension() -> None:
    pcs, explained = heldout_pcs(_embeddings(200, 4), 2)
    assert len(pcs) == 100 and list(pcs.columns) == ["FID", "IID", "PC1", "PC2"]
    assert explained[0] >= explained[1] > 0 and explained.sum() <= 1
    one, explained_one = heldout_pcs(_embeddings(50, 1), 2)
    assert (one["PC2"] == 0).all() and explained_one[0] == pytest.approx(1.0)


def _curves(tmp_path: Path) -> dict[tuple[str, int], Path]:
    curve = pd.DataFrame(
        {"epoch": [1, 2, 3], "train/loss": [3.0, 2.0, 1.5], "val/loss": [3.1, 2.4, 2.0]}
    )
    return {
        (m, s): _tsv(curve + [0, s, s], tmp_path / f"{m}_{s}.tsv") for m in METHODS for s in (0, 1)
    }


def _disease_marker() -> tuple[pd.DataFrame, pd.DataFrame]:
    disease = _people(300).assign(disease_at_assessment=(np.arange(300) % 5 == 0).astype(int))
    marker = _people(300).assign(fev1_fvc=np.linspace(0.6, 0.9, 300))
    return disease, marker


def test_methods_figure__bars_are_means_with_sd_error_bars() -> None:
    metrics = _metrics()
    fig = methods_figure(metrics)
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert titles == ["Genetic recovery", "Risk prediction", "Latent trait (simulation)"]
    panels = (
        ["gwas_recovery_gw", "gwas_recovery_bonferroni"],
        ["auc_assessment", "auc_incident_5y"],
        ["r2_latent_0"],
    )
    for ax, series in zip(fig.axes, panels, strict=True):
        assert [t.get_text() for t in ax.get_xticklabels()] == ["GEMCONT", "SimCLR"]
        bars = [c for c in ax.containers if isinstance(c, BarContainer)]
        for container, metric in zip(bars, series, strict=True):
            values = [
                metrics.loc[(metrics["method"] == m) & (metrics["metric"] == metric), "value"]
                for m in METHODS
            ]
            heights = [bar.get_height() for bar in container.patches]
            np.testing.assert_allclose(heights, [v.mean() for v in values])
            segments = container.errorbar.lines[2][0].get_segments()
            spans = [seg[1][1] - seg[0][1] for seg in segments]
            np.testing.assert_allclose(spans, [2 * v.std() for v in values])


def test_training_curves_figure__losses_type_sizes_and_whole_epochs(tmp_path: Path) -> None:
    fig = training_curves_figure(_curves(tmp_path))
    reference = methods_figure(_metrics())
    panel = reference.get_size_inches() / [len(reference.axes), 1]
    np.testing.assert_allclose(fig.get_size_inches(), panel * [len(METHODS), 1])
    for ax, method in zip(fig.axes, ("GEMCONT", "SimCLR"), strict=True):
        assert ax.get_title(loc="left") == method
        title = next(t for t in ax.findobj(Text) if t.get_text() == method)
        assert title.get_fontsize() == TITLE_SIZE
        lines = {line.get_label(): line for line in ax.get_lines()}
        assert sorted(lines) == sorted(
            f"{kind}, split {s}" for kind in ("train", "validation") for s in (0, 1)
        )
        np.testing.assert_array_equal(lines["train, split 1"].get_xdata(), [1, 2, 3])
        np.testing.assert_array_equal(lines["validation, split 1"].get_ydata(), [4.1, 3.4, 3.0])
        assert {t.get_fontsize() for t in ax.get_legend().get_texts()} == {LEGEND_SIZE}
        fig.canvas.draw()
        ticks = [t for t in ax.get_xticks() if 1 <= t <= 3]
        assert ticks == [1, 2, 3]
    legend_sizes = {t.get_fontsize() for ax in reference.axes for t in ax.get_legend().get_texts()}
    assert legend_sizes == {LEGEND_SIZE}


def test_embedding_pca_figure__heldout_pcs_by_status() -> None:
    emb = _embeddings(300, 3)
    disease, _ = _disease_marker()
    ax = embedding_pca_figure(emb, disease).axes[0]
    controls, cases = (np.asarray(c.get_offsets()) for c in ax.collections)
    held = emb["set"] == "heldout"
    status = disease.loc[held.to_numpy(), "disease_at_assessment"].to_numpy()
    assert (len(controls), len(cases)) == ((status == 0).sum(), (status == 1).sum())
    centred = emb.loc[held, ["e_0", "e_1", "e_2"]].to_numpy()
    centred = centred - centred.mean(axis=0)
    _, vectors = np.linalg.eigh(centred.T @ centred)
    scores = centred @ vectors[:, ::-1][:, :2]  # PCs independent of the SVD in the code
    np.testing.assert_allclose(np.abs(controls), np.abs(scores[status == 0]), atol=1e-9)
    np.testing.assert_allclose(np.abs(cases), np.abs(scores[status == 1]), atol=1e-9)
    assert cases[:, 0].mean() > controls[:, 0].mean()  # PC1 signed: cases higher
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        f"control (n = {(status == 0).sum()})",
        f"case (n = {(status == 1).sum()})",
    ]


def test_marker_violin_figure__medians_and_counts_per_status() -> None:
    emb = _embeddings(300, 3)
    disease, marker = _disease_marker()
    fig = marker_violin_figure(emb, disease, marker, "fev1_fvc")
    held = (emb["set"] == "heldout").to_numpy()
    status = disease.loc[held, "disease_at_assessment"].to_numpy()
    values = marker.loc[held, "fev1_fvc"].to_numpy()
    ax = fig.axes[1]
    assert ax.get_title(loc="left") == "Clinical marker: fev1_fvc"
    medians = ax.collections[-1].get_segments()  # cmedians, drawn last
    np.testing.assert_allclose(
        [seg[0][1] for seg in medians], [np.median(values[status == s]) for s in (0, 1)]
    )
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == [f"control\n(n = {(status == 0).sum()})", f"case\n(n = {(status == 1).sum()})"]


def _is_png_pdf(paths: list[Path]) -> bool:
    """A PNG that decodes to a non-blank image at the plots' dpi, then a PDF."""
    if [p.suffix for p in paths] != [".png", ".pdf"]:
        return False
    with Image.open(paths[0]) as image:
        pixels = np.asarray(image.convert("L"))
        dpi = round(image.info["dpi"][0])
    return (
        dpi == DPI
        and min(pixels.shape) > 300
        and 0.005 < (pixels < 250).mean() < 0.5
        and paths[1].read_bytes()[:5] == b"%PDF-"
    )


def test_figures__write_png_and_pdf(tmp_path: Path) -> None:
    emb = _embeddings(300, 3)
    disease, marker = _disease_marker()
    written = [
        fig_methods(_metrics(), tmp_path / "fig" / "methods"),
        fig_marker_violin(emb, disease, marker, "fev1_fvc", tmp_path / "fig" / "violin"),
        fig_training_curves(_curves(tmp_path), tmp_path / "fig" / "training"),
        fig_embedding_pca(emb, disease, tmp_path / "fig" / "pca"),
    ]
    assert all(_is_png_pdf(paths) for paths in written)
    assert not list((tmp_path / "fig").glob("*.tmp"))


def test_fig_methods__no_known_metric_raises(tmp_path: Path) -> None:
    table = pd.DataFrame({"method": ["gemcont"], "split": [0], "metric": ["x"], "value": [1.0]})
    with pytest.raises(ValueError, match="no recovery, AUC or R"):
        fig_methods(table, tmp_path / "methods")
