"""PLINK 1 binary filesets (.bed/.bim/.fam): bed-reader plus fast readers of our own.

The counted allele is decided here and nowhere else: every dosage in gemcont
counts the allele in .bim column 5 (``A1``), as bed-reader ``count_A1=True``,
REGENIE ``ALLELE1`` and ``plink2 --glm omit-ref`` do. Sumstats files call it
``EA`` (effect allele) and the other allele ``OA``.

Besides bed-reader (needed only by :meth:`Genotypes.read`), two readers work from
the raw bytes with numpy alone: :meth:`Genotypes.read_int8` (int8 dosages) and
:meth:`Genotypes.read_packed` (the .bed bytes themselves, e.g. into pinned memory for
a GPU). What is computed on those bytes (genotype counts by popcount, the torch
decoders) lives in :mod:`gemcont.io.bed_codes`.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gemcont.errors import InputError
from gemcont.io.bed_codes import (
    BED_MAGIC,
    BYTE_TO_A1,
    check_index,
    pack_bed,
)
from gemcont.io.bim_lines import chromosome_lines
from gemcont.io.chromosomes import normalise, spellings
from gemcont.io.genotype_source import Reader
from gemcont.io.ids import KEY

BIM_COLUMNS = ["CHR", "ID", "CM", "POS", "A1", "A2"]
BIM_TEXT = ("CHR", "ID", "A1", "A2")  # read as strings
FAM_COLUMNS = [*KEY, "PAT", "MAT", "SEX", "PHENO"]
COUNTED_ALLELE = "A1"
OTHER_ALLELE = "A2"
DECODE_CHUNK_BYTES = 1 << 18  # packed .bed bytes decoded per task (cache-sized)
PREAD_CHUNK_BYTES = 1 << 23  # .bed bytes per pread task in read_packed


def bed_paths(prefix: str | Path) -> dict[str, Path]:
    """The three files of a PLINK fileset prefix."""
    prefix = str(prefix)
    return {ext: Path(f"{prefix}.{ext}") for ext in ("bed", "bim", "fam")}


@contextmanager
def _fileset_file(path: str | Path) -> Iterator[None]:
    """A missing or empty file of the fileset as an InputError naming it."""
    try:
        yield
    except FileNotFoundError as err:
        raise InputError(path, "file not found", "check data.bfile in the config") from err
    except pd.errors.EmptyDataError as err:
        raise InputError(
            path, "empty file (no lines)", "regenerate the fileset with plink --make-bed"
        ) from err


def file_lines(path: str | Path, rows: np.ndarray) -> np.ndarray:
    """1-based line numbers of table ``rows`` (0-based, blank lines not counted) of a
    text file; for error messages (reads the file up to the last row)."""
    rows = np.asarray(rows, dtype=np.int64)
    wanted, found = set(rows.tolist()), {}
    row = -1
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                row += 1
                if row in wanted:
                    found[row] = number
                    if len(found) == len(wanted):
                        break
    return np.array([found.get(int(r), -1) for r in rows], dtype=np.int64)


def read_bim(path: str | Path) -> pd.DataFrame:
    """Read and check a .bim file: 6 columns, chromosome codes normalised
    (:mod:`gemcont.io.chromosomes`), unique variant IDs; CHR and alleles as strings, POS
    as int64."""
    with _fileset_file(path):
        bim = _parse_bim(path, path)
    _check_unique_ids(bim, path, np.arange(len(bim)))
    return bim


def read_bim_chromosome(path: str | Path, chrom: str) -> tuple[pd.DataFrame, np.ndarray, int]:
    """One chromosome's rows of a .bim (as :func:`read_bim`, index from 0), their row
    numbers in the whole .bim, and its number of rows; only those lines are parsed
    (:mod:`gemcont.io.bim_lines`). ``chrom`` is a normalised code; the .bim may spell it
    any way :func:`gemcont.io.chromosomes.spellings` lists."""
    chrom = normalise_code(str(chrom), path)
    with _fileset_file(path):
        lines = chromosome_lines(path, spellings(chrom))
    if lines is None:  # a line starts with whitespace: parse everything, as before
        bim = read_bim(path)
        rows = np.flatnonzero(bim["CHR"].to_numpy() == chrom)
        return bim.iloc[rows].reset_index(drop=True), rows, len(bim)
    if not lines.text:  # no such chromosome
        if lines.n_rows == 0:  # as read_bim says it
            fix = "regenerate it with plink --make-bed"
            raise InputError(path, "empty file (no variants)", fix)
        empty = {c: pd.Series(dtype=str if c in BIM_TEXT else np.int64) for c in BIM_COLUMNS}
        return pd.DataFrame(empty), lines.rows, lines.n_rows
    bim = _parse_bim(io.BytesIO(lines.text), path, lines.rows)
    _check_unique_ids(bim, path, lines.rows)
    return bim, lines.rows, lines.n_rows


def normalise_code(code: str, path: str | Path | None, line: int | None = None) -> str:
    """:func:`gemcont.io.chromosomes.normalise` with its refusal as an InputError."""
    try:
        return normalise(code)
    except ValueError as err:
        raise InputError(
            path,
            str(err),
            "rename the chromosome (plink2 --output-chr MT) or drop it (plink2 --not-chr)",
            None if line is None else f"line {line}",
        ) from err


def _normalise_column(chrom: pd.Series, path: str | Path, rows: np.ndarray) -> pd.Series:
    """Normalised chromosome codes (each distinct code normalised once)."""
    inverse, codes = pd.factorize(chrom)
    normalised = []
    for k, code in enumerate(codes):
        try:
            normalised.append(normalise(code))
        except ValueError:
            first = int(np.argmax(inverse == k))
            normalise_code(code, path, int(file_lines(path, rows[[first]])[0]))
    return pd.Series(np.asarray(normalised, dtype=object)[inverse], index=chrom.index, dtype=str)


def _check_unique_ids(bim: pd.DataFrame, path: str | Path, rows: np.ndarray) -> None:
    """Refuse a variant ID on two .bim lines, naming the ID and both lines."""
    dup = bim["ID"].duplicated(keep=False).to_numpy()
    if not dup.any():
        return
    first = bim["ID"].to_numpy()[dup][0]
    both = np.flatnonzero(bim["ID"].to_numpy() == first)[:2]
    lines = file_lines(path, rows[both])
    n_ids = bim.loc[dup, "ID"].nunique()
    raise InputError(
        path,
        f"variant ID {first} on lines {lines[0]} and {lines[1]} "
        f"({n_ids} duplicated ID{'s' if n_ids > 1 else ''} in all)",
        "give every variant a unique ID (plink2 --set-all-var-ids '@:#:$r:$a') or "
        "remove the duplicates (plink2 --rm-dup exclude-all)",
    )


def _parse_bim(
    source: str | Path | io.BytesIO, path: str | Path, rows: np.ndarray | None = None
) -> pd.DataFrame:
    """.bim text from ``source`` as a table; errors name ``path`` and the line (``rows``:
    the .bim rows of ``source``'s lines, when it holds only some)."""
    fix = "regenerate it with plink --make-bed (a .bim has 6 columns: CHR ID CM POS A1 A2)"
    try:
        bim = pd.read_csv(
            source,
            sep=r"\s+",
            header=None,
            names=BIM_COLUMNS,
            dtype=dict.fromkeys(BIM_TEXT, str),
            keep_default_na=False,
            engine="c",
        )
    except pd.errors.ParserError as err:
        # pandas names the line of ``source``: the file's own, or (``rows`` given, no blank
        # lines) line k is .bim row rows[k - 1]
        line_of_source = None if rows is None else lambda k: file_lines(path, rows[[k - 1]])[0]
        raise _fields_error(err, path, ".bim", fix, line_of_source) from err
    rows = np.arange(len(bim)) if rows is None else rows
    _check_fields(bim, path, ".bim", "variants", fix, lambda row: file_lines(path, rows[[row]])[0])
    bim["CHR"] = _normalise_column(bim["CHR"], path, rows)
    bim["POS"] = bim["POS"].astype(np.int64)
    return bim


def _check_fields(
    table: pd.DataFrame,
    path: str | Path,
    kind: str,
    what: str,
    fix: str,
    line_of: Callable[[int], int],
) -> None:
    """Stop on an empty ``kind`` file, or a line with more or fewer than its 6 fields
    (named by ``line_of(table row)``)."""
    if table.empty:
        raise InputError(path, f"empty file (no {what})", "regenerate it with plink --make-bed")
    if not isinstance(table.index, pd.RangeIndex):  # the first line's extra fields
        n_fields, line = len(table.columns) + table.index.nlevels, int(line_of(0))
        raise InputError(path, f"{n_fields} columns, not 6: not a {kind} file", fix, f"line {line}")
    # a short line lacks its last fields, so the last column tells (NaN or ""); the whole
    # table is looked at only for the line reported
    last = table.iloc[:, -1]
    short = (last.isna() | last.eq("")).to_numpy()
    if short.any():
        row = int(np.argmax(short))
        fields = table.iloc[row]
        n_fields = int((fields.notna() & fields.ne("")).sum())
        line = int(line_of(row))
        raise InputError(path, f"{n_fields} columns, not 6: not a {kind} file", fix, f"line {line}")


def _fields_error(
    err: pd.errors.ParserError,
    path: str | Path,
    kind: str,
    fix: str,
    line_of_source: Callable[[int], int] | None = None,
) -> InputError:
    """pandas' refusal of a line with more than 6 fields as the InputError of a short
    line (:func:`_check_fields`); ``line_of_source``: the file's line of pandas' line
    (None: the same)."""
    found = re.search(r"Expected \d+ fields in line (\d+), saw (\d+)", str(err))
    if found is None:
        return InputError(path, f"not a 6-column {kind} file ({str(err).strip()})", fix)
    line = int(found[1]) if line_of_source is None else int(line_of_source(int(found[1])))
    return InputError(path, f"{found[2]} columns, not 6: not a {kind} file", fix, f"line {line}")


def count_chromosomes(path: str | Path) -> dict[str, int]:
    """Variants per normalised chromosome of a .bim, in file order (reads the first
    column only)."""
    with _fileset_file(path):
        chrom = pd.read_csv(path, sep=r"\s+", header=None, usecols=[0], dtype=str, engine="c")[0]
    chrom = _normalise_column(chrom, path, np.arange(len(chrom)))
    counts = chrom.value_counts(sort=False)
    return {c: int(counts[c]) for c in pd.unique(chrom)}


def read_fam(path: str | Path) -> pd.DataFrame:
    """Read and check a .fam file: 6 columns, FID and IID as strings, every IID once
    (each table of the workflow is keyed by it)."""
    fix = "regenerate it with plink --make-bed (a .fam has 6 columns: FID IID PAT MAT SEX PHENO)"
    with _fileset_file(path):
        try:
            fam = pd.read_csv(
                path,
                sep=r"\s+",
                header=None,
                names=FAM_COLUMNS,
                dtype=dict.fromkeys([*KEY, "PAT", "MAT", "PHENO"], str),
                keep_default_na=False,
                engine="c",
            )
        except pd.errors.ParserError as err:
            raise _fields_error(err, path, ".fam", fix) from err
    _check_fields(fam, path, ".fam", "samples", fix, lambda row: file_lines(path, [row])[0])
    dup = fam["IID"].duplicated(keep=False).to_numpy()
    if dup.any():
        first = fam["IID"].to_numpy()[dup][0]
        both = file_lines(path, np.flatnonzero(fam["IID"].to_numpy() == first)[:2])
        n_ids = fam.loc[dup, "IID"].nunique()
        raise InputError(
            path,
            f"IID {first} on lines {both[0]} and {both[1]} "
            f"({n_ids} duplicated IID{'s' if n_ids > 1 else ''} in all)",
            "keep one sample per IID (plink2 --remove the duplicates, or give them distinct IIDs)",
        )
    return fam


def check_bed_size(prefix: str | Path, n_samples: int, n_variants: int) -> None:
    """Stop with a clear message when the .bed size does not match .bim x .fam."""
    bed = bed_paths(prefix)["bed"]
    expected = 3 + n_variants * ((n_samples + 3) // 4)
    actual = bed.stat().st_size
    if actual != expected:
        raise InputError(
            bed,
            f"size {actual} bytes does not match {n_variants} variants (.bim) x "
            f"{n_samples} samples (.fam); expected {expected} bytes",
            "the .bed/.bim/.fam come from different filesets or the .bed is truncated; "
            "regenerate them together with plink --make-bed",
        )


class Genotypes(Reader):
    """A PLINK fileset opened for reading dosages of the counted allele (A1)."""

    def __init__(
        self, prefix: str | Path, threads: int | None = None, chrom: str | None = None
    ) -> None:
        """``chrom``: only that chromosome's variants (only its .bim lines are parsed);
        variant indices of every method are then rows of that :attr:`bim`."""
        paths = bed_paths(prefix)
        for kind, path in paths.items():
            if not path.exists():
                raise InputError(path, f"missing .{kind} file", "check data.bfile in the config")
        self.prefix = Path(prefix)
        self._bed_rows: np.ndarray | None = None  # .bed rows of bim's rows (None: the same)
        if chrom is None:
            self.bim = read_bim(paths["bim"])
            bed_variants = len(self.bim)
        else:
            self.bim, self._bed_rows, bed_variants = read_bim_chromosome(paths["bim"], chrom)
            if self.bim.empty:
                raise InputError(
                    paths["bim"],
                    f"no variants on chromosome '{chrom}'",
                    "check the chromosome list in the config against the .bim",
                )
        self.fam = read_fam(paths["fam"])
        check_bed_size(prefix, len(self.fam), bed_variants)
        with open(paths["bed"], "rb") as handle:
            if handle.read(3) != BED_MAGIC:
                raise InputError(
                    paths["bed"],
                    "not a variant-major PLINK 1 .bed (bad magic bytes)",
                    "regenerate it with plink --make-bed",
                )
        self.threads = threads
        self._packed = np.memmap(
            paths["bed"],
            dtype=np.uint8,
            mode="r",
            offset=len(BED_MAGIC),
            shape=(bed_variants, (len(self.fam) + 3) // 4),
        )

    @cached_property
    def _bed(self):  # -> bed_reader.open_bed
        """bed-reader handle, opened on the first :meth:`read` (imported there, so the int8
        path of :meth:`read_int8` runs where bed-reader's compiled module is absent)."""
        from bed_reader import open_bed

        properties = {"iid": self.fam["IID"].to_numpy()}
        if self._bed_rows is None:
            properties["sid"] = self.bim["ID"].to_numpy()
        return open_bed(
            bed_paths(self.prefix)["bed"],
            iid_count=self.n_samples,
            sid_count=self._packed.shape[0],
            count_A1=True,
            num_threads=self.threads,
            properties=properties,
        )

    def _rows(self, variants: np.ndarray) -> np.ndarray:
        """.bed rows of ``variants`` (rows of :attr:`bim`, or a boolean mask of them)."""
        index = check_index(variants, self.n_variants, "variant")
        return index if self._bed_rows is None else self._bed_rows[index]

    @property
    def bytes_per_variant(self) -> int:
        """.bed bytes per variant: four samples per byte, the last one padded."""
        return (self.n_samples + 3) // 4

    def read_packed(self, variants: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The .bed bytes of ``variants`` (rows of :attr:`bim`), variants x bytes per variant.

        Byte j of a row holds samples 4j..4j+3, the first in the lowest two bits (codes
        as in :data:`gemcont.io.bed_codes.CODE_A1`). Without ``out``: a view of the
        memory map for consecutive rows, else a copy. With ``out`` (uint8, C-contiguous,
        e.g. pinned memory): filled in place, consecutive rows by ``pread`` over
        ``threads`` threads (no page faults on the map, the GIL released), and returned.
        """
        variants = self._rows(variants)
        run = variants.size > 0 and _is_run(variants)
        if out is None:
            if run:
                return self._packed[variants[0] : variants[-1] + 1]
            return self._packed[variants]
        shape = (variants.size, self.bytes_per_variant)
        if out.shape != shape or out.dtype != np.uint8 or not out.flags.c_contiguous:
            raise ValueError(f"out is {out.dtype} {out.shape}, need C-contiguous uint8 {shape}")
        if not run:
            np.take(self._packed, variants, axis=0, out=out)
            return out
        flat = out.reshape(-1)  # a view: out is C-contiguous
        start = len(BED_MAGIC) + int(variants[0]) * self.bytes_per_variant
        pieces = range(0, flat.size, PREAD_CHUNK_BYTES)

        def pread(lo: int) -> None:
            view = memoryview(flat[lo : lo + PREAD_CHUNK_BYTES])
            done = 0
            while done < view.nbytes:  # pread may return short counts
                got = os.preadv(self._fd, [view[done:]], start + lo + done)
                if got <= 0:
                    bed = bed_paths(self.prefix)["bed"]
                    raise InputError(bed, "unexpected end of file", "regenerate the fileset")
                done += got

        self._each(pread, pieces)
        return out

    def _each(self, task: Callable[[Any], None], items: Sequence[Any]) -> None:
        """``task`` on every item, on up to ``threads`` threads (numpy and pread release
        the GIL)."""
        threads = min(self.threads or os.cpu_count() or 1, len(items))
        if threads > 1:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(task, items))
        else:
            for item in items:
                task(item)

    @cached_property
    def _fd(self) -> int:
        """A read-only descriptor of the .bed for :meth:`read_packed` (closed by close)."""
        return os.open(bed_paths(self.prefix)["bed"], os.O_RDONLY)

    def read(
        self,
        variants: np.ndarray | slice | None = None,
        samples: np.ndarray | slice | None = None,
        dtype: str = "float32",
    ) -> np.ndarray:
        """Dosages of A1, samples x variants, NaN where missing."""
        if self._bed_rows is not None:
            variants = self._bed_rows[slice(None) if variants is None else variants]
        index = (
            slice(None) if samples is None else samples,
            slice(None) if variants is None else variants,
        )
        return self._bed.read(index=index, dtype=dtype, order="F", num_threads=self.threads)

    def read_int8(
        self,
        variants: np.ndarray,
        samples: np.ndarray | None = None,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """A1 counts as int8 (``MISSING_INT8`` = missing), samples x variants, Fortran order.

        Same values as ``read(variants, samples, dtype="int8")`` but decoded here from the
        memory-mapped .bed with a byte lookup table, over ``threads`` threads.
        ``variants`` are rows of :attr:`bim` in any order; ``samples`` .fam rows (None = everyone).
        ``out``: a C-contiguous variants x samples int8 buffer to decode into (reusing
        one spares the page faults of a fresh array); its transpose is returned.
        """
        variants = self._rows(variants)
        if samples is not None:
            samples = check_index(samples, self.n_samples, "sample")
        n_out = self.n_samples if samples is None else samples.size
        if out is None:
            out = np.empty((variants.size, n_out), dtype=np.int8)  # transposed on return
        elif out.shape != (variants.size, n_out) or not out.flags.c_contiguous:
            raise ValueError(f"out is {out.shape}, need C-contiguous {(variants.size, n_out)}")
        order = np.argsort(variants, kind="stable")  # read the .bed front to back
        step = max(1, DECODE_CHUNK_BYTES // max(self._packed.shape[1], 1))
        chunks = [order[i : i + step] for i in range(0, order.size, step)]

        def decode(dest: np.ndarray) -> None:
            self._decode(variants[dest], dest, samples, out)

        self._each(decode, chunks)
        return out.T

    def _decode(
        self, rows: np.ndarray, dest: np.ndarray, samples: np.ndarray | None, out: np.ndarray
    ) -> None:
        """Decode sorted .bed ``rows`` into rows ``dest`` of ``out`` (variants x samples)."""
        packed = self._packed[rows[0] : rows[-1] + 1] if _is_run(rows) else self._packed[rows]
        target = out[dest[0] : dest[-1] + 1] if _is_run(dest) else None
        if samples is None and target is not None and out.shape[1] % 4 == 0:
            np.take(BYTE_TO_A1, packed, out=target.view(np.int32), mode="clip")
            return
        decoded = np.take(BYTE_TO_A1, packed, mode="clip").view(np.int8)
        decoded = decoded[:, : out.shape[1]] if samples is None else decoded[:, samples]
        if target is None:
            out[dest] = decoded
        else:
            target[...] = decoded

    def close(self) -> None:
        """Release the .bed: the bed-reader handle and descriptor if opened, and the map."""
        if "_bed" in self.__dict__:
            self._bed.__del__()
        if "_fd" in self.__dict__:
            os.close(self.__dict__.pop("_fd"))
        self.__dict__.pop("_packed", None)  # unmapped once no longer referenced


def _is_run(index: np.ndarray) -> bool:
    """Whether ``index`` is consecutive increasing integers (a slice)."""
    return int(index[-1]) - int(index[0]) == index.size - 1 and bool(np.all(np.diff(index) == 1))


def write_bed(
    prefix: str | Path,
    dosages: np.ndarray,
    fam: pd.DataFrame,
    bim: pd.DataFrame,
    threads: int | None = None,
) -> None:
    """Write samples x variants A1 dosages (NaN = missing) as a PLINK fileset.

    bed-reader writes it; where its compiled module does not import, :func:`pack_bed`
    and pandas write the same three files.
    """
    if dosages.shape != (len(fam), len(bim)):
        raise ValueError(f"dosages {dosages.shape} != fam {len(fam)} x bim {len(bim)}")
    paths = bed_paths(prefix)
    paths["bed"].parent.mkdir(parents=True, exist_ok=True)
    try:
        from bed_reader import to_bed
    except ImportError:
        _write_bed_numpy(paths, dosages, fam, bim)
        return
    properties = {
        "fid": fam["FID"].astype(str).to_list(),
        "iid": fam["IID"].astype(str).to_list(),
        "father": fam.get("PAT", pd.Series("0", index=fam.index)).astype(str).to_list(),
        "mother": fam.get("MAT", pd.Series("0", index=fam.index)).astype(str).to_list(),
        "sex": fam.get("SEX", pd.Series(0, index=fam.index)).astype(int).to_list(),
        "pheno": fam.get("PHENO", pd.Series("-9", index=fam.index)).astype(str).to_list(),
        "chromosome": bim["CHR"].astype(str).to_list(),
        "sid": bim["ID"].astype(str).to_list(),
        "cm_position": bim["CM"].astype(float).to_list(),
        "bp_position": bim["POS"].astype(int).to_list(),
        "allele_1": bim["A1"].astype(str).to_list(),
        "allele_2": bim["A2"].astype(str).to_list(),
    }
    to_bed(paths["bed"], dosages, properties=properties, count_A1=True, num_threads=threads)


def _write_bed_numpy(
    paths: dict[str, Path], dosages: np.ndarray, fam: pd.DataFrame, bim: pd.DataFrame
) -> None:
    """write_bed without bed-reader: the .bed by :func:`pack_bed`, .fam/.bim by pandas."""
    with open(paths["bed"], "wb") as handle:
        handle.write(BED_MAGIC)
        handle.write(pack_bed(dosages).tobytes())
    fam_out = pd.DataFrame(
        {
            "FID": fam["FID"].astype(str),
            "IID": fam["IID"].astype(str),
            "PAT": fam.get("PAT", pd.Series("0", index=fam.index)).astype(str),
            "MAT": fam.get("MAT", pd.Series("0", index=fam.index)).astype(str),
            "SEX": fam.get("SEX", pd.Series(0, index=fam.index)).astype(int),
            "PHENO": fam.get("PHENO", pd.Series("-9", index=fam.index)).astype(str),
        }
    )
    fam_out.to_csv(paths["fam"], sep="\t", header=False, index=False)
    bim[BIM_COLUMNS].to_csv(paths["bim"], sep="\t", header=False, index=False)


def prefix_of(path: str | Path) -> str:
    """The fileset prefix of a .bed/.bim/.fam path."""
    return str(Path(path).with_suffix(""))
