"""Imputed genotypes of the simulated cohort (``simulate.imputed``): the cohort's hard
calls with simulated imputation uncertainty, written as a PLINK 2 file set with dosages
and as BGEN 1.2 (8-bit, one file per chromosome with its ``.sample``, UK Biobank's
layout), so that the demo's GWAS runs on dosages (``gwas.genotypes``).

Imputation model: each variant draws a quality ``INFO ~ U(min_info, 1)``; each call's
posterior mixes its true genotype (weight ``w``) with the Hardy-Weinberg prior of the
variant's frequency ``p`` (weight ``1 - w``), so its dosage is ``w g + (1 - w) 2p``.
``w ~ Beta(m k, (1 - m) k)`` per call with ``E[w^2] = INFO``; then the dosages' MaCH
R^2 (``var(d) / 2p(1 - p)``) and the IMPUTE INFO of these posteriors both equal INFO
in expectation. A missing call (the .bed's) is imputed as the prior mean ``2p``.

The .bed is not touched (its hard calls stay the msprime genotypes), the PGEN is written
with ``pgenlib`` (the PLINK 2 authors' writer: a dosage table for ``plink2
--import-dosage`` would be ~1 GB of text at the demo's size) and the BGEN files by
``plink2 --export bgen-1.2 bits=8 ref-first`` from it. Alleles: .pvar REF = .bim A2,
ALT = .bim A1 (the counted allele of every format, :mod:`gemcont.io.genotype_source`);
the BGEN holds REF first. People are in a shuffled order (seeded), as UK Biobank's
imputed files differ from its .fam, so the demo exercises the sample matching.
A generator stream of its own keeps every other simulated file byte-identical.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import numpy as np
import pgenlib

from gemcont.gwas.engines.plink2 import run_tool
from gemcont.io.atomic import atomic_path
from gemcont.io.genotype_source import CHROM
from gemcont.io.plink import Genotypes, read_bim, read_fam
from gemcont.io.tables import write_tsv
from gemcont.simulate.settings import SimulateSettings

log = logging.getLogger(__name__)

#: spread of a call's certainty w around its mean (Beta concentration m k + (1 - m) k)
CONCENTRATION = 4.0
#: the generator stream of the imputed files (the other streams: cohort.py, genotypes.py)
STREAM = 17


def certainty_mean(info: np.ndarray) -> np.ndarray:
    """Mean ``m`` of ``w ~ Beta(m k, (1 - m) k)`` with ``E[w^2] = info``: the root of
    ``k m^2 + m - info (k + 1) = 0`` (``E[w^2] = m (1 - m) / (k + 1) + m^2``)."""
    k = CONCENTRATION
    return (np.sqrt(1 + 4 * k * (k + 1) * info) - 1) / (2 * k)


def impute(calls: np.ndarray, info: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Imputed dosages (float32, people x variants) of hard calls (NaN: missing) at the
    variants' ``info`` (the module docstring's model)."""
    twice_p = np.nanmean(calls, axis=0, dtype=np.float64)
    m = certainty_mean(np.asarray(info, dtype=np.float64))
    a, b = m * CONCENTRATION, (1 - m) * CONCENTRATION
    certain = b <= 0  # INFO 1: w = 1 (Beta needs b > 0)
    w = rng.beta(a, np.where(certain, 1.0, b), size=calls.shape)
    w[:, certain] = 1.0
    centred = np.nan_to_num(calls - twice_p)  # a missing call: 0, its dosage the mean 2p
    return (w * centred + twice_p).astype(np.float32)


def simulate_imputed(
    settings: SimulateSettings, bfile: str, pgen: str, bgen: str, threads: int = 1
) -> None:
    """Write the imputed cohort of the PLINK 1 fileset ``bfile``: the PLINK 2 file set
    ``pgen`` (a prefix) and one BGEN per chromosome at ``bgen`` (a ``{chrom}`` path; its
    ``.sample`` beside it)."""
    bim, fam = read_bim(f"{bfile}.bim"), read_fam(f"{bfile}.fam")
    order = np.random.default_rng([settings.seed, STREAM]).permutation(len(fam))
    chromosomes = list(dict.fromkeys(bim["CHR"]))
    with atomic_path(f"{pgen}.pgen") as tmp:
        writer = pgenlib.PgenWriter(
            str(tmp).encode(), len(fam), len(bim), False, dosage_present=True
        )
        for chrom in chromosomes:
            with Genotypes(bfile, threads, chrom) as genotypes:
                calls = genotypes.read(dtype="float32")[order]
            # one stream a chromosome: its draws do not depend on the others'
            rng = np.random.default_rng([settings.seed, STREAM, int(chrom)])
            info = rng.uniform(settings.imputed.min_info, 1.0, calls.shape[1])
            writer.append_dosages_batch(np.ascontiguousarray(impute(calls, info, rng).T))
            log.info("chr %s: %d variants, mean INFO %.3f", chrom, len(info), info.mean())
        writer.close()
    pvar = bim.rename(columns={"CHR": "#CHROM", "A2": "REF", "A1": "ALT"})
    write_tsv(pvar[["#CHROM", "POS", "ID", "REF", "ALT"]], f"{pgen}.pvar")
    psam = fam.iloc[order].rename(columns={"FID": "#FID"})
    write_tsv(psam[["#FID", "IID", "SEX"]], f"{pgen}.psam")
    for chrom in chromosomes:
        _export_bgen(pgen, chrom, Path(bgen.replace(CHROM, chrom)), threads)


def _export_bgen(pgen: str, chrom: str, bgen: Path, threads: int) -> None:
    """``chrom``'s variants of ``pgen`` as 8-bit BGEN 1.2 (REF first) and its .sample,
    made in a folder beside ``bgen`` and moved into place whole."""
    with tempfile.TemporaryDirectory(dir=bgen.parent, prefix=".bgen_") as work:
        out = Path(work) / bgen.stem
        cmd = ["plink2", "--pfile", pgen, "--chr", chrom, "--export", "bgen-1.2", "bits=8"]
        cmd += ["ref-first", "--threads", str(threads), "--out", str(out)]
        run_tool(cmd, f"{out}.log")
        os.replace(f"{out}.sample", bgen.with_suffix(".sample"))
        os.replace(f"{out}.bgen", bgen)
    log.info("wrote %s and its .sample", bgen)
