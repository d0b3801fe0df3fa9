"""PGEN and BGEN dosage readers against plink2 itself (issue 17, Must show 1).

The test set is made by plink2 as a user's would be: dosages imported with
``--import-dosage`` into a .pgen (chromosomes 1, 2, 22, X; males on X; missing
genotypes; UK Biobank-style numeric IDs and withdrawn negative IDs), then exported as
BGEN 1.2 8-bit with ``ref-first`` and with plink2's default REF-last order, people
shuffled (``--indiv-sort f``). The reference dosages are ``plink2 --export A`` of the
same files, counting ALT (``--export-allele``).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from bgen import BgenReader

from gemcont.errors import InputError
from gemcont.io.bgen import Bgen, read_sample
from gemcont.io.genotype_source import GenotypeSource, chromosome_paths, open_genotypes
from gemcont.io.pgen import Pgen, read_pvar
from gemcont.io.plink import Genotypes

from .plink2_files import import_dosage, plink2

CHROMS = {"1": 7, "2": 5, "22": 5, "X": 7}
N = 48
GRID = 16  # probabilities on a 1/16 grid: PGEN stores them exactly, --export A prints them exactly


def export_a(input_args: list[str | Path], alt: Path, out: Path) -> pd.DataFrame:
    """``plink2 --export A`` counting the ALT alleles named in ``alt``: IID x variant ID."""
    plink2(*input_args, "--export", "A", "--export-allele", alt, "--out", out)
    raw = pd.read_csv(f"{out}.raw", sep="\t", dtype={"FID": str, "IID": str}, na_values="NA")
    counted = raw.columns[6:]
    ids = [c.rsplit("_", 1)[0] for c in counted]
    alleles = [c.rsplit("_", 1)[1] for c in counted]
    table = raw[counted].set_axis(ids, axis=1).set_axis(raw["IID"].to_numpy(), axis=0)
    table.attrs["alleles"] = dict(zip(ids, alleles, strict=True))
    return table.astype(np.float64)


@pytest.fixture(scope="module")
def fileset(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The PGEN, both BGENs, per-chromosome BGENs and the reference tables."""
    root = tmp_path_factory.mktemp("dosage")
    rng = np.random.default_rng(17)
    iids = [str(1000001 + k) for k in range(N - 2)] + ["-1", "-2"]  # withdrawn: negative
    psam = pd.DataFrame({"#FID": iids, "IID": iids, "SEX": [1 + k % 2 for k in range(N)]})
    lines = []
    k = 0
    for chrom, m in CHROMS.items():
        for j in range(m):
            probs = rng.multinomial(GRID, rng.dirichlet([0.6, 0.6, 0.6]), size=N) / GRID
            values = [f"{p:g}" for p in probs.reshape(-1)]
            for person in np.flatnonzero(rng.random(N) < 0.08):  # missing genotypes
                values[3 * person : 3 * person + 3] = ["NA"] * 3
            alleles = rng.choice(["A", "C", "G", "T"], 2, replace=False)
            pos = 10_000 + 1000 * j
            lines.append("\t".join([chrom, str(pos), f"rs{k}", *alleles, *values]))
            k += 1
    pgen = import_dosage(root, psam, lines, "cohort")
    pvar = pd.read_csv(f"{pgen}.pvar", sep="\t")
    alt = root / "alt.txt"
    pvar[["ID", "ALT"]].to_csv(alt, sep="\t", header=False, index=False)
    order = rng.permutation(N)
    shuffled = root / "shuffled.txt"
    psam.iloc[order][["#FID", "IID"]].to_csv(shuffled, sep="\t", header=False, index=False)
    paths = {"root": root, "pgen": pgen, "alt": alt}
    reordered = root / "shuffled"  # --indiv-sort works on --make-pgen only
    plink2("--pfile", pgen, "--indiv-sort", "f", shuffled, "--make-pgen", "--out", reordered)
    for name, mode in (("first", ["ref-first"]), ("last", [])):
        out = root / f"ref_{name}"
        plink2("--pfile", reordered, "--export", "bgen-1.2", "bits=8", *mode, "--out", out)
        paths[name] = out
        for chrom in CHROMS:  # one file per chromosome, UK Biobank's names
            per = root / f"ukb22828_c{chrom}_b0_v3_{name}"
            plink2(
                "--pfile",
                reordered,
                "--chr",
                chrom,
                "--export",
                "bgen-1.2",
                "bits=8",
                *mode,
                "--out",
                per,
            )
    return paths


