"""Withdrawn participants (issue 15): UK Biobank's negative IIDs and the data.exclude list
are left out of the PCA, the features, the splits (drop report) and the GWAS inputs, and
counted in the HTML report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gemcont.genotypes.stage import PcsSettings, compute_pcs
from gemcont.io.plink import read_fam, write_bed
from gemcont.io.withdrawn import consenting_rows, withdrawn
from gemcont.report.sections import cohort_section
from gemcont.splits import eligible_people

from .test_report import inputs  # noqa: F401  (the report fixture)

PCS = PcsSettings(
    source="builtin",
    file=None,
    n_pcs=3,
    plink2_mode="exact",
    ld_window_kb=1000,
    ld_r2=0.9,
    maf_min=0.01,
    seed=1,
)


def _ukb_fileset(prefix: Path, iids: list[str], seed: int = 3) -> np.ndarray:
    """A fileset as UK Biobank ships it: FID = IID, withdrawn people as -1, -2, ..."""
    rng = np.random.default_rng(seed)
    n, m = len(iids), 80
    g = rng.binomial(2, rng.uniform(0.1, 0.9, m), (n, m)).astype(np.float32)
    fam = pd.DataFrame({"FID": iids, "IID": iids})
    bim = pd.DataFrame(
        {
            "CHR": "1",
            "ID": [f"rs{j}" for j in range(m)],
            "CM": 0.0,
            "POS": 1000 + np.arange(m) * 100_000,
            "A1": "A",
            "A2": "G",
        }
    )
    write_bed(prefix, g, fam, bim)
    return g


def _ukb_iids(n: int) -> list[str]:
    iids = [str(1000001 + i) for i in range(n)]
    iids[3], iids[10] = "-1", "-2"
    return iids


def test_negative_iids_and_the_exclude_list_are_withdrawn(tmp_path: Path) -> None:
    _ukb_fileset(tmp_path / "ukb", _ukb_iids(20))
    fam = read_fam(tmp_path / "ukb.fam")
    exclude = tmp_path / "w12345_20240101.csv"
    exclude.write_text("1000006\n1000099\n")  # one not in the .fam
    rows = withdrawn(fam, exclude).values.tolist()
    assert rows == [
        ["-1", "-1", "withdrawn", "negative IID (withdrawn from UK Biobank)"],
        ["1000006", "1000006", "withdrawn", f"listed in data.exclude ({exclude})"],
        ["-2", "-2", "withdrawn", "negative IID (withdrawn from UK Biobank)"],
    ]
    assert consenting_rows(fam).tolist() == [i for i in range(20) if i not in (3, 10)]


def test_withdrawn_people_take_no_part_in_the_pca(tmp_path: Path) -> None:
    """Before: they entered the PCA without a word."""
    iids = _ukb_iids(60)
    g = _ukb_fileset(tmp_path / "ukb", iids)
    compute_pcs(str(tmp_path / "ukb"), PCS, tmp_path / "pcs.tsv", threads=1)
    pcs = pd.read_csv(tmp_path / "pcs.tsv", sep="\t", dtype={"FID": str, "IID": str})
    assert "-1" not in set(pcs["IID"]) and "-2" not in set(pcs["IID"]) and len(pcs) == 58
    # the same PCs as from a fileset that never held them
    keep = [i for i, iid in enumerate(iids) if not iid.startswith("-")]
    fam = pd.DataFrame({"FID": [iids[i] for i in keep], "IID": [iids[i] for i in keep]})
    bim = pd.read_csv(tmp_path / "ukb.bim", sep="\t", header=None)
    bim.columns = ["CHR", "ID", "CM", "POS", "A1", "A2"]
    write_bed(tmp_path / "consenting", g[keep], fam, bim)
    compute_pcs(str(tmp_path / "consenting"), PCS, tmp_path / "pcs_c.tsv", threads=1)
    expected = pd.read_csv(tmp_path / "pcs_c.tsv", sep="\t", dtype={"FID": str, "IID": str})
    pd.testing.assert_frame_equal(pcs, expected)


def test_withdrawn_people_are_in_the_drop_report(tmp_path: Path) -> None:
    iids = _ukb_iids(20)
    fam = pd.DataFrame({"FID": iids, "IID": iids})
    everyone = fam.copy()
    disease = everyone.assign(disease_at_assessment=np.arange(20) % 2)
    people, report = eligible_people(
        fam, everyone, disease, withdrawals=withdrawn(fam), min_people=1
    )
    assert len(people) == 18 and not people["IID"].str.startswith("-").any()
    rows = report.astype({"step": str}).values.tolist()
    assert rows == [
        ["-1", "-1", "withdrawn", "negative IID (withdrawn from UK Biobank)"],
        ["-2", "-2", "withdrawn", "negative IID (withdrawn from UK Biobank)"],
    ]


def test_html_report_counts_withdrawn_per_reason(inputs) -> None:  # noqa: F811
    dropped = pd.read_csv(inputs.dropped, sep="\t", dtype=str)
    extra = pd.DataFrame(
        {
            "FID": ["-1", "-2"],
            "IID": ["-1", "-2"],
            "step": "withdrawn",
            "reason": "negative IID (withdrawn from UK Biobank)",
        }
    )
    pd.concat([extra, dropped]).to_csv(inputs.dropped, sep="\t", index=False)
    html = cohort_section(inputs).body
    row = html[html.index("withdrawn") :]
    row = row[: row.index("</tr>")]
    assert "negative IID (withdrawn from UK Biobank)" in row and ">2<" in row
