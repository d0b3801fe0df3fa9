"""The paper's Fig. 2 layout for the rotation simulation, PNG + PDF.

Two rows (ridge R² of z; fraction of causal variants recovered at p < 5e-8), columns:
the default point as bars per method, then one panel per sweep (N_train, h, α_max)
with one line per method; error bars are the sd over seeds. The values read off the
paper's figure at the default point are marked beside the bars.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from gemcont.plots.figures import CASE_COLOUR, ERROR_KW, method_label, ordered_methods, style_axes
from gemcont.plots.gwas import save
from gemcont.rotation.jobs import SWEEP_AXES
from gemcont.rotation.settings import RunSettings
from gemcont.rotation.tables import default_table, sweep_table

METHOD_COLOURS = {
    "gemcont": "#1b3a5c",
    "prs": "#8aa6c1",
    "simclr": "#e08214",
    "vae": "#7fbf7b",
    "supervised": "0.55",
}
ROWS = (("r2", "R² of z (ridge, held out)"), ("recovery", "causal variants recovered"))
AXIS_LABELS = {"n_train": "training people", "h": "heritability h of z", "alpha_max": "α_max (°)"}
# read off the paper's Fig. 2 at the default point (METHOD.md)
PAPER_DEFAULT = {
    "gemcont": {"r2": 0.85, "recovery": 1.00},
    "simclr": {"r2": 0.41, "recovery": 0.45},
    "vae": {"r2": 0.26, "recovery": 0.06},
    "supervised": {"r2": 0.92, "recovery": 1.00},
}
# ... and the sweep points METHOD.md reads off it: (axis, value) -> method -> metric
PAPER_SWEEPS = {
    ("alpha_max", 5.0): {
        "gemcont": {"r2": 0.50, "recovery": 0.72},
        "simclr": {"r2": 0.04, "recovery": 0.00},
    },
    ("h", 0.1): {"gemcont": {"recovery": 0.07}},
    ("h", 0.2): {"gemcont": {"recovery": 0.88}},
    ("n_train", 25000.0): {"gemcont": {"r2": 0.63}},
}
PAPER_COLOUR = CASE_COLOUR
PAPER_MARK = {"marker": "_", "s": 260, "linewidths": 2.2, "color": PAPER_COLOUR, "zorder": 4}


def _colour(method: str) -> str:
    return METHOD_COLOURS.get(method, "0.3")


def _bars(ax, table: pd.DataFrame, metric: str, methods: list[str]) -> None:
    """Default-point bars per method (mean ± sd) and the paper's values as markers."""
    rows = table[table["metric"] == metric].set_index("method").reindex(methods)
    x = np.arange(len(methods))
    ax.bar(
        x,
        rows["mean"].to_numpy(),
        0.7,
        yerr=rows["sd"].to_numpy(),
        color=[_colour(m) for m in methods],
        error_kw=ERROR_KW,
    )
    paper = [PAPER_DEFAULT.get(m, {}).get(metric, np.nan) for m in methods]
    ax.scatter(x, paper, **PAPER_MARK)
    ax.set_xticks(x, [method_label(m) for m in methods], rotation=30, ha="right")


def _sweep(ax, table: pd.DataFrame, metric: str, axis: str, methods: list[str]) -> None:
    """One line per method over the swept values (mean ± sd)."""
    for method in methods:
        rows = table[(table["metric"] == metric) & (table["method"] == method)]
        if rows.empty:
            continue
        ax.errorbar(
            rows[axis].astype(float),
            rows["mean"],
            yerr=rows["sd"],
            marker="o",
            markersize=3.5,
            linewidth=1.2,
            color=_colour(method),
            **ERROR_KW,
        )
    values = sorted(table[axis].astype(float).unique())
    marks = [
        (x, v[metric])
        for (a, x), by_method in PAPER_SWEEPS.items()
        if a == axis and any(np.isclose(x, values))
        for m, v in by_method.items()
        if m in methods and metric in v
    ]
    for x, y in marks:
        ax.scatter([x], [y], **PAPER_MARK)
    if axis == "n_train" and values and values[-1] / values[0] > 3:
        ax.set_xscale("log")
        ax.minorticks_off()
    ax.set_xticks(values, [f"{v / 1000:g}k" if axis == "n_train" else f"{v:g}" for v in values])
    ax.set_xlabel(AXIS_LABELS[axis])


def fig_rotation(
    summary: pd.DataFrame, settings: RunSettings, out_prefix: str | Path
) -> list[Path]:
    """Fig. 2 from the summary of :func:`gemcont.rotation.tables.summarise` (the default
    point from ``settings``); sweeps with one value are left out."""
    methods = ordered_methods(summary["method"].unique())
    default = default_table(summary, settings)
    if default.empty:
        raise ValueError("fig_rotation: the summary has no rows at the default point")
    sweeps = [
        (axis, table)
        for axis in SWEEP_AXES
        if (table := sweep_table(summary, settings, axis))[axis].nunique() > 1
    ]
    ncols = 1 + len(sweeps)
    fig = Figure(figsize=(max(3.2 + 3.0 * len(sweeps), 7.0), 6.0), layout="constrained")
    axes = fig.subplots(2, ncols, squeeze=False)
    setting = (
        f"N_train = {settings.n_train:,}, h = {settings.h:g}, "
        f"α_max = {settings.alpha_max:g}°; test N = {settings.n_test:,}"
    )
    for row, (metric, ylabel) in enumerate(ROWS):
        _bars(axes[row, 0], default, metric, methods)
        style_axes(axes[row, 0], "Default setting" if row == 0 else None, ylabel)
        for col, (axis, table) in enumerate(sweeps, start=1):
            ax = axes[row, col]
            _sweep(ax, table, metric, axis, methods)
            style_axes(ax, f"Sweep: {AXIS_LABELS[axis]}" if row == 0 else None)
        for ax in axes[row]:
            ax.set_ylim(-0.02, 1.05)
    handles = [Patch(color=_colour(m), label=method_label(m)) for m in methods]
    handles.append(
        Line2D([], [], color=PAPER_COLOUR, linewidth=2.2, label="paper (read off its Fig. 2)")
    )
    fig.legend(
        handles=handles, loc="outside lower center", ncol=len(handles), frameon=False, fontsize=8
    )
    fig.suptitle(f"Rotation simulation ({setting})", fontsize=10)
    return save(fig, out_prefix)
