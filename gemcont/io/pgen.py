"""PLINK 2 file sets (.pgen/.pvar/.psam) read with ``pgenlib``, the PLINK 2 authors' reader.

Dosages are of the ``.pvar`` ALT allele (``A1``; REF is ``A2``), the allele ``plink2
--glm omit-ref`` counts (conventions of every format: :mod:`gemcont.io.genotype_source`).
``pgenlib`` returns the stored dosage (hard calls where a sample has no dosage), on the
PGEN grid of 1/16384, and -9 for missing, which becomes NaN here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pgenlib

from gemcont.errors import InputError
from gemcont.io.genotype_source import (
    VARIANT_COLUMNS,
    Reader,
    check_samples,
    check_variants,
    chromosome_rows,
    float_dtype,
    normalise_chromosomes,
    sample_order,
    variant_rows,
)
from gemcont.io.ids import KEY
from gemcont.io.plink import read_fam

PVAR_REQUIRED = ["#CHROM", "POS", "ID", "REF", "ALT"]
BIM_ORDER = ["#CHROM", "ID", "CM", "POS", "ALT", "REF"]  # a .pvar without header line
MISSING = -9.0  # pgenlib's missing dosage


def pgen_paths(path: str | Path) -> dict[str, Path]:
    """The three files of a PLINK 2 prefix (or of its .pgen path)."""
    prefix = str(path)[: -len(".pgen")] if str(path).endswith(".pgen") else str(path)
    return {ext: Path(f"{prefix}.{ext}") for ext in ("pgen", "pvar", "psam")}


def _header(path: Path) -> tuple[int, str | None]:
    """Number of ``##`` lines before the header, and the header line (None: no header)."""
    skipped = 0
    with open(path) as handle:
        for line in handle:
            if line.startswith("##"):
                skipped += 1
                continue
            return skipped, line.rstrip("\n") if line.startswith("#") else None
    raise InputError(path, "empty file (no variants)", "regenerate it with plink2 --make-pgen")


def read_pvar(path: str | Path) -> pd.DataFrame:
    """A .pvar as the variant table (``CHR ID POS A1 A2``, A1 = ALT): ``##`` meta lines
    skipped, the ``#CHROM`` header read (QUAL/FILTER/INFO/CM optional), or without a
    header the .bim column order; biallelic variants only."""
    path = Path(path)
    if not path.exists():
        zst = Path(f"{path}.zst")
        fix = (
            f"decompress {zst.name} (plink2 --pfile ... vzs --make-pgen)"
            if zst.exists()
            else "check the genotype path in the config"
        )
        raise InputError(path, "file not found", fix)
    skipped, header = _header(path)
    if header is None:
        table = pd.read_csv(
            path,
            sep=r"\s+",
            header=None,
            skiprows=skipped,
            dtype=str,
            keep_default_na=False,
            names=BIM_ORDER,
        )
        first_line = skipped + 1
    else:
        table = pd.read_csv(path, sep="\t", skiprows=skipped, dtype=str, keep_default_na=False)
        missing = [c for c in PVAR_REQUIRED if c not in table.columns]
        if missing:
            raise InputError(
                path,
                f"header lacks {', '.join(missing)} (found: {header})",
                "regenerate it with plink2 --make-pgen (header #CHROM POS ID REF ALT)",
                f"line {skipped + 1}",
            )
        first_line = skipped + 2
    multi = table["ALT"].str.contains(",", regex=False).to_numpy()
    if multi.any():
        row = int(np.argmax(multi))
        raise InputError(
            path,
            f"variant {table['ID'].iat[row]} has {table['ALT'].iat[row].count(',') + 2} "
            "alleles: the counted allele of a multiallelic variant is not one allele",
            "split it into biallelic records (plink2 --pfile ... --max-alleles 2, or "
            "bcftools norm -m- before importing)",
            f"line {first_line + row}",
        )
    variants = pd.DataFrame(
        {
            "CHR": normalise_chromosomes(table["#CHROM"], path, first_line),
            "ID": table["ID"],
            "POS": pd.to_numeric(table["POS"]).astype(np.int64),
            "A1": table["ALT"],
            "A2": table["REF"],
        }
    )[VARIANT_COLUMNS]
    check_variants(variants, path, first_line, ".pvar")
    return variants


