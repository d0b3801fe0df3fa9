"""Withdrawn participants (issue 15): UK Biobank's negative IIDs and the data.exclude list
are left out of the PCA, the features, the phenotype store (exclusions, nothing read),
the splits (drop report), the embeddings, the evaluation and the GWAS inputs, and counted
in the HTML report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gemcont.evaluate.collect import EvaluateSettings, evaluate_run, read_table
from gemcont.genotypes.stage import PcsSettings, compute_pcs
from gemcont.io.embeddings import read_embeddings
from gemcont.io.plink import read_fam, write_bed
from gemcont.io.withdrawn import consenting_rows, withdrawn
from gemcont.phenotypes import fundus
from gemcont.phenotypes.fundus import build_fundus_store
from gemcont.phenotypes.spirometry import build_spirometry_store
from gemcont.phenotypes.store import open_images, read_exclusions, read_index
from gemcont.report.sections import cohort_section
from gemcont.settings import from_section
from gemcont.splits import SplitsSettings, build_splits, eligible_people
from gemcont.train.config import TrainSettings
from gemcont.train.stage import StageInputs, export_stage

from .test_phenotype_store import exponential_blow, fundus_like
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
    assert consenting_rows(fam, withdrawn(fam)).tolist() == [
        i for i in range(20) if i not in (3, 10)
    ]


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


# ------------------------------------------- the phenotype store, the export, evaluation

NEGATIVE = "withdrawn (negative IID)"
LISTED = "withdrawn (listed in data.exclude)"


def _blow_table(path: Path, iids: list[str], malformed: tuple[str, ...] = ()) -> Path:
    """A field-3066 table as the UK Biobank showcase exports it (eid, one column per blow);
    the people in ``malformed`` have a cell that is not a blow."""
    lines = ["eid\t3066-0.0\t3066-0.1"]
    for k, iid in enumerate(iids):
        cell = "0,15,abc,90" if iid in malformed else exponential_blow(3000.0 + 20 * k)
        lines.append(f"{iid}\t{cell}\t")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_spirometry_store_reads_no_blow_of_withdrawn_people(tmp_path: Path) -> None:
    """Before: their blows were checked, rasterised and stored."""
    iids = _ukb_iids(20)
    _ukb_fileset(tmp_path / "ukb", iids)
    exclude = tmp_path / "withdrawals.txt"
    exclude.write_text("# UK Biobank withdrawals, FID IID\n1000006 1000006\n1000008 1000008\n")
    table = _blow_table(tmp_path / "ukb_3066.tsv", iids, malformed=("-1",))
    index = build_spirometry_store(
        table,
        tmp_path / "store",
        raster_size=32,
        fam=read_fam(tmp_path / "ukb.fam"),
        exclude=exclude,
    )
    gone = {"-1", "-2", "1000006", "1000008"}
    assert index["IID"].tolist() == [i for i in iids if i not in gone]
    assert read_exclusions(tmp_path / "store" / "exclusions.tsv").values.tolist() == [
        ["-1", "-1", "eid", NEGATIVE],  # its malformed blow never parsed
        ["1000006", "1000006", "eid", LISTED],
        ["1000008", "1000008", "eid", LISTED],
        ["-2", "-2", "eid", NEGATIVE],
    ]
    assert len(open_images(tmp_path / "store" / "images.npy")) == 16


def test_fundus_store_opens_no_image_of_withdrawn_people(tmp_path: Path, monkeypatch) -> None:
    """Before: their photographs were decoded and stored."""
    iids = _ukb_iids(12)
    _ukb_fileset(tmp_path / "ukb", iids)
    for name in ("a", "b", "c", "d"):
        fundus_like(tmp_path / f"{name}.png", (60, 60), (5, 5, 55, 55))
    manifest = tmp_path / "fundus.tsv"  # UK Biobank style: no FID column
    manifest.write_text(
        "IID\teye\tpath\n"
        "1000001\tleft\ta.png\n"
        "-1\tleft\tb.png\n"
        "1000005\tright\tc.png\n"
        "-2\tNA\td.png\n"  # dropped for its missing eye, but withdrawn first
        "1000099\tleft\td.png\n"  # not in the .fam, and on the list
        "1000002\tright\td.png\n"
    )
    exclude = tmp_path / "withdrawals.txt"
    exclude.write_text("1000005\n1000099\n")
    opened = []
    real = fundus.preprocess_image
    monkeypatch.setattr(
        fundus, "preprocess_image", lambda path, *a: opened.append(path.name) or real(path, *a)
    )
    index = build_fundus_store(
        manifest,
        tmp_path / "store",
        image_size=16,
        fam=read_fam(tmp_path / "ukb.fam"),
        exclude=exclude,
    )
    assert opened == ["a.png", "d.png"]
    assert index["IID"].tolist() == ["1000001", "1000002"]
    assert read_exclusions(tmp_path / "store" / "exclusions.tsv").values.tolist() == [
        ["", "1000099", "manifest row", LISTED],
        ["-2", "-2", "manifest row", NEGATIVE],
        ["-1", "-1", str(tmp_path / "b.png"), NEGATIVE],
        ["1000005", "1000005", str(tmp_path / "c.png"), LISTED],
    ]


def test_withdrawn_people_get_no_embedding_and_no_evaluation(tmp_path: Path, caplog) -> None:
    """A UK Biobank-style cohort through store, splits, export and evaluation: the
    withdrawn (negative IIDs, the list) and a person dropped for another reason (no
    disease status) get no embedding row; the held-out set is exactly the splits'."""
    n = 100
    iids = _ukb_iids(n)
    _ukb_fileset(tmp_path / "ukb", iids)
    fam = read_fam(tmp_path / "ukb.fam")
    exclude = tmp_path / "withdrawals.txt"
    exclude.write_text("1000006\n1000021\n")
    gone = {"-1", "-2", "1000006", "1000021"}
    table = _blow_table(tmp_path / "ukb_3066.tsv", iids)
    store = tmp_path / "store"
    build_spirometry_store(table, store, raster_size=16, curve_points=20, fam=fam, exclude=exclude)
    assert not gone & set(read_index(store / "index.tsv")["IID"])
    k = np.arange(n)
    everyone = fam.assign(disease_at_assessment=(k % 3 == 0).astype(int))
    everyone = everyone.assign(incident_5y=(k % 3 == 1).astype(int), age=50 + k % 20)
    disease = tmp_path / "disease.tsv"  # lists the withdrawn; lacks 1000002
    everyone.drop(index=1)[["FID", "IID", "disease_at_assessment", "incident_5y"]].to_csv(
        disease, sep="\t", index=False
    )
    everyone[["FID", "IID", "age"]].to_csv(tmp_path / "covariates.tsv", sep="\t", index=False)
    everyone.assign(marker=k / n)[["FID", "IID", "marker"]].to_csv(
        tmp_path / "marker.tsv", sep="\t", index=False
    )
    (tmp_path / "splits").mkdir()
    splits = build_splits(
        str(tmp_path / "ukb.fam"),
        store / "index.tsv",
        store / "exclusions.tsv",
        str(disease),
        str(tmp_path / "covariates.tsv"),
        ["age"],
        ["age"],
        SplitsSettings(n_splits=2, train_fraction=0.5, seed=1, min_people=10),
        tmp_path / "splits" / "splits.tsv",
        tmp_path / "splits" / "dropped.tsv",
        str(exclude),
    )
    assert len(splits) == n - 5 and not gone & set(splits["IID"])
    consenting = fam[~fam["IID"].isin(gone)]
    features = tmp_path / "features"
    features.mkdir()
    consenting.to_csv(features / "features_ids.tsv", sep="\t", index=False)
    np.save(features / "features.npy", np.ones((len(consenting), 2), np.float32))
    pd.DataFrame({"ID": ["v1", "v2"], "COLUMN": [0, 1], "BETA": [0.5, -0.5]}).to_csv(
        features / "features_report.tsv", sep="\t", index=False
    )
    stage = StageInputs(
        images=store / "images.npy",
        index=store / "index.tsv",
        features=features / "features.npy",
        feature_ids=features / "features_ids.tsv",
        feature_report=features / "features_report.tsv",
        splits=tmp_path / "splits" / "splits.tsv",
        dropped=tmp_path / "splits" / "dropped.tsv",
        marker=tmp_path / "marker.tsv",
    )
    out = tmp_path / "embeddings.tsv.gz"
    with caplog.at_level("INFO", logger="gemcont.train.stage"):
        export_stage(
            "clinical", 1, stage, from_section(TrainSettings, "train"), "spirometry", "marker", out
        )
    assert (
        f"1 people of the phenotype store left out: absent from {stage.splits} (1 disease)"
        in caplog.messages
    )
    emb = read_embeddings(out)
    assert not gone & set(emb["IID"]) and "1000002" not in set(emb["IID"])
    expected = splits.set_index(["FID", "IID"])["split_1"].sort_index()
    assert emb.set_index(["FID", "IID"])["set"].sort_index().equals(expected)

    scores_out = tmp_path / "scores.tsv.gz"
    settings = from_section(EvaluateSettings, "evaluate", {"n_folds": 3, "inner_folds": 3})
    metrics = evaluate_run(
        "clinical", 1, settings, 2026, embeddings=out, disease=disease, scores_out=scores_out
    )
    heldout = splits.loc[splits["split_1"] == "heldout", ["FID", "IID"]]
    scored = read_table(scores_out)
    assessed = scored[scored["outcome"] == "assessment"]
    assert sorted(zip(assessed["FID"], assessed["IID"], strict=True)) == sorted(
        zip(heldout["FID"], heldout["IID"], strict=True)
    )
    assert not gone & set(scored["IID"])
    values = metrics.set_index("metric")["value"]
    assert values["n_assessment"] == len(heldout)
