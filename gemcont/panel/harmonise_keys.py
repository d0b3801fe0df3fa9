"""Integer keys of harmonisation: every text column of the sumstats and the .bim is
hashed once (``pd.factorize``), and the rest of :mod:`gemcont.panel.harmonise` compares
integers (benchmarks/README.md, harmonise.py: string-keyed merges were 7x slower)."""

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


def shared_codes(
    columns: list[pd.Series], transform: Callable[[str], str], first: tuple[str, ...] = ()
) -> tuple[list[np.ndarray], np.ndarray]:
    """Codes of text columns in one code space, by name after ``transform`` (applied once
    per distinct value; ``first`` get codes 0, 1, ...); "" and missing values -> -1.
    Returns the codes per column and ``names`` (``names[code]``; ``names[-1]`` is "", so
    that -1 reads as "")."""
    table = {name: code for code, name in enumerate(first)}
    codes = []
    for column in columns:
        inverse, uniques = pd.factorize(objects(column))
        names = (transform(str(u)) for u in uniques)
        mapped = [-1 if name == "" else table.setdefault(name, len(table)) for name in names]
        codes.append(np.asarray([*mapped, -1], dtype=np.int64)[inverse])  # -1: missing
    return codes, np.asarray([*table, ""], dtype=object)


@dataclass(frozen=True)
class Keys:
    """The sumstats rows (``ss_*``) and .bim records (``b_*``) as integer codes."""

    ss_id: np.ndarray  # shared ID codes; codes < n_bim_ids occur in the .bim
    b_id: np.ndarray
    n_bim_ids: int
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

    def allele_names(self, codes: np.ndarray) -> np.ndarray:
        """Upper-cased allele names of codes ("" for missing)."""
        return self.alleles[codes]

    def allele_text(self, ea: np.ndarray, oa: np.ndarray) -> np.ndarray:
        """'EA/OA' per row, or 'EA' alone where OA is missing (for reasons)."""
        ea_names = self.allele_names(ea)
        return np.where(oa >= 0, ea_names + "/" + self.allele_names(oa), ea_names)


def integer_keys(ss: pd.DataFrame, bim: pd.DataFrame) -> Keys:
    b_ids, ss_ids = objects(bim["ID"]), objects(ss["ID"])
    # "" first, then the .bim: "" and missing IDs become -1, .bim IDs 0..n_bim_ids-1
    codes, _ = pd.factorize(np.concatenate([np.array([""], dtype=object), b_ids, ss_ids]))
    codes = np.maximum(codes[1:] - 1, -1)
    b_id, ss_id = codes[: len(b_ids)], codes[len(b_ids) :]
    n_bim_ids = int(b_id.max(initial=-1)) + 1  # codes below it occur in the .bim
    (ss_chrom, b_chrom), chroms = shared_codes([ss["CHR"], bim["CHR"]], normalise_published)
    ss_pos_raw = pd.to_numeric(ss["POS"]).fillna(0).to_numpy(dtype=np.int64)
    b_pos_raw = bim["POS"].to_numpy(dtype=np.int64)
    ss_pos = np.where((ss_chrom >= 0) & (ss_pos_raw > 0), (ss_chrom << 32) | ss_pos_raw, -1)
    (ss_ea, ss_oa, b_a1, b_a2), alleles = shared_codes(
        [ss["EA"], ss["OA"], bim["A1"], bim["A2"]], str.upper, tuple(BASES)
    )
    return Keys(
        ss_id=ss_id,
        b_id=b_id,
        n_bim_ids=n_bim_ids,
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
    )


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
    """Rows whose position (>= 0) occurs more than once (a stable sort: files are sorted
    by position, which makes it linear)."""
    order = np.argsort(pos, kind="stable")
    sorted_pos = pos[order]
    same = (sorted_pos[1:] == sorted_pos[:-1]) & (sorted_pos[1:] >= 0)
    repeated = np.zeros(len(pos), dtype=bool)
    repeated[order[1:][same]] = True
    repeated[order[:-1][same]] = True
    return repeated
