"""Harmonising external sumstats to the cohort .bim (EA = .bim A1)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gemcont.io.plink import Genotypes, read_bim, write_bed
from gemcont.io.sumstats import READ_COLUMNS
from gemcont.panel.eaf_check import a1_frequencies
from gemcont.panel.harmonise import harmonise
from gemcont.panel.harmonise_report import REPORT_COLUMNS, STATUSES, coverage_table, dropped_hits

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


# --- rows as the reader returns them (READ_COLUMNS; CHR "" and POS 0 without a position,
# OA "" without an other allele)


def _read(rows: list[list]) -> pd.DataFrame:
    """Rows of CHR POS ID EA OA EAF BETA P, in the reader's scheme and dtypes."""
    df = pd.DataFrame(rows, columns=["CHR", "POS", "ID", "EA", "OA", "EAF", "BETA", "P"])
    df = df.assign(N=1000.0, SE=0.01, LOG10P=-np.log10(df["P"]))
    return df.astype({c: "str" for c in ("CHR", "ID", "EA", "OA")})[READ_COLUMNS]


def _row(result, i: int) -> pd.Series:
    return result.report.iloc[i]


def test_harmonise__exact_duplicate_line_keeps_the_variant():
    """A file that repeats a line (concatenated chunks, a merge gone twice) used to lose
    the variant: both copies were dropped as duplicates."""
    lead = ["1", 100, "rs1", "A", "G", 0.3, 0.5, 1e-30]
    result = harmonise(_read([lead, ["1", 200, "rs2", "C", "T", 0.4, 0.1, 0.2], lead]), BIM)
    assert result.report["STATUS"].tolist() == ["matched", "matched", "dropped_identical_copy"]
    assert _row(result, 2)["REASON"] == "identical to row 1"
    assert result.matched.set_index("ID").loc["rs1", "BETA"] == 0.5
    assert dropped_hits(result.report, 5e-8).empty  # the lead variant is in the panel


def test_harmonise__split_multiallelic_rsid_keeps_the_matching_pair():
    """One rsid written as two biallelic rows (A/G and A/T): the row whose alleles are
    the .bim's is used; the other is an allele mismatch, not a duplicate."""
    rows = [
        ["1", 100, "rs1", "A", "T", 0.1, 0.2, 1e-3],
        ["1", 100, "rs1", "G", "A", 0.3, 0.5, 1e-30],
    ]
    result = harmonise(_read(rows), BIM)
    assert result.report["STATUS"].tolist() == ["dropped_allele_mismatch", "flipped"]
    assert _row(result, 0)["REASON"] == "alleles A/T vs .bim A/G"
    matched = result.matched.set_index("ID")
    assert matched.loc["rs1", "BETA"] == -0.5 and matched.loc["rs1", "EAF"] == pytest.approx(0.7)


def test_harmonise__same_id_and_alleles_with_other_statistics_all_dropped():
    rows = [
        ["1", 100, "rs1", "A", "G", 0.3, 0.2, 1e-9],
        ["1", 100, "rs1", "G", "A", 0.7, -0.25, 1e-9],
    ]
    result = harmonise(_read(rows), BIM)
    assert result.matched.empty
    assert result.report["STATUS"].tolist() == ["dropped_duplicate"] * 2
    assert result.report["REASON"].tolist() == [
        "ID rs1 with alleles A/G appears 2x with different statistics",
        "ID rs1 with alleles G/A appears 2x with different statistics",
    ]
    assert dropped_hits(result.report, 5e-8)["ID"].tolist() == ["rs1", "rs1"]


def test_harmonise__same_position_and_alleles_under_two_ids_all_dropped():
    rows = [
        ["1", 100, "rs1", "A", "G", 0.3, 0.2, 0.1],
        ["1", 100, "1:100_A_G", "A", "G", 0.3, 0.2, 0.2],
    ]
    result = harmonise(_read(rows), BIM)
    assert result.report["STATUS"].tolist() == ["dropped_duplicate"] * 2
    assert (
        _row(result, 1)["REASON"] == "1:100 with alleles A/G appears 2x with different statistics"
    )


