"""Writers of the published sumstats layouts, the way each producer writes its file.

Each writer takes the same underlying statistics, a "truth" frame with columns CHR, POS,
ID, A1, A2, EAF (of A1), N, BETA, SE (of A1's effect) and LOG10P, states every variant
for A1 or A2 at random (a fixed seed per layout), and adds the layout's own missing-value
tokens and extra rows. Shared by the loader tests (tests/test_sumstats_layouts.py) and
the panel tests (tests/test_panel_layouts.py).
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

Lines = list[list]


def p_text(log10p: float) -> str:
    """P as a producer prints it, exact below the double range ('1.23e-400')."""
    exponent = math.floor(-log10p)
    mantissa = 10 ** (-log10p - exponent)
    return f"{mantissa:.6f}e{exponent:+d}"


def orientations(n: int, seed: int) -> list[bool]:
    """True where the file states the variant for A2 (flipped)."""
    return list(np.random.default_rng(seed).random(n) < 0.5)


def flip(row, flipped: bool) -> tuple[str, str, float, float]:
    """Effect allele, other allele, BETA, EAF as written in that orientation."""
    if flipped:
        # rounded to 10 decimals: no float noise printed, every digit of the EAF kept
        return row.A2, row.A1, -row.BETA, round(1 - row.EAF, 10)
    return row.A1, row.A2, row.BETA, row.EAF


def write_lines(path: str | Path, lines: Lines, sep: str = "\t") -> str:
    """Write ``lines`` gzip-compressed, one field list a line."""
    text = "\n".join(sep.join(str(v) for v in line) for line in lines) + "\n"
    with gzip.open(path, "wt") as handle:
        handle.write(text)
    return str(path)


def _rows(truth: pd.DataFrame, seed: int):
    return zip(truth.itertuples(), orientations(len(truth), seed), strict=True)


def canonical_lines(truth: pd.DataFrame) -> Lines:
    """The project's own scheme, every variant for A1 (the reference the others match)."""
    lines = [["CHR", "BP", "SNP", "A1", "A2", "FRQ", "N", "BETA", "SE", "P"]]
    for r in truth.itertuples():
        lines.append([r.CHR, r.POS, r.ID, r.A1, r.A2, r.EAF, r.N, r.BETA, r.SE])
        lines[-1] += [p_text(r.LOG10P)]
    return lines


def finngen_lines(truth: pd.DataFrame) -> Lines:
    """FinnGen: alt is the effect allele; every fifth rsid empty."""
    lines = [["#chrom", "pos", "ref", "alt", "rsids", "nearest_genes", "pval", "mlogp"]]
    lines[0] += ["beta", "sebeta", "af_alt", "af_alt_cases", "af_alt_controls"]
    for r, flipped in _rows(truth, 1):
        alt, ref, beta, eaf = flip(r, flipped)
        rsid = "" if r.Index % 5 == 0 else r.ID
        p = p_text(r.LOG10P)
        lines.append([r.CHR, r.POS, ref, alt, rsid, "GENE1", p, f"{r.LOG10P:.6f}", beta, r.SE])
        lines[-1] += [eaf, eaf, eaf]
    return lines


def gwas_ssf_lines(truth: pd.DataFrame) -> Lines:
    """GWAS-SSF: every third rsid the token '#NA'; one extra row with '#NA' for BETA."""
    header = ["chromosome", "base_pair_location", "effect_allele", "other_allele", "beta"]
    header += ["standard_error", "effect_allele_frequency", "p_value", "variant_id", "rsid", "n"]
    lines = [header]
    for r, flipped in _rows(truth, 2):
        ea, oa, beta, eaf = flip(r, flipped)
        rsid = "#NA" if r.Index % 3 == 0 else r.ID
        variant_id = f"{r.CHR}_{r.POS}_{oa}_{ea}"
        lines.append([r.CHR, r.POS, ea, oa, beta, r.SE, eaf, p_text(r.LOG10P), variant_id])
        lines[-1] += [rsid, r.N]
    lines.append(["1", "99000", "A", "G", "#NA", "#NA", "0.2", "0.5", "1_99000_G_A", "#NA", "5"])
    return lines


