"""UK Biobank marker information (``ukb_mfi_chr{chrom}_v3.txt``): the imputation INFO of
each variant of one chromosome's BGEN, as the release computed it over all its people.

The layout: tab-separated, no header, one line per BGEN variant in BGEN order, eight
columns - alternate ID, rsid, position, allele 1, allele 2 (the BGEN's first and second
allele), MAF, minor allele, INFO; ``NA`` where a value is missing (INFO of some
monomorphic variants). No chromosome column: one file per chromosome.

Variants are matched to the scanned file set by position and alleles (the unordered
pair: which one is counted is the readers' business, :mod:`gemcont.io.genotype_source`),
never by rsid alone (UK Biobank repeats rsids at split multiallelic sites); lines with
the same position and alleles are paired in file order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gemcont.errors import InputError

MFI_COLUMNS = ["ALT_ID", "RSID", "POS", "ALLELE1", "ALLELE2", "MAF", "MINOR", "INFO"]
FIX = (
    "give the mfi files of the same imputation release as gwas.genotypes.path "
    "(UK Biobank: ukb_mfi_chr{chrom}_v3.txt), or set gwas.genotypes.mfi to null"
)


def read_mfi(path: str | Path) -> pd.DataFrame:
    """One chromosome's mfi file as ``POS ALLELE1 ALLELE2 INFO`` (INFO NaN where NA)."""
    try:
        raw = pd.read_csv(
            path,
            sep="\t",
            header=None,
            usecols=[2, 3, 4, 7],
            names=MFI_COLUMNS,
            dtype={"POS": np.int64, "ALLELE1": str, "ALLELE2": str, "INFO": np.float64},
            na_values=["NA"],
            keep_default_na=False,
        )
    except (ValueError, pd.errors.ParserError) as err:
        reason = f"not a UK Biobank mfi file (8 tab-separated columns): {err}"
        raise InputError(path, reason, FIX) from err
    if raw[["POS", "ALLELE1", "ALLELE2"]].isna().any(axis=None):
        raise InputError(path, "a line lacks its position or alleles", FIX)
    return raw[["POS", "ALLELE1", "ALLELE2", "INFO"]]


def _keys(pos: pd.Series, a: pd.Series, b: pd.Series) -> pd.MultiIndex:
    """(position, smaller allele, larger allele, occurrence of that triple so far)."""
    a, b = a.astype(str).to_numpy(), b.astype(str).to_numpy()
    frame = pd.DataFrame(
        {"POS": pos.to_numpy(np.int64), "LO": np.minimum(a, b), "HI": np.maximum(a, b)}
    )
    frame["K"] = frame.groupby(["POS", "LO", "HI"], sort=False).cumcount()
    return pd.MultiIndex.from_frame(frame)


def mfi_info(variants: pd.DataFrame, path: str | Path) -> np.ndarray:
    """The mfi INFO of each row of ``variants`` (``CHR POS ID A1 A2``, one chromosome's
    scanned variants); InputError naming the first variants the file lacks."""
    mfi = read_mfi(path)
    ours = _keys(variants["POS"], variants["A1"], variants["A2"])
    where = _keys(mfi["POS"], mfi["ALLELE1"], mfi["ALLELE2"]).get_indexer(ours)
    absent = np.flatnonzero(where < 0)
    if absent.size:
        rows = variants.iloc[absent[:5]]
        named = ", ".join(
            f"{r.ID} ({r.CHR}:{r.POS} {r.A1}/{r.A2})" for r in rows.itertuples(index=False)
        )
        raise InputError(
            path,
            f"{absent.size} of {len(variants)} scanned variants have no line (matched by "
            f"position and alleles), e.g. {named}",
            FIX,
        )
    return mfi["INFO"].to_numpy()[where]
