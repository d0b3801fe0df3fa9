"""The panel built from each published sumstats layout equals the panel built from the
canonical file: the simulated external GWAS rewritten in every layout (random REF/ALT
orientation per variant, the layout's missing-value tokens and extra rows; writers in
tests/sumstats_writers.py), one study each, against the simulated cohort's .bed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from gemcont.errors import InputError
from gemcont.io.panel import read_panel
from gemcont.io.sumstats import load_sumstats
from gemcont.panel.build import PanelSettings, build_panel
from gemcont.panel.harmonise_report import KEPT
from gemcont.panel.studies import Study
from gemcont.settings import build

from .conftest import make_config, panel_paths, read
from .sumstats_writers import WRITERS

# looser than the default 5e-8: a larger panel to compare (7 index variants on the small
# cohort, some near the threshold where P's printed digits matter)
P_THRESHOLD = 1e-4
WITH_EAF = [
    "finngen",
    "gwas_ssf",
    "gwas_catalog_harmonised",
    "plink2_glm",
    "regenie",
    "bolt_lmm",
    "saige",
    "metal_stderr",
]
WITHOUT_EAF = ["metal_samplesize", "plink1_assoc", "plink1_linear"]
# the effect's scale: METAL SAMPLESIZE has Z and N only (BETA = Z/sqrt(N)); PLINK 1.9
# .assoc has OR and P only (SE from P); every other layout prints the canonical BETA/SE
SE_FROM_P = {"plink1_assoc"}


@dataclass(frozen=True)
class Built:
    """One build_panel run: its panel.tsv and per-row harmonise report."""

    panel: pd.DataFrame
    report: pd.DataFrame


@pytest.fixture(scope="module")
def cfg() -> PanelSettings:
    section = make_config({"panel": {"min_variants": 3, "p_threshold": P_THRESHOLD}})["panel"]
    return build(PanelSettings, section, "panel")


def _build(sim, cfg: PanelSettings, path: str, out: Path, columns=None) -> Built:
    paths = panel_paths(out)
    build_panel([Study(out.name, path, columns or {})], sim[1].bfile, cfg, paths, threads=2)
    return Built(read_panel(paths.panel), pd.read_csv(paths.harmonise_report, sep="\t", dtype=str))


@pytest.fixture(scope="module")
def truth(sim) -> pd.DataFrame:
    """The canonical file's statistics, as the writers take them (A1 = the file's EA)."""
    raw = read(sim[1].sumstats)
    return pd.DataFrame(
        {"CHR": raw["CHR"], "POS": raw["POS"], "ID": raw["ID"], "A1": raw["EA"]}
        | {"A2": raw["OA"], "EAF": raw["EAF"], "N": raw["N"], "BETA": raw["BETA"]}
        | {"SE": raw["SE"], "LOG10P": -np.log10(raw["P"])}
    )


@pytest.fixture(scope="module")
def canonical(sim, cfg, tmp_path_factory) -> Built:
    return _build(sim, cfg, str(sim[1].sumstats), tmp_path_factory.mktemp("canonical"))


@pytest.fixture(scope="module")
def canonical_without_eaf(sim, cfg, tmp_path_factory) -> Built:
    """The canonical file less its EAF column: what a layout without EAF can give."""
    out = tmp_path_factory.mktemp("canonical_without_eaf")
    read(sim[1].sumstats).drop(columns="EAF").to_csv(out / "no_eaf.tsv", sep="\t", index=False)
    return _build(sim, cfg, str(out / "no_eaf.tsv"), out)


@pytest.fixture(scope="module")
def layout_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("layouts")


@pytest.fixture(scope="module")
def built(sim, cfg, truth, layout_dir):
    """Each layout's file, written once, and its panel, built once."""
    cache: dict[str, tuple[str, Built]] = {}

    def get(name: str) -> tuple[str, Built]:
        if name not in cache:
            path = WRITERS[name].write(truth, layout_dir)
            cache[name] = (path, _build(sim, cfg, path, layout_dir / name))
        return cache[name]

    return get


def _assert_same_panel(got: pd.DataFrame, want: pd.DataFrame, name: str) -> None:
    """Same index variants, alleles and statistics; P and LOG10P to the digits a layout
    prints (FinnGen's mlogp and REGENIE's LOG10P have 6 decimals)."""
    assert len(want) >= 5  # a panel worth comparing
    for column in ("ID", "CHR", "POS", "EA", "OA", "BIM_INDEX"):
        assert got[column].tolist() == want[column].tolist(), column
    np.testing.assert_allclose(got["LOG10P"], want["LOG10P"], rtol=0, atol=2e-6)
    np.testing.assert_allclose(got["P"], want["P"], rtol=5e-6)
    np.testing.assert_allclose(got["EAF"], want["EAF"], rtol=0, atol=1e-7)  # NaN == NaN
    np.testing.assert_array_equal(np.sign(got["BETA"]), np.sign(want["BETA"]))
    if name == "metal_samplesize":
        return  # another scale: test_panel__metal_samplesize_beta_is_z_over_sqrt_n
    np.testing.assert_allclose(got["BETA"], want["BETA"], rtol=1e-7)
    if name not in SE_FROM_P:
        np.testing.assert_allclose(got["SE"], want["SE"], rtol=1e-7)


