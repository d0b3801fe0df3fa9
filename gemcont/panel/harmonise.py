"""Align external GWAS summary statistics to the cohort's .bim.

After harmonisation ``EA`` is always the cohort's counted allele (.bim column 5,
``A1``) and ``BETA``/``EAF`` are expressed for it. Input rows are in the
:data:`gemcont.io.sumstats.READ_COLUMNS` scheme; alleles are compared upper-cased and
chromosome codes as :func:`gemcont.io.sumstats.normalise_chrom` writes them. Rules:

1. Duplicates. Rows equal in every scheme column are one row written twice: the first
   is used, the others are ``dropped_identical_copy`` ("identical to row N", N the
   report row). Of the rest, rows sharing an ID and an allele pair (in either order),
   or a CHR:POS and an allele pair, are all ``dropped_duplicate``: which one is right
   is unknown. One ID with different allele pairs (a multi-allelic site split into
   biallelic rows) is no duplicate: each row is matched on its own alleles.
2. Candidates: the .bim record with the same ID (only when that ID is unique in the
   .bim), then every .bim record at the same CHR:POS. Rows without a position (POS 0
   and CHR "", e.g. METAL files keyed by MarkerName alone) have only the ID candidate.
   A candidate is compatible when its allele pair equals ``{EA, OA}`` as given, or
   (SNPs only) after complementing both alleles (strand flip). Rows without an other
   allele (OA "", e.g. PLINK 1.9 .assoc.logistic) need EA to be one of the .bim
   alleles, or (SNPs only) its complement. At multi-allelic .bim positions (one
   CHR:POS, several allele pairs) only same-strand matches count; a complement-only
   match there is ``dropped_multiallelic``, as is a row without OA that fits several
   of the pairs.
3. The ID candidate wins when compatible; otherwise the one compatible position
   candidate (same strand preferred). Two equally good position candidates (the .bim
   repeats a variant) -> ``dropped_duplicate``. A .bim record chosen by more than one
   row -> all those rows ``dropped_duplicate``.
4. Strand-ambiguous SNPs (A/T, C/G; with or without OA) are ``dropped_ambiguous``
   unless ``resolve_ambiguous_by_eaf``: then both the sumstats EAF and the cohort A1
   frequency must be at least ``maf_margin`` away from 0.5, and the EAF must lie within
   ``eaf_tolerance`` of exactly one of the two readings (same strand: EA's cohort
   frequency; opposite strand: one minus it). Such rows are ``resolved_ambiguous``.

The report has one row per input row, the rows the reader dropped (``read_drops``,
``dropped_at_read``) after the sumstats rows, each dropped row with its ``REASON``.
The report's statuses and summaries are in :mod:`gemcont.panel.harmonise_report`;
:func:`gemcont.panel.eaf_check.check_eaf_orientation` then compares the aligned EAF
with the cohort's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gemcont.io.sumstats import SINGLE_TRAIT_COLUMNS
from gemcont.panel.eaf_check import FrequencyLookup
from gemcont.panel.harmonise_keys import (
    BASES,
    Coded,
    Keys,
    allele_pair,
    id_codes,
    integer_keys,
    objects,
    position_repeats,
)
from gemcont.panel.harmonise_report import KEPT, STATUSES, with_read_drops

MATCHED_COLUMNS = [*SINGLE_TRAIT_COLUMNS, "LOG10P", "BIM_INDEX", "SUMSTATS_ID"]
_CODE = {s: np.int8(i) for i, s in enumerate(STATUSES)}
# reason prefix of an ambiguous SNP by A1 code * 4 + A2 code (one lookup for many rows)
_AMBIGUOUS_TEXT = np.array([f"strand-ambiguous {a}/{b}" for a in BASES for b in BASES], object)


@dataclass(frozen=True)
class HarmoniseResult:
    """``matched``: aligned sumstats (EA = .bim A1); ``report``: one row per input row."""

    matched: pd.DataFrame
    report: pd.DataFrame


# ---------------------------------------------------------------------------
# Per-row outcome, filled step by step
# ---------------------------------------------------------------------------


class _Outcome:
    """Status code, reason, .bim record and flip of every sumstats row."""

    def __init__(self, n: int) -> None:
        self.status = np.full(n, -1, dtype=np.int8)
        self.reason = np.full(n, "", dtype=object)
        self.bim_index = np.full(n, -1, dtype=np.int64)
        self.flipped = np.zeros(n, dtype=bool)

    def set(self, rows: np.ndarray, status: str, reason: np.ndarray | str = "") -> None:
        self.status[rows] = _CODE[status]
        self.reason[rows] = reason


def _text(*parts: np.ndarray | str) -> np.ndarray:
    """Element-wise concatenation of arrays and constants into reason strings (used for
    dropped rows only, where the text differs from row to row)."""
    n = max((len(p) for p in parts if not isinstance(p, str)), default=1)
    out = np.full(n, "", dtype=object)
    for part in parts:
        if not isinstance(part, str):
            part = np.asarray(part)
            part = part if part.dtype == object else part.astype(str).astype(object)
        out = out + part
    return out


def _mark_duplicates(ss: pd.DataFrame, keys: Keys, out: _Outcome) -> np.ndarray:
    """Identical copies and duplicates (module docstring, rule 1); returns the mask of
    rows still to be matched. Only rows sharing an ID or a position are compared."""
    active = np.ones(len(ss), dtype=bool)
    suspects = np.flatnonzero(keys.ss_id_repeated | position_repeats(keys.ss_pos))
    if len(suspects) == 0:
        return active
    ids = objects(ss["ID"])
    suspect_id = np.full(len(ss), -1, dtype=np.int64)  # ID codes, of the suspects only
    suspect_id[suspects] = id_codes(ids[suspects])
    stats = [c for c in ("EAF", "N", "BETA", "SE", "P", "LOG10P") if c in ss.columns]
    scheme = pd.DataFrame(
        {
            "ID": suspect_id[suspects],
            "POS": keys.ss_pos[suspects],
            "EA": keys.ss_ea[suspects],
            "OA": keys.ss_oa[suspects],
            **{c: ss[c].to_numpy()[suspects] for c in stats},
        }
    )
    group = scheme.groupby(list(scheme.columns), dropna=False, sort=False).ngroup().to_numpy()
    first = np.full(group.max() + 1, len(ss), dtype=np.int64)
    np.minimum.at(first, group, suspects)
    copy_of = first[group]
    copies = copy_of != suspects
    out.set(
        suspects[copies], "dropped_identical_copy", _text("identical to row ", copy_of[copies] + 1)
    )
    active[suspects[copies]] = False
    rest = suspects[~copies]
    lo, hi = allele_pair(keys.ss_ea[rest], keys.ss_oa[rest])
    positions = _text(keys.chroms[keys.ss_chrom[rest]], ":", ss["POS"].to_numpy()[rest])
    # the position reason first, so that the ID reason wins where both apply
    for key, name in ((keys.ss_pos[rest], positions), (suspect_id[rest], _text("ID ", ids[rest]))):
        pairs = pd.DataFrame({"key": key, "lo": lo, "hi": hi})[key >= 0]
        size = pairs.groupby(["key", "lo", "hi"], sort=False)["key"].transform("size").to_numpy()
        at = pairs.index.to_numpy()[size > 1]  # positions in ``rest``
        rows = rest[at]
        alleles = keys.allele_text(keys.ss_ea[rows], keys.ss_oa[rows])
        reason = _text(name[at], " with alleles ", alleles, " appears ", size[size > 1])
        out.set(rows, "dropped_duplicate", _text(reason, "x with different statistics"))
        active[rows] = False
    return active


def _multiallelic_bim(keys: Keys) -> np.ndarray:
    """.bim records at positions with more than one distinct allele pair."""
    at = np.flatnonzero(position_repeats(keys.b_pos))
    lo, hi = allele_pair(keys.b_a1[at], keys.b_a2[at])
    pairs = pd.DataFrame({"pos": keys.b_pos[at], "lo": lo, "hi": hi}).drop_duplicates()
    n_pairs = pairs["pos"].value_counts()
    multi = np.zeros(len(keys.b_pos), dtype=bool)
    multi[at] = n_pairs.reindex(keys.b_pos[at]).to_numpy() > 1
    return multi


@dataclass(frozen=True)
class _Candidates:
    """(sumstats row, .bim record) pairs sharing a unique ID (``via`` 0) or a CHR:POS
    (``via`` 1), with their allele comparison."""

    row: np.ndarray
    bim: np.ndarray
    via: np.ndarray
    compatible: np.ndarray
    strand: np.ndarray  # compatible only after complementing
    flipped: np.ndarray  # EA is the .bim A2
    ambiguous: np.ndarray
    multi: np.ndarray  # at a multi-allelic .bim position

    def subset(self, mask: np.ndarray) -> _Candidates:
        return _Candidates(*(getattr(self, f)[mask] for f in self.__dataclass_fields__))


def _candidates(keys: Keys, rows: np.ndarray, multi_bim: np.ndarray) -> _Candidates:
    """Every candidate of ``rows`` (module docstring, rule 2)."""
    n_bim = len(keys.b_pos)
    every = len(rows) == len(keys.ss_pos)  # (then rows is 0..n-1: no copies)
    by_id = keys.ss_by_id if every else keys.ss_by_id[rows]  # -1 unless on one .bim record
    unique = by_id >= 0
    order = np.argsort(keys.b_pos, kind="stable")  # same position: .bim order
    sorted_pos = keys.b_pos[order]
    pos = keys.ss_pos if every else keys.ss_pos[rows]
    first = np.searchsorted(sorted_pos, pos, "left")
    # the rows at a .bim position (few of them), and how many records each finds there
    if n_bim:
        at = np.minimum(first, n_bim - 1)
        at = sorted_pos.take(at, out=at)
    else:
        at = np.full(len(rows), -1)
    hit = np.flatnonzero((pos >= 0) & (at == pos))
    count = np.searchsorted(sorted_pos, pos[hit], "right") - first[hit]
    owner = np.repeat(hit, count)
    offset = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    by_pos = order[first[owner] + offset] if n_bim else np.zeros(0, np.int64)
    new = by_pos != by_id[owner]  # the ID candidate is listed once, as found by ID
    row = np.concatenate([rows[unique], rows[owner[new]]])
    bim = np.concatenate([by_id[unique], by_pos[new]])
    via = np.concatenate([np.zeros(unique.sum(), np.int8), np.ones(new.sum(), np.int8)])
    return _classify(keys, row, bim, via, multi_bim[bim])


def _classify(
    keys: Keys, row: np.ndarray, bim: np.ndarray, via: np.ndarray, multi: np.ndarray
) -> _Candidates:
    ea, oa, a1, a2 = keys.ss_ea[row], keys.ss_oa[row], keys.b_a1[bim], keys.b_a2[bim]
    no_oa = oa < 0

    def base(code: np.ndarray) -> np.ndarray:
        return (code >= 0) & (code < len(BASES))

    snp = base(ea) & (base(oa) | no_oa) & base(a1) & base(a2)
    cea, coa = 3 - ea, 3 - oa  # complements (meaningful for SNPs only)
    same = (ea == a1) & ((oa == a2) | no_oa)
    swap = (ea == a2) & ((oa == a1) | no_oa)
    comp = snp & (cea == a1) & ((coa == a2) | no_oa)
    comp_swap = snp & (cea == a2) & ((coa == a1) | no_oa)
    strand = ~(same | swap) & (comp | comp_swap)
    compatible = same | swap | (strand & ~multi)
    return _Candidates(
        row=row,
        bim=bim,
        via=via,
        compatible=compatible,
        strand=strand,
        flipped=swap | (strand & comp_swap),
        ambiguous=compatible & snp & (a1 == 3 - a2),
        multi=multi,
    )


def _joined(row: np.ndarray, text: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Per entry of ``rows`` (unique): the ``text`` of its candidates (``row``), joined
    by ', ' in candidate order."""
    if len(rows) == 0:
        return np.zeros(0, dtype=object)
    wanted = np.zeros(max(int(row.max(initial=-1)), int(rows.max())) + 1, bool)
    wanted[rows] = True
    keep = wanted[row]
    order = np.argsort(row[keep], kind="stable")
    row, text = row[keep][order], text[keep][order]
    starts = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
    ends = np.r_[starts[1:], len(row)]
    joined = np.array(
        [", ".join(text[a:b]) for a, b in zip(starts, ends, strict=True)], dtype=object
    )
    return joined[np.searchsorted(row[starts], rows)]


