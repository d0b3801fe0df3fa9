"""Paper-style figures (Fig. 3/4 layout, training curves, embedding views), PNG + PDF.

Every function builds a :class:`matplotlib.figure.Figure` (no pyplot state), draws
with the same small style (:func:`style_axes`, :data:`METHOD_ORDER` and labels) and
writes ``<out_prefix>.png`` and ``<out_prefix>.pdf`` atomically via
:func:`gemcont.plots.gwas.save`, returning the written paths. Each ``fig_*`` writer
draws with a ``*_figure`` function that returns the figure, so the plotted data can
be checked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from gemcont.io.embeddings import SET_COLUMN, dimension_columns
from gemcont.io.ids import KEY
from gemcont.io.splits import HELDOUT
from gemcont.plots.gwas import save

METHOD_ORDER = ("gemcont", "prs", "simclr", "vae", "frozen", "clinical", "supervised")
METHOD_LABELS = {
    "gemcont": "GEMCONT",
    "prs": "PRS",
    "simclr": "SimCLR",
    "vae": "VAE",
    "frozen": "Frozen FM",
    "clinical": "Clinical marker",
    "supervised": "Supervised",
}
BAR_COLOURS = ("#1b3a5c", "#8aa6c1", "#e08214", "#7fbf7b")
CONTROL_COLOUR = "#8aa6c1"
CASE_COLOUR = "#c0392b"
TRAIN_COLOUR = "#1b3a5c"
VAL_COLOUR = "#e08214"
ERROR_KW = {"elinewidth": 0.8, "capsize": 2, "ecolor": "0.2"}  # mean ± sd error bars
TITLE_SIZE = 10
PANEL_SIZE = (4.2, 3.8)  # inches, one panel of the methods and training figures
LEGEND_SIZE = 8
R2_LATENT = re.compile(r"^r2_latent_(\d+)$")
PANELS = (
    (
        "Genetic recovery",
        "fraction of disease loci recovered",
        {"gwas_recovery_gw": r"$p < 5\times10^{-8}$", "gwas_recovery_bonferroni": "Bonferroni"},
    ),
    (
        "Risk prediction",
        "ROC AUC",
        {"auc_assessment": "at assessment", "auc_incident_5y": "within 5 years"},
    ),
)


def method_label(method: str) -> str:
    """Display name of a method wildcard value."""
    return METHOD_LABELS.get(method, method)


def ordered_methods(methods: Sequence[str]) -> list[str]:
    """Methods in the paper's order, unknown ones after, alphabetically."""
    present = set(methods)
    known = [m for m in METHOD_ORDER if m in present]
    return known + sorted(present - set(METHOD_ORDER))


def style_axes(ax: Axes, title: str | None = None, ylabel: str | None = None) -> None:
    """The house style: no top/right spines, light y grid, small left-aligned title."""
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="0.9", linewidth=0.6)
    ax.set_axisbelow(True)
    if title:
        ax.set_title(title, loc="left", fontsize=TITLE_SIZE)
    if ylabel:
        ax.set_ylabel(ylabel)


def as_long(metrics: pd.DataFrame) -> pd.DataFrame:
    """Metrics as long rows (method split metric value), from long or wide input."""
    if "metric" in metrics.columns:
        return metrics[["method", "split", "metric", "value"]]
    return metrics.melt(id_vars=["method", "split"], var_name="metric", value_name="value")


