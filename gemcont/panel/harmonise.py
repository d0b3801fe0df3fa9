"""Align external GWAS summary statistics to the cohort's .bim.

After harmonisation ``EA`` is always the cohort's counted allele (.bim column 5,
``A1``) and ``BETA``/``EAF`` are expressed for it. Rules, applied per sumstats row:

1. Rows whose ID, or whose CHR:POS + allele pair, occurs more than once in the
   sumstats are all dropped (``dropped_duplicate``): which copy is right is unknown.
2. Candidates: the .bim record with the same ID (only when that ID is unique in the
   .bim), then every .bim record at the same CHR:POS. A candidate is compatible when
   its allele pair equals ``{EA, OA}`` as given, or (SNPs only) after complementing
   both alleles (strand flip). At multi-allelic .bim positions (one CHR:POS, several
   allele pairs) only same-strand matches count; a complement-only match there is
   ``dropped_multiallelic``.
3. The ID candidate wins when compatible; otherwise the one compatible position
   candidate (same strand preferred). Two equally good position candidates (the
   .bim repeats a variant) -> ``dropped_duplicate``. A .bim record claimed by more
   than one sumstats row -> all those rows ``dropped_duplicate``.
4. Strand-ambiguous SNPs (A/T, C/G) are ``dropped_ambiguous`` unless
   ``resolve_ambiguous_by_eaf``: then both the sumstats EAF and the cohort A1
   frequency must be at least ``maf_margin`` away from 0.5, and the EAF must lie
   within ``eaf_tolerance`` of exactly one of the two readings (same strand: EA's
   cohort frequency; opposite strand: one minus it). Such rows are
   ``resolved_ambiguous``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gemcont.io.plink import Genotypes
from gemcont.io.sumstats import SINGLE_TRAIT_COLUMNS, normalise_chrom

KEPT = ["matched", "flipped", "strand_flipped", "resolved_ambiguous"]
DROPPED = [
    "dropped_ambiguous",
    "dropped_allele_mismatch",
    "dropped_absent",
    "dropped_duplicate",
    "dropped_multiallelic",
]
STATUSES = KEPT + DROPPED
COMPLEMENT = {"A": "T", "T": "A", "C": "G", "G": "C"}
REPORT_COLUMNS = ["ID", "CHR", "POS", "EA", "OA", "STATUS", "BIM_INDEX", "BIM_ID", "FLIPPED"]

FrequencyLookup = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class HarmoniseResult:
    """``matched``: aligned sumstats (EA = .bim A1); ``report``: one row per input row."""

    matched: pd.DataFrame
    report: pd.DataFrame


def _prepare_sumstats(sumstats: pd.DataFrame) -> pd.DataFrame:
    ss = sumstats.reset_index(drop=True).copy()
    ss["CHR"] = normalise_chrom(ss["CHR"])
    ss["EA"] = ss["EA"].astype(str).str.upper()
    ss["OA"] = ss["OA"].astype(str).str.upper()
    ss["ROW"] = np.arange(len(ss))
    return ss


def _prepare_bim(bim: pd.DataFrame) -> pd.DataFrame:
    b = bim[["CHR", "ID", "POS", "A1", "A2"]].reset_index(drop=True).copy()
    b["CHR"] = normalise_chrom(b["CHR"])
    b["A1"] = b["A1"].astype(str).str.upper()
    b["A2"] = b["A2"].astype(str).str.upper()
    b["BIM_INDEX"] = np.arange(len(b))
    pair = _pair_key(b["A1"], b["A2"])
    n_pairs = pair.groupby([b["CHR"], b["POS"]]).transform("nunique")
    b["MULTI"] = (n_pairs > 1).to_numpy()
    return b


def _pair_key(a: pd.Series, b: pd.Series) -> pd.Series:
    """Order-free allele pair, e.g. 'A/G' for both A,G and G,A."""
    return a.where(a < b, b) + "/" + b.where(a < b, a)


def _duplicated_rows(ss: pd.DataFrame) -> pd.Series:
    by_id = ss["ID"].duplicated(keep=False)
    key = ss["CHR"] + ":" + ss["POS"].astype(str) + ":" + _pair_key(ss["EA"], ss["OA"])
    return by_id | key.duplicated(keep=False)


def _candidates(ss: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """All (sumstats row, bim record) pairs sharing a unique ID or CHR:POS."""
    unique_ids = b[~b["ID"].duplicated(keep=False)]
    by_id = ss[["ROW", "ID"]].merge(unique_ids[["ID", "BIM_INDEX"]], on="ID").assign(VIA=0)
    by_pos = ss[["ROW", "CHR", "POS"]].merge(b[["CHR", "POS", "BIM_INDEX"]], on=["CHR", "POS"])
    cand = pd.concat([by_id, by_pos.assign(VIA=1)])[["ROW", "BIM_INDEX", "VIA"]]
    cand = cand.sort_values(["ROW", "VIA"], kind="stable")
    cand = cand.drop_duplicates(["ROW", "BIM_INDEX"]).reset_index(drop=True)
    cand = cand.join(ss.set_index("ROW")[["EA", "OA", "EAF"]], on="ROW")
    return cand.join(b.set_index("BIM_INDEX")[["A1", "A2", "MULTI"]], on="BIM_INDEX")


def _classify(cand: pd.DataFrame) -> pd.DataFrame:
    """Add COMPATIBLE, STRAND (complemented), FLIPPED (EA was A2) and AMBIGUOUS."""
    ea, oa, a1, a2 = (cand[c] for c in ("EA", "OA", "A1", "A2"))
    snp = ea.isin(COMPLEMENT) & oa.isin(COMPLEMENT) & a1.isin(COMPLEMENT) & a2.isin(COMPLEMENT)
    cea, coa = ea.map(COMPLEMENT), oa.map(COMPLEMENT)
    same, swap = (ea == a1) & (oa == a2), (ea == a2) & (oa == a1)
    comp = snp & (cea == a1) & (coa == a2)
    comp_swap = snp & (cea == a2) & (coa == a1)
    cand["STRAND"] = ~(same | swap) & (comp | comp_swap)
    cand["COMPATIBLE"] = same | swap | (cand["STRAND"] & ~cand["MULTI"])
    cand["FLIPPED"] = swap | (cand["STRAND"] & comp_swap)
    cand["AMBIGUOUS"] = cand["COMPATIBLE"] & snp & (a1 == a2.map(COMPLEMENT))
    return cand


def _choose(cand: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """One compatible candidate per row; rows with two equally good ones -> duplicates."""
    ok = cand[cand["COMPATIBLE"]].sort_values(["ROW", "VIA", "STRAND", "BIM_INDEX"])
    best = ok.drop_duplicates("ROW")
    ties = ok.merge(best[["ROW", "VIA", "STRAND"]], on=["ROW", "VIA", "STRAND"])
    tied_rows = ties.groupby("ROW").size().loc[lambda s: s > 1].index
    return best[~best["ROW"].isin(tied_rows)], pd.Series(tied_rows)


def _unmatched_status(ss: pd.DataFrame, cand: pd.DataFrame, b: pd.DataFrame) -> pd.Series:
    """Status of rows without a compatible candidate."""
    status = pd.Series("dropped_absent", index=ss["ROW"])
    dup_ids = b["ID"][b["ID"].duplicated(keep=False)]
    status.loc[ss["ID"].isin(dup_ids).to_numpy()] = "dropped_duplicate"
    status.loc[cand["ROW"].unique()] = "dropped_allele_mismatch"
    status.loc[cand.loc[cand["MULTI"], "ROW"].unique()] = "dropped_multiallelic"
    return status


def _resolve_ambiguous(
    chosen: pd.DataFrame, a1_freq: FrequencyLookup, eaf_tolerance: float, maf_margin: float
) -> pd.Series:
    """For ambiguous SNPs: True/False = EA is/isn't A1 after resolution; NaN = unresolved."""
    amb = chosen[chosen["AMBIGUOUS"]]
    freq = np.asarray(a1_freq(amb["BIM_INDEX"].to_numpy()), dtype=float)
    expected = np.where(amb["FLIPPED"], 1 - freq, freq)
    eaf = amb["EAF"].to_numpy(dtype=float)
    clear = (np.abs(eaf - 0.5) > maf_margin) & (np.abs(freq - 0.5) > maf_margin)
    same = np.abs(eaf - expected) <= eaf_tolerance
    other = np.abs(eaf - (1 - expected)) <= eaf_tolerance
    flipped = np.where(same & ~other, amb["FLIPPED"], ~amb["FLIPPED"].to_numpy())
    return pd.Series(np.where(clear & (same != other), flipped, np.nan), index=amb.index)


