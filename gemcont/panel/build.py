"""The variant panel stage: read each study's sumstats, harmonise it to the cohort,
meta-analyse several studies, threshold, clump.

One study (``data.sumstats`` a single file) goes from harmonisation straight to
thresholding and clumping; several are each harmonised on their own, checked, and
combined by :func:`gemcont.panel.meta.meta_analyse` first. The per-row harmonise report
and the coverage table are written to ``logs/`` before any check that can stop the job,
so that they survive a failed run (Snakemake deletes a failed job's outputs).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gemcont.errors import ConfigError, InputError
from gemcont.gwas.genotypes import GwasGenotypes
from gemcont.io.atomic import atomic_path
from gemcont.io.chromosomes import sort_key
from gemcont.io.genotype_source import GenotypeSource, has_dosages
from gemcont.io.panel import PANEL_COLUMNS
from gemcont.io.plink import Genotypes
from gemcont.io.sumstats import DROPPED_AT_READ, NOT_A_VARIANT, load_sumstats
from gemcont.io.tables import write_tsv
from gemcont.panel.clump import clump, clump_plink
from gemcont.panel.clump_dosage import clump_dosages
from gemcont.panel.eaf_check import FrequencyLookup, a1_frequencies, check_eaf_orientation
from gemcont.panel.harmonise import harmonise
from gemcont.panel.harmonise_report import KEPT, coverage_table, dropped_hits
from gemcont.panel.meta import meta_analyse
from gemcont.panel.studies import Study
from gemcont.settings import build

log = logging.getLogger(__name__)

MAIN_REASONS = 3  # drop reasons named in the error of a too small panel
NAMED_HITS = 20  # dropped hits named in the log line (all of them are in the report)


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
    meta_scheme: str
    meta_min_studies: int


@dataclass(frozen=True)
class PanelGenotypeSettings:
    """Config section ``data.panel_genotypes``: the keys of ``gwas.genotypes`` that name
    a file set (no mfi: the panel does not filter on INFO)."""

    path: str | None
    sample: str | None
    bgen_ref: str


@dataclass(frozen=True)
class PanelPaths:
    """Files written by :func:`build_panel`: outputs, and the copies of the harmonise
    report and coverage kept in ``logs/`` (``*_log``); ``meta`` is written with 2+ studies,
    ``eaf_check`` (each study's effect-allele check, for the report) when given."""

    panel: Path
    coverage: Path
    harmonise_report: Path
    clumps: Path
    harmonise_log: Path
    coverage_log: Path
    meta: Path | None = None
    eaf_check: Path | None = None


def select_panel(
    matched: pd.DataFrame,
    genotypes: GenotypeSource,
    cfg: PanelSettings,
    bfile: str,
    threads: int,
) -> pd.DataFrame:
    """Index variants of the p-threshold + LD-clumping step: LD from the dosages of a
    PGEN/BGEN source (squared Pearson correlation), else from the hard calls with either
    engine (``bfile``: plink1.9's fileset)."""
    options = {
        "p_threshold": cfg.p_threshold,
        "r2_threshold": cfg.clump_r2,
        "window_kb": cfg.clump_kb,
    }
    if has_dosages(genotypes):
        return clump_dosages(matched, genotypes, **options)
    if cfg.clump_engine == "plink1.9":
        return clump_plink(matched, bfile, plink=cfg.plink1_9, threads=threads, **options)
    return clump(matched, genotypes, r2_method=cfg.r2_method, **options)


def main_drop_reasons(report: pd.DataFrame, n: int = MAIN_REASONS) -> list[str]:
    """The ``n`` most frequent reasons rows of the harmonise report were dropped, as
    "status (rows, e.g. reason of one)"; rows dropped while reading by their reason (the
    reader's reasons are categories, e.g. covariate TEST rows); prefixed by the study
    where the report holds several."""
    dropped = report[~report["STATUS"].isin(KEPT)]
    status = dropped["STATUS"].astype(str)
    reason = dropped["REASON"].fillna("").astype(str)
    at_read = status.isin([DROPPED_AT_READ, NOT_A_VARIANT])
    label = status.where(~at_read, status + ": " + reason)
    if dropped["STUDY"].nunique() > 1:
        label = dropped["STUDY"].astype(str) + " " + label
    named = []
    for text, count in label.value_counts().head(n).items():
        example = reason[(label == text).to_numpy()].iloc[0]
        shown = f", e.g. {example}" if example and not text.endswith(example) else ""
        named.append(f"{text} ({count:,} rows{shown})")
    return named


def check_panel_size(
    panel: pd.DataFrame,
    n_significant: int,
    cfg: PanelSettings,
    source: str,
    reasons: list[str],
    report_log: Path,
) -> None:
    """Stop when the panel is too small to supervise anything, naming the main reasons
    rows were dropped and the kept copy of the per-row report."""
    if len(panel) < cfg.min_variants:
        named = "; ".join(reasons) or "none"
        raise InputError(
            source,
            f"the panel has {len(panel)} variants ({n_significant} harmonised variants with "
            f"P <= {cfg.p_threshold:g}, clumped at r2 {cfg.clump_r2} / {cfg.clump_kb} kb); "
            f"panel.min_variants is {cfg.min_variants}; main drop reasons: {named} "
            f"(every row and its reason: {report_log})",
            "check that the sumstats match the cohort (build, alleles, column map), raise "
            "panel.p_threshold, or lower panel.min_variants",
        )


@dataclass(frozen=True)
class _Harmonised:
    study: Study
    matched: pd.DataFrame
    report: pd.DataFrame
    columns: str  # the columns read, for the EAF check's message


def _harmonise_study(
    study: Study, bim: pd.DataFrame, a1_freq: FrequencyLookup, cfg: PanelSettings
) -> _Harmonised:
    """Read one study and align it to the cohort's A1 (rows dropped while reading
    included in the report)."""
    loaded = load_sumstats(study.path, dict(study.columns) or None)
    result = harmonise(
        loaded.frame,
        bim,
        resolve_ambiguous_by_eaf=cfg.resolve_ambiguous_by_eaf,
        eaf_tolerance=cfg.eaf_tolerance,
        maf_margin=cfg.ambiguous_maf_margin,
        a1_freq=a1_freq,
        read_drops=loaded.dropped,
        codes=loaded.codes,
    )
    used = [
        f"{n}={loaded.columns[n]}" for n in ("EA", "OA", "BETA", "OR", "EAF") if n in loaded.columns
    ]
    columns = f"{', '.join(used)} (layout {loaded.layout})"
    log.info(
        "%s: %s, %d rows read, %d harmonised",
        study.name,
        columns,
        loaded.n_read,
        len(result.matched),
    )
    report = result.report
    report.insert(0, "STUDY", study.name)
    return _Harmonised(study, result.matched, report, columns)


def _coverage(harmonised: Sequence[_Harmonised]) -> pd.DataFrame:
    """Count and fraction of rows per status, per study."""
    tables = [coverage_table(h.report).assign(study=h.study.name) for h in harmonised]
    table = pd.concat(tables, ignore_index=True)
    return table[["study", *[c for c in table.columns if c != "study"]]]


def _write_kept(table: pd.DataFrame, log_copy: Path, output: Path) -> None:
    """Write ``table`` to its ``logs/`` copy (kept when the job fails), then the output."""
    write_tsv(table, log_copy)
    with atomic_path(output) as tmp:
        shutil.copyfile(log_copy, tmp)


def _log_dropped_hits(report: pd.DataFrame, p_threshold: float, report_log: Path) -> None:
    """Name the rows at or below the panel threshold that were dropped, any reason."""
    hits = dropped_hits(report, p_threshold)
    if hits.empty:
        return
    named = ", ".join(
        f"{row.ID} ({row.STUDY}: {row.STATUS})" for row in hits.head(NAMED_HITS).itertuples()
    )
    more = f" and {len(hits) - NAMED_HITS} more" if len(hits) > NAMED_HITS else ""
    log.warning(
        "%d rows with P <= %g dropped before the panel: %s%s (all in %s)",
        len(hits),
        p_threshold,
        named,
        more,
        report_log,
    )


def _combine(
    harmonised: Sequence[_Harmonised], cfg: PanelSettings, meta_path: Path | None
) -> pd.DataFrame:
    """The one study's harmonised table, or the meta-analysis of several (written)."""
    if len(harmonised) == 1:
        return harmonised[0].matched
    meta = meta_analyse(
        [(h.study.name, h.matched) for h in harmonised],
        scheme=cfg.meta_scheme,
        min_studies=cfg.meta_min_studies,
    )
    write_tsv(meta, meta_path, float_format="%.10g")
    threshold = -np.log10(cfg.p_threshold)
    for h in harmonised:
        hits = h.matched[h.matched["LOG10P"] >= threshold]
        lost = hits[~hits["BIM_INDEX"].isin(meta["BIM_INDEX"])]
        if len(lost):
            log.warning(
                "%s: %d variants with P <= %g left out of the meta-analysis (in fewer than "
                "panel.meta_min_studies = %d studies): %s",
                h.study.name,
                len(lost),
                cfg.p_threshold,
                cfg.meta_min_studies,
                ", ".join(lost["ID"].head(NAMED_HITS)),
            )
    return meta


def configured_panel_genotypes(section: Mapping[str, Any] | None) -> GwasGenotypes | None:
    """``data.panel_genotypes`` read as ``gwas.genotypes`` is (format from the path,
    BGEN .sample and REF/ALT mode); None where it or its path is null (``data.bfile``)."""
    if section is None:
        return None
    settings = build(PanelGenotypeSettings, section, "data.panel_genotypes")
    if settings.path is None:
        return None
    return GwasGenotypes.configured(settings, "")


def open_panel_genotypes(
    bfile: str, genotypes: GwasGenotypes | None, threads: int
) -> tuple[GenotypeSource, str]:
    """The reader of the panel's genotypes (``data.panel_genotypes``; None: the
    ``data.bfile`` hard calls) and the PLINK 1 prefix plink1.9 would clump on."""
    if genotypes is None:
        return Genotypes(bfile, threads=threads), bfile
    plink_prefix = genotypes.path if genotypes.format == "bed" else bfile
    return genotypes.open_all(threads), plink_prefix


def _check_clump_engine(cfg: PanelSettings, panel_genotypes: GwasGenotypes | None) -> None:
    """plink1.9 clumps one PLINK 1 fileset of hard calls: refused for dosages or a
    ``{chrom}`` data.panel_genotypes before any study is read."""
    if panel_genotypes is None or cfg.clump_engine != "plink1.9":
        return
    if panel_genotypes.format != "bed":
        raise ConfigError(
            "panel.clump_engine",
            "plink1.9 clumps hard calls (.bed) only, and data.panel_genotypes holds "
            "dosages: set panel.clump_engine to builtin (LD from the dosages)",
        )
    if panel_genotypes.per_chromosome:
        raise ConfigError(
            "panel.clump_engine",
            "plink1.9 clumps one PLINK 1 fileset, and data.panel_genotypes.path holds "
            "{chrom}: set panel.clump_engine to builtin",
        )


def build_panel(
    studies: Sequence[Study],
    bfile: str,
    cfg: PanelSettings,
    paths: PanelPaths,
    threads: int,
    panel_genotypes: GwasGenotypes | None = None,
) -> pd.DataFrame:
    """Run the panel stage and write the panel, coverage, harmonisation and clump tables
    (and the meta-analysis of several studies). ``panel_genotypes``: what the sumstats are
    harmonised to and LD is computed from (``data.panel_genotypes``; None: ``bfile``);
    the panel's ``BIM_INDEX`` is a row of its variant table (all chromosomes of a
    ``{chrom}`` file set, in turn)."""
    if len(studies) > 1 and paths.meta is None:
        raise ValueError("several studies need PanelPaths.meta (the meta-analysis table)")
    _check_clump_engine(cfg, panel_genotypes)
    source, plink_prefix = open_panel_genotypes(bfile, panel_genotypes, threads)
    with source as genotypes:
        if panel_genotypes is not None:
            log.info(
                "panel genotypes %s: %d variants, %d people; clumping LD from %s",
                panel_genotypes.path,
                genotypes.n_variants,
                genotypes.n_samples,
                "dosages (squared Pearson r)" if has_dosages(genotypes) else "hard calls",
            )
        a1_freq = a1_frequencies(genotypes)
        harmonised = [_harmonise_study(s, genotypes.bim, a1_freq, cfg) for s in studies]
        report = pd.concat([h.report for h in harmonised], ignore_index=True)
        coverage = _coverage(harmonised)
        _write_kept(report, paths.harmonise_log, paths.harmonise_report)
        _write_kept(coverage, paths.coverage_log, paths.coverage)
        for row in coverage[coverage["count"] > 0].itertuples():
            log.info(
                "harmonisation: %s %-24s %8d (%.1f%%)",
                row.study,
                row.status,
                row.count,
                100 * row.fraction,
            )
        _log_dropped_hits(report, cfg.p_threshold, paths.harmonise_log)
        checks = []
        for h in harmonised:
            check = check_eaf_orientation(h.matched, a1_freq, h.study.path, h.columns)
            # a study whose effect allele could not be checked is worth a warning
            checked = np.isfinite(check.median_abs_diff)
            log.log(
                logging.INFO if checked else logging.WARNING, "%s: %s", h.study.name, check.message
            )
            checks.append({"study": h.study.name, "checked": bool(checked), **asdict(check)})
        if paths.eaf_check is not None:
            write_tsv(pd.DataFrame(checks), paths.eaf_check, float_format="%.4g")
        matched = _combine(harmonised, cfg, paths.meta)
        n_significant = int((matched["P"] <= cfg.p_threshold).sum())
        clumps = select_panel(matched, genotypes, cfg, plink_prefix, threads)
    write_tsv(clumps, paths.clumps)
    panel = matched.set_index("BIM_INDEX").loc[clumps["BIM_INDEX"]].reset_index()
    panel = panel.sort_values(["CHR", "POS"], key=_chrom_key).reset_index(drop=True)
    source = studies[0].path if len(studies) == 1 else str(paths.meta)
    reasons = main_drop_reasons(report)
    check_panel_size(panel, n_significant, cfg, source, reasons, paths.harmonise_log)
    write_tsv(panel[PANEL_COLUMNS], paths.panel, float_format="%.8g")
    log.info(
        "panel: %d index variants from %d with P <= %g",
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
