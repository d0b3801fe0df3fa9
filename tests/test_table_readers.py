"""Keyed tables refused when read (issue 15): text in a numeric covariate, IDs saved as
floats, ragged rows, empty files; the drop report kept when too few people remain."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gemcont.errors import InputError
from gemcont.gwas.inputs import numeric_covariate_columns
from gemcont.io.ids import TooFewPeople, join_cohort, read_keyed_table

from .conftest import make_config

COVARIATE_HEADER = "FID\tIID\tsex\tage\theight\tbmi\tbatch\tcentre\n"


def _config_covariates() -> tuple[list[str], list[str]]:
    spec = make_config()["gwas"]["covariates"]
    numeric = numeric_covariate_columns(spec)
    return [*numeric, *spec["categorical"]], numeric


def test_text_in_a_numeric_covariate_names_file_column_line_and_value(tmp_path: Path) -> None:
    """Before: passed the splits and training, then failed at the GWAS blaming the config."""
    columns, numeric = _config_covariates()
    assert numeric == ["sex", "age", "height", "bmi"]
    path = tmp_path / "covariates.tsv"
    path.write_text(
        COVARIATE_HEADER
        + "1001\t1001\t1\t56\t170.2\t25.1\tA1\t11010\n"
        + "1002\t1002\t0\t61 years\t162.0\t22.8\tA2\t11010\n"
    )
    with pytest.raises(InputError) as err:
        read_keyed_table(path, columns, numeric, "covariates")
    assert str(err.value) == (
        f"{path}: line 3: column age has non-numeric value '61 years' (IIDs 1002). "
        "Fix: use numbers, or NA for a missing value"
    )


def test_ids_saved_by_pandas_as_floats_are_refused(tmp_path: Path) -> None:
    """Before: '0 people (see the drop report)' and no drop report."""
    frame = pd.DataFrame({"IID": [1000001, np.nan, 1000003], "disease_at_assessment": [0, 1, 0]})
    frame["FID"] = frame["IID"]
    path = tmp_path / "disease.tsv"
    frame[["FID", "IID", "disease_at_assessment"]].to_csv(path, sep="\t", index=False)
    assert path.read_text().splitlines()[1].startswith("1000001.0\t1000001.0")
    with pytest.raises(InputError) as err:
        read_keyed_table(path, [], ["disease_at_assessment"], "disease")
    assert str(err.value) == (
        f"{path}: line 2: FID '1000001.0' is a number written as a float; IDs are text and "
        "match the .fam as written (2 such FIDs). Fix: write the IDs as in the .fam, e.g. "
        "1000001 (pandas: df['FID'] = df['FID'].astype('Int64') before to_csv)"
    )


def test_trailing_tab_is_named_by_line(tmp_path: Path) -> None:
    """Before: the columns shifted into nonsense errors."""
    path = tmp_path / "covariates.tsv"
    path.write_text("FID\tIID\tage\n1001\t1001\t56\n1002\t1002\t61\t\n1003\t1003\t48\n")
    with pytest.raises(InputError) as err:
        read_keyed_table(path, [], ["age"], "covariates")
    assert str(err.value) == (
        f"{path}: line 3: 4 fields but the header has 3 (a trailing tab). Fix: write one "
        "field per header column on every line (no trailing tabs)"
    )


def test_empty_table_is_named_by_path(tmp_path: Path) -> None:
    """Before: pandas' EmptyDataError without the path."""
    path = tmp_path / "disease.tsv"
    path.write_bytes(b"")
    with pytest.raises(InputError) as err:
        read_keyed_table(path, [], ["disease_at_assessment"], "disease")
    assert str(err.value) == (
        f"{path}: empty file (0 bytes, no header line). Fix: check the path in the config"
    )


def test_too_few_people_carries_the_drop_report(tmp_path: Path) -> None:
    fam = pd.DataFrame({"FID": ["1", "2"], "IID": ["1", "2"]})
    path = tmp_path / "disease.tsv"
    path.write_text("FID\tIID\tdisease_at_assessment\n1\t1\tNA\n2\t2\t1\n")
    disease = read_keyed_table(path, [], ["disease_at_assessment"], "disease", fam=fam)
    with pytest.raises(TooFewPeople) as err:
        join_cohort({"disease": disease}, fam, min_people=2)
    assert "dropped: disease: 1 missing value in disease.disease_at_assessment" in str(err.value)
    assert err.value.report[["IID", "step", "reason"]].values.tolist() == [
        ["1", "disease", "missing value in disease.disease_at_assessment"]
    ]
