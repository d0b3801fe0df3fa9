"""One chromosome's lines of a .bim, found without parsing the other lines.

A per-chromosome job needs only its chromosome's rows of the .bim, and their row
numbers (which locate the variants in the .bed). Parsing the whole .bim into a table
costs every job the time and memory of all chromosomes; matching the first field of
every line in the raw bytes (numpy, a block at a time) and parsing only one
chromosome's lines costs a fraction of both (benchmarks/bim_chromosome.py; numbers in
benchmarks/README.md). Fields and row numbers follow pandas' whitespace parsing of the
whole file: blank lines are not rows; a line that starts with whitespace makes
:func:`chromosome_lines` give up (None), so that the caller parses the whole file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CHUNK_BYTES = 1 << 24  # .bim bytes matched at a time
NEWLINE = ord("\n")
FIELD_SEPARATORS = (ord("\t"), ord(" "))
LEADING_WHITESPACE = (*FIELD_SEPARATORS, ord("\r"))


@dataclass(frozen=True)
class ChromosomeLines:
    """The lines of one chromosome and where they are in the .bim."""

    text: bytes  # the matching lines, in file order, each ending in a newline
    rows: np.ndarray  # their .bim rows (0-based; blank lines are not rows)
    n_rows: int  # rows of the whole .bim


def chromosome_lines(path: str | Path, chrom: str | tuple[str, ...]) -> ChromosomeLines | None:
    """The lines of ``path`` whose first field is ``chrom`` (or one of several spellings);
    None if a line starts with whitespace (then only parsing the whole file gives the rows
    pandas would)."""
    tokens = [str(c).encode() for c in ((chrom,) if isinstance(chrom, str) else chrom)]
    pieces, rows, n_rows = [], [], 0
    for buf in _line_chunks(path):
        ends = np.flatnonzero(buf == NEWLINE)
        starts = np.concatenate([[0], ends[:-1] + 1])
        filled = starts < ends
        if np.isin(buf[starts[filled]], LEADING_WHITESPACE).any():
            return None
        match = np.zeros_like(filled)
        for token in tokens:
            match |= filled & _starts_with(buf, starts, token)
        rows.append(n_rows + np.cumsum(filled)[match] - 1)
        n_rows += int(filled.sum())
        pieces.append(_gather(buf, starts[match], ends[match]))
    found = np.concatenate(rows) if rows else np.empty(0, np.int64)
    return ChromosomeLines(b"".join(pieces), found, n_rows)


def _starts_with(buf: np.ndarray, starts: np.ndarray, token: bytes) -> np.ndarray:
    """Whether the line at each start has ``token`` as its first field."""
    match = np.ones(starts.size, dtype=bool)
    for k, byte in enumerate(token):  # a shorter line meets its newline: no match
        match &= buf[np.minimum(starts + k, buf.size - 1)] == byte
    after = buf[np.minimum(starts + len(token), buf.size - 1)]
    return match & np.isin(after, FIELD_SEPARATORS)


def _line_chunks(path: str | Path) -> Iterator[np.ndarray]:
    """The file's bytes, read ~CHUNK_BYTES at a time, in pieces of whole lines (each
    ending in a newline; one added at the end of the file if it lacks one)."""
    rest = b""
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK_BYTES):
            buf = np.frombuffer(rest + block, np.uint8)
            cut = buf.size - int(np.argmax(buf[::-1] == NEWLINE))  # after the last newline
            if buf[cut - 1] != NEWLINE:  # no newline yet: a line longer than a block
                rest = buf.tobytes()
                continue
            rest = buf[cut:].tobytes()
            yield buf[:cut]
    if rest:
        yield np.frombuffer(rest + b"\n", np.uint8)


def _gather(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> bytes:
    """The bytes of lines starts[i]..ends[i] (newline included), in order."""
    if starts.size == 0:
        return b""
    if np.array_equal(starts[1:], ends[:-1] + 1):  # one run of lines: a slice
        return buf[starts[0] : ends[-1] + 1].tobytes()
    inside = np.zeros(buf.size + 1, np.int8)
    inside[starts] += 1
    inside[ends + 1] -= 1
    return buf[np.cumsum(inside[:-1], dtype=np.int8).astype(bool)].tobytes()
