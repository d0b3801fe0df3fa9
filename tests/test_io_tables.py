"""Gzipped tables: two-member files, chunked compression, concatenation without
recompression (gemcont.io.tables)."""

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
        {"CHR": chrom, "POS": np.arange(n) + 1, "ID": [f"rs{i}" for i in range(n)],
         "BETA": rng.normal(size=n), "P": rng.uniform(size=n) ** 20}
    )  # fmt: skip


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