def gwas_catalog_lines(truth: pd.DataFrame) -> Lines:
    """GWAS Catalog harmonised: hm_* columns in one orientation, the submitted columns
    (another build's positions) in another; two rows that failed harmonisation."""
    header = ["hm_variant_id", "hm_rsid", "hm_chrom", "hm_pos", "hm_other_allele"]
    header += ["hm_effect_allele", "hm_beta", "hm_odds_ratio", "hm_ci_lower", "hm_ci_upper"]
    header += ["hm_effect_allele_frequency", "hm_code", "variant_id", "p_value", "chromosome"]
    header += ["base_pair_location", "other_allele", "effect_allele", "beta", "standard_error"]
    header += ["effect_allele_frequency"]
    lines = [header]
    submitted_flips = orientations(len(truth), 3)
    for r, flipped in _rows(truth, 4):
        hm_ea, hm_oa, hm_beta, hm_eaf = flip(r, flipped)
        ea, oa, beta, eaf = flip(r, submitted_flips[r.Index])
        code = "10" if (hm_ea == ea) else "11"
        old_pos = r.POS + 250_000  # the submitted build's position
        lines.append([f"{r.CHR}_{r.POS}_{hm_oa}_{hm_ea}", r.ID, r.CHR, r.POS, hm_oa, hm_ea])
        lines[-1] += [hm_beta, "NA", "NA", "NA", hm_eaf, code, r.ID, p_text(r.LOG10P), r.CHR]
        lines[-1] += [old_pos, oa, ea, beta, r.SE, eaf]
    lines.append(["NA"] * 11 + ["15", "rs999", "1e-30", "1", "5000", "A", "G", "0.5", "0.01"])
    lines[-1] += ["0.3"]
    lines.append(["NA"] * 11 + ["14", "rs998", "1e-30", "1", "6000", "A", "G", "0.5", "0.01"])
    lines[-1] += ["0.3"]
    return lines


def plink2_glm_lines(truth: pd.DataFrame) -> Lines:
    """PLINK 2 --glm: A1 is the effect allele (REF/ALT in their own random order); two
    covariate TEST rows per variant; one row with NA statistics."""
    header = ["#CHROM", "POS", "ID", "REF", "ALT", "PROVISIONAL_REF?", "A1", "OMITTED"]
    header += ["A1_FREQ", "TEST", "OBS_CT", "BETA", "SE", "T_STAT", "P", "ERRCODE"]
    lines = [header]
    ref_alt = orientations(len(truth), 6)
    for r, flipped in _rows(truth, 5):
        a1, omitted, beta, eaf = flip(r, flipped)
        ref, alt = (r.A1, r.A2) if ref_alt[r.Index] else (r.A2, r.A1)
        stat = beta / r.SE
        lines.append([r.CHR, r.POS, r.ID, ref, alt, "Y", a1, omitted, eaf, "ADD", r.N, beta])
        lines[-1] += [r.SE, f"{stat:.6g}", p_text(r.LOG10P), "."]
        for covariate in ("AGE", "SEX"):
            lines.append([r.CHR, r.POS, r.ID, ref, alt, "Y", a1, omitted, eaf, covariate])
            lines[-1] += [r.N, "0.01", "0.001", "10", "1e-20", "."]
    lines.append(["1", "99000", "rs999", "A", "G", "Y", "G", "A", "0.3", "ADD", "5000", "NA"])
    lines[-1] += ["NA", "NA", "NA", "CONST_OMITTED_ALLELE"]
    return lines