@pytest.mark.parametrize("name", WITH_EAF)
def test_panel__layout_with_eaf_gives_the_canonical_panel(name, built, canonical):
    path, result = built(name)
    assert load_sumstats(path).layout == WRITERS[name].layout
    _assert_same_panel(result.panel, canonical.panel, name)


@pytest.mark.parametrize("name", WITHOUT_EAF)
def test_panel__layout_without_eaf_gives_the_canonical_panel_less_ambiguous_snps(
    name, built, canonical, canonical_without_eaf
):
    """Without EAF every strand-ambiguous SNP is dropped (the canonical file resolves them
    by EAF): exactly those rows differ, and the panel is the canonical file's without its
    EAF column; on this cohort no ambiguous SNP is an index variant, so the panel's
    variants are the canonical ones."""
    path, result = built(name)
    assert load_sumstats(path).layout == WRITERS[name].layout
    _assert_same_panel(result.panel, canonical_without_eaf.panel, name)
    assert result.panel["EAF"].isna().all()

    def status(report: pd.DataFrame, *statuses: str) -> set[str]:
        return set(report.loc[report["STATUS"].isin(statuses), "ID"])

    ambiguous = status(canonical.report, "resolved_ambiguous", "dropped_ambiguous")
    assert status(result.report, "dropped_ambiguous") == ambiguous
    dropped = result.report[result.report["STATUS"] == "dropped_ambiguous"]
    assert dropped["REASON"].str.fullmatch(r"strand-ambiguous ./. and no EAF to resolve it").all()

    # every other row is kept or dropped as in the canonical file (matched or flipped
    # follows each file's orientation; the layout's extra rows, which its reader drops,
    # aside)
    def kept_status(report: pd.DataFrame) -> pd.Series:
        rows = report[
            ~report["ID"].isin(ambiguous)
            & ~report["STATUS"].isin(["dropped_at_read", "not_a_variant"])
        ]
        status = rows["STATUS"].where(~rows["STATUS"].isin(KEPT), "kept")
        return status.set_axis(rows["ID"]).sort_index()

    pd.testing.assert_series_equal(kept_status(result.report), kept_status(canonical.report))
    # the panel differs from the canonical one by the ambiguous index variants only
    log10p = canonical.report["LOG10P"].astype(float)
    hits = ambiguous & set(canonical.report.loc[log10p >= -np.log10(P_THRESHOLD), "ID"])
    assert hits  # ambiguous SNPs with P <= the threshold, dropped here,
    lost = set(canonical.panel["ID"]) - set(result.panel["ID"])
    assert lost == hits & set(canonical.panel["ID"])
    assert lost == set()  # none of them an index variant on this cohort
    _assert_same_panel(result.panel.assign(EAF=canonical.panel["EAF"]), canonical.panel, name)


def test_panel__metal_samplesize_beta_is_z_over_sqrt_n(built, canonical, truth):
    """METAL's SAMPLESIZE scheme has Z and the weight N only: BETA = Z/sqrt(N) and SE =
    1/sqrt(N), re-derived here from the canonical BETA/SE."""
    _, result = built("metal_samplesize")
    want = canonical.panel
    n = truth.set_index("ID").loc[want["ID"], "N"].to_numpy(dtype=float)
    np.testing.assert_allclose(
        result.panel["BETA"], want["BETA"] / want["SE"] / np.sqrt(n), rtol=1e-6
    )
    np.testing.assert_allclose(result.panel["SE"], 1 / np.sqrt(n), rtol=1e-7)


def test_panel__plink1_assoc_se_is_derived_from_p(built, canonical):
    """PLINK 1.9 .assoc prints OR and P only: SE = |ln OR| / Phi^-1(1 - P/2) (float64
    here). The simulation's P is not exactly the Wald P of its BETA/SE, so this SE is
    not the canonical file's SE (it differs by up to about 0.5%)."""
    _, result = built("plink1_assoc")
    want = canonical.panel
    z = norm.isf(10 ** -want["LOG10P"].to_numpy() / 2)
    np.testing.assert_allclose(result.panel["SE"], np.abs(want["BETA"]) / z, rtol=1e-6)
    np.testing.assert_allclose(result.panel["SE"], want["SE"], rtol=1e-2)


