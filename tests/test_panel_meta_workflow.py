"""The panel from several external GWAS: the demo's two simulated cohorts (the second in
FinnGen's layout) meta-analysed, against each cohort alone; the rule's wiring."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gemcont.io.panel import read_panel
from gemcont.panel.build import PanelPaths, PanelSettings, build_panel
from gemcont.panel.harmonise_report import KEPT
from gemcont.panel.studies import studies_from_config
from gemcont.report.inputs import ReportInputs
from gemcont.report.sections import panel_section
from gemcont.settings import build

from .conftest import make_config, panel_paths, read
from .test_workflow import dry_run

WINDOW_BP = 1_000_000  # a causal locus is recovered by a panel variant this close


def _panel(bfile: str, sumstats, out: Path) -> PanelPaths:
    section = make_config({"panel": {"min_variants": 1}})["panel"]
    paths = panel_paths(out)
    build_panel(
        studies_from_config(sumstats, {}),
        bfile,
        build(PanelSettings, section, "panel"),
        paths,
        threads=2,
    )
    return paths


@pytest.fixture(scope="module")
def panels(sim_two_cohorts, tmp_path_factory) -> dict[str, PanelPaths]:
    """Panels of cohort 1 alone, cohort 2 alone and of both meta-analysed."""
    _, sim = sim_two_cohorts
    first = {"path": str(sim.sumstats), "name": "cohort_1"}
    second = {"path": str(sim.more_sumstats[0]), "name": "cohort_2"}
    runs = {"cohort_1": [first], "cohort_2": [second], "meta": [first, second]}
    return {
        name: _panel(sim.bfile, studies, tmp_path_factory.mktemp(name))
        for name, studies in runs.items()
    }


def _recovered(panel: pd.DataFrame, causal: pd.DataFrame) -> int:
    """Causal loci with a panel variant on the same chromosome within WINDOW_BP."""
    found = 0
    for locus in causal.itertuples():
        same = panel[panel["CHR"] == str(locus.CHR)]
        found += bool((np.abs(same["POS"] - locus.POS) <= WINDOW_BP).any())
    return found


def test_meta_panel__recovers_at_least_as_many_causal_loci_as_either_cohort(
    sim_two_cohorts, panels
):
    _, sim = sim_two_cohorts
    causal = read(sim.causal)
    found = {name: _recovered(read_panel(p.panel), causal) for name, p in panels.items()}
    assert found["cohort_1"] >= 1 and found["cohort_2"] >= 1, found
    assert found["meta"] >= max(found["cohort_1"], found["cohort_2"]), found


def test_meta_panel__effects_are_the_inverse_variance_combination(sim_two_cohorts, panels):
    """Re-derived from the raw files (project scheme and FinnGen layout), oriented to the
    cohort's A1 here, independently of the reader and harmoniser."""
    _, sim = sim_two_cohorts
    chosen = read_panel(panels["meta"].panel)
    a1 = pd.read_csv(f"{sim.bfile}.bim", sep="\t", header=None, dtype=str)[4].to_numpy()
    first = read(sim.sumstats)
    second = pd.read_csv(sim.more_sumstats[0], sep="\t", dtype={"#chrom": str, "rsids": str})
    idx = chosen["BIM_INDEX"].to_numpy()
    b1 = np.where(first["EA"].to_numpy() == a1, first["BETA"], -first["BETA"])[idx]
    b2 = np.where(second["alt"].to_numpy() == a1, second["beta"], -second["beta"])[idx]
    w1, w2 = first["SE"].to_numpy()[idx] ** -2, second["sebeta"].to_numpy()[idx] ** -2
    np.testing.assert_allclose(chosen["BETA"], (w1 * b1 + w2 * b2) / (w1 + w2), rtol=1e-4)
    np.testing.assert_allclose(chosen["SE"], (w1 + w2) ** -0.5, rtol=1e-4)
    # each variant counts the studies whose harmonisation kept it (strand-ambiguous ones
    # near 0.5 settle in one cohort and not the other)
    meta = pd.read_csv(panels["meta"].meta, sep="\t", dtype={"CHR": str, "ID": str})
    report = pd.read_csv(panels["meta"].harmonise_report, sep="\t", dtype={"ID": str})
    kept = report[report["STATUS"].isin(KEPT)].groupby("BIM_INDEX").size()
    assert (meta["N_STUDIES"].to_numpy() == kept.loc[meta["BIM_INDEX"]].to_numpy()).all()
    assert len(meta) == len(kept) and meta["N_STUDIES"].eq(2).mean() > 0.95
    assert {"DIRECTION", "Q", "I2"} <= set(meta.columns)


def test_meta_panel__reports_per_study(sim_two_cohorts, panels):
    _, sim = sim_two_cohorts
    paths = panels["meta"]
    report = pd.read_csv(paths.harmonise_report, sep="\t", dtype=str)
    n_variants = len(read(sim.sumstats))
    assert report["STUDY"].value_counts().to_dict() == {
        "cohort_1": n_variants,
        "cohort_2": n_variants,
    }
    coverage = pd.read_csv(paths.coverage, sep="\t")
    assert coverage.groupby("study")["count"].sum().to_dict() == {
        "cohort_1": n_variants,
        "cohort_2": n_variants,
    }
    assert not panels["cohort_1"].meta.exists()


def test_workflow__demo_panel_meta_analyses_both_simulated_cohorts(tmp_path):
    out = dry_run(tmp_path, {}, "build_panel")
    rule = out[out.index("rule build_panel:") :]
    rule = rule[: rule.index("\n\n")]
    assert "results/simulate/external_gwas/cohort_2_finngen.tsv.gz" in rule  # input
    assert "results/panel/meta_sumstats.tsv.gz" in rule
    assert "logs/panel/harmonise_report.tsv.gz" in rule and "logs/panel/coverage.tsv" in rule


def test_workflow__one_sumstats_file_declares_no_meta_table(tmp_path):
    single = {
        "simulate": {"external_gwas": {"n_cohorts": 1}},
        "data": {"sumstats": "results/simulate/external_gwas/sumstats.tsv.gz"},
    }
    out = dry_run(tmp_path, single, "build_panel")
    assert "rule build_panel:" in out, out[-3000:]
    assert "meta_sumstats" not in out and "cohort_2_finngen" not in out


def test_workflow__column_map_beside_a_list_fails_naming_the_fix(tmp_path):
    out = dry_run(tmp_path, {"data": {"sumstats_columns": {"EA": "alt"}}}, "build_panel")
    assert "config key 'data.sumstats_columns': applies to a single data.sumstats file" in out


def test_report__panel_section_names_the_meta_analysed_studies(panels, tmp_path):
    paths = panels["meta"]
    inputs = ReportInputs(
        config={"panel": {"meta_scheme": "stderr"}},
        metrics=tmp_path / "unused.tsv",
        splits=tmp_path / "unused.tsv",
        dropped=tmp_path / "unused.tsv",
        panel=paths.panel,
        coverage=paths.coverage,
    )
    html = panel_section(inputs).body
    assert "Meta-analysed from 2 studies (cohort_1, cohort_2), panel.meta_scheme stderr." in html
    coverage = pd.read_csv(paths.coverage, sep="\t")
    matched = coverage[(coverage["study"] == "cohort_2") & (coverage["status"] == "matched")]
    assert f"{int(matched['count'].iloc[0]):,}" in html
    assert "dropped at read" not in html  # statuses no row had are left out
