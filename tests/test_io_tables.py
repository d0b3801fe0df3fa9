"""Gzipped tables: a header member and row members, compressed in parallel chunks,
concatenation without recompression (gemcont.io.tables)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gemcont.errors import InputError
from gemcont.io import tables
from gemcont.io.tables import concat_gzip_tables, write_tsv


def table(n: int, seed: int = 0, chrom: str = "1") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "CHR": chrom,
            "POS": np.arange(n) + 1,
            "ID": [f"rs{i}" for i in range(n)],
            "BETA": rng.normal(size=n),
            "P": rng.uniform(size=n) ** 20,
        }
    )


@pytest.mark.parametrize("n", [0, 1, 1000])
def test_write_tsv__plain_and_gzipped_text_equal_pandas_to_csv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, n: int
) -> None:
    monkeypatch.setattr(tables, "CHUNK_ROWS", 64)  # 1000 rows: 16 chunks
    df = table(n)
    write_tsv(df, tmp_path / "t.tsv")
    write_tsv(df, tmp_path / "t.tsv.gz")
    want = df.to_csv(sep="\t", index=False, float_format="%.6g").encode()
    assert (tmp_path / "t.tsv").read_bytes() == want
    assert gzip.decompress((tmp_path / "t.tsv.gz").read_bytes()) == want
    back = pd.read_csv(tmp_path / "t.tsv.gz", sep="\t", dtype={"CHR": str})
    assert len(back) == n and list(back.columns) == list(df.columns)
    np.testing.assert_allclose(back["BETA"].to_numpy(float), df["BETA"], rtol=1e-5)


@pytest.mark.parametrize("name", ["t.tsv", "t.tsv.gz"])
def test_write_tsv__frames_one_after_the_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setattr(tables, "CHUNK_ROWS", 64)
    parts = [table(100, seed=1), table(0), table(130, seed=2)]
    write_tsv(iter(parts), tmp_path / name)
    want = pd.concat(parts).to_csv(sep="\t", index=False, float_format="%.6g").encode()
    got = (tmp_path / name).read_bytes()
    assert (gzip.decompress(got) if name.endswith(".gz") else got) == want
    with pytest.raises(ValueError, match="at least one frame"):
        write_tsv(iter([]), tmp_path / name)
    with pytest.raises(ValueError, match="differ from the first"):
        write_tsv([parts[0], parts[2].rename(columns={"P": "Q"})], tmp_path / name)
    assert (tmp_path / name).read_bytes() == got and not list(tmp_path.glob("*.tmp"))


def test_write_tsv__same_bytes_every_time(tmp_path: Path) -> None:
    write_tsv(table(500), tmp_path / "a.tsv.gz")
    write_tsv(table(500), tmp_path / "b.tsv.gz")
    assert (tmp_path / "a.tsv.gz").read_bytes() == (tmp_path / "b.tsv.gz").read_bytes()
    assert not list(tmp_path.glob("*.tmp"))


def test_concat_gzip_tables__rows_in_order_without_recompression(tmp_path: Path) -> None:
    parts = [table(300, seed=1, chrom="2"), table(0), table(200, seed=2, chrom="1")]
    paths = [tmp_path / f"p{i}.tsv.gz" for i in range(3)]
    for df, path in zip(parts, paths, strict=True):
        write_tsv(df, path)
    concat_gzip_tables(paths, tmp_path / "all.tsv.gz")
    write_tsv(pd.concat(parts, ignore_index=True), tmp_path / "want.tsv")
    got = gzip.decompress((tmp_path / "all.tsv.gz").read_bytes())
    assert got == (tmp_path / "want.tsv").read_bytes()
    body = (tmp_path / "p0.tsv.gz").read_bytes()[tables._split_header(paths[0])[1] :]
    assert body in (tmp_path / "all.tsv.gz").read_bytes()  # copied as compressed


def test_concat_gzip_tables__rejects_other_headers_and_foreign_files(tmp_path: Path) -> None:
    write_tsv(table(10), tmp_path / "a.tsv.gz")
    write_tsv(table(10).rename(columns={"P": "PVAL"}), tmp_path / "b.tsv.gz")
    with pytest.raises(InputError, match=r"b\.tsv\.gz.*header differs"):
        concat_gzip_tables([tmp_path / "a.tsv.gz", tmp_path / "b.tsv.gz"], tmp_path / "c.tsv.gz")
    table(10).to_csv(tmp_path / "one_member.tsv.gz", sep="\t", index=False)  # pandas: 1 member
    with pytest.raises(InputError, match="one_member.*header in a gzip member of its own"):
        concat_gzip_tables([tmp_path / "one_member.tsv.gz"], tmp_path / "d.tsv.gz")
    assert not (tmp_path / "c.tsv.gz").exists() and not (tmp_path / "d.tsv.gz").exists()


def _awkward_values(n: int, rng: np.random.Generator) -> dict[str, object]:
    """Columns of every kind write_tsv meets, plain ones and ones to_csv treats specially."""
    floats = rng.normal(size=n) * 10.0 ** rng.integers(-320, 300, n)
    floats[: min(n, 6)] = [np.nan, np.inf, -np.inf, -0.0, 5e-324, 0.5][: min(n, 6)]
    text = np.array([f"rs{i}" for i in range(n)], dtype=object)
    return {
        "float64": floats,
        "float32": rng.normal(size=n).astype(np.float32) * 1e-3,
        "rounding": np.round(rng.uniform(0, 10, n), 7) + 5e-7,  # near %.6g ties
        "int": rng.integers(-(2**62), 2**62, n),
        "bool": rng.random(n) < 0.5,
        "text": text,
        "str": pd.array(text, dtype="str"),
        "category": pd.Categorical(rng.choice(["A", "C", "AT"], n)),
        "empty_text": [""] * n,
        "text_with_missing": np.where(rng.random(n) < 0.3, None, text),
        "text_to_quote": np.where(rng.random(n) < 0.3, 'say "hi"\tthere', text),
        "nullable_int": pd.array(np.where(rng.random(n) < 0.3, None, 1), dtype="Int64"),
        "object_numbers": np.array(rng.normal(size=n), dtype=object),
    }


PLAIN = ["float64", "float32", "rounding", "int", "bool", "text", "str", "category", "empty_text"]


@pytest.mark.parametrize("float_format", ["%.6g", "%.8g", "%.17g", None])
@pytest.mark.parametrize(
    "extra", [None, "text_with_missing", "text_to_quote", "nullable_int", "object_numbers"]
)
def test_rows_text__equals_to_csv_byte_for_byte(float_format: str | None, extra: str) -> None:
    rng = np.random.default_rng(7)
    values = _awkward_values(3000, rng)
    df = pd.DataFrame({c: values[c] for c in [*PLAIN, *([extra] if extra else [])]})
    want = df.to_csv(sep="\t", index=False, header=False, float_format=float_format)
    assert tables._rows_text(df, float_format) == want
    assert tables._rows_text(df.iloc[:0], float_format) == ""
    assert tables._rows_text(df[["empty_text"]], float_format) == df[["empty_text"]].to_csv(
        sep="\t", index=False, header=False
    )  # one column: to_csv quotes empty strings


def test_rows_text__plain_columns_skip_to_csv(monkeypatch: pytest.MonkeyPatch) -> None:
    df = pd.DataFrame(
        {c: v for c, v in _awkward_values(100, np.random.default_rng(1)).items() if c in PLAIN}
    )
    want = df.to_csv(sep="\t", index=False, header=False, float_format="%.6g")

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("to_csv called for plain columns")

    monkeypatch.setattr(pd.DataFrame, "to_csv", refuse)
    assert tables._rows_text(df, "%.6g") == want
