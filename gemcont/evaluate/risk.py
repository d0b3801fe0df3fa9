"""Disease risk prediction from held-out embeddings.

Only people in the held-out set are used: the embedding model saw the training people's
panel genotypes, so they never enter the risk model. Within the held-out people, an L2
logistic regression (regularisation chosen by inner stratified cross-validation on ROC
AUC) is evaluated by outer stratified K-fold cross-fitting, so every held-out person gets
an out-of-fold risk score from a model that was not fitted on them.

When the held-out people hold too few cases (or controls) for the outer and inner folds,
the AUCs are not estimable: :class:`NotEstimable` says why, and the evaluation reports
them as NA with that reason instead of stopping.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from gemcont.evaluate import NotEstimable
from gemcont.io.embeddings import SET_COLUMN, dimension_columns
from gemcont.io.ids import KEY
from gemcont.io.splits import HELDOUT

OUTCOMES = ("disease_at_assessment", "incident_5y")
CATEGORICAL = ("batch", "centre")


def min_per_class(n_folds: int, inner_folds: int) -> int:
    """Fewest cases (and controls) for outer ``n_folds`` cross-fitting whose every
    training part still holds ``inner_folds`` of them for the inner CV."""
    k = max(n_folds, inner_folds)
    while k - math.ceil(k / n_folds) < inner_folds:
        k += 1
    return k


def keyed(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with FID and IID as strings."""
    return df.assign(FID=df["FID"].astype(str), IID=df["IID"].astype(str))


def heldout(emb_df: pd.DataFrame) -> pd.DataFrame:
    """The held-out people's embeddings (training-split rows dropped)."""
    return keyed(emb_df.loc[emb_df[SET_COLUMN] == HELDOUT])


def outcome_cohort(emb_df: pd.DataFrame, disease_df: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """Held-out people with disease status, sorted by key; incident excludes prevalent cases."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}; choose one of {OUTCOMES}")
    cohort = heldout(emb_df).merge(keyed(disease_df), on=KEY, how="inner")
    if outcome == "incident_5y":
        cohort = cohort[cohort["disease_at_assessment"] == 0]
    return cohort.sort_values(KEY).reset_index(drop=True)


def covariate_matrix(cohort: pd.DataFrame, covariates_df: pd.DataFrame) -> pd.DataFrame:
    """Covariates aligned to ``cohort`` (inner join); batch and centre as dummy columns."""
    covs = keyed(covariates_df)
    categorical = [c for c in covs.columns if c in CATEGORICAL]
    covs = pd.get_dummies(
        covs.astype(dict.fromkeys(categorical, str)),
        columns=categorical,
        drop_first=True,
        dtype=float,
    )
    return cohort[KEY].merge(covs.dropna(), on=KEY, how="inner")


def risk_model(seed: int, inner_folds: int, n_cs: int) -> Pipeline:
    """Standardise, then L2 logistic regression with C chosen by inner stratified CV on AUC.

    Newton-Cholesky: exact, and it does not slow down on collinear embeddings as lbfgs
    does (benchmarks/README.md, Evaluation).
    """
    inner = StratifiedKFold(n_splits=inner_folds, shuffle=True, random_state=seed)
    return make_pipeline(
        StandardScaler(),
        LogisticRegressionCV(
            Cs=n_cs,
            solver="newton-cholesky",
            l1_ratios=(0.0,),
            cv=inner,
            scoring="roc_auc",
            max_iter=1000,
            use_legacy_attributes=False,
        ),
    )


def out_of_fold_scores(
    x: np.ndarray, y: np.ndarray, seed: int, n_folds: int, inner_folds: int, n_cs: int
) -> np.ndarray:
    """Risk scores from outer stratified K-fold cross-fitting (each person scored once).

    Raises :class:`NotEstimable` when there are too few cases or controls for the folds.
    """
    need = min_per_class(n_folds, inner_folds)
    cases = int(y.sum())
    if min(cases, len(y) - cases) < need:
        raise NotEstimable(
            f"not estimable: {cases} case(s) and {len(y) - cases} control(s) among the "
            f"{len(y)} held-out people; {n_folds}-fold cross-fitting with {inner_folds}-fold "
            f"inner CV needs at least {need} of each",
            n=len(y),
            n_cases=cases,
        )
    scores = np.empty(len(y))
    outer = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for fit, score in outer.split(x, y):
        model = risk_model(seed, inner_folds, n_cs).fit(x[fit], y[fit])
        scores[score] = model.decision_function(x[score])
    return scores


def risk_prediction(
    emb_df: pd.DataFrame,
    disease_df: pd.DataFrame,
    covariates_df: pd.DataFrame | None,
    outcome: str,
    seed: int,
    n_folds: int = 5,
    inner_folds: int = 5,
    n_cs: int = 10,
) -> dict:
    """Out-of-fold ROC AUC and PR AUC of ``outcome`` from held-out embeddings (+ covariates).

    Returns ``outcome, n, n_cases, auc, auprc`` and ``scores`` (FID IID y score). Raises
    :class:`~gemcont.evaluate.NotEstimable` when the held-out people hold too few cases
    or controls.
    """
    cohort = outcome_cohort(emb_df, disease_df, outcome)
    features = cohort[KEY + dimension_columns(cohort)]
    if covariates_df is not None:
        features = features.merge(covariate_matrix(cohort, covariates_df), on=KEY, how="inner")
        cohort = cohort.merge(features[KEY], on=KEY, how="inner")
    x = features.drop(columns=KEY).to_numpy(float)
    y = cohort[outcome].to_numpy(int)
    scores = out_of_fold_scores(x, y, seed, n_folds, inner_folds, n_cs)
    return {
        "outcome": outcome,
        "n": len(y),
        "n_cases": int(y.sum()),
        "auc": float(roc_auc_score(y, scores)),
        "auprc": float(average_precision_score(y, scores)),
        "scores": cohort[KEY].assign(y=y, score=scores),
    }
