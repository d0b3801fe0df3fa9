"""Stage glue for the paper figures and the HTML report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from gemcont.evaluate.collect import read_table
from gemcont.io.embeddings import read_embeddings
from gemcont.plots.figures import (
    fig_embedding_pca,
    fig_marker_violin,
    fig_methods,
    fig_training_curves,
)
from gemcont.report.html import ReportInputs, build_report


def figures(
    metrics: Path,
    training: Mapping[tuple[str, int], Path],
    embeddings: Path,
    disease: Path,
    marker: Path,
    marker_column: str,
    out: Mapping[str, Path],
    method: str = "gemcont",
) -> None:
    """Fig. 3/4-style method comparison, training curves (a note when no method is
    trained), and the PCA and marker violins of ``method``'s ``embeddings``."""
    fig_methods(read_table(metrics), out["methods"].with_suffix(""))
    fig_training_curves(training, out["training"].with_suffix(""))
    emb, dis = read_embeddings(embeddings), read_table(disease)
    fig_embedding_pca(emb, dis, out["pca"].with_suffix(""), method=method)
    fig_marker_violin(
        emb, dis, read_table(marker), marker_column, out["violin"].with_suffix(""), method=method
    )


def report(
    config: Mapping,
    paths: Mapping[str, Path | None],
    gwas: Mapping[str, Mapping[str, Path]],
    qc_images: Sequence[Path],
    out_html: Path,
) -> None:
    """The standalone results/report/index.html."""
    inputs = ReportInputs(
        config=config,
        manhattan={m: p["manhattan"] for m, p in gwas.items()},
        qq={m: p["qq"] for m, p in gwas.items()},
        qc_images=list(qc_images),
        **paths,
    )
    build_report(inputs, out_html)
