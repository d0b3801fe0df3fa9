"""The multi-trait test of METHOD.md ("Evaluation") and its pieces shared by engines.

Model per variant: E = F A + g bᵀ + Ψ, Ψ ~ N(0, C), C fixed at its null estimate;
H0: b = 0, a likelihood-ratio test on D degrees of freedom.

* :func:`lrt_reference` is the slow, independent float64 reference (two explicit
  fits, two Gaussian log-likelihoods); tests hold the fast kernel to it.
* :func:`combine_z` combines per-dimension z-scores of any engine (PLINK 2, REGENIE)
  with the phenotype correlation matrix R: T = zᵀ R⁻¹ z ~ χ²_D.

One statistic for every engine: the LRT above equals zᵀR⁻¹z when z_d is the *score*
z of dimension d (gᵀy_d / √(gᵀg · C_dd), the residual variance C_dd fitted without the
variant) and R the correlation of C, the covariate-residualised phenotypes
(trait_corr.tsv). The built-in engine computes it in that closed form; REGENIE's
quantitative-trait BETA/SE is that score z (its SE uses the null residual variance:
checked on the real REGENIE outputs of ``tests/test_gwas_regenie.py``); PLINK 2
reports the Wald t (residual variance fitted with the variant), turned into the score z
exactly by :func:`score_z_from_t`. The Wald t² exceeds the score z² by the factor
1 / (1 - r²) (r² the variant's share of the residual variance), so combining Wald t's
would inflate strong loci (66.3 vs 57.7 on the same data) and make the multi-trait
column differ by engine; the score form is the model's own test and does not.

Its tail, :func:`gemcont.gwas.pvalues.chi2_mlog10p`, lives with the other p-values.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import chi2, multivariate_normal

# an external engine's per-dimension score z in its long table (the combination's input)
Z_COLUMN = "Z"


def _ols_residuals(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Residuals of the column-wise OLS fit y (samples x D) ~ x (samples x p)."""
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)  # p x D
    return y - x @ coef


def _loglik(resid: np.ndarray, cov: np.ndarray) -> float:
    """Σ_i log N(resid_i; 0, cov) for resid samples x D."""
    return float(multivariate_normal(mean=np.zeros(cov.shape[0]), cov=cov).logpdf(resid).sum())


def lrt_reference(y: np.ndarray, g: np.ndarray, covariates: np.ndarray) -> float:
    """LRT of b = 0 for one variant, C fixed at the null estimate (float64 reference).

    y: samples x D phenotypes; g: samples dosages; covariates: samples x c (no
    intercept; one is added). With the same regressors for every trait, GLS with any
    fixed C equals column-wise OLS, so both fits are plain least squares.
    """
    n = y.shape[0]
    f = np.column_stack([np.ones(n), covariates])  # samples x (c + 1)
    resid0 = _ols_residuals(f, y)  # samples x D
    resid1 = _ols_residuals(np.column_stack([f, g]), y)  # samples x D
    cov = resid0.T @ resid0 / (n - f.shape[1])  # D x D, the null estimate
    return 2.0 * (_loglik(resid1, cov) - _loglik(resid0, cov))


def score_z_from_t(t: np.ndarray, dof: np.ndarray | float) -> np.ndarray:
    """The score z of a single-trait OLS test from its Wald t with ``dof`` residual
    degrees of freedom (N - c - 2 with c covariates and an intercept).

    With r² the variant's share of the residual sum of squares, t² = dof · r² / (1 - r²)
    and z² = (dof + 1) · r² (residual variance on the null model's dof + 1); so
    z = t · √((dof + 1) / (t² + dof)), exact for OLS.
    """
    t = np.asarray(t, dtype=np.float64)
    dof = np.asarray(dof, dtype=np.float64)
    return t * np.sqrt((dof + 1.0) / (t * t + dof))


def combine_z(z: np.ndarray, corr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """T = zᵀ R⁻¹ z per variant and its χ²_D p-value.

    z: variants x D (BETA/SE, or signed sqrt of a 1-df χ²); corr: D x D.
    Returns (chisq, p), each of length variants; use
    :func:`gemcont.gwas.pvalues.chi2_mlog10p` when p may underflow.
    """
    z = np.atleast_2d(np.asarray(z, dtype=np.float64))
    corr = np.asarray(corr, dtype=np.float64)
    if corr.shape != (z.shape[1], z.shape[1]):
        raise ValueError(f"R is {corr.shape}, z has {z.shape[1]} dimensions")
    chol = np.linalg.cholesky(corr)  # D x D, lower
    w = np.linalg.solve(chol, z.T)  # D x variants, L⁻¹ z
    chisq = (w * w).sum(axis=0)
    return chisq, chi2.sf(chisq, z.shape[1])
