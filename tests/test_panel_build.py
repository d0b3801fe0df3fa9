"""The panel stage on the simulated cohort: recovers the causal loci, LD-independent,
engine-agnostic, and loud about panels that end up too small; the data.sumstats forms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gemcont.errors import ConfigError, InputError
from gemcont.io.panel import PANEL_COLUMNS, read_panel
from gemcont.io.plink import Genotypes
from gemcont.panel.build import PanelPaths, PanelSettings, _chrom_key, build_panel
from gemcont.panel.harmonise_report import KEPT
from gemcont.panel.studies import Study, studies_from_config
from gemcont.settings import build

from .conftest import make_config, panel_paths, read


def run_panel(
    sim, out: Path, sumstats: Path | None = None, columns: dict | None = None, **override
) -> tuple[PanelSettings, PanelPaths]:
    _, paths = sim
    section = make_config({"panel": {"min_variants": 3, **override}})["panel"]
    cfg = build(PanelSettings, section, "panel")
    out_paths = panel_paths(out)
    studies = studies_from_config(str(sumstats or paths.sumstats), columns or {})
    build_panel(studies, paths.bfile, cfg, out_paths, threads=2)
    return cfg, out_paths


@pytest.fixture(scope="module")
def panel(sim, tmp_path_factory):
    return run_panel(sim, tmp_path_factory.mktemp("panel"))


def test_build_panel__represents_every_detected_causal_locus(sim, panel):
    _, sim_paths = sim
    _, paths = panel
    causal = read(sim_paths.causal)
    sumstats = read(sim_paths.sumstats).set_index("ID")
    detected = causal[sumstats.loc[causal["ID"], "P"].to_numpy() < 1e-5]
    assert len(detected) >= 2  # the small cohort has detectable loci to check
    chosen = read_panel(paths.panel)
    for locus in detected.itertuples():
        same_chr = chosen[chosen["CHR"] == str(locus.CHR)]
        assert (np.abs(same_chr["POS"] - locus.POS) <= 1_000_000).any(), locus.ID


def test_build_panel__no_two_variants_in_ld(sim, panel):
    _, sim_paths = sim
    _, paths = panel
    chosen = read_panel(paths.panel)
    with Genotypes(sim_paths.bfile) as geno:
        g = geno.read(chosen["BIM_INDEX"].to_numpy(), dtype="float64")
    g = np.where(np.isnan(g), np.nanmean(g, axis=0), g)
    r2 = np.corrcoef(g, rowvar=False) ** 2
    pos = chosen["POS"].to_numpy()
    same = (chosen["CHR"].to_numpy()[:, None] == chosen["CHR"].to_numpy()[None, :]) & (
        np.abs(pos[:, None] - pos[None, :]) <= 5_000_000
    )
    np.fill_diagonal(same, False)
    assert (r2[same] < 0.05).all(), r2[same].max()


def test_build_panel__effects_for_cohort_a1(sim, panel):
    _, sim_paths = sim
    _, paths = panel
    chosen = read_panel(paths.panel)
    with Genotypes(sim_paths.bfile) as geno:
        a1 = geno.bim["A1"].to_numpy()[chosen["BIM_INDEX"]]
        ids = geno.bim["ID"].to_numpy()[chosen["BIM_INDEX"]]
    assert (chosen["EA"].to_numpy() == a1).all()
    assert (chosen["ID"].to_numpy() == ids).all()
    # the raw sumstats report about a third of these for the other allele: signs must follow
    raw = read(sim_paths.sumstats).set_index("ID").loc[chosen["ID"]]
    swapped = raw["EA"].to_numpy() != a1
    np.testing.assert_allclose(
        np.where(swapped, -raw["BETA"], raw["BETA"]), chosen["BETA"], rtol=1e-5
    )


def test_build_panel__plink_clumping_chooses_same_index_variants(sim, panel, tmp_path):
    _, paths = panel
    _, plink_paths = run_panel(sim, tmp_path, clump_engine="plink1.9")
    assert read_panel(paths.panel)["ID"].tolist() == read_panel(plink_paths.panel)["ID"].tolist()


def test_build_panel__tiny_panel_stops_naming_threshold_and_counts(sim, tmp_path):
    with pytest.raises(InputError) as err:
        run_panel(sim, tmp_path, p_threshold=1e-300, min_variants=5)
    message = str(err.value)
    assert "P <= 1e-300" in message and "panel.min_variants is 5" in message
    assert "the panel has 0 variants" in message
    # the main drop reasons with their counts, from the report kept in logs/
    report = pd.read_csv(tmp_path / "logs" / "harmonise.tsv.gz", sep="\t", dtype=str)
    dropped = report[~report["STATUS"].isin(KEPT)]
    top = dropped["STATUS"].value_counts()
    example = dropped.loc[dropped["STATUS"] == top.index[0], "REASON"].iloc[0]
    assert f"main drop reasons: {top.index[0]} ({top.iloc[0]:,} rows, e.g. {example})" in message
    assert f"(every row and its reason: {tmp_path / 'logs' / 'harmonise.tsv.gz'})" in message


def test_build_panel__one_file_writes_no_meta_table_and_keeps_log10p(sim, panel):
    _, sim_paths = sim
    _, paths = panel
    assert not paths.meta.exists()
    chosen = read_panel(paths.panel)
    assert list(chosen.columns) == PANEL_COLUMNS
    raw = read(sim_paths.sumstats).set_index("ID").loc[chosen["ID"]]
    np.testing.assert_allclose(chosen["LOG10P"], -np.log10(raw["P"]), rtol=1e-6)
    # the reports carry the study's name, and their logs/ copies are the same files
    report = pd.read_csv(paths.harmonise_report, sep="\t", dtype=str)
    assert set(report["STUDY"]) == {"sumstats"}
    assert paths.harmonise_report.read_bytes() == paths.harmonise_log.read_bytes()
    coverage = pd.read_csv(paths.coverage, sep="\t")
    assert set(coverage["study"]) == {"sumstats"}
    assert coverage["count"].sum() == len(read(sim_paths.sumstats))
    assert paths.coverage.read_bytes() == paths.coverage_log.read_bytes()


def test_build_panel__p_below_double_range_kept_as_log10p(sim, panel, tmp_path):
    _, sim_paths = sim
    top = read_panel(panel[1].panel).sort_values("P").iloc[0]
    raw = read(sim_paths.sumstats)
    text = raw.astype({"P": str})
    text.loc[text["ID"] == top["ID"], "P"] = "3e-400"
    edited = tmp_path / "sumstats.tsv"
    text.to_csv(edited, sep="\t", index=False)
    _, paths = run_panel(sim, tmp_path, sumstats=edited)
    row = read_panel(paths.panel).set_index("ID").loc[top["ID"]]
    assert row["P"] == 0
    assert row["LOG10P"] == pytest.approx(400 - np.log10(3), abs=1e-5)  # 8 digits written


def test_build_panel__dropped_hit_logged_by_name(sim, panel, tmp_path, caplog):
    _, sim_paths = sim
    top = read_panel(panel[1].panel).sort_values("P").iloc[0]
    raw = read(sim_paths.sumstats)
    row = raw["ID"] == top["ID"]
    # an allele pair the cohort does not have at that position: the lead is dropped
    raw.loc[row, ["EA", "OA"]] = ["AC", "A"]
    edited = tmp_path / "sumstats.tsv"
    raw.to_csv(edited, sep="\t", index=False)
    with caplog.at_level("WARNING"):
        _, paths = run_panel(sim, tmp_path, sumstats=edited)
    assert top["ID"] not in read_panel(paths.panel)["ID"].to_numpy()
    assert f"{top['ID']} (sumstats: dropped_allele_mismatch)" in caplog.text


def test_build_panel__no_eaf_column_warns_with_the_ambiguous_count(sim, tmp_path, caplog):
    raw = read(sim[1].sumstats).drop(columns="EAF")
    edited = tmp_path / "no_eaf.tsv"
    raw.to_csv(edited, sep="\t", index=False)
    with caplog.at_level("WARNING"):
        _, paths = run_panel(sim, tmp_path, sumstats=edited)
    report = pd.read_csv(paths.harmonise_report, sep="\t", dtype=str)
    n_ambiguous = int(report["REASON"].str.endswith("and no EAF to resolve it").sum())
    assert n_ambiguous > 0
    assert (
        f"no_eaf: no EAF column: {n_ambiguous} strand-ambiguous variants dropped for lack of "
        "it; the effect allele was not checked against the cohort's allele frequencies"
    ) in caplog.text
    # and the report's table says so (gemcont/report/sections.py reads it)
    (check,) = pd.read_csv(paths.eaf_check, sep="\t").to_dict("records")
    assert check["study"] == "no_eaf" and not check["checked"]
    assert check["n_compared"] == 0 and check["n_ambiguous_without_eaf"] == n_ambiguous


def test_build_panel__swapped_effect_allele_map_stops_with_the_report_kept(sim, tmp_path):
    with pytest.raises(InputError) as err:
        run_panel(sim, tmp_path, columns={"EA": "OA", "OA": "EA"})
    assert "EA=OA, OA=EA, BETA=BETA, EAF=EAF (layout generic)" in str(err.value)
    # the per-row report and the coverage were written to logs/ before the check stopped
    report = pd.read_csv(tmp_path / "logs" / "harmonise.tsv.gz", sep="\t", dtype=str)
    assert len(report) == len(read(sim[1].sumstats))
    assert (tmp_path / "logs" / "coverage.tsv").stat().st_size > 0


def test_studies_from_config__one_path_keeps_its_column_map() -> None:
    (study,) = studies_from_config("/data/GCST90012345.h.tsv.gz", {"EA": "ALT"})
    assert study == Study("GCST90012345", "/data/GCST90012345.h.tsv.gz", {"EA": "ALT"})


def test_studies_from_config__list_of_paths_and_entries() -> None:
    studies = studies_from_config(
        ["/a/mvp.tsv.gz", {"path": "/b/finngen_R12.gz", "name": "fg", "columns": {"P": "pval"}}],
        {},
    )
    assert studies == (
        Study("mvp", "/a/mvp.tsv.gz", {}),
        Study("fg", "/b/finngen_R12.gz", {"P": "pval"}),
    )


def test_studies_from_config__column_map_with_a_list_is_refused() -> None:
    with pytest.raises(ConfigError) as err:
        studies_from_config(["/a/x.tsv", "/b/y.tsv"], {"EA": "ALT"})
    assert str(err.value) == (
        "config key 'data.sumstats_columns': applies to a single data.sumstats file, but "
        "data.sumstats lists 2 studies; give the map to its study instead, as "
        "data.sumstats: [{path: <file>, columns: {...}}, ...], and remove data.sumstats_columns"
    )


def test_studies_from_config__names_must_be_unique() -> None:
    with pytest.raises(ConfigError) as err:
        studies_from_config(["/a/sumstats.tsv.gz", "/b/sumstats.tsv.gz"], {})
    assert str(err.value) == (
        "config key 'data.sumstats': study name 'sumstats' is used by 2 entries "
        "(/a/sumstats.tsv.gz, /b/sumstats.tsv.gz); name each study uniquely: "
        "{path: <file>, name: <study>}"
    )


def test_config__sumstats_list_entries_validated_by_the_schema() -> None:
    with pytest.raises(ConfigError, match="data.sumstats"):
        make_config({"data": {"sumstats": [{"name": "no_path"}]}})
    with pytest.raises(ConfigError, match="data.sumstats"):
        make_config({"data": {"sumstats": []}})


def test_panel_order__x_and_y_after_the_autosomes_not_interleaved() -> None:
    panel = pd.DataFrame({"CHR": ["Y", "X", "10", "X", "2", "Y"], "POS": [5, 9, 1, 3, 7, 1]})
    ordered = panel.sort_values(["CHR", "POS"], key=_chrom_key)
    assert list(zip(ordered["CHR"], ordered["POS"], strict=True)) == [
        ("2", 7),
        ("10", 1),
        ("X", 3),
        ("X", 9),
        ("Y", 1),
        ("Y", 5),
    ]
