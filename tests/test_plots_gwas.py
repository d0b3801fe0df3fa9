"""Manhattan and QQ plots: speed on millions of variants, files, thinning, order."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy.stats import chi2

from gemcont.plots.gwas import (
    DPI,
    chrom_offsets,
    chrom_rank,
    manhattan,
    manhattan_figure,
    neglog10,
    qq,
    qq_figure,
    qq_points,
    sci,
    thin,
)


def _genome(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    chrom = rng.integers(1, 23, n)
    df = pd.DataFrame(
        {
            "CHR": np.sort(chrom).astype(str),
            "POS": rng.integers(1, 200_000_000, n),
            "P": rng.uniform(size=n),
        }
    )
    df.loc[df.index[:50], "P"] = 10.0 ** -rng.uniform(8, 30, 50)
    return df


def _is_png_and_pdf(paths: list[Path]) -> bool:
    """A PNG that decodes to a non-blank image at the plots' dpi, and a PDF."""
    with Image.open(paths[0]) as image:
        pixels = np.asarray(image.convert("L"))
        dpi = image.info["dpi"][0]
    non_white = (pixels < 250).mean()
    return (
        round(dpi) == DPI
        and min(pixels.shape) > 300
        and 0.005 < non_white < 0.5
        and paths[1].read_bytes()[:5] == b"%PDF-"
    )


def _plotted_points(fig) -> tuple[np.ndarray, np.ndarray]:
    """x and y of every Manhattan point (the marker-only lines, panel marks excluded)."""
    lines = [
        line
        for line in fig.axes[0].get_lines()
        if line.get_marker() == "o" and line.get_linestyle() == "None"
    ]
    x = np.concatenate([line.get_xdata() for line in lines])
    y = np.concatenate([line.get_ydata() for line in lines])
    order = np.argsort(x, kind="stable")
    return x[order], y[order]


def test_manhattan_qq__two_million_points_under_15s(tmp_path: Path) -> None:
    df = _genome(2_000_000)
    panel = df.iloc[[10, 500_000, 1_500_000]]
    start = time.perf_counter()
    man = manhattan(df, tmp_path / "m" / "manhattan", panel=panel, title="test")
    qqp = qq(df["P"], tmp_path / "m" / "qq", title="test")
    assert time.perf_counter() - start < 15
    assert [p.name for p in man + qqp] == ["manhattan.png", "manhattan.pdf", "qq.png", "qq.pdf"]
    assert _is_png_and_pdf(man) and _is_png_and_pdf(qqp)
    assert not list((tmp_path / "m").glob("*.tmp"))


def test_manhattan__uses_log10p_column_and_ignores_unknown_panel_chrom(tmp_path: Path) -> None:
    df = _genome(1000)
    # LOG10P disagrees with P on purpose: the plot must follow LOG10P, not P
    df["LOG10P"] = 2.0 * -np.log10(df["P"])
    df.loc[0, "LOG10P"] = 400.0  # beyond double precision as a P value
    panel = pd.DataFrame({"CHR": ["1", "Y"], "POS": [5, 10], "ID": ["a", "b"]})
    fig = manhattan_figure(df, panel=panel, thin_below=1.0)  # thin nothing: every point
    offsets = chrom_offsets(df["CHR"], df["POS"])
    x = df["POS"].to_numpy(dtype=float) + offsets.loc[df["CHR"], "START"].to_numpy()
    order = np.argsort(x, kind="stable")
    plotted_x, plotted_y = _plotted_points(fig)
    np.testing.assert_array_equal(plotted_x, x[order])
    np.testing.assert_array_equal(plotted_y, df["LOG10P"].to_numpy()[order])
    assert plotted_y.max() == 400.0 and fig.axes[0].get_ylim()[1] >= 400.0
    marks = [line for line in fig.axes[0].get_lines() if line.get_marker() == "^"]
    assert len(marks) == 1 and len(marks[0].get_xdata()) == 1  # chromosome Y not plotted
    assert marks[0].get_xdata()[0] == 5 + offsets.loc["1", "START"]
    assert _is_png_and_pdf(manhattan(df, tmp_path / "m", panel=panel))