# layout: (a map swapping the effect allele, BETA's column, the layout's effect allele
# column, its producer as the message names it, the fix's map)
SWAPPED_MAPS = {
    "finngen": (
        {"EA": "ref", "OA": "alt"},
        "beta",
        "alt",
        "FinnGen",
        "EA to 'alt' and OA to 'ref'",
    ),
    "gwas_ssf": (
        {"EA": "other_allele", "OA": "effect_allele"},
        "beta",
        "effect_allele",
        "GWAS-SSF",
        "EA to 'effect_allele' and OA to 'other_allele'",
    ),
    "gwas_catalog_harmonised": (
        {"EA": "effect_allele", "OA": "other_allele"},
        "hm_beta",
        "hm_effect_allele",
        "GWAS Catalog harmonised",
        "EA to 'hm_effect_allele' and OA to 'hm_other_allele'",
    ),
    "plink2_glm": ({"EA": "OMITTED", "OA": "A1"}, "BETA", "A1", "PLINK 2 --glm", "EA to 'A1'"),
    "regenie": (
        {"EA": "ALLELE0", "OA": "ALLELE1"},
        "BETA",
        "ALLELE1",
        "REGENIE step 2",
        "EA to 'ALLELE1' and OA to 'ALLELE0'",
    ),
    "bolt_lmm": (
        {"EA": "ALLELE0", "OA": "ALLELE1"},
        "BETA",
        "ALLELE1",
        "BOLT-LMM",
        "EA to 'ALLELE1' and OA to 'ALLELE0'",
    ),
    "saige": (
        {"EA": "Allele1", "OA": "Allele2"},
        "BETA",
        "Allele2",
        "SAIGE",
        "EA to 'Allele2' and OA to 'Allele1'",
    ),
    "metal_stderr": (
        {"EA": "Allele2", "OA": "Allele1"},
        "Effect",
        "Allele1",
        "METAL",
        "EA to 'Allele1' and OA to 'Allele2'",
    ),
}


@pytest.mark.parametrize("name", SWAPPED_MAPS)
def test_panel__swapped_effect_allele_map_stops_before_the_panel(name, sim, cfg, truth, tmp_path):
    """A layout that knows its effect allele refuses a map taking EA from the other
    column before anything is harmonised; a generic file, which cannot know, stops at the
    EAF check instead (test_panel_build.py::
    test_build_panel__swapped_effect_allele_map_stops_with_the_report_kept)."""
    columns, beta, effect, producer, fix = SWAPPED_MAPS[name]
    path = WRITERS[name].write(truth, tmp_path)
    with pytest.raises(InputError) as err:
        _build(sim, cfg, path, tmp_path / "out", columns)
    layout = WRITERS[name].layout
    assert str(err.value) == (
        f"{path}: data.sumstats_columns takes EA from '{columns['EA']}' but BETA from "
        f"'{beta}', which is the effect of '{effect}' in a {producer} file (layout {layout}): "
        f"every sign would be flipped. Fix: map {fix}, or leave EA, OA and BETA out of "
        "data.sumstats_columns (the layout's own columns are used)"
    )
    assert not (tmp_path / "out" / "results" / "panel.tsv").exists()


@pytest.mark.parametrize("name", [*WITH_EAF, *WITHOUT_EAF])
def test_harmonise__reader_codes_give_the_same_result(name, sim, truth, layout_dir):
    """harmonise with the reader's CHR/EA/OA codes (as build_panel calls it) equals
    harmonise hashing those columns itself, rows dropped at read included."""
    from gemcont.io.plink import read_bim
    from gemcont.panel.harmonise import harmonise

    (layout_dir / "codes").mkdir(exist_ok=True)
    path = WRITERS[name].write(truth, layout_dir / "codes")
    loaded = load_sumstats(path)
    frame = pd.concat([loaded.frame, loaded.frame.iloc[:3]], ignore_index=True)
    bim = read_bim(sim[1].bfile + ".bim")
    plain = harmonise(loaded.frame, bim, read_drops=loaded.dropped)
    coded = harmonise(loaded.frame, bim, read_drops=loaded.dropped, codes=loaded.codes)
    pd.testing.assert_frame_equal(coded.matched, plain.matched)
    pd.testing.assert_frame_equal(coded.report, plain.report)
    if name in ("gwas_ssf", "gwas_catalog_harmonised", "plink2_glm", "regenie"):
        assert len(loaded.dropped) > 0  # the codes of the kept rows only
    with pytest.raises(ValueError, match="not those of this frame"):
        harmonise(frame, bim, codes=loaded.codes)
