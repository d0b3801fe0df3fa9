"""The built-in GWAS engine: vectorised OLS for all embedding dimensions at once.

Covariates (with an intercept) are projected out once by a :class:`Residualizer`;
each genotype block then costs one matrix product with the residualised phenotypes
(Frisch-Waugh-Lovell), and BETA, SE, t, P and the multi-trait statistic of METHOD.md
follow in closed form. The residualised genotypes G̃ = G - Q(QᵀG) are never formed:
with Y_res ⊥ Q, G̃ᵀY_res = GᵀY_res and diag(G̃ᵀG̃) = diag(GᵀG) - ‖QᵀG‖² per column,
so one product Gᵀ[Y_res | Q] per block gives everything (forming G̃ cost ~5x that
product on CPU).

Missing calls are imputed with the observed mean. In float32 the genotypes enter the
product centred on that mean (missing calls at 0), so the products lose nothing to
cancellation (float64 needs no centring: GᵀY_res and the covariate entries of QᵀG do
not change with it). The centred sums of squares diag(GᵀG) - (1ᵀG)²/N come exactly
from integer genotype counts (popcount on the .bed bytes), not from the float block.

Two block pipelines, both reading one block ahead in a background thread:

* numpy (CPU; float64 by default, float32 on request): counts from the .bed bytes,
  int8 decoding (:meth:`Genotypes.read_int8`) and conversion to float into reused
  buffers, then the product, and the statistics in float64 (cache-sized slices).
* torch (CUDA, or the CPU for tests): only the raw .bed bytes leave the host (read by
  ``pread`` into pinned memory, copied on a side stream); counting, decoding straight
  to centred imputed float32 (one table lookup per byte,
  :func:`gemcont.io.plink.unpack_bed_torch`), the product (IEEE float32, TF32 off) and
  the per-dimension statistics (float64, -log10 P included) all run on the device;
  results come back through pinned buffers while the device works on the next block.
  Expect ~1e-6 relative differences from the float64 CPU numbers.

-log10 P of the t statistics: Hill's (1970, CACM algorithm 395) normal approximation
of Student t, evaluated with log Φ, where it is exact to ~1e-12 relative in P (dof ≥
100 and t² ≤ 0.1 dof, checked against mpmath); scipy's exact ``stdtr`` (with a
log-space tail far below 1e-308) elsewhere. Hill costs ~1/4 of ``stdtr`` and runs on
the GPU.

Missing genotypes are mean-imputed. Without missingness every number equals
``plink2 --glm`` (same model, Student t with N - c - 2 dof); with missingness plink2
instead drops the sample for that variant, so results differ slightly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from scipy.special import betaln, hyp2f1, log_ndtr, stdtr
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from gemcont.errors import ConfigError, InputError
from gemcont.gwas.multitrait import LN10, LOG_TAIL_SWITCH, chi2_mlog10p
from gemcont.gwas.prepare import ID_COLUMNS, phenotype_names
from gemcont.io.plink import (
    MISSING_INT8,
    Genotypes,
    code_counts,
    code_counts_torch,
    selection_bits,
    unpack_bed_torch,
)
from gemcont.prefault import prefault

log = logging.getLogger(__name__)

Array = Any  # np.ndarray or torch.Tensor; the kernel is written for both
DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("float64", "float32")
# residual / centred genotype sum of squares at or below this: collinear with the
# covariates, reported as NaN and dropped (looser in float32: the difference cancels)
COLLINEAR_TOL = {"float64": 1e-8, "float32": 1e-4}
# variants per block when not configured. CPU: products run at full GEMM speed from
# ~512 columns (N = 20,000, k = 128), and smaller blocks need fewer fresh pages (host
# memory about N x block x 18 bytes: two int8 and two float64 blocks): a first scan of
# N 20,000, M 50,000, k 128 in float64 on 2 threads took 4.9-5.0 s with 512, 5.6-6.0 s
# with 2048. CUDA: larger blocks amortise each block's launches and synchronisations.
DEFAULT_BLOCK_SIZE = {"cpu": 512, "cuda": 2048}
# Hill's approximation of the t tail is used where it is exact to ~1e-12 (see t_mlog10p)
HILL_MIN_DOF = 100
HILL_MAX_T2_PER_DOF = 0.1
# torch pipeline: decode every .fam sample (zero basis rows for the others) when at
# least this fraction is analysed, else decode all and gather the analysed ones
DENSE_FRACTION = 0.7
# numpy statistics run over slices of about this many variant x dimension values
# (temporaries in L2; fresh large ones cost page faults: ~2x the CPU time)
STATS_CHUNK = 1 << 12
# the variants x dimensions statistics, stored in the scan's precision (float32 halves
# the bytes to move, store and write: fresh host memory costs ~2 s/GB in some VMs)
PER_DIM_KEYS = ("beta", "se", "mlog10p")
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class BlockResult:
    """Per-variant statistics of one block (numpy float64)."""

    beta: np.ndarray  # variants x D
    se: np.ndarray  # variants x D
    mlog10p: np.ndarray  # variants x D, -log10 P (two-sided t)
    chisq: np.ndarray  # variants, multi-trait T ~ χ²_D
    chisq_mlog10p: np.ndarray  # variants

    @property
    def tstat(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.beta / self.se


@dataclass(frozen=True)
class AlleleCounts:
    """Observed (non-missing) A1 counts per variant."""

    n_obs: np.ndarray  # variants, non-missing calls
    eaf: np.ndarray  # variants, A1 frequency
    mac: np.ndarray  # variants, minor allele count
    css: np.ndarray | None = None  # variants, Σ (g - mean)² of the mean-imputed dosages


class Residualizer:
    """Projects [1 | covariates] out of arrays; owns the degrees of freedom."""

    def __init__(self, covariates: np.ndarray) -> None:
        n, c = covariates.shape  # samples x covariates (no intercept)
        self.n_samples, self.n_covariates = n, c
        self.n_basis = c + 1
        self.null_dof = n - self.n_basis  # y ~ 1 + covariates
        self.dof = self.null_dof - 1  # y ~ 1 + covariates + g: plink2 --glm's dof
        if self.dof < 1:
            raise InputError(
                None,
                f"too few degrees of freedom: N={n} samples with {c} covariates "
                f"(+ intercept + genotype) leave {self.dof}",
                "use more samples or fewer covariates",
            )
        basis = np.column_stack([np.ones(n), covariates]).astype(np.float64)
        q, r = np.linalg.qr(basis)  # q: samples x (c + 1), orthonormal
        if (np.abs(np.diag(r)) <= 1e-8 * np.linalg.norm(basis, axis=0)).any():
            raise InputError(
                None,
                f"covariates are collinear (with each other or the intercept), N={n}, c={c}",
                "drop constant or redundant covariate columns",
            )
        self.q = q

    def transform(self, x: np.ndarray) -> np.ndarray:
        """x - Q(Qᵀx) for x samples x m."""
        assert x.shape[0] == self.n_samples, (x.shape, self.n_samples)
        return x - self.q @ (self.q.T @ x)


def _to_numpy64(x: Array) -> np.ndarray:
    if isinstance(x, np.ndarray):
        return x.astype(np.float64, copy=False)
    return x.detach().double().cpu().numpy()


def _is_torch(x: Array) -> bool:
    return not isinstance(x, np.ndarray)


@dataclass(frozen=True)
class Backend:
    """Where and in which precision the block products run."""

    device: str = "cpu"  # "cpu" or "cuda"
    dtype: str = "float64"  # "float64" or "float32": the genotype block and the product
    use_torch: bool = False  # numpy unless True (always torch on cuda)

    def array(self, x: np.ndarray) -> Array:
        """x as a numpy array or torch tensor of this backend."""
        if not self.use_torch:
            return np.asarray(x, dtype=self.dtype)
        import torch

        return torch.as_tensor(x, dtype=getattr(torch, self.dtype), device=self.device)

    def genotypes(
        self, dosages: np.ndarray, out: np.ndarray | None = None
    ) -> tuple[Array, AlleleCounts]:
        """Centred mean-imputed block on this backend (missing calls 0) and its counts.

        dosages: samples x variants numpy, int8 A1 counts (``MISSING_INT8`` = missing) or
        float (NaN = missing). out: a samples x variants numpy buffer of this dtype
        (numpy backend only). The counts carry the centred sums of squares.
        """
        counts = allele_counts(dosages)
        direct = self.dtype == "float64" and not self.use_torch
        incomplete = counts.n_obs < dosages.shape[0]
        g = centre_impute(dosages, 2.0 * counts.eaf, "float64", out if direct else None, incomplete)
        css = np.einsum("ij,ij->j", g, g)  # centred in float64, then converted
        if not direct:
            g = self.array(g) if out is None or self.use_torch else np.copyto(out, g) or out
        return g, replace(counts, css=css)


def _counts(a1: np.ndarray, n_obs: np.ndarray, sumsq: np.ndarray | None = None) -> AlleleCounts:
    """AlleleCounts from A1 sums (and sums of squares: integers give an exact css)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        eaf = a1 / (2.0 * n_obs)
        css = None if sumsq is None else (n_obs * sumsq - a1 * a1) / n_obs
    a1 = a1.astype(np.float64)
    return AlleleCounts(n_obs=n_obs, eaf=eaf, mac=np.minimum(a1, 2.0 * n_obs - a1), css=css)