def test_pgen_dosages_equal_plink2_export_a_exactly(fileset: dict[str, Path]) -> None:
    expected = export_a(["--pfile", fileset["pgen"]], fileset["alt"], fileset["root"] / "pa")
    with Pgen(fileset["pgen"]) as pgen:
        assert isinstance(pgen, GenotypeSource)
        assert pgen.bim["CHR"].unique().tolist() == list(CHROMS)
        # A1 is the allele --export A counted with --export-allele ALT
        assert pgen.bim["A1"].tolist() == [expected.attrs["alleles"][v] for v in pgen.bim["ID"]]
        got = pgen.read(dtype="float64")
    reference = expected.loc[pgen.fam["IID"], pgen.bim["ID"]].to_numpy()
    assert np.isnan(reference).sum() > 20  # missing genotypes are in the test set
    np.testing.assert_array_equal(got, reference)  # NaN where missing, else equal


def test_pgen_reads_people_in_the_order_asked(fileset: dict[str, Path]) -> None:
    with Pgen(fileset["pgen"]) as pgen:
        everyone = pgen.read(dtype="float64")
        asked = np.array([40, 3, 3, 17, 0])
        columns = np.array([20, 1, 10])
        np.testing.assert_array_equal(pgen.read(columns, asked), everyone[asked][:, columns])
        np.testing.assert_array_equal(pgen.read(None, None), everyone.astype(np.float32))


@pytest.mark.parametrize(("name", "mode"), [("first", "ref-first"), ("last", "ref-last")])
def test_bgen_dosages_equal_plink2_export_a(fileset: dict[str, Path], name: str, mode: str) -> None:
    """8-bit BGEN to 1/255, people asked for in .psam order while the .sample is shuffled."""
    bgen, sample = f"{fileset[name]}.bgen", f"{fileset[name]}.sample"
    out = fileset["root"] / f"ba_{name}"
    expected = export_a(["--bgen", bgen, mode, "--sample", sample], fileset["alt"], out)
    psam = pd.read_csv(f"{fileset['pgen']}.psam", sep="\t", dtype=str)
    pvar = read_pvar(f"{fileset['pgen']}.pvar")
    with Bgen(bgen, sample, ref=mode) as reader:
        assert reader.fam["IID"].tolist() != psam["IID"].tolist()  # the order differs
        assert reader.bim.equals(pvar)  # A1 = plink2's ALT under this mode
        rows = pd.Index(reader.fam["IID"]).get_indexer(psam["IID"])
        got = reader.read(samples=rows, dtype="float64")
    reference = expected.loc[psam["IID"], pvar["ID"]].to_numpy()
    assert np.array_equal(np.isnan(got), np.isnan(reference))
    assert np.isnan(got).sum() > 20
    np.testing.assert_allclose(got, reference, atol=1 / 255, rtol=0)
    with Pgen(fileset["pgen"]) as pgen:  # and the PGEN it was exported from (float32 sums)
        np.testing.assert_allclose(got, pgen.read(dtype="float64"), atol=1 / 255 + 1e-6, rtol=0)


