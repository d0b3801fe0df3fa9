"""Each published sumstats layout, written from the same statistics the way its producer
writes them (random REF/ALT orientation, its missing-value tokens, its extra rows), loads
to the same oriented statistics as the canonical file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from gemcont.errors import InputError
from gemcont.io.sumstats import load_sumstats
from gemcont.io.sumstats_layouts import LAYOUTS, detect_layout

from .sumstats_writers import (
    WRITERS,
    canonical_lines,
    flip,
    gwas_catalog_lines,
    orientations,
    p_text,
    saige_lines,
    write_lines,
)

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
    loaded = load_sumstats(write_lines(tmp_path / "canonical.tsv.gz", canonical_lines(TRUTH)))
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
    """Reason -> rows dropped; rows that are no variant effect (covariate TEST rows,
    repeated headers) under their own status, the other rows as dropped_at_read."""
    dropped = loaded.dropped
    not_variant = dropped["REASON"].str.contains("only ADD rows") | dropped["REASON"].eq(
        "repeated header line"
    )
    expected = np.where(not_variant, "not_a_variant", "dropped_at_read")
    assert dropped["STATUS"].tolist() == expected.tolist()
    return dropped["REASON"].value_counts().to_dict()


def test_canonical_file_keeps_p_below_double_range(tmp_path):
    canonical = _canonical(tmp_path)
    assert canonical.loc[7, "LOG10P"] == pytest.approx(TRUTH.loc[7, "LOG10P"], rel=1e-9)
    assert canonical.loc[7, "LOG10P"] > 308


def test_finngen__alt_is_effect_and_empty_rsids_get_position_ids(tmp_path):
    loaded = load_sumstats(WRITERS["finngen"].write(TRUTH, tmp_path))
    assert loaded.layout == "finngen" and loaded.columns["LOG10P"] == "mlogp"
    frame = loaded.frame
    no_rsid = frame["POS"] % 5000 == 1000
    expected = frame["CHR"] + ":" + frame["POS"].astype(str) + ":" + frame["OA"] + ":" + frame["EA"]
    assert (frame["ID"][no_rsid] == expected[no_rsid]).all() and no_rsid.sum() == 8
    frame = frame.assign(ID=TRUTH.set_index("POS").loc[frame["POS"], "ID"].to_numpy())
    _assert_same(frame, _canonical(tmp_path))


def test_gwas_ssf__hash_na_rsid_is_missing_not_an_id(tmp_path):
    loaded = load_sumstats(WRITERS["gwas_ssf"].write(TRUTH, tmp_path))
    assert loaded.layout == "gwas_ssf"
    frame = loaded.frame
    assert len(frame) == N_VARIANTS and "#NA" not in set(frame["ID"])
    hash_na = frame["POS"].isin(TRUTH["POS"][TRUTH.index % 3 == 0])
    assert frame["ID"][hash_na].str.fullmatch(r"\d_\d+_[ACGT]_[ACGT]").all()
    assert _reasons(loaded) == {"BETA missing or not finite": 1}
    frame = frame.assign(ID=TRUTH.set_index("POS").loc[frame["POS"], "ID"].to_numpy())
    _assert_same(frame, _canonical(tmp_path))


def test_gwas_catalog_harmonised__hm_columns_win_and_unharmonised_rows_dropped(tmp_path):
    loaded = load_sumstats(WRITERS["gwas_catalog_harmonised"].write(TRUTH, tmp_path))
    assert loaded.layout == "gwas_catalog_harmonised"
    assert loaded.columns["EA"] == "hm_effect_allele" and loaded.columns["POS"] == "hm_pos"
    assert _reasons(loaded) == {
        "hm_code 15: no matching variant in the reference VCF: not harmonised": 1,
        "hm_code 14: required fields not known: not harmonised": 1,
    }
    assert "rs999" in set(loaded.dropped["ID"])
    _assert_same(loaded.frame, _canonical(tmp_path))


def test_gwas_catalog_harmonised__se_kept_only_for_the_same_estimate(tmp_path):
    lines = gwas_catalog_lines(TRUTH)[:3]
    lines[1][6], lines[1][8], lines[1][9] = "0.2", "0.1", "0.3"  # hm_beta no longer = ±beta
    loaded = load_sumstats(write_lines(tmp_path / "harmonised.tsv.gz", lines))
    se = loaded.frame.set_index("ID")["SE"]
    # from the harmonised 95% interval: (upper - lower) / (2 * Phi^-1(0.975))
    assert se[lines[1][1]] == pytest.approx((0.3 - 0.1) / (2 * norm.ppf(0.975)), rel=1e-9)
    assert se[lines[2][1]] == pytest.approx(float(lines[2][19]))


def test_gwas_catalog_harmonised__map_mixing_submitted_alleles_with_hm_beta_stops(tmp_path):
    path = write_lines(tmp_path / "harmonised.tsv.gz", gwas_catalog_lines(TRUTH))
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
    loaded = load_sumstats(WRITERS["plink2_glm"].write(TRUTH, tmp_path))
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
    loaded = load_sumstats(WRITERS["regenie"].write(TRUTH, tmp_path))
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
    loaded = load_sumstats(WRITERS["bolt_lmm"].write(TRUTH, tmp_path))
    assert loaded.layout == "bolt_lmm" and loaded.columns["P"] == "P_BOLT_LMM"
    assert loaded.columns["POS"] == "BP"
    _assert_same(loaded.frame, _canonical(tmp_path))


def test_saige__allele2_is_the_effect_allele(tmp_path):
    loaded = load_sumstats(WRITERS["saige"].write(TRUTH, tmp_path))
    assert loaded.layout == "saige" and loaded.columns["EA"] == "Allele2"
    _assert_same(loaded.frame, _canonical(tmp_path))


def test_saige__partial_map_completes_from_the_layout(tmp_path):
    lines = saige_lines(TRUTH)
    lines[0][13] = "p.value.SPA"  # the P the user wants, instead of p.value
    for row in lines[1:]:
        row[12], row[13] = "0.5", row[12]
    loaded = load_sumstats(
        write_lines(tmp_path / "saige.txt.gz", lines, sep=" "), {"P": "p.value.SPA"}
    )
    assert loaded.columns["EA"] == "Allele2" and loaded.columns["P"] == "p.value.SPA"
    _assert_same(loaded.frame, _canonical(tmp_path))


def test_saige__map_taking_allele1_as_effect_allele_stops(tmp_path):
    path = write_lines(tmp_path / "saige.txt.gz", saige_lines(TRUTH), sep=" ")
    with pytest.raises(InputError) as err:
        load_sumstats(path, {"EA": "Allele1", "OA": "Allele2"})
    assert str(err.value) == (
        f"{path}: data.sumstats_columns takes EA from 'Allele1' but BETA from 'BETA', which is "
        "the effect of 'Allele2' in a SAIGE file (layout saige): every sign would be flipped. "
        "Fix: map EA to 'Allele2' and OA to 'Allele1', or leave EA, OA and BETA out of "
        "data.sumstats_columns (the layout's own columns are used)"
    )


def test_metal_stderr__marker_name_only_matches_by_id(tmp_path):
    loaded = load_sumstats(WRITERS["metal_stderr"].write(TRUTH, tmp_path))
    assert loaded.layout == "metal"
    frame = loaded.frame
    assert set(frame["CHR"]) == {""} and set(frame["POS"]) == {0}
    _assert_same(frame, _canonical(tmp_path), by="ID")


def test_metal_samplesize__beta_from_z_and_weight(tmp_path):
    loaded = load_sumstats(WRITERS["metal_samplesize"].write(TRUTH, tmp_path))
    frame = loaded.frame.set_index("ID").loc[TRUTH["ID"]]
    z = np.sign(frame["BETA"]) * np.where(frame["EA"] == TRUTH["A1"].to_numpy(), 1, -1)
    np.testing.assert_array_equal(z, np.sign(TRUTH["BETA"]))
    np.testing.assert_allclose(frame["SE"], 1 / np.sqrt(TRUTH["N"].to_numpy()))
    want = np.abs(TRUTH["BETA"] / TRUTH["SE"]).to_numpy() / np.sqrt(TRUTH["N"].to_numpy())
    np.testing.assert_allclose(np.abs(frame["BETA"]), want, rtol=1e-7)
    assert any("BETA = Zscore/sqrt(Weight)" in note for note in loaded.notes)


def test_plink1_assoc__a1_effect_or_to_beta(tmp_path):
    loaded = load_sumstats(WRITERS["plink1_assoc"].write(TRUTH, tmp_path))
    assert loaded.layout == "plink1_assoc" and loaded.frame["EAF"].isna().all()
    assert _reasons(loaded) == {"BETA missing or not finite": 1}
    _assert_same(loaded.frame, _canonical(tmp_path))  # SE derived from P equals the SE


def test_plink1_linear__no_other_allele_and_covariate_rows(tmp_path):
    loaded = load_sumstats(WRITERS["plink1_linear"].write(TRUTH, tmp_path))
    assert loaded.layout == "plink1_linear" and set(loaded.frame["OA"]) == {""}
    assert _reasons(loaded) == {"TEST is COV1 (only ADD rows are variant effects)": N_VARIANTS}
    _assert_same(loaded.frame, _canonical(tmp_path))


def test_plink1_qassoc__names_no_allele_so_it_stops(tmp_path):
    lines = [["CHR", "SNP", "BP", "NMISS", "BETA", "SE", "R2", "T", "P"]]
    lines.append(["1", "rs1", "100", "500", "0.1", "0.02", "0.01", "5", "1e-6"])
    path = write_lines(tmp_path / "plink.qassoc.gz", lines, sep=" ")
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
    for r, flipped in zip(TRUTH.itertuples(), orientations(N_VARIANTS, 12), strict=True):
        alt, ref, beta, eaf = flip(r, flipped)
        lines.append([r.CHR, r.POS, r.ID, ref, alt, eaf, beta, r.SE, p_text(r.LOG10P)])
    loaded = load_sumstats(write_lines(tmp_path / "mine.tsv.gz", lines))
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
    for r, flipped in zip(TRUTH.itertuples(), orientations(N_VARIANTS, 13), strict=True):
        effect, other, beta, _ = flip(r, flipped)
        lines.append([r.CHR, r.POS, r.ID, other, effect, beta, r.SE, p_text(r.LOG10P)])
    return write_lines(tmp_path / "saige_cut.txt.gz", lines, sep=" ")


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
