"""Meta-analysis of harmonised studies (gemcont.panel.meta) against the real tools run here
on the same studies (GWAMA, PLINK 1.9 --meta-analysis) and against an independent
high-precision re-derivation of the sample-size scheme.

The studies are written the way each tool wants them, in each file's own allele
orientation (some rows with the effect allele swapped, BETA negated, EAF = 1 - EAF), so
the tools align alleles themselves while gemcont gets each study through harmonise().
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

import mpmath
import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from gemcont.errors import InputError
from gemcont.panel.harmonise import harmonise
from gemcont.panel.meta import META_COLUMNS, meta_analyse

mpmath.mp.dps = 40
SCALES = (1.0, 1e6)  # BETA and SE as given, and x 1e6 (see _assert_printed)
STUDY_N = {"A": 5000.0, "B": 8000.0, "C": 3000.0}
PAIRS = [("A", "G"), ("C", "T"), ("A", "C"), ("G", "T"), ("T", "C"), ("G", "A"), ("C", "A")]


def _require(binary: str, package: str) -> str:
    """The tool's path; skip without it, or fail when CI is set (nothing skipped silently)."""
    path = shutil.which(binary)
    if path is None:
        reason = (
            f"{binary} not on PATH (Debian package {package}; scripts/install_tools.sh installs it)"
        )
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"CI is set, so the meta-analysis comparisons must run: {reason}")
        pytest.skip(reason)
    return path


def _log10p_normal(z: np.ndarray) -> np.ndarray:
    """-log10 of the two-sided normal P, by mpmath (exact far below 1e-308)."""
    return np.array(
        [float(-mpmath.log10(mpmath.erfc(abs(mpmath.mpf(x)) / mpmath.sqrt(2)))) for x in z]
    )


