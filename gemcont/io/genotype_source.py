"""Genotype sources behind one interface: PLINK 1 .bed, PLINK 2 .pgen, BGEN 1.2/1.3.

Every source offers what :class:`gemcont.io.plink.Genotypes` offers: ``bim``, the
variant table (``CHR ID POS A1 A2``, chromosome codes normalised by
:mod:`gemcont.io.chromosomes`, one row per variant, IDs unique), ``fam``, the sample
table keyed by ``FID IID`` (plus ``SEX`` where the file has it), and
``read(variants, samples, dtype)``: float dosages of the counted allele, samples x
variants, people in the order asked for, NaN where missing.

The counted allele is ``A1`` (:data:`gemcont.io.plink.COUNTED_ALLELE`) in every
format, and it is the allele ``plink2 --glm omit-ref`` reports as A1 for the same file
(the plink2 engine's flags), so one engine's EA is every engine's EA:

- ``.bed``: ``.bim`` column 5 (plink2 reads it as ALT); ``A2`` = column 6.
- ``.pgen``: ``.pvar`` ALT; ``A2`` = REF. (``plink2 --export A`` counts REF unless
  ``--export-allele`` names ALT; plain ``--glm`` counts the minor allele.)
- BGEN: ALT as ``plink2 --bgen`` names it under the REF/ALT mode given here:
  ``ref-first`` (the default; UK Biobank, and REGENIE's ``ALLELE1``) counts the
  second allele of each variant, ``ref-last`` the first. Haploid dosages (males on X
  in a BGEN plink2 wrote) are doubled to the 0..2 scale, as plink2 imports them.

Biallelic variants only: a multiallelic record (PGEN ALT with a comma, BGEN with more
than two alleles) stops with the plink2 command that splits it.

A path holding ``{chrom}`` names one file set per chromosome
(``ukb22828_c{chrom}_b0_v3.bgen``): :func:`chromosome_paths` lists those that exist.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol, Self, runtime_checkable

import numpy as np
import pandas as pd

from gemcont.errors import InputError
from gemcont.io.bed_codes import check_index
from gemcont.io.chromosomes import normalise

VARIANT_COLUMNS = ["CHR", "ID", "POS", "A1", "A2"]
CHROM = "{chrom}"
# normalised codes tried for a {chrom} pattern, in this order
PATTERN_CHROMOSOMES = (*(str(c) for c in range(1, 23)), "X", "Y", "XY", "MT")
BgenRef = Literal["ref-first", "ref-last"]


@runtime_checkable
class GenotypeSource(Protocol):
    """What every genotype reader offers (see the module docstring)."""

    bim: pd.DataFrame
    fam: pd.DataFrame

    @property
    def n_samples(self) -> int: ...

    @property
    def n_variants(self) -> int: ...

    def read(
        self,
        variants: np.ndarray | slice | None = None,
        samples: np.ndarray | slice | None = None,
        dtype: str = "float32",
    ) -> np.ndarray: ...

    def close(self) -> None: ...

    def __enter__(self) -> GenotypeSource: ...

    def __exit__(self, *exc: object) -> None: ...


class Reader:
    """What every reader shares once it has set ``bim`` and ``fam``: the counts and the
    context manager (``close`` is each format's own)."""

    bim: pd.DataFrame
    fam: pd.DataFrame

    @property
    def n_samples(self) -> int:
        return len(self.fam)

    @property
    def n_variants(self) -> int:
        return len(self.bim)

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_genotypes(
    path: str | Path,
    *,
    sample: str | Path | None = None,
    bgen_ref: BgenRef = "ref-first",
    chrom: str | None = None,
    threads: int | None = None,
) -> GenotypeSource:
    """The reader for ``path``: a ``.bgen`` (with its ``.sample``), a ``.pgen`` or
    PLINK 2 prefix (``.pgen`` beside it), else a PLINK 1 prefix. ``chrom``: only that
    chromosome's variants."""
    path = Path(path)
    if path.suffix == ".bgen":
        from gemcont.io.bgen import Bgen

        if sample is None:
            raise InputError(
                path, "a BGEN needs its .sample file", "name the .sample beside the .bgen"
            )
        return Bgen(path, sample, ref=bgen_ref, chrom=chrom)
    if path.suffix == ".pgen" or Path(f"{path}.pgen").exists():
        from gemcont.io.pgen import Pgen

        return Pgen(path, chrom=chrom)
    from gemcont.io.plink import Genotypes

    return Genotypes(path.with_suffix("") if path.suffix == ".bed" else path, threads, chrom)


def chromosome_paths(pattern: str | Path, primary: str = "") -> dict[str, Path]:
    """Chromosome code -> path of a ``{chrom}`` pattern, for the codes of
    :data:`PATTERN_CHROMOSOMES` whose file exists (``primary``: the suffix that makes
    the file, e.g. ``.pgen`` for a prefix). A path without ``{chrom}`` is refused."""
    pattern = str(pattern)
    if CHROM not in pattern:
        raise InputError(pattern, f"no {CHROM} in the path", f"write {CHROM} where the code goes")
    found = {
        code: Path(pattern.replace(CHROM, code))
        for code in PATTERN_CHROMOSOMES
        if Path(pattern.replace(CHROM, code) + primary).exists()
    }
    if not found:
        tried = ", ".join(PATTERN_CHROMOSOMES)
        raise InputError(
            pattern + primary,
            f"no file for any chromosome ({CHROM} = {tried})",
            "check the directory and the pattern (chromosomes are written 1..22, X, Y, XY, MT)",
        )
    return found


def normalise_chromosomes(
    chrom: pd.Series, path: str | Path, first_line: int, leading_zeros: bool = False
) -> pd.Series:
    """Normalised chromosome codes of a table whose row k is line ``first_line + k`` of
    ``path`` (each distinct code normalised once). ``leading_zeros``: ``01`` is ``1``
    (BGEN writers such as UK Biobank's pad the number)."""
    inverse, codes = pd.factorize(chrom)
    normalised = []
    for k, code in enumerate(codes):
        raw = code.lstrip("0") or "0" if leading_zeros and code.isdigit() else code
        try:
            normalised.append(normalise(raw))
        except ValueError as err:
            line = first_line + int(np.argmax(inverse == k))
            raise InputError(
                path,
                str(err),
                "rename the chromosome (plink2 --output-chr MT) or drop it (plink2 --not-chr)",
                f"line {line}",
            ) from err
    return pd.Series(np.asarray(normalised, dtype=object)[inverse], index=chrom.index, dtype=str)


def check_variants(table: pd.DataFrame, path: str | Path, first_line: int, what: str) -> None:
    """Refuse an empty table or a variant ID on two rows (row k = line ``first_line + k``)."""
    if table.empty:
        raise InputError(path, f"no variants in the {what}", "check the file set")
    dup = table["ID"].duplicated(keep=False).to_numpy()
    if dup.any():
        first = table["ID"].to_numpy()[dup][0]
        both = np.flatnonzero(table["ID"].to_numpy() == first)[:2] + first_line
        n_ids = table.loc[dup, "ID"].nunique()
        raise InputError(
            path,
            f"variant ID {first} on lines {both[0]} and {both[1]} "
            f"({n_ids} duplicated ID{'s' if n_ids > 1 else ''} in all)",
            "give every variant a unique ID (plink2 --set-all-var-ids '@:#:$r:$a' "
            "--new-id-max-allele-len 100 truncate, then --make-pgen)",
        )


def check_samples(fam: pd.DataFrame, path: str | Path, first_line: int) -> None:
    """Refuse an empty sample table or an IID on two rows (row k = line ``first_line + k``)."""
    if fam.empty:
        raise InputError(path, "no samples", "check the file set")
    dup = fam["IID"].duplicated(keep=False).to_numpy()
    if dup.any():
        first = fam["IID"].to_numpy()[dup][0]
        both = np.flatnonzero(fam["IID"].to_numpy() == first)[:2] + first_line
        raise InputError(
            path,
            f"IID {first} on lines {both[0]} and {both[1]}",
            "keep one sample per IID (plink2 --remove the duplicates)",
        )


def chromosome_rows(bim: pd.DataFrame, chrom: str | None, path: str | Path) -> np.ndarray | None:
    """Rows of ``bim`` on ``chrom`` (None: every row); refuses a chromosome with none."""
    if chrom is None:
        return None
    rows = np.flatnonzero(bim["CHR"].to_numpy() == normalise(str(chrom)))
    if rows.size == 0:
        raise InputError(
            path,
            f"no variants on chromosome '{chrom}'",
            "check the chromosome list in the config against the variant table",
        )
    return rows


def sample_order(
    samples: np.ndarray | slice | None, n_samples: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """The sorted distinct rows to decode for ``samples`` (rows of ``fam`` in the order
    asked for) and where each asked-for row sits among them (None: already in order)."""
    if samples is None:
        return np.arange(n_samples), None
    if isinstance(samples, slice):
        samples = np.arange(n_samples)[samples]
    asked = check_index(samples, n_samples, "sample")
    decoded, where = np.unique(asked, return_inverse=True)
    in_order = decoded.size == asked.size and bool(np.all(where == np.arange(asked.size)))
    return decoded, None if in_order else where


def variant_rows(
    variants: np.ndarray | slice | None, n_variants: int, file_rows: np.ndarray | None
) -> np.ndarray:
    """File rows of ``variants`` (rows of ``bim``, a slice, a mask or None = all)."""
    if variants is None:
        index = np.arange(n_variants)
    elif isinstance(variants, slice):
        index = np.arange(n_variants)[variants]
    else:
        index = check_index(variants, n_variants, "variant")
    return index if file_rows is None else file_rows[index]


def float_dtype(dtype: str | np.dtype) -> np.dtype:
    """``dtype`` when it is float32 or float64 (dosages are not whole numbers)."""
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dosages are read as float32 or float64, not {dtype}")
    return dtype


class ConcatenatedSource(Reader):
    """Several file sets of the same people read as one (a ``{chrom}`` file set: one per
    chromosome): ``bim`` their variant tables one after the other (row k of ``bim`` is a
    row of one part), ``fam`` the first part's, which every part must repeat."""

    def __init__(self, parts: list[GenotypeSource], names: list[str]) -> None:
        """``names``: each part's file, for errors."""
        if not parts:
            raise ValueError("no file sets to concatenate")
        self.parts = parts
        self.fam = parts[0].fam
        for part, name in zip(parts[1:], names[1:], strict=True):
            same = len(part.fam) == len(self.fam) and bool(
                np.all(part.fam[["FID", "IID"]].to_numpy() == self.fam[["FID", "IID"]].to_numpy())
            )
            if not same:
                raise InputError(
                    name,
                    f"its people (FID IID, in order) differ from those of {names[0]}",
                    "give every chromosome's file the same people in the same order "
                    "(one .sample / .psam for all)",
                )
        self.bim = pd.concat([p.bim for p in parts], ignore_index=True)
        # an ID on two chromosomes: the panel and features key variants by ID
        check_variants(self.bim, " + ".join(names), 1, "file sets (lines counted across them)")
        sizes = np.array([p.n_variants for p in parts])
        self._starts = np.concatenate([[0], np.cumsum(sizes)])

    def read(
        self,
        variants: np.ndarray | slice | None = None,
        samples: np.ndarray | slice | None = None,
        dtype: str = "float32",
    ) -> np.ndarray:
        """Dosages of A1 as each part reads them (``dtype`` passed on), samples x variants."""
        rows = variant_rows(variants, self.n_variants, None)
        part_of = np.searchsorted(self._starts, rows, side="right") - 1
        out: np.ndarray | None = None
        for k in np.unique(part_of):
            cols = np.flatnonzero(part_of == k)
            block = self.parts[k].read(rows[cols] - self._starts[k], samples, dtype)
            if out is None:
                out = np.empty((block.shape[0], rows.size), dtype=block.dtype, order="F")
            out[:, cols] = block
        if out is None:  # no variants asked for
            return self.parts[0].read(np.arange(0), samples, dtype)
        return out

    def close(self) -> None:
        for part in self.parts:
            part.close()


def has_dosages(source: GenotypeSource) -> bool:
    """Whether ``source`` holds dosages (PGEN, BGEN) rather than hard calls (.bed)."""
    from gemcont.io.plink import Genotypes

    if isinstance(source, ConcatenatedSource):
        return any(has_dosages(p) for p in source.parts)
    return not isinstance(source, Genotypes)
