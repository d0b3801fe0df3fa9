"""ID harmonisation: keyed tables, the cohort join and its drop report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gemcont.errors import InputError
from gemcont.io.ids import align_rows, dropped_rows, join_cohort, join_summary, read_keyed_table


def _fam(n: int = 6) -> pd.DataFrame:
    return pd.DataFrame(
        {"FID": [f"{1000 + i}" for i in range(n)], "IID": [f"{1000 + i}" for i in range(n)]}
    )


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_numeric_ids_stay_strings_and_whitespace_is_stripped(tmp_path: Path) -> None:
    path = _write(tmp_path / "cov.txt", "FID IID age\n1001   1001  50\n0002 0002 61.5\n")
    table = read_keyed_table(path, ["age"], ["age"], "covariates")
    assert table["IID"].tolist() == ["1001", "0002"]
    assert table["FID"].tolist() == ["1001", "0002"]
    assert table["age"].dtype == np.float64
    tab = _write(tmp_path / "cov.tsv", "FID\tIID\tage\n 1001 \t1001\t50\n")
    assert read_keyed_table(tab, [], ["age"], "covariates")["FID"].tolist() == ["1001"]


def test_duplicated_iids_error_names_file_and_ids(tmp_path: Path) -> None:
    path = _write(tmp_path / "cov.txt", "FID IID age\n1 1001 50\n2 1001 51\n3 1003 52\n")
    with pytest.raises(InputError, match=r"cov\.txt.*duplicated IID: 1001.*Fix"):
        read_keyed_table(path, [], ["age"], "covariates")


def test_manifest_rows_are_unique_by_iid_and_eye(tmp_path: Path) -> None:
    path = _write(tmp_path / "m.tsv", "IID\teye\tpath\n1001\tL\ta.png\n1001\tR\tb.png\n")
    table = read_keyed_table(
        path, ["eye", "path"], [], "phenotype", fam=_fam(), unique_by=["IID", "eye"]
    )
    assert table["FID"].tolist() == ["1001", "1001"]
    dup = _write(tmp_path / "d.tsv", "IID\teye\tpath\n1001\tL\ta.png\n1001\tL\tb.png\n")
    with pytest.raises(InputError, match="duplicated IID\\+eye: 1001 L"):
        read_keyed_table(
            dup, ["eye", "path"], [], "phenotype", fam=_fam(), unique_by=["IID", "eye"]
        )


def test_manifest_fid_from_fam_needs_unique_iids(tmp_path: Path) -> None:
    fam = pd.DataFrame({"FID": ["a", "b"], "IID": ["1001", "1001"]})
    path = _write(tmp_path / "m.tsv", "IID\teye\tpath\n1001\tL\ta.png\n")
    with pytest.raises(InputError, match="1001 appear more than once in the .fam"):
        read_keyed_table(path, ["eye", "path"], [], "phenotype", fam=fam)


def test_non_numeric_covariate_names_column_ids_and_value(tmp_path: Path) -> None:
    path = _write(tmp_path / "cov.txt", "FID IID age\n1 1001 50\n2 1002 fifty\n")
    with pytest.raises(InputError, match=r"cov\.txt.*column age.*'fifty'.*1002"):
        read_keyed_table(path, [], ["age"], "covariates")


def test_missing_values_are_dropped_and_reported(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "cov.tsv",
        "FID\tIID\tage\tsex\n1000\t1000\t50\t1\n1001\t1001\t\t1\n1002\t1002\tNA\tNA\n",
    )
    table = read_keyed_table(path, [], ["age", "sex"], "covariates")
    assert table["IID"].tolist() == ["1000"]
    dropped = dropped_rows(table).set_index("IID")["reason"]
    assert dropped["1001"] == "missing value in covariates.age"
    assert dropped["1002"] == "missing value in covariates.age; missing value in covariates.sex"


def test_join_reports_everyone_dropped_with_reason(tmp_path: Path) -> None:
    fam = _fam(6)
    cov = read_keyed_table(
        _write(
            tmp_path / "cov.txt",
            "FID IID age\n1000 1000 50\n1001 1001 NA\n1002 1002 40\n1003 1003 41\n1005 1005 3\n",
        ),
        [],
        ["age"],
        "covariates",
    )
    pheno = read_keyed_table(
        _write(
            tmp_path / "m.tsv",
            "IID\teye\tpath\n1005\tL\tx\n1003\tL\tx\n1000\tL\tx\n1000\tR\ty\n1001\tL\tx\n9999\tL\tz\n",
        ),
        ["path"],
        [],
        "phenotype",
        fam=fam,
        unique_by=["IID", "eye"],
    )
    cohort, report = join_cohort({"covariates": cov, "phenotype": pheno}, fam)
    assert cohort["IID"].tolist() == ["1000", "1003", "1005"]  # .fam order
    assert cohort["FAM_ROW"].tolist() == [0, 3, 5]
    reasons = report.set_index("IID")["reason"].to_dict()
    assert reasons == {
        "9999": "not in genotypes (.fam)",
        "1001": "missing value in covariates.age",
        "1004": "not in covariates",
        "1002": "not in phenotype",
    }
    summary = join_summary(report, len(cohort))
    assert summary.columns.tolist() == ["step", "kept", "dropped", "reason"]
    by_reason = summary.set_index("reason")
    assert by_reason.loc["not in covariates", "kept"] == 4
    assert by_reason.loc["not in phenotype", "kept"] == 3
    assert summary["dropped"].sum() == len(report)


def test_min_people_error_names_counts(tmp_path: Path) -> None:
    fam = _fam(4)
    cov = read_keyed_table(
        _write(tmp_path / "cov.txt", "FID IID age\n1000 1000 1\n1001 1001 2\n"),
        [],
        ["age"],
        "covariates",
    )
    with pytest.raises(InputError, match=r"only 2 people.*\.fam: 4, covariates: 2.*Fix"):
        join_cohort({"covariates": cov}, fam, min_people=3)


def test_align_rows_follows_cohort_order(tmp_path: Path) -> None:
    cov = read_keyed_table(
        _write(tmp_path / "cov.txt", "FID IID age\n1001 1001 2\n1000 1000 1\n"),
        [],
        ["age"],
        "covariates",
    )
    ids = _fam(2)
    assert align_rows(cov, ids, ["age"], "covariates")[:, 0].tolist() == [1.0, 2.0]
    with pytest.raises(InputError, match="covariates lacks 1 people"):
        align_rows(cov, _fam(3), ["age"], "covariates")