def _bim(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    pairs = [PAIRS[i] for i in rng.integers(0, len(PAIRS), n)]
    return pd.DataFrame(
        {
            "CHR": "1",
            "ID": [f"rs{100 + i}" for i in range(n)],
            "CM": 0.0,
            "POS": 1000 * (np.arange(n) + 1),
            "A1": [a for a, _ in pairs],
            "A2": [b for _, b in pairs],
        }
    )


def _study_rows(bim: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per study, the rows of its published file (its own orientation), reader columns.

    Special variants: 0 in all studies with a combined P below 1e-308 (and study A's own
    P below 1e-308 too); 1 in all with a combined P near 1e-200; 2 strongly heterogeneous
    (opposite signs); 3 in study B only; 4 in A and C only; 5 in all, swapped in B and C.
    The rest: random effects, each present in a study with probability 0.8.
    """
    rng = np.random.default_rng(5)
    n = len(bim)
    special = {
        0: {"A": (0.38, 0.01), "B": (0.22, 0.009), "C": (0.3, 0.015)},
        1: {"A": (0.21, 0.012), "B": (0.16, 0.009), "C": (0.25, 0.02)},
        2: {"A": (0.12, 0.02), "B": (-0.09, 0.015), "C": (0.02, 0.03)},
        3: {"B": (0.05, 0.02)},
        4: {"A": (-0.04, 0.018), "C": (-0.07, 0.03)},
        5: {"A": (0.03, 0.015), "B": (0.045, 0.012), "C": (0.01, 0.025)},
    }
    swapped = {(5, "B"), (5, "C")}
    cohort_eaf = rng.uniform(0.1, 0.9, n)  # each study's EAF near it, as real cohorts
    frames = {}
    for s, study in enumerate(STUDY_N):
        rows = []
        for i in range(n):
            if i in special:
                if study not in special[i]:
                    continue
                beta, se = special[i][study]
                swap = (i, study) in swapped
            else:
                if rng.random() > 0.8:
                    continue
                se = rng.uniform(0.01, 0.05)
                beta = rng.normal(0.0, 0.04) + 0.01 * (i % 3) * (s + 1)
                swap = bool(rng.random() < 0.5)
            eaf = round(float(cohort_eaf[i] + rng.normal(0.0, 0.02)), 4)
            n_obs = STUDY_N[study] - float(rng.integers(0, 300))
            ea, oa = bim.loc[i, ["A1", "A2"]]
            if swap:
                ea, oa, beta, eaf = oa, ea, -beta, 1.0 - eaf
            rows.append(
                [
                    bim.loc[i, "CHR"],
                    bim.loc[i, "POS"],
                    bim.loc[i, "ID"],
                    ea,
                    oa,
                    eaf,
                    n_obs,
                    beta,
                    se,
                ]
            )
        frame = pd.DataFrame(
            rows, columns=["CHR", "POS", "ID", "EA", "OA", "EAF", "N", "BETA", "SE"]
        )
        frame["LOG10P"] = _log10p_normal(frame["BETA"] / frame["SE"])
        frame["P"] = np.power(10.0, -frame["LOG10P"])  # 0 where it underflows, as the reader
        frames[study] = frame
    assert frames["A"].loc[0, "LOG10P"] > 308  # a study P below 1e-308
    assert (frames["B"]["EA"] != frames["B"]["ID"].map(bim.set_index("ID")["A1"])).sum() > 10
    return frames


@pytest.fixture(scope="module")
def cohort() -> tuple[pd.DataFrame, dict[str, pd.DataFrame], list[tuple[str, pd.DataFrame]]]:
    """(.bim, each study's file rows, each study harmonised to the .bim)."""
    bim = _bim(80)
    rows = _study_rows(bim)
    harmonised = []
    for name, frame in rows.items():
        result = harmonise(frame, bim)
        assert len(result.matched) == len(frame)  # nothing dropped: all tools see the same
        harmonised.append((name, result.matched))
    return bim, rows, harmonised


def _assert_printed(ours: pd.Series, tool: pd.Series, decimals: int, what: str) -> float:
    """|ours - tool| <= max(1e-6 |ours|, half a unit of the tool's last printed decimal).

    The tools print fixed decimals (GWAMA 6, PLINK 1.9 4 for BETA), so small values carry
    few significant digits; the fixed-effect BETA and SE scale with the inputs' BETA and
    SE while Z, P, Q and I² do not, so the runs with BETA and SE x 1e6 test those two to
    relative 1e-6. Returns the largest relative difference."""
    ours, tool = ours.to_numpy(float), tool.to_numpy(float)
    limit = np.maximum(1e-6 * np.abs(ours), 0.5 * 10.0**-decimals * (1 + 1e-9))
    diff = np.abs(ours - tool)
    assert (diff <= limit).all(), f"{what}: largest excess {np.max(diff - limit)}"
    return float(np.max(diff / np.maximum(np.abs(ours), 1e-300)))


def _flip_sign(tool_allele: pd.Series, meta: pd.DataFrame) -> np.ndarray:
    """+1 where the tool reports the effect for gemcont's EA, -1 where for its OA."""
    same, other = tool_allele == meta["EA"], tool_allele == meta["OA"]
    assert (same | other).all()
    return np.where(same, 1.0, -1.0)


# ---------------------------------------------------------------------------
# GWAMA
# ---------------------------------------------------------------------------


def _run_gwama(rows: dict[str, pd.DataFrame], scale: float, out: Path) -> pd.DataFrame:
    gwama = _require("GWAMA", "gwama")
    out.mkdir()
    names = []
    for study, frame in rows.items():
        gw = pd.DataFrame(
            {
                "MARKERNAME": frame["ID"],
                "EA": frame["EA"],
                "NEA": frame["OA"],
                "BETA": frame["BETA"] * scale,
                "SE": frame["SE"] * scale,
                "N": frame["N"].astype(int),
                "EAF": frame["EAF"],
            }
        )
        gw.to_csv(out / f"{study}.txt", sep="\t", index=False, float_format="%.17g")
        names.append(f"{study}.txt")
    (out / "list.in").write_text("\n".join(names) + "\n")
    cmd = [gwama, "--filelist", "list.in", "--quantitative", "--output", "meta"]
    done = subprocess.run(cmd, cwd=out, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (out / "meta.err.out").read_text() == ""  # no marker rejected
    return pd.read_csv(out / "meta.out", sep="\t", na_values=["-nan", "nan"])


@pytest.mark.parametrize("scale", SCALES)
def test_stderr_scheme__equals_gwama(cohort, tmp_path, scale) -> None:
    """`GWAMA --filelist list.in --quantitative --output meta` on MARKERNAME EA NEA BETA SE N
    EAF files: BETA, SE (relative 1e-6 on the x 1e6 run; at GWAMA's 6 printed decimals
    otherwise), z, Q, I² (GWAMA: a fraction), EAF (N-weighted), N, studies and direction.

    GWAMA's own P is an approximation of the normal tail (off from the exact value by
    up to 0.08 in log10 P at z = 38, infinite -log10 P below 1e-308), so P is checked
    exactly against GWAMA's z = beta / se (mpmath, |d log10 P| <= 1e-6) and against
    GWAMA's printed P within its approximation error."""
    _, rows, harmonised = cohort
    meta = meta_analyse(harmonised).set_index("ID")
    tool = _run_gwama(rows, scale, tmp_path / "gwama").set_index("rs_number").loc[meta.index]
    sign = _flip_sign(tool["reference_allele"], meta)
    rel_beta = _assert_printed(meta["BETA"] * scale, sign * tool["beta"], 6, "beta")
    rel_se = _assert_printed(meta["SE"] * scale, tool["se"], 6, "se")
    _assert_printed(meta["BETA"] / meta["SE"], sign * tool["z"], 6, "z")
    _assert_printed(meta["Q"], tool["q_statistic"].abs(), 6, "q_statistic")
    multi = meta["N_STUDIES"] > 1
    _assert_printed(meta.loc[multi, "I2"] / 100, tool.loc[multi, "i2"], 6, "i2")
    assert tool.loc[~multi, "i2"].isna().all() and meta.loc[~multi, "I2"].isna().all()
    eaf = np.where(sign > 0, tool["eaf"], 1 - tool["eaf"])
    _assert_printed(meta["EAF"], pd.Series(eaf), 6, "eaf")
    assert (meta["N"] == tool["n_samples"]).all()
    assert (meta["N_STUDIES"] == tool["n_studies"]).all()
    flipped = tool["effects"].str.translate(str.maketrans("+-", "-+"))
    assert (meta["DIRECTION"] == np.where(sign > 0, tool["effects"], flipped)).all()
    # P: exact from GWAMA's own beta and se (only the x 1e6 run prints them to ~10 digits)
    if scale > 1:
        exact = _log10p_normal(tool["beta"] / tool["se"])
        d_exact = np.abs(meta["LOG10P"] - exact).max()
        assert d_exact <= 1e-6
        print(f"|d log10 P| against exact P of GWAMA's beta/se: {d_exact:.2e}")
    finite = np.isfinite(tool["_-log10_p-value"])
    assert list(meta.index[~finite]) == ["rs100"] and meta.loc["rs100", "LOG10P"] > 308
    d_log10p = np.abs(meta.loc[finite, "LOG10P"] - tool.loc[finite, "_-log10_p-value"])
    assert d_log10p.max() <= 0.1
    print(
        f"GWAMA x{scale:g}: max rel d BETA {rel_beta:.2e}, SE {rel_se:.2e}; "
        f"GWAMA's own -log10 P off by up to {d_log10p.max():.3g}"
    )


# ---------------------------------------------------------------------------
# PLINK 1.9
# ---------------------------------------------------------------------------


def _p_text(log10p: float) -> str:
    """P as a published file writes it, also below 1e-308 (where the float is 0)."""
    if log10p < 300:
        return f"{10.0**-log10p:.17g}"
    return f"{10 ** (-log10p % 1):.15f}e-{int(log10p // 1) + 1}"


def _run_plink(rows: dict[str, pd.DataFrame], scale: float, out: Path) -> pd.DataFrame:
    plink = _require("plink1.9", "plink1.9")
    out.mkdir()
    files = []
    for study, frame in rows.items():
        assoc = pd.DataFrame(
            {
                "CHR": frame["CHR"],
                "BP": frame["POS"],
                "SNP": frame["ID"],
                "A1": frame["EA"],
                "A2": frame["OA"],
                "BETA": frame["BETA"] * scale,
                "SE": frame["SE"] * scale,
                "P": [_p_text(lp) for lp in frame["LOG10P"]],
                "NMISS": frame["N"].astype(int),
            }
        )
        assoc.to_csv(out / f"{study}.assoc", sep=" ", index=False, float_format="%.17g")
        files.append(f"{study}.assoc")
    cmd = [plink, "--meta-analysis", *files, "+", "qt", "logscale", "weighted-z", "report-all"]
    done = subprocess.run([*cmd, "--out", "meta"], cwd=out, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (out / "meta.prob").exists()  # no variant rejected
    return pd.read_csv(out / "meta.meta", sep=r"\s+", na_values=["NA", "nan"])


def _assert_4_significant(ours: pd.Series, tool: pd.Series, what: str) -> float:
    """PLINK prints P with 4 significant digits: within half a unit of the 4th one.
    Returns the largest |d log10 P|."""
    ours, tool = ours.to_numpy(float), tool.to_numpy(float)
    half_unit = 0.5e-3 * 10.0 ** np.floor(np.log10(tool)) * (1 + 1e-9)
    assert (np.abs(ours - tool) <= half_unit).all(), what
    return float(np.max(np.abs(np.log10(ours) - np.log10(tool))))


@pytest.mark.parametrize("scale", SCALES)
def test_stderr_scheme__equals_plink_1_9(cohort, tmp_path, scale) -> None:
    """`plink1.9 --meta-analysis A.assoc B.assoc C.assoc + qt logscale weighted-z report-all`
    (SNP A1 A2 BETA SE P NMISS): fixed-effect BETA (4 printed decimals; relative 1e-6 on
    the x 1e6 run), P (4 significant digits), SE derived from BETA and that P (within the
    interval the printed P allows), Q's P-value, I (percent), number of studies; and its
    METAL-style weighted Z (sqrt(NMISS)-weighted z from P) against the samplesize scheme's
    Z at 4 significant digits. Its P(WZ) is not compared: PLINK evaluates that tail in
    linear space (0 beyond z ~ 8.3, off by up to 0.8% near 1e-13); the samplesize P is
    checked against mpmath below."""
    _, rows, harmonised = cohort
    meta = meta_analyse(harmonised).set_index("ID")
    size = meta_analyse(harmonised, scheme="samplesize").set_index("ID")
    tool = _run_plink(rows, scale, tmp_path / "plink").set_index("SNP").loc[meta.index]
    sign = _flip_sign(tool["A1"], meta)
    rel_beta = _assert_printed(meta["BETA"] * scale, sign * tool["BETA"], 4, "BETA")
    assert (meta["N_STUDIES"] == tool["N"]).all()
    shown = tool["P"] > 0  # PLINK prints 0 below the smallest normal double
    assert list(meta.index[~shown]) == ["rs100"] and meta.loc["rs100", "LOG10P"] > 307.6
    d_log10p = _assert_4_significant(meta.loc[shown, "P"], tool.loc[shown, "P"], "P")
    # SE: |BETA| / z(P) over the rounding intervals of the printed BETA and P
    p, beta = tool.loc[shown, "P"], tool.loc[shown, "BETA"].abs()
    half_p, half_beta = 0.5e-3 * 10.0 ** np.floor(np.log10(p)), 0.5e-4 * (1 + 1e-9)
    se_low = (beta - half_beta) / scale / norm.isf((p - half_p) / 2)
    se_high = (beta + half_beta) / scale / norm.isf(np.minimum(p + half_p, 1.0) / 2)
    assert ((meta.loc[shown, "SE"] >= se_low) & (meta.loc[shown, "SE"] <= se_high)).all()
    multi = meta["N_STUDIES"] > 1
    _assert_printed(meta.loc[multi, "HET_P"], tool.loc[multi, "Q"], 4, "Q p-value")
    _assert_printed(meta.loc[multi, "I2"], tool.loc[multi, "I"], 2, "I")
    assert tool.loc[~multi, ["Q", "I"]].isna().all().all()
    # weighted Z: PLINK inverts a study's P only above 1e-16 (nan at or below it), and
    # its inverse normal loses digits from about 1e-10 (2e-4 relative in Z at 5e-15)
    study_log10p = pd.concat([frame.set_index("ID")["LOG10P"] for frame in rows.values()])
    smallest_p = study_log10p.groupby(level=0).max().loc[meta.index]
    assert (tool["WEIGHTED_Z"].notna() == (smallest_p < 16)).all() and (smallest_p >= 16).any()
    z_size, z_plink = size["BETA"] / size["SE"], sign * tool["WEIGHTED_Z"]
    exact, rough = smallest_p < 10, (smallest_p >= 10) & (smallest_p < 16)
    d_wz = _assert_4_significant(z_size[exact].abs(), z_plink[exact].abs(), "WEIGHTED_Z")
    assert (np.sign(z_size[exact]) == np.sign(z_plink[exact])).all()
    assert np.allclose(z_size[rough], z_plink[rough], rtol=1e-3, atol=0) and rough.sum() > 2
    print(
        f"PLINK 1.9 x{scale:g}: max rel d BETA {rel_beta:.2e}; max |d log10 P| {d_log10p:.2e};"
        f" max |d log10 |Z|| {d_wz:.2e} (weighted Z)"
    )


# ---------------------------------------------------------------------------
# Sample-size scheme: an independent re-derivation (mpmath, per variant)
# ---------------------------------------------------------------------------


def _z_from_log10p(log10p: float) -> mpmath.mpf:
    """|z| with 2 Phi(-|z|) = 10^-log10p, by root finding in mpmath."""
    if log10p == 0:
        return mpmath.mpf(0)
    log_p = -mpmath.mpf(log10p) * mpmath.log(10)
    guess = mpmath.sqrt(-2 * log_p)
    return mpmath.findroot(lambda z: mpmath.log(mpmath.erfc(z / mpmath.sqrt(2))) - log_p, guess)


def test_samplesize_scheme__equals_a_high_precision_rederivation(cohort) -> None:
    """METAL SAMPLESIZE: z_i = sign(b_i) |Phi^-1(P_i/2)|, Z = sum sqrt(N_i) z_i /
    sqrt(sum N_i), BETA = Z/sqrt(N), SE = 1/sqrt(N), Q = sum (z_i - sqrt(N_i/N) Z)²
    (METAL's heterogeneity for this scheme); one-study variants keep their P."""
    _, _, harmonised = cohort
    meta = meta_analyse(harmonised, scheme="samplesize").set_index("BIM_INDEX")
    long = pd.concat([frame.assign(STUDY=name) for name, frame in harmonised])
    for bim_index, group in long.groupby("BIM_INDEX"):
        z = [
            mpmath.sign(b) * _z_from_log10p(lp)
            for b, lp in zip(group["BETA"], group["LOG10P"], strict=True)
        ]
        n = [mpmath.mpf(x) for x in group["N"]]
        n_total = sum(n)
        z_meta = sum(mpmath.sqrt(ni) * zi for ni, zi in zip(n, z, strict=True)) / mpmath.sqrt(
            n_total
        )
        q = sum((zi - mpmath.sqrt(ni / n_total) * z_meta) ** 2 for ni, zi in zip(n, z, strict=True))
        row = meta.loc[bim_index]
        assert row["N"] == float(n_total) and row["N_STUDIES"] == len(group)
        assert row["BETA"] == pytest.approx(float(z_meta / mpmath.sqrt(n_total)), rel=1e-9)
        assert row["SE"] == pytest.approx(float(1 / mpmath.sqrt(n_total)), rel=1e-12)
        if len(group) == 1:
            assert row["LOG10P"] == group["LOG10P"].iloc[0] and row["Q"] == 0
            continue
        expected = -mpmath.log10(mpmath.erfc(abs(z_meta) / mpmath.sqrt(2)))
        assert row["LOG10P"] == pytest.approx(float(expected), rel=1e-9, abs=1e-12)
        assert row["Q"] == pytest.approx(float(q), rel=1e-7, abs=1e-12)
        df = len(group) - 1
        i2 = max(0.0, float((q - df) / q)) * 100 if q > 0 else 0.0
        assert row["I2"] == pytest.approx(i2, rel=1e-6, abs=1e-9)
    assert meta.loc[0, "LOG10P"] > 308  # the combined P below 1e-308, kept exactly


# ---------------------------------------------------------------------------
# Behaviour and fault cases
# ---------------------------------------------------------------------------


def test_one_study__its_own_statistics_unchanged(cohort) -> None:
    _, _, harmonised = cohort
    name, frame = harmonised[0]
    meta = meta_analyse([(name, frame)])
    assert list(meta.columns) == META_COLUMNS
    columns = ["CHR", "POS", "ID", "EA", "OA", "EAF", "N", "BETA", "SE", "P", "LOG10P"]
    pd.testing.assert_frame_equal(meta[columns], frame[columns], check_dtype=False)
    assert (meta["BIM_INDEX"] == frame["BIM_INDEX"]).all()
    assert (meta["DIRECTION"] == np.where(frame["BETA"] > 0, "+", "-")).all()
    assert (meta["Q"] == 0).all() and (meta["HET_DF"] == 0).all()
    assert meta["HET_P"].isna().all() and meta["I2"].isna().all()


def _matched(rows: list[tuple], **extra) -> pd.DataFrame:
    """A harmonised frame: (BIM_INDEX, ID, BETA, SE, N, EAF) rows, P from a normal test."""
    df = pd.DataFrame(rows, columns=["BIM_INDEX", "ID", "BETA", "SE", "N", "EAF"])
    df["LOG10P"] = _log10p_normal(df["BETA"] / df["SE"])
    return df.assign(
        CHR="1",
        POS=df["BIM_INDEX"] * 100 + 100,
        EA="A",
        OA="G",
        P=10 ** -df["LOG10P"],
        SUMSTATS_ID=df["ID"],
        **extra,
    )


def test_direction_and_pooled_columns__in_study_order() -> None:
    a = _matched([(0, "rs1", 0.2, 0.1, 100.0, 0.2), (2, "rs3", 0.0, 0.1, 100.0, 0.5)])
    b = _matched([(0, "rs1", -0.1, 0.1, 300.0, 0.4), (1, "rs2", 0.3, 0.1, np.nan, 0.3)])
    c = _matched([(1, "rs2", -0.3, 0.1, 200.0, 0.1), (2, "rs3", 0.1, 0.1, 100.0, np.nan)])
    meta = meta_analyse([("a", a), ("b", b), ("c", c)]).set_index("ID")
    assert meta["DIRECTION"].to_dict() == {"rs1": "+-?", "rs2": "?+-", "rs3": "0?+"}
    assert meta.loc["rs1", "EAF"] == pytest.approx((100 * 0.2 + 300 * 0.4) / 400)
    assert meta.loc["rs2", "EAF"] == pytest.approx(0.2)  # one EAF without N: plain mean
    assert meta.loc["rs3", "EAF"] == 0.5  # a study without EAF does not count
    assert meta["N"].to_dict() == {"rs1": 400.0, "rs2": 200.0, "rs3": 200.0}
    assert meta.loc["rs2", "I2"] == pytest.approx((18 - 1) / 18 * 100)  # Q = 2·0.3²/0.01


def test_min_studies__drops_and_logs_the_variants_in_fewer(caplog) -> None:
    a = _matched([(0, "rs1", 0.2, 0.1, 100.0, 0.2), (1, "rs2", 0.1, 0.1, 100.0, 0.5)])
    b = _matched([(0, "rs1", 0.1, 0.1, 300.0, 0.4)])
    with caplog.at_level(logging.INFO, logger="gemcont.panel.meta"):
        meta = meta_analyse([("a", a), ("b", b)], min_studies=2)
    assert list(meta["ID"]) == ["rs1"]
    assert caplog.messages == [
        "meta-analysis (stderr scheme) of 2 studies (a, b): 2 variants, 1 of them in all "
        "studies; 1 in fewer than min_studies=2 studies dropped"
    ]


def test_samplesize_without_n__error_names_the_study() -> None:
    a = _matched([(0, "rs1", 0.2, 0.1, 100.0, 0.2)])
    b = _matched([(0, "rs1", 0.1, 0.1, np.nan, 0.4), (1, "rs2", 0.1, 0.1, np.nan, 0.4)])
    with pytest.raises(InputError) as err:
        meta_analyse([("finngen.tsv.gz", a), ("mvp.tsv.gz", b)], scheme="samplesize")
    assert str(err.value) == (
        "mvp.tsv.gz: rs1: 2 of 2 variants: no sample size N, which the samplesize scheme "
        "weights each study by. Fix: give this study an N column (or map its sample-size "
        "header to N), or use the stderr scheme"
    )


def test_studies_on_different_bims__stop() -> None:
    a = _matched([(0, "rs1", 0.2, 0.1, 100.0, 0.2)])
    b = _matched([(0, "rs9", 0.1, 0.1, 100.0, 0.4)])
    with pytest.raises(ValueError) as err:
        meta_analyse([("a", a), ("b", b)])
    assert str(err.value) == (
        "studies disagree on .bim row 0: ID is 'rs9' in 'b' but 'rs1' in 'a'; every study "
        "must be harmonised to the same .bim"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scheme": "z"}, "meta-analysis scheme 'z' is not one of ['stderr', 'samplesize']"),
        ({"min_studies": 3}, "min_studies=3 must be between 1 and the number of studies (2)"),
        ({"names": ("a", "a")}, "meta-analysis study names must be unique; repeated: ['a']"),
    ],
)
def test_bad_arguments__stop(kwargs, message) -> None:
    frame = _matched([(0, "rs1", 0.2, 0.1, 100.0, 0.2)])
    names = kwargs.pop("names", ("a", "b"))
    with pytest.raises(ValueError) as err:
        meta_analyse([(n, frame) for n in names], **kwargs)
    assert str(err.value) == message
