"""Manhattan and QQ plots: speed on millions of variants, files, thinning, order."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gemcont.plots.gwas import chrom_offsets, chrom_rank, manhattan, qq, qq_points, sci, thin


def _genome(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    chrom = rng.integers(1, 23, n)
    df = pd.DataFrame({
        "CHR": np.sort(chrom).astype(str),
        "POS": rng.integers(1, 200_000_000, n),
        "P": rng.uniform(size=n),
    })  # fmt: skip
    df.loc[df.index[:50], "P"] = 10.0 ** -rng.uniform(8, 30, 50)
    return df


def _is_png_and_pdf(paths: list[Path]) -> bool:
    heads = [p.read_bytes()[:8] for p in paths]
    return heads[0].startswith(b"\x89PNG") and heads[1].startswith(b"%PDF")


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
    df = _genome(1000).assign(LOG10P=lambda d: -np.log10(d["P"]))
    df.loc[0, "LOG10P"] = 400.0  # beyond double precision as a P value
    panel = pd.DataFrame({"CHR": ["1", "Y"], "POS": [5, 10], "ID": ["a", "b"]})
    paths = manhattan(df, tmp_path / "m", panel=panel)
    assert _is_png_and_pdf(paths)


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