def test_manhattan__without_log10p_plots_minus_log10_p() -> None:
    df = _genome(500, seed=3)
    fig = manhattan_figure(df, thin_below=1.0)
    offsets = chrom_offsets(df["CHR"], df["POS"])
    x = df["POS"].to_numpy(dtype=float) + offsets.loc[df["CHR"], "START"].to_numpy()
    order = np.argsort(x, kind="stable")
    _, plotted_y = _plotted_points(fig)
    np.testing.assert_allclose(plotted_y, -np.log10(df["P"].to_numpy()[order]), rtol=1e-12)
    np.testing.assert_array_equal(neglog10(df), -np.log10(df["P"].to_numpy()))
    threshold = [line for line in fig.axes[0].get_lines() if line.get_linestyle() == "--"]
    assert threshold[0].get_ydata()[0] == pytest.approx(-np.log10(5e-8))


def test_manhattan__thinned_plot_keeps_every_significant_point() -> None:
    df = _genome(50_000, seed=4)
    fig = manhattan_figure(df, thin_below=1e-3)
    _, plotted_y = _plotted_points(fig)
    strong = np.sort(-np.log10(df.loc[df["P"] < 1e-3, "P"].to_numpy()))
    np.testing.assert_allclose(np.sort(plotted_y[plotted_y > 3]), strong, rtol=1e-12)
    assert len(plotted_y) < len(df)


def test_qq__plots_the_qq_points_and_lambda_in_title() -> None:
    p = np.random.default_rng(5).uniform(size=20_000)
    fig = qq_figure(p, df=2, title="t")
    ax = fig.axes[0]
    points = qq_points(p)
    scatter = ax.collections[-1].get_offsets()
    np.testing.assert_array_equal(np.asarray(scatter[:, 0]), points["EXPECTED"].to_numpy())
    np.testing.assert_array_equal(np.asarray(scatter[:, 1]), points["OBSERVED"].to_numpy())
    lam = chi2.isf(np.median(p), 2) / chi2.median(2)
    assert ax.get_title() == f"t, $\\lambda_{{GC}}$ = {lam:.3f}"


def test_thin__keeps_all_flagged_and_bounds_the_rest() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.uniform(0, 1e9, 1_000_000), rng.exponential(0.4, 1_000_000)
    keep = y > 3
    idx = thin(x, y, keep, grid=(100, 50))
    assert np.isin(np.flatnonzero(keep), idx).all()
    assert (~keep[idx]).sum() <= 100 * 50
    assert np.all(np.diff(idx) > 0)


def test_chrom_rank__natural_order() -> None:
    names = ["10", "X", "2", "MT", "chr3", "1", "Y", "scaffold"]
    assert sorted(names, key=chrom_rank) == ["1", "2", "chr3", "10", "X", "Y", "MT", "scaffold"]


def test_chrom_offsets__chromosomes_do_not_overlap() -> None:
    df = pd.DataFrame({"CHR": ["2", "1", "1", "10"], "POS": [50, 10, 100, 7]})
    off = chrom_offsets(df["CHR"], df["POS"])
    assert off.index.tolist() == ["1", "2", "10"]
    end_1 = 100 + off.loc["1", "START"]
    assert (
        50 + off.loc["2", "START"] > end_1
        and 7 + off.loc["10", "START"] > 50 + off.loc["2", "START"]
    )


def test_qq_points__band_brackets_expected_and_keeps_tail() -> None:
    p = np.random.default_rng(2).uniform(size=100_000)
    pts = qq_points(p, thin_below=1e-3)
    assert (pts["LOWER"] < pts["EXPECTED"]).all() and (pts["EXPECTED"] < pts["UPPER"]).all()
    assert (pts["OBSERVED"] > 3).sum() == (p < 1e-3).sum()
    assert len(pts) < 3000
    inside = (pts["OBSERVED"] >= pts["LOWER"]) & (pts["OBSERVED"] <= pts["UPPER"])
    assert inside.mean() > 0.8


@pytest.mark.parametrize(("x", "text"), [(5e-8, r"$5 \times 10^{-8}$"), (1e-5, "$10^{-5}$")])
def test_sci__mathtext(x: float, text: str) -> None:
    assert sci(x) == text
