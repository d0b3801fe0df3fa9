"""Each published sumstats layout, written from the same statistics the way its producer
writes them (random REF/ALT orientation, its missing-value tokens, its extra rows), loads
to the same oriented statistics as the canonical file."""

from __future__ import annotations

import gzip
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from gemcont.errors import InputError
from gemcont.io.sumstats import load_sumstats
from gemcont.io.sumstats_layouts import LAYOUTS, detect_layout

N_VARIANTS = 40
REGENIE_OUTPUT = "/work/shared/fixtures/regenie/step2/assoc_Y1.regenie"
BASES = "ACGT"


def _truth() -> pd.DataFrame:
    """The underlying statistics, for allele A1 of each variant; P consistent with
    BETA/SE (so that an SE derived from P is the SE); one P far below 1e-308."""
    rng = np.random.default_rng(16)
    rows = []
    for i in range(N_VARIANTS):
        a1, a2 = rng.choice(list(BASES), 2, replace=False)
        se = float(rng.uniform(0.01, 0.05))
        beta = float(rng.normal(0, 0.05)) if i != 7 else 43.0 * se
        rows.append(
            dict(CHR=str(1 + i % 3), POS=1000 * (i + 1), ID=f"rs{100 + i}", A1=a1, A2=a2)
            | dict(EAF=round(float(rng.uniform(0.05, 0.95)), 4), N=5000 + i, SE=se, BETA=beta)
        )
    df = pd.DataFrame(rows)
    df["BETA"] = df["BETA"].map(lambda b: float(f"{b:.6g}"))
    df["SE"] = df["SE"].map(lambda s: float(f"{s:.6g}"))
    z = np.abs(df["BETA"] / df["SE"])
    df["LOG10P"] = -(np.log(2.0) + norm.logsf(z)) / np.log(10.0)
    return df


TRUTH = _truth()


def _p_text(log10p: float) -> str:
    """P as a producer prints it, exact below the double range ('1.23e-400')."""
    exponent = math.floor(-log10p)
    mantissa = 10 ** (-log10p - exponent)
    return f"{mantissa:.6f}e{exponent:+d}"


def _orientations(seed: int) -> list[bool]:
    """True where the file states the variant for A2 (flipped)."""
    return list(np.random.default_rng(seed).random(N_VARIANTS) < 0.5)


def _flip(row, flipped: bool) -> tuple[str, str, float, float]:
    """Effect allele, other allele, BETA, EAF as written in that orientation."""
    if flipped:
        return row.A2, row.A1, -row.BETA, round(1 - row.EAF, 4)
    return row.A1, row.A2, row.BETA, row.EAF


def _write(path, lines: list[list[str]], sep: str = "\t") -> str:
    text = "\n".join(sep.join(str(v) for v in line) for line in lines) + "\n"
    with gzip.open(path, "wt") as handle:
        handle.write(text)
    return str(path)


def _oriented(frame: pd.DataFrame, by: str = "POS") -> pd.DataFrame:
    """Statistics for each variant's A1 (from the truth), keyed like the truth."""
    key = frame[by] if by == "ID" else frame["POS"]
    truth = TRUTH.set_index(by if by == "ID" else "POS").loc[key]
    a1 = truth["A1"].to_numpy()
    assert ((frame["EA"].to_numpy() == a1) | (frame["EA"].to_numpy() == truth["A2"])).all()
    sign = np.where(frame["EA"].to_numpy() == a1, 1.0, -1.0)
    eaf = np.where(sign > 0, frame["EAF"], 1 - frame["EAF"])
    return pd.DataFrame(
        {
            "ID": (truth.index if by == "ID" else truth["ID"]).to_numpy(),
            "BETA": sign * frame["BETA"].to_numpy(),
            "EAF": eaf,
        }
        | {"SE": frame["SE"].to_numpy(), "LOG10P": frame["LOG10P"].to_numpy()}
    ).reset_index(drop=True)


def _canonical(tmp_path) -> pd.DataFrame:
    lines = [["CHR", "BP", "SNP", "A1", "A2", "FRQ", "N", "BETA", "SE", "P"]]
    for r in TRUTH.itertuples():
        p = _p_text(r.LOG10P)
        lines.append([r.CHR, r.POS, r.ID, r.A1, r.A2, r.EAF, r.N, r.BETA, r.SE, p])
    loaded = load_sumstats(_write(tmp_path / "canonical.tsv.gz", lines))
    assert loaded.layout == "generic"
    return _oriented(loaded.frame)


