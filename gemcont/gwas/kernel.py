"""The built-in GWAS kernel: vectorised OLS of all phenotypes on one genotype block.

Covariates (with an intercept) are projected out once by a
:class:`~gemcont.projection.Residualizer` (the workflow's one covariate projection);
each genotype block then costs one matrix product with the residualised phenotypes
(Frisch-Waugh-Lovell), and BETA, SE, t, P and the multi-trait statistic of METHOD.md
follow in closed form. The residualised genotypes G̃ = G - Q(QᵀG) are never formed:
with Y_res ⊥ Q, G̃ᵀY_res = GᵀY_res and diag(G̃ᵀG̃) = diag(GᵀG) - ‖QᵀG‖² per column,
so one product Gᵀ[Y_res | Q] per block gives everything (forming G̃ costs several
times that product on the CPU).

Missing calls are imputed with the observed mean. In float32 the genotypes enter the
product centred on that mean (missing calls at 0), so the products lose nothing to
cancellation (float64 needs no centring: GᵀY_res and the covariate entries of QᵀG do
not change with it). The centred sums of squares diag(GᵀG) - (1ᵀG)²/N come exactly
from integer genotype counts (:func:`centred_sum_of_squares`), not from the float block.

Without missingness every number equals ``plink2 --glm`` (same model, Student t with
N - c - 2 dof); with missingness plink2 instead drops the sample for that variant, so
results differ slightly. Pure arrays in and out (numpy, or torch tensors where a
docstring says so); the streaming engines in :mod:`gemcont.gwas.engines` feed it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from gemcont.gwas.pvalues import LN10, chi2_mlog10p, fill_exact, hill_log_p
from gemcont.io.bed_codes import MISSING_INT8
from gemcont.projection import Residualizer

Array = Any  # np.ndarray or torch.Tensor; the kernel is written for both
# residual / centred genotype sum of squares at or below this: collinear with the
# covariates, reported as NaN and dropped (looser in float32: the difference cancels)
COLLINEAR_TOL = {"float64": 1e-8, "float32": 1e-4}
# numpy statistics run over slices of about this many variant x dimension values
# (temporaries in L2: fresh large ones cost page faults)
STATS_CHUNK = 1 << 12
# the variants x dimensions statistics, stored in the scan's precision (float32 halves
# the bytes to move, store and write)
PER_DIM_KEYS = ("beta", "se", "mlog10p")


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
    n: int | None = None  # analysed samples, missing calls included (None: not known)


def to_numpy64(x: Array) -> np.ndarray:
    """x (numpy or torch) as a float64 numpy array."""
    if isinstance(x, np.ndarray):
        return x.astype(np.float64, copy=False)
    return x.detach().double().cpu().numpy()


def _is_torch(x: Array) -> bool:
    return not isinstance(x, np.ndarray)


def _where(x: Array) -> Callable[[Array, Any, Array], Array]:
    """``where(condition, a, b)`` of x's library (numpy or torch)."""
    if _is_torch(x):
        import torch

        return torch.where
    return np.where


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


def backend_for(device: str, dtype: str | None = None) -> Backend:
    """numpy on 'cpu' (float64 unless dtype says float32); torch float32 on 'cuda'.

    device: resolved ('cpu' or 'cuda'); dtype: 'float64', 'float32' or None (the
    device's default)."""
    if device == "cpu":
        return Backend(dtype=dtype or "float64")
    return Backend(device="cuda", dtype=dtype or "float32", use_torch=True)


def centred_sum_of_squares(n_obs: Array, total: Array, sumsq: Array) -> Array:
    """Σ (g - mean)² = (n Σg² - (Σg)²) / n per variant, exact from integer sums.

    n_obs, total (Σg), sumsq (Σg²): variants, int64 numpy arrays or torch tensors;
    float64 result of the same kind.
    """
    numerator = n_obs * sumsq - total * total
    if _is_torch(numerator):
        numerator = numerator.double()
    return numerator / n_obs


