"""Manhattan and QQ plots that stay fast on millions of variants.

Points with P >= ``thin_below`` are thinned to one per screen cell (invisible
loss), everything more significant is drawn; scatters are rasterised so the PDF
stays small. Chromosomes are ordered 1..22, X, Y, XY, MT, then others by name.
:func:`manhattan_figure` and :func:`qq_figure` return the figure; :func:`manhattan`
and :func:`qq` write it as PNG + PDF.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from scipy.stats import beta

from gemcont.gwas.loci import GENOME_WIDE_P, lambda_gc
from gemcont.io.atomic import atomic_path
from gemcont.io.panel import read_panel
from gemcont.io.sumstats import read_multi_trait

CHROM_COLOURS = ("#1b3a5c", "#8aa6c1")
LINE_COLOUR = "#c0392b"
PANEL_COLOUR = "#e08214"
SPECIAL_CHROMS = {"X": 23, "Y": 24, "XY": 25, "MT": 26, "M": 26}
GRID = (2000, 200)
MIN_P = 1e-300
DPI = 200


def chrom_rank(chrom: str) -> tuple[int, str]:
    """Sort key placing 1..22 numerically, then X, Y, XY, MT, then any other name."""
    name = str(chrom).removeprefix("chr")
    if name.isdigit():
        return int(name), ""
    return SPECIAL_CHROMS.get(name.upper(), 99), name


def sci(x: float) -> str:
    """A number as mathtext, e.g. 5e-08 -> $5 \\times 10^{-8}$."""
    mantissa, exponent = f"{x:.1e}".split("e")
    mantissa = mantissa.removesuffix(".0")
    power = rf"10^{{{int(exponent)}}}"
    return f"${power}$" if mantissa == "1" else rf"${mantissa} \times {power}$"


def neglog10(df: pd.DataFrame) -> np.ndarray:
    """-log10 P, from a LOG10P column when present (no underflow), else from P."""
    if "LOG10P" in df.columns:
        return df["LOG10P"].to_numpy(dtype=np.float64)
    return -np.log10(np.clip(df["P"].to_numpy(dtype=np.float64), MIN_P, 1.0))


def chrom_offsets(chroms: pd.Series, pos: pd.Series, gap: float = 0.01) -> pd.DataFrame:
    """Per chromosome (in plot order): START offset on the genome axis and tick MID."""
    span = (
        pd.DataFrame({"CHR": chroms.astype(str), "POS": pos})
        .groupby("CHR")["POS"]
        .agg(["min", "max"])
    )
    span = span.loc[sorted(span.index, key=chrom_rank)]
    length = (span["max"] - span["min"]).clip(lower=1)
    spacing = gap * float(length.sum())
    start = (length + spacing).cumsum().shift(fill_value=0.0) - span["min"]
    return pd.DataFrame({"START": start, "MID": start + (span["min"] + span["max"]) / 2})


def thin(
    x: np.ndarray, y: np.ndarray, keep: np.ndarray, grid: tuple[int, int] = GRID
) -> np.ndarray:
    """Indices to draw: all of ``keep`` plus one point per grid cell of the rest."""
    rest = np.flatnonzero(~keep)
    if rest.size == 0:
        return np.flatnonzero(keep)
    xr, yr = x[rest], y[rest]
    span_x = max(float(np.ptp(xr)), 1.0)
    span_y = max(float(np.ptp(yr)), 1e-12)
    cx = ((xr - xr.min()) / span_x * (grid[0] - 1)).astype(np.int64)
    cy = ((yr - yr.min()) / span_y * (grid[1] - 1)).astype(np.int64)
    _, first = np.unique(cx * grid[1] + cy, return_index=True)
    return np.sort(np.concatenate([np.flatnonzero(keep), rest[first]]))


def save(fig: Figure, out_prefix: str | Path) -> list[Path]:
    """Write ``<prefix>.png`` and ``<prefix>.pdf`` atomically; return their paths."""
    paths = []
    for ext in ("png", "pdf"):
        path = Path(f"{out_prefix}.{ext}")
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=ext, dpi=DPI, bbox_inches="tight")
        paths.append(path)
    return paths


def _mark_panel(ax: Axes, panel: pd.DataFrame, offsets: pd.DataFrame) -> None:
    """Triangles under the x axis at the panel variants' positions."""
    chroms = panel["CHR"].astype(str)
    on_axis = chroms.isin(offsets.index)
    x = panel.loc[on_axis, "POS"].to_numpy() + offsets.loc[chroms[on_axis], "START"].to_numpy()
    ax.plot(
        x,
        np.full(x.size, -0.025),
        linestyle="none",
        marker="^",
        markersize=4,
        color=PANEL_COLOUR,
        transform=ax.get_xaxis_transform(),
        clip_on=False,
        label="disease panel variant",
    )


def manhattan(
    df: pd.DataFrame,
    out_prefix: str | Path,
    panel: pd.DataFrame | None = None,
    title: str | None = None,
    p_threshold: float = GENOME_WIDE_P,
    thin_below: float = 1e-3,
) -> list[Path]:
    """Write :func:`manhattan_figure` as ``<out_prefix>.png`` and ``.pdf``."""
    return save(manhattan_figure(df, panel, title, p_threshold, thin_below), out_prefix)