def _apply_ambiguity(
    chosen: pd.DataFrame,
    a1_freq: FrequencyLookup | None,
    eaf_tolerance: float,
    maf_margin: float,
) -> pd.DataFrame:
    chosen = chosen.assign(STATUS="matched")
    chosen.loc[chosen["FLIPPED"], "STATUS"] = "flipped"
    chosen.loc[chosen["STRAND"], "STATUS"] = "strand_flipped"
    chosen.loc[chosen["AMBIGUOUS"], "STATUS"] = "dropped_ambiguous"
    if a1_freq is None or not chosen["AMBIGUOUS"].any():
        return chosen
    flipped = _resolve_ambiguous(chosen, a1_freq, eaf_tolerance, maf_margin).dropna()
    resolved = flipped.index
    strand = flipped.astype(bool) != chosen.loc[resolved, "FLIPPED"]
    chosen.loc[resolved, "STATUS"] = "resolved_ambiguous"
    chosen.loc[resolved, "STRAND"] = strand
    chosen.loc[resolved, "FLIPPED"] = flipped.astype(bool)
    return chosen


def _aligned(ss: pd.DataFrame, kept: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Sumstats rows in ``kept``, rewritten so that EA = .bim A1."""
    rows = ss.set_index("ROW").loc[kept["ROW"]].reset_index()
    flip = kept["FLIPPED"].to_numpy(dtype=bool)
    bim = b.set_index("BIM_INDEX").loc[kept["BIM_INDEX"]].reset_index()
    out = rows.rename(columns={"ID": "SUMSTATS_ID"})
    out["CHR"], out["POS"], out["ID"] = bim["CHR"], bim["POS"], bim["ID"]
    out["EA"], out["OA"] = bim["A1"], bim["A2"]
    out["BETA"] = np.where(flip, -out["BETA"], out["BETA"])
    out["EAF"] = np.where(flip, 1 - out["EAF"], out["EAF"])
    out["BIM_INDEX"] = bim["BIM_INDEX"].to_numpy()
    extra = [c for c in ("LOG10P",) if c in out.columns]
    columns = [*SINGLE_TRAIT_COLUMNS, *extra, "BIM_INDEX", "SUMSTATS_ID"]
    return out[columns].sort_values("BIM_INDEX").reset_index(drop=True)


def _report(
    ss: pd.DataFrame, status: pd.Series, kept: pd.DataFrame, b: pd.DataFrame
) -> pd.DataFrame:
    report = ss[["ID", "CHR", "POS", "EA", "OA"]].copy()
    report["STATUS"] = status.to_numpy()
    rows = kept["ROW"].to_numpy()
    index = pd.Series(pd.NA, index=ss["ROW"], dtype="Int64")
    index.loc[rows] = kept["BIM_INDEX"].to_numpy()
    report["BIM_INDEX"] = index.to_numpy()
    bim_id = pd.Series(pd.NA, index=ss["ROW"], dtype=object)
    bim_id.loc[rows] = b["ID"].to_numpy()[kept["BIM_INDEX"].to_numpy()]
    report["BIM_ID"] = bim_id.to_numpy()
    flipped = pd.Series(False, index=ss["ROW"])
    flipped.loc[rows] = kept["FLIPPED"].to_numpy(dtype=bool)
    report["FLIPPED"] = flipped.to_numpy()
    return report[REPORT_COLUMNS]


def harmonise(
    sumstats: pd.DataFrame,
    bim: pd.DataFrame,
    resolve_ambiguous_by_eaf: bool = False,
    eaf_tolerance: float = 0.2,
    maf_margin: float = 0.1,
    a1_freq: FrequencyLookup | None = None,
) -> HarmoniseResult:
    """Match sumstats rows to .bim records and express effects for .bim A1.

    ``bim`` rows are positional (``BIM_INDEX`` = row number, as in the .bed).
    ``a1_freq`` maps .bim row numbers to the cohort's A1 frequencies; it is needed
    only when ``resolve_ambiguous_by_eaf`` (see :func:`a1_frequencies`).
    """
    if resolve_ambiguous_by_eaf and a1_freq is None:
        raise ValueError("resolve_ambiguous_by_eaf needs a1_freq (cohort A1 frequencies)")
    ss, b = _prepare_sumstats(sumstats), _prepare_bim(bim)
    dup = _duplicated_rows(ss)
    cand = _classify(_candidates(ss[~dup], b))
    chosen, tied = _choose(cand)
    status = _unmatched_status(ss, cand, b)
    status.loc[tied.to_numpy()] = "dropped_duplicate"
    chosen = _apply_ambiguity(
        chosen, a1_freq if resolve_ambiguous_by_eaf else None, eaf_tolerance, maf_margin
    )
    claimed = chosen["BIM_INDEX"].duplicated(keep=False)
    chosen.loc[claimed, "STATUS"] = "dropped_duplicate"
    status.loc[chosen["ROW"].to_numpy()] = chosen["STATUS"].to_numpy()
    status.loc[ss.loc[dup, "ROW"].to_numpy()] = "dropped_duplicate"
    kept = chosen[chosen["STATUS"].isin(KEPT)]
    return HarmoniseResult(matched=_aligned(ss, kept, b), report=_report(ss, status, kept, b))


def coverage_table(report: pd.DataFrame) -> pd.DataFrame:
    """Count and fraction of input variants per status (every status listed)."""
    counts = report["STATUS"].value_counts().reindex(STATUSES, fill_value=0)
    total = max(len(report), 1)
    return pd.DataFrame(
        {"status": STATUSES, "count": counts.to_numpy(), "fraction": counts.to_numpy() / total}
    )


def a1_frequencies(
    genotypes: Genotypes, samples: np.ndarray | slice | None = None, block_size: int = 1000
) -> FrequencyLookup:
    """A lookup of cohort A1 frequencies for .bim row numbers (missing calls ignored)."""

    def lookup(bim_index: np.ndarray) -> np.ndarray:
        out = np.full(len(bim_index), np.nan)
        for start in range(0, len(bim_index), block_size):
            idx = np.asarray(bim_index[start : start + block_size])
            dosages = genotypes.read(idx, samples, dtype="float32")
            with np.errstate(invalid="ignore"):
                out[start : start + len(idx)] = np.nanmean(dosages, axis=0) / 2
        return out

    return lookup