def _counts(
    a1: np.ndarray, n_obs: np.ndarray, n: int, sumsq: np.ndarray | None = None
) -> AlleleCounts:
    """AlleleCounts of n samples from A1 sums (and sums of squares: integers give an
    exact css)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        eaf = a1 / (2.0 * n_obs)
        css = None if sumsq is None else centred_sum_of_squares(n_obs, a1, sumsq)
    a1 = a1.astype(np.float64)
    mac = np.minimum(a1, 2.0 * n_obs - a1)
    return AlleleCounts(n_obs=n_obs, eaf=eaf, mac=mac, css=css, n=int(n))


def counts_from_codes(
    het: np.ndarray, a1a1: np.ndarray, missing: np.ndarray, n_samples: int
) -> AlleleCounts:
    """AlleleCounts (with exact css) from genotype counts per variant, e.g.
    :func:`gemcont.io.bed_codes.code_counts`."""
    het, a1a1 = het.astype(np.int64), a1a1.astype(np.int64)
    return _counts(het + 2 * a1a1, n_samples - missing.astype(np.int64), n_samples, het + 4 * a1a1)


def block_stats(
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
    Returns beta, se, mlog10p (variants x D) and chisq (variants); mlog10p is Hill's,
    NaN where that is not exact (see :func:`finish_stats`).
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
    return {"beta": beta, "se": se, "mlog10p": -hill_log_p(tstat, dof) / LN10, "chisq": chisq}


def numpy_stats_into(
    out: dict[str, np.ndarray],
    lo: int,
    product: np.ndarray,
    css: np.ndarray,
    yty: np.ndarray,
    c_inv: np.ndarray,
    dof: int,
    tol: float,
) -> None:
    """:func:`block_stats` of a numpy product (variants x (D + c + 1)) into rows lo.. of
    ``out``'s arrays (:func:`result_arrays`).

    In slices of ~STATS_CHUNK values (cache-sized temporaries: fresh large ones cost
    page faults); the D x D quadratic form once for the block (one BLAS call per slice
    costs more on a busy machine).
    """
    d = c_inv.shape[0]
    gty = product[:, :d]
    quad = np.einsum("vd,vd->v", gty @ c_inv, gty)
    step = max(1, STATS_CHUNK // d)
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in range(0, product.shape[0], step):
            part = slice(i, i + step)
            stats = block_stats(product[part], css[part], yty, c_inv, dof, tol, quad[part])
            for key, value in stats.items():
                out[key][lo + i : lo + i + value.shape[0]] = value


def finish_stats(out: dict[str, np.ndarray], lo: int, hi: int, dof: int) -> None:
    """In place, rows lo..hi: exact -log10 P where Hill's is NaN, and the χ² -log10 P."""
    beta, se = out["beta"][lo:hi], out["se"][lo:hi]
    with np.errstate(divide="ignore", invalid="ignore"):
        fill_exact(out["mlog10p"][lo:hi], lambda: beta / se, dof)
    out["chisq_mlog10p"][lo:hi] = chi2_mlog10p(out["chisq"][lo:hi], beta.shape[1])


