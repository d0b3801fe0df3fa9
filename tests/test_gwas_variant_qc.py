"""Variant QC of the embedding GWAS (issue 17, item 2): MaCH r2 (INFO) and missingness
among the held-out people, against plink2 on the same .pgen; the plink2 and REGENIE
command lines; the per-chromosome QC counts.

The cohort is imputed data as a user's would be: genotype probabilities blurred toward
Hardy-Weinberg proportions by a per-variant amount (imputation quality from ~1 down to
~0.1), some calls missing, imported by plink2 (``--import-dosage``) into a .pgen.
Only the first 2/3 of the people are held out (phenotyped): every statistic is among
them.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gemcont import resources
from gemcont.errors import ConfigError, InputError
from gemcont.gwas.covariates import write_covariates
from gemcont.gwas.engines.builtin import scan_builtin_gwas
from gemcont.gwas.engines.job import ChromosomeJob
from gemcont.gwas.engines.plink2 import filter_options, glm_command
from gemcont.gwas.engines.regenie import step2_command
from gemcont.gwas.genotypes import Chunk, GwasGenotypes
from gemcont.gwas.inputs import residual_correlation
from gemcont.gwas.joint import MethodGwas
from gemcont.gwas.kernel import (
    QC_REASONS,
    AlleleCounts,
    Backend,
    VariantFilters,
    allele_counts,
    mach_r2,
    maf_filter,
    qc_codes,
)
from gemcont.gwas.prepare import prepare_phenotypes, write_correlation, write_phenotypes
from gemcont.gwas.settings import GenotypeSettings, gwas_settings
from gemcont.gwas.stage import (
    QC_COLUMNS,
    merge_variant_qc,
    read_variant_qc,
    run_chromosome,
    run_split_chromosome,
)
from gemcont.io.mfi import mfi_info
from gemcont.settings import build

from .plink2_files import import_dosage, plink2

N, HELD_OUT, CHROMS, N_EMB = 600, 400, {"1": 90, "2": 40}, 3
CFG = {"min_maf": 0.01, "min_mac": 5, "block_size": 16, "device": "cpu"}
MIN_INFO, MAX_MISSING = 0.8, 0.05


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """600 people x 130 imputed variants (.pgen, and its hard calls as a .bed), 400 of
    them held out with prepared GWAS inputs."""
    root = tmp_path_factory.mktemp("variant_qc")
    rng = np.random.default_rng(17)
    iids = [str(3000001 + k) for k in range(N)]
    psam = pd.DataFrame({"#FID": iids, "IID": iids, "SEX": rng.integers(1, 3, N)})
    lines = []
    for chrom, m in CHROMS.items():
        for j in range(m):
            rare = j % 9 == 0  # well imputed but failing MAF/MAC
            p = rng.uniform(0.002, 0.008) if rare else rng.uniform(0.02, 0.5)
            hwe = np.array([(1 - p) ** 2, 2 * p * (1 - p), p**2])
            calls = rng.choice(3, N, p=hwe)
            blur = 0.01 if rare else rng.uniform(0.0, 0.8)  # imputation uncertainty
            probs = (1 - blur) * np.eye(3)[calls] + blur * hwe * rng.uniform(0.8, 1.2, (N, 1))
            probs /= probs.sum(1, keepdims=True)
            probs = np.round(probs, 4)
            probs[:, 2] = 1 - probs[:, 0] - probs[:, 1]
            values = np.array([f"{x:.4f}" for x in probs.reshape(-1)]).reshape(N, 3)
            missing = rng.random(N) < rng.choice([0.0, 0.0, 0.0, 0.02, 0.3])
            values[missing] = "NA"
            alleles = rng.choice(list("ACGT"), 2, replace=False)
            row = [chrom, str(1000 + 100 * j), f"rs{chrom}_{j}", *alleles, *values.reshape(-1)]
            lines.append("\t".join(row))
    pgen = import_dosage(root, psam, lines, "imputed")
    plink2("--pfile", pgen, "--make-bed", "--out", root / "calls")
    covar = pd.DataFrame(
        {"FID": iids, "IID": iids, "age": rng.uniform(40, 70, N), "sex": psam["SEX"] - 1.0}
    )
    write_covariates(covar, root / "covar.tsv")
    held = covar.iloc[:HELD_OUT]
    emb = held[["FID", "IID"]].assign(set="heldout")
    emb[[f"e_{i}" for i in range(N_EMB)]] = rng.normal(size=(HELD_OUT, N_EMB))
    pheno_df, _ = prepare_phenotypes(emb, n_components=None)
    write_phenotypes(pheno_df, root / "pheno.tsv")
    write_correlation(residual_correlation(pheno_df, held), root / "corr.tsv")
    keep = root / "held_out.keep"
    keep.write_text("#FID\tIID\n" + "".join(f"{i}\t{i}\n" for i in iids[:HELD_OUT]))
    return {"root": root, "pgen": f"{pgen}.pgen", "bed": str(root / "calls"), "keep": keep}


def genotypes(cohort: dict, kind: str) -> GwasGenotypes:
    values = {"path": cohort[kind], "sample": None, "bgen_ref": "ref-first", "mfi": None}
    return GwasGenotypes.configured(build(GenotypeSettings, values, "gwas.genotypes"), "unused")


def scan(cohort: dict, kind: str, engine: str, chrom: str, out: Path, **cfg: object) -> dict:
    """One chromosome with ``engine``: its multi-trait table and QC row."""
    out.mkdir(parents=True, exist_ok=True)
    root = cohort["root"]
    files = (out / f"{chrom}.per_dim.tsv.gz", out / f"{chrom}.multi.tsv.gz")
    run_chromosome(
        gwas_settings({**CFG, **cfg, "engine": engine}),
        genotypes(cohort, kind),
        root / "pheno.tsv",
        root / "covar.tsv",
        root / "corr.tsv",
        chrom,
        files,
        2,
        out / "work",
        qc_path=out / f"{chrom}.variant_qc.tsv",
    )
    multi = pd.read_csv(files[1], sep="\t", dtype={"CHR": str, "ID": str})
    return {"multi": multi, "qc": read_variant_qc(out / f"{chrom}.variant_qc.tsv"), "out": out}


def plink2_stats(cohort: dict, out: Path) -> pd.DataFrame:
    """plink2's own MaCH r2, allele frequency and observed alleles per variant among the
    held-out people (--freq: dosages; --missing would count hard calls):
    #CHROM ID MACH_R2 ALT_FREQS OBS_CT."""
    out.mkdir(parents=True, exist_ok=True)
    pfile = cohort["pgen"].removesuffix(".pgen")
    keep = cohort["keep"]
    plink2("--pfile", pfile, "--keep", keep, "--freq", "cols=+machr2", "--out", out / "f")
    return pd.read_csv(out / "f.afreq", sep="\t", dtype={"#CHROM": str, "ID": str})