def metric_summary(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per method and metric: mean, sd (0 for one split) and n over splits."""
    long = as_long(metrics).dropna(subset=["value"])
    stats = long.groupby(["method", "metric"])["value"].agg(["mean", "std", "count"])
    return stats.rename(columns={"std": "sd", "count": "n"}).fillna({"sd": 0.0}).reset_index()


def _r2_metrics(metrics: Sequence[str]) -> dict[str, str]:
    """The simulation's latent-trait R² metrics, ``r2_latent_<k>`` -> ``latent k``."""
    found = {m: int(match.group(1)) for m in metrics if (match := R2_LATENT.match(m))}
    return {m: f"latent {k}" for m, k in sorted(found.items(), key=lambda kv: kv[1])}


def _grouped_bars(ax: Axes, stats: pd.DataFrame, series: Mapping[str, str]) -> None:
    """Bars per method (x) and metric (colour), mean ± sd error bars."""
    methods = ordered_methods(stats["method"].unique())
    table = stats.set_index(["method", "metric"])
    width = 0.8 / len(series)
    x = np.arange(len(methods))
    for i, (metric, label) in enumerate(series.items()):
        rows = table.reindex([(m, metric) for m in methods])
        ax.bar(
            x + (i - (len(series) - 1) / 2) * width,
            rows["mean"].to_numpy(),
            width,
            yerr=rows["sd"].to_numpy(),
            color=BAR_COLOURS[i % len(BAR_COLOURS)],
            error_kw=ERROR_KW,
            label=label,
        )
    ax.set_xticks(x, [method_label(m) for m in methods], rotation=30, ha="right")
    ax.legend(frameon=False, fontsize=LEGEND_SIZE, loc="upper right")


def _auc_limits(ax: Axes, stats: pd.DataFrame) -> None:
    """Zoom an AUC panel on the range above chance, with the chance line drawn."""
    low = float((stats["mean"] - stats["sd"]).min())
    high = float((stats["mean"] + stats["sd"]).max())
    ax.axhline(0.5, color="0.5", linestyle="--", linewidth=0.8)
    ax.set_ylim(min(0.5, np.floor(low * 20) / 20) - 0.02, min(1.0, high + 0.08))


def fig_methods(metrics: pd.DataFrame, out_prefix: str | Path) -> list[Path]:
    """Write :func:`methods_figure` as ``<out_prefix>.png`` and ``.pdf``."""
    return save(methods_figure(metrics), out_prefix)


def methods_figure(metrics: pd.DataFrame) -> Figure:
    """Fig. 3/4 layout: recovery, AUC and (simulation) latent-trait R² bars per method.

    ``metrics`` is the long table (method split metric value) or a wide one (method
    split <metric>...); bars are means over splits, error bars their sd. Panels whose
    metrics are absent are left out.
    """
    stats = metric_summary(metrics)
    panels = [*PANELS, ("Latent trait (simulation)", "R²", _r2_metrics(stats["metric"].unique()))]
    drawn = [(t, y, s, stats[stats["metric"].isin(s)]) for t, y, s in panels]
    drawn = [p for p in drawn if not p[3].empty]
    if not drawn:
        raise ValueError("fig_methods: no recovery, AUC or R² metrics in the table")
    fig = Figure(figsize=(PANEL_SIZE[0] * len(drawn), PANEL_SIZE[1]), layout="constrained")
    for ax, (title, ylabel, series, sub) in zip(
        fig.subplots(1, len(drawn), squeeze=False)[0], drawn, strict=True
    ):
        _grouped_bars(ax, sub, series)
        style_axes(ax, title, ylabel)
        if "auc" in next(iter(series)):
            _auc_limits(ax, sub)
        else:
            ax.set_ylim(0, max(1.0, float((sub["mean"] + sub["sd"]).max())) * 1.12)
    return fig


def heldout_pcs(
    embeddings_df: pd.DataFrame, n_components: int = 2
) -> tuple[pd.DataFrame, np.ndarray]:
    """Held-out people's embedding PCs (FID IID PC1..) and each PC's variance fraction.

    Components beyond the embedding's dimension are zero (a 1-D marker has no PC2).
    """
    held = embeddings_df[embeddings_df[SET_COLUMN] == HELDOUT]
    if held.empty:
        raise ValueError("embeddings have no held-out rows (set == 'heldout')")
    values = held[dimension_columns(held)].to_numpy(dtype=np.float64)
    centred = values - values.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    k = min(n_components, s.size)
    scores = np.zeros((len(held), n_components))
    scores[:, :k] = u[:, :k] * s[:k]
    explained = np.zeros(n_components)
    explained[:k] = s[:k] ** 2 / max(float(np.sum(s**2)), 1e-300)
    pcs = held[KEY].astype(str).reset_index(drop=True)
    for i in range(n_components):
        pcs[f"PC{i + 1}"] = scores[:, i]
    return pcs, explained


def _with_status(pcs: pd.DataFrame, disease_df: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """PCs joined with the 0/1 outcome; PC1 signed so that cases score higher."""
    status = disease_df[[*KEY, outcome]].astype({"FID": str, "IID": str})
    joined = pcs.merge(status, on=KEY).dropna(subset=[outcome])
    joined[outcome] = joined[outcome].astype(int)
    cases = joined[outcome] == 1
    if cases.any() and (~cases).any():
        if joined.loc[cases, "PC1"].mean() < joined.loc[~cases, "PC1"].mean():
            joined["PC1"] = -joined["PC1"]
    return joined


def _violin(ax: Axes, groups: list[np.ndarray], labels: list[str]) -> None:
    """Control/case violins with their medians, ``n`` under each label."""
    colours = (CONTROL_COLOUR, CASE_COLOUR)
    kept = [
        (g, label, c) for g, label, c in zip(groups, labels, colours, strict=True) if g.size > 1
    ]
    parts = ax.violinplot([g for g, _, _ in kept], showmedians=True, widths=0.8)
    for body, (_, _, colour) in zip(parts["bodies"], kept, strict=True):
        body.set_facecolor(colour)
        body.set_edgecolor("0.3")
        body.set_alpha(0.8)
    for name in ("cbars", "cmins", "cmaxes", "cmedians"):
        parts[name].set_color("0.2")
        parts[name].set_linewidth(0.8)
    ax.set_xticks(
        np.arange(1, len(kept) + 1), [f"{label}\n(n = {g.size:,})" for g, label, _ in kept]
    )


def fig_marker_violin(
    embeddings_df: pd.DataFrame,
    disease_df: pd.DataFrame,
    marker_df: pd.DataFrame,
    marker_column: str,
    out_prefix: str | Path,
    outcome: str = "disease_at_assessment",
    method: str = "gemcont",
) -> list[Path]:
    """Write :func:`marker_violin_figure` as ``<out_prefix>.png`` and ``.pdf``."""
    figure = marker_violin_figure(
        embeddings_df, disease_df, marker_df, marker_column, outcome, method
    )
    return save(figure, out_prefix)


def marker_violin_figure(
    embeddings_df: pd.DataFrame,
    disease_df: pd.DataFrame,
    marker_df: pd.DataFrame,
    marker_column: str,
    outcome: str = "disease_at_assessment",
    method: str = "gemcont",
) -> Figure:
    """Violins of held-out embedding PC1 and the clinical marker by disease status."""
    joined = _with_status(heldout_pcs(embeddings_df, 1)[0], disease_df, outcome)
    marker = marker_df[[*KEY, marker_column]].astype({"FID": str, "IID": str})
    joined = joined.merge(marker, on=KEY, how="left")
    labels = ["control", "case"]
    fig = Figure(figsize=(7, 3.6), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, column, title in (
        (axes[0], "PC1", f"{method_label(method)} embedding PC1"),
        (axes[1], marker_column, f"Clinical marker: {marker_column}"),
    ):
        values = joined[[column, outcome]].dropna()
        _violin(ax, [values.loc[values[outcome] == s, column].to_numpy() for s in (0, 1)], labels)
        style_axes(ax, title, column)
    return fig


def fig_embedding_pca(
    embeddings_df: pd.DataFrame,
    disease_df: pd.DataFrame,
    out_prefix: str | Path,
    outcome: str = "disease_at_assessment",
    method: str = "gemcont",
) -> list[Path]:
    """Write :func:`embedding_pca_figure` as ``<out_prefix>.png`` and ``.pdf``."""
    return save(embedding_pca_figure(embeddings_df, disease_df, outcome, method), out_prefix)


def embedding_pca_figure(
    embeddings_df: pd.DataFrame,
    disease_df: pd.DataFrame,
    outcome: str = "disease_at_assessment",
    method: str = "gemcont",
) -> Figure:
    """Held-out embedding PC1 vs PC2, controls under cases."""
    pcs, explained = heldout_pcs(embeddings_df, 2)
    joined = _with_status(pcs, disease_df, outcome)
    fig = Figure(figsize=(4.6, 4.2), layout="constrained")
    ax = fig.add_subplot()
    for status, colour, label, size in (
        (0, CONTROL_COLOUR, "control", 4),
        (1, CASE_COLOUR, "case", 7),
    ):
        rows = joined[joined[outcome] == status]
        ax.scatter(
            rows["PC1"],
            rows["PC2"],
            s=size,
            color=colour,
            alpha=0.7,
            linewidths=0,
            label=f"{label} (n = {len(rows):,})",
            rasterized=True,
        )
    ax.set_xlabel(f"PC1 ({explained[0]:.0%} of variance)")
    ax.set_ylabel(f"PC2 ({explained[1]:.0%} of variance)")
    style_axes(ax, f"{method_label(method)} embedding, held-out people")
    ax.legend(frameon=False, fontsize=LEGEND_SIZE, markerscale=2)
    return fig


def _note_figure(title: str, text: str) -> Figure:
    """One panel holding ``text``: the figure of a run that has nothing to plot there."""
    fig = Figure(figsize=PANEL_SIZE, layout="constrained")
    ax = fig.add_subplot()
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=LEGEND_SIZE + 1, wrap=True)
    ax.set_axis_off()
    ax.set_title(title, loc="left", fontsize=TITLE_SIZE)
    return fig


def _read_curves(metrics_paths: Mapping[tuple[str, int], str | Path]) -> pd.DataFrame:
    """All per-epoch metrics tables, tagged with method and split."""
    frames = [
        pd.read_csv(path, sep="\t").assign(method=method, split=int(split))
        for (method, split), path in metrics_paths.items()
    ]
    if not frames:
        raise ValueError("fig_training_curves: no metrics files given")
    return pd.concat(frames, ignore_index=True)


def fig_training_curves(
    metrics_paths: Mapping[tuple[str, int], str | Path], out_prefix: str | Path
) -> list[Path]:
    """Write :func:`training_curves_figure` as ``<out_prefix>.png`` and ``.pdf``."""
    return save(training_curves_figure(metrics_paths), out_prefix)


def training_curves_figure(metrics_paths: Mapping[tuple[str, int], str | Path]) -> Figure:
    """Train and validation loss per epoch, one panel per method, one line per split.

    Panels have the size of :func:`methods_figure`'s and the same type sizes; epochs
    are ticked at whole numbers only. With no metrics files (``methods: [clinical]``:
    nothing is trained) the figure says so instead of failing.
    """
    if not metrics_paths:
        return _note_figure(
            "Training curves",
            "No trained method in this run\n(the configured methods have no training step)",
        )
    curves = _read_curves(metrics_paths)
    methods = ordered_methods(curves["method"].unique())
    ncols = min(len(methods), 3)
    nrows = -(-len(methods) // ncols)
    fig = Figure(figsize=(PANEL_SIZE[0] * ncols, PANEL_SIZE[1] * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, method in zip(axes, methods, strict=False):
        for split, run in curves[curves["method"] == method].groupby("split"):
            for column, colour, label in (
                ("train/loss", TRAIN_COLOUR, "train"),
                ("val/loss", VAL_COLOUR, "validation"),
            ):
                if column in run and run[column].notna().any():
                    ax.plot(
                        run["epoch"],
                        run[column],
                        color=colour,
                        linewidth=1.2,
                        linestyle="-" if split == 0 else (0, (3, 1 + split)),
                        label=f"{label}, split {split}",
                    )
        style_axes(ax, method_label(method), "loss")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(frameon=False, fontsize=LEGEND_SIZE)
    for ax in axes[len(methods) :]:
        ax.set_visible(False)
    return fig
