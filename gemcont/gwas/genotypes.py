"""The genotypes the GWAS scans (``gwas.genotypes``): which file set, in which format,
per chromosome, and how each engine is told to read it.

The format follows the configured path: ``.bgen`` (with its ``.sample``; a bgenix
``.bgen.bgi`` beside it is used by the reader and REGENIE), ``.pgen`` (a PLINK 2 file
set), anything else a PLINK 1 prefix (or its ``.bed``). ``{chrom}`` in the path (and
in the ``.sample``) names one file set per chromosome. ``None`` scans ``data.bfile``.

Every engine counts the same allele (``A1`` of :mod:`gemcont.io.genotype_source`):
the built-in engine reads it from the :class:`~gemcont.io.genotype_source.GenotypeSource`;
``plink2 --glm omit-ref`` reports ALT (.bim column 5, .pvar ALT, BGEN ALT under the
``bgen_ref`` mode passed to ``--bgen``); REGENIE's ALLELE1 is .bim column 5, .pvar ALT,
and for BGEN the first allele unless ``--ref-first`` (then the second), so ``ref-first``
is passed for ``bgen_ref: ref-first`` (checked on REGENIE v4.1.2's own BGEN output:
``../shared/fixtures/regenie/step2_bgen``).

Variants are addressed by their row in the file set, never by ID: a scan, its chunks
and the engines' effect-allele check (ID, POS and allele together) would work with
duplicated IDs (UK Biobank's split multiallelic sites repeat an rsid). The readers
still refuse them (:func:`gemcont.io.genotype_source.check_variants`), because the
loci (clumping by ID), panel recovery and the sumstats' users key variants by ID; the
refusal names the fix, IDs made unique before the workflow (``plink2 --set-all-var-ids
'@:#:$r:$a'``). A rule the readers could apply instead, not adopted without a decision:
keep the rsid where it is unique and write ``rsid:POS:REF:ALT`` for each of the rows
sharing one (stable, and still greppable by rsid).
"""

from __future__ import annotations

import sqlite3
import struct
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import pandas as pd

from gemcont.errors import ConfigError, InputError
from gemcont.io.genotype_source import (
    CHROM,
    BgenRef,
    ConcatenatedSource,
    GenotypeSource,
    chromosome_paths,
    normalise_chromosomes,
    open_genotypes,
)
from gemcont.io.mfi import mfi_info
from gemcont.io.plink import Genotypes, count_chromosomes, read_bim_chromosome

Format = Literal["bed", "pgen", "bgen"]


def genotype_format(path: str) -> Format:
    """The format a configured path names (see the module docstring)."""
    if path.endswith(".bgen"):
        return "bgen"
    if path.endswith(".pgen"):
        return "pgen"
    return "bed"


class FileSetSettings(Protocol):
    """The keys naming a genotype file set, shared by ``gwas.genotypes``
    (:class:`~gemcont.gwas.settings.GenotypeSettings`) and ``data.panel_genotypes``."""

    path: str | None
    sample: str | None
    bgen_ref: str


