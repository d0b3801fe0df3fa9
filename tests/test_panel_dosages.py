"""Panel and features from imputed dosages (``data.panel_genotypes``, issue 17 item 3).

Two test sets, both written by the real producers: a small dosage file set made by
plink2 as a user's would be (``--import-dosage`` on a 1/16 probability grid, so that
``plink2 --export A`` prints every dosage exactly; missing dosages; an 8-bit BGEN per
chromosome with the people shuffled, ``ref-first``), and the simulated cohort's imputed
PGEN (``simulate_imputed``, the demo's writer) beside a .bed that lacks the strongest
hit. plink2 here (v2.00a3.5) has no ``--clump``, so dosage clumping is checked against
a float64 re-derivation: the same greedy rule with r^2 from pandas' pairwise-complete
Pearson correlation of the dosages.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from gemcont.errors import ConfigError, InputError
from gemcont.genotypes.stage import FeaturesSettings, build_features, source_dosages
from gemcont.gwas.genotypes import GwasGenotypes
from gemcont.io.genotype_source import ConcatenatedSource
from gemcont.io.panel import PANEL_COLUMNS, read_panel
from gemcont.io.pgen import Pgen, read_pvar
from gemcont.io.plink import read_bim, read_fam
from gemcont.io.tables import write_tsv
from gemcont.panel.build import PanelSettings, build_panel, configured_panel_genotypes
from gemcont.panel.clump import radius_bp
from gemcont.panel.clump_dosage import clump_dosages, dosage_r2
from gemcont.panel.studies import studies_from_config
from gemcont.settings import build
from gemcont.simulate.imputed import simulate_imputed
from gemcont.simulate.settings import ImputedSettings

from .conftest import REPO, make_config, panel_paths, read
from .plink2_files import import_dosage, plink2
from .test_dosage_readers import export_a
from .test_workflow import dry_run

CHROMS = {"1": 9, "2": 6}
N = 40
GRID = 16


@pytest.fixture(scope="module")
def dosage_set(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A PGEN with dosages (chromosomes 1, 2; missing dosages), its hard calls as a .bed
    (the cohort's .fam order), and per-chromosome 8-bit BGENs with the people shuffled."""
    root = tmp_path_factory.mktemp("panel_dosages")
    rng = np.random.default_rng(3)
    iids = [str(2000001 + k) for k in range(N)]
    psam = pd.DataFrame({"#FID": iids, "IID": iids, "SEX": [1 + k % 2 for k in range(N)]})
    lines = []
    k = 0
    for chrom, m in CHROMS.items():
        base = rng.multinomial(GRID, [0.3, 0.4, 0.3], size=N) / GRID
        for j in range(m):
            # neighbours share most of their probabilities: some LD to clump on
            own = rng.multinomial(GRID, rng.dirichlet([0.6, 0.6, 0.6]), size=N) / GRID
            probs = base if rng.random() < 0.6 else own
            values = [f"{p:g}" for p in probs.reshape(-1)]
            for person in np.flatnonzero(rng.random(N) < 0.06):
                values[3 * person : 3 * person + 3] = ["NA"] * 3
            alleles = rng.choice(["A", "C", "G", "T"], 2, replace=False)
            lines.append("\t".join([chrom, str(10_000 + 1000 * j), f"rs{k}", *alleles, *values]))
            k += 1
    pgen = import_dosage(root, psam, lines, "cohort")
    plink2("--pfile", pgen, "--make-bed", "--out", root / "array")
    pvar = pd.read_csv(f"{pgen}.pvar", sep="\t")
    alt = root / "alt.txt"
    pvar[["ID", "ALT"]].to_csv(alt, sep="\t", header=False, index=False)
    shuffled = root / "shuffled.txt"
    psam.iloc[rng.permutation(N)][["#FID", "IID"]].to_csv(
        shuffled, sep="\t", header=False, index=False
    )
    plink2("--pfile", pgen, "--indiv-sort", "f", shuffled, "--make-pgen", "--out", root / "sh")
    for chrom in CHROMS:
        plink2(
            "--pfile",
            root / "sh",
            "--chr",
            chrom,
            "--export",
            "bgen-1.2",
            "bits=8",
            "ref-first",
            "--out",
            root / f"imp_c{chrom}",
        )
    return {"root": root, "pgen": pgen, "bfile": root / "array", "alt": alt}


