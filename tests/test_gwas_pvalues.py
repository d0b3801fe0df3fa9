"""Student-t and chi-square -log10 P (gemcont.gwas.pvalues) against an independent
high-precision reference (mpmath's regularised incomplete beta), on the CPU."""

from __future__ import annotations

import numpy as np
import pytest

from gemcont.gwas.pvalues import (
    HILL_MAX_T2_PER_DOF,
    HILL_MIN_DOF,
    exact_log_p,
    hill_log_p,
    t_mlog10p,
)

mpmath = pytest.importorskip("mpmath")


def reference_mlog10p(t: np.ndarray, dof: int) -> np.ndarray:
    """-log10 two-sided Student t P in mpmath at 40 digits (no float underflow):
    P = I_x(a, 1/2), x = dof / (dof + t²), a = dof/2, with
    I_x(a, b) = xᵃ(1-x)ᵇ ₂F₁(a+b, 1; a+1; x) / (a B(a, b))."""
    with mpmath.workdps(40):
        a, b = mpmath.mpf(dof) / 2, mpmath.mpf(1) / 2
        out = []
        for value in t:
            t2 = mpmath.mpf(float(value)) ** 2
            x = dof / (dof + t2)
            p = x**a * (1 - x) ** b * mpmath.hyp2f1(a + b, 1, a + 1, x) / (a * mpmath.beta(a, b))
            out.append(float(-mpmath.log10(p)) if t2 > 0 else 0.0)
    return np.array(out)


@pytest.mark.parametrize("dof", [100, 1000, 19988, 100_000])
def test_t_mlog10p__hill_approximation_equals_the_exact_tail(dof) -> None:
    """Where Hill's approximation is used (t² ≤ 0.1 dof), it is the exact P to ~1e-12."""
    t = np.linspace(0.0, 0.999 * np.sqrt(HILL_MAX_T2_PER_DOF * dof), 25)
    hill = -hill_log_p(t, dof) / np.log(10)
    assert np.isfinite(hill).all()
    # mpmath's ₂F₁ does not converge near x = 1 for dof 10⁵: scipy's stdtr path there
    reference = reference_mlog10p(t, dof) if dof < 50_000 else -exact_log_p(t, dof) / np.log(10)
    np.testing.assert_allclose(hill, reference, rtol=1e-12, atol=1e-13)
    np.testing.assert_array_equal(t_mlog10p(-t, dof), hill)


def test_t_mlog10p__exact_outside_hills_range() -> None:
    t = np.array([0.5, 3.0, 12.0, 80.0])
    for dof in [5, 99, 1000]:
        exact = -exact_log_p(t, dof) / np.log(10)
        np.testing.assert_allclose(exact, reference_mlog10p(t, dof), rtol=1e-12)
        hill = -hill_log_p(t, dof) / np.log(10)
        used = ~np.isnan(hill)
        assert dof >= HILL_MIN_DOF or not used.any()
        np.testing.assert_array_equal(t_mlog10p(t, dof)[~used], exact[~used])


def test_t_mlog10p__far_below_the_smallest_double() -> None:
    t, dof = np.array([60.0, 200.0]), 1000
    got = t_mlog10p(t, dof)
    assert (got > 308).all()
    np.testing.assert_allclose(got, reference_mlog10p(t, dof), rtol=1e-12)
