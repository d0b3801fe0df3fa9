"""Genotype-feature stage: genetic PCs, then panel dosages and PRS with PCs regressed out."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gemcont.errors import InputError
from gemcont.genotypes.features import (
    DosageResult,
    extract_dosages,
    extract_float_dosages,
    make_features,
    write_features,
)
from gemcont.genotypes.pcs import ld_prune, plink2_pcs, randomized_pcs, read_user_pcs
from gemcont.gwas.genotypes import GwasGenotypes
from gemcont.io.genotype_source import has_dosages
from gemcont.io.ids import KEY, align_rows, person_keys
from gemcont.io.panel import read_panel
from gemcont.io.plink import Genotypes, read_fam
from gemcont.io.tables import write_tsv
from gemcont.io.withdrawn import consenting_rows, withdrawn

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PcsSettings:
    """Config section ``pcs`` (meanings and defaults in the schema)."""

    source: str
    file: str | None
    n_pcs: int
    plink2_mode: str
    ld_window_kb: float
    ld_r2: float
    maf_min: float
    seed: int


@dataclass(frozen=True)
class FeaturesSettings:
    """Config section ``features``."""

    max_missing: float


def source_dosages(
    panel: pd.DataFrame,
    panel_path: str,
    bfile: str,
    chosen: GwasGenotypes,
    cfg: FeaturesSettings,
    threads: int,
    exclude: str | None,
) -> tuple[DosageResult, pd.DataFrame]:
    """Panel dosages from ``data.panel_genotypes`` for the consenting people of the
    cohort's .fam, in its order (a BGEN .sample may list them in another)."""
    fam = read_fam(f"{bfile}.fam")
    consenting = consenting_rows(fam, withdrawn(fam, exclude))
    people = fam if consenting is None else fam.iloc[consenting]
    with chosen.open_all(threads) as genotypes:
        _check_panel(panel, genotypes.bim, panel_path, f"the variants of {chosen.path}")
        rows = source_rows(people, genotypes.fam, chosen.people_file, bfile)
        log.info(
            "panel dosages from %s for the %d people of %s.fam (in its order)",
            chosen.path,
            len(people),
            bfile,
        )
        bim_index = panel["BIM_INDEX"].to_numpy()
        if has_dosages(genotypes):
            result = extract_float_dosages(genotypes, bim_index, rows, people, cfg.max_missing)
        else:  # a PLINK 1 panel_genotypes: hard calls, as data.bfile's
            result = extract_dosages(genotypes, bim_index, rows, cfg.max_missing)
    return result, fam


def compute_pcs(
    bfile: str, cfg: PcsSettings, out: Path, threads: int, exclude: str | None = None
) -> None:
    """Genetic PCs on LD-pruned variants (built-in randomized SVD or plink2), or the user's;
    withdrawn participants (:mod:`gemcont.io.withdrawn`, ``exclude`` the withdrawal list)
    take no part and get no PCs."""
    with Genotypes(bfile, threads=threads) as genotypes:
        gone = withdrawn(genotypes.fam, exclude)
        samples = consenting_rows(genotypes.fam, gone)
        if cfg.source == "file":
            pcs = read_user_pcs(cfg.file, cfg.n_pcs, fam=genotypes.fam)
            keys = pd.MultiIndex.from_frame(pcs[KEY].astype(str))
            pcs = pcs[~keys.isin(pd.MultiIndex.from_frame(gone[KEY]))].reset_index(drop=True)
        else:
            pruned = ld_prune(genotypes, cfg.ld_window_kb, cfg.ld_r2, cfg.maf_min, samples=samples)
            log.info("PCs from %d LD-pruned variants of %d", len(pruned), genotypes.n_variants)
            if cfg.source == "plink2":
                ids = genotypes.bim["ID"].to_numpy()[pruned]
                pcs = plink2_pcs(
                    bfile, ids, cfg.n_pcs, out.with_suffix(""), threads, cfg.plink2_mode, gone
                )
            else:
                pcs = randomized_pcs(genotypes, pruned, cfg.n_pcs, cfg.seed, samples)
    write_tsv(pcs, out, float_format="%.8g")