def _panel(pvar: pd.DataFrame, rows: np.ndarray, path: Path, seed: int = 5) -> pd.DataFrame:
    """A panel.tsv naming ``rows`` of ``pvar`` (EA = ALT, as the panel stage writes it)."""
    rng = np.random.default_rng(seed)
    chosen = pvar.iloc[rows]
    panel = pd.DataFrame(
        {
            "ID": chosen["ID"].to_numpy(),
            "CHR": chosen["CHR"].to_numpy(),
            "POS": chosen["POS"].to_numpy(),
            "EA": chosen["A1"].to_numpy(),
            "OA": chosen["A2"].to_numpy(),
            "EAF": 0.5,
            "BETA": rng.normal(0, 0.1, len(rows)),
            "SE": 0.01,
            "P": 1e-9,
            "LOG10P": 9.0,
            "BIM_INDEX": rows,
        }
    )
    write_tsv(panel[PANEL_COLUMNS], path, float_format="%.8g")
    return read_panel(path)


def _sources(ds: dict[str, Path]) -> dict[str, GwasGenotypes]:
    root = ds["root"]
    bgen = {"path": str(root / "imp_c{chrom}.bgen"), "sample": None, "bgen_ref": "ref-first"}
    pgen = {"path": f"{ds['pgen']}.pgen", "sample": None, "bgen_ref": "ref-first"}
    return {"pgen": configured_panel_genotypes(pgen), "bgen": configured_panel_genotypes(bgen)}


@pytest.mark.parametrize(("name", "atol"), [("pgen", 0.0), ("bgen", 1 / 255)])
def test_features_are_plink2_export_a_dosages_in_fam_order(
    dosage_set: dict[str, Path], name: str, atol: float, tmp_path: Path
) -> None:
    """Panel dosages from the PGEN equal plink2 --export A exactly, from the shuffled
    8-bit BGENs to 1/255; float (not rounded), NaN where missing, rows in .fam order;
    the PRS is summed from them."""
    chosen = _sources(dosage_set)[name]
    pvar = read_pvar(f"{dosage_set['pgen']}.pvar")  # the BGENs' variants, in turn
    rows = np.array([0, 3, 4, 8, 9, 14])  # both chromosomes
    panel = _panel(pvar, rows, tmp_path / "panel.tsv")
    cfg = FeaturesSettings(max_missing=0.5)
    bfile = str(dosage_set["bfile"])
    result, fam = source_dosages(panel, str(tmp_path / "panel.tsv"), bfile, chosen, cfg, 1, None)
    expected = export_a(["--pfile", dosage_set["pgen"]], dosage_set["alt"], tmp_path / "a")
    expected = expected.loc[fam["IID"], panel["ID"]].to_numpy()
    assert result.genotypes.dtype == np.float32
    assert result.ids["IID"].tolist() == fam["IID"].tolist()
    got = result.genotypes.astype(np.float64)
    assert np.array_equal(np.isnan(got), np.isnan(expected)) and np.isnan(got).any()
    assert (np.nan_to_num(got) % 1 != 0).any()  # fractional dosages, not rounded
    if atol == 0:
        np.testing.assert_array_equal(got, expected)
    else:
        np.testing.assert_allclose(got, expected, atol=atol, rtol=0)
    # the whole stage: PRS_raw is the mean-imputed float dosages times the betas
    pcs = fam[["FID", "IID"]].assign(PC1=np.random.default_rng(1).normal(size=len(fam)))
    write_tsv(pcs, tmp_path / "pcs.tsv")
    out = tmp_path / "features"
    build_features(
        bfile, str(tmp_path / "panel.tsv"), str(tmp_path / "pcs.tsv"), cfg, 1, out, 1, None, chosen
    )
    prs = read(out / "prs.tsv")
    imputed = np.where(np.isnan(expected), np.nanmean(expected, axis=0), expected)
    np.testing.assert_allclose(
        prs["PRS_raw"], imputed @ panel["BETA"].to_numpy(), atol=10 * atol + 1e-6, rtol=0
    )
    assert prs["IID"].tolist() == fam["IID"].tolist()