def _assert_same(frame: pd.DataFrame, canonical: pd.DataFrame, by: str = "POS", se=True):
    got = _oriented(frame, by).sort_values("ID").reset_index(drop=True)
    want = canonical.sort_values("ID").reset_index(drop=True)
    assert got["ID"].tolist() == want["ID"].tolist()
    np.testing.assert_allclose(got["BETA"], want["BETA"], rtol=1e-5)
    np.testing.assert_allclose(got["LOG10P"], want["LOG10P"], rtol=1e-5, atol=1e-5)
    if se:
        np.testing.assert_allclose(got["SE"], want["SE"], rtol=1e-4)
    eaf_known = got["EAF"].notna()
    np.testing.assert_allclose(got["EAF"][eaf_known], want["EAF"][eaf_known], atol=1e-4)


def _reasons(loaded) -> dict[str, int]:
    assert (loaded.dropped["STATUS"] == "dropped_at_read").all()
    return loaded.dropped["REASON"].value_counts().to_dict()


def test_canonical_file_keeps_p_below_double_range(tmp_path):
    canonical = _canonical(tmp_path)
    assert canonical.loc[7, "LOG10P"] == pytest.approx(TRUTH.loc[7, "LOG10P"], rel=1e-9)
    assert canonical.loc[7, "LOG10P"] > 308


def test_finngen__alt_is_effect_and_empty_rsids_get_position_ids(tmp_path):
    lines = [["#chrom", "pos", "ref", "alt", "rsids", "nearest_genes", "pval", "mlogp"]]
    lines[0] += ["beta", "sebeta", "af_alt", "af_alt_cases", "af_alt_controls"]
    for r, flipped in zip(TRUTH.itertuples(), _orientations(1), strict=True):
        alt, ref, beta, eaf = _flip(r, flipped)
        rsid = "" if r.Index % 5 == 0 else r.ID
        p = _p_text(r.LOG10P)
        lines.append([r.CHR, r.POS, ref, alt, rsid, "GENE1", p, f"{r.LOG10P:.6f}", beta, r.SE])
        lines[-1] += [eaf, eaf, eaf]
    loaded = load_sumstats(_write(tmp_path / "finngen.gz", lines))
    assert loaded.layout == "finngen" and loaded.columns["LOG10P"] == "mlogp"
    frame = loaded.frame
    no_rsid = frame["POS"] % 5000 == 1000
    expected = frame["CHR"] + ":" + frame["POS"].astype(str) + ":" + frame["OA"] + ":" + frame["EA"]
    assert (frame["ID"][no_rsid] == expected[no_rsid]).all() and no_rsid.sum() == 8
    frame = frame.assign(ID=TRUTH.set_index("POS").loc[frame["POS"], "ID"].to_numpy())
    _assert_same(frame, _canonical(tmp_path))


def test_gwas_ssf__hash_na_rsid_is_missing_not_an_id(tmp_path):
    header = ["chromosome", "base_pair_location", "effect_allele", "other_allele", "beta"]
    header += ["standard_error", "effect_allele_frequency", "p_value", "variant_id", "rsid", "n"]
    lines = [header]
    for r, flipped in zip(TRUTH.itertuples(), _orientations(2), strict=True):
        ea, oa, beta, eaf = _flip(r, flipped)
        rsid = "#NA" if r.Index % 3 == 0 else r.ID
        variant_id = f"{r.CHR}_{r.POS}_{oa}_{ea}"
        lines.append([r.CHR, r.POS, ea, oa, beta, r.SE, eaf, _p_text(r.LOG10P), variant_id])
        lines[-1] += [rsid, r.N]
    lines.append(["1", "99000", "A", "G", "#NA", "#NA", "0.2", "0.5", "1_99000_G_A", "#NA", "5"])
    loaded = load_sumstats(_write(tmp_path / "ssf.tsv.gz", lines))
    assert loaded.layout == "gwas_ssf"
    frame = loaded.frame
    assert len(frame) == N_VARIANTS and "#NA" not in set(frame["ID"])
    hash_na = frame["POS"].isin(TRUTH["POS"][TRUTH.index % 3 == 0])
    assert frame["ID"][hash_na].str.fullmatch(r"\d_\d+_[ACGT]_[ACGT]").all()
    assert _reasons(loaded) == {"BETA missing or not finite": 1}
    frame = frame.assign(ID=TRUTH.set_index("POS").loc[frame["POS"], "ID"].to_numpy())
    _assert_same(frame, _canonical(tmp_path))


