"""The simulated imputed cohort (simulate.imputed): the imputation model's quality, and
the PGEN and BGEN files against plink2's own reading of them."""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from gemcont.io.bgen import Bgen
from gemcont.io.pgen import Pgen, read_psam, read_pvar
from gemcont.io.plink import read_bim, read_fam
from gemcont.simulate.imputed import CONCENTRATION, certainty_mean, impute, simulate_imputed
from gemcont.simulate.settings import ImputedSettings

MIN_INFO = 0.3


def mach_rsq(dosages: np.ndarray) -> np.ndarray:
    """MaCH's R^2 of each column: var(d) / 2p(1 - p), p = mean(d) / 2 (float64)."""
    d = dosages.astype(np.float64)
    p = d.mean(axis=0) / 2
    return d.var(axis=0) / (2 * p * (1 - p))


def test_certainty_has_second_moment_info() -> None:
    """E[w^2] of Beta(m k, (1 - m) k) is the INFO asked for (scipy's Beta moments)."""
    info = np.array([0.05, 0.3, 0.5, 0.77, 0.99])
    m = certainty_mean(info)
    second = [stats.beta(x * CONCENTRATION, (1 - x) * CONCENTRATION).moment(2) for x in m]
    np.testing.assert_allclose(second, info, rtol=1e-12)
    assert certainty_mean(np.array([1.0]))[0] == 1.0


def test_imputed_dosages_have_the_drawn_quality() -> None:
    """Dosages' MaCH R^2 is the INFO (50,000 people, Hardy-Weinberg calls); INFO 1 keeps
    the calls; a missing call becomes the mean 2p of the observed calls."""
    rng = np.random.default_rng(3)
    n, freq = 50_000, np.array([0.05, 0.2, 0.35, 0.5, 0.3])
    info = np.array([0.3, 0.5, 0.7, 0.9, 1.0])
    calls = rng.binomial(2, freq, size=(n, len(freq))).astype(np.float32)
    missing = rng.random(calls.shape) < 0.01
    calls[missing] = np.nan
    dosages = impute(calls, info, np.random.default_rng(4))
    assert dosages.dtype == np.float32 and dosages.shape == calls.shape
    assert (dosages >= 0).all() and (dosages <= 2).all()
    twice_p = np.nanmean(calls.astype(np.float64), axis=0)
    observed = ~missing
    rsq = mach_rsq(np.where(observed, dosages, twice_p))
    np.testing.assert_allclose(rsq[:4], info[:4], atol=0.02)
    np.testing.assert_array_equal(dosages[observed[:, 4], 4], calls[observed[:, 4], 4])
    rows, cols = np.nonzero(missing)
    np.testing.assert_allclose(dosages[rows, cols], twice_p[cols].astype(np.float32), rtol=1e-6)


