"""Harmonising external sumstats to the cohort .bim (EA = .bim A1)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gemcont.io.plink import Genotypes, read_bim, write_bed
from gemcont.panel.harmonise import STATUSES, a1_frequencies, coverage_table, harmonise

BIM = pd.DataFrame(
    [
        ["1", "rs1", 0.0, 100, "A", "G"],
        ["1", "rs2", 0.0, 200, "C", "T"],
        ["1", "rs3", 0.0, 300, "A", "T"],  # strand-ambiguous
        ["1", "rs4", 0.0, 400, "A", "C"],  # multi-allelic position: A/C and A/G
        ["1", "rs4b", 0.0, 400, "A", "G"],
        ["chr2", "rs5", 0.0, 500, "G", "C"],  # strand-ambiguous
        ["2", "rs6", 0.0, 600, "T", "C"],
        ["2", "rs7", 0.0, 700, "T", "C"],  # duplicate ID in the .bim
        ["2", "rs7", 0.0, 800, "A", "G"],
    ],
    columns=["CHR", "ID", "CM", "POS", "A1", "A2"],
)


def _sumstats(rows: list[list]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["CHR", "POS", "ID", "EA", "OA", "EAF", "BETA"])
    return df.assign(N=1000.0, SE=0.01, P=1e-6)


def _status(result, sumstats_id: str) -> str:
    report = result.report.set_index("ID")
    return report.loc[sumstats_id, "STATUS"]


def test_harmonise__same_alleles_matched():
    result = harmonise(_sumstats([["1", 100, "rs1", "A", "G", 0.3, 0.2]]), BIM)
    row = result.matched.iloc[0]
    assert (row["EA"], row["OA"], row["BETA"], row["EAF"]) == ("A", "G", 0.2, 0.3)
    assert row["BIM_INDEX"] == 0 and _status(result, "rs1") == "matched"


def test_harmonise__swapped_alleles_flip_sign():
    result = harmonise(_sumstats([["1", 100, "rs1", "G", "A", 0.3, 0.2]]), BIM)
    row = result.matched.iloc[0]
    assert (row["EA"], row["OA"]) == ("A", "G")
    assert row["BETA"] == -0.2 and row["EAF"] == pytest.approx(0.7)
    assert _status(result, "rs1") == "flipped"
    assert bool(result.report["FLIPPED"].iloc[0])


def test_harmonise__strand_flipped_alleles_matched():
    rows = [["1", 100, "rs1", "T", "C", 0.3, 0.2], ["1", 200, "rs2", "A", "G", 0.4, 0.1]]
    result = harmonise(_sumstats(rows), BIM)
    matched = result.matched.set_index("ID")
    assert matched.loc["rs1", "BETA"] == 0.2  # T/C is A/G on the other strand
    assert matched.loc["rs2", "BETA"] == -0.1  # A/G is T/C: EA A = cohort T = A2
    assert matched.loc["rs2", "EA"] == "C"
    assert _status(result, "rs1") == _status(result, "rs2") == "strand_flipped"


def test_harmonise__strand_ambiguous_dropped_by_default():
    rows = [["1", 300, "rs3", "A", "T", 0.1, 0.2], ["2", 500, "rs5", "C", "G", 0.9, 0.1]]
    result = harmonise(_sumstats(rows), BIM)
    assert result.matched.empty
    assert result.report["STATUS"].tolist() == ["dropped_ambiguous"] * 2


def test_harmonise__strand_ambiguous_resolved_by_eaf(tmp_path):
    bim = BIM.drop_duplicates("ID", keep=False)  # a fileset with a duplicated ID is refused
    dosages = np.zeros((100, len(bim)), dtype=np.float32)
    dosages[:20, 2] = 1  # rs3: cohort A1 (A) frequency 0.1
    dosages[:, 5] = 2  # rs5: cohort A1 (G) frequency 0.9 ...
    dosages[:20, 5] = 1
    fam = pd.DataFrame({"FID": [f"f{i}" for i in range(100)], "IID": [f"i{i}" for i in range(100)]})
    write_bed(tmp_path / "c", dosages, fam, bim)
    rows = [
        ["1", 300, "rs3", "A", "T", 0.12, 0.2],  # EA is A1 on the same strand
        ["2", 500, "rs5", "G", "C", 0.11, 0.3],  # EAF says G here is the cohort's C
        ["2", 500, "rs5x", "C", "G", 0.45, 0.3],  # near 0.5: stays ambiguous
    ]
    with Genotypes(tmp_path / "c") as genotypes:
        result = harmonise(
            _sumstats(rows[:2]),
            bim,
            resolve_ambiguous_by_eaf=True,
            a1_freq=a1_frequencies(genotypes),
        )
        unresolved = harmonise(
            _sumstats(rows[2:]),
            bim,
            resolve_ambiguous_by_eaf=True,
            a1_freq=a1_frequencies(genotypes),
        )
    matched = result.matched.set_index("ID")
    assert matched.loc["rs3", "BETA"] == 0.2 and matched.loc["rs3", "EAF"] == 0.12
    assert matched.loc["rs5", "BETA"] == -0.3 and matched.loc["rs5", "EAF"] == pytest.approx(0.89)
    assert set(result.report["STATUS"]) == {"resolved_ambiguous"}
    assert unresolved.report["STATUS"].tolist() == ["dropped_ambiguous"]


def test_harmonise__resolving_without_frequencies_is_an_error():
    with pytest.raises(ValueError, match="a1_freq"):
        harmonise(_sumstats([["1", 100, "rs1", "A", "G", 0.3, 0.2]]), BIM, True)


def test_harmonise__absent_variants_reported():
    rows = [["1", 100, "rs1", "A", "G", 0.3, 0.2], ["3", 100, "rs99", "A", "G", 0.3, 0.2]]
    result = harmonise(_sumstats(rows), BIM)
    assert _status(result, "rs99") == "dropped_absent"
    assert pd.isna(result.report.set_index("ID").loc["rs99", "BIM_INDEX"])
    assert result.matched["ID"].tolist() == ["rs1"]


def test_harmonise__allele_mismatch_reported():
    result = harmonise(_sumstats([["1", 100, "rs1", "A", "C", 0.3, 0.2]]), BIM)
    assert _status(result, "rs1") == "dropped_allele_mismatch"


def test_harmonise__matched_by_position_when_id_differs():
    result = harmonise(_sumstats([["1", 200, "1:200:C:T", "T", "C", 0.3, 0.2]]), BIM)
    row = result.matched.iloc[0]
    assert (row["ID"], row["SUMSTATS_ID"], row["BETA"]) == ("rs2", "1:200:C:T", -0.2)


def test_harmonise__duplicate_ids_in_sumstats_dropped():
    rows = [["1", 100, "rs1", "A", "G", 0.3, 0.2], ["1", 100, "rs1", "A", "G", 0.3, 0.25]]
    result = harmonise(_sumstats(rows), BIM)
    assert result.matched.empty
    assert result.report["STATUS"].tolist() == ["dropped_duplicate"] * 2


def test_harmonise__duplicate_ids_in_bim_fall_back_to_position():
    rows = [["2", 800, "rs7", "G", "A", 0.3, 0.2], ["2", 900, "rs7", "T", "C", 0.3, 0.2]]
    result = harmonise(_sumstats(rows[:1]), BIM)
    assert result.matched["BIM_INDEX"].tolist() == [8]
    unplaced = harmonise(_sumstats(rows[1:]), BIM)
    assert unplaced.report["STATUS"].tolist() == ["dropped_duplicate"]


def test_harmonise__two_rows_claiming_one_bim_record_dropped():
    rows = [["1", 100, "rs1", "A", "G", 0.3, 0.2], ["1", 100, "other", "G", "A", 0.7, -0.2]]
    result = harmonise(_sumstats(rows), BIM)
    assert result.report["STATUS"].tolist() == ["dropped_duplicate"] * 2


def test_harmonise__multiallelic_matched_by_allele_pair():
    rows = [["1", 400, "x1", "G", "A", 0.2, 0.1], ["1", 400, "x2", "C", "A", 0.2, 0.3]]
    result = harmonise(_sumstats(rows), BIM)
    matched = result.matched.set_index("SUMSTATS_ID")
    assert matched.loc["x1", "ID"] == "rs4b" and matched.loc["x1", "BETA"] == -0.1
    assert matched.loc["x2", "ID"] == "rs4" and matched.loc["x2", "BETA"] == -0.3


def test_harmonise__multiallelic_strand_flip_dropped():
    result = harmonise(_sumstats([["1", 400, "x1", "T", "C", 0.2, 0.1]]), BIM)
    assert result.report["STATUS"].tolist() == ["dropped_multiallelic"]


def test_harmonise__report_has_one_row_per_input_in_order():
    rows = [["3", 1, "a", "A", "G", 0.1, 0.1], ["1", 100, "rs1", "G", "A", 0.3, 0.2]]
    result = harmonise(_sumstats(rows), BIM)
    assert result.report["ID"].tolist() == ["a", "rs1"]
    assert result.report["BIM_ID"].tolist()[1] == "rs1"


def test_coverage_table__counts_every_status():
    rows = [
        ["1", 100, "rs1", "A", "G", 0.3, 0.2],
        ["1", 200, "rs2", "T", "C", 0.3, 0.2],
        ["3", 100, "rs99", "A", "G", 0.3, 0.2],
        ["1", 300, "rs3", "A", "T", 0.3, 0.2],
    ]
    table = coverage_table(harmonise(_sumstats(rows), BIM).report)
    assert table["status"].tolist() == STATUSES
    counts = table.set_index("status")["count"]
    assert counts["matched"] == counts["flipped"] == counts["dropped_absent"] == 1
    assert counts["dropped_ambiguous"] == 1 and counts.sum() == 4
    assert table["fraction"].sum() == pytest.approx(1.0)


def test_harmonise__chromosome_x_named_as_the_fileset_names_it(tmp_path):
    """PLINK 1 writes X as 23, published files as X, 23 or chrX: the panel must carry the
    .bim reader's code (X), which the embedding GWAS writes, or recovery misses X loci."""
    bim_path = tmp_path / "c.bim"
    bim_path.write_text("23\trsX1\t0\t1000\tA\tG\n1\trs1\t0\t100\tC\tT\n")
    bim = read_bim(bim_path)
    assert bim["CHR"].tolist() == ["X", "1"]
    for code in ["X", "23", "chrX", "x"]:
        result = harmonise(_sumstats([[code, 1000, "rsX1", "A", "G", 0.3, 0.2]]), bim)
        assert result.matched["CHR"].tolist() == ["X"], code