def _catalog_lines() -> list[list[str]]:
    header = ["hm_variant_id", "hm_rsid", "hm_chrom", "hm_pos", "hm_other_allele"]
    header += ["hm_effect_allele", "hm_beta", "hm_odds_ratio", "hm_ci_lower", "hm_ci_upper"]
    header += ["hm_effect_allele_frequency", "hm_code", "variant_id", "p_value", "chromosome"]
    header += ["base_pair_location", "other_allele", "effect_allele", "beta", "standard_error"]
    header += ["effect_allele_frequency"]
    lines = [header]
    submitted_flips = _orientations(3)
    for r, flipped in zip(TRUTH.itertuples(), _orientations(4), strict=True):
        hm_ea, hm_oa, hm_beta, hm_eaf = _flip(r, flipped)
        ea, oa, beta, eaf = _flip(r, submitted_flips[r.Index])
        code = "10" if (hm_ea == ea) else "11"
        old_pos = r.POS + 250_000  # the submitted build's position
        lines.append([f"{r.CHR}_{r.POS}_{hm_oa}_{hm_ea}", r.ID, r.CHR, r.POS, hm_oa, hm_ea])
        lines[-1] += [hm_beta, "NA", "NA", "NA", hm_eaf, code, r.ID, _p_text(r.LOG10P), r.CHR]
        lines[-1] += [old_pos, oa, ea, beta, r.SE, eaf]
    lines.append(["NA"] * 11 + ["15", "rs999", "1e-30", "1", "5000", "A", "G", "0.5", "0.01"])
    lines[-1] += ["0.3"]
    lines.append(["NA"] * 11 + ["14", "rs998", "1e-30", "1", "6000", "A", "G", "0.5", "0.01"])
    lines[-1] += ["0.3"]
    return lines


def test_gwas_catalog_harmonised__hm_columns_win_and_unharmonised_rows_dropped(tmp_path):
    loaded = load_sumstats(_write(tmp_path / "harmonised.tsv.gz", _catalog_lines()))
    assert loaded.layout == "gwas_catalog_harmonised"
    assert loaded.columns["EA"] == "hm_effect_allele" and loaded.columns["POS"] == "hm_pos"
    assert _reasons(loaded) == {
        "hm_code 15: no matching variant in the reference VCF: not harmonised": 1,
        "hm_code 14: required fields not known: not harmonised": 1,
    }
    assert "rs999" in set(loaded.dropped["ID"])
    _assert_same(loaded.frame, _canonical(tmp_path))


def test_gwas_catalog_harmonised__se_kept_only_for_the_same_estimate(tmp_path):
    lines = _catalog_lines()[:3]
    lines[1][6], lines[1][8], lines[1][9] = "0.2", "0.1", "0.3"  # hm_beta no longer = ±beta
    loaded = load_sumstats(_write(tmp_path / "harmonised.tsv.gz", lines))
    se = loaded.frame.set_index("ID")["SE"]
    # from the harmonised 95% interval: (upper - lower) / (2 * Phi^-1(0.975))
    assert se[lines[1][1]] == pytest.approx((0.3 - 0.1) / (2 * norm.ppf(0.975)), rel=1e-9)
    assert se[lines[2][1]] == pytest.approx(float(lines[2][19]))


def test_gwas_catalog_harmonised__map_mixing_submitted_alleles_with_hm_beta_stops(tmp_path):
    path = _write(tmp_path / "harmonised.tsv.gz", _catalog_lines())
    with pytest.raises(InputError) as err:
        load_sumstats(path, {"EA": "effect_allele", "OA": "other_allele"})
    assert str(err.value) == (
        f"{path}: data.sumstats_columns takes EA from 'effect_allele' but BETA from 'hm_beta', "
        "which is the effect of 'hm_effect_allele' in a GWAS Catalog harmonised file (layout "
        "gwas_catalog_harmonised): every sign would be flipped. Fix: map EA to "
        "'hm_effect_allele' and OA to 'hm_other_allele', or leave EA, OA and BETA out of "
        "data.sumstats_columns (the layout's own columns are used)"
    )


