"""The one covariate projection of the workflow: residuals on an intercept plus
covariates, used by the features stage (panel dosages and PRS, top PCs out) and by the
GWAS (phenotypes, genotype blocks).

One policy for both: covariates that are collinear with each other or with the
intercept (a constant column, a duplicated PC) stop the run with an error instead of
being dropped, because a silently smaller design changes what was adjusted for.
"""

from __future__ import annotations

import numpy as np

from gemcont.errors import InputError


class Residualizer:
    """Projects [1 | covariates] out of arrays; owns the degrees of freedom.

    ``covariates`` is samples x c (no intercept); ``source`` names them in errors (the
    file or config key they came from). Collinear columns are refused, not dropped.
    """

    def __init__(self, covariates: np.ndarray, source: str | None = None) -> None:
        n, c = covariates.shape  # samples x covariates (no intercept)
        self.n_samples, self.n_covariates = n, c
        self.n_basis = c + 1
        self.null_dof = n - self.n_basis  # y ~ 1 + covariates
        self.dof = self.null_dof - 1  # y ~ 1 + covariates + g: plink2 --glm's dof
        if self.dof < 1:
            raise InputError(
                source,
                f"too few degrees of freedom: N={n} samples with {c} covariates "
                f"(+ intercept + genotype) leave {self.dof}",
                "use more samples or fewer covariates",
            )
        basis = np.column_stack([np.ones(n), covariates]).astype(np.float64)
        q, r = np.linalg.qr(basis)  # q: samples x (c + 1), orthonormal
        if (np.abs(np.diag(r)) <= 1e-8 * np.linalg.norm(basis, axis=0)).any():
            raise InputError(
                source,
                f"covariates are collinear (with each other or the intercept), N={n}, c={c}",
                "drop constant or redundant covariate columns",
            )
        self.q = q

    def transform(self, x: np.ndarray) -> np.ndarray:
        """x - Q(Qᵀx) for x samples x m."""
        assert x.shape[0] == self.n_samples, (x.shape, self.n_samples)
        return x - self.q @ (self.q.T @ x)