def regenie_lines(truth: pd.DataFrame) -> Lines:
    """REGENIE: ALLELE1 is the effect allele; an interaction TEST row per variant and a
    repeated header halfway (per-chromosome files joined with `cat`)."""
    header = ["CHROM", "GENPOS", "ID", "ALLELE0", "ALLELE1", "A1FREQ", "INFO", "N", "TEST"]
    header += ["BETA", "SE", "CHISQ", "LOG10P", "EXTRA"]
    lines = [header]
    for r, flipped in _rows(truth, 7):
        a1, a0, beta, eaf = flip(r, flipped)
        if r.Index == len(truth) // 2:
            lines.append(header)
        chisq = (beta / r.SE) ** 2
        lines.append([r.CHR, r.POS, r.ID, a0, a1, eaf, "1", r.N, "ADD", beta, r.SE])
        lines[-1] += [f"{chisq:.6g}", f"{r.LOG10P:.6f}", "NA"]
        lines.append([r.CHR, r.POS, r.ID, a0, a1, eaf, "1", r.N, "ADD-INT_SNP", "0.1"])
        lines[-1] += ["0.2", "0.25", "0.2", "NA"]
    return lines


def bolt_lmm_lines(truth: pd.DataFrame) -> Lines:
    """BOLT-LMM: ALLELE1 is the effect allele, BP the position (GENPOS in cM), P_BOLT_LMM
    the P beside a different P_BOLT_LMM_INF."""
    header = ["SNP", "CHR", "BP", "GENPOS", "ALLELE1", "ALLELE0", "A1FREQ", "F_MISS", "BETA"]
    header += ["SE", "P_BOLT_LMM_INF", "P_BOLT_LMM"]
    lines = [header]
    for r, flipped in _rows(truth, 8):
        a1, a0, beta, eaf = flip(r, flipped)
        genpos = r.POS / 1e6
        p_inf = p_text(r.LOG10P * 0.8)
        lines.append([r.ID, r.CHR, r.POS, genpos, a1, a0, eaf, "0.001", beta, r.SE, p_inf])
        lines[-1] += [p_text(r.LOG10P)]
    return lines


def saige_lines(truth: pd.DataFrame) -> Lines:
    """SAIGE: Allele2 is the effect allele (AF_Allele2 its frequency)."""
    header = ["CHR", "POS", "MarkerID", "Allele1", "Allele2", "AC_Allele2", "AF_Allele2"]
    header += ["MissingRate", "BETA", "SE", "Tstat", "var", "p.value", "p.value.NA", "Is.SPA"]
    header += ["N"]
    lines = [header]
    for r, flipped in _rows(truth, 9):
        a2, a1, beta, eaf = flip(r, flipped)
        tstat = beta / r.SE**2
        lines.append([r.CHR, r.POS, r.ID, a1, a2, round(2 * r.N * eaf), eaf, "0", beta, r.SE])
        lines[-1] += [f"{tstat:.6g}", "1", p_text(r.LOG10P), "NA", "FALSE", r.N]
    return lines


def metal_stderr_lines(truth: pd.DataFrame) -> Lines:
    """METAL, STDERR scheme: MarkerName only (no position), Allele1 the effect allele,
    alleles in lower case."""
    header = ["MarkerName", "Allele1", "Allele2", "Freq1", "FreqSE", "MinFreq", "MaxFreq"]
    header += ["Effect", "StdErr", "P-value", "Direction", "HetISq", "HetChiSq", "HetDf"]
    header += ["HetPVal"]
    lines = [header]
    for r, flipped in _rows(truth, 10):
        a1, a2, beta, eaf = flip(r, flipped)
        lines.append([r.ID, a1.lower(), a2.lower(), eaf, "0.01", eaf, eaf, beta, r.SE])
        lines[-1] += [p_text(r.LOG10P), "++", "0", "0.5", "1", "0.48"]
    return lines


def metal_samplesize_lines(truth: pd.DataFrame) -> Lines:
    """METAL, SAMPLESIZE scheme: Zscore and Weight, no effect size, no frequency."""
    lines = [["MarkerName", "Allele1", "Allele2", "Weight", "Zscore", "P-value", "Direction"]]
    for r, flipped in _rows(truth, 11):
        a1, a2, beta, _ = flip(r, flipped)
        z = beta / r.SE
        lines.append([r.ID, a1.lower(), a2.lower(), r.N, f"{z:.8g}", p_text(r.LOG10P), "+-"])
    return lines