def counts_from_codes(
    het: np.ndarray, a1a1: np.ndarray, missing: np.ndarray, n_samples: int
) -> AlleleCounts:
    """AlleleCounts (with exact css) from genotype counts, e.g. :func:`code_counts`."""
    het, a1a1 = het.astype(np.int64), a1a1.astype(np.int64)
    return _counts(het + 2 * a1a1, n_samples - missing.astype(np.int64), het + 4 * a1a1)


def _where(x: Array) -> Callable[[Array, Any, Array], Array]:
    """``where(condition, a, b)`` of x's library (numpy or torch)."""
    if _is_torch(x):
        import torch

        return torch.where
    return np.where


def _hill_log_p(tstat: Array, dof: int) -> Array:
    """ln of the two-sided Student t P by Hill's normal approximation; NaN outside its
    exact range (dof < HILL_MIN_DOF or t² > HILL_MAX_T2_PER_DOF·dof). numpy or torch."""
    if _is_torch(tstat):
        import torch

        log1p, ndtr, sqrt = torch.log1p, torch.special.log_ndtr, torch.sqrt
    else:
        log1p, ndtr, sqrt = np.log1p, log_ndtr, np.sqrt
    where = _where(tstat)
    t2 = tstat * tstat
    if dof < HILL_MIN_DOF:
        return t2 * np.nan
    a = dof - 0.5
    b = 48.0 * a * a
    inside = t2 <= HILL_MAX_T2_PER_DOF * dof  # False for NaN and inf
    z = sqrt(a * log1p(where(inside, t2, 0.0) / dof))
    z2 = z * z
    poly = ((4.0 * z2 + 33.0) * z2 + 240.0) * z2 + 855.0
    z = z + z * (z2 + 3.0) / b - z * poly / (10.0 * b * (b + 0.8 * z2 * z2 + 100.0))
    return where(inside, np.log(2.0) + ndtr(-z), np.nan)