def _choose(cand: _Candidates, n: int) -> tuple[_Candidates, np.ndarray]:
    """One compatible candidate per row (module docstring, rule 3); also the mask of
    the candidates of rows with two or more equally good ones."""
    rank = cand.via * 2 + cand.strand  # ID before position, same strand before flipped
    best = np.full(n, 4, dtype=np.int8)
    np.minimum.at(best, cand.row[cand.compatible], rank[cand.compatible].astype(np.int8))
    top = cand.compatible & (rank == best[cand.row])
    n_top = np.bincount(cand.row[top], minlength=n)
    return cand.subset(top & (n_top[cand.row] == 1)), top & (n_top[cand.row] > 1)


def _mark_unmatched(
    ss: pd.DataFrame, keys: Keys, cand: _Candidates, rows: np.ndarray, out: _Outcome
) -> None:
    """Status and reason of ``rows``, which have no compatible candidate."""
    n = len(ss)
    has = np.bincount(cand.row, minlength=n)[rows] > 0
    at_multi = np.bincount(cand.row[cand.multi], minlength=n)[rows] > 0
    pairs = keys.allele_text(keys.b_a1[cand.bim], keys.b_a2[cand.bim])
    found = rows[has]
    given = keys.allele_text(keys.ss_ea[found], keys.ss_oa[found])
    bim_pairs = _joined(cand.row, pairs, found)
    reason = _text("alleles ", given, " vs .bim ", bim_pairs)
    multi = at_multi[has]
    out.set(found[~multi], "dropped_allele_mismatch", reason[~multi])
    out.set(
        found[multi],
        "dropped_multiallelic",
        _text(reason[multi], " at a multi-allelic position (same-strand matches only)"),
    )
    none = rows[~has]
    repeats = keys.ss_bim_count[none]
    placed = keys.ss_pos[none] >= 0
    absent = none[repeats < 2]
    out.set(absent[placed[repeats < 2]], "dropped_absent", "no .bim record with this ID or CHR:POS")
    out.set(
        absent[~placed[repeats < 2]],
        "dropped_absent",
        "no .bim record with this ID (the file gives no position)",
    )
    twice = repeats >= 2
    where = np.where(
        placed[twice], " and no .bim record at this CHR:POS fits", " and the file gives no position"
    )
    out.set(
        none[twice],
        "dropped_duplicate",
        _text("ID appears ", repeats[twice], "x in the .bim", where),
    )


