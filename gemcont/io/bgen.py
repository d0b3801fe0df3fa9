"""BGEN 1.2/1.3 files (with their .sample, and a bgenix .bgi index when present), read
with the ``bgen`` package (PyPI; why this one: benchmarks/README.md).

The counted allele (``A1``) is the ALT allele of ``plink2 --bgen <file> <mode>`` for
the REF/ALT mode given: ``ref-first`` (UK Biobank) counts each variant's second allele,
``ref-last`` its first (all formats: :mod:`gemcont.io.genotype_source`). A dosage is the
expected count of that allele from the genotype probabilities; a haploid sample's
(males on X as plink2 writes them) is doubled to the 0..2 scale, as ``plink2 --bgen``
imports it. Missing samples (the BGEN missing flag) are NaN.

The ``.sample`` (Oxford format, as UK Biobank and ``plink2 --export bgen-1.2`` write
it): a header ``ID_1 ID_2 missing sex ...``, a type row ``0 0 0 D ...``, then one row
per sample in BGEN order, which need not be the .fam's; withdrawn UK Biobank
participants keep their negative IDs here (the workflow drops them by
:mod:`gemcont.io.withdrawn`). IDs stored in the .bgen itself must agree with it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
from bgen import BgenReader

from gemcont.errors import InputError
from gemcont.io.genotype_source import (
    VARIANT_COLUMNS,
    BgenRef,
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

REFS = ("ref-first", "ref-last")
BGI_QUERY = (
    "SELECT chromosome, position, rsid, number_of_alleles, allele1, allele2 "
    "FROM Variant ORDER BY file_start_position"
)


def read_sample(path: str | Path) -> pd.DataFrame:
    """An Oxford .sample as the sample table (``FID IID`` from ``ID_1 ID_2``, ``SEX``
    when there is a ``sex`` column), rows in file order."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found", "check the .sample path in the config")
    table = pd.read_csv(path, sep=r"\s+", dtype=str, keep_default_na=False)
    fix = "use the .sample written with the .bgen (header ID_1 ID_2 missing sex, then 0 0 0 D)"
    if list(table.columns[:2]) != ["ID_1", "ID_2"]:
        raise InputError(
            path, f"header starts {' '.join(table.columns[:2])}, not ID_1 ID_2", fix, "line 1"
        )
    if table.empty or table["ID_1"].iat[0] != "0":
        raise InputError(path, "no type row (0 0 0 D ...) under the header", fix, "line 2")
    samples = table.iloc[1:].rename(columns={"ID_1": "FID", "ID_2": "IID", "sex": "SEX"})
    samples = samples[[*KEY, *(["SEX"] if "SEX" in samples.columns else [])]]
    samples = samples.reset_index(drop=True)
    check_samples(samples, path, 3)
    return samples


def read_bgen_variants(path: Path, reader: BgenReader) -> pd.DataFrame:
    """The variant table of a BGEN in file order, from its .bgi when there is one, else
        by walking the variant headers: ``CHR ID POS first second`` (the alleles in file
    order); ``ID`` is the rsid field, plink2's variant ID."""
    bgi = Path(f"{path}.bgi")
    if bgi.exists():
        with sqlite3.connect(f"file:{bgi}?mode=ro", uri=True) as connection:
            rows = connection.execute(BGI_QUERY).fetchall()
        raw = pd.DataFrame(rows, columns=["chrom", "pos", "rsid", "n_alleles", "first", "second"])
        source, n_header = bgi, reader.header.nvariants
        if len(raw) != n_header:
            raise InputError(
                bgi,
                f"{len(raw)} variants indexed, the .bgen header says {n_header}",
                "the .bgi belongs to another .bgen: rebuild it (bgenix -g file.bgen -index)",
            )
    else:
        with BgenReader(str(path), delay_parsing=True) as walk:  # iterating exhausts it
            records = [(v.chrom, v.pos, v.rsid, v.alleles) for v in walk]
        raw = pd.DataFrame(records, columns=["chrom", "pos", "rsid", "alleles"])
        raw["n_alleles"] = raw["alleles"].map(len)
        raw["first"] = raw["alleles"].str[0]
        raw["second"] = raw["alleles"].str[1]
        source = path
    multi = raw["n_alleles"].to_numpy() != 2
    if multi.any():
        row = int(np.argmax(multi))
        raise InputError(
            path,
            f"variant {raw['rsid'].iat[row]} has {raw['n_alleles'].iat[row]} alleles: the "
            "counted allele of a multiallelic variant is not one allele",
            "split it into biallelic records (plink2 --bgen ... --max-alleles 2 --export "
            "bgen-1.2), or drop it (bgenix -excl-rsids)",
            f"variant {row + 1}",
        )
    variants = pd.DataFrame(
        {
            "CHR": normalise_chromosomes(raw["chrom"].astype(str), source, 1, leading_zeros=True),
            "ID": raw["rsid"].astype(str),
            "POS": raw["pos"].astype(np.int64),
            "first": raw["first"].astype(str),
            "second": raw["second"].astype(str),
        }
    )
    return variants


