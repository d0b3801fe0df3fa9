"""The panel stage on the simulated cohort: recovers the causal loci, LD-independent,
engine-agnostic, and loud about panels that end up too small."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gemcont.errors import InputError
from gemcont.io.panel import read_panel
from gemcont.io.plink import Genotypes
from gemcont.panel.build import PanelPaths, PanelSettings, _chrom_key, build_panel
from gemcont.settings import build

from .conftest import make_config, read


def panel_paths(out: Path) -> PanelPaths:
    return PanelPaths(
        panel=out / "panel.tsv",
        coverage=out / "coverage.tsv",
        harmonise_report=out / "harmonise.tsv.gz",
        clumps=out / "clumps.tsv",
    )


def run_panel(sim, out: Path, **override) -> tuple[PanelSettings, PanelPaths]:
    _, paths = sim
    section = make_config({"panel": {"min_variants": 3, **override}})["panel"]
    cfg = build(PanelSettings, section, "panel")
    out_paths = panel_paths(out)
    build_panel(str(paths.sumstats), {}, paths.bfile, cfg, out_paths, threads=2)
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
    assert "P < 1e-300" in message and "panel.min_variants is 5" in message
    assert "the panel has 0 variants" in message


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
