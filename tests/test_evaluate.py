"""Evaluation: risk prediction, DeLong, latent R², GWAS truth, collection of metrics."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import r2_score, roc_auc_score

from gemcont.evaluate.collect import (
    EvaluateSettings,
    compare_methods,
    evaluate_run,
    read_table,
    summarise,
    truth_r2_table,
)
from gemcont.evaluate.compare import bootstrap_test, delong_covariance, delong_test
from gemcont.evaluate.ridge import kfold_splits, oof_r2
from gemcont.evaluate.risk import risk_prediction
from gemcont.evaluate.truth import gwas_truth, latent_r2
from gemcont.settings import from_section

FAST = {"n_folds": 3, "inner_folds": 3, "n_cs": 4}


def cohort(n: int = 800, d: int = 4, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Embeddings whose e_0 carries a latent trait that drives disease; half held out."""
    rng = np.random.default_rng(seed)
    ids = [str(1000 + i) for i in range(n)]
    genetic = rng.normal(size=n)
    latent = genetic + 0.5 * rng.normal(size=n)
    emb = rng.normal(size=(n, d))
    emb[:, 0] = latent + 0.1 * rng.normal(size=n)
    liability = latent + rng.normal(size=n)
    prevalent = (liability > np.quantile(liability, 0.8)).astype(int)
    incident = ((liability + rng.normal(size=n) > 1.0) & (prevalent == 0)).astype(int)
    key = pd.DataFrame({"FID": ids, "IID": ids})
    return {
        "emb": key.assign(set=np.where(np.arange(n) % 2, "heldout", "train")).join(
            pd.DataFrame(emb, columns=[f"e_{j}" for j in range(d)])
        ),
        "disease": key.assign(disease_at_assessment=prevalent, incident_5y=incident),
        "latent": key.assign(latent_0_genetic=genetic, latent_0=latent, liability=liability),
        "covariates": key.assign(
            age=rng.normal(55, 8, n), sex=rng.integers(0, 2, n), batch=rng.choice(["a", "b"], n)
        ),
    }


@pytest.fixture(scope="module")
def data() -> dict[str, pd.DataFrame]:
    return cohort()


def test_delong_hand_case() -> None:
    # Cases 0.9, 0.4; controls 0.5, 0.1, 0.3: AUC 5/6, V10 = (1, 2/3), V01 = (1/2, 1, 1),
    # var = var(V10)/m + var(V01)/n = (1/18)/2 + (1/12)/3 = 1/18.
    y = np.array([1, 1, 0, 0, 0])
    scores = np.array([0.9, 0.4, 0.5, 0.1, 0.3])
    aucs, cov = delong_covariance(y, scores)
    assert aucs[0] == pytest.approx(5 / 6)
    assert cov[0, 0] == pytest.approx(1 / 18)
    same = delong_test(y, scores, scores)
    assert (same["diff"], same["se"], same["p"]) == (0.0, 0.0, 1.0)


def test_delong_auc_matches_sklearn_with_ties() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    a = np.round(y + rng.normal(size=300), 1)  # rounding makes ties
    b = np.round(0.5 * y + rng.normal(size=300), 1)
    test = delong_test(y, a, b)
    assert test["auc_a"] == pytest.approx(roc_auc_score(y, a), abs=1e-12)
    assert test["auc_b"] == pytest.approx(roc_auc_score(y, b), abs=1e-12)
    assert test["diff"] == pytest.approx(roc_auc_score(y, a) - roc_auc_score(y, b))


@pytest.mark.parametrize("effect_b", [1.0, 0.8])
def test_delong_agrees_with_paired_bootstrap(effect_b: float) -> None:
    rng = np.random.default_rng(2)
    y = (rng.random(800) < 0.15).astype(int)
    shared = rng.normal(size=800)
    a = y + shared + 0.7 * rng.normal(size=800)
    b = effect_b * y + shared + 0.7 * rng.normal(size=800)
    delong = delong_test(y, a, b)
    boot = bootstrap_test(y, a, b, n_boot=1500, seed=3)
    assert boot["diff"] == pytest.approx(delong["diff"])
    assert boot["se"] == pytest.approx(delong["se"], rel=0.12)
    assert abs(boot["p"] - delong["p"]) < 0.1
    assert boot["ci_low"] < delong["diff"] < boot["ci_high"]


