"""Atomic, deterministic writing of tab-separated tables.

A gzipped table is written as gzip members, the header line and then the rows (one
file to every gzip reader: zcat, Python, pandas, R, htslib), so that files of the same
header concatenate without recompression (:func:`concat_gzip_tables`). Rows are
formatted in chunks of CHUNK_ROWS, each compressed into a member of its own by a pool
of threads while the next chunks are formatted (zlib releases the GIL; the bytes do not
depend on the number of threads), at zlib's default level 6: the size of level 9
(pandas' gzip default) at ~2.6x its speed, about twice the time of formatting.

Rows are formatted as ``DataFrame.to_csv(sep="\t", float_format=...)`` formats them,
byte for byte, but ~3x faster where every column is plain: numpy floats (NaN written
empty), integers and booleans, and text columns of strings without tabs, quotes or line
breaks (pandas' per-value float formatting cost 4x ``float_format % value`` itself).
Any other column (missing text, nullable or date types, text to be quoted) sends the
chunk to ``to_csv``.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import zlib
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from gemcont.errors import InputError
from gemcont.io.atomic import atomic_open

GZIP_LEVEL = 6
CHUNK_ROWS = 1 << 16  # rows formatted per chunk (and per gzip member)
COMPRESS_THREADS = min(4, os.cpu_count() or 1)
HEADER_PROBE_BYTES = 1 << 16  # a header member is far smaller
_QUOTED = re.compile('[\t\n\r"]')  # text that to_csv would quote


def require_columns(
    table: pd.DataFrame, columns: Sequence[str], path: str | Path | None, fix: str
) -> None:
    """Stop with an InputError naming ``path``, the ``columns`` that ``table`` lacks and
    the ones it has."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputError(path, f"missing columns {missing} (found {list(table.columns)})", fix)


def _text(frames: Iterable[pd.DataFrame], float_format: str) -> Iterator[bytes]:
    """The header line, then the rows of every frame in chunks of CHUNK_ROWS."""
    header = None
    for df in frames:
        if header is None:
            columns, header = list(df.columns), df.iloc[:0].to_csv(sep="\t", index=False)
            yield header.encode()
        elif list(df.columns) != columns:
            raise ValueError(f"frame columns {list(df.columns)} differ from the first's {columns}")
        for lo in range(0, len(df), CHUNK_ROWS):
            yield _rows_text(df.iloc[lo : lo + CHUNK_ROWS], float_format).encode()
    if header is None:
        raise ValueError("write_tsv needs at least one frame")


def _rows_text(rows: pd.DataFrame, float_format: str | None) -> str:
    """``rows.to_csv(sep="\t", index=False, header=False, float_format=float_format)``."""
    plain = rows.shape[1] > 1 and len(rows) > 0  # to_csv quotes a lone empty field
    columns = []
    for j in range(rows.shape[1] if plain else 0):
        text = _plain_text(rows.iloc[:, j], float_format)
        if text is None:  # the rest would be formatted for nothing
            break
        columns.append(text)
    if not plain or len(columns) < rows.shape[1]:
        return rows.to_csv(sep="\t", index=False, header=False, float_format=float_format)
    return "\n".join(map("\t".join, zip(*columns, strict=True))) + "\n"


def _plain_text(column: pd.Series, float_format: str | None) -> list[str] | None:
    """The column's values as ``to_csv`` writes them, or None unless the column is plain
    (see the module's docstring)."""
    dtype, values = column.dtype, column.tolist()
    if isinstance(dtype, np.dtype) and dtype.kind == "f" and float_format is not None:
        return ["" if v != v else float_format % v for v in values]
    if isinstance(dtype, np.dtype) and dtype.kind in "iub":
        return list(map(str, values))
    if dtype.kind == "O" or pd.api.types.is_string_dtype(dtype):
        if all(type(v) is str for v in values) and not _QUOTED.search("".join(values)):
            return values
    return None


def write_tsv(
    df: pd.DataFrame | Iterable[pd.DataFrame], path: str | Path, float_format: str = "%.6g"
) -> None:
    """Write a TSV (gzipped when the name ends in .gz) atomically and reproducibly.

    ``df``: a table, or tables with the same columns written one after the other (e.g.
    produced one at a time, so that the whole never needs to be in memory).
    """
    _write_chunks(_text([df] if isinstance(df, pd.DataFrame) else df, float_format), path)


def write_tsv_lines(header: bytes, frames: Iterable[Iterable[bytes]], path: str | Path) -> None:
    """Rows already formatted (each line ending in a newline), frame by frame, written
    as :func:`write_tsv` writes the frames they were formatted from: the same bytes
    (gzip members of the header, then of CHUNK_ROWS rows of one frame at a time)."""

    def chunks() -> Iterator[bytes]:
        yield header
        for frame in frames:
            batch: list[bytes] = []
            for line in frame:
                batch.append(line)
                if len(batch) == CHUNK_ROWS:
                    yield b"".join(batch)
                    batch = []
            if batch:
                yield b"".join(batch)

    _write_chunks(chunks(), path)


def _write_chunks(chunks: Iterator[bytes], path: str | Path) -> None:
    """The header chunk, then row chunks, to ``path`` (a gzip member each for .gz)."""
    with atomic_open(path) as handle:
        if Path(path).suffix != ".gz":
            for chunk in chunks:
                handle.write(chunk)
            return
        handle.write(_compress(next(chunks)))
        with ThreadPoolExecutor(COMPRESS_THREADS) as compressors:
            pending: deque[Future[bytes]] = deque()
            for chunk in chunks:  # formatted here while the threads compress
                pending.append(compressors.submit(_compress, chunk))
                if len(pending) > COMPRESS_THREADS:
                    handle.write(pending.popleft().result())
            for done in pending:
                handle.write(done.result())


def _compress(data: bytes) -> bytes:
    """``data`` as one reproducible gzip member."""
    return gzip.compress(data, GZIP_LEVEL, mtime=0)


def _split_header(path: Path) -> tuple[bytes, int]:
    """(header line, byte offset of the rows' members) of a table from :func:`write_tsv`."""
    with open(path, "rb") as handle:
        probe = handle.read(HEADER_PROBE_BYTES)
    inflate = zlib.decompressobj(wbits=31)  # one gzip member
    header = inflate.decompress(probe)
    if not inflate.eof or header.count(b"\n") != 1 or not header.endswith(b"\n"):
        raise InputError(
            path,
            "is not a gzipped table with its header in a gzip member of its own",
            "rerun the rule that wrote it (tables from older gemcont versions differ)",
        )
    return header, len(probe) - len(inflate.unused_data)


def concat_gzip_tables(paths: Sequence[str | Path], out: str | Path) -> None:
    """Concatenate gzipped tables of :func:`write_tsv` with the same header, in the order
    given, into one such table: the rows' compressed bytes are copied, not recompressed."""
    if not paths:
        raise ValueError("concat_gzip_tables needs at least one file")
    paths = [Path(p) for p in paths]
    parts = [_split_header(p) for p in paths]
    header = parts[0][0]
    for path, (other, _) in zip(paths, parts, strict=True):
        if other != header:
            fix = "rerun the rule that wrote it"
            raise InputError(path, f"header differs from {paths[0]}", fix)
    with atomic_open(out) as sink:
        sink.write(_compress(header))
        for path, (_, offset) in zip(paths, parts, strict=True):
            with open(path, "rb") as source:
                source.seek(offset)
                shutil.copyfileobj(source, sink, 1 << 22)