def test_plink2_glm__a1_effect_and_covariate_test_rows_dropped(tmp_path):
    header = ["#CHROM", "POS", "ID", "REF", "ALT", "PROVISIONAL_REF?", "A1", "OMITTED"]
    header += ["A1_FREQ", "TEST", "OBS_CT", "BETA", "SE", "T_STAT", "P", "ERRCODE"]
    lines = [header]
    ref_alt = _orientations(6)
    for r, flipped in zip(TRUTH.itertuples(), _orientations(5), strict=True):
        a1, omitted, beta, eaf = _flip(r, flipped)
        ref, alt = (r.A1, r.A2) if ref_alt[r.Index] else (r.A2, r.A1)
        stat = beta / r.SE
        lines.append([r.CHR, r.POS, r.ID, ref, alt, "Y", a1, omitted, eaf, "ADD", r.N, beta])
        lines[-1] += [r.SE, f"{stat:.6g}", _p_text(r.LOG10P), "."]
        for covariate in ("AGE", "SEX"):
            lines.append([r.CHR, r.POS, r.ID, ref, alt, "Y", a1, omitted, eaf, covariate])
            lines[-1] += [r.N, "0.01", "0.001", "10", "1e-20", "."]
    lines.append(["1", "99000", "rs999", "A", "G", "Y", "G", "A", "0.3", "ADD", "5000", "NA"])
    lines[-1] += ["NA", "NA", "NA", "CONST_OMITTED_ALLELE"]
    loaded = load_sumstats(_write(tmp_path / "trait.glm.linear.gz", lines))
    assert loaded.layout == "plink2_glm"
    assert _reasons(loaded) == {
        "TEST is AGE (only ADD rows are variant effects)": N_VARIANTS,
        "TEST is SEX (only ADD rows are variant effects)": N_VARIANTS,
        "BETA missing or not finite": 1,
    }
    frame = loaded.frame
    pairs = set(zip(TRUTH["A1"], TRUTH["A2"], strict=True))
    assert all(
        (ea, oa) in pairs or (oa, ea) in pairs for ea, oa in zip(frame.EA, frame.OA, strict=True)
    )
    _assert_same(frame, _canonical(tmp_path))


def test_regenie__allele1_effect_interaction_rows_and_repeated_header_dropped(tmp_path):
    header = ["CHROM", "GENPOS", "ID", "ALLELE0", "ALLELE1", "A1FREQ", "INFO", "N", "TEST"]
    header += ["BETA", "SE", "CHISQ", "LOG10P", "EXTRA"]
    lines = [header]
    for r, flipped in zip(TRUTH.itertuples(), _orientations(7), strict=True):
        a1, a0, beta, eaf = _flip(r, flipped)
        if r.Index == N_VARIANTS // 2:
            lines.append(header)  # per-chromosome files concatenated with `cat`
        chisq = (beta / r.SE) ** 2
        lines.append([r.CHR, r.POS, r.ID, a0, a1, eaf, "1", r.N, "ADD", beta, r.SE])
        lines[-1] += [f"{chisq:.6g}", f"{r.LOG10P:.6f}", "NA"]
        lines.append([r.CHR, r.POS, r.ID, a0, a1, eaf, "1", r.N, "ADD-INT_SNP", "0.1"])
        lines[-1] += ["0.2", "0.25", "0.2", "NA"]
    loaded = load_sumstats(_write(tmp_path / "assoc_Y1.regenie.gz", lines, sep=" "))
    assert loaded.layout == "regenie"
    assert _reasons(loaded) == {
        "TEST is ADD-INT_SNP (only ADD rows are variant effects)": N_VARIANTS,
        "repeated header line": 1,
    }
    _assert_same(loaded.frame, _canonical(tmp_path))


def test_regenie__real_step2_output(tmp_path):
    lines = open(REGENIE_OUTPUT).read().splitlines()
    # REGENIE's example data names its alleles d/D, one allele in two cases; A/G instead
    # (only ALLELE0 and ALLELE1 change, every other field as REGENIE wrote it)
    fields = [line.split(" ") for line in lines]
    for row in fields[1:]:
        row[3:5] = [{"d": "A", "D": "G"}.get(a, a) for a in row[3:5]]
    path = tmp_path / "assoc_Y1.regenie"
    path.write_text("\n".join(" ".join(row) for row in fields) + "\n")
    raw = pd.read_csv(path, sep=" ")
    loaded = load_sumstats(path)
    assert loaded.layout == "regenie" and len(loaded.frame) == len(raw) == 500
    assert loaded.frame["EA"].tolist() == raw["ALLELE1"].str.upper().tolist()
    np.testing.assert_array_equal(loaded.frame["BETA"], raw["BETA"])
    np.testing.assert_array_equal(loaded.frame["LOG10P"], raw["LOG10P"])


