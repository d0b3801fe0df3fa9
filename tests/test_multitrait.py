"""The multi-trait test: fast kernel vs the explicit LRT, combine_z, tail p-values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2

from gemcont.gwas.kernel import Backend, null_model, scan_block
from gemcont.gwas.multitrait import combine_z, lrt_reference, score_z_from_t
from gemcont.gwas.pvalues import chi2_mlog10p


def simulate(n: int = 800, m: int = 200, d: int = 6, seed: int = 3):
    """Genotypes (n x m, some missing), phenotypes (n x d) and covariates (n x 3)."""
    rng = np.random.default_rng(seed)
    g = rng.binomial(2, rng.uniform(0.05, 0.5, m), size=(n, m)).astype(np.float64)
    covariates = rng.normal(size=(n, 3))
    effects = np.zeros((m, d))
    effects[:20] = rng.normal(scale=0.25, size=(20, d))  # 20 causal variants
    noise = rng.normal(size=(n, d)) @ rng.normal(size=(d, d))  # correlated traits
    y = g @ effects + covariates @ rng.normal(size=(3, d)) + noise
    g[rng.random(g.shape) < 0.01] = np.nan
    return g, y, covariates


def test_multitrait_kernel__equals_explicit_lrt() -> None:
    g, y, covariates = simulate()
    model = null_model(y, covariates, Backend())
    keep, counts, result = scan_block(g, model, 0.0, 0.0, Backend())
    assert keep.all()
    imputed = np.where(np.isnan(g), 2 * counts.eaf, g)  # mean imputation, n x m
    reference = np.array([lrt_reference(y, imputed[:, j], covariates) for j in range(g.shape[1])])
    np.testing.assert_allclose(result.chisq, reference, rtol=1e-6, atol=1e-9)
    assert (reference[:20] > chi2.ppf(1 - 1e-4, 6)).sum() >= 10  # the causal ones are strong


def test_combine_z__of_score_z_from_wald_t_equals_explicit_lrt() -> None:
    """The one multi-trait formula: Wald t's (statsmodels OLS, as plink2 reports them)
    turned into score z's and combined with the residual correlation give the LRT."""
    import statsmodels.api as sm

    g, y, covariates = simulate(m=40)
    g = np.where(np.isnan(g), np.nanmean(g, axis=0), g)
    n, d = y.shape
    design0 = sm.add_constant(covariates)
    resid = y - design0 @ np.linalg.lstsq(design0, y, rcond=None)[0]
    corr = np.corrcoef(resid, rowvar=False)
    dof = n - covariates.shape[1] - 2
    gaps = []
    for j in range(25):  # 20 causal variants, 5 null
        fits = [sm.OLS(y[:, k], np.column_stack([design0, g[:, j]])).fit() for k in range(d)]
        t = np.array([fit.tvalues[-1] for fit in fits])
        chisq, _ = combine_z(score_z_from_t(t, dof)[None, :], corr)
        reference = lrt_reference(y, g[:, j], covariates)
        np.testing.assert_allclose(chisq[0], reference, rtol=1e-9)
        gaps.append(combine_z(t[None, :], corr)[0][0] / reference - 1)
    assert max(gaps) > 0.01  # the Wald t's combined are another statistic


def test_lrt_reference__zero_for_a_variant_orthogonal_to_everything() -> None:
    rng = np.random.default_rng(0)
    y, covariates = rng.normal(size=(50, 3)), rng.normal(size=(50, 2))
    assert lrt_reference(y, np.ones(50), covariates) == pytest.approx(0.0, abs=1e-8)


def test_combine_z__identity_r_is_sum_of_squares() -> None:
    z = np.random.default_rng(1).normal(size=(100, 4))
    chisq, p = combine_z(z, np.eye(4))
    np.testing.assert_allclose(chisq, (z**2).sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(p, chi2.sf(chisq, 4), rtol=1e-12)


def test_combine_z__is_the_mahalanobis_form() -> None:
    rng = np.random.default_rng(2)
    a = rng.normal(size=(5, 5))
    cov = a @ a.T + 5 * np.eye(5)
    corr = cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    z = rng.normal(size=(30, 5))
    expected = np.einsum("vd,de,ve->v", z, np.linalg.inv(corr), z)
    np.testing.assert_allclose(combine_z(z, corr)[0], expected, rtol=1e-10)


def test_combine_z__rejects_mismatched_r() -> None:
    with pytest.raises(ValueError, match="3 dimensions"):
        combine_z(np.zeros((2, 3)), np.eye(4))


def test_chi2_mlog10p__exact_far_below_double_range() -> None:
    # chi2 with 2 df: sf(x) = exp(-x / 2) exactly
    x = np.array([10.0, 900.0, 1e4, 1e5])
    np.testing.assert_allclose(chi2_mlog10p(x, 2), x / 2 / np.log(10), rtol=1e-12)


def test_chi2_mlog10p__continuous_across_the_switch() -> None:
    mpmath = pytest.importorskip("mpmath")
    for df, x in [(1, 2500.0), (8, 3000.0), (64, 1e4), (256, 5000.0)]:
        exact = -float(mpmath.log10(mpmath.gammainc(df / 2, x / 2, regularized=True)))
        assert chi2_mlog10p(np.array([x]), df)[0] == pytest.approx(exact, rel=1e-12)