def test_risk_auc_is_out_of_fold_and_informative(data: dict) -> None:
    res = risk_prediction(data["emb"], data["disease"], None, "disease_at_assessment", 0, **FAST)
    scores = res["scores"]
    assert res["n"] == len(scores) == 400
    assert res["n_cases"] == scores["y"].sum()
    assert res["auc"] == pytest.approx(roc_auc_score(scores["y"], scores["score"]))
    assert res["auc"] > 0.75
    noise = data["emb"].assign(e_0=np.random.default_rng(5).normal(size=len(data["emb"])))
    null = risk_prediction(noise, data["disease"], None, "disease_at_assessment", 0, **FAST)
    assert 0.35 < null["auc"] < 0.65
    assert 0 < null["auprc"] < res["auprc"]


def test_risk_ignores_training_split(data: dict) -> None:
    train = data["emb"]["set"] == "train"
    emb = data["emb"].copy()
    emb.loc[train, "e_0"] = 100.0 * data["disease"].loc[train, "disease_at_assessment"]
    disease = data["disease"].copy()
    disease.loc[train, "disease_at_assessment"] = 1
    base = risk_prediction(data["emb"], data["disease"], None, "disease_at_assessment", 0, **FAST)
    moved = risk_prediction(emb, disease, None, "disease_at_assessment", 0, **FAST)
    assert moved["auc"] == base["auc"]
    assert set(moved["scores"]["IID"]) == set(data["emb"].loc[~train, "IID"])
    pd.testing.assert_frame_equal(moved["scores"], base["scores"])


def test_incident_excludes_prevalent_cases(data: dict) -> None:
    res = risk_prediction(data["emb"], data["disease"], None, "incident_5y", 0, **FAST)
    held = data["disease"][data["emb"]["set"] == "heldout"]
    free = held[held["disease_at_assessment"] == 0]
    assert res["n"] == len(free)
    assert set(res["scores"]["IID"]) == set(free["IID"])
    assert res["n_cases"] == free["incident_5y"].sum() > 0


def test_covariates_are_appended(data: dict) -> None:
    disease = data["disease"].assign(
        disease_at_assessment=(data["covariates"]["age"] > 60).astype(int)
    )
    without = risk_prediction(data["emb"], disease, None, "disease_at_assessment", 0, **FAST)
    with_covs = risk_prediction(
        data["emb"], disease, data["covariates"], "disease_at_assessment", 0, **FAST
    )
    assert without["auc"] < 0.65 < 0.95 < with_covs["auc"]


def test_oof_r2_closed_form() -> None:
    rng = np.random.default_rng(4)
    y = rng.normal(size=(50, 2))
    pred = y + rng.normal(size=(50, 2))
    np.testing.assert_allclose(oof_r2(y, pred), r2_score(y, pred, multioutput="raw_values"))


def test_latent_r2_noiseless_and_noise(data: dict) -> None:
    emb = data["emb"]
    latent = data["latent"].assign(
        latent_0=2 * emb["e_0"] - emb["e_1"] + 0.5 * emb["e_3"],
        latent_0_genetic=np.random.default_rng(6).normal(size=len(emb)),
    )
    r2 = latent_r2(emb, latent, n_latent=1, seed=0, alphas=(1e-8, 1e-6))
    assert r2["latent_0"] == pytest.approx(1.0, abs=1e-6)
    assert -0.05 < r2["latent_0_genetic"] < 0.02


def test_latent_r2_ignores_training_split(data: dict) -> None:
    base = latent_r2(data["emb"], data["latent"], n_latent=1, seed=0)
    latent = data["latent"].copy()
    latent.loc[data["emb"]["set"] == "train", ["latent_0", "latent_0_genetic"]] = 1e6
    assert latent_r2(data["emb"], latent, n_latent=1, seed=0) == base
    assert 0.5 < base["latent_0"] < 1 and base["latent_0_genetic"] < base["latent_0"]


def test_gwas_truth_hand_case() -> None:
    causal = pd.DataFrame(
        {
            "ID": ["m1", "m2", "m3", "d1"],
            "CHR": [1, 1, 2, 2],
            "POS": [1_000_000, 5_000_000, 1_000_000, 9_000_000],
            "pathway": ["mediated", "mediated", "mediated", "direct"],
        }
    )
    loci = pd.DataFrame(
        {
            "ID": ["near_m1", "far", "other_chr", "weak_m2", "near_d1"],
            "CHR": [1, 1, 3, 1, 2],
            "POS": [1_900_000, 3_200_000, 1_000_000, 5_000_000, 9_000_500],
            "P": [1e-10, 1e-9, 1e-12, 1e-6, 1e-20],
        }
    )
    truth = gwas_truth(loci, causal, window_kb=1000)
    assert truth["power_mediated"] == pytest.approx(1 / 3)
    assert truth["power_direct"] == 1.0
    assert truth["power_all"] == 0.5
    assert truth["n_significant"] == 4
    assert truth["false_discoveries"] == 2
    assert gwas_truth(loci, causal, window_kb=5000)["false_discoveries"] == 1