def test_bolt_lmm__allele1_effect_bp_position_and_p_bolt_lmm(tmp_path):
    header = ["SNP", "CHR", "BP", "GENPOS", "ALLELE1", "ALLELE0", "A1FREQ", "F_MISS", "BETA"]
    header += ["SE", "P_BOLT_LMM_INF", "P_BOLT_LMM"]
    lines = [header]
    for r, flipped in zip(TRUTH.itertuples(), _orientations(8), strict=True):
        a1, a0, beta, eaf = _flip(r, flipped)
        genpos = r.POS / 1e6  # cM, not base pairs
        p_inf = _p_text(r.LOG10P * 0.8)
        lines.append([r.ID, r.CHR, r.POS, genpos, a1, a0, eaf, "0.001", beta, r.SE, p_inf])
        lines[-1] += [_p_text(r.LOG10P)]
    loaded = load_sumstats(_write(tmp_path / "bolt.stats.gz", lines))
    assert loaded.layout == "bolt_lmm" and loaded.columns["P"] == "P_BOLT_LMM"
    assert loaded.columns["POS"] == "BP"
    _assert_same(loaded.frame, _canonical(tmp_path))


def _saige_lines() -> list[list[str]]:
    header = ["CHR", "POS", "MarkerID", "Allele1", "Allele2", "AC_Allele2", "AF_Allele2"]
    header += ["MissingRate", "BETA", "SE", "Tstat", "var", "p.value", "p.value.NA", "Is.SPA"]
    header += ["N"]
    lines = [header]
    for r, flipped in zip(TRUTH.itertuples(), _orientations(9), strict=True):
        a2, a1, beta, eaf = _flip(r, flipped)
        tstat = beta / r.SE**2
        lines.append([r.CHR, r.POS, r.ID, a1, a2, round(2 * r.N * eaf), eaf, "0", beta, r.SE])
        lines[-1] += [f"{tstat:.6g}", "1", _p_text(r.LOG10P), "NA", "FALSE", r.N]
    return lines


def test_saige__allele2_is_the_effect_allele(tmp_path):
    loaded = load_sumstats(_write(tmp_path / "saige.txt.gz", _saige_lines(), sep=" "))
    assert loaded.layout == "saige" and loaded.columns["EA"] == "Allele2"
    _assert_same(loaded.frame, _canonical(tmp_path))


def test_saige__partial_map_completes_from_the_layout(tmp_path):
    lines = _saige_lines()
    lines[0][13] = "p.value.SPA"  # the P the user wants, instead of p.value
    for row in lines[1:]:
        row[12], row[13] = "0.5", row[12]
    loaded = load_sumstats(_write(tmp_path / "saige.txt.gz", lines, sep=" "), {"P": "p.value.SPA"})
    assert loaded.columns["EA"] == "Allele2" and loaded.columns["P"] == "p.value.SPA"
    _assert_same(loaded.frame, _canonical(tmp_path))


def test_saige__map_taking_allele1_as_effect_allele_stops(tmp_path):
    path = _write(tmp_path / "saige.txt.gz", _saige_lines(), sep=" ")
    with pytest.raises(InputError) as err:
        load_sumstats(path, {"EA": "Allele1", "OA": "Allele2"})
    assert str(err.value) == (
        f"{path}: data.sumstats_columns takes EA from 'Allele1' but BETA from 'BETA', which is "
        "the effect of 'Allele2' in a SAIGE file (layout saige): every sign would be flipped. "
        "Fix: map EA to 'Allele2' and OA to 'Allele1', or leave EA, OA and BETA out of "
        "data.sumstats_columns (the layout's own columns are used)"
    )