def test_features_stop_naming_a_person_the_source_lacks(
    dosage_set: dict[str, Path], tmp_path: Path
) -> None:
    """A .fam person missing from the BGENs' .sample stops naming both files, the
    person and the fix."""
    bfile = tmp_path / "array"
    for ext in ("bed", "bim"):
        Path(f"{bfile}.{ext}").symlink_to(f"{dosage_set['bfile']}.{ext}")
    fam = Path(f"{dosage_set['bfile']}.fam").read_text().splitlines()
    fam[1] = "\t".join(["999", "999", *fam[1].split("\t")[2:]])
    Path(f"{bfile}.fam").write_text("\n".join(fam) + "\n")
    chosen = _sources(dosage_set)["bgen"]
    pvar = read_pvar(f"{dosage_set['pgen']}.pvar")
    panel = _panel(pvar, np.array([0, 1]), tmp_path / "panel.tsv")
    pattern = (
        r"imp_c\{chrom\}\.sample: 1 people of .*array\.fam are not among its samples "
        r"\(first FID 999 IID 999\)\. Fix: data\.panel_genotypes must hold every person"
    )
    with pytest.raises(InputError, match=pattern):
        source_dosages(panel, "panel.tsv", str(bfile), chosen, FeaturesSettings(0.5), 1, None)


def _greedy_reference(
    variants: pd.DataFrame, dosages: np.ndarray, p1: float, r2: float, kb: float
) -> list[str]:
    """Index variants of PLINK's greedy clumping with r^2 the squared pairwise-complete
    Pearson correlation of the dosages (float64, pandas), all pairs computed."""
    participants = variants[variants["P"] <= p1].sort_values("BIM_INDEX")
    index = []
    for _, chrom in participants.groupby("CHR", sort=False):
        chrom = chrom.reset_index(drop=True)
        r2_all = pd.DataFrame(dosages[:, chrom["BIM_INDEX"]]).corr().to_numpy() ** 2
        clumped = np.zeros(len(chrom), bool)
        pos = chrom["POS"].to_numpy()
        for i in chrom.sort_values(["P", "BIM_INDEX"], kind="stable").index:
            if clumped[i]:
                continue
            clumped[i] = True
            index.append(chrom.at[i, "ID"])
            near = ~clumped & (np.abs(pos - pos[i]) <= radius_bp(kb))
            clumped |= near & (np.nan_to_num(r2_all[i]) > r2)
    return index


def test_dosage_r2_is_the_pairwise_complete_pearson_correlation() -> None:
    rng = np.random.default_rng(0)
    y = rng.uniform(0, 2, size=(200, 6))
    y[rng.random(y.shape) < 0.1] = np.nan
    x = y[:, 0] * 0.7 + rng.uniform(0, 0.6, 200)
    x[5] = np.nan
    expected = pd.DataFrame(np.column_stack([x, y])).corr().to_numpy()[0, 1:] ** 2
    np.testing.assert_allclose(dosage_r2(x, y), expected, rtol=1e-12)
    full = np.nan_to_num(y, nan=1.0)
    expected = np.corrcoef(np.column_stack([np.nan_to_num(x, nan=1.0), full]), rowvar=False)
    np.testing.assert_allclose(dosage_r2(np.nan_to_num(x, nan=1.0), full), expected[0, 1:] ** 2)