def manhattan_figure(
    df: pd.DataFrame,
    panel: pd.DataFrame | None = None,
    title: str | None = None,
    p_threshold: float = GENOME_WIDE_P,
    thin_below: float = 1e-3,
) -> Figure:
    """Manhattan plot of ``df`` (CHR POS P [LOG10P]); ``panel`` (CHR POS) marked below.

    The y values are :func:`neglog10` of ``df`` (LOG10P when present), drawn as one
    line of markers per chromosome colour, then the threshold line.
    """
    offsets = chrom_offsets(df["CHR"], df["POS"])
    chroms = df["CHR"].astype(str)
    x = df["POS"].to_numpy(dtype=np.float64) + offsets.loc[chroms, "START"].to_numpy()
    y = neglog10(df)
    shown = np.isfinite(y)
    idx = np.flatnonzero(shown)[thin(x[shown], y[shown], y[shown] > -np.log10(thin_below))]
    parity = pd.Series(np.arange(len(offsets)) % 2, index=offsets.index)
    odd = parity.loc[chroms.to_numpy()[idx]].to_numpy() == 1

    fig = Figure(figsize=(10, 3.6))
    ax = fig.add_subplot()
    for colour, mask in zip(CHROM_COLOURS, (~odd, odd), strict=True):
        ax.plot(x[idx[mask]], y[idx[mask]], "o", ms=1.6, mew=0, color=colour, rasterized=True)
    line = -np.log10(p_threshold)
    ax.axhline(
        line, color=LINE_COLOUR, linestyle="--", linewidth=0.8, label=f"p = {sci(p_threshold)}"
    )
    if panel is not None and not panel.empty:
        _mark_panel(ax, panel, offsets)
    ax.set_xticks(offsets["MID"].to_numpy(), [c.removeprefix("chr") for c in offsets.index])
    ax.tick_params(axis="x", labelsize=7, length=0, pad=8)
    ax.set_xlim(x.min() - 0.005 * np.ptp(x), x.max() + 0.005 * np.ptp(x))
    ax.set_ylim(0, max(np.nanmax(y[shown]), line) * 1.08)
    ax.set_xlabel("Chromosome")
    ax.set_ylabel(r"$-\log_{10}(p)$")
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="lower right", bbox_to_anchor=(1, 1), ncol=2, frameon=False, fontsize=8)
    if title:
        ax.set_title(title, loc="left", fontsize=10)
    return fig


def qq_points(p: np.ndarray, thin_below: float = 1e-3, n_bulk: int = 2000) -> pd.DataFrame:
    """Expected and observed -log10 p with the 95% band, thinned for plotting."""
    p = np.sort(np.clip(p[np.isfinite(p)], MIN_P, 1.0))
    n = p.size
    rank = np.unique(
        np.concatenate(
            [
                np.flatnonzero(p < thin_below) + 1,
                np.unique(np.geomspace(1, n, n_bulk).astype(np.int64)),
            ]
        )
    )
    return pd.DataFrame(
        {
            "EXPECTED": -np.log10((rank - 0.5) / n),
            "OBSERVED": -np.log10(p[rank - 1]),
            "LOWER": -np.log10(beta.ppf(0.975, rank, n - rank + 1)),
            "UPPER": -np.log10(beta.ppf(0.025, rank, n - rank + 1)),
        }
    )


def qq(
    p: np.ndarray | pd.Series,
    out_prefix: str | Path,
    df: int = 1,
    title: str | None = None,
    thin_below: float = 1e-3,
) -> list[Path]:
    """Write :func:`qq_figure` as ``<out_prefix>.png`` and ``.pdf``."""
    return save(qq_figure(p, df, title, thin_below), out_prefix)


def qq_figure(
    p: np.ndarray | pd.Series,
    df: int = 1,
    title: str | None = None,
    thin_below: float = 1e-3,
) -> Figure:
    """QQ plot of p-values against Uniform(0,1) with a 95% band; λGC (on ``df`` degrees
    of freedom) in the title. The scatter is :func:`qq_points`' EXPECTED vs OBSERVED."""
    p = np.asarray(p, dtype=np.float64)
    pts = qq_points(p, thin_below)
    fig = Figure(figsize=(4, 4))
    ax = fig.add_subplot()
    ax.fill_between(
        pts["EXPECTED"], pts["LOWER"], pts["UPPER"], color="0.85", linewidth=0, label="95% band"
    )
    top = float(pts["EXPECTED"].max())
    ax.plot([0, top], [0, top], color="0.4", linewidth=0.8)
    ax.scatter(
        pts["EXPECTED"], pts["OBSERVED"], s=5, color=CHROM_COLOURS[0], linewidths=0, rasterized=True
    )
    ax.set_xlim(0, top * 1.03)
    ax.set_ylim(0, max(float(pts["OBSERVED"].max()), float(pts["UPPER"].max())) * 1.05)
    ax.set_xlabel(r"Expected $-\log_{10}(p)$")
    ax.set_ylabel(r"Observed $-\log_{10}(p)$")
    ax.spines[["top", "right"]].set_visible(False)
    lam = rf"$\lambda_{{GC}}$ = {lambda_gc(p, df):.3f}"
    ax.set_title(f"{title}, {lam}" if title else lam, fontsize=10)
    ax.legend(loc="upper left", frameon=False, fontsize=8)
    return fig


def plot_multitrait(
    multi_path: Path, panel_path: Path, manhattan_prefix: Path, qq_prefix: Path, title: str
) -> None:
    """Manhattan (panel variants marked) and QQ (chi2 on D dof) plots of a multi-trait file."""
    multi = read_multi_trait(multi_path)
    panel = read_panel(panel_path)
    dof = int(multi["DF"].iloc[0]) if len(multi) else 1
    manhattan(multi, manhattan_prefix, panel=panel, title=f"Multi-trait GWAS, {title}")
    qq(multi["P"], qq_prefix, df=dof, title=f"{title} (D = {dof})")