def test_metal_stderr__marker_name_only_matches_by_id(tmp_path):
    header = ["MarkerName", "Allele1", "Allele2", "Freq1", "FreqSE", "MinFreq", "MaxFreq"]
    header += ["Effect", "StdErr", "P-value", "Direction", "HetISq", "HetChiSq", "HetDf"]
    header += ["HetPVal"]
    lines = [header]
    for r, flipped in zip(TRUTH.itertuples(), _orientations(10), strict=True):
        a1, a2, beta, eaf = _flip(r, flipped)
        lines.append([r.ID, a1.lower(), a2.lower(), eaf, "0.01", eaf, eaf, beta, r.SE])
        lines[-1] += [_p_text(r.LOG10P), "++", "0", "0.5", "1", "0.48"]
    loaded = load_sumstats(_write(tmp_path / "METAANALYSIS1.TBL.gz", lines))
    assert loaded.layout == "metal"
    frame = loaded.frame
    assert set(frame["CHR"]) == {""} and set(frame["POS"]) == {0}
    _assert_same(frame, _canonical(tmp_path), by="ID")


def test_metal_samplesize__beta_from_z_and_weight(tmp_path):
    lines = [["MarkerName", "Allele1", "Allele2", "Weight", "Zscore", "P-value", "Direction"]]
    for r, flipped in zip(TRUTH.itertuples(), _orientations(11), strict=True):
        a1, a2, beta, _ = _flip(r, flipped)
        z = beta / r.SE
        lines.append([r.ID, a1.lower(), a2.lower(), r.N, f"{z:.8g}", _p_text(r.LOG10P), "+-"])
    loaded = load_sumstats(_write(tmp_path / "METAANALYSIS1.TBL.gz", lines))
    frame = loaded.frame.set_index("ID").loc[TRUTH["ID"]]
    z = np.sign(frame["BETA"]) * np.where(frame["EA"] == TRUTH["A1"].to_numpy(), 1, -1)
    np.testing.assert_array_equal(z, np.sign(TRUTH["BETA"]))
    np.testing.assert_allclose(frame["SE"], 1 / np.sqrt(TRUTH["N"].to_numpy()))
    want = np.abs(TRUTH["BETA"] / TRUTH["SE"]).to_numpy() / np.sqrt(TRUTH["N"].to_numpy())
    np.testing.assert_allclose(np.abs(frame["BETA"]), want, rtol=1e-7)
    assert any("BETA = Zscore/sqrt(Weight)" in note for note in loaded.notes)


def test_plink1_assoc__a1_effect_or_to_beta(tmp_path):
    lines = [["CHR", "SNP", "BP", "A1", "F_A", "F_U", "A2", "CHISQ", "P", "OR"]]
    for r, flipped in zip(TRUTH.itertuples(), _orientations(12), strict=True):
        a1, a2, beta, eaf = _flip(r, flipped)
        chisq = (beta / r.SE) ** 2
        lines.append([r.CHR, r.ID, r.POS, a1, eaf, eaf, a2, f"{chisq:.6g}", _p_text(r.LOG10P)])
        lines[-1] += [f"{math.exp(beta):.10g}"]
    lines.append(["1", "rs999", "99000", "A", "NA", "NA", "G", "NA", "NA", "NA"])
    padded = [[f"{v:>12}" for v in line] for line in lines]  # plink 1.9 pads with spaces
    loaded = load_sumstats(_write(tmp_path / "plink.assoc.gz", padded, sep=" "))
    assert loaded.layout == "plink1_assoc" and loaded.frame["EAF"].isna().all()
    assert _reasons(loaded) == {"BETA missing or not finite": 1}
    _assert_same(loaded.frame, _canonical(tmp_path))  # SE derived from P equals the SE


def test_plink1_linear__no_other_allele_and_covariate_rows(tmp_path):
    lines = [["CHR", "SNP", "BP", "A1", "TEST", "NMISS", "BETA", "SE", "L95", "U95", "STAT"]]
    lines[0] += ["P"]
    for r, flipped in zip(TRUTH.itertuples(), _orientations(13), strict=True):
        a1, _, beta, _ = _flip(r, flipped)
        lo, hi = beta - 1.96 * r.SE, beta + 1.96 * r.SE
        lines.append([r.CHR, r.ID, r.POS, a1, "ADD", r.N, beta, r.SE, f"{lo:.4g}", f"{hi:.4g}"])
        lines[-1] += [f"{beta / r.SE:.6g}", _p_text(r.LOG10P)]
        lines.append([r.CHR, r.ID, r.POS, a1, "COV1", r.N, "0.3", "0.1", "0.1", "0.5", "3"])
        lines[-1] += ["0.003"]
    loaded = load_sumstats(_write(tmp_path / "plink.assoc.linear.gz", lines, sep=" "))
    assert loaded.layout == "plink1_linear" and set(loaded.frame["OA"]) == {""}
    assert _reasons(loaded) == {"TEST is COV1 (only ADD rows are variant effects)": N_VARIANTS}
    _assert_same(loaded.frame, _canonical(tmp_path))