@dataclass(frozen=True)
class GwasGenotypes:
    """One GWAS genotype file set (``path``: a PLINK 1 prefix, a .pgen or a .bgen; may
    hold ``{chrom}``)."""

    path: str
    format: Format
    sample: str | None = None  # BGEN .sample
    bgen_ref: BgenRef = "ref-first"

    @classmethod
    def configured(cls, settings: FileSetSettings, bfile: str) -> GwasGenotypes:
        """``gwas.genotypes`` or ``data.panel_genotypes`` (path None: the PLINK 1
        ``data.bfile``)."""
        if settings.path is None:
            return cls.plink1(bfile)
        fmt = genotype_format(settings.path)
        path = settings.path.removesuffix(".bed") if fmt == "bed" else settings.path
        sample = None
        if fmt == "bgen":
            sample = settings.sample or settings.path.removesuffix(".bgen") + ".sample"
        return cls(path, fmt, sample, settings.bgen_ref)  # type: ignore[arg-type]

    @classmethod
    def plink1(cls, prefix: str | Path) -> GwasGenotypes:
        return cls(str(prefix), "bed")

    @property
    def per_chromosome(self) -> bool:
        return CHROM in self.path

    def for_chromosome(self, chrom: str) -> GwasGenotypes:
        """The file set holding ``chrom`` (``{chrom}`` filled in; else itself)."""
        fill = str(chrom)
        sample = None if self.sample is None else self.sample.replace(CHROM, fill)
        return replace(self, path=self.path.replace(CHROM, fill), sample=sample)

    @property
    def people_file(self) -> str:
        """The file listing the people: the .fam, .psam or BGEN .sample."""
        if self.format == "bed":
            return f"{self.path}.fam"
        if self.format == "pgen":
            return self.path.removesuffix(".pgen") + ".psam"
        return str(self.sample)

    def files(self, chrom: str) -> list[str]:
        """The files a scan of ``chrom`` reads (the rule's inputs); a BGEN's .bgi where
        it exists."""
        one = self.for_chromosome(chrom)
        if one.format == "bed":
            return [f"{one.path}.bed", f"{one.path}.bim", one.people_file]
        if one.format == "pgen":
            prefix = one.path.removesuffix(".pgen")
            return [one.path, f"{prefix}.pvar", one.people_file]
        bgi = f"{one.path}.bgi"
        return [one.path, one.people_file, *([bgi] if Path(bgi).exists() else [])]

    def open(self, chrom: str | None = None, threads: int | None = None) -> GenotypeSource:
        """The reader of ``chrom``'s variants (None: every variant of a single file set)."""
        if chrom is None and self.per_chromosome:
            raise ValueError(f"{self.path}: name the chromosome of a {CHROM} file set")
        one = self if chrom is None else self.for_chromosome(chrom)
        if one.format == "bed":  # not open_genotypes: a .pgen beside would win there
            return Genotypes(one.path, threads, chrom)
        return open_genotypes(one.path, sample=one.sample, bgen_ref=one.bgen_ref, chrom=chrom)

    def open_all(self, threads: int | None = None) -> GenotypeSource:
        """The reader of every variant: the file set, or a ``{chrom}`` file set's
        chromosomes one after the other (those with a file, in
        :data:`~gemcont.io.genotype_source.PATTERN_CHROMOSOMES` order) as one source."""
        if not self.per_chromosome:
            return self.open(None, threads)
        codes = list(chromosome_paths(self.path, ".bed" if self.format == "bed" else ""))
        parts: list[GenotypeSource] = []
        try:
            for code in codes:
                parts.append(self.for_chromosome(code).open(None, threads))
            names = [self.files(code)[0] for code in codes]
            return ConcatenatedSource(parts, names)
        except BaseException:
            for part in parts:
                part.close()
            raise

    def variants(self, chrom: str) -> pd.DataFrame:
        """``chrom``'s variant table (``CHR ID POS A1 A2``) in file order."""
        if self.format == "bed":
            return read_bim_chromosome(f"{self.for_chromosome(chrom).path}.bim", chrom)[0]
        with self.open(chrom) as source:
            return source.bim

    def variant_counts(self, chromosomes: list[str] | None = None) -> dict[str, int]:
        """Variants per chromosome, cheaply: the .bim or .pvar's first column, a BGEN's
        .bgi or, for a {chrom} BGEN without one, its header. ``chromosomes``: those
        (needed for a {chrom} path); None: every chromosome of the file set."""
        if not self.per_chromosome:
            counts = self._counts(self, None)
            return counts if chromosomes is None else {c: counts.get(c, 0) for c in chromosomes}
        if chromosomes is None:
            raise ValueError(f"{self.path}: name the chromosomes of a {CHROM} file set")
        return {c: self._counts(self.for_chromosome(c), c).get(c, 0) for c in chromosomes}

    @staticmethod
    def _counts(one: GwasGenotypes, chrom: str | None) -> dict[str, int]:
        """Variants per chromosome of one file set (``chrom``: the only one it holds)."""
        if one.format == "bed":
            return count_chromosomes(f"{one.path}.bim")
        if one.format == "bgen" and Path(f"{one.path}.bgi").exists():
            with sqlite3.connect(f"file:{one.path}.bgi?mode=ro", uri=True) as connection:
                rows = connection.execute(
                    "SELECT chromosome, count(*) FROM Variant GROUP BY chromosome"
                ).fetchall()
            codes = pd.Series([str(c) for c, _ in rows])
            names = normalise_chromosomes(codes, f"{one.path}.bgi", 1, leading_zeros=True)
            return dict(zip(names, (int(n) for _, n in rows), strict=True))
        if one.format == "bgen" and chrom is not None:  # M, after the offset and LH
            with open(one.path, "rb") as handle:
                header = handle.read(12)
            return {chrom: struct.unpack_from("<I", header, 8)[0]}
        with one.open(chrom) as source:
            counts = source.bim["CHR"].value_counts(sort=False)
            return {str(c): int(n) for c, n in counts.items()}

    def plink2_flags(self, chrom: str | None) -> list[str]:
        """How plink2 reads ``chrom``'s file set (None: a single file set)."""
        one = self if chrom is None else self.for_chromosome(chrom)
        if one.format == "bed":
            return ["--bfile", one.path]
        if one.format == "pgen":
            return ["--pfile", one.path.removesuffix(".pgen")]
        return ["--bgen", one.path, one.bgen_ref, "--sample", str(one.sample)]

    def regenie_flags(self, chrom: str | None) -> list[str]:
        """How REGENIE reads ``chrom``'s file set (step 2; None: a single file set)."""
        one = self if chrom is None else self.for_chromosome(chrom)
        if one.format == "bed":
            return ["--bed", one.path]
        if one.format == "pgen":
            return ["--pgen", one.path.removesuffix(".pgen")]
        flags = ["--bgen", one.path, "--sample", str(one.sample)]
        if Path(f"{one.path}.bgi").exists():
            flags += ["--bgi", f"{one.path}.bgi"]
        return [*flags, *(["--ref-first"] if one.bgen_ref == "ref-first" else [])]