def plink2_dosages(args: list[str], alt: Path, out: Path) -> pd.DataFrame:
    """``plink2 --export A`` counting the ALT alleles of ``alt``: IID x variant ID."""
    done = subprocess.run(
        ["plink2", *args, "--export", "A", "--export-allele", str(alt), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    raw = pd.read_csv(f"{out}.raw", sep="\t", dtype={"IID": str}).set_index("IID")
    table = raw.iloc[:, 5:]
    return table.set_axis([c.rsplit("_", 1)[0] for c in table.columns], axis=1)


@pytest.fixture(scope="module")
def imputed(sim, tmp_path_factory) -> dict:
    """The small simulation's cohort written as imputed PGEN and per-chromosome BGEN."""
    settings, paths = sim
    settings = replace(settings, imputed=ImputedSettings(enabled=True, min_info=MIN_INFO))
    out = tmp_path_factory.mktemp("imputed")
    bed = Path(f"{paths.bfile}.bed")
    before = hashlib.md5(bed.read_bytes()).hexdigest()
    bgen = str(out / "cohort_c{chrom}.bgen")
    simulate_imputed(settings, paths.bfile, str(out / "cohort"), bgen, threads=2)
    assert hashlib.md5(bed.read_bytes()).hexdigest() == before  # the hard calls untouched
    return {"bfile": paths.bfile, "pgen": str(out / "cohort"), "bgen": bgen, "root": out}


def test_imputed_files_hold_the_cohort_variants_and_people(imputed: dict) -> None:
    """.pvar ALT/REF = .bim A1/A2 (the counted allele of every format), BGEN A1 (ref-first)
    the same; the same people as the .fam, in another order, in the .psam and every
    .sample."""
    bim, fam = read_bim(f"{imputed['bfile']}.bim"), read_fam(f"{imputed['bfile']}.fam")
    columns = ["CHR", "ID", "POS", "A1", "A2"]
    assert read_pvar(f"{imputed['pgen']}.pvar").equals(bim[columns])
    psam = read_psam(f"{imputed['pgen']}.psam")
    assert sorted(psam["IID"]) == sorted(fam["IID"]) and psam["IID"].tolist() != fam["IID"].tolist()
    sexes = fam.set_index("IID")["SEX"].astype(str)
    assert (psam.set_index("IID")["SEX"].astype(str) == sexes.loc[psam["IID"]]).all()
    for chrom, part in bim.groupby("CHR", sort=False):
        path = imputed["bgen"].replace("{chrom}", chrom)
        with Bgen(path, path.replace(".bgen", ".sample"), ref="ref-first") as bgen:
            assert bgen.bim.equals(part[columns].reset_index(drop=True))
            assert bgen.fam["IID"].tolist() == psam["IID"].tolist()


def test_imputed_dosages_as_plink2_reads_them(imputed: dict) -> None:
    """plink2's dosages of each BGEN equal those of the PGEN to 1/255 (8-bit), plink2's
    PGEN dosages gemcont's reader (to the 4 decimals plink2 prints); their MaCH R^2
    spans [min_info, 1] around (1 + min_info) / 2; each tracks the hard call it came from."""
    root, bim = imputed["root"], read_bim(f"{imputed['bfile']}.bim")
    alt = root / "alt.txt"
    bim[["ID", "A1"]].to_csv(alt, sep="\t", header=False, index=False)
    from_pgen = plink2_dosages(["--pfile", imputed["pgen"]], alt, root / "pgen_a")
    with Pgen(imputed["pgen"]) as pgen:  # plink2 prints 4 decimals of the 1/16384 grid
        np.testing.assert_allclose(pgen.read(dtype="float64"), from_pgen, atol=5e-5, rtol=0)
    for chrom in bim["CHR"].unique():
        path = imputed["bgen"].replace("{chrom}", chrom)
        args = ["--bgen", path, "ref-first", "--sample", path.replace(".bgen", ".sample")]
        from_bgen = plink2_dosages(args, alt, root / f"bgen_{chrom}_a")
        expected = from_pgen.loc[from_bgen.index, from_bgen.columns].to_numpy()
        np.testing.assert_allclose(from_bgen.to_numpy(), expected, atol=1 / 255 + 1e-6, rtol=0)
    rsq = mach_rsq(from_pgen.to_numpy())
    assert rsq.min() > MIN_INFO - 0.1 and rsq.max() < 1.1
    assert abs(np.median(rsq) - (1 + MIN_INFO) / 2) < 0.05
    calls = plink2_dosages(["--bfile", imputed["bfile"]], alt, root / "bed_a")
    calls = calls.loc[from_pgen.index, from_pgen.columns].to_numpy()
    observed = ~np.isnan(calls)
    d = from_pgen.to_numpy()
    r = [
        np.corrcoef(d[o, j], calls[o, j])[0, 1]
        for j in range(0, d.shape[1], 50)
        if (o := observed[:, j]).any()
    ]
    assert min(r) > 0.3