def test_plink1_qassoc__names_no_allele_so_it_stops(tmp_path):
    lines = [["CHR", "SNP", "BP", "NMISS", "BETA", "SE", "R2", "T", "P"]]
    lines.append(["1", "rs1", "100", "500", "0.1", "0.02", "0.01", "5", "1e-6"])
    path = _write(tmp_path / "plink.qassoc.gz", lines, sep=" ")
    with pytest.raises(InputError) as err:
        load_sumstats(path)
    assert str(err.value) == (
        f"{path}: this is PLINK 1.9 --assoc output for a quantitative trait (.qassoc: CHR SNP "
        "BP NMISS BETA SE R2 T P), which names no allele, so the sign of BETA cannot be tied "
        "to an allele. Fix: rerun with plink --linear (A1 is written), or plink2 --glm"
    )


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.name)
def test_detect_layout__a_header_short_of_the_signature_is_not_that_layout(layout):
    for left_out in layout.signature:
        others = [h for h in layout.signature if h != left_out]
        headers = others + [h for h in ("beta", "alt", "BETA", "SE") if h != left_out]
        assert detect_layout(headers) is not layout, left_out


def test_generic_file_with_beta_and_alt_is_not_taken_for_finngen(tmp_path):
    """Lower-case FinnGen-like names (no '#chrom', no 'pval'): header aliases, EA alt."""
    lines = [["chrom", "pos", "rsid", "ref", "alt", "af", "beta", "se", "p"]]
    for r, flipped in zip(TRUTH.itertuples(), _orientations(12), strict=True):
        alt, ref, beta, eaf = _flip(r, flipped)
        lines.append([r.CHR, r.POS, r.ID, ref, alt, eaf, beta, r.SE, _p_text(r.LOG10P)])
    loaded = load_sumstats(_write(tmp_path / "mine.tsv.gz", lines))
    assert loaded.layout == "generic"
    assert (loaded.columns["EA"], loaded.columns["OA"], loaded.columns["BETA"]) == (
        "alt",
        "ref",
        "beta",
    )
    _assert_same(loaded.frame, _canonical(tmp_path))


def _saige_cut_down(tmp_path) -> str:
    """A SAIGE file cut down to a few columns (AF_Allele2 gone): no layout recognised."""
    lines = [["CHR", "POS", "MarkerID", "Allele1", "Allele2", "BETA", "SE", "p.value"]]
    for r, flipped in zip(TRUTH.itertuples(), _orientations(13), strict=True):
        effect, other, beta, _ = _flip(r, flipped)
        lines.append([r.CHR, r.POS, r.ID, other, effect, beta, r.SE, _p_text(r.LOG10P)])
    return _write(tmp_path / "saige_cut.txt.gz", lines, sep=" ")


def test_generic_allele1_beside_allele2_stops_naming_both_conventions(tmp_path):
    path = _saige_cut_down(tmp_path)
    with pytest.raises(InputError) as err:
        load_sumstats(path, {"OA": "Allele2", "P": "p.value"})
    assert str(err.value) == (
        f"{path}: the effect allele is ambiguous: the file has 'Allele1' and 'Allele2' but "
        "is neither a METAL file (effect allele Allele1; header MarkerName Allele1 Allele2 "
        "P-value) nor a SAIGE file (effect allele Allele2; header CHR POS Allele1 Allele2 "
        "AF_Allele2 p.value); headers found: ['CHR', 'POS', 'MarkerID', 'Allele1', "
        "'Allele2', 'BETA', 'SE', 'p.value']. Fix: map EA to the effect allele's column and "
        "OA to the other under data.sumstats_columns (SAIGE: EA: Allele2, OA: Allele1; "
        "METAL: EA: Allele1, OA: Allele2)"
    )
    mapped = {"EA": "Allele2", "OA": "Allele1", "ID": "MarkerID", "P": "p.value"}
    _assert_same(load_sumstats(path, mapped).frame, _canonical(tmp_path))
