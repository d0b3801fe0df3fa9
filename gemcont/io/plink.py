"""PLINK 1 binary filesets (.bed/.bim/.fam): bed-reader plus a fast int8 panel reader.

The counted allele is decided here and nowhere else: every dosage in gemcont
counts the allele in .bim column 5 (``A1``), as bed-reader ``count_A1=True``,
REGENIE ``ALLELE1`` and ``plink2 --glm omit-ref`` do. Sumstats files call it
``EA`` (effect allele) and the other allele ``OA``.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from gemcont.errors import InputError

BIM_COLUMNS = ["CHR", "ID", "CM", "POS", "A1", "A2"]
FAM_COLUMNS = ["FID", "IID", "PAT", "MAT", "SEX", "PHENO"]
COUNTED_ALLELE = "A1"
OTHER_ALLELE = "A2"
MISSING_INT8 = -127  # missing genotype in int8 dosages (as bed-reader)
BED_MAGIC = bytes([0x6C, 0x1B, 0x01])  # PLINK 1 .bed, variant-major
DECODE_CHUNK_BYTES = 1 << 18  # packed .bed bytes decoded per task (cache-sized)

# A .bed byte holds four samples, first sample in the lowest 2 bits: 00 = A1/A1,
# 01 = missing, 10 = A1/A2, 11 = A2/A2. _BYTE_TO_A1[b] are the four A1 counts of
# byte b, packed as one int32 word so that decoding is one 4-byte gather per byte.
_CODE_TO_A1 = np.array([2, MISSING_INT8, 1, 0], dtype=np.int8)
_BYTE_TO_A1 = np.ascontiguousarray(
    _CODE_TO_A1[(np.arange(256)[:, None] >> np.arange(0, 8, 2)) & 3]
).view(np.int32)[:, 0]


def bed_paths(prefix: str | Path) -> dict[str, Path]:
    """The three files of a PLINK fileset prefix."""
    prefix = str(prefix)
    return {ext: Path(f"{prefix}.{ext}") for ext in ("bed", "bim", "fam")}


def read_bim(path: str | Path) -> pd.DataFrame:
    """Read a .bim file; CHR and alleles as strings, POS as int64."""
    try:
        bim = pd.read_csv(
            path,
            sep=r"\s+",
            header=None,
            names=BIM_COLUMNS,
            dtype={"CHR": str, "ID": str, "A1": str, "A2": str},
            engine="c",
        )
    except FileNotFoundError as err:
        raise InputError(path, "file not found", "check data.bfile in the config") from err
    if bim.shape[1] != 6 or bim["POS"].isna().any():
        raise InputError(path, "not a 6-column .bim file", "regenerate it with plink --make-bed")
    bim["POS"] = bim["POS"].astype(np.int64)
    return bim


def read_fam(path: str | Path) -> pd.DataFrame:
    """Read a .fam file; FID and IID as strings."""
    try:
        fam = pd.read_csv(
            path,
            sep=r"\s+",
            header=None,
            names=FAM_COLUMNS,
            dtype={"FID": str, "IID": str},
            engine="c",
        )
    except FileNotFoundError as err:
        raise InputError(path, "file not found", "check data.bfile in the config") from err
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


class Genotypes:
    """A PLINK fileset opened for reading dosages of the counted allele (A1)."""

    def __init__(self, prefix: str | Path, threads: int | None = None) -> None:
        paths = bed_paths(prefix)
        for kind, path in paths.items():
            if not path.exists():
                raise InputError(path, f"missing .{kind} file", "check data.bfile in the config")
        self.prefix = Path(prefix)
        self.bim = read_bim(paths["bim"])
        self.fam = read_fam(paths["fam"])
        check_bed_size(prefix, len(self.fam), len(self.bim))
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
            shape=(len(self.bim), (len(self.fam) + 3) // 4),
        )

    @cached_property
    def _bed(self):  # -> bed_reader.open_bed
        """bed-reader handle, opened on the first :meth:`read` (imported there, so the int8
        path of :meth:`read_int8` runs where bed-reader's compiled module is absent)."""
        from bed_reader import open_bed

        return open_bed(
            bed_paths(self.prefix)["bed"],
            iid_count=self.n_samples,
            sid_count=self.n_variants,
            count_A1=True,
            num_threads=self.threads,
            properties={"iid": self.fam["IID"].to_numpy(), "sid": self.bim["ID"].to_numpy()},
        )

    @property
    def n_samples(self) -> int:
        return len(self.fam)

    @property
    def n_variants(self) -> int:
        return len(self.bim)

    def read(
        self,
        variants: np.ndarray | slice | None = None,
        samples: np.ndarray | slice | None = None,
        dtype: str = "float32",
    ) -> np.ndarray:
        """Dosages of A1, samples x variants, NaN where missing."""
        index = (
            slice(None) if samples is None else samples,
            slice(None) if variants is None else variants,
        )
        return self._bed.read(index=index, dtype=dtype, order="F", num_threads=self.threads)

    def read_int8(self, variants: np.ndarray, samples: np.ndarray | None = None) -> np.ndarray:
        """A1 counts as int8 (``MISSING_INT8`` = missing), samples x variants, Fortran order.

        Same values as ``read(variants, samples, dtype="int8")`` but decoded here from the
        memory-mapped .bed with a byte lookup table, over ``threads`` threads.
        ``variants`` are .bim rows in any order; ``samples`` .fam rows (None = everyone).
        """
        variants = _check_index(variants, self.n_variants, "variant")
        if samples is not None:
            samples = _check_index(samples, self.n_samples, "sample")
        n_out = self.n_samples if samples is None else samples.size
        out = np.empty((variants.size, n_out), dtype=np.int8)  # transposed on return
        order = np.argsort(variants, kind="stable")  # read the .bed front to back
        step = max(1, DECODE_CHUNK_BYTES // max(self._packed.shape[1], 1))
        chunks = [order[i : i + step] for i in range(0, order.size, step)]

        def decode(dest: np.ndarray) -> None:
            self._decode(variants[dest], dest, samples, out)

        threads = min(self.threads or os.cpu_count() or 1, len(chunks))
        if threads > 1:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(decode, chunks))
        else:
            for dest in chunks:
                decode(dest)
        return out.T

    def _decode(
        self, rows: np.ndarray, dest: np.ndarray, samples: np.ndarray | None, out: np.ndarray
    ) -> None:
        """Decode sorted .bed ``rows`` into rows ``dest`` of ``out`` (variants x samples)."""
        packed = self._packed[rows[0] : rows[-1] + 1] if _is_run(rows) else self._packed[rows]
        target = out[dest[0] : dest[-1] + 1] if _is_run(dest) else None
        if samples is None and target is not None and out.shape[1] % 4 == 0:
            np.take(_BYTE_TO_A1, packed, out=target.view(np.int32), mode="clip")
            return
        decoded = np.take(_BYTE_TO_A1, packed, mode="clip").view(np.int8)
        decoded = decoded[:, : out.shape[1]] if samples is None else decoded[:, samples]
        if target is None:
            out[dest] = decoded
        else:
            target[...] = decoded

    def close(self) -> None:
        """Release the .bed: the bed-reader handle if opened, and the memory map."""
        if "_bed" in self.__dict__:
            self._bed.__del__()
        self.__dict__.pop("_packed", None)  # unmapped once no longer referenced

    def __enter__(self) -> Genotypes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_index(index: np.ndarray, size: int, what: str) -> np.ndarray:
    """``index`` (row numbers or a boolean mask) as a 1-D intp array in [0, size)."""
    index = np.asarray(index).reshape(-1)
    index = np.flatnonzero(index) if index.dtype == bool else index.astype(np.intp, copy=False)
    if index.size and (index.min() < 0 or index.max() >= size):
        raise IndexError(f"{what} index out of range [0, {size})")
    return index


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
    """Write samples x variants A1 dosages (NaN = missing) as a PLINK fileset."""
    if dosages.shape != (len(fam), len(bim)):
        raise ValueError(f"dosages {dosages.shape} != fam {len(fam)} x bim {len(bim)}")
    paths = bed_paths(prefix)
    paths["bed"].parent.mkdir(parents=True, exist_ok=True)
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
    from bed_reader import to_bed

    to_bed(paths["bed"], dosages, properties=properties, count_A1=True, num_threads=threads)


def prefix_of(path: str | Path) -> str:
    """The fileset prefix of a .bed/.bim/.fam path."""
    return str(Path(path).with_suffix(""))