class Bgen(Reader):
    """A BGEN file opened for reading dosages of the counted allele (A1)."""

    def __init__(
        self,
        path: str | Path,
        sample: str | Path,
        ref: BgenRef = "ref-first",
        chrom: str | None = None,
    ) -> None:
        """``ref``: PLINK 2's REF/ALT mode for the file; ``chrom``: only that
        chromosome's variants (variant indices are then rows of that :attr:`bim`)."""
        if ref not in REFS:
            raise ValueError(f"ref is {ref!r}, not one of {REFS}")
        self.path = Path(path)
        if not self.path.exists():
            raise InputError(self.path, "file not found", "check the .bgen path in the config")
        self.ref = ref
        self.fam = read_sample(sample)
        self._reader = BgenReader(str(self.path), delay_parsing=True)
        header = self._reader.header
        if header.nsamples != len(self.fam):
            raise InputError(
                sample,
                f"{len(self.fam)} samples, the .bgen has {header.nsamples}",
                "use the .sample written with this .bgen",
            )
        if header.has_sample_ids:
            self._check_ids(sample)
        table = read_bgen_variants(self.path, self._reader)
        first, second = table.pop("first"), table.pop("second")
        table["A1"], table["A2"] = (second, first) if ref == "ref-first" else (first, second)
        table = table[VARIANT_COLUMNS]
        check_variants(table, self.path, 1, ".bgen")
        self._file_rows = chromosome_rows(table, chrom, self.path)
        self.bim = (
            table if self._file_rows is None else table.iloc[self._file_rows].reset_index(drop=True)
        )

    def _check_ids(self, sample: str | Path) -> None:
        """IDs stored in the .bgen must be the .sample's, in its order: IID, or FID_IID
        as ``plink2 --export bgen-1.2`` joins them."""
        stored = np.asarray(self._reader.samples, dtype=object)
        iid = self.fam["IID"].to_numpy(dtype=object)
        joined = (self.fam["FID"] + "_" + self.fam["IID"]).to_numpy(dtype=object)
        bad = (stored != iid) & (stored != joined)
        if bad.any():
            k = int(np.argmax(bad))
            raise InputError(
                sample,
                f"sample {k + 1} is {self.fam['FID'].iat[k]} {iid[k]} but the .bgen stores "
                f"{stored[k]} there ({int(bad.sum())} samples differ)",
                "use the .sample written with this .bgen (the order must be the .bgen's)",
                f"line {k + 3}",
            )

    def read(
        self,
        variants: np.ndarray | slice | None = None,
        samples: np.ndarray | slice | None = None,
        dtype: str = "float32",
    ) -> np.ndarray:
        """Dosages of A1, samples x variants (Fortran order), NaN where missing; people
        in the order of ``samples`` (rows of :attr:`fam`, None = all)."""
        rows = variant_rows(variants, self.n_variants, self._file_rows)
        decoded, where = sample_order(samples, self.n_samples)
        everyone = decoded.size == self.n_samples
        out = np.empty((rows.size, decoded.size), dtype=float_dtype(dtype))
        for k, row in enumerate(rows):
            dosage = self._dosage(int(row))
            out[k] = dosage if everyone else dosage[decoded]
        if where is not None:
            out = out[:, where]
        return out.T

    def _dosage(self, row: int) -> np.ndarray:
        """A1 dosages of file variant ``row`` for every sample, on the 0..2 scale."""
        variant = self._reader[row]
        if variant.is_phased:
            raise InputError(
                self.path,
                f"variant {variant.rsid} is stored phased (haplotype probabilities)",
                "export unphased dosages (plink2 --bgen ... --export bgen-1.2 bits=8), "
                "or read the imputed (unphased) release",
                f"variant {row + 1}",
            )
        second = variant.alt_dosage  # expected count of the second allele (float32)
        ploidy = variant.ploidy
        if (ploidy == 2).all():
            return second if self.ref == "ref-first" else 2.0 - second
        if not np.isin(ploidy, (1, 2)).all():
            raise InputError(
                self.path,
                f"variant {variant.rsid} has ploidy {int(ploidy.max())}",
                "keep haploid and diploid samples only",
                f"variant {row + 1}",
            )
        scale = (2.0 / ploidy).astype(np.float32)
        counted = second if self.ref == "ref-first" else ploidy - second
        return counted * scale

    def close(self) -> None:
        self._reader.close()
