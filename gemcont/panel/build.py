"""The variant panel stage: read sumstats, harmonise to the cohort, threshold, clump."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from gemcont.errors import InputError
from gemcont.io.chromosomes import sort_key
from gemcont.io.panel import PANEL_COLUMNS
from gemcont.io.plink import Genotypes
from gemcont.io.sumstats import read_sumstats
from gemcont.io.tables import write_tsv
from gemcont.panel.clump import clump, clump_plink
from gemcont.panel.harmonise import a1_frequencies, coverage_table, harmonise

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PanelSettings:
    """Config section ``panel`` (meanings and defaults in the schema)."""

    p_threshold: float
    clump_r2: float
    clump_kb: float
    clump_engine: str
    r2_method: str
    plink1_9: str
    resolve_ambiguous_by_eaf: bool
    eaf_tolerance: float
    ambiguous_maf_margin: float
    min_variants: int


@dataclass(frozen=True)
class PanelPaths:
    """Files written by :func:`build_panel`."""

    panel: Path
    coverage: Path
    harmonise_report: Path
    clumps: Path


def select_panel(
    matched: pd.DataFrame, genotypes: Genotypes, cfg: PanelSettings, bfile: str, threads: int
) -> pd.DataFrame:
    """Index variants of the p-threshold + LD-clumping step, with either engine."""
    options = {
        "p_threshold": cfg.p_threshold,
        "r2_threshold": cfg.clump_r2,
        "window_kb": cfg.clump_kb,
    }
    if cfg.clump_engine == "plink1.9":
        return clump_plink(matched, bfile, plink=cfg.plink1_9, threads=threads, **options)
    return clump(matched, genotypes, r2_method=cfg.r2_method, **options)


def check_panel_size(
    panel: pd.DataFrame, n_significant: int, cfg: PanelSettings, source: str
) -> None:
    """Stop when the panel is too small to supervise anything."""
    if len(panel) < cfg.min_variants:
        raise InputError(
            source,
            f"the panel has {len(panel)} variants ({n_significant} harmonised variants with "
            f"P < {cfg.p_threshold:g}, clumped at r2 {cfg.clump_r2} / {cfg.clump_kb} kb); "
            f"panel.min_variants is {cfg.min_variants}",
            "check that the sumstats match the cohort (see the coverage report), raise "
            "panel.p_threshold, or lower panel.min_variants",
        )


def build_panel(
    sumstats_path: str,
    column_map: dict,
    bfile: str,
    cfg: PanelSettings,
    paths: PanelPaths,
    threads: int,
) -> pd.DataFrame:
    """Run the panel stage and write the panel, coverage, harmonisation and clump tables."""
    sumstats = read_sumstats(sumstats_path, column_map or None)
    with Genotypes(bfile, threads=threads) as genotypes:
        result = harmonise(
            sumstats,
            genotypes.bim,
            resolve_ambiguous_by_eaf=cfg.resolve_ambiguous_by_eaf,
            eaf_tolerance=cfg.eaf_tolerance,
            maf_margin=cfg.ambiguous_maf_margin,
            a1_freq=a1_frequencies(genotypes),
        )
        coverage = coverage_table(result.report)
        write_tsv(coverage, paths.coverage)
        write_tsv(result.report, paths.harmonise_report)
        for row in coverage.itertuples():
            log.info("harmonisation: %-24s %8d (%.1f%%)", row.status, row.count, 100 * row.fraction)
        matched = result.matched
        n_significant = int((matched["P"] <= cfg.p_threshold).sum())
        clumps = select_panel(matched, genotypes, cfg, bfile, threads)
    write_tsv(clumps, paths.clumps)
    panel = matched.set_index("ID").loc[clumps["ID"]].reset_index()
    panel = panel.sort_values(["CHR", "POS"], key=_chrom_key).reset_index(drop=True)
    check_panel_size(panel, n_significant, cfg, sumstats_path)
    write_tsv(panel[PANEL_COLUMNS], paths.panel, float_format="%.8g")
    log.info(
        "panel: %d index variants from %d with P < %g",
        len(panel),
        n_significant,
        cfg.p_threshold,
    )
    return panel


def _chrom_key(col: pd.Series) -> pd.Series:
    """Sort key of panel columns: CHR in :func:`gemcont.io.chromosomes.sort_key` order."""
    if col.name == "CHR":
        order = {c: i for i, c in enumerate(sorted(col.unique(), key=sort_key))}
        return col.map(order)
    return col