def _check_panel(panel: pd.DataFrame, bim: pd.DataFrame, panel_path: str, table: str) -> None:
    """Stop when the panel's rows no longer name the variants of the genotypes' table
    (``table``: its file, for the message) by ID and effect allele."""
    rows = panel["BIM_INDEX"].to_numpy()
    inside = (rows >= 0) & (rows < len(bim))
    mismatch = ~inside
    at = rows[inside]
    mismatch[inside] = (bim["ID"].to_numpy()[at] != panel["ID"].to_numpy()[inside]) | (
        bim["A1"].to_numpy()[at] != panel["EA"].to_numpy()[inside]
    )
    if mismatch.any():
        first = panel.loc[mismatch, "ID"].iloc[0]
        raise InputError(
            panel_path,
            f"{mismatch.sum()} panel variants (first {first}) no longer match "
            f"{table} by ID or effect allele",
            "rerun the panel stage: snakemake -R build_panel",
        )


def source_rows(fam: pd.DataFrame, source_fam: pd.DataFrame, source: str, bfile: str) -> np.ndarray:
    """Rows of ``source_fam`` (the panel genotypes' people) holding each person of
    ``fam`` (the cohort's .fam rows asked for), matched by FID and IID as the GWAS
    matches them; a person the source lacks stops naming both files."""
    rows = person_keys(source_fam).get_indexer(person_keys(fam))
    absent = np.flatnonzero(rows < 0)
    if absent.size:
        first = fam.iloc[absent[0]]
        iid_only = source_fam["IID"].isin([first["IID"]]).any()
        hint = f" (IID {first['IID']} is there with another FID)" if iid_only else ""
        raise InputError(
            source,
            f"{absent.size} people of {bfile}.fam are not among its samples (first FID "
            f"{first['FID']} IID {first['IID']}){hint}",
            "data.panel_genotypes must hold every person of data.bfile with the same FID "
            "and IID (the order may differ): fix the .sample / .psam IDs, or leave "
            "data.panel_genotypes null",
        )
    return rows


def build_features(
    bfile: str,
    panel_path: str,
    pcs_path: str,
    cfg: FeaturesSettings,
    n_pcs: int,
    out_dir: Path,
    threads: int,
    exclude: str | None = None,
    panel_genotypes: GwasGenotypes | None = None,
) -> None:
    """Panel dosages of the effect allele (= A1 of the genotypes read) and the PRS, top
    PCs regressed out; for the people of ``bfile``'s .fam, in its order, who did not
    withdraw (``exclude``: the withdrawal list). ``panel_genotypes``: the genotypes the
    panel was built on (``data.panel_genotypes``; None: ``bfile``'s hard calls)."""
    panel = read_panel(panel_path)
    if panel_genotypes is None:
        with Genotypes(bfile, threads=threads) as genotypes:
            _check_panel(panel, genotypes.bim, panel_path, f"{bfile}.bim")
            bim_index = panel["BIM_INDEX"].to_numpy()
            samples = consenting_rows(genotypes.fam, withdrawn(genotypes.fam, exclude))
            result = extract_dosages(genotypes, bim_index, samples, cfg.max_missing)
            fam = genotypes.fam
    else:
        result, fam = source_dosages(
            panel, panel_path, bfile, panel_genotypes, cfg, threads, exclude
        )
    pcs = read_user_pcs(pcs_path, n_pcs, fam=fam)
    pc_matrix = align_rows(pcs, result.ids, [f"PC{i + 1}" for i in range(n_pcs)], "pcs")
    features = make_features(result, panel["BETA"].to_numpy(), pc_matrix, str(pcs_path))
    write_features(features, out_dir)
    n_dropped = int((~np.asarray(result.kept)).sum())
    log.info(
        "features: %d people x %d variants (%d dropped for missingness), %d PCs regressed out",
        len(result.ids),
        int(np.sum(result.kept)),
        n_dropped,
        n_pcs,
    )