def _exact_log_p(abs_t: np.ndarray, dof: int) -> np.ndarray:
    """ln two-sided Student t P from scipy's stdtr, in log-space where it underflows.

    There P = I_x(dof/2, 1/2) with x = dof / (dof + t²) is taken via
    I_x(a, b) = xᵃ(1-x)ᵇ ₂F₁(a+b, 1; a+1; x) / (a B(a, b)).
    """
    with np.errstate(divide="ignore"):
        logp = np.asarray(np.log(2.0 * stdtr(dof, -abs_t)))  # -inf where it underflows
    tail = logp < LOG_TAIL_SWITCH
    if tail.any():
        a, b, t2 = dof / 2.0, 0.5, abs_t[tail] ** 2
        x = dof / (dof + t2)
        logp[tail] = (
            a * np.log(x)
            + b * np.log(t2 / (dof + t2))
            + np.log(hyp2f1(a + b, 1.0, a + 1.0, x))
            - np.log(a)
            - betaln(a, b)
        )
    return logp


def _fill_exact(mlog10p: np.ndarray, tstat: Callable[[], np.ndarray], dof: int) -> np.ndarray:
    """Replace NaN -log10 P left by Hill's approximation, where t is a number, exactly."""
    todo = np.isnan(mlog10p)
    if todo.any():
        t = np.abs(tstat()[todo], dtype=np.float64)  # float64 even from float32 results
        ok = ~np.isnan(t)
        values = np.full(t.shape, np.nan)
        values[ok] = -_exact_log_p(t[ok], dof) / LN10
        mlog10p[todo] = values
    return mlog10p


def t_mlog10p(tstat: np.ndarray, dof: int) -> np.ndarray:
    """-log10 two-sided Student-t P, accurate far below 1e-308.

    Hill's approximation where it is exact to ~1e-12 relative in P (dof ≥ 100 and
    t² ≤ 0.1·dof; checked against mpmath for dof 100 to 10⁶), scipy's stdtr elsewhere,
    in log-space where that underflows.
    """
    abs_t = np.abs(np.asarray(tstat, dtype=np.float64))
    mlog10p = np.asarray(-_hill_log_p(abs_t, dof) / LN10)
    return _fill_exact(mlog10p, lambda: abs_t, dof)


def _block_stats(
    product: Array,
    css: Array,
    yty: Array,
    c_inv: Array,
    dof: int,
    tol: float,
    quad: Array | None = None,
) -> dict[str, Array]:
    """Per-variant statistics from Gᵀ[Y_res | Q] (variants x (D + c + 1), float64).

    css: Σ (g - mean)² per variant; yty: ‖Y_res‖² per dimension; c_inv: D x D; quad:
    gᵀY C⁻¹ Yᵀg per variant if already known. numpy or torch (on the product's device).
    mlog10p is Hill's, NaN where that is not exact (see :func:`_finish_stats`).
    """
    d = c_inv.shape[0]
    gty, qtg = product[:, :d], product[:, d + 1 :]  # GᵀY_res = G̃ᵀY_res; QᵀG but 1ᵀG
    gtg = css - (qtg * qtg).sum(1)  # G̃ᵀG̃ = ‖G‖² - ‖QᵀG‖², ‖G‖² - (1ᵀG)²/N = css
    where = _where(product)  # not masked assignment: on a GPU that waits for the device
    gtg = where(gtg <= tol * css, np.nan, gtg)  # collinear with the covariates (or monomorphic)
    beta = gty / gtg[:, None]  # variants x D
    rss = (yty[None, :] - beta * gty).clip(0.0)  # residual SS, closed form
    se = (rss / (dof * gtg[:, None])) ** 0.5
    tstat = beta / se
    if quad is None:
        quad = ((gty @ c_inv) * gty).sum(1)
    chisq = quad / gtg  # gᵀY C⁻¹ Yᵀg / gᵀg
    return {"beta": beta, "se": se, "mlog10p": -_hill_log_p(tstat, dof) / LN10, "chisq": chisq}