@pytest.fixture(scope="module")
def imputed(sim, tmp_path_factory) -> dict:
    """The small simulated cohort as imputed PGEN + per-chromosome BGEN (the demo's
    writer), and its .bed without the strongest hit of the external GWAS (an array
    lacking a variant the imputed data hold)."""
    settings, paths = sim
    settings = replace(settings, imputed=ImputedSettings(enabled=True, min_info=0.6))
    out = tmp_path_factory.mktemp("imputed_panel")
    bgen = str(out / "cohort_c{chrom}.bgen")
    simulate_imputed(settings, paths.bfile, str(out / "cohort"), bgen, threads=2)
    sumstats = read(paths.sumstats)
    top = sumstats.sort_values("P")["ID"].iloc[0]
    (out / "top.txt").write_text(f"{top}\n")
    plink2(
        "--bfile", paths.bfile, "--exclude", out / "top.txt", "--make-bed", "--out", out / "array"
    )
    return {
        "pgen": str(out / "cohort"),
        "bgen": bgen,
        "array": str(out / "array"),
        "top": top,
        "sumstats": paths.sumstats,
    }


def _run(imputed: dict, out: Path, chosen: GwasGenotypes | None, **override) -> pd.DataFrame:
    section = make_config({"panel": {"min_variants": 3, **override}})["panel"]
    cfg = build(PanelSettings, section, "panel")
    paths = panel_paths(out)
    studies = studies_from_config(str(imputed["sumstats"]), {})
    build_panel(studies, imputed["array"], cfg, paths, 2, chosen)
    return read_panel(paths.panel)


def test_panel_keeps_a_hit_only_the_imputed_data_hold(imputed: dict, tmp_path: Path) -> None:
    """Harmonised against the PGEN's variants, the strongest hit (absent from the .bed)
    is an index variant; against the .bed (panel_genotypes null) it cannot be."""
    array = _run(imputed, tmp_path / "bed", None)
    assert imputed["top"] not in set(array["ID"])
    assert imputed["top"] not in set(read_bim(f"{imputed['array']}.bim")["ID"])
    for name, path in (("pgen", imputed["pgen"] + ".pgen"), ("bgen", imputed["bgen"])):
        chosen = configured_panel_genotypes({"path": path, "sample": None, "bgen_ref": "ref-first"})
        panel = _run(imputed, tmp_path / name, chosen)
        assert imputed["top"] in set(panel["ID"]), name
        with chosen.open_all() as source:
            bim = source.bim
        # BIM_INDEX rows of the source's variant table; EA its A1
        assert (bim["ID"].to_numpy()[panel["BIM_INDEX"]] == panel["ID"].to_numpy()).all()
        assert (bim["A1"].to_numpy()[panel["BIM_INDEX"]] == panel["EA"].to_numpy()).all()


def test_plink_clumping_of_dosages_is_refused(imputed: dict, tmp_path: Path) -> None:
    chosen = configured_panel_genotypes(
        {"path": imputed["pgen"] + ".pgen", "sample": None, "bgen_ref": "ref-first"}
    )
    with pytest.raises(ConfigError, match="panel.clump_engine"):
        _run(imputed, tmp_path, chosen, clump_engine="plink1.9")


@pytest.mark.parametrize("cached", [True, False])
def test_dosage_clumping_equals_the_float64_rederivation(imputed: dict, cached: bool) -> None:
    """The simulated imputed PGEN: the same index variants as the all-pairs float64
    greedy clumping, whether the chromosome's dosages are held or re-read in blocks."""
    sumstats = read(imputed["sumstats"]).drop_duplicates("ID").set_index("ID")
    with Pgen(imputed["pgen"]) as pgen:
        variants = pgen.bim[["ID", "CHR", "POS"]].assign(
            P=sumstats["P"].reindex(pgen.bim["ID"]).fillna(1.0).to_numpy(),
            BIM_INDEX=np.arange(pgen.n_variants),
        )
        p1, r2, kb = 1e-4, 0.1, 500
        options = (
            {"cache_bytes": 1 << 30} if cached else {"cache_bytes": 0, "block_bytes": 8 * 1500 * 7}
        )
        got = clump_dosages(variants, pgen, p1, r2, kb, **options)
        wanted = variants["BIM_INDEX"][variants["P"] <= p1].to_numpy()
        dosages = np.full((pgen.n_samples, pgen.n_variants), np.nan)
        dosages[:, wanted] = pgen.read(wanted, dtype="float32")
    expected = _greedy_reference(variants, dosages, p1, r2, kb)
    assert len(expected) >= 5
    assert sorted(got["ID"]) == sorted(expected)
    assert got["P"].is_monotonic_increasing


