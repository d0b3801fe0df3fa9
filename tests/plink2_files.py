"""Imputed test file sets written by plink2 itself, as users' files are."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd


def plink2(*args: str | Path) -> None:
    """Run plink2 and fail with its log on error."""
    done = subprocess.run(["plink2", *map(str, args)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def import_dosage(root: Path, psam: pd.DataFrame, rows: list[str], name: str) -> Path:
    """``root/name``.pgen/.pvar/.psam with dosages, made by ``plink2 --import-dosage`` from
    ``psam`` (``#FID IID SEX``) and ``rows``: tab-joined ``CHR POS SNP A1 A2`` then three
    genotype probabilities (or ``NA``) per person in ``psam`` order. Returns the prefix."""
    psam.to_csv(root / "people.psam", sep="\t", index=False)
    people = [x for iid in psam["IID"] for x in (iid, iid)]
    header = "\t".join(["CHR", "POS", "SNP", "A1", "A2", *people])
    (root / "probs.txt").write_text("\n".join([header, *rows]) + "\n")
    pgen = root / name
    plink2(
        *("--import-dosage", root / "probs.txt", "format=3", "skip0=2"),
        *("chr-col-num=1", "pos-col-num=2", "--psam", root / "people.psam"),
        *("--make-pgen", "--out", pgen),
    )
    return pgen