def info_filtered(fmt: str, chrom: str) -> bool:
    """Whether gwas.min_info (MaCH r²) applies to chromosome ``chrom`` of a file set of
    format ``fmt``, for every engine: dosages (of hard calls MaCH r² measures the
    departure from Hardy-Weinberg proportions) on autosomes (numeric codes; plink2
    computes no MaCH r² on chrX, Y, XY or MT either)."""
    return fmt != "bed" and str(chrom).isdigit()


def mfi_path(mfi: str | None, min_info: float, chrom: str) -> str | None:
    """``chrom``'s mfi file (``gwas.genotypes.mfi``), None when not read (no file, or
    ``gwas.min_info`` 0); ConfigError for a path without {chrom} (the files have no
    chromosome column)."""
    if mfi is None or min_info <= 0:
        return None
    if CHROM not in mfi:
        raise ConfigError(
            "gwas.genotypes.mfi",
            f"{mfi} has no {CHROM}: name one file per chromosome "
            "(e.g. /ukb/imp/ukb_mfi_chr{chrom}_v3.txt)",
        )
    return mfi.replace(CHROM, str(chrom))


def mfi_low_info(mfi: str | None, min_info: float, variants: pd.DataFrame) -> bool | np.ndarray:
    """The rows of ``variants`` (``CHR POS ID A1 A2``) whose INFO in their chromosome's
    mfi file is below ``min_info`` (a mask; NA INFO passes); False when no mfi is read."""
    if mfi_path(mfi, min_info, "") is None or len(variants) == 0:
        return False
    low = np.zeros(len(variants), dtype=bool)
    for chrom, rows in variants.groupby("CHR", sort=False, observed=True).indices.items():
        info = mfi_info(variants.iloc[rows], str(mfi_path(mfi, min_info, str(chrom))))
        low[rows] = info < min_info
    return low


def as_genotypes(genotypes: str | Path | GwasGenotypes) -> GwasGenotypes:
    """``genotypes`` itself, or a PLINK 1 prefix as :class:`GwasGenotypes`."""
    return genotypes if isinstance(genotypes, GwasGenotypes) else GwasGenotypes.plink1(genotypes)


def chunk_rows(n_variants: int, chunk_variants: int) -> list[np.ndarray]:
    """Rows of each chunk of a chromosome of ``n_variants`` (``chunk_variants`` 0: one
    chunk); consecutive, in file order, every chunk but the last full."""
    size = chunk_variants or max(n_variants, 1)
    return [np.arange(lo, min(lo + size, n_variants)) for lo in range(0, n_variants, size)]


def n_chunks(n_variants: int, chunk_variants: int) -> int:
    """How many chunks :func:`chunk_rows` makes (one at least, for an empty chromosome)."""
    return max(1, -(-n_variants // chunk_variants)) if chunk_variants else 1


@dataclass(frozen=True)
class Chunk:
    """One scan job's chunk: its index and the number of chunks the workflow planned for
    the chromosome (from the variants it counted, or the simulation's nominal count)."""

    index: int
    planned: int


def checked_chunk(n_variants: int, chunk_variants: int, chunk: Chunk, path: str) -> np.ndarray:
    """Rows of ``chunk``, refusing a chromosome whose variants make another number of
    chunks than planned: the merge of the planned chunks would miss its tail variants (or
    a chunk past its end would be empty)."""
    chunks = chunk_rows(n_variants, chunk_variants) or [np.arange(0)]
    if len(chunks) != chunk.planned or not 0 <= chunk.index < len(chunks):
        raise InputError(
            path,
            f"has {n_variants} variants on this chromosome, {len(chunks)} chunks of "
            f"{chunk_variants} variants, but the workflow planned {chunk.planned} chunks "
            f"(this job: chunk {chunk.index})",
            "the genotypes changed since the jobs were planned: rerun snakemake",
        )
    return chunks[chunk.index]