def test_dosage_clumping_with_missing_dosages(dosage_set: dict[str, Path]) -> None:
    """Missing dosages (complete cases per pair) on both chromosomes of a {chrom} BGEN."""
    chosen = _sources(dosage_set)["bgen"]
    with chosen.open_all() as source:
        assert isinstance(source, ConcatenatedSource)
        fam = read_fam(f"{dosage_set['bfile']}.fam")
        rows = pd.Index(source.fam["IID"]).get_indexer(fam["IID"])
        rng = np.random.default_rng(2)
        variants = source.bim[["ID", "CHR", "POS"]].assign(
            P=10 ** -rng.uniform(2, 8, source.n_variants), BIM_INDEX=np.arange(source.n_variants)
        )
        got = clump_dosages(variants, source, 1e-2, 0.2, 100, samples=rows)
        dosages = source.read(None, rows, dtype="float64")
    assert np.isnan(dosages).any()
    assert sorted(got["ID"]) == sorted(_greedy_reference(variants, dosages, 1e-2, 0.2, 100))
    assert 1 < len(got) < len(variants)  # some clumped, some not


def _rule(out: str, name: str) -> str:
    assert f"rule {name}:" in out, out[-3000:]
    block = out[out.index(f"rule {name}:") :]
    return block[: block.index("\n\n")]


def test_workflow__panel_rules_read_the_simulated_bgens(tmp_path: Path) -> None:
    """data.panel_genotypes on the demo's per-chromosome BGEN: build_panel and
    extract_features take every chromosome's .bgen and .sample (written by
    simulate_imputed); data.bfile stays an input (its .fam, the PCs)."""
    bgen = "results/simulate/imputed/cohort_c{chrom}.bgen"
    out = dry_run(tmp_path, {"data": {"panel_genotypes": {"path": bgen}}}, "extract_features")
    assert "rule simulate_imputed:" in out
    for name in ("build_panel", "extract_features"):
        rule = _rule(out, name)
        for chrom in ("1", "5"):
            assert f"results/simulate/imputed/cohort_c{chrom}.bgen" in rule, name
            assert f"results/simulate/imputed/cohort_c{chrom}.sample" in rule, name
        assert "results/simulate/genotypes/cohort.fam" in rule


def test_workflow__panel_genotypes_null_reads_the_bed_only(tmp_path: Path) -> None:
    out = dry_run(tmp_path, {}, "extract_features")
    for name in ("build_panel", "extract_features"):
        assert "imputed" not in _rule(out, name), name


def test_workflow__simulated_pgen_without_the_imputed_simulation_is_refused(
    tmp_path: Path,
) -> None:
    config = {
        "simulate": {"imputed": {"enabled": False}},
        "gwas": {"genotypes": {"path": None}},
        "data": {"panel_genotypes": {"path": "results/simulate/imputed/cohort.pgen"}},
    }
    out = dry_run(tmp_path, config, "build_panel")
    assert "config key 'data.panel_genotypes.path'" in out, out[-2000:]


@pytest.mark.parametrize("template", [None, "ukb_imputed.yaml", "ukb_fundus.yaml"])
def test_config__panel_genotypes_default_to_data_bfile(template: str | None) -> None:
    override = (
        None if template is None else yaml.safe_load((REPO / "config" / template).read_text())
    )
    section = make_config(override)["data"]["panel_genotypes"]
    assert section == {"path": None, "sample": None, "bgen_ref": "ref-first"}
    assert configured_panel_genotypes(section) is None
    bgen = configured_panel_genotypes({**section, "path": "/ukb/imp/c{chrom}.bgen"})
    assert (bgen.format, bgen.sample, bgen.per_chromosome) == (
        "bgen",
        "/ukb/imp/c{chrom}.sample",
        True,
    )
    bed = configured_panel_genotypes({**section, "path": "/ukb/array/chip.bed"})
    assert (bed.format, bed.path) == ("bed", "/ukb/array/chip")