def write_bgi(bgen: Path) -> Path:
    """A bgenix index of ``bgen`` (bgenix's schema: Variant and Metadata tables)."""
    bgi = Path(f"{bgen}.bgi")
    with BgenReader(str(bgen)) as reader:
        rows = [
            (
                v.chrom,
                v.pos,
                v.rsid,
                len(v.alleles),
                v.alleles[0],
                v.alleles[1],
                v.fileoffset,
                v.next_variant_offset - v.fileoffset,
            )
            for v in reader
        ]
    with sqlite3.connect(bgi) as db:
        db.execute(
            "CREATE TABLE Variant (chromosome TEXT NOT NULL, position INT NOT NULL, rsid TEXT "
            "NOT NULL, number_of_alleles INT NOT NULL, allele1 TEXT NOT NULL, allele2 TEXT "
            "NULL, file_start_position INT NOT NULL, size_in_bytes INT NOT NULL, PRIMARY KEY "
            "(chromosome, position, rsid, allele1, allele2, file_start_position))"
        )
        db.execute(
            "CREATE TABLE Metadata (filename TEXT NOT NULL, file_size INT NOT NULL, "
            "last_write_time INT NOT NULL, first_1000_bytes BLOB NOT NULL, "
            "index_creation_time INT NOT NULL)"
        )
        db.executemany("INSERT INTO Variant VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows[::-1])
    return bgi


def test_bgen_with_bgi_index_reads_the_same(fileset: dict[str, Path], tmp_path: Path) -> None:
    bgen = tmp_path / "indexed.bgen"
    bgen.write_bytes(Path(f"{fileset['first']}.bgen").read_bytes())
    sample = f"{fileset['first']}.sample"
    with Bgen(bgen, sample) as plain:
        table, dosages = plain.bim, plain.read()
    write_bgi(bgen)
    with Bgen(bgen, sample) as indexed:
        assert indexed.bim.equals(table)
        np.testing.assert_array_equal(indexed.read(), dosages)
        np.testing.assert_array_equal(indexed.read([20, 2]), dosages[:, [20, 2]])


def test_chrom_pattern_finds_per_chromosome_files(fileset: dict[str, Path]) -> None:
    pattern = str(fileset["root"] / "ukb22828_c{chrom}_b0_v3_first")
    found = chromosome_paths(pattern, ".bgen")
    assert list(found) == list(CHROMS)
    with Bgen(f"{fileset['first']}.bgen", f"{fileset['first']}.sample") as whole:
        for chrom, prefix in found.items():
            with Bgen(f"{prefix}.bgen", f"{prefix}.sample") as one:
                with Bgen(
                    f"{fileset['first']}.bgen", f"{fileset['first']}.sample", chrom=chrom
                ) as part:
                    assert one.bim.equals(part.bim)
                    np.testing.assert_array_equal(one.read(), part.read())
                rows = np.flatnonzero(whole.bim["CHR"] == chrom)
                np.testing.assert_array_equal(one.read(), whole.read(rows))


def test_chrom_pattern_without_files(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        chromosome_paths(tmp_path / "ukb_c{chrom}.bgen")
    assert str(err.value) == (
        f"{tmp_path}/ukb_c{{chrom}}.bgen: no file for any chromosome ({{chrom}} = 1, 2, 3, 4, "
        "5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, X, Y, XY, MT). "
        "Fix: check the directory and the pattern (chromosomes are written 1..22, X, Y, XY, MT)"
    )


def test_sample_file_as_uk_biobank_writes_it(tmp_path: Path) -> None:
    """Two header rows, negative (withdrawn) IDs kept as IDs, sex column."""
    path = tmp_path / "ukb.sample"
    path.write_text(
        "ID_1 ID_2 missing sex\n0 0 0 D\n1000003 1000003 0 2\n-1 -1 0 1\n1000001 1000001 0 1\n"
    )
    table = read_sample(path)
    assert table.to_dict("list") == {
        "FID": ["1000003", "-1", "1000001"],
        "IID": ["1000003", "-1", "1000001"],
        "SEX": ["2", "1", "1"],
    }


def test_open_genotypes_picks_the_reader(fileset: dict[str, Path]) -> None:
    bed = fileset["root"] / "hard"
    plink2("--pfile", fileset["pgen"], "--make-bed", "--out", bed)
    first = fileset["first"]
    with open_genotypes(f"{first}.bgen", sample=f"{first}.sample") as bgen:
        assert isinstance(bgen, Bgen)
    with open_genotypes(fileset["pgen"]) as pgen, open_genotypes(f"{bed}.bed") as plink:
        assert isinstance(pgen, Pgen) and isinstance(plink, Genotypes)
        assert isinstance(plink, GenotypeSource)
        # .bed A1 (column 5) is the PGEN's ALT: one counted allele across formats
        assert plink.bim[["CHR", "ID", "POS", "A1", "A2"]].equals(pgen.bim)


# ---- fault cases: one test each, exact message


def test_multiallelic_pvar_stops(tmp_path: Path) -> None:
    vcf = tmp_path / "m.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=1>\n"
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\ta\tb\n"
        "1\t100\trs1\tA\tG\t.\t.\t.\tGT\t0/1\t0/0\n"
        "1\t200\trs2\tA\tC,T\t.\t.\t.\tGT\t1/2\t0/0\n"
    )
    plink2("--vcf", vcf, "--make-pgen", "--out", tmp_path / "m")
    with pytest.raises(InputError) as err:
        read_pvar(tmp_path / "m.pvar")
    assert str(err.value).endswith(
        "m.pvar: line 4: variant rs2 has 3 alleles: the counted allele of a multiallelic "
        "variant is not one allele. Fix: split it into biallelic records (plink2 --pfile ... "
        "--max-alleles 2, or bcftools norm -m- before importing)"
    )


def test_duplicate_variant_id_in_pvar_stops(tmp_path: Path) -> None:
    path = tmp_path / "d.pvar"
    path.write_text(
        "##fileformat=PVARv1.0\n#CHROM\tPOS\tID\tREF\tALT\n1\t5\trs1\tA\tG\n"
        "1\t9\trs2\tA\tG\n2\t7\trs1\tC\tT\n"
    )
    with pytest.raises(InputError) as err:
        read_pvar(path)
    assert str(err.value) == (
        f"{path}: variant ID rs1 on lines 3 and 5 (1 duplicated ID in all). Fix: give every "
        "variant a unique ID (plink2 --set-all-var-ids '@:#:$r:$a' --new-id-max-allele-len "
        "100 truncate, then --make-pgen)"
    )


def test_sample_file_of_another_bgen_stops(fileset: dict[str, Path], tmp_path: Path) -> None:
    """The .sample must list the people in the .bgen's own order."""
    sample = tmp_path / "wrong.sample"
    lines = Path(f"{fileset['first']}.sample").read_text().splitlines()
    sample.write_text("\n".join([*lines[:2], lines[3], lines[2], *lines[4:]]) + "\n")
    first_two = [line.split()[1] for line in lines[2:4]]
    with pytest.raises(InputError) as err:
        Bgen(f"{fileset['first']}.bgen", sample)
    assert str(err.value) == (
        f"{sample}: line 3: sample 1 is {first_two[1]} {first_two[1]} but the .bgen stores "
        f"{first_two[0]}_{first_two[0]} there (2 samples differ). Fix: use the .sample "
        "written with this .bgen (the order must be the .bgen's)"
    )


def test_bgi_of_another_bgen_stops(fileset: dict[str, Path], tmp_path: Path) -> None:
    bgen = tmp_path / "c.bgen"
    bgen.write_bytes(Path(f"{fileset['first']}.bgen").read_bytes())
    write_bgi(bgen)
    with sqlite3.connect(f"{bgen}.bgi") as db:
        db.execute("DELETE FROM Variant WHERE rsid = 'rs3'")
    with pytest.raises(InputError) as err:
        Bgen(bgen, f"{fileset['first']}.sample")
    assert str(err.value) == (
        f"{bgen}.bgi: 23 variants indexed, the .bgen header says 24. Fix: the .bgi belongs "
        "to another .bgen: rebuild it (bgenix -g file.bgen -index)"
    )