def _resolve_ambiguous(
    chosen: _Candidates,
    eaf: np.ndarray,
    a1_freq: FrequencyLookup | None,
    eaf_tolerance: float,
    maf_margin: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For the ambiguous chosen candidates: (resolved mask, EA-is-A2 after resolution,
    reason where unresolved)."""
    amb = np.flatnonzero(chosen.ambiguous)
    resolved = np.zeros(len(amb), dtype=bool)
    flipped = chosen.flipped[amb].copy()
    eaf = eaf[amb]
    reason = np.full(len(amb), "", dtype=object)
    reason[np.isnan(eaf)] = " and no EAF to resolve it"
    if a1_freq is None:
        reason[~np.isnan(eaf)] = " (resolving by EAF is off: panel.resolve_ambiguous_by_eaf)"
        return resolved, flipped, reason
    with_eaf = ~np.isnan(eaf)
    freq = np.full(len(amb), np.nan)
    freq[with_eaf] = np.asarray(a1_freq(chosen.bim[amb][with_eaf]), dtype=float)
    expected = np.where(flipped, 1 - freq, freq)  # EA's cohort frequency, same strand
    clear = (np.abs(eaf - 0.5) > maf_margin) & (np.abs(freq - 0.5) > maf_margin)
    same = np.abs(eaf - expected) <= eaf_tolerance
    other = np.abs(eaf - (1 - expected)) <= eaf_tolerance
    resolved = clear & (same != other)
    flipped = np.where(resolved & other, ~flipped, flipped)
    unclear = with_eaf & ~clear
    reason[unclear] = _text(
        " and EAF ",
        np.round(eaf[unclear], 3),
        " or cohort frequency ",
        np.round(freq[unclear], 3),
        f" within {maf_margin:g} of 0.5",
    )
    fits = with_eaf & clear & ~resolved
    reason[fits] = _text(
        " and EAF ",
        np.round(eaf[fits], 3),
        " fits ",
        np.where(same[fits], "both strands", "neither strand"),
        " within ",
        f"{eaf_tolerance:g} (cohort frequency of EA ",
        np.round(expected[fits], 3),
        ")",
    )
    return resolved, flipped, reason


def _mark_chosen(
    chosen: _Candidates,
    keys: Keys,
    eaf: np.ndarray,
    bim_ids: np.ndarray,
    out: _Outcome,
    a1_freq: FrequencyLookup | None,
    eaf_tolerance: float,
    maf_margin: float,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Statuses of the rows with one chosen candidate (rules 3-4); returns the mask of
    the kept ones, EA-is-A2 per chosen candidate, and the number of strand-ambiguous
    variants dropped without an EAF."""
    rows = chosen.row
    out.set(rows[chosen.strand], "strand_flipped")
    out.set(rows[~chosen.strand & chosen.flipped], "flipped")
    out.set(rows[~chosen.strand & ~chosen.flipped], "matched")
    resolved, flipped, amb_reason = _resolve_ambiguous(
        chosen, eaf, a1_freq, eaf_tolerance, maf_margin
    )
    amb = np.flatnonzero(chosen.ambiguous)
    flip = chosen.flipped.copy()
    flip[amb] = flipped
    out.set(rows[amb[resolved]], "resolved_ambiguous")
    dropped = amb[~resolved]
    pair = keys.b_a1[chosen.bim[dropped]] * len(BASES) + keys.b_a2[chosen.bim[dropped]]
    out.set(rows[dropped], "dropped_ambiguous", _AMBIGUOUS_TEXT[pair] + amb_reason[~resolved])
    claims = np.bincount(chosen.bim)[chosen.bim]
    claimed = claims > 1
    out.set(
        rows[claimed],
        "dropped_duplicate",
        _text(".bim record ", bim_ids[chosen.bim[claimed]], " fits ", claims[claimed], " rows"),
    )
    kept = np.isin(out.status[rows], [_CODE[s] for s in KEPT])
    return kept, flip, int(np.isnan(eaf[dropped]).sum())


def harmonise(
    sumstats: pd.DataFrame,
    bim: pd.DataFrame,
    resolve_ambiguous_by_eaf: bool = False,
    eaf_tolerance: float = 0.2,
    maf_margin: float = 0.1,
    a1_freq: FrequencyLookup | None = None,
    read_drops: pd.DataFrame | None = None,
    codes: dict[str, Coded] | None = None,
) -> HarmoniseResult:
    """Match sumstats rows to .bim records and express effects for .bim A1.

    ``bim`` rows are positional (``BIM_INDEX`` = row number, as in the .bed).
    ``a1_freq`` maps .bim row numbers to the cohort's A1 frequencies; it is needed
    only when ``resolve_ambiguous_by_eaf``
    (:func:`gemcont.panel.eaf_check.a1_frequencies`).
    ``read_drops``: the rows the reader dropped (``LoadedSumstats.dropped``), listed in
    the report after the sumstats rows. ``matched.attrs["n_ambiguous_without_eaf"]``
    counts the strand-ambiguous variants dropped without an EAF. ``codes``: the reader's
    codes of CHR, EA and OA (``LoadedSumstats.codes``, for this very frame), so that
    these columns are not hashed again.
    """
    if resolve_ambiguous_by_eaf and a1_freq is None:
        raise ValueError("resolve_ambiguous_by_eaf needs a1_freq (cohort A1 frequencies)")
    ss = sumstats.reset_index(drop=True)
    keys = integer_keys(ss, bim, codes)
    out = _Outcome(len(ss))
    active = _mark_duplicates(ss, keys, out)
    rows = np.flatnonzero(active)
    cand = _candidates(keys, rows, _multiallelic_bim(keys))
    chosen, tied = _choose(cand, len(ss))
    tied_rows = np.unique(cand.row[tied])
    bim_ids = objects(bim["ID"])
    tied_ids = _joined(cand.row[tied], bim_ids[cand.bim[tied]], tied_rows)
    no_oa = keys.ss_oa[tied_rows] < 0
    out.set(
        tied_rows[~no_oa],
        "dropped_duplicate",
        _text(".bim records ", tied_ids[~no_oa], " fit equally well"),
    )
    out.set(
        tied_rows[no_oa],
        "dropped_multiallelic",
        _text("no other allele (OA) to choose between .bim records ", tied_ids[no_oa]),
    )
    matched = np.zeros(len(ss), dtype=bool)
    matched[chosen.row] = True
    matched[tied_rows] = True
    _mark_unmatched(ss, keys, cand, rows[~matched[rows]], out)

    kept, flip, n_without_eaf = _mark_chosen(
        chosen,
        keys,
        ss["EAF"].to_numpy(dtype=float)[chosen.row],
        bim_ids,
        out,
        a1_freq if resolve_ambiguous_by_eaf else None,
        eaf_tolerance,
        maf_margin,
    )
    out.bim_index[chosen.row[kept]] = chosen.bim[kept]
    out.flipped[chosen.row[kept]] = flip[kept]
    matched_table = _aligned(ss, keys, bim, chosen.row[kept], chosen.bim[kept], flip[kept])
    matched_table.attrs["n_ambiguous_without_eaf"] = n_without_eaf
    report = _report(ss, keys, bim_ids, out)
    if read_drops is not None:
        report = with_read_drops(report, read_drops)
    return HarmoniseResult(matched=matched_table, report=report)


def _log10p(ss: pd.DataFrame) -> np.ndarray:
    if "LOG10P" in ss.columns:
        return ss["LOG10P"].to_numpy(dtype=float)
    with np.errstate(divide="ignore"):
        return -np.log10(ss["P"].to_numpy(dtype=float))


def _aligned(
    ss: pd.DataFrame,
    keys: Keys,
    bim: pd.DataFrame,
    rows: np.ndarray,
    bim_index: np.ndarray,
    flip: np.ndarray,
) -> pd.DataFrame:
    """Sumstats ``rows``, rewritten so that EA = .bim A1, in .bim order."""
    order = np.argsort(bim_index, kind="stable")
    rows, b, flip = rows[order], bim_index[order], flip[order]

    def column(name: str) -> np.ndarray:
        return ss[name].to_numpy(dtype=float)[rows]

    eaf, beta = column("EAF"), column("BETA")
    out = _frame(
        {
            "CHR": keys.chroms[keys.b_chrom[b]],
            "POS": bim["POS"].to_numpy()[b],
            "ID": objects(bim["ID"])[b],
            "EA": keys.allele_names(keys.b_a1[b]),
            "OA": keys.allele_names(keys.b_a2[b]),
            "EAF": np.where(flip, 1 - eaf, eaf),
            "N": column("N"),
            "BETA": np.where(flip, -beta, beta),
            "SE": column("SE"),
            "P": column("P"),
            "LOG10P": _log10p(ss)[rows],
            "BIM_INDEX": b,
            "SUMSTATS_ID": objects(ss["ID"])[rows],
        }
    )
    return out[MATCHED_COLUMNS]


def _frame(columns: dict[str, np.ndarray | pd.api.extensions.ExtensionArray]) -> pd.DataFrame:
    """A table of these columns as they are: text stays in object arrays (no scan of
    every value for pandas' str dtype) and columns are not copied into 2-D blocks
    (fresh memory is slow on some VMs: benchmarks/README.md)."""

    def series(name: str, values: np.ndarray | pd.api.extensions.ExtensionArray) -> pd.Series:
        text = isinstance(values, np.ndarray) and values.dtype == object
        return pd.Series(values, name=name, dtype=object if text else None, copy=False)

    return pd.concat([series(name, values) for name, values in columns.items()], axis=1)


def _report(ss: pd.DataFrame, keys: Keys, bim_ids: np.ndarray, out: _Outcome) -> pd.DataFrame:
    """The per-row report (one row per sumstats row)."""
    placed = out.bim_index >= 0
    bim_id = np.full(len(ss), None, dtype=object)
    bim_id[placed] = bim_ids[out.bim_index[placed]]
    bim_index = out.bim_index  # (out's own array, used no more)
    bim_index[~placed] = 0
    return _frame(
        {
            "ID": objects(ss["ID"]),
            "CHR": keys.ss_names("CHR", keys.chroms, keys.ss_chrom),
            "POS": ss["POS"].to_numpy(),
            "EA": keys.ss_names("EA", keys.alleles, keys.ss_ea),
            "OA": keys.ss_names("OA", keys.alleles, keys.ss_oa),
            "LOG10P": _log10p(ss),
            "STATUS": pd.Categorical.from_codes(out.status, STATUSES),
            "REASON": out.reason,
            "BIM_INDEX": pd.arrays.IntegerArray(bim_index, ~placed),
            "BIM_ID": bim_id,
            "FLIPPED": out.flipped,
        }
    )