def test_harmonise__bim_record_chosen_by_two_rows_names_it():
    # rs1 is found by ID (its position here is another build's), 'x' by position
    rows = [["1", 999, "rs1", "A", "G", 0.3, 0.2, 0.1], ["1", 100, "x", "G", "A", 0.7, -0.2, 0.1]]
    result = harmonise(_read(rows), BIM)
    assert result.report["STATUS"].tolist() == ["dropped_duplicate"] * 2
    assert result.report["REASON"].tolist() == [".bim record rs1 fits 2 rows"] * 2


def test_harmonise__rows_without_position_match_by_id_alone():
    """METAL MarkerName-only files: CHR "" and POS 0."""
    rows = [
        ["", 0, "rs2", "T", "C", 0.6, 0.1, 0.01],
        ["", 0, "rs99", "A", "G", 0.3, 0.2, 0.01],
        ["", 0, "rs7", "T", "C", 0.3, 0.2, 0.01],  # rs7 is twice in the .bim
    ]
    result = harmonise(_read(rows), BIM)
    row = result.matched.iloc[0]
    assert (row["ID"], row["CHR"], row["POS"], row["EA"], row["BETA"]) == (
        "rs2",
        "1",
        200,
        "C",
        -0.1,
    )
    assert result.report["STATUS"].tolist() == ["flipped", "dropped_absent", "dropped_duplicate"]
    assert result.report["REASON"].tolist()[1:] == [
        "no .bim record with this ID (the file gives no position)",
        "ID appears 2x in the .bim and the file gives no position",
    ]


def test_harmonise__rows_without_other_allele_match_on_ea():
    """PLINK 1.9 .assoc.logistic files name only A1 (OA "")."""
    rows = [
        ["1", 100, "rs1", "A", "", 0.3, 0.2, 0.01],  # .bim A1
        ["1", 200, "rs2", "T", "", 0.3, 0.4, 0.01],  # .bim A2 (C/T)
        ["2", 600, "rs6", "G", "", 0.3, 0.5, 0.01],  # complement of C = .bim A2 of T/C
        ["1", 100, "rs1b", "AT", "", 0.3, 0.2, 0.01],
    ]
    result = harmonise(_read(rows), BIM)
    assert result.report["STATUS"].tolist() == [
        "matched",
        "flipped",
        "strand_flipped",
        "dropped_allele_mismatch",
    ]
    assert result.matched["BETA"].tolist() == [0.2, -0.4, -0.5]
    assert result.matched["EAF"].tolist() == pytest.approx([0.3, 0.7, 0.7])
    assert _row(result, 3)["REASON"] == "alleles AT vs .bim A/G"
    assert _row(result, 0)["OA"] == ""


def test_harmonise__no_other_allele_at_ambiguous_and_multiallelic_sites():
    rows = [
        ["1", 300, "rs3", "A", "", np.nan, 0.2, 0.01],  # A/T in the .bim, no EAF
        ["1", 400, "x1", "A", "", 0.3, 0.1, 0.01],  # A/C and A/G at 1:400
        ["1", 400, "x2", "G", "", 0.3, 0.1, 0.01],  # only A/G has G
        ["1", 400, "x3", "T", "", 0.3, 0.1, 0.01],  # complement only: not at such a site
    ]
    result = harmonise(_read(rows), BIM)
    assert result.report["STATUS"].tolist() == [
        "dropped_ambiguous",
        "dropped_multiallelic",
        "flipped",
        "dropped_multiallelic",
    ]
    assert result.report["REASON"].tolist() == [
        "strand-ambiguous A/T and no EAF to resolve it",
        "no other allele (OA) to choose between .bim records rs4, rs4b",
        "",
        "alleles T vs .bim A/C, A/G at a multi-allelic position (same-strand matches only)",
    ]
    assert result.matched["ID"].tolist() == ["rs4b"]
    assert result.matched.attrs["n_ambiguous_without_eaf"] == 1