def result_arrays(m: int, d: int, dtype: str = "float64") -> dict[str, np.ndarray]:
    """Uninitialised per-variant result arrays for m variants and d dimensions; the
    m x d ones (BETA, SE, -log10 P) in ``dtype``, the multi-trait ones (m) in float64."""
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
        css = to_numpy64(sumsq) - to_numpy64(intercept) ** 2
    if yty is None:
        y = basis[:, :d]
        yty = to_numpy64((y * y).sum(0))
    tol = COLLINEAR_TOL[str(g.dtype).removeprefix("torch.")]
    m = product.shape[0]
    out = result_arrays(m, d)
    if _is_torch(g):
        import torch

        dev = g.device
        stats = block_stats(
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
        numpy_stats_into(out, 0, to_numpy64(product), css, yty, c_inv, dof, tol)
    finish_stats(out, 0, m, dof)
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
    return _counts(a1, n_obs, n)


def maf_filter(counts: AlleleCounts, min_maf: float, min_mac: float) -> np.ndarray:
    """Variants that pass MAF/MAC thresholds and are polymorphic (mask)."""
    maf = np.minimum(counts.eaf, 1.0 - counts.eaf)
    return (counts.n_obs > 0) & (counts.mac > 0) & (maf >= min_maf) & (counts.mac >= min_mac)


def mach_r2(counts: AlleleCounts) -> np.ndarray:
    """MaCH r² per variant among the observed dosages: their variance over 2p(1-p),
    ``css / n_obs / (2 p (1 - p))`` (plink2's ``--freq cols=+machr2``, the metric of
    ``--mach-r2-filter``); NaN for a monomorphic variant. Needs ``counts.css``.

    Imputation quality only for dosages: of hard calls it measures the departure from
    Hardy-Weinberg proportions (1 in HWE), so :func:`qc_codes` skips it there.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = 2.0 * counts.eaf * (1.0 - counts.eaf)
        return counts.css / counts.n_obs / expected


@dataclass(frozen=True)
class VariantFilters:
    """The per-variant QC of the scan among the analysed (held-out) people: ``gwas.min_maf``,
    ``gwas.min_mac``, ``gwas.min_info`` (MaCH r², 0: off) and ``gwas.max_missing``
    (fraction of missing calls, 1: off)."""

    min_maf: float
    min_mac: float
    min_info: float = 0.0
    max_missing: float = 1.0


# Why a variant is not tested, code k + 1 for QC_REASONS[k] (0: kept). A variant is
# counted under its first failing filter in this order, so the counts add up to the
# variants scanned; "mfi_info": INFO below gwas.min_info in the UK Biobank mfi file,
# known before the scan; "untested": no finite statistic (collinear with the covariates).
QC_REASONS = ("mfi_info", "missing", "info", "maf_mac", "untested")
QC_KEPT = 0
_QC_CODE = {reason: k + 1 for k, reason in enumerate(QC_REASONS)}


def qc_codes(
    counts: AlleleCounts,
    filters: VariantFilters,
    tested: np.ndarray,
    dosages: bool | np.ndarray = True,
    mfi_low: bool | np.ndarray = False,
) -> np.ndarray:
    """Each variant's :data:`QC_REASONS` code (int8; 0: passes every filter).

    mfi_low: INFO below ``min_info`` in the mfi file (mask, or one bool for all);
    tested: finite statistics (mask); dosages: whether the INFO filter applies (True,
    False or a mask): not to hard calls, nor (as plink2) to chrX, Y and MT, where
    MaCH r² of haploid dosages is no imputation quality. Missingness needs ``counts.n``
    when filtered (max_missing < 1), INFO needs ``counts.css`` when filtered
    (min_info > 0). With the defaults (0 and 1) the kept variants are exactly those of
    :func:`maf_filter` with finite statistics.
    """
    codes = np.full(counts.n_obs.shape, _QC_CODE["untested"], dtype=np.int8)
    codes[tested] = QC_KEPT
    codes[~maf_filter(counts, filters.min_maf, filters.min_mac)] = _QC_CODE["maf_mac"]
    if filters.min_info > 0:
        r2 = mach_r2(counts)
        # NaN (monomorphic) is not an INFO failure (nor for plink2): MAF/MAC drops it
        low = (r2 < filters.min_info) & np.asarray(dosages, dtype=bool)
        codes[low] = _QC_CODE["info"]
    if filters.max_missing < 1:
        n_missing = counts.n - counts.n_obs
        # as plink2 --geno: more missing calls than the fraction allows (count-based,
        # with a relative epsilon so that an exact fraction passes)
        codes[n_missing > filters.max_missing * counts.n * (1 + 1e-9)] = _QC_CODE["missing"]
    codes[np.broadcast_to(mfi_low, codes.shape)] = _QC_CODE["mfi_info"]
    return codes


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

    y: samples x D; covariates: samples x c (no intercept). numpy: on one BLAS thread
    (these products have small outputs of N-long sums, which OpenBLAS splits across
    threads at a loss; see benchmarks/README.md). torch: the products in float64 on the
    backend's device.
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
