"""Genotypes.read_int8 against bed-reader and plink2, and fileset checks."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gemcont.errors import InputError
from gemcont.gwas.engines.builtin import run_builtin_gwas
from gemcont.gwas.settings import gwas_settings
from gemcont.io.bed_codes import MISSING_INT8
from gemcont.io.bim_lines import chromosome_lines
from gemcont.io.ids import KEY
from gemcont.io.plink import (
    Genotypes,
    bed_paths,
    check_bed_size,
    count_chromosomes,
    read_bim,
    read_bim_chromosome,
    write_bed,
)


def _fileset(prefix: Path, n: int, m: int, seed: int) -> np.ndarray:
    """Random A1 dosages (5% missing, variant 3 all missing) written as a fileset."""
    rng = np.random.default_rng(seed)
    g = rng.binomial(2, rng.uniform(0.05, 0.95, m), (n, m)).astype(np.float32)
    g[rng.random((n, m)) < 0.05] = np.nan
    g[:, 3] = np.nan
    fam = pd.DataFrame({"FID": [f"F{i}" for i in range(n)], "IID": [f"I{i}" for i in range(n)]})
    alleles = np.array([rng.choice(list("ACGT"), 2, replace=False) for _ in range(m)])
    bim = pd.DataFrame(
        {
            "CHR": "1",
            "ID": [f"v{j}" for j in range(m)],
            "CM": 0.0,
            "POS": 1 + np.arange(m) * 10,
            "A1": alleles[:, 0],
            "A2": alleles[:, 1],
        }
    )
    write_bed(prefix, g, fam, bim)
    return g


@pytest.mark.parametrize("n", [200, 203])  # with and without a partial last .bed byte
@pytest.mark.parametrize("threads", [1, 3])
def test_read_int8_equals_bed_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, n: int, threads: int
) -> None:
    monkeypatch.setattr("gemcont.io.plink.DECODE_CHUNK_BYTES", 200)  # several chunks
    g = _fileset(tmp_path / "g", n, 60, seed=n)
    rng = np.random.default_rng(threads)
    variant_sets = [
        np.arange(60),  # contiguous
        np.arange(10, 50),
        np.sort(rng.choice(60, 25, replace=False)),  # scattered, sorted
        rng.permutation(60)[:30],  # any order
        np.array([7, 7, 2, 59, 2]),  # duplicates
        np.array([], dtype=np.intp),
    ]
    sample_sets = [None, np.arange(0, n, 3), rng.permutation(n)[:50], np.array([n - 1])]
    with Genotypes(tmp_path / "g", threads=threads) as genotypes:
        for variants in variant_sets:
            for samples in sample_sets:
                ours = genotypes.read_int8(variants, samples)
                theirs = genotypes.read(variants, samples, dtype="int8")
                assert ours.dtype == np.int8 and ours.flags.f_contiguous
                np.testing.assert_array_equal(ours, theirs)
                rows = slice(None) if samples is None else samples
                expected = np.nan_to_num(g[rows][:, variants], nan=MISSING_INT8)
                np.testing.assert_array_equal(ours, expected)
        mask = np.zeros(n, dtype=bool)
        mask[[1, 4, 5]] = True
        np.testing.assert_array_equal(
            genotypes.read_int8(np.arange(5), mask), genotypes.read_int8(np.arange(5), [1, 4, 5])
        )


def test_read_int8_equals_plink2_export_allele(tmp_path: Path) -> None:
    """plink2 --export A counting the .bim A1 allele, as --export-allele names it."""
    _fileset(tmp_path / "g", 37, 12, seed=7)
    with Genotypes(tmp_path / "g") as genotypes:
        variants = np.array([11, 0, 3, 5, 4])
        ours = genotypes.read_int8(variants)
        bim = genotypes.bim.iloc[variants]
    (tmp_path / "ids.txt").write_text("\n".join(bim["ID"]) + "\n")
    bim[["ID", "A1"]].to_csv(tmp_path / "allele.txt", sep="\t", header=False, index=False)
    cmd = ["plink2", "--bfile", str(tmp_path / "g"), "--extract", str(tmp_path / "ids.txt")]
    cmd += ["--export", "A", "--export-allele", str(tmp_path / "allele.txt")]
    subprocess.run([*cmd, "--out", str(tmp_path / "x")], check=True, capture_output=True)
    raw = pd.read_csv(tmp_path / "x.raw", sep="\t")
    for col, (variant_id, a1) in enumerate(zip(bim["ID"], bim["A1"], strict=True)):
        expected = raw[f"{variant_id}_{a1}"].fillna(MISSING_INT8).to_numpy(dtype=np.int8)
        np.testing.assert_array_equal(ours[:, col], expected)
    assert (ours[:, 2] == MISSING_INT8).all()  # variant 3 is all missing


def test_read_int8_rejects_out_of_range(tmp_path: Path) -> None:
    _fileset(tmp_path / "g", 10, 5, seed=1)
    with Genotypes(tmp_path / "g") as genotypes:
        with pytest.raises(IndexError, match="variant index out of range"):
            genotypes.read_int8(np.array([0, 5]))
        with pytest.raises(IndexError, match="sample index out of range"):
            genotypes.read_int8(np.array([0]), np.array([-1]))


def test_truncated_bed_is_reported(tmp_path: Path) -> None:
    _fileset(tmp_path / "g", 10, 5, seed=2)
    bed = bed_paths(tmp_path / "g")["bed"]
    bed.write_bytes(bed.read_bytes()[:-3])
    with pytest.raises(InputError, match=r"size 15 bytes does not match 5 variants .* truncated"):
        Genotypes(tmp_path / "g")
    with pytest.raises(InputError, match="expected 18 bytes"):
        check_bed_size(tmp_path / "g", 10, 5)


def test_bad_magic_is_reported(tmp_path: Path) -> None:
    _fileset(tmp_path / "g", 10, 5, seed=3)
    bed = bed_paths(tmp_path / "g")["bed"]
    bed.write_bytes(b"\x6c\x1b\x00" + bed.read_bytes()[3:])
    with pytest.raises(InputError, match="not a variant-major PLINK 1 .bed"):
        Genotypes(tmp_path / "g")


@pytest.mark.parametrize("kind", ["bed", "bim", "fam"])
def test_missing_file_is_reported(tmp_path: Path, kind: str) -> None:
    _fileset(tmp_path / "g", 10, 5, seed=4)
    shutil.move(bed_paths(tmp_path / "g")[kind], tmp_path / "moved")
    with pytest.raises(InputError, match=rf"g\.{kind}: missing \.{kind} file"):
        Genotypes(tmp_path / "g")


def test_count_chromosomes__per_chromosome_in_file_order(tmp_path: Path) -> None:
    lines = [f"{c}\tv{j}\t0\t{j}\tA\tG" for j, c in enumerate(["10", "10", "2", "X", "2", "2"])]
    (tmp_path / "g.bim").write_text("\n".join(lines) + "\n")
    assert list(count_chromosomes(tmp_path / "g.bim").items()) == [("10", 2), ("2", 3), ("X", 1)]
    with pytest.raises(InputError, match="file not found"):
        count_chromosomes(tmp_path / "missing.bim")


# chromosome codes that are prefixes of one another, interleaved; space and tab
# separators; a blank line; Windows line ends on some lines; no final newline
AWKWARD_BIM = (
    "1\tv0\t0\t10\tA\tG\n"
    "10 v1 0 20 C T\n"
    "1_random\tv2\t0\t30\tA\tC\n"
    "\n"
    "1 \tv3\t0.5\t40\tG\tA\r\n"
    "X\tv4\t0\t50\tT\tC\r\n"
    "10\tv5\t0\t60\tA\tT\n"
    "1\tv6\t0\t70\tAC\tA"
)


@pytest.mark.parametrize("chunk", [1 << 26, 24])  # one piece; many (lines cut across)
@pytest.mark.parametrize("chrom", ["1", "10", "1_random", "X", "22"])
def test_read_bim_chromosome__equals_filtering_the_whole_bim(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int, chrom: str
) -> None:
    monkeypatch.setattr("gemcont.io.bim_lines.CHUNK_BYTES", chunk)
    path = tmp_path / "g.bim"
    path.write_bytes(AWKWARD_BIM.encode())
    whole = read_bim(path)
    want = np.flatnonzero(whole["CHR"].to_numpy() == chrom)
    bim, rows, n_rows = read_bim_chromosome(path, chrom)
    assert n_rows == len(whole) == 7
    np.testing.assert_array_equal(rows, want)
    pd.testing.assert_frame_equal(bim, whole.iloc[want].reset_index(drop=True), check_dtype=False)
    assert bim["POS"].dtype == np.int64 and (bim["CHR"] == chrom).all()


def test_read_bim_chromosome__leading_whitespace_parses_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "g.bim"
    path.write_text("1\tv0\t0\t10\tA\tG\n 2\tv1\t0\t20\tC\tT\n2\tv2\t0\t30\tA\tC\n")
    assert chromosome_lines(path, "2") is None
    bim, rows, n_rows = read_bim_chromosome(path, "2")
    assert list(bim["ID"]) == ["v1", "v2"] and list(rows) == [1, 2] and n_rows == 3


def test_genotypes_of_one_chromosome__read_the_same_dosages(tmp_path: Path) -> None:
    g = _fileset(tmp_path / "g", 41, 30, seed=5)
    bim_path = tmp_path / "g.bim"
    bim = read_bim(bim_path)
    bim["CHR"] = np.where(np.arange(30) % 3 == 0, "2", "1")  # chromosome 2 scattered
    bim.to_csv(bim_path, sep="\t", header=False, index=False)
    rows = np.flatnonzero(bim["CHR"] == "2")
    with Genotypes(tmp_path / "g") as whole, Genotypes(tmp_path / "g", chrom="2") as chr2:
        assert chr2.n_variants == rows.size and whole.n_variants == 30
        pd.testing.assert_frame_equal(chr2.bim, bim.iloc[rows].reset_index(drop=True))
        pick = np.array([5, 0, 3, 3])
        np.testing.assert_array_equal(chr2.read_int8(pick), whole.read_int8(rows[pick]))
        np.testing.assert_array_equal(chr2.read_packed(pick), whole.read_packed(rows[pick]))
        out = np.empty((3, chr2.bytes_per_variant), np.uint8)
        np.testing.assert_array_equal(
            chr2.read_packed(np.arange(2, 5), out), whole.read_packed(rows[2:5])
        )
        np.testing.assert_array_equal(chr2.read(pick), g[:, rows[pick]])
        np.testing.assert_array_equal(chr2.read(), g[:, rows])
        with pytest.raises(IndexError):
            chr2.read_int8(np.array([rows.size]))
    with pytest.raises(InputError, match="no variants on chromosome '3'"):
        pheno = whole.fam[KEY].assign(Y0=np.arange(41.0))
        run_builtin_gwas(
            str(tmp_path / "g"), pheno, None, gwas_settings({"device": "cpu"}), chrom="3"
        )