def test_harmonise__ambiguous_without_other_allele_resolved_by_eaf():
    freq = np.full(len(BIM), 0.5)
    freq[2] = 0.1  # rs3 (A/T): cohort A frequency
    rows = [["1", 300, "rs3", "T", "", 0.88, 0.2, 0.01]]  # T at 0.88: the cohort's A
    result = harmonise(_read(rows), BIM, True, a1_freq=lambda idx: freq[idx])
    assert result.report["STATUS"].tolist() == ["resolved_ambiguous"]
    assert result.matched["BETA"].tolist() == [-0.2]


def test_harmonise__every_dropped_row_says_why():
    rows = [
        ["1", 100, "rs1", "A", "G", 0.3, 0.2, 0.01],
        ["3", 100, "rs99", "A", "G", 0.3, 0.2, 0.01],
        ["1", 200, "rs2", "A", "C", 0.3, 0.2, 0.01],
        ["1", 300, "rs3", "A", "T", np.nan, 0.2, 0.01],
        ["2", 500, "rs5", "G", "C", 0.2, 0.2, 0.01],
    ]
    result = harmonise(_read(rows), BIM)
    assert result.report["REASON"].tolist() == [
        "",
        "no .bim record with this ID or CHR:POS",
        "alleles A/C vs .bim C/T",
        "strand-ambiguous A/T and no EAF to resolve it",
        "strand-ambiguous G/C (resolving by EAF is off: panel.resolve_ambiguous_by_eaf)",
    ]


@pytest.mark.parametrize(
    ("eaf", "reason"),
    [
        (0.45, "strand-ambiguous A/T and EAF 0.45 or cohort frequency 0.1 within 0.1 of 0.5"),
        (np.nan, "strand-ambiguous A/T and no EAF to resolve it"),
        (
            0.35,  # 0.25 from 0.1 and 0.55 from 0.9
            "strand-ambiguous A/T and EAF 0.35 fits neither strand within 0.2 (cohort "
            "frequency of EA 0.1)",
        ),
    ],
)
def test_harmonise__ambiguous_unresolved_reasons(eaf, reason):
    freq = np.full(len(BIM), 0.5)
    freq[2] = 0.1
    rows = [["1", 300, "rs3", "A", "T", eaf, 0.2, 0.01]]
    result = harmonise(_read(rows), BIM, True, a1_freq=lambda idx: freq[idx])
    assert result.report["STATUS"].tolist() == ["dropped_ambiguous"]
    assert result.report["REASON"].tolist() == [reason]


def test_harmonise__ambiguous_fitting_both_strands_says_so():
    freq = np.full(len(BIM), 0.5)
    freq[2] = 0.35  # 0.38 is within 0.3 of both 0.35 and 0.65
    rows = [["1", 300, "rs3", "A", "T", 0.38, 0.2, 0.01]]
    result = harmonise(_read(rows), BIM, True, 0.3, 0.1, a1_freq=lambda idx: freq[idx])
    assert result.report["REASON"].tolist() == [
        "strand-ambiguous A/T and EAF 0.38 fits both strands within 0.3 (cohort frequency "
        "of EA 0.35)"
    ]


def test_harmonise__read_drops_listed_in_the_report():
    drops = pd.DataFrame(
        {
            "ID": ["rs50", "rs51"],
            "CHR": ["1", ""],
            "POS": [5, 0],
            "EA": ["A", "C"],
            "OA": ["G", ""],
            "LOG10P": [8.0, 12.0],
            "STATUS": ["dropped_at_read", "not_a_variant"],
            "REASON": [
                "SE missing, not finite or <= 0",
                "TEST is DOM (only ADD rows are variant effects)",
            ],
        }
    )
    rows = [["1", 100, "rs1", "A", "G", 0.3, 0.2, 1e-9], ["3", 1, "rs9", "A", "G", 0.3, 0.2, 1e-10]]
    result = harmonise(_read(rows), BIM, read_drops=drops)
    report = result.report
    assert report.columns.tolist() == REPORT_COLUMNS
    assert report["ID"].tolist() == ["rs1", "rs9", "rs50", "rs51"]
    assert report["STATUS"].tolist()[2:] == ["dropped_at_read", "not_a_variant"]
    assert report["REASON"].tolist()[2:] == drops["REASON"].tolist()
    assert report["BIM_INDEX"].isna().tolist() == [False, True, True, True]
    assert not report["FLIPPED"].any()
    counts = coverage_table(report).set_index("status")["count"]
    assert counts["dropped_at_read"] == 1 and counts["not_a_variant"] == 1
    assert counts["dropped_absent"] == 1 and counts.sum() == 4
    hits = dropped_hits(report, 5e-8)
    # strongest first; rs1 is in the panel, and the covariate row rs51 (P 1e-12) is no hit
    assert hits["ID"].tolist() == ["rs9", "rs50"]
    assert hits["REASON"].tolist() == [
        "no .bim record with this ID or CHR:POS",
        "SE missing, not finite or <= 0",
    ]


