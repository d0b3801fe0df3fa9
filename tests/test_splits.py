"""Eligible people and disease-stratified random train / held-out splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gemcont.errors import InputError
from gemcont.io.ids import read_keyed_table
from gemcont.splits import DISEASE, eligible_people, make_splits


def cohort(n: int, n_cases: int) -> pd.DataFrame:
    iid = [f"id{i}" for i in range(n)]
    status = np.zeros(n, dtype=int)
    status[np.random.default_rng(0).choice(n, n_cases, replace=False)] = 1
    return pd.DataFrame({"FID": iid, "IID": iid, DISEASE: status})


@pytest.mark.parametrize(("n", "n_cases"), [(1000, 100), (1001, 101), (37, 5)])
def test_splits_are_half_and_stratified(n: int, n_cases: int) -> None:
    people = cohort(n, n_cases)
    splits = make_splits(people, n_splits=5, train_fraction=0.5, seed=11)
    assert list(splits.columns) == ["FID", "IID", *[f"split_{k}" for k in range(5)]]
    assert splits["IID"].tolist() == people["IID"].tolist()
    case = people[DISEASE].to_numpy() == 1
    for k in range(5):
        train = (splits[f"split_{k}"] == "train").to_numpy()
        assert set(splits[f"split_{k}"]) == {"train", "heldout"}
        assert abs(train.sum() - (~train).sum()) <= 1
        assert abs((train & case).sum() - (~train & case).sum()) <= 1


def test_splits_are_seeded_and_independent() -> None:
    people = cohort(400, 60)
    a = make_splits(people, seed=3)
    pd.testing.assert_frame_equal(a, make_splits(people, seed=3))
    assert not a["split_0"].equals(make_splits(people, seed=4)["split_0"])
    cols = [f"split_{k}" for k in range(5)]
    assert len({tuple(a[c]) for c in cols}) == 5
    pd.testing.assert_series_equal(make_splits(people, n_splits=2, seed=3)["split_1"], a["split_1"])
    for c in cols:
        train = set(a.loc[a[c] == "train", "IID"])
        heldout = set(a.loc[a[c] == "heldout", "IID"])
        assert not train & heldout and len(train | heldout) == 400


def test_train_fraction_is_respected() -> None:
    splits = make_splits(cohort(200, 40), n_splits=1, train_fraction=0.8, seed=0)
    assert (splits["split_0"] == "train").sum() == 160
    with pytest.raises(ValueError, match="train_fraction"):
        make_splits(cohort(10, 2), train_fraction=1.0)


def test_eligible_people_reports_every_drop(tmp_path: Path) -> None:
    fam = pd.DataFrame({"FID": [f"F{i}" for i in range(8)], "IID": [str(i) for i in range(8)]})
    index = pd.DataFrame(
        {"FID": ["F0", "F0", "F1", "F2", "F3", "F5", "F6", "X9"], "IID": list("00123569")}
    ).assign(eye="left", row=range(8))
    exclusions = pd.DataFrame(
        [("F4", "4", "img/4.jpg", "file not found"), ("F0", "0", "img/0r.jpg", "all black")],
        columns=["FID", "IID", "item", "reason"],
    )
    (tmp_path / "disease.tsv").write_text(
        "FID\tIID\tdisease_at_assessment\n"
        "F0\t0\t1\nF1\t1\t0\nF2\t2\tNA\nF3\t3\t0\nF4\t4\t1\nF6\t6\t1\nF7\t7\t0\n"
    )
    disease = read_keyed_table(tmp_path / "disease.tsv", [], [DISEASE], "disease")
    people, report = eligible_people(fam, index, disease, exclusions=exclusions)
    expected = [["F0", "0", 1], ["F1", "1", 0], ["F3", "3", 0], ["F6", "6", 1]]
    assert people.values.tolist() == expected
    assert people[DISEASE].dtype == np.int64
    why = report.set_index("IID")["reason"].to_dict()
    assert why == {
        "9": "not in genotypes (.fam)",
        "4": "img/4.jpg: file not found",
        "7": "not in phenotypes",
        "2": "missing value in disease.disease_at_assessment",
        "5": "not in disease",
    }


def test_disease_must_be_binary() -> None:
    fam = pd.DataFrame({"FID": ["a", "b"], "IID": ["a", "b"]})
    index = fam.assign(eye="", row=[0, 1])
    disease = fam.assign(**{DISEASE: [0.0, 2.0]})
    with pytest.raises(InputError, match="must be 0 or 1; IID b has 2.0"):
        eligible_people(fam, index, disease)
