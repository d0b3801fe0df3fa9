"""Integer keys of harmonisation: every text column of the sumstats and the .bim is
hashed once, and the rest of :mod:`gemcont.panel.harmonise` compares integers
(benchmarks/README.md, harmonise.py: string-keyed merges were 7x slower).

Chromosomes and alleles (a few distinct values) are factorised. IDs (millions of
distinct strings) are not: a hash table of every ID cost more than reading the file
(benchmarks/README.md, issue 16). Each ID is hashed to an integer instead, the
integers are sorted, and strings are compared only where the hashes say two IDs may
be equal: :func:`id_matches` is exact whatever the hash (equal strings have equal
hashes; rows whose hashes agree are compared as strings)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gemcont.io.chromosomes import normalise_published

BASES = ["A", "C", "G", "T"]  # allele codes 0-3, so that the complement of c is 3 - c


def objects(values: pd.Series) -> np.ndarray:
    """A text column as an object array (no copy into pandas' str dtype)."""
    return values.to_numpy(dtype=object)


Coded = tuple[np.ndarray, np.ndarray]  # (codes, values): a column as values[codes]


def shared_codes(
    columns: list[pd.Series | Coded], transform: Callable[[str], str], first: tuple[str, ...] = ()
) -> tuple[list[np.ndarray], np.ndarray]:
    """Codes of text columns in one code space, by name after ``transform`` (applied once
    per distinct value; ``first`` get codes 0, 1, ...); "" and missing values -> -1.
    A column given as (codes, values) is not factorised again. Returns the codes per
    column and ``names`` (``names[code]``; ``names[-1]`` is "", so that -1 reads as "")."""
    table = {name: code for code, name in enumerate(first)}
    codes = []
    for column in columns:
        if isinstance(column, tuple):
            inverse, uniques = column
        else:
            inverse, uniques = pd.factorize(objects(column))
        names = (transform(str(u)) for u in uniques)
        mapped = [-1 if name == "" else table.setdefault(name, len(table)) for name in names]
        codes.append(np.asarray([*mapped, -1], dtype=np.int64)[inverse])  # -1: missing
    return codes, np.asarray([*table, ""], dtype=object)


@dataclass(frozen=True)
class Keys:
    """The sumstats rows (``ss_*``) and .bim records (``b_*``) as integer codes."""

    ss_bim_count: np.ndarray  # .bim records with the row's ID (0 for "" / missing)
    ss_by_id: np.ndarray  # the .bim record with the row's ID where it is unique, else -1
    ss_id_repeated: np.ndarray  # the ID ("" / missing aside) occurs in another row
    ss_pos: np.ndarray  # chromosome code << 32 | POS; -1 = no position
    b_pos: np.ndarray
    ss_ea: np.ndarray  # shared allele codes, 0-3 = A C G T, -1 = missing
    ss_oa: np.ndarray
    b_a1: np.ndarray
    b_a2: np.ndarray
    chroms: np.ndarray  # chromosome names by code (chroms[-1] == "")
    ss_chrom: np.ndarray
    b_chrom: np.ndarray
    alleles: np.ndarray  # allele names by code (alleles[-1] == "")
    # sumstats text columns that read as their names (the reader's, already normalised)
    as_named: dict[str, np.ndarray]

    def ss_names(self, column: str, names: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """``names[codes]``: the sumstats column itself where it reads so."""
        same = self.as_named.get(column)
        return same if same is not None else names[codes]

    def allele_names(self, codes: np.ndarray) -> np.ndarray:
        """Upper-cased allele names of codes ("" for missing)."""
        return self.alleles[codes]

    def allele_text(self, ea: np.ndarray, oa: np.ndarray) -> np.ndarray:
        """'EA/OA' per row, or 'EA' alone where OA is missing (for reasons)."""
        ea_names = self.allele_names(ea)
        return np.where(oa >= 0, ea_names + "/" + self.allele_names(oa), ea_names)


def id_codes(ids: np.ndarray) -> np.ndarray:
    """Codes of IDs by string equality; "" and missing IDs -> -1."""
    codes, uniques = pd.factorize(ids)
    empty = np.flatnonzero(uniques == "")
    return np.where(np.isin(codes, empty), -1, codes)


@dataclass(frozen=True)
class IdMatches:
    """Per sumstats row: how many .bim records carry its ID, the one that does where it
    is exactly one, and whether another sumstats row carries it ("" and missing IDs
    match nothing)."""

    bim_count: np.ndarray
    by_id: np.ndarray
    repeated: np.ndarray


def _hashes(ids: np.ndarray) -> np.ndarray:
    """A 64-bit hash per ID (Python's own: cached in each string, stable within the
    process); any function with equal values for equal IDs keeps the matches exact."""
    return np.fromiter(map(_hash, ids), dtype=np.int64, count=len(ids))


_hash = hash  # tests replace it with a colliding hash


def _find(sorted_keys: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The queries found among ``sorted_keys`` and, for each, where its run of equal keys
    starts and how long it is. A bit table on the top bits of the (uniformly spread)
    hashes first rules out most queries, so that only the rest is searched, sorted."""
    bits = int(np.clip(np.ceil(np.log2(max(len(sorted_keys), 1) * 16)), 10, 30))
    shift = np.uint64(64 - bits)
    table = np.zeros(1 << bits, dtype=bool)
    table[sorted_keys.view(np.uint64) >> shift] = True
    maybe = np.flatnonzero(table[queries.view(np.uint64) >> shift])
    values = queries[maybe]
    order = np.argsort(values)
    left = np.empty(len(maybe), dtype=np.int64)
    count = np.empty(len(maybe), dtype=np.int64)
    left[order] = np.searchsorted(sorted_keys, values[order], "left")
    count[order] = np.searchsorted(sorted_keys, values[order], "right") - left[order]
    found = count > 0
    return maybe[found], left[found], count[found]


def id_matches(b_ids: np.ndarray, ss_ids: np.ndarray) -> IdMatches:
    """:class:`IdMatches` by string equality of the IDs, compared through their hashes."""
    n = len(ss_ids)
    bim_count = np.zeros(n, dtype=np.int64)
    by_id = np.full(n, -1, dtype=np.int64)
    shared = np.zeros(n, dtype=bool)
    has_id = np.flatnonzero(~pd.isna(b_ids) & (b_ids != ""))
    b_hash = _hashes(b_ids[has_id])
    order = np.argsort(b_hash)
    b_sorted, b_rows = b_hash[order], has_id[order]
    same = np.flatnonzero(b_sorted[1:] == b_sorted[:-1])
    if (b_ids[b_rows[same]] != b_ids[b_rows[same + 1]]).any():
        return _exact_id_matches(b_ids, ss_ids)  # two .bim IDs share a hash
    # each run of equal .bim hashes is one ID: a row matches it if its string is equal
    ss_hash = _hashes(ss_ids)
    rows, left, count = _find(b_sorted, ss_hash)
    equal = ss_ids[rows] == b_ids[b_rows[left]]
    rows, left, count = rows[equal], left[equal], count[equal]
    bim_count[rows] = count
    by_id[rows[count == 1]] = b_rows[left[count == 1]]
    # rows whose hash occurs twice may share an ID: their strings decide
    ss_sorted = np.sort(ss_hash)
    twice = np.unique(ss_sorted[1:][ss_sorted[1:] == ss_sorted[:-1]])
    if len(twice):
        maybe, _, _ = _find(twice, ss_hash)
        shared[maybe] = repeated(id_codes(ss_ids[maybe]))
    return IdMatches(bim_count, by_id, shared)


def _exact_id_matches(b_ids: np.ndarray, ss_ids: np.ndarray) -> IdMatches:
    """:class:`IdMatches` from one factorisation of every ID (slow: a hash table of
    millions of strings); used where two .bim IDs share a hash."""
    codes = id_codes(np.concatenate([b_ids, ss_ids]))
    b_id, ss_id = codes[: len(b_ids)], codes[len(b_ids) :]
    n_codes = int(codes.max(initial=-1)) + 1
    per_code = code_counts(b_id, n_codes)
    bim_of = np.full(n_codes, -1, dtype=np.int64)
    bim_of[b_id[b_id >= 0]] = np.flatnonzero(b_id >= 0)
    has = ss_id >= 0
    bim_count = np.zeros(len(ss_ids), dtype=np.int64)
    bim_count[has] = per_code[ss_id[has]]
    by_id = np.where(bim_count == 1, bim_of[np.maximum(ss_id, 0)], -1)
    return IdMatches(bim_count, by_id, repeated(ss_id))


def given_codes(ss: pd.DataFrame, codes: dict[str, Coded] | None) -> dict[str, Coded]:
    """The reader's codes of CHR, EA and OA (``LoadedSumstats.codes``), checked to be
    this frame's: as long, and equal to its values on a sample of rows."""
    given = {name: codes[name] for name in ("CHR", "EA", "OA") if codes and name in codes}
    at = np.linspace(0, len(ss) - 1, min(len(ss), 1000)).astype(np.int64)
    for name, (code, values) in given.items():
        if len(code) != len(ss) or (values[code[at]] != objects(ss[name])[at]).any():
            raise ValueError(f"codes of {name} are not those of this frame")
    return given


def integer_keys(
    ss: pd.DataFrame, bim: pd.DataFrame, codes: dict[str, Coded] | None = None
) -> Keys:
    """The keys; ``codes``: the reader's codes of CHR, EA and OA (``LoadedSumstats.codes``)."""
    given = given_codes(ss, codes)
    ss_chr, ss_ea, ss_oa = (given.get(name, ss[name]) for name in ("CHR", "EA", "OA"))
    ids = id_matches(objects(bim["ID"]), objects(ss["ID"]))
    (ss_chrom, b_chrom), chroms = shared_codes([ss_chr, bim["CHR"]], normalise_published)
    ss_pos_raw = (
        ss["POS"].to_numpy()
        if ss["POS"].dtype == np.int64
        else pd.to_numeric(ss["POS"]).fillna(0).to_numpy(dtype=np.int64)
    )
    b_pos_raw = bim["POS"].to_numpy(dtype=np.int64)
    ss_pos = ss_chrom << 32
    ss_pos |= ss_pos_raw
    ss_pos[(ss_chrom < 0) | (ss_pos_raw <= 0)] = -1
    (ss_ea, ss_oa, b_a1, b_a2), alleles = shared_codes(
        [ss_ea, ss_oa, bim["A1"], bim["A2"]], str.upper, tuple(BASES)
    )
    return Keys(
        ss_bim_count=ids.bim_count,
        ss_by_id=ids.by_id,
        ss_id_repeated=ids.repeated,
        ss_pos=ss_pos,
        b_pos=(b_chrom << 32) | b_pos_raw,
        ss_ea=ss_ea,
        ss_oa=ss_oa,
        b_a1=b_a1,
        b_a2=b_a2,
        chroms=chroms,
        ss_chrom=ss_chrom,
        b_chrom=b_chrom,
        alleles=alleles,
        as_named={
            name: objects(ss[name])
            for name, transform in (
                ("CHR", normalise_published),
                ("EA", str.upper),
                ("OA", str.upper),
            )
            if name in given and _reads_as_named(given[name][1], transform)
        },
    )


def _reads_as_named(values: np.ndarray, transform: Callable[[str], str]) -> bool:
    """Whether every value of a code table is its own name (text, unchanged by
    ``transform``), so that the column's names are the column."""
    return all(isinstance(v, str) and transform(v) == v for v in values)


def allele_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order-free allele pair as (low code, high code)."""
    return np.minimum(a, b), np.maximum(a, b)


def code_counts(codes: np.ndarray, n_codes: int) -> np.ndarray:
    """Occurrences of each code in 0..n_codes-1 (negative codes ignored)."""
    return np.bincount(codes[codes >= 0], minlength=n_codes)


def repeated(codes: np.ndarray) -> np.ndarray:
    """Rows whose code (>= 0) occurs more than once."""
    counts = code_counts(codes, max(int(codes.max(initial=-1)) + 1, 1))
    return (codes >= 0) & (counts[np.maximum(codes, 0)] > 1)


def position_repeats(pos: np.ndarray) -> np.ndarray:
    """Rows whose position (>= 0) occurs more than once (files are mostly sorted by
    position already: then no sort)."""
    order = None if (pos[1:] >= pos[:-1]).all() else np.argsort(pos, kind="stable")
    sorted_pos = pos if order is None else pos[order]
    same = (sorted_pos[1:] == sorted_pos[:-1]) & (sorted_pos[1:] >= 0)
    in_sorted = np.zeros(len(pos), dtype=bool)
    in_sorted[1:] = same
    in_sorted[:-1] |= same
    if order is None:
        return in_sorted
    out = np.zeros(len(pos), dtype=bool)
    out[order] = in_sorted
    return out
