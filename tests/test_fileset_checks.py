"""Genotype filesets checked when first read (issue 15): .bim columns, empty files,
duplicate variant IDs and IIDs, chromosome codes as plink2 writes them."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from gemcont.errors import InputError
from gemcont.io.chromosomes import CHROM_PATTERN, normalise, spellings
from gemcont.io.plink import (
    Genotypes,
    count_chromosomes,
    read_bim,
    read_bim_chromosome,
    read_fam,
    write_bed,
)

from .test_workflow import snakemake

# plink2 --make-bed writes X, Y, XY and MT (its default --output-chr MT), tab-separated
PLINK2_BIM = (
    "1\trs1\t0\t100\tA\tG\n"
    "1\trs2\t0\t200\tC\tT\n"
    "X\trs3\t0\t300\tA\tC\n"
    "XY\trs4\t0\t400\tG\tA\n"
    "MT\trs5\t0\t500\tT\tC\n"
    "MT\trs6\t0\t600\tA\tG\n"
)
UCSC_BIM = "chr1\trs1\t0\t100\tA\tG\nchrX\trs2\t0\t200\tC\tT\nchrM\trs3\t0\t300\tA\tC\n"
PLINK1_BIM = (
    "1\trs1\t0\t100\tA\tG\n23\trs2\t0\t200\tC\tT\n25\trs3\t0\t250\tC\tT\n26\trs4\t0\t300\tA\tC\n"
)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_plink2_mt_and_ucsc_chr_codes_are_normalised(tmp_path: Path) -> None:
    plink2 = _write(tmp_path / "plink2.bim", PLINK2_BIM)
    assert list(read_bim(plink2)["CHR"]) == ["1", "1", "X", "XY", "MT", "MT"]
    assert count_chromosomes(plink2) == {"1": 2, "X": 1, "XY": 1, "MT": 2}
    bim, rows, n_rows = read_bim_chromosome(plink2, "MT")
    assert list(bim["ID"]) == ["rs5", "rs6"] and list(rows) == [4, 5] and n_rows == 6
    ucsc = _write(tmp_path / "ucsc.bim", UCSC_BIM)
    assert list(read_bim(ucsc)["CHR"]) == ["1", "X", "MT"]
    assert list(read_bim_chromosome(ucsc, "1")[0]["ID"]) == ["rs1"]
    assert list(read_bim_chromosome(ucsc, "MT")[0]["ID"]) == ["rs3"]
    plink1 = _write(tmp_path / "plink1.bim", PLINK1_BIM)
    assert count_chromosomes(plink1) == {"1": 1, "X": 1, "XY": 1, "MT": 1}
    assert list(read_bim_chromosome(plink1, "X")[0]["ID"]) == ["rs2"]


@pytest.mark.parametrize(
    "code", ["1", "chr1", "22", "X", "chrX", "23", "Y", "24", "XY", "25", "MT", "M", "chrM", "26"]
)
def test_every_normalised_code_is_a_chrom_wildcard_and_spelled_back(code: str) -> None:
    chrom = normalise(code)
    assert re.fullmatch(CHROM_PATTERN, chrom)
    assert code in spellings(chrom)


def test_chr_codes_and_mt_build_the_dag_in_real_data_mode(tmp_path: Path) -> None:
    """The {chrom} wildcard takes what the normaliser gives: chr1 and MT used to end in a
    MissingInputException."""
    fam = pd.DataFrame({"FID": ["1", "2", "3"], "IID": ["1", "2", "3"]})
    bim = pd.DataFrame(
        {
            "CHR": ["chr1", "chr1", "MT"],
            "ID": ["rs1", "rs2", "rs3"],
            "CM": 0.0,
            "POS": [100, 200, 300],
            "A1": ["A", "C", "A"],
            "A2": ["G", "T", "C"],
        }
    )
    write_bed(tmp_path / "data" / "cohort", np.zeros((3, 3), np.float32), fam, bim)
    # the inputs the resource requests are sized from when the DAG is planned
    manifest = tmp_path / "data" / "manifest.tsv"
    manifest.write_text("IID\teye\tpath\n1\tleft\t1_left.png\n")
    sumstats = tmp_path / "data" / "sumstats.tsv"
    sumstats.write_text("SNP\tA1\tA2\tBETA\tSE\tP\nrs1\tA\tG\t0.1\t0.01\t1e-8\n")
    config = tmp_path / "real.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "simulate": {"enabled": False},
                "data": {
                    "bfile": str(tmp_path / "data" / "cohort"),
                    "fundus_manifest": str(manifest),
                    "sumstats": str(sumstats),
                },
                # the demo's GWAS reads its simulated BGEN; real data mode scans the .bed
                "gwas": {"genotypes": {"path": None}},
                "methods": ["gemcont"],
                "splits": {"n_splits": 1},
            }
        )
    )
    result = snakemake("-n", "--cores", "1", "--directory", str(tmp_path), configs=(config,))
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    assert "chr/1.multi.tsv.gz" in out and "chr/MT.multi.tsv.gz" in out


def test_five_column_bim_is_refused_naming_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "g.bim", "1\trs1\t0\t100\tA\tG\n1\trs2\t100\tC\tT\n")
    with pytest.raises(InputError) as err:
        read_bim(path)
    assert str(err.value) == (
        f"{path}: line 2: 5 columns, not 6: not a .bim file. Fix: regenerate it with plink "
        "--make-bed (a .bim has 6 columns: CHR ID CM POS A1 A2)"
    )


@pytest.mark.parametrize(
    ("bad_line", "text", "reason"),
    [
        (5, "2\trs4\t0\t400\tA\tG\t7\n", "7 columns, not 6"),  # pandas refuses it
        (2, "2\trs2\t0\t200\tC\tT\t7\t8\n", "8 columns, not 6"),  # the first parsed
    ],
)
def test_a_line_with_seven_fields_is_named_by_its_line_in_the_file(
    tmp_path: Path, bad_line: int, text: str, reason: str
) -> None:
    """read_bim_chromosome parses only chromosome 2's lines, yet names the file's line."""
    lines = [
        "1\trs1\t0\t100\tA\tG\n",
        "2\trs2\t0\t200\tC\tT\n",
        "\n",
        "1\trs3\t0\t300\tA\tC\n",
        "2\trs4\t0\t400\tA\tG\n",
    ]
    lines[bad_line - 1] = text
    path = _write(tmp_path / "g.bim", "".join(lines))
    for read in (lambda: read_bim(path), lambda: read_bim_chromosome(path, "2")):
        with pytest.raises(InputError) as err:
            read()
        assert str(err.value) == (
            f"{path}: line {bad_line}: {reason}: not a .bim file. Fix: regenerate it with "
            "plink --make-bed (a .bim has 6 columns: CHR ID CM POS A1 A2)"
        )


@pytest.mark.parametrize(("name", "reader"), [("g.bim", read_bim), ("g.fam", read_fam)])
def test_empty_bim_and_fam_are_named_by_path(tmp_path: Path, name: str, reader) -> None:
    path = _write(tmp_path / name, "")
    what = "variants" if name.endswith("bim") else "samples"
    with pytest.raises(InputError) as err:
        reader(path)
    assert str(err.value) == (
        f"{path}: empty file (no {what}). Fix: regenerate it with plink --make-bed"
    )
    if name.endswith("bim"):
        with pytest.raises(InputError) as chrom_err:
            read_bim_chromosome(path, "1")
        assert str(chrom_err.value) == str(err.value)
        with pytest.raises(InputError, match=re.escape(f"{path}: empty file")):
            count_chromosomes(path)


def test_duplicated_variant_id_names_the_id_and_both_lines(tmp_path: Path) -> None:
    """Before: the ID went twice into panel.tsv (the second copy with P = 0.96)."""
    path = _write(
        tmp_path / "g.bim",
        "1\trs1\t0\t100\tA\tG\n1\trs7\t0\t200\tC\tT\n1\trs3\t0\t300\tA\tC\n2\trs7\t0\t50\tG\tA\n",
    )
    expected = (
        f"{path}: variant ID rs7 on lines 2 and 4 (1 duplicated ID in all). Fix: give every "
        "variant a unique ID (plink2 --set-all-var-ids '@:#:$r:$a') or remove the duplicates "
        "(plink2 --rm-dup exclude-all)"
    )
    with pytest.raises(InputError) as err:
        read_bim(path)
    assert str(err.value) == expected


def test_duplicated_iid_in_the_fam_is_named_against_the_fam(tmp_path: Path) -> None:
    """Before: reported only after the PCs, against our own pcs.tsv."""
    fam = _write(
        tmp_path / "ukb.fam",
        "1000001 1000001 0 0 1 -9\n1000002 1000002 0 0 2 -9\n9 1000001 0 0 1 -9\n",
    )
    expected = (
        f"{fam}: IID 1000001 on lines 1 and 3 (1 duplicated IID in all). Fix: keep one "
        "sample per IID (plink2 --remove the duplicates, or give them distinct IIDs)"
    )
    with pytest.raises(InputError) as err:
        read_fam(fam)
    assert str(err.value) == expected
    # the PCs and the panel open the fileset through Genotypes: the same error, first
    (tmp_path / "ukb.bim").write_text("1\trs1\t0\t100\tA\tG\n")
    (tmp_path / "ukb.bed").write_bytes(b"\x6c\x1b\x01\x00")
    with pytest.raises(InputError) as err:
        Genotypes(tmp_path / "ukb")
    assert str(err.value) == expected
