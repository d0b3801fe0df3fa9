"""What the report reads: the input paths, which of them are required, and the readers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from gemcont.errors import InputError
from gemcont.report.cells import note


@dataclass(frozen=True)
class ReportInputs:
    """What the report reads. ``config`` is the resolved run configuration; the rest
    are paths. The first five paths are required; ``None`` (or an empty mapping)
    marks an optional input as not produced by this run."""

    config: Mapping[str, Any]
    metrics: Path
    splits: Path
    dropped: Path
    panel: Path
    coverage: Path
    comparison: Path | None = None
    eaf_check: Path | None = None
    phenotype_exclusions: Path | None = None
    features_report: Path | None = None
    truth_summary: Path | None = None
    loci: Path | None = None
    variant_qc: Path | None = None
    methods_figure: Path | None = None
    training_figure: Path | None = None
    pca_figure: Path | None = None
    violin_figure: Path | None = None
    manhattan: Mapping[str, Path] = field(default_factory=dict)
    qq: Mapping[str, Path] = field(default_factory=dict)
    qc_images: Sequence[Path] = ()


REQUIRED = {
    "metrics": "run the evaluate stage (snakemake evaluate) first",
    "splits": "run the splits stage (snakemake make_splits) first",
    "dropped": "run the splits stage (snakemake make_splits) first",
    "panel": "run the panel stage (snakemake build_panel) first",
    "coverage": "run the panel stage (snakemake build_panel) first",
}


def check_required(inputs: ReportInputs) -> None:
    """Raise InputError naming the first missing required input and how to make it."""
    for name, fix in REQUIRED.items():
        path = getattr(inputs, name)
        if not Path(path).exists():
            raise InputError(path, f"required report input '{name}' is missing", fix)


def read_tsv(path: Path) -> pd.DataFrame:
    """A tab-separated input with FID, IID and CHR as text."""
    return pd.read_csv(path, sep="\t", dtype={"FID": str, "IID": str, "CHR": str})


def present(path: Path | None) -> bool:
    """Whether an optional input was produced."""
    return path is not None and Path(path).exists()


def absent(what: str, path: Path | None) -> str:
    """The note for an optional input that is missing."""
    if path is None:
        return note(f"No {what} for this run (not produced or not applicable).")
    return note(f"No {what}: {path} not found.")
