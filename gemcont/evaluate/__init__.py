"""Evaluation of embeddings on held-out people (METHOD.md, Evaluation).

- :mod:`risk`: disease risk prediction (L2 logistic regression, out-of-fold ROC / PR AUC);
- :mod:`compare`: paired comparison of two methods' ROC AUCs (DeLong, paired bootstrap);
- :mod:`truth`: simulation truth (ridge R² of the latent traits, GWAS power);
- :mod:`collect`: one run's long metric table, summaries over splits, method comparisons.

A metric that the data cannot estimate raises :class:`NotEstimable` where the
estimator sees why (too few cases for the folds, for DeLong's variance); :mod:`collect`
reports it as NA with that reason and the run goes on.
"""


class NotEstimable(ValueError):
    """A metric that the data cannot estimate; the message is the reason (reported).
    ``n`` and ``n_cases`` are the people and cases it had."""

    def __init__(self, reason: str, n: int, n_cases: int) -> None:
        super().__init__(reason)
        self.n, self.n_cases = n, n_cases
