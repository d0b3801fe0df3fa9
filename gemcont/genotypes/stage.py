"""Genotype-feature stage: genetic PCs, then panel dosages and PRS with PCs regressed out."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gemcont.errors import InputError
from gemcont.genotypes.features import extract_dosages, make_features, write_features
from gemcont.genotypes.pcs import ld_prune, plink2_pcs, randomized_pcs, read_user_pcs
from gemcont.io.ids import KEY, align_rows
from gemcont.io.panel import read_panel
from gemcont.io.plink import Genotypes
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


def build_features(
    bfile: str,
    panel_path: str,
    pcs_path: str,
    cfg: FeaturesSettings,
    n_pcs: int,
    out_dir: Path,
    threads: int,
    exclude: str | None = None,
) -> None:
    """Panel dosages of the effect allele (= .bim A1) and the PRS, top PCs regressed out;
    for the people who did not withdraw (``exclude``: the withdrawal list)."""
    panel = read_panel(panel_path)
    with Genotypes(bfile, threads=threads) as genotypes:
        bim = genotypes.bim
        mismatch = (bim["ID"].to_numpy()[panel["BIM_INDEX"]] != panel["ID"].to_numpy()) | (
            bim["A1"].to_numpy()[panel["BIM_INDEX"]] != panel["EA"].to_numpy()
        )
        if mismatch.any():
            first = panel.loc[mismatch, "ID"].iloc[0]
            raise InputError(
                panel_path,
                f"{mismatch.sum()} panel variants (first {first}) no longer match "
                f"{bfile}.bim by ID or effect allele",
                "rerun the panel stage: snakemake -R build_panel",
            )
        bim_index = panel["BIM_INDEX"].to_numpy()
        samples = consenting_rows(genotypes.fam, withdrawn(genotypes.fam, exclude))
        result = extract_dosages(genotypes, bim_index, samples, cfg.max_missing)
        fam = genotypes.fam
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
