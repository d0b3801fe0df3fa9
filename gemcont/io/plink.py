"""PLINK 1 binary filesets (.bed/.bim/.fam) through bed-reader.

The counted allele is decided here and nowhere else: every dosage in gemcont
counts the allele in .bim column 5 (``A1``), as bed-reader ``count_A1=True``,
REGENIE ``ALLELE1`` and ``plink2 --glm omit-ref`` do. Sumstats files call it
``EA`` (effect allele) and the other allele ``OA``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from bed_reader import open_bed, to_bed

from gemcont.errors import InputError

BIM_COLUMNS = ["CHR", "ID", "CM", "POS", "A1", "A2"]
FAM_COLUMNS = ["FID", "IID", "PAT", "MAT", "SEX", "PHENO"]
COUNTED_ALLELE = "A1"
OTHER_ALLELE = "A2"


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
        self.threads = threads
        self._bed = open_bed(
            paths["bed"],
            iid_count=len(self.fam),
            sid_count=len(self.bim),
            count_A1=True,
            num_threads=threads,
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

    def blocks(
        self, block_size: int, samples: np.ndarray | slice | None = None, dtype: str = "float32"
    ) -> Iterator[tuple[slice, np.ndarray]]:
        """Yield (variant slice, samples x block dosages) over the whole fileset."""
        for start in range(0, self.n_variants, block_size):
            sl = slice(start, min(start + block_size, self.n_variants))
            yield sl, self.read(sl, samples, dtype)

    def close(self) -> None:
        self._bed.__del__()

    def __enter__(self) -> Genotypes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
    to_bed(paths["bed"], dosages, properties=properties, count_A1=True, num_threads=threads)