def _numpy_stats_into(
    out: dict[str, np.ndarray],
    lo: int,
    product: np.ndarray,
    css: np.ndarray,
    yty: np.ndarray,
    c_inv: np.ndarray,
    dof: int,
    tol: float,
) -> None:
    """:func:`_block_stats` of a numpy product into rows lo.. of ``out``'s arrays.

    In slices of ~STATS_CHUNK values (cache-sized temporaries: fresh large ones cost
    page faults); the D x D quadratic form once for the block (one BLAS call per slice
    cost ms each on a busy machine).
    """
    d = c_inv.shape[0]
    gty = product[:, :d]
    quad = np.einsum("vd,vd->v", gty @ c_inv, gty)
    step = max(1, STATS_CHUNK // d)
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in range(0, product.shape[0], step):
            part = slice(i, i + step)
            stats = _block_stats(product[part], css[part], yty, c_inv, dof, tol, quad[part])
            for key, value in stats.items():
                out[key][lo + i : lo + i + value.shape[0]] = value


def _finish_stats(out: dict[str, np.ndarray], lo: int, hi: int, dof: int) -> None:
    """In place, rows lo..hi: exact -log10 P where Hill's is NaN, and the χ² -log10 P."""
    beta, se = out["beta"][lo:hi], out["se"][lo:hi]
    with np.errstate(divide="ignore", invalid="ignore"):
        _fill_exact(out["mlog10p"][lo:hi], lambda: beta / se, dof)
    out["chisq_mlog10p"][lo:hi] = chi2_mlog10p(out["chisq"][lo:hi], beta.shape[1])


def _result_arrays(m: int, d: int, dtype: str = "float64") -> dict[str, np.ndarray]:
    """Uninitialised per-variant result arrays for m variants and d dimensions; the
    m x d ones (BETA, SE, -log10 P) in ``dtype``, the multi-trait ones in float64."""
    return {
        **{k: np.empty((m, d), dtype) for k in PER_DIM_KEYS},
        **{k: np.empty(m) for k in ("chisq", "chisq_mlog10p")},
    }


def association_block(
    g: Array,
    basis: Array,
    c_inv: np.ndarray,
    dof: int,
    css: np.ndarray | None = None,
    yty: np.ndarray | None = None,
) -> BlockResult:
    """Statistics for one block of genotypes against all phenotypes.

    g: samples x variants, mean-imputed dosages (centred or not; centred keeps float32
    exact); basis: samples x (D + c + 1) = [Y_res | Q], residualised phenotypes then the
    orthonormal covariate basis, Q's first column the intercept (same backend as g);
    c_inv: D x D inverse null covariance of Y_res; dof: residual dof of the model with
    the genotype; css: Σ (g - mean)² per variant when known exactly (else from g);
    yty: ‖Y_res‖² per dimension (else from basis).
    """
    assert g.shape[0] == basis.shape[0], (g.shape, basis.shape)
    d = c_inv.shape[0]
    product = g.T @ basis  # variants x (D + c + 1): the one big product
    if css is None:  # Σg² - (1ᵀg)²/N, the intercept entry of QᵀG being 1ᵀg/√N
        intercept = product[:, d]
        sumsq = (g * g).sum(0) if _is_torch(g) else np.einsum("ij,ij->j", g, g)
        css = _to_numpy64(sumsq) - _to_numpy64(intercept) ** 2
    if yty is None:
        y = basis[:, :d]
        yty = _to_numpy64((y * y).sum(0))
    tol = COLLINEAR_TOL[str(g.dtype).removeprefix("torch.")]
    m = product.shape[0]
    out = _result_arrays(m, d)
    if _is_torch(g):
        import torch

        dev = g.device
        stats = _block_stats(
            product.double(),
            torch.as_tensor(css, dtype=torch.float64, device=dev),
            torch.as_tensor(yty, dtype=torch.float64, device=dev),
            torch.as_tensor(c_inv, dtype=torch.float64, device=dev),
            dof,
            tol,
        )
        for key, value in stats.items():
            out[key][:] = value.cpu().numpy()
    else:
        _numpy_stats_into(out, 0, _to_numpy64(product), css, yty, c_inv, dof, tol)
    _finish_stats(out, 0, m, dof)
    return BlockResult(**out)


def _is_missing(dosages: np.ndarray) -> np.ndarray:
    """Missing calls: ``MISSING_INT8`` in int8 dosages, NaN in float ones."""
    return dosages == MISSING_INT8 if dosages.dtype == np.int8 else np.isnan(dosages)


def allele_counts(dosages: np.ndarray) -> AlleleCounts:
    """A1 counts from samples x variants dosages: int8 (``MISSING_INT8`` = missing) or float
    (NaN = missing)."""
    n, m = dosages.shape
    missing = _is_missing(dosages)
    incomplete = missing.any(axis=0)
    integer = dosages.dtype == np.int8
    a1 = dosages.sum(axis=0, dtype=np.int64 if integer else np.float64).astype(np.float64)
    n_obs = np.full(m, n)
    if incomplete.any():
        sub, sub_missing = dosages[:, incomplete], missing[:, incomplete]
        n_obs[incomplete] = n - sub_missing.sum(axis=0)
        a1[incomplete] = np.where(sub_missing, 0, sub).sum(axis=0, dtype=np.float64)
    return _counts(a1, n_obs)


def maf_filter(counts: AlleleCounts, min_maf: float, min_mac: float) -> np.ndarray:
    """Variants that pass MAF/MAC thresholds and are polymorphic (mask)."""
    maf = np.minimum(counts.eaf, 1.0 - counts.eaf)
    return (counts.n_obs > 0) & (counts.mac > 0) & (maf >= min_maf) & (counts.mac >= min_mac)


def centre_impute(
    dosages: np.ndarray,
    mean: np.ndarray,
    dtype: str = "float64",
    out: np.ndarray | None = None,
    incomplete: np.ndarray | None = None,
    centre: bool = True,
) -> np.ndarray:
    """Dosages (samples x variants) minus their observed ``mean``, missing calls at 0.

    int8 (``MISSING_INT8`` = missing) or float (NaN = missing) input; written into
    ``out`` (samples x variants of ``dtype``) when given: a reused buffer spares the
    page faults of a fresh one. incomplete: variants with a missing call (mask; None:
    search all); only those are searched, 256 at a time. centre=False: not centred,
    missing calls at the mean (half the CPU time; exact enough in float64).
    """
    if centre:
        with np.errstate(invalid="ignore"):
            g = np.subtract(dosages, mean.astype(dtype), out=out, dtype=dtype)
    else:
        g = dosages.astype(dtype) if out is None else out
        if out is not None:
            np.copyto(g, dosages)
    cols = np.flatnonzero(_is_missing(dosages).any(0) if incomplete is None else incomplete)
    for start in range(0, cols.size, 256):
        part = cols[start : start + 256]
        lo, hi = part[0], part[-1] + 1
        fill = 0.0 if centre else np.broadcast_to(mean[lo:hi], (g.shape[0], hi - lo))
        np.copyto(g[:, lo:hi], fill, where=_is_missing(dosages[:, lo:hi]))
    return g


@dataclass(frozen=True)
class NullModel:
    """Everything a block needs besides its genotypes."""

    residualizer: Residualizer
    basis: Array  # samples x (D + c + 1) = [Y_res | Q] on the backend
    c_inv: np.ndarray  # D x D
    yty: np.ndarray  # D, ‖Y_res‖² per dimension


def null_model(y: np.ndarray, covariates: np.ndarray, backend: Backend) -> NullModel:
    """Residualise phenotypes (samples x D) once; C = YᵀY / (N - c - 1) is fixed here.

    numpy: on one BLAS thread (these products, small outputs of N-long sums, took ~40x
    longer on two OpenBLAS threads than on one on a busy 2-core machine). torch: the
    products in float64 on the backend's device (N = 100,000, D = 256: ~13 GFLOP).
    """
    with threadpool_limits(1):
        residualizer = Residualizer(covariates)
        if not backend.use_torch:
            y_res = residualizer.transform(np.asarray(y, dtype=np.float64))  # samples x D
            yty = np.einsum("ij,ij->j", y_res, y_res)
            c = y_res.T @ y_res / residualizer.null_dof  # D x D
            basis = backend.array(np.column_stack([y_res, residualizer.q]))
            return NullModel(residualizer, basis, np.linalg.inv(c), yty)
    import torch

    q = torch.as_tensor(residualizer.q, dtype=torch.float64, device=backend.device)
    y_res = torch.as_tensor(y, dtype=torch.float64, device=backend.device)
    y_res = y_res - q @ (q.T @ y_res)
    c_inv = torch.linalg.inv(y_res.T @ y_res / residualizer.null_dof).cpu().numpy()
    yty = (y_res * y_res).sum(0).cpu().numpy()
    basis = torch.cat([y_res, q], dim=1).to(getattr(torch, backend.dtype))
    return NullModel(residualizer, basis, c_inv, yty)


def scan_block(
    dosages: np.ndarray, model: NullModel, min_maf: float, min_mac: float, backend: Backend
) -> tuple[np.ndarray, AlleleCounts, BlockResult]:
    """Impute, test and filter one block; returns (kept mask, counts, kept results).

    dosages: samples x variants, int8 (``MISSING_INT8`` = missing) or float (NaN =
    missing); see :meth:`Backend.genotypes`.
    """
    g, counts = backend.genotypes(dosages)
    return score_block(g, counts, model, min_maf, min_mac)


def score_block(
    g: Array, counts: AlleleCounts, model: NullModel, min_maf: float, min_mac: float
) -> tuple[np.ndarray, AlleleCounts, BlockResult]:
    """Test an imputed block (from :meth:`Backend.genotypes`) and filter it.

    Every variant is tested (cheaper than copying out the kept ones); the mask drops
    those failing MAF/MAC and those collinear with the covariates.
    """
    result = association_block(
        g, model.basis, model.c_inv, model.residualizer.dof, counts.css, model.yty
    )
    keep = maf_filter(counts, min_maf, min_mac) & np.isfinite(result.chisq)
    return keep, counts, _subset(result, keep)


def _subset(result: BlockResult, mask: np.ndarray) -> BlockResult:
    if mask.all():
        return result
    return BlockResult(**{k: v[mask] for k, v in vars(result).items()})


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda' when torch sees a GPU, else 'cpu'; validates the value."""
    if device not in DEVICES:
        raise ConfigError("gwas.device", f"'{device}' is not one of {DEVICES}")
    if device == "cpu":
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if device == "cuda":
        raise ConfigError("gwas.device", "'cuda' requested but torch sees no GPU")
    return "cpu"


def backend_for(device: str, dtype: str | None = None) -> Backend:
    """numpy on 'cpu' (float64 unless dtype says float32); torch float32 on 'cuda'."""
    if dtype is not None and dtype not in DTYPES:
        raise ConfigError("gwas.dtype", f"'{dtype}' is not one of {DTYPES}")
    if device == "cpu":
        return Backend(dtype=dtype or "float64")
    return Backend(device="cuda", dtype=dtype or "float32", use_torch=True)


def complete_cases(
    pheno_df: pd.DataFrame, covar_df: pd.DataFrame | None
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """People with every phenotype and covariate, in phenotype-file order.

    Returns (FID IID frame, y samples x D, covariates samples x c).
    """
    names = phenotype_names(pheno_df)
    table, covar_names = pheno_df, []
    if covar_df is not None:
        covar_names = [c for c in covar_df.columns if c not in ID_COLUMNS]
        table = table.merge(covar_df, on=ID_COLUMNS)
    values = table[names + covar_names]
    text = [c for c in values.columns if not pd.api.types.is_numeric_dtype(values[c])]
    if text:  # parsed column by column only where needed (~1 ms per column)
        values = values.assign(**{c: pd.to_numeric(values[c], errors="coerce") for c in text})
    complete = values.notna().all(axis=1).to_numpy()
    log.info(
        "GWAS samples: %d with phenotypes%s, %d dropped for missing or non-numeric values",
        len(table),
        "+covariates" if covar_df is not None else "",
        int((~complete).sum()),
    )
    values = values[complete]
    return (
        table.loc[complete, ID_COLUMNS].reset_index(drop=True),
        values[names].to_numpy(np.float64),
        values[covar_names].to_numpy(np.float64).reshape(len(values), len(covar_names)),
    )


def align_samples(
    fam: pd.DataFrame, pheno_df: pd.DataFrame, covar_df: pd.DataFrame | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Complete cases that are in .fam, in .fam order.

    Returns (fam row indices ascending, y samples x D, covariates samples x c).
    """
    ids, y, covariates = complete_cases(pheno_df, covar_df)
    fam_rows = fam[ID_COLUMNS].assign(_row=np.arange(len(fam)))
    rows = ids.merge(fam_rows, on=ID_COLUMNS, how="left")["_row"].to_numpy(np.float64)
    in_fam = np.flatnonzero(~np.isnan(rows))
    log.info("GWAS samples: %d without genotypes dropped", len(rows) - len(in_fam))
    pick = in_fam[np.argsort(rows[in_fam], kind="stable")]
    return rows[pick].astype(np.int64), y[pick], covariates[pick]


def residual_correlation(pheno_df: pd.DataFrame, covar_df: pd.DataFrame | None) -> pd.DataFrame:
    """Correlation of covariate-residualised phenotypes: the R for combine_z.

    With covariates that explain phenotype variance, this (not the raw phenotype
    correlation) is the correlation of the per-dimension statistics under the null.
    """
    _, y, covariates = complete_cases(pheno_df, covar_df)
    y_res = Residualizer(covariates).transform(y)  # samples x D
    names = phenotype_names(pheno_df)
    return pd.DataFrame(np.corrcoef(y_res, rowvar=False), index=names, columns=names)


class Timings(dict):
    """Seconds spent per pipeline phase, summed over blocks (each phase timed by one
    thread): where a scan's time went, logged and reported by the benchmarks."""

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self[name] = self.get(name, 0.0) + time.perf_counter() - start


def read_ahead(load: Callable[[T], R], keys: Sequence[T], timings: Timings) -> Iterator[R]:
    """``load(key)`` for each key in order, the next one running in a background thread;
    the time the caller waits for a load goes to ``timings["waiting for reads"]``."""
    if not keys:
        return
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(load, keys[0])
        for key in keys[1:]:
            with timings.phase("waiting for reads"):
                done = pending.result()
            pending = pool.submit(load, key)
            yield done
        with timings.phase("waiting for reads"):
            done = pending.result()
        yield done


def _check_filters(min_maf: float, min_mac: float, block_size: int | None) -> None:
    if not 0.0 <= min_maf <= 0.5:
        raise ConfigError("gwas.min_maf", f"{min_maf} is not in [0, 0.5]")
    if min_mac < 0:
        raise ConfigError("gwas.min_mac", f"{min_mac} is negative")
    if block_size is not None and block_size < 1:
        raise ConfigError("gwas.block_size", f"{block_size} is not a positive integer")


class _Results:
    """The scan's statistics, one row per scanned variant, filled block by block; their
    pages fault in from a background thread meanwhile (:func:`gemcont.prefault`)."""

    def __init__(self, m: int, d: int, dtype: str) -> None:
        self.arrays = _result_arrays(m, d, dtype)
        self.n_obs = np.zeros(m, dtype=np.int64)
        self.eaf = np.full(m, np.nan)
        self.keep = np.zeros(m, dtype=bool)
        self.seconds = Timings()
        self.prefaulting = prefault(list(self.arrays.values()))

    def close(self) -> None:
        """Wait for the page faulting to finish (its time belongs to the scan)."""
        if self.prefaulting is not None:
            self.prefaulting.join()

    def store(
        self, lo: int, counts: AlleleCounts, dof: int, min_maf: float, min_mac: float
    ) -> None:
        """Finish rows lo.. (statistics already there) and record counts and filters."""
        hi = lo + counts.n_obs.size
        _finish_stats(self.arrays, lo, hi, dof)
        self.n_obs[lo:hi], self.eaf[lo:hi] = counts.n_obs, counts.eaf
        passes = maf_filter(counts, min_maf, min_mac)
        self.keep[lo:hi] = passes & np.isfinite(self.arrays["chisq"][lo:hi])


def _numpy_scan(
    genotypes: Genotypes,
    blocks: list[np.ndarray],
    samples: np.ndarray | None,
    model: NullModel,
    backend: Backend,
    results: _Results,
    min_maf: float,
    min_mac: float,
) -> Iterator[int]:
    """The numpy pipeline: counts, int8 decoding and conversion one block ahead.

    Yields each block's size once its statistics are in ``results``.
    """
    n = genotypes.n_samples if samples is None else samples.size
    selected = selection_bits(genotypes.n_samples, samples)
    shape = (max(b.size for b in blocks), n)
    codes = [np.empty(shape, np.int8) for _ in range(2)]  # variants x samples
    floats = [np.empty(shape, backend.dtype) for _ in range(2)]
    dof, tol = model.residualizer.dof, COLLINEAR_TOL[backend.dtype]

    def load(i: int) -> tuple[np.ndarray, AlleleCounts]:
        rows, slot = blocks[i], i % 2
        with results.seconds.phase("reading and decoding"):
            counts = counts_from_codes(*code_counts(genotypes.read_packed(rows), selected), n)
            dosages = genotypes.read_int8(rows, samples, out=codes[slot][: rows.size])
            g = centre_impute(
                dosages, 2.0 * counts.eaf, backend.dtype, floats[slot][: rows.size].T,
                counts.n_obs < n, centre=backend.dtype != "float64",
            )  # fmt: skip
        return g, counts

    lo = 0
    for g, counts in read_ahead(load, range(len(blocks)), results.seconds):
        with results.seconds.phase("statistics"):
            product = _to_numpy64(g.T @ model.basis)  # the one big product
            _numpy_stats_into(results.arrays, lo, product, counts.css, model.yty,
                              model.c_inv, dof, tol)  # fmt: skip
            results.store(lo, counts, dof, min_maf, min_mac)
        lo += counts.n_obs.size
        yield counts.n_obs.size


@contextmanager
def _ieee_float32_matmul() -> Iterator[None]:
    """CUDA float32 products in IEEE float32 (no TF32) within, whatever the global setting.

    Through the global setter, which keeps torch's legacy and per-backend (>= 2.9) flags
    consistent (mixing them raises); the per-backend flag where only that one was set.
    """
    import torch

    try:
        old = torch.get_float32_matmul_precision()
    except RuntimeError:  # only torch.backends.cuda.matmul.fp32_precision was set
        matmul = torch.backends.cuda.matmul
        old = matmul.fp32_precision
        matmul.fp32_precision = "ieee"
        try:
            yield
        finally:
            matmul.fp32_precision = old
        return
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(old)


def _torch_scan(
    genotypes: Genotypes,
    blocks: list[np.ndarray],
    samples: np.ndarray | None,
    model: NullModel,
    backend: Backend,
    results: _Results,
    min_maf: float,
    min_mac: float,
) -> Iterator[int]:
    """The torch pipeline: .bed bytes to the device, everything else there.

    A background thread reads block i + 1 into one of two pinned buffers and copies it
    on a side stream while block i is scored; block i's results go, on another side
    stream, to one of two pinned result buffers, and are copied into ``results`` on the
    host while block i + 1 runs on the device. Yields each block's size when stored.
    """
    import torch

    device = torch.device(backend.device)
    cuda = device.type == "cuda"
    dtype = getattr(torch, backend.dtype)
    n_fam, width = genotypes.n_samples, genotypes.bytes_per_variant
    n = n_fam if samples is None else samples.size
    d = model.c_inv.shape[0]
    dof = model.residualizer.dof
    tol = COLLINEAR_TOL[backend.dtype]
    selected = torch.as_tensor(selection_bits(n_fam, samples), device=device)
    rows_of = torch.arange(n_fam, device=device) if samples is None else None
    if rows_of is None:
        rows_of = torch.as_tensor(samples, device=device)
    dense = n >= DENSE_FRACTION * n_fam
    if dense:  # all 4·width decoded samples, zero rows for those not analysed
        basis = torch.zeros((4 * width, model.basis.shape[1]), dtype=dtype, device=device)
        basis[rows_of] = model.basis
    else:
        basis = model.basis
    yty = torch.as_tensor(model.yty, dtype=torch.float64, device=device)
    c_inv = torch.as_tensor(model.c_inv, dtype=torch.float64, device=device)
    size = max(b.size for b in blocks)

    def host_buffer(*shape: int, kind: Any) -> Any:
        return torch.empty(shape, dtype=kind, pin_memory=cuda)

    packed_host = [host_buffer(size, width, kind=torch.uint8) for _ in range(2)]
    copied: list[Any] = [None, None]  # event: the last copy out of packed_host[slot] done
    stream = torch.cuda.Stream(device) if cuda else None

    def load(i: int) -> tuple[np.ndarray, Any, Any]:
        rows, slot = blocks[i], i % 2
        if copied[slot] is not None:
            copied[slot].synchronize()
        host = packed_host[slot][: rows.size]
        with results.seconds.phase("reading .bed"):
            genotypes.read_packed(rows, out=host.numpy())
        if not cuda:
            return rows, host.clone(), None
        with torch.cuda.stream(stream):
            packed = host.to(device, non_blocking=True)
            copied[slot] = torch.cuda.Event()
            copied[slot].record(stream)
        return rows, packed, copied[slot]

    staging = [
        {
            **{k: host_buffer(size, d, kind=dtype) for k in PER_DIM_KEYS},
            "chisq": host_buffer(size, kind=torch.float64),
            "counts": host_buffer(size, 3, kind=torch.int64),
        }
        for _ in range(2)
    ]

    def score(packed: Any, slot: int) -> tuple[dict[str, np.ndarray], Any]:
        counts = code_counts_torch(packed, selected)  # variants x 3
        het, a1a1, missing = counts.unbind(1)
        n_obs = n - missing
        a1 = het + 2 * a1a1
        mean = a1.double() / n_obs
        css = (n_obs * (het + 4 * a1a1) - a1 * a1).double() / n_obs
        centred = torch.stack([2.0 - mean, torch.zeros_like(mean), 1.0 - mean, -mean], 1)
        g = unpack_bed_torch(packed, centred.to(dtype))  # variants x 4·width
        if not dense:
            g = g.index_select(1, rows_of)
        stats = _block_stats((g @ basis).double(), css, yty, c_inv, dof, tol)
        stats.update({k: stats[k].to(dtype) for k in PER_DIM_KEYS}, counts=counts)
        out = {k: staging[slot][k][: packed.shape[0]] for k in staging[slot]}
        if not cuda:
            for k, v in stats.items():
                out[k].copy_(v)
            return {k: v.numpy() for k, v in out.items()}, None
        computed = torch.cuda.Event()
        computed.record()
        with torch.cuda.stream(results_stream):  # the next block computes meanwhile
            results_stream.wait_event(computed)
            for k, v in stats.items():
                v.record_stream(results_stream)  # allocated on the compute stream
                out[k].copy_(v, non_blocking=True)
            done = torch.cuda.Event()
            done.record(results_stream)
        return {k: v.numpy() for k, v in out.items()}, done

    def finish(lo: int, host: dict[str, np.ndarray], done: Any) -> int:
        if done is not None:
            with results.seconds.phase("waiting for the device"):
                done.synchronize()
        hi = lo + host["chisq"].size

        def copy(key: str) -> None:
            results.arrays[key][lo:hi] = host[key]

        with results.seconds.phase("storing results"):
            list(copiers.map(copy, (*PER_DIM_KEYS, "chisq")))  # out of the buffers, in parallel
            counts = counts_from_codes(*host["counts"].T, n)
            results.store(lo, counts, dof, min_maf, min_mac)
        return hi - lo

    results_stream = torch.cuda.Stream(device) if cuda else None
    pending, lo = None, 0
    context = _ieee_float32_matmul() if cuda else nullcontext()
    with context, torch.no_grad(), ThreadPoolExecutor(len(PER_DIM_KEYS) + 1) as copiers:
        loads = read_ahead(load, range(len(blocks)), results.seconds)
        for i, (rows, packed, ready) in enumerate(loads):
            if cuda:
                current = torch.cuda.current_stream(device)
                current.wait_event(ready)
                packed.record_stream(current)  # allocated on the side stream
            with results.seconds.phase("queueing device work"):
                host, done = score(packed, i % 2)
            if pending is not None:
                yield finish(*pending)
            pending, lo = (lo, host, done), lo + rows.size
        if pending is not None:
            yield finish(*pending)


@dataclass(frozen=True)
class BuiltinScan:
    """What :func:`scan_builtin_gwas` found, one row per scanned variant, before tables."""

    bim: pd.DataFrame
    names: list[str]  # the D phenotypes
    rows: np.ndarray  # scanned .bim rows
    keep: np.ndarray  # passes MAF/MAC, not collinear (other rows: undefined values)
    n_obs: np.ndarray
    eaf: np.ndarray
    beta: np.ndarray  # rows x D, in the scan dtype (float32 or float64)
    se: np.ndarray  # rows x D
    mlog10p: np.ndarray  # rows x D
    chisq: np.ndarray
    chisq_mlog10p: np.ndarray
    seconds: dict[str, float]  # setup (inputs, null model), blocks (the scan), phases


def scan_builtin_gwas(
    bfile: str,
    pheno_df: pd.DataFrame,
    covar_df: pd.DataFrame | None,
    chrom: str | None = None,
    min_maf: float = 0.01,
    min_mac: float = 20,
    block_size: int | None = None,
    device: str = "auto",
    threads: int | None = None,
    dtype: str | None = None,
    backend: Backend | None = None,
) -> BuiltinScan:
    """The statistics of :func:`run_builtin_gwas` as arrays (no tables yet).

    pheno_df: FID IID Y0..; covar_df: FID IID covariates (None: intercept only).
    dtype: of the genotype block, the product and the stored BETA, SE and -log10 P,
    float64 (CPU default, equal to float64 OLS to ~1e-12) or float32 (CUDA default;
    ~1e-6 relative, CPU ~1.7x faster; the sumstats files keep 6 digits either way).
    block_size: variants per block, None: :data:`DEFAULT_BLOCK_SIZE` of the device.
    backend: overrides device/dtype, e.g. ``Backend(use_torch=True, dtype="float32")``
    runs the CUDA pipeline on the CPU (tests).
    """
    _check_filters(min_maf, min_mac, block_size)
    if backend is None:
        backend = backend_for(resolve_device(device), dtype)
    block_size = block_size or DEFAULT_BLOCK_SIZE[backend.device]
    start = time.perf_counter()
    with Genotypes(bfile, threads, chrom) as genotypes, threadpool_limits(threads):
        rows = np.arange(genotypes.n_variants)  # of the chromosome's .bim rows, or all
        names = phenotype_names(pheno_df)
        results = _Results(rows.size, len(names), backend.dtype)  # faults in meanwhile
        samples, y, covariates = align_samples(genotypes.fam, pheno_df, covar_df)
        model = null_model(y, covariates, backend)
        everyone = np.array_equal(samples, np.arange(genotypes.n_samples))
        pick = None if everyone else samples  # read_int8's fast path decodes everyone
        blocks = [rows[i : i + block_size] for i in range(0, rows.size, block_size)]
        pipeline = _torch_scan if backend.use_torch else _numpy_scan
        setup = time.perf_counter()
        sizes = pipeline(genotypes, blocks, pick, model, backend, results, min_maf, min_mac)
        for _ in tqdm(sizes, total=len(blocks), unit="block", desc="builtin GWAS"):
            pass
        results.close()
        seconds = {"setup": setup - start, "blocks": time.perf_counter() - setup}
        phases = ", ".join(f"{k} {v:.2f} s" for k, v in results.seconds.items())
        log.info("builtin GWAS: %d variants in %.1f s (+ %.1f s setup) on %s; %s",
                 rows.size, seconds["blocks"], seconds["setup"], backend, phases)  # fmt: skip
        seconds.update(results.seconds)
    return BuiltinScan(
        genotypes.bim, names, rows, results.keep, results.n_obs,
        results.eaf, **results.arrays, seconds=seconds,
    )  # fmt: skip


def run_builtin_gwas(*args: Any, **kwargs: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-dimension (long, column TRAIT) and multi-trait sumstats for one chromosome or
    all: :func:`builtin_tables` of :func:`scan_builtin_gwas` (same arguments)."""
    return builtin_tables(scan_builtin_gwas(*args, **kwargs))


def builtin_tables(scan: BuiltinScan) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-dimension (long, trait-major: all variants of the first trait, then the next)
    and multi-trait tables: :func:`builtin_frames` with the trait frames concatenated."""
    per_trait, multi_df = builtin_frames(scan)
    return pd.concat(list(per_trait), ignore_index=True), multi_df


def builtin_frames(scan: BuiltinScan) -> tuple[Iterator[pd.DataFrame], pd.DataFrame]:
    """The kept variants in the sumstats scheme of gemcont.io.sumstats: per-dimension
    rows one trait at a time (each frame made when asked for, so that writing never
    holds variants x D rows) and the multi-trait table.

    String columns by ``take`` on the .bim's own arrays (no re-parsing of millions of
    strings), shared by every frame; statistics as float64 columns.
    """
    bim, names, keep = scan.bim, scan.names, scan.keep
    every = bool(keep.all())

    def select(values: np.ndarray) -> np.ndarray:
        return values if every else values[keep]

    def kept(values: np.ndarray) -> np.ndarray:  # statistics, as float64
        return select(values).astype(np.float64, copy=False)

    rows = select(scan.rows)
    columns = {"CHR": "CHR", "POS": "POS", "ID": "ID", "EA": "A1", "OA": "A2"}
    variants = {name: bim[col].array.take(rows) for name, col in columns.items()}
    variants.update(EAF=kept(scan.eaf), N=select(scan.n_obs))
    chisq_mlog10p = kept(scan.chisq_mlog10p)
    multi_df = pd.DataFrame(variants, copy=False).assign(
        CHISQ=kept(scan.chisq),
        DF=len(names),
        P=np.exp(-LN10 * chisq_mlog10p),
        LOG10P=chisq_mlog10p,
    )

    def per_trait() -> Iterator[pd.DataFrame]:
        for j, name in enumerate(names):
            mlog10p = kept(scan.mlog10p[:, j])
            stats = {"BETA": kept(scan.beta[:, j]), "SE": kept(scan.se[:, j])}
            stats.update(P=np.exp(-LN10 * mlog10p), LOG10P=mlog10p, TRAIT=name)
            yield pd.DataFrame({**variants, **stats}, copy=False)

    return per_trait(), multi_df
