"""Reading external GWAS summary statistics into the project scheme."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from gemcont.errors import InputError
from gemcont.io.sumstats import load_sumstats, read_sumstats

ROWS = [
    ["1", "100", "rs1", "a", "g", "0.30", "0.10", "0.02", "1e-6"],
    ["chr1", "200", "rs2", "C", "T", "0.60", "-0.20", "0.05", "0.001"],
    ["X", "300", "rs3", "G", "A", "0.10", "0.05", "0.04", "0.2"],
]
HEADER = ["CHR", "BP", "SNP", "A1", "A2", "FRQ", "BETA", "SE", "P"]


def _write(path, header, rows, sep="\t", gz=False) -> str:
    text = "\n".join(sep.join(r) for r in [header, *rows]) + "\n"
    if gz:
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return str(path)


def test_read_sumstats__scheme_columns_and_types(tmp_path):
    df = read_sumstats(_write(tmp_path / "s.tsv", HEADER, ROWS))
    assert list(df.columns) == ["CHR", "POS", "ID", "EA", "OA", "EAF", "N", "BETA", "SE", "P"] + [
        "LOG10P"
    ]
    assert df["POS"].dtype == np.int64
    assert df["EA"].tolist() == ["A", "C", "G"]
    assert df["N"].isna().all()
    np.testing.assert_allclose(df["LOG10P"], [6, 3, -np.log10(0.2)])


def test_read_sumstats__missing_column_names_it_and_fix(tmp_path):
    header = ["CHR", "BP", "SNP", "A1", "A2", "FRQ", "BETA", "SE", "PVALUE_X"]
    path = _write(tmp_path / "s.tsv", header, ROWS)
    with pytest.raises(InputError) as err:
        read_sumstats(path)
    message = str(err.value)
    assert "s.tsv" in message and "P (or LOG10P)" in message
    assert "PVALUE_X" in message and "data.sumstats_columns" in message


def test_read_sumstats__column_map_overrides_aliases(tmp_path):
    header = ["CHR", "BP", "SNP", "A1", "A2", "FRQ", "BETA", "SE", "PVALUE_X"]
    df = read_sumstats(_write(tmp_path / "s.tsv", header, ROWS), column_map={"P": "PVALUE_X"})
    np.testing.assert_allclose(df["P"], [1e-6, 1e-3, 0.2])


def test_read_sumstats__column_map_unknown_header_is_an_error(tmp_path):
    with pytest.raises(InputError, match="NOPE"):
        read_sumstats(_write(tmp_path / "s.tsv", HEADER, ROWS), column_map={"P": "NOPE"})


def test_read_sumstats__odds_ratio_becomes_log_beta(tmp_path):
    header = ["CHR", "BP", "SNP", "A1", "A2", "OR", "SE", "P"]
    rows = [["1", "100", "rs1", "A", "G", "2.0", "0.1", "1e-5"]]
    df = read_sumstats(_write(tmp_path / "s.tsv", header, rows))
    assert df["BETA"].iloc[0] == pytest.approx(np.log(2.0))
    assert df["SE"].iloc[0] == pytest.approx(0.1)


def test_read_sumstats__odds_ratio_without_se_derives_se_from_p(tmp_path):
    header = ["CHR", "BP", "SNP", "A1", "A2", "OR", "P"]
    rows = [["1", "100", "rs1", "A", "G", "0.5", "0.05"]]
    df = read_sumstats(_write(tmp_path / "s.tsv", header, rows))
    assert df["SE"].iloc[0] == pytest.approx(np.log(2.0) / 1.959964, rel=1e-5)
    assert any("SE derived" in note for note in df.attrs["notes"])


def test_read_sumstats__log10p_keeps_tiny_pvalues(tmp_path):
    header = ["CHROM", "GENPOS", "ID", "ALLELE1", "ALLELE0", "A1FREQ", "N", "BETA", "SE", "LOG10P"]
    rows = [["1", "100", "rs1", "A", "G", "0.3", "5000", "0.5", "0.01", "400"]]
    df = read_sumstats(_write(tmp_path / "s.tsv", header, rows, sep=" "))
    assert df["LOG10P"].iloc[0] == 400
    assert df["P"].iloc[0] == 0.0  # underflows, but LOG10P keeps it
    assert df["N"].iloc[0] == 5000


def test_read_sumstats__p_text_below_double_range_keeps_log10p(tmp_path):
    rows = [["1", "100", "rs1", "A", "G", "0.3", "0.5", "0.01", "2e-400"]]
    df = read_sumstats(_write(tmp_path / "s.tsv", HEADER, rows))
    assert df["LOG10P"].iloc[0] == pytest.approx(400 - np.log10(2))


def test_read_sumstats__whitespace_csv_and_gzip_agree(tmp_path):
    tab = read_sumstats(_write(tmp_path / "s.tsv", HEADER, ROWS))
    space = read_sumstats(_write(tmp_path / "s.txt", HEADER, ROWS, sep="   "))
    csv = read_sumstats(_write(tmp_path / "s.csv", HEADER, ROWS, sep=","))
    gz = read_sumstats(_write(tmp_path / "s.tsv.gz", HEADER, ROWS, gz=True))
    gz_no_suffix = read_sumstats(_write(tmp_path / "s.dat", HEADER, ROWS, sep=",", gz=True))
    for other in (space, csv, gz, gz_no_suffix):
        pd.testing.assert_frame_equal(tab, other)


def test_read_sumstats__case_insensitive_aliases(tmp_path):
    header = ["chromosome", "base_pair_location", "variant_id", "effect_allele"]
    header += ["other_allele", "effect_allele_frequency", "beta", "standard_error", "p_value"]
    df = read_sumstats(_write(tmp_path / "s.tsv", header, ROWS))
    assert df["ID"].tolist() == ["rs1", "rs2", "rs3"]
    np.testing.assert_allclose(df["EAF"], [0.3, 0.6, 0.1])


def test_read_sumstats__chromosome_labels_normalised(tmp_path):
    labels = ["chr1", "01", "chrX", "x", "23", "MT", "chrY"]
    rows = [
        [c, "100", f"rs{i}", "A", "G", "0.3", "0.1", "0.02", "0.01"] for i, c in enumerate(labels)
    ]
    df = read_sumstats(_write(tmp_path / "s.tsv", HEADER, rows))
    # the codes the .bim reader writes (gemcont.io.chromosomes), so that panel.tsv and the
    # embedding GWAS name chromosome X alike
    assert df["CHR"].tolist() == ["1", "1", "X", "X", "X", "MT", "Y"]


def test_read_sumstats__invalid_rows_dropped_and_counted(tmp_path, caplog):
    rows = [
        *ROWS,
        ["1", "400", "rs4", "A", "G", "0.3", "0.1", "0", "0.01"],  # SE = 0
        ["1", "500", "rs5", "A", "G", "0.3", "0.1", "0.02", "1.5"],  # P > 1
        ["1", "600", "rs6", "A", "G", "0.3", "0.1", "0.02", "0"],  # P = 0
        ["1", "700", "rs7", "", "G", "0.3", "0.1", "0.02", "0.1"],  # no allele
        ["1", "NA", "rs8", "A", "G", "0.3", "0.1", "0.02", "0.1"],  # no position
    ]
    df = read_sumstats(_write(tmp_path / "s.tsv", HEADER, rows))
    assert df["ID"].tolist() == ["rs1", "rs2", "rs3"]
    assert df.attrs["dropped"] == {
        "POS missing or not a positive integer": 1,
        "allele missing": 1,
        "P missing or outside (0, 1]": 2,
        "SE missing, not finite or <= 0": 1,
    }
    assert "dropped 2 rows: P missing" in caplog.text


def test_read_sumstats__plink2_a1_is_effect_allele(tmp_path):
    header = ["#CHROM", "POS", "ID", "REF", "ALT", "A1", "OBS_CT", "BETA", "SE", "P"]
    rows = [
        ["1", "100", "rs1", "A", "G", "A", "900", "0.1", "0.02", "0.01"],
        ["1", "200", "rs2", "C", "T", "T", "900", "0.1", "0.02", "0.01"],
    ]
    df = read_sumstats(_write(tmp_path / "s.tsv", header, rows))
    assert df[["EA", "OA"]].values.tolist() == [["A", "G"], ["T", "C"]]


def test_read_sumstats__no_valid_rows_is_an_error(tmp_path):
    rows = [["1", "100", "rs1", "A", "G", "0.3", "0.1", "-1", "0.01"]]
    with pytest.raises(InputError, match="no valid rows"):
        read_sumstats(_write(tmp_path / "s.tsv", HEADER, rows))


def test_load_sumstats__zstd_file_read_by_magic_bytes(tmp_path):
    import zstandard

    text = "\n".join("\t".join(r) for r in [HEADER, *ROWS]) + "\n"
    path = tmp_path / "trait.glm.linear.zst"  # plink2 --glm ... zs
    path.write_bytes(zstandard.ZstdCompressor().compress(text.encode()))
    pd.testing.assert_frame_equal(
        read_sumstats(path), read_sumstats(_write(tmp_path / "s.tsv", HEADER, ROWS))
    )


def test_load_sumstats__bgzip_multi_member_file_read_whole(tmp_path):
    # bgzip writes a series of gzip members; every member must be read, not the first
    lines = ["\t".join(r) + "\n" for r in [HEADER, *ROWS]]
    path = tmp_path / "s.tsv.bgz"
    path.write_bytes(b"".join(gzip.compress(line.encode()) for line in lines))
    df = read_sumstats(path)
    assert df["ID"].tolist() == ["rs1", "rs2", "rs3"]


def test_load_sumstats__unread_compression_is_named(tmp_path):
    path = tmp_path / "s.tsv.lz4"
    path.write_bytes(b"\x04\x22\x4d\x18" + b"\x00" * 20)
    with pytest.raises(InputError) as err:
        read_sumstats(path)
    assert str(err.value) == (
        f"{path}: the file is lz4-compressed, which is not read. Fix: decompress it, or "
        "recompress it with gzip, bgzip or zstd"
    )


def test_load_sumstats__truncated_gzip_is_a_clear_error(tmp_path):
    beta = np.random.default_rng(0).normal(size=20000)  # incompressible enough
    rows = [
        ["1", str(i + 1), f"rs{i}", "A", "G", "0.3", f"{b:.6f}", "0.02", "0.01"]
        for i, b in enumerate(beta)
    ]
    text = "\n".join("\t".join(r) for r in [HEADER, *rows]) + "\n"
    packed = gzip.compress(text.encode())
    path = tmp_path / "s.tsv.gz"
    path.write_bytes(packed[: len(packed) // 2])  # an interrupted download
    with pytest.raises(InputError, match="truncated or corrupt"):
        read_sumstats(path)


def test_load_sumstats__lower_case_map_key_is_an_error(tmp_path):
    path = _write(tmp_path / "s.tsv", HEADER, ROWS)
    with pytest.raises(InputError) as err:
        read_sumstats(path, column_map={"ea": "A1"})
    assert str(err.value) == (
        f"{path}: data.sumstats_columns key 'ea' is not a scheme name (did you mean 'EA'? "
        "(keys are upper case)); layout detected: generic. Fix: name the file's header for "
        "each scheme column under data.sumstats_columns in the config"
    )


def test_load_sumstats__unknown_map_key_lists_the_scheme_names(tmp_path):
    path = _write(tmp_path / "s.tsv", HEADER, ROWS)
    with pytest.raises(InputError) as err:
        read_sumstats(path, column_map={"PVAL": "P"})
    assert "key 'PVAL' is not a scheme name (scheme names are CHR POS ID EA OA EAF N BETA OR " in (
        str(err.value)
    )


def test_load_sumstats__read_drops_listed_per_row(tmp_path):
    rows = [*ROWS, ["1", "400", "rs4", "A", "G", "0.3", "0.1", "0.02", "1.5"]]
    loaded = load_sumstats(_write(tmp_path / "s.tsv", HEADER, rows))
    assert loaded.layout == "generic" and loaded.n_read == 4
    assert loaded.dropped.to_dict("records") == [
        {
            "ID": "rs4",
            "CHR": "1",
            "POS": 400.0,
            "EA": "A",
            "OA": "G",
            "LOG10P": pytest.approx(-np.log10(1.5)),
            "STATUS": "dropped_at_read",
            "REASON": "P missing or outside (0, 1]",
        }
    ]


def test_read_sumstats__positions_that_are_no_positive_integer_dropped(tmp_path):
    bad = ["1.5", "inf", "-inf", "0", "-3", "nan", "1e400"]
    rows = [
        ["1", pos, f"rs{i}", "A", "G", "0.3", "0.1", "0.02", "0.01"] for i, pos in enumerate(bad)
    ]
    loaded = load_sumstats(_write(tmp_path / "s.tsv", HEADER, [*ROWS, *rows]))
    assert loaded.frame["ID"].tolist() == ["rs1", "rs2", "rs3"]
    assert loaded.dropped["REASON"].tolist() == ["POS missing or not a positive integer"] * 7


def test_read_sumstats__missing_ids_built_from_the_variant(tmp_path):
    rows = [[*r[:2], "NA", *r[3:]] for r in ROWS]
    df = read_sumstats(_write(tmp_path / "s.tsv", HEADER, rows))
    assert df["ID"].tolist() == ["1:100:G:A", "1:200:T:C", "X:300:A:G"]
    assert df["ID"].dtype == "str"