def read_psam(path: str | Path) -> pd.DataFrame:
    """A .psam as the sample table (``FID IID SEX``): header ``#FID IID ...`` or
    ``#IID ...`` (FID then ``0``, as plink2 writes it), or a headerless .fam."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found", "check the genotype path in the config")
    with open(path) as handle:
        first = handle.readline()
    if not first.startswith(("#FID", "#IID")):
        return read_fam(path)
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    table = table.rename(columns={"#FID": "FID", "#IID": "IID"})
    if "FID" not in table.columns:
        table.insert(0, "FID", "0")
    samples = table[[*KEY, *(["SEX"] if "SEX" in table.columns else [])]].copy()
    check_samples(samples, path, 2)
    return samples


class Pgen(Reader):
    """A PLINK 2 file set opened for reading ALT dosages (A1)."""

    def __init__(self, path: str | Path, chrom: str | None = None) -> None:
        """``path``: the prefix or the .pgen; ``chrom``: only that chromosome's variants
        (variant indices are then rows of that :attr:`bim`)."""
        self.paths = pgen_paths(path)
        if not self.paths["pgen"].exists():
            raise InputError(self.paths["pgen"], "file not found", "check the genotype path")
        pvar = read_pvar(self.paths["pvar"])
        self.fam = read_psam(self.paths["psam"])
        self._file_rows = chromosome_rows(pvar, chrom, self.paths["pvar"])
        self.bim = (
            pvar if self._file_rows is None else pvar.iloc[self._file_rows].reset_index(drop=True)
        )
        try:
            self._reader = pgenlib.PgenReader(
                bytes(self.paths["pgen"]), raw_sample_ct=len(self.fam), variant_ct=len(pvar)
            )
        except RuntimeError as err:
            raise InputError(
                self.paths["pgen"],
                f"pgenlib refused it ({str(err).strip()}) with {len(pvar)} variants (.pvar) "
                f"x {len(self.fam)} samples (.psam)",
                "the .pgen/.pvar/.psam come from different file sets; regenerate them "
                "together with plink2 --make-pgen",
            ) from err
        self._subset: np.ndarray | None = None  # the sample rows pgenlib decodes

    def read(
        self,
        variants: np.ndarray | slice | None = None,
        samples: np.ndarray | slice | None = None,
        dtype: str = "float32",
    ) -> np.ndarray:
        """ALT dosages, samples x variants (Fortran order), NaN where missing; people
        in the order of ``samples`` (rows of :attr:`fam`, None = all)."""
        rows = variant_rows(variants, self.n_variants, self._file_rows).astype(np.uint32)
        decoded, where = sample_order(samples, self.n_samples)
        out = np.empty((rows.size, decoded.size), dtype=float_dtype(dtype))
        if rows.size and decoded.size:
            self._select(decoded)
            self._reader.read_dosages_list(rows, out)  # allele_idx 1 = ALT
        out[out == MISSING] = np.nan
        if where is not None:
            out = out[:, where]
        return out.T

    def _select(self, decoded: np.ndarray) -> None:
        """Make pgenlib decode the sorted sample rows ``decoded`` (everyone: no subset)."""
        everyone = decoded.size == self.n_samples
        if self._subset is None and everyone:
            return
        if self._subset is not None and np.array_equal(self._subset, decoded):
            return
        self._reader.change_sample_subset(None if everyone else decoded.astype(np.uint32))
        self._subset = None if everyone else decoded

    def close(self) -> None:
        self._reader.close()