@pytest.mark.parametrize("name", ["pgen", "bgen"])
def test_sources_read_panel_columns_in_any_order(dosage_set: dict[str, Path], name: str) -> None:
    """Columns across chromosomes (a {chrom} BGEN: two files), unsorted and repeated,
    people in any order: the same values as the whole matrix's columns."""
    with _sources(dosage_set)[name].open_all() as source:
        everyone = source.read(dtype="float64")
        cols, people = np.array([14, 0, 9, 3, 9]), np.arange(N)[::-3]
        got = source.read(cols, people, dtype="float64")
    np.testing.assert_array_equal(got, everyone[people][:, cols])


def test_bed_per_chromosome_keeps_the_hard_call_panel(sim, tmp_path: Path) -> None:
    """A {chrom} PLINK 1 data.panel_genotypes (the cohort's .bed split by chromosome) is
    clumped by the hard-call engine: the same panel and features as data.bfile itself."""
    _, paths = sim
    for chrom in ("1", "2"):
        plink2(
            "--bfile", paths.bfile, "--chr", chrom, "--make-bed", "--out", tmp_path / f"c{chrom}"
        )
    chosen = configured_panel_genotypes(
        {"path": str(tmp_path / "c{chrom}"), "sample": None, "bgen_ref": "ref-first"}
    )
    imputed = {"sumstats": paths.sumstats, "array": paths.bfile}
    split = _run(imputed, tmp_path / "split", chosen)
    whole = _run(imputed, tmp_path / "whole", None)
    pd.testing.assert_frame_equal(split, whole)
    cfg = FeaturesSettings(max_missing=0.1)
    panel_path = str(tmp_path / "whole" / "results" / "panel.tsv")
    fam = read_fam(f"{paths.bfile}.fam")
    pcs = fam[["FID", "IID"]].assign(PC1=np.random.default_rng(4).normal(size=len(fam)))
    write_tsv(pcs, tmp_path / "pcs.tsv")
    for name, source in (("split", chosen), ("whole", None)):
        out = tmp_path / f"features_{name}"
        build_features(
            paths.bfile, panel_path, str(tmp_path / "pcs.tsv"), cfg, 1, out, 1, None, source
        )
    for file in ("features.npy", "prs.tsv", "features_ids.tsv"):
        assert (tmp_path / "features_split" / file).read_bytes() == (
            tmp_path / "features_whole" / file
        ).read_bytes(), file


def test_features_name_an_fid_mismatch_of_a_psam_without_fid(
    dosage_set: dict[str, Path], tmp_path: Path
) -> None:
    """A .psam with #IID only (FID then 0, as plink2 reads it) against a .fam whose FID is
    the IID: the error says the IID is there with another FID."""
    for ext in ("pgen", "pvar"):
        (tmp_path / f"c.{ext}").symlink_to(f"{dosage_set['pgen']}.{ext}")
    psam = pd.read_csv(f"{dosage_set['pgen']}.psam", sep="\t")
    psam.drop(columns="#FID").rename(columns={"IID": "#IID"}).to_csv(
        tmp_path / "c.psam", sep="\t", index=False
    )
    chosen = configured_panel_genotypes(
        {"path": str(tmp_path / "c.pgen"), "sample": None, "bgen_ref": "ref-first"}
    )
    panel = _panel(read_pvar(f"{dosage_set['pgen']}.pvar"), np.array([0]), tmp_path / "p.tsv")
    pattern = (
        rf"c\.psam: {N} people of .* \(first FID 2000001 IID 2000001\) "
        r"\(IID 2000001 is there with another FID\)"
    )
    with pytest.raises(InputError, match=pattern):
        source_dosages(
            panel, "p.tsv", str(dosage_set["bfile"]), chosen, FeaturesSettings(0.5), 1, None
        )