def plink1_assoc_lines(truth: pd.DataFrame) -> Lines:
    """PLINK 1.9 --assoc (case/control): A1 the effect allele, OR and P only, F_A/F_U the
    case and control frequencies (no population EAF), padded with spaces; one NA row."""
    lines = [["CHR", "SNP", "BP", "A1", "F_A", "F_U", "A2", "CHISQ", "P", "OR"]]
    for r, flipped in _rows(truth, 12):
        a1, a2, beta, eaf = flip(r, flipped)
        chisq = (beta / r.SE) ** 2
        lines.append([r.CHR, r.ID, r.POS, a1, eaf, eaf, a2, f"{chisq:.6g}", p_text(r.LOG10P)])
        lines[-1] += [f"{math.exp(beta):.10g}"]
    lines.append(["1", "rs999", "99000", "A", "NA", "NA", "G", "NA", "NA", "NA"])
    return [[f"{v:>12}" for v in line] for line in lines]


def plink1_linear_lines(truth: pd.DataFrame) -> Lines:
    """PLINK 1.9 --linear: A1 the effect allele, no other allele, no frequency; a
    covariate TEST row per variant."""
    lines = [["CHR", "SNP", "BP", "A1", "TEST", "NMISS", "BETA", "SE", "L95", "U95", "STAT"]]
    lines[0] += ["P"]
    for r, flipped in _rows(truth, 13):
        a1, _, beta, _ = flip(r, flipped)
        lo, hi = beta - 1.96 * r.SE, beta + 1.96 * r.SE
        lines.append([r.CHR, r.ID, r.POS, a1, "ADD", r.N, beta, r.SE, f"{lo:.4g}", f"{hi:.4g}"])
        lines[-1] += [f"{beta / r.SE:.6g}", p_text(r.LOG10P)]
        lines.append([r.CHR, r.ID, r.POS, a1, "COV1", r.N, "0.3", "0.1", "0.1", "0.5", "3"])
        lines[-1] += ["0.003"]
    return lines


@dataclass(frozen=True)
class LayoutWriter:
    """One published layout: the layout :func:`gemcont.io.sumstats.load_sumstats`
    detects, its lines, the file name and field separator its producer uses."""

    layout: str
    lines: Callable[[pd.DataFrame], Lines]
    file_name: str
    sep: str = "\t"

    def write(self, truth: pd.DataFrame, directory: Path) -> str:
        return write_lines(directory / self.file_name, self.lines(truth), self.sep)


WRITERS = {
    "finngen": LayoutWriter("finngen", finngen_lines, "finngen.gz"),
    "gwas_ssf": LayoutWriter("gwas_ssf", gwas_ssf_lines, "ssf.tsv.gz"),
    "gwas_catalog_harmonised": LayoutWriter(
        "gwas_catalog_harmonised", gwas_catalog_lines, "harmonised.tsv.gz"
    ),
    "plink2_glm": LayoutWriter("plink2_glm", plink2_glm_lines, "trait.glm.linear.gz"),
    "regenie": LayoutWriter("regenie", regenie_lines, "assoc_Y1.regenie.gz", " "),
    "bolt_lmm": LayoutWriter("bolt_lmm", bolt_lmm_lines, "bolt.stats.gz"),
    "saige": LayoutWriter("saige", saige_lines, "saige.txt.gz", " "),
    "metal_stderr": LayoutWriter("metal", metal_stderr_lines, "METAANALYSIS1.TBL.gz"),
    "metal_samplesize": LayoutWriter("metal", metal_samplesize_lines, "METAANALYSIS2.TBL.gz"),
    "plink1_assoc": LayoutWriter("plink1_assoc", plink1_assoc_lines, "plink.assoc.gz", " "),
    "plink1_linear": LayoutWriter(
        "plink1_linear", plink1_linear_lines, "plink.assoc.linear.gz", " "
    ),
}