def test_dropped_hits__threshold_inclusive():
    rows = [["3", 1, "a", "A", "G", 0.3, 0.2, 1e-8], ["3", 2, "b", "A", "G", 0.3, 0.2, 2e-8]]
    assert dropped_hits(harmonise(_read(rows), BIM).report, 1e-8)["ID"].tolist() == ["a"]


# Every rule at once, for comparing the ID matching's paths: IDs are matched through
# their hashes (gemcont.panel.harmonise_keys), compared as strings where the hashes agree.
_EVERY_RULE = [
    ["1", 100, "rs1", "A", "G", 0.3, 0.5, 1e-30],
    ["1", 100, "rs1", "A", "G", 0.3, 0.5, 1e-30],  # identical copy
    ["1", 200, "1:200:C:T", "T", "C", 0.4, 0.1, 0.2],  # by position, ID differs
    ["1", 300, "rs3", "A", "T", 0.1, 0.2, 1e-3],  # ambiguous
    ["1", 400, "x1", "G", "A", 0.2, 0.1, 0.1],  # multi-allelic site
    ["1", 400, "x2", "C", "A", 0.2, 0.3, 0.1],
    ["1", 400, "x3", "T", "C", 0.2, 0.3, 0.1],  # complement only at a multi-allelic site
    ["2", 600, "rs6", "T", "G", 0.2, 0.3, 0.1],  # allele mismatch
    ["2", 800, "rs7", "G", "A", 0.3, 0.2, 0.1],  # .bim ID twice: by position
    ["2", 900, "rs7", "T", "C", 0.3, 0.2, 0.1],  # .bim ID twice, no position fits
    ["", 0, "rs2", "T", "C", 0.6, 0.1, 0.01],  # no position: by ID alone
    ["", 0, "rs99", "A", "G", 0.3, 0.2, 0.01],
    ["", 0, "rs7", "T", "C", 0.3, 0.2, 0.01],
    ["", 0, "", "A", "G", 0.3, 0.2, 0.01],  # no position, no ID
    ["", 0, "", "A", "G", 0.3, 0.2, 0.01],
    ["3", 1, "dup", "A", "G", 0.3, 0.2, 0.01],  # same ID and alleles, other statistics
    ["3", 1, "dup", "G", "A", 0.3, 0.2, 0.02],
    ["3", 5, "", "A", "G", 0.3, 0.2, 0.01],
    ["3", 6, "", "A", "G", 0.3, 0.2, 0.01],
    ["1", 999, "rs5", "G", "C", 0.9, 0.1, 0.01],  # found by ID at another position
    ["chr2", 700, "absent", "T", "C", 0.3, 0.2, 0.01],  # by position; ID not in .bim
]


def _every_rule_results():
    bim = pd.concat([BIM, BIM.iloc[[0]].assign(ID="", POS=150)], ignore_index=True)
    result = harmonise(_read(_EVERY_RULE), bim)
    return result.matched, result.report