# --- MaCH r2 ---------------------------------------------------------------------------


def test_mach_r2_equals_plink2_freq_machr2(cohort: dict, tmp_path: Path) -> None:
    """The built-in's MaCH r2 from the block's counts (css, n_obs, p) among the held-out
    people equals plink2 --freq cols=+machr2 (printed to 6 digits); and a float64
    re-derivation from the dosages (variance over 2p(1-p))."""
    theirs = plink2_stats(cohort, tmp_path)
    with genotypes(cohort, "pgen").open() as source:
        rows = np.arange(source.n_variants)
        dosages = source.read(rows, np.arange(HELD_OUT), dtype="float32")
        ids = source.bim["ID"].to_numpy()
    _, counts = Backend().genotypes(dosages)
    ours = pd.Series(mach_r2(counts), index=ids).loc[theirs["ID"]].to_numpy()
    assert np.isfinite(ours).mean() > 0.9  # NaN: monomorphic among the held-out people
    assert np.nanmin(ours) < 0.3 and np.nanmax(ours) > 0.95  # the cohort spans the range
    np.testing.assert_allclose(ours, theirs["MACH_R2"], rtol=2e-5, atol=1e-6, equal_nan=True)
    d = dosages.astype(np.float64)
    p = np.nanmean(d, 0) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        direct = np.nanvar(d, 0) / (2 * p * (1 - p))
    np.testing.assert_allclose(mach_r2(counts), direct, rtol=1e-12, equal_nan=True)
    assert (counts.n_obs == theirs.set_index("ID").loc[ids, "OBS_CT"] // 2).all()


def test_qc_codes__defaults_keep_exactly_the_maf_filter() -> None:
    """min_info 0 and max_missing 1 (the schema's defaults) keep what the MAF/MAC filter
    and the finite statistics kept before these filters existed."""
    defaults = gwas_settings({})
    assert (defaults.min_info, defaults.max_missing) == (0, 1)
    rng = np.random.default_rng(3)
    dosages = rng.choice([0, 1, 2, -127], (300, 500), p=[0.6, 0.3, 0.095, 0.005]).astype(np.int8)
    dosages[:, :40] = -127  # some variants with no call at all
    dosages[:, 40:60] = 0  # and monomorphic ones
    counts = allele_counts(dosages)
    tested = rng.random(500) < 0.9
    filters = VariantFilters(0.02, 10, defaults.min_info, defaults.max_missing)
    codes = qc_codes(counts, filters, tested)
    np.testing.assert_array_equal(codes == 0, maf_filter(counts, 0.02, 10) & tested)
    assert {QC_REASONS[c - 1] for c in codes[codes > 0]} == {"maf_mac", "untested"}


def test_qc_codes__first_failing_filter_and_hard_calls() -> None:
    """Each variant counts under its first failing filter (missing, info, MAF/MAC,
    untested); no INFO filter where dosages is False (hard calls, chrX)."""
    counts = AlleleCounts(
        n_obs=np.array([90, 100, 100, 100, 100, 100]),
        eaf=np.array([0.001, 0.2, 0.001, 0.3, 0.3, 0.0]),
        mac=np.array([0.18, 40, 0.2, 60, 60, 0]),
        css=np.array([0.1, 10.0, 0.1, 40, 40, 0]),
        n=100,
    )
    r2 = mach_r2(counts)
    assert r2[1] == pytest.approx(10 / 100 / (2 * 0.2 * 0.8))
    assert np.isnan(r2[5])  # monomorphic: no INFO failure, MAF drops it
    tested = np.array([True, True, True, True, False, True])
    filters = VariantFilters(0.01, 1, min_info=0.8, max_missing=0.05)
    names = ["kept", *QC_REASONS]
    got = [names[c] for c in qc_codes(counts, filters, tested)]
    assert got == ["missing", "info", "info", "kept", "untested", "maf_mac"]
    mfi_low = np.array([False, False, False, True, False, False])
    got = [names[c] for c in qc_codes(counts, filters, tested, mfi_low=mfi_low)]
    assert got == ["missing", "info", "info", "mfi_info", "untested", "maf_mac"]
    hard = [names[c] for c in qc_codes(counts, filters, tested, dosages=False)]
    assert hard == ["missing", "kept", "maf_mac", "kept", "untested", "maf_mac"]


# --- the built-in against plink2 ---------------------------------------------------------


@pytest.mark.parametrize("chrom", ["1", "2"])
def test_builtin_keeps_what_plink2_keeps(cohort: dict, tmp_path: Path, chrom: str) -> None:
    """With min_info and max_missing the built-in scans exactly the variants plink2
    --glm --keep --geno ... dosage --mach-r2-filter keeps (then both MAF/MAC), and its
    QC counts are the ones re-derived from plink2's own --freq machr2 and --missing."""
    cfg = {"min_info": MIN_INFO, "max_missing": MAX_MISSING}
    ours = scan(cohort, "pgen", "builtin", chrom, tmp_path / "builtin", **cfg)
    theirs = scan(cohort, "pgen", "plink2", chrom, tmp_path / "plink2", **cfg)
    assert ours["multi"]["ID"].tolist() == theirs["multi"]["ID"].tolist()
    log = next((tmp_path / "plink2" / "work").rglob("*.log")).read_text()
    assert "--mach-r2-filter" in log and "--geno" in log and "--keep" in log

    stats = plink2_stats(cohort, tmp_path / "stats")
    stats = stats[stats["#CHROM"] == chrom]
    assert (stats["MACH_R2"] - MIN_INFO).abs().min() > 1e-4  # no tie at the threshold
    n = HELD_OUT
    maf = np.minimum(stats["ALT_FREQS"], 1 - stats["ALT_FREQS"])
    mac = np.rint(maf * stats["OBS_CT"])
    missing = n - stats["OBS_CT"] // 2 > MAX_MISSING * n
    info = ~missing & (stats["MACH_R2"] < MIN_INFO)
    maf_mac = ~missing & ~info & ((maf < CFG["min_maf"]) | (mac < CFG["min_mac"]) | (mac == 0))
    expected = {
        "CHR": chrom,
        "SCANNED": len(stats),
        "MFI_INFO": 0,
        "MISSING": int(missing.sum()),
        "INFO": int(info.sum()),
        "MAF_MAC": int(maf_mac.sum()),
        "UNTESTED": 0,
        "KEPT": int((~missing & ~info & ~maf_mac).sum()),
    }
    assert ours["qc"].iloc[0].to_dict() == expected
    assert min(expected["MISSING"], expected["INFO"], expected["MAF_MAC"]) > 0
    assert len(ours["multi"]) == expected["KEPT"]
    # plink2's row: the same scanned and kept; its own filters' drops are UNTESTED
    row = theirs["qc"].iloc[0]
    assert pd.isna(row["MISSING"]) and pd.isna(row["INFO"])
    assert (row["SCANNED"], row["KEPT"]) == (expected["SCANNED"], expected["KEPT"])
    assert (
        row["MAF_MAC"] + row["UNTESTED"]
        == expected["MISSING"] + expected["INFO"] + (expected["MAF_MAC"])
    )


def test_hard_calls_are_not_dropped_for_info(cohort: dict, tmp_path: Path) -> None:
    """On a .bed (hard calls) min_info changes nothing: the same bytes as without it,
    though plink2's --mach-r2-filter would drop some of these variants."""
    plain = scan(cohort, "bed", "builtin", "1", tmp_path / "plain")
    info = scan(cohort, "bed", "builtin", "1", tmp_path / "info", min_info=0.99)
    for name in ("1.per_dim.tsv.gz", "1.multi.tsv.gz", "1.variant_qc.tsv"):
        assert (plain["out"] / name).read_bytes() == (info["out"] / name).read_bytes()
    assert info["qc"].loc[0, "INFO"] == 0
    hard = tmp_path / "hard"
    plink2(
        "--bfile", cohort["bed"], "--keep", cohort["keep"], "--chr", "1",
        "--freq", "cols=+machr2", "--out", hard,
    )  # fmt: skip
    assert (pd.read_csv(f"{hard}.afreq", sep="\t")["MACH_R2"] < 0.99).any()


def test_defaults_write_the_same_bytes_as_explicit_off(cohort: dict, tmp_path: Path) -> None:
    """The schema's defaults (min_info 0, max_missing 1) filter nothing beyond MAF/MAC."""
    default = scan(cohort, "pgen", "builtin", "1", tmp_path / "default")
    row = default["qc"].iloc[0]
    assert (row["MISSING"], row["INFO"]) == (0, 0)
    assert row["SCANNED"] == row["MAF_MAC"] + row["UNTESTED"] + row["KEPT"] == CHROMS["1"]


# --- command lines ---------------------------------------------------------------------


def test_glm_command__qc_flags_exactly() -> None:
    cmd = glm_command(
        "b", "p", "o", pheno_names=["Y0"], keep="o.keep", max_missing=0.05, min_mach_r2=0.8
    )
    assert cmd == [
        "plink2",
        "--bfile",
        "b",
        "--pheno",
        "p",
        "--pheno-name",
        "Y0",
        "--glm",
        "omit-ref",
        "hide-covar",
        "no-x-sex",
        "allow-no-covars",
        "cols=chrom,pos,ref,alt,a1freq,test,nobs,beta,se,tz,p",
        "--xchr-model",
        "2",
        "--keep",
        "o.keep",
        "--geno",
        "0.05",
        "dosage",
        "--mach-r2-filter",
        "0.8",
        "--out",
        "o",
    ]


def test_filter_options__dosages_autosomes_and_defaults(cohort: dict, tmp_path: Path) -> None:
    """--keep (the phenotype file's people) only when a filter is on; --mach-r2-filter
    only on dosages of autosomes."""
    pheno = cohort["root"] / "pheno.tsv"

    def options(kind: str, chrom: str, min_info: float, max_missing: float) -> dict:
        job = ChromosomeJob(genotypes(cohort, kind), pheno, None, chrom, ["Y0"], 1, tmp_path)
        return filter_options(job, tmp_path / f"{kind}{chrom}", min_info, max_missing)

    assert options("pgen", "1", 0.0, 1.0) == {}
    keep = tmp_path / "pgen1.keep"
    assert options("pgen", "1", 0.8, 1.0) == {"min_mach_r2": 0.8, "keep": keep}
    lines = keep.read_text().splitlines()
    assert lines[0] == "#FID\tIID" and len(lines) == HELD_OUT + 1
    assert options("bed", "1", 0.8, 1.0) == {}
    assert options("pgen", "X", 0.8, 0.1) == {"max_missing": 0.1, "keep": tmp_path / "pgenX.keep"}


def test_regenie__min_info_flag_and_no_missingness_filter(cohort: dict, tmp_path: Path) -> None:
    pgen = GwasGenotypes("input/example.pgen", "pgen")
    cmd = step2_command(pgen, "p", "o", pred=None, chrom="3", min_info=0.8)
    assert cmd == [
        "regenie",
        "--step",
        "2",
        "--pgen",
        "input/example",
        "--chr",
        "3",
        "--phenoFile",
        "p",
        "--qt",
        "--bsize",
        "400",
        "--ignore-pred",
        "--minINFO",
        "0.8",
        "--out",
        "o",
    ]
    assert "--minINFO" not in step2_command(pgen, "p", "o", pred=None)
    with pytest.raises(ConfigError, match="gwas.max_missing.*no missingness filter"):
        scan(cohort, "pgen", "regenie", "1", tmp_path, max_missing=0.5)


# --- gathering the counts ----------------------------------------------------------------


def test_chunks_qc_sums_to_the_chromosome_scan(cohort: dict, tmp_path: Path) -> None:
    """Chunks of 32 of chromosome 1's 90 variants (32, 32, 26), their QC rows summed by
    merge_variant_qc, are the row (and bytes) of one scan of the chromosome."""
    cfg = {"min_info": MIN_INFO, "max_missing": MAX_MISSING}
    whole = scan(cohort, "pgen", "builtin", "1", tmp_path / "whole", **cfg)
    c, parts = cohort["root"], []
    settings = gwas_settings({**CFG, **cfg, "engine": "builtin", "chunk_variants": 32})
    for chunk in range(3):
        out = tmp_path / f"chunk{chunk}"
        out.mkdir()
        files = (out / "per_dim.tsv.gz", out / "multi.tsv.gz")
        qc = out / "variant_qc.tsv"
        method = MethodGwas("m", c / "pheno.tsv", c / "covar.tsv", c / "corr.tsv", files, qc)
        run_split_chromosome(
            settings, genotypes(cohort, "pgen"), [method], "1", 2, out, chunk=Chunk(chunk, 3)
        )
        parts.append(qc)
    assert [read_variant_qc(p).loc[0, "SCANNED"] for p in parts] == [32, 32, 26]
    merge_variant_qc(parts, tmp_path / "merged.tsv", chunks=True)
    merged = (tmp_path / "merged.tsv").read_bytes()
    assert merged == (whole["out"] / "1.variant_qc.tsv").read_bytes()


def test_merge_variant_qc__chunks_sum_and_chromosomes_in_order(tmp_path: Path) -> None:
    def row(chrom: str, *counts: int | None) -> Path:
        path = tmp_path / f"{chrom}_{len(list(tmp_path.iterdir()))}.tsv"
        frame = pd.DataFrame([[chrom, *counts]], columns=QC_COLUMNS)
        frame.astype({c: "Int64" for c in QC_COLUMNS[1:]}).to_csv(path, sep="\t", index=False)
        return path

    chunks = [row("2", 10, 0, 1, 2, 3, 0, 4), row("2", 5, 0, 0, 1, 1, 1, 2)]
    merge_variant_qc(chunks, tmp_path / "2.qc", chunks=True)
    assert read_variant_qc(tmp_path / "2.qc").iloc[0].tolist() == ["2", 15, 0, 1, 3, 4, 1, 6]
    paths = [row("X", 3, 0, None, None, 1, 1, 1), tmp_path / "2.qc", row("10", 1, 0, 0, 0, 0, 0, 1)]
    merge_variant_qc(paths, tmp_path / "all.tsv")
    merged = read_variant_qc(tmp_path / "all.tsv")
    assert merged["CHR"].tolist() == ["2", "10", "X"]
    assert merged["MISSING"].isna().tolist() == [False, False, True]
    assert (tmp_path / "all.tsv").read_text().splitlines()[3] == "X\t3\t0\t\t\t1\t1\t1"


def test_hard_call_missingness__numpy_torch_and_plink2_agree(cohort: dict, tmp_path: Path) -> None:
    """max_missing on the .bed (hard calls: a dosage far from 0/1/2 became a missing
    call): the numpy and torch pipelines give the same QC codes, and the built-in keeps
    exactly what plink2 --geno keeps."""
    cfg = {**CFG, "max_missing": MAX_MISSING, "min_info": MIN_INFO}
    root = cohort["root"]
    pheno = pd.read_csv(root / "pheno.tsv", sep="\t", dtype={"FID": str, "IID": str})
    covar = pd.read_csv(root / "covar.tsv", sep="\t", dtype={"FID": str, "IID": str})
    settings = gwas_settings(cfg)
    bed = genotypes(cohort, "bed")
    numpy = scan_builtin_gwas(bed, pheno, covar, settings, "1")
    torch = scan_builtin_gwas(
        bed, pheno, covar, settings, "1", backend=Backend(use_torch=True, dtype="float32")
    )
    np.testing.assert_array_equal(numpy.qc, torch.qc)
    codes = np.bincount(numpy.qc, minlength=len(QC_REASONS) + 1)
    assert codes[QC_REASONS.index("missing") + 1] > 0 and codes[0] > 0
    assert codes[QC_REASONS.index("info") + 1] == 0  # hard calls: no INFO filter
    ours = scan(cohort, "bed", "builtin", "1", tmp_path / "builtin", **cfg)
    theirs = scan(cohort, "bed", "plink2", "1", tmp_path / "plink2", **cfg)
    assert ours["multi"]["ID"].tolist() == theirs["multi"]["ID"].tolist()
    assert ours["qc"].loc[0, "KEPT"] == codes[0]


# --- UK Biobank mfi files ------------------------------------------------------------


def write_mfi(cohort: dict, out: Path, drop: str | None = None) -> tuple[str, pd.DataFrame]:
    """UK Biobank-like mfi files of the .pgen's variants, one per chromosome (lines
    shuffled: matched by position and alleles, not order; some INFO NA): the {chrom}
    path and the INFO given to each ID. ``drop``: an ID left out."""
    out.mkdir(parents=True, exist_ok=True)
    pvar = pd.read_csv(cohort["pgen"].replace(".pgen", ".pvar"), sep="\t", dtype=str)
    rng = np.random.default_rng(8)
    info = np.round(rng.uniform(0.4, 1.0, len(pvar)), 6).astype(object)
    info[rng.random(len(pvar)) < 0.1] = "NA"
    lines = pd.DataFrame(
        {
            "alt": pvar["#CHROM"] + ":" + pvar["POS"] + "_" + pvar["REF"] + "_" + pvar["ALT"],
            "rsid": pvar["ID"],
            "pos": pvar["POS"],
            "a1": pvar["REF"],
            "a2": pvar["ALT"],
            "maf": 0.1,
            "minor": pvar["ALT"],
            "info": info,
        }
    )
    for chrom in CHROMS:
        own = lines[(pvar["#CHROM"] == chrom) & (pvar["ID"] != drop)].sample(frac=1, random_state=1)
        own.to_csv(out / f"ukb_mfi_chr{chrom}_v3.txt", sep="\t", header=False, index=False)
    given = pd.Series(pd.to_numeric(lines["info"], errors="coerce").to_numpy(), index=pvar["ID"])
    return str(out / "ukb_mfi_chr{chrom}_v3.txt"), given


@pytest.mark.parametrize("engine", ["builtin", "plink2"])
def test_mfi_info_below_min_info_is_not_tested(cohort: dict, tmp_path: Path, engine: str) -> None:
    """With an mfi, variants whose INFO there is below min_info are dropped and counted
    as MFI_INFO (NA INFO passes); the rest is the scan without the mfi."""
    mfi, given = write_mfi(cohort, tmp_path / "mfi")
    plain = scan(cohort, "pgen", engine, "1", tmp_path / "plain", min_info=MIN_INFO)
    both = scan(
        cohort,
        "pgen",
        engine,
        "1",
        tmp_path / "mfi_scan",
        min_info=MIN_INFO,
        genotypes={"mfi": mfi},
    )
    low = set(given.index[given < MIN_INFO])
    assert both["multi"]["ID"].tolist() == [i for i in plain["multi"]["ID"] if i not in low]
    on_chr1 = [i for i in given.index if i.startswith("rs1_")]
    assert both["qc"].loc[0, "MFI_INFO"] == len(low & set(on_chr1)) > 0
    assert both["qc"].loc[0, "SCANNED"] == len(on_chr1)
    assert len(both["multi"]) < len(plain["multi"])
    if engine == "builtin":
        counts = both["qc"].iloc[0]
        assert counts[QC_COLUMNS[2:]].sum() == counts["SCANNED"]


def test_mfi_without_the_variant_names_file_variant_and_fix(cohort: dict, tmp_path: Path) -> None:
    mfi, _ = write_mfi(cohort, tmp_path / "mfi", drop="rs1_7")
    with pytest.raises(
        InputError, match=r"ukb_mfi_chr1_v3.txt.*1 of 90 .*rs1_7 \(1:1700 .*Fix: give"
    ):
        scan(cohort, "pgen", "builtin", "1", tmp_path, min_info=0.5, genotypes={"mfi": mfi})
    # not read when min_info is 0
    scan(cohort, "pgen", "builtin", "1", tmp_path / "off", genotypes={"mfi": mfi})
    with pytest.raises(ConfigError, match=r"gwas.genotypes.mfi.*no \{chrom\}"):
        scan(cohort, "pgen", "builtin", "1", tmp_path, min_info=0.5, genotypes={"mfi": "a.txt"})


def test_mfi_info__na_tokens_and_repeated_sites_in_file_order(tmp_path: Path) -> None:
    """Lines with the same position and alleles (a split multiallelic site written
    twice) pair with the scanned rows in file order; alleles in either order; NA."""
    path = tmp_path / "mfi.txt"
    path.write_text(
        "1:10_A_G\trs1\t10\tA\tG\t0.1\tG\t0.91\n"
        "1:10_A_G\trs1\t10\tA\tG\t0.1\tG\t0.42\n"
        "1:20_C_T\trs2\t20\tC\tT\t0\tT\tNA\n"
        "1:30_A_AT\trs3\t30\tA\tAT\t0.2\tAT\t0.77\n"
    )
    variants = pd.DataFrame(
        {
            "CHR": "1",
            "POS": [10, 10, 20, 30],
            "ID": ["a", "b", "c", "d"],
            "A1": ["G", "G", "C", "AT"],
            "A2": ["A", "A", "T", "A"],
        }
    )
    info = mfi_info(variants, path)
    np.testing.assert_array_equal(info, [0.91, 0.42, np.nan, 0.77])
    path.write_text("1:10_A_G\trs1\t10\tA\tG\n")
    with pytest.raises(InputError, match="not a UK Biobank mfi file"):
        mfi_info(variants, path)


def test_resources__a_scan_reading_an_mfi_asks_for_its_lines() -> None:
    """~175 B a mfi line (1.4 s and 175 MB peak for 1 M lines, measured) on top of the
    chromosome's .bim rows; nothing without an mfi."""
    plain = resources._gwas_chromosome(resources.PAPER, 2, 1_000_000)
    with_mfi = resources._gwas_chromosome(replace(resources.PAPER, mfi=True), 2, 1_000_000)
    assert with_mfi.mem_mb - plain.mem_mb == pytest.approx(175)
    assert with_mfi.runtime == plain.runtime