def test_evaluate_run_writes_metrics_and_comparison(data: dict, tmp_path) -> None:
    paths = {}
    for name in ("emb", "disease", "latent", "covariates"):
        paths[name] = tmp_path / f"{name}.tsv"
        data[name].to_csv(paths[name], sep="\t", index=False)
    causal = pd.DataFrame({"ID": ["c"], "CHR": [1], "POS": [100], "pathway": ["mediated"]})
    causal.to_csv(tmp_path / "causal.tsv", sep="\t", index=False)
    pd.DataFrame({"ID": ["c"], "CHR": [1], "POS": [100], "P": [1e-9]}).to_csv(
        tmp_path / "loci.tsv", sep="\t", index=False
    )
    summary = {"lambda_gc": 1.01, "n_loci": 1, "n_new": 0, "fraction_recovered_gw": 0.5}
    (tmp_path / "summary.json").write_text(
        json.dumps(summary | {"fraction_recovered_bonferroni": 0.75})
    )
    settings = from_section(EvaluateSettings, "evaluate", FAST)
    runs, scores = [], {}
    for method, emb in [("gemcont", data["emb"]), ("vae", cohort(seed=9)["emb"])]:
        emb.to_csv(tmp_path / f"{method}.tsv", sep="\t", index=False)
        runs.append(
            evaluate_run(
                method,
                0,
                settings,
                2026,
                embeddings=tmp_path / f"{method}.tsv",
                disease=paths["disease"],
                gwas_summary=tmp_path / "summary.json",
                gwas_loci=tmp_path / "loci.tsv",
                latent_traits=paths["latent"],
                causal_variants=tmp_path / "causal.tsv",
                scores_out=tmp_path / f"{method}_scores.tsv.gz",
            )
        )
        scores[method] = read_table(tmp_path / f"{method}_scores.tsv.gz")
    metrics = pd.concat(runs, ignore_index=True)
    values = metrics.set_index(["method", "metric"])["value"]
    expected = {"auc_assessment", "auprc_incident_5y", "r2_latent_0", "r2_latent_0_genetic"}
    expected |= {"gwas_recovery_bonferroni", "gwas_power_mediated", "gwas_false_discoveries"}
    assert expected <= set(metrics["metric"])
    assert values["gemcont", "gwas_power_mediated"] == 1.0
    assert values["gemcont", "r2_latent_0"] > values["vae", "r2_latent_0"]

    comparison = compare_methods(scores, reference="gemcont")
    assert list(comparison["method"]) == ["vae", "vae"]
    assert set(comparison["outcome"]) == {"assessment", "incident_5y"}
    first = comparison.iloc[0]
    assert first["diff"] == pytest.approx(first["auc"] - first["auc_ref"])
    assert first["auc_ref"] == pytest.approx(values["gemcont", "auc_assessment"])
    assert first["p_delong"] < 0.01

    wide = summarise(pd.concat([metrics, metrics.assign(split=1, value=metrics["value"] + 1)]))
    row = wide.set_index("method").loc["gemcont"]
    assert row["auc_assessment_mean"] == pytest.approx(values["gemcont", "auc_assessment"] + 0.5)
    assert row["auc_assessment_sd"] == pytest.approx(np.sqrt(0.5))
    r2 = truth_r2_table(metrics, tmp_path / "r2.tsv")
    assert list(pd.read_csv(tmp_path / "r2.tsv", sep="\t").columns) == [
        "method",
        "split",
        "latent",
        "r2",
    ]
    assert set(r2["latent"]) == {"latent_0", "latent_0_genetic"}


def test_kfold_splits_partition_the_rows() -> None:
    splits = kfold_splits(103, 5, seed=1)
    tests = np.concatenate([test for _, test in splits])
    assert np.array_equal(np.sort(tests), np.arange(103))
    for train, test in splits:
        assert np.intersect1d(train, test).size == 0 and train.size + test.size == 103
    assert all(
        np.array_equal(a[1], b[1]) for a, b in zip(splits, kfold_splits(103, 5, 1), strict=True)
    )