@pytest.mark.parametrize("hash_kind", ["colliding_with_bim", "few_values"])
def test_harmonise__colliding_id_hashes_change_nothing(monkeypatch, hash_kind):
    """Hashes that collide (sumstats IDs onto .bim IDs and each other; or .bim IDs among
    themselves, where the exact factorisation takes over) give the same report."""
    import gemcont.panel.harmonise_keys as keys

    matched, report = _every_rule_results()
    # as before the hashing (the report of main at 6ced33d, which factorised every ID)
    assert report["STATUS"].tolist() == [
        *["matched", "dropped_identical_copy", "dropped_duplicate", "dropped_ambiguous"],
        *["flipped", "flipped", "dropped_multiallelic", "dropped_allele_mismatch", "flipped"],
        *["dropped_duplicate"] * 2,
        *["dropped_absent", "dropped_duplicate", "dropped_absent", "dropped_absent"],
        *["dropped_duplicate"] * 2,
        *["dropped_absent", "dropped_absent", "dropped_ambiguous", "matched"],
    ]
    bim_ids = set(BIM["ID"])
    collide = {
        "colliding_with_bim": lambda s: hash(s) if s in bim_ids else hash("rs1"),
        "few_values": lambda s: hash(s) % 3,
    }[hash_kind]
    monkeypatch.setattr(keys, "_hash", collide)
    again_matched, again_report = _every_rule_results()
    pd.testing.assert_frame_equal(again_matched, matched)
    pd.testing.assert_frame_equal(again_report, report)


def test_harmonise__id_matches_equal_the_exact_factorisation():
    from gemcont.panel.harmonise_keys import _exact_id_matches, id_matches

    ids = _read(_EVERY_RULE)["ID"].to_numpy(dtype=object)
    b_ids = np.array([*BIM["ID"], "", None, "rs1"], dtype=object)
    fast, exact = id_matches(b_ids, ids), _exact_id_matches(b_ids, ids)
    for field in ("bim_count", "by_id", "repeated"):
        np.testing.assert_array_equal(getattr(fast, field), getattr(exact, field))
    repeated_ids = ids[fast.repeated].tolist()
    assert sorted(repeated_ids) == ["dup", "dup", "rs1", "rs1", "rs7", "rs7", "rs7"]  # not ""
    assert fast.bim_count[ids == "rs1"].tolist() == [2, 2]  # "" and None match nothing


def test_harmonise__no_read_drops_give_the_concatenated_report():
    """No row dropped at read: the report is the concatenation's (POS as float, as with
    drops), made without copying every column."""
    ss = _read(_EVERY_RULE)
    drops = ss.iloc[:0][["ID", "CHR", "POS", "EA", "OA", "LOG10P"]].astype({"POS": float})
    drops = drops.assign(STATUS=np.array([], dtype=object), REASON=np.array([], dtype=object))
    report = harmonise(ss, BIM, read_drops=drops).report
    alone = harmonise(ss, BIM).report
    expected = pd.concat(
        [alone, drops.assign(BIM_INDEX=pd.array([], dtype="Int64"), BIM_ID=None, FLIPPED=False)],
        ignore_index=True,
    ).astype({"STATUS": alone["STATUS"].dtype})
    pd.testing.assert_frame_equal(report, expected, check_exact=True)
    assert report["POS"].dtype == np.float64


def test_position_repeats__sorted_and_shuffled_agree():
    from gemcont.panel.harmonise_keys import position_repeats

    rng = np.random.default_rng(3)
    pos = np.sort(rng.integers(-1, 40, 200))  # -1: no position
    counts = pd.Series(pos).map(pd.Series(pos).value_counts()).to_numpy()
    expected = (pos >= 0) & (counts > 1)
    np.testing.assert_array_equal(position_repeats(pos), expected)
    shuffle = rng.permutation(len(pos))
    np.testing.assert_array_equal(position_repeats(pos[shuffle]), expected[shuffle])


def test_harmonise__codes_with_other_spellings_give_the_same_report():
    """Codes whose values are not the names harmonise uses (lower-case alleles, 'chr1')
    are mapped like the column's values."""
    ss = _read(_EVERY_RULE[:12])
    ss["EA"] = ss["EA"].str.lower()
    ss.loc[0, "CHR"] = "chr1"
    codes = {}
    for name in ("CHR", "EA", "OA"):
        code, values = pd.factorize(ss[name].to_numpy(dtype=object))
        codes[name] = (code, values)
    plain = harmonise(ss, BIM)
    coded = harmonise(ss, BIM, codes=codes)
    pd.testing.assert_frame_equal(coded.report, plain.report)
    pd.testing.assert_frame_equal(coded.matched, plain.matched)
    assert coded.report["EA"].iloc[0] == "A" and coded.report["CHR"].iloc[0] == "1"
