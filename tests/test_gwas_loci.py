"""Loci from embedding-GWAS sumstats, lambda_GC and recovery of the disease panel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2

from gemcont.errors import InputError
from gemcont.gwas.loci import (
    independent_loci,
    lambda_gc,
    novel_loci,
    recovery_summary,
    recovery_table,
    significant,
)


class DistanceClumper:
    """Stand-in for gemcont.panel.clump.clump: greedy by P, distance only; records calls."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __call__(self, variants, genotypes, p_threshold, r2_threshold, window_kb, samples=None):
        self.calls.append((variants.copy(), genotypes, p_threshold, r2_threshold, window_kb))
        leads: list[dict] = []
        for row in variants.sort_values("P").itertuples():
            near = [
                lead
                for lead in leads
                if lead["CHR"] == row.CHR and abs(lead["POS"] - row.POS) <= window_kb * 1000
            ]
            if near:
                near[0]["N_CLUMPED"] += 1
            else:
                leads.append(
                    {"ID": row.ID, "CHR": row.CHR, "POS": row.POS, "P": row.P, "N_CLUMPED": 0}
                )
        return pd.DataFrame(leads)


def _sumstats() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "CHR": ["1", "1", "1", "1", "2", "2", "3"],
            "POS": [1_000, 50_000, 9_000_000, 20_000_000, 5_000, 6_000, 7_000],
            "ID": ["a", "b", "c", "d", "e", "f", "g"],
            "P": [1e-12, 3e-9, 0.5, 4e-8, 2e-20, 1e-10, 1e-7],
        }
    )


def _bim(ss: pd.DataFrame) -> pd.DataFrame:
    bim = ss[["CHR", "ID", "POS"]].iloc[::-1].reset_index(drop=True)
    return bim.assign(CM=0.0, A1="A", A2="G")


def test_independent_loci__clumps_significant_with_bim_index() -> None:
    ss, clump = _sumstats(), DistanceClumper()
    bim = _bim(ss)
    loci = independent_loci(ss, bim, clump, "GENO", window_kb=5000, r2_threshold=0.1)
    assert loci["ID"].tolist() == ["e", "a", "d"]
    assert loci["N_CLUMPED"].tolist() == [1, 1, 0]
    variants, geno, p_thr, r2, window = clump.calls[0]
    assert (geno, p_thr, r2, window) == ("GENO", 5e-8, 0.1, 5000)
    assert variants["ID"].tolist() == ["e", "a", "f", "b", "d"]
    bim_rows = bim.set_index("ID").index.get_indexer(variants["ID"])
    assert variants["BIM_INDEX"].tolist() == bim_rows.tolist()


def test_independent_loci__none_significant_skips_clumper() -> None:
    ss, clump = _sumstats(), DistanceClumper()
    loci = independent_loci(ss, _bim(ss), clump, None, p_threshold=1e-30)
    assert loci.empty and list(loci.columns) == ["ID", "CHR", "POS", "P", "N_CLUMPED"]
    assert clump.calls == []


def test_independent_loci__variant_absent_from_bim_raises() -> None:
    ss = _sumstats()
    with pytest.raises(InputError) as error:
        independent_loci(ss, _bim(ss[~ss["ID"].isin(["e", "a"])]), DistanceClumper(), None)
    assert str(error.value) == (
        "variant e: significant variant not in the .bim used for LD (2 of 5 significant "
        "variants are not in it, matched by ID and POS). Fix: the loci are clumped on "
        "data.bfile: scan genotypes whose variants it holds (gwas.genotypes.path null, or a "
        "file set of data.bfile's variants and build, e.g. plink2 --extract)"
    )


def test_significant__threshold_and_order() -> None:
    assert significant(_sumstats(), 1e-9)["ID"].tolist() == ["e", "a", "f"]


@pytest.mark.parametrize("df", [1, 4])
def test_lambda_gc__null_and_inflated(df: int) -> None:
    rng = np.random.default_rng(df)
    stat = rng.chisquare(df, 200_000)
    assert lambda_gc(chi2.sf(stat, df), df) == pytest.approx(1.0, abs=0.02)
    assert lambda_gc(chi2.sf(1.3 * stat, df), df) == pytest.approx(1.3, abs=0.03)


def test_lambda_gc__df1_formula() -> None:
    p = np.array([0.2, 0.5, np.nan, 0.9])
    assert lambda_gc(p) == pytest.approx(chi2.isf(0.5, 1) / 0.4549364, rel=1e-6)


def test_lambda_gc__no_finite_p_raises() -> None:
    with pytest.raises(ValueError, match="at least one finite"):
        lambda_gc(np.array([np.nan]))


def _panel() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ID": ["p1", "p2", "p3", "p4"],
            "CHR": ["1", "1", "2", "5"],
            "POS": [400_000, 10_000_000, 700_000, 1_000],
        }
    )


def _embedding_stats() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "CHR": ["1", "1", "1", "2", "2", "1", "2"],
            "POS": [500_000, 10_400_000, 10_600_000, 300_000, 1_500_000, 400_000, 700_000],
            "ID": ["s1", "s2", "s3", "s4", "s5", "p1", "p3"],
            "P": [1e-9, 0.05, 1e-12, 2e-4, 1e-30, 3e-3, 0.2],
        }
    )


def test_recovery_table__windows_and_thresholds() -> None:
    table = recovery_table(_embedding_stats(), _panel(), window_kb=500)
    assert table["MIN_P"].tolist()[:3] == [1e-9, 0.05, 2e-4]
    assert np.isnan(table["MIN_P"].iloc[3]) and pd.isna(table["MIN_P_ID"].iloc[3])
    assert table["MIN_P_ID"].tolist()[:3] == ["s1", "s2", "s4"]
    assert table["RECOVERED_GW"].tolist() == [True, False, False, False]
    # Bonferroni tests the panel variants themselves (0.05/4): p1 3e-3 yes, p3 0.2 no,
    # p2 and p4 untested -- a strong neighbour (s4 for p3) does not count
    assert table["PANEL_P"].tolist()[0::2] == [3e-3, 0.2]
    assert table["RECOVERED_BONF"].tolist() == [True, False, False, False]


def test_recovery_table__window_edges_inclusive() -> None:
    table = recovery_table(_embedding_stats(), _panel(), window_kb=600)
    assert table["MIN_P_ID"].iloc[1] == "s3" and table["RECOVERED_GW"].iloc[1]


def test_recovery_table__empty_panel_raises() -> None:
    with pytest.raises(ValueError, match="at least one panel variant"):
        recovery_table(_embedding_stats(), _panel().iloc[:0])


def test_novel_loci__flags_loci_without_panel_variant() -> None:
    loci = _embedding_stats().iloc[[0, 2, 4]].assign(CHR=["1", "1", "3"])
    out = novel_loci(loci, _panel(), window_kb=500)
    assert out["NEAREST_PANEL_KB"].tolist()[:2] == [100.0, 600.0]
    assert np.isinf(out["NEAREST_PANEL_KB"].iloc[2])
    assert out["NEW"].tolist() == [False, True, True]


def test_recovery_summary__fractions_and_counts() -> None:
    table = recovery_table(_embedding_stats(), _panel())
    loci = novel_loci(_embedding_stats().iloc[[0, 2]], _panel())
    summary = recovery_summary(table, loci)
    assert summary == {
        "n_panel": 4,
        "recovered_gw": 1,
        "fraction_gw": 0.25,
        "recovered_bonferroni": 1,
        "fraction_bonferroni": 0.25,
        "n_loci": 2,
        "n_new_loci": 1,
    }
