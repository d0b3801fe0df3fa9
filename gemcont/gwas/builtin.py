"""The built-in GWAS engine: vectorised OLS for all embedding dimensions at once.

Covariates (with an intercept) are projected out once by a :class:`Residualizer`;
each genotype block then costs one matrix product with the residualised phenotypes
(Frisch-Waugh-Lovell), and BETA, SE, t, P and the multi-trait statistic of METHOD.md
follow in closed form. The residualised genotypes G̃ = G - Q(QᵀG) are never formed:
with Y_res ⊥ Q, G̃ᵀY_res = GᵀY_res and diag(G̃ᵀG̃) = diag(GᵀG) - ‖QᵀG‖² per column,
so one product Gᵀ[Y_res | Q] per block gives everything (forming G̃ cost ~5x that
product on CPU). The kernel runs on numpy (CPU, float64, raw dosages) or torch (CUDA,
float32 products on dosages centred on the GPU, float64 for the small per-variant
reductions: expect ~1e-5 relative differences from the CPU numbers there).

Blocks are decoded as int8 (:meth:`Genotypes.read_int8`) in a background thread one
block ahead of the products; that thread also counts alleles and mean-imputes while
converting to float (numpy), or sends the int8 block (4x fewer bytes than float32)
through pinned memory to the GPU, where counting, imputing and centring happen.

Missing genotypes are mean-imputed. Without missingness every number equals
``plink2 --glm`` (same model, Student t with N - c - 2 dof); with missingness plink2
instead drops the sample for that variant, so results differ slightly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from scipy.special import betaln, hyp2f1, stdtr
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from gemcont.errors import ConfigError, InputError
from gemcont.gwas.multitrait import LN10, LOG_TAIL_SWITCH, chi2_mlog10p
from gemcont.gwas.prepare import ID_COLUMNS, phenotype_names
from gemcont.io.plink import MISSING_INT8, Genotypes
from gemcont.io.sumstats import MULTI_TRAIT_COLUMNS, SINGLE_TRAIT_COLUMNS, write_sumstats

log = logging.getLogger(__name__)

Array = Any  # np.ndarray or torch.Tensor; the kernel is written for both
DEVICES = ("auto", "cpu", "cuda")
# residual / centred genotype sum of squares at or below this: collinear with the
# covariates, reported as NaN and dropped (looser in float32: the difference cancels)
COLLINEAR_TOL = {"float64": 1e-8, "float32": 1e-4}
# variants per block: CPU products reach ~full GEMM speed from ~2000 columns; memory
# about N x block x 18 bytes on CPU (two float64 blocks, the next one's int8 and mask)
DEFAULT_BLOCK_SIZE = 2048
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class BlockResult:
    """Per-variant statistics of one block (numpy float64)."""

    beta: np.ndarray  # variants x D
    se: np.ndarray  # variants x D
    tstat: np.ndarray  # variants x D
    mlog10p: np.ndarray  # variants x D, -log10 P (two-sided t)
    chisq: np.ndarray  # variants, multi-trait T ~ χ²_D
    chisq_mlog10p: np.ndarray  # variants


@dataclass(frozen=True)
class AlleleCounts:
    """Observed (non-missing) A1 counts per variant."""

    n_obs: np.ndarray  # variants, non-missing calls
    eaf: np.ndarray  # variants, A1 frequency
    mac: np.ndarray  # variants, minor allele count


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


def _column_sum_squares(x: Array) -> Array:
    """Σ_i x_ij² per column (einsum avoids a samples x variants temporary in numpy)."""
    if isinstance(x, np.ndarray):
        return np.einsum("ij,ij->j", x, x)
    return (x * x).sum(0)


@dataclass(frozen=True)
class Backend:
    """Where and in which precision the block products run."""

    device: str = "cpu"  # "cpu" or "cuda"
    dtype: str = "float64"  # "float64" or "float32"
    use_torch: bool = False  # numpy unless True (always torch on cuda)

    def array(self, x: np.ndarray) -> Array:
        """x as a numpy array or torch tensor of this backend."""
        if not self.use_torch:
            return np.asarray(x, dtype=self.dtype)
        import torch

        return torch.as_tensor(x, dtype=getattr(torch, self.dtype), device=self.device)

    def transfer(self, block: np.ndarray) -> Array:
        """An int8 block (samples x variants) on this backend, still int8.

        On CUDA it goes through pinned memory on a side stream, so the copy overlaps
        the products of the previous block running on the current stream.
        """
        if not self.use_torch:
            return block
        import torch

        rows = torch.from_numpy(block.T)  # variants x samples, C-contiguous
        if self.device != "cuda":
            return rows.T
        stream, current = torch.cuda.Stream(), torch.cuda.current_stream()
        with torch.cuda.stream(stream):
            rows = rows.pin_memory().to(self.device, non_blocking=True)
        current.wait_stream(stream)
        rows.record_stream(current)  # allocated on the side stream, used on current
        return rows.T

    def genotypes(
        self, dosages: Array, out: np.ndarray | None = None
    ) -> tuple[Array, AlleleCounts]:
        """Mean-imputed block on this backend (torch: centred, float32 precision) and its counts.

        dosages: samples x variants, int8 A1 counts (``MISSING_INT8`` = missing) or float
        numpy (NaN = missing, imputed in place when already of this dtype); torch int8
        tensors (from :meth:`transfer`) are counted and imputed where they are. out: a
        samples x variants numpy buffer of this dtype for numpy input (see mean_impute).
        """
        if isinstance(dosages, np.ndarray):
            counts = allele_counts(dosages)
            g = self.array(mean_impute(dosages, counts, self.dtype, out))
            return (g - g.mean(0) if self.use_torch else g), counts
        import torch

        return _torch_int8_genotypes(dosages, getattr(torch, self.dtype))


def _torch_int8_genotypes(x: Any, dtype: Any) -> tuple[Any, AlleleCounts]:
    """Counts and centred mean-imputed ``dtype`` genotypes of an int8 torch block.

    Centred on the observed mean 2·EAF, so missing calls become exactly 0.
    """
    import torch

    missing = x == MISSING_INT8
    n_miss = missing.sum(0)
    a1 = x.sum(0, dtype=torch.int64) - MISSING_INT8 * n_miss  # exact
    n_obs = x.shape[0] - n_miss
    mean = a1.double() / n_obs  # NaN where nothing is observed
    g = torch.where(missing, 0.0, x.to(dtype) - mean.to(dtype))
    counts = _counts(a1.cpu().numpy().astype(np.float64), n_obs.cpu().numpy())
    return g, counts


def t_mlog10p(tstat: np.ndarray, dof: int) -> np.ndarray:
    """-log10 two-sided Student-t P, accurate far below 1e-308.

    Where scipy underflows, P = I_x(dof/2, 1/2) with x = dof / (dof + t²) is taken in
    log-space via I_x(a, b) = xᵃ(1-x)ᵇ ₂F₁(a+b, 1; a+1; x) / (a B(a, b)).
    """
    abs_t = np.abs(np.asarray(tstat, dtype=np.float64))
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
    return -logp / LN10


def association_block(g: Array, basis: Array, c_inv: np.ndarray, dof: int) -> BlockResult:
    """Statistics for one block of genotypes against all phenotypes.

    g: samples x variants, mean-imputed dosages (not residualised, centred or not);
    basis: samples x (D + c + 1) = [Y_res | Q], residualised phenotypes then the
    orthonormal covariate basis (same backend as g); c_inv: D x D inverse null
    covariance of Y_res; dof: residual dof of the model with the genotype.
    """
    assert g.shape[0] == basis.shape[0], (g.shape, basis.shape)
    d = c_inv.shape[0]
    product = _to_numpy64(g.T @ basis)  # variants x (D + c + 1): the one big product
    gty, qtg = product[:, :d], product[:, d:]  # GᵀY_res = G̃ᵀY_res; QᵀG
    gtg_raw = _to_numpy64(_column_sum_squares(g))  # variants
    gtg = gtg_raw - (qtg * qtg).sum(axis=1)  # G̃ᵀG̃
    gtg_centred = gtg_raw - qtg[:, 0] ** 2  # Q's first column is the intercept, ±1/√N
    tol = COLLINEAR_TOL[str(g.dtype).removeprefix("torch.")]
    gtg[gtg <= tol * gtg_centred] = np.nan
    yty = _to_numpy64(_column_sum_squares(basis[:, :d]))  # D
    beta = gty / gtg[:, None]  # variants x D
    rss = np.maximum(yty[None, :] - beta * gty, 0.0)  # residual SS, closed form
    se = np.sqrt(rss / (dof * gtg[:, None]))
    with np.errstate(divide="ignore"):
        tstat = beta / se
    chisq = ((gty @ c_inv) * gty).sum(axis=1) / gtg  # gᵀY C⁻¹ Yᵀg / gᵀg
    return BlockResult(
        beta=beta,
        se=se,
        tstat=tstat,
        mlog10p=t_mlog10p(tstat, dof),
        chisq=chisq,
        chisq_mlog10p=chi2_mlog10p(chisq, d),
    )


def _is_missing(dosages: np.ndarray) -> np.ndarray:
    """Missing calls: ``MISSING_INT8`` in int8 dosages, NaN in float ones."""
    return dosages == MISSING_INT8 if dosages.dtype == np.int8 else np.isnan(dosages)


def _counts(a1: np.ndarray, n_obs: np.ndarray) -> AlleleCounts:
    with np.errstate(divide="ignore", invalid="ignore"):
        eaf = a1 / (2.0 * n_obs)
    return AlleleCounts(n_obs=n_obs, eaf=eaf, mac=np.minimum(a1, 2.0 * n_obs - a1))


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


def mean_impute(
    dosages: np.ndarray,
    counts: AlleleCounts,
    dtype: str = "float64",
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Dosages (samples x variants) as ``dtype`` with missing calls replaced by 2·EAF.

    int8 input (``MISSING_INT8`` = missing) is converted, into ``out`` when given (a
    reused buffer spares the page faults of a fresh N x block array); float input of
    ``dtype`` is imputed in place. Only variants with a missing call are searched.
    """
    if out is None:
        g = dosages.astype(dtype, copy=False)
    else:
        g = out
        np.copyto(g, dosages)
    incomplete = np.flatnonzero(counts.n_obs < dosages.shape[0])
    if incomplete.size:
        sub = dosages[:, incomplete]
        g[:, incomplete] = np.where(_is_missing(sub), 2.0 * counts.eaf[incomplete], sub)
    return g


@dataclass(frozen=True)
class NullModel:
    """Everything a block needs besides its genotypes."""

    residualizer: Residualizer
    basis: Array  # samples x (D + c + 1) = [Y_res | Q] on the backend
    c_inv: np.ndarray  # D x D


def null_model(y: np.ndarray, covariates: np.ndarray, backend: Backend) -> NullModel:
    """Residualise phenotypes (samples x D) once; C = YᵀY / (N - c - 1) is fixed here."""
    residualizer = Residualizer(covariates)
    y_res = residualizer.transform(y.astype(np.float64))  # samples x D
    c = y_res.T @ y_res / residualizer.null_dof  # D x D
    basis = backend.array(np.column_stack([y_res, residualizer.q]))
    return NullModel(residualizer, basis, np.linalg.inv(c))


def scan_block(
    dosages: np.ndarray, model: NullModel, min_maf: float, min_mac: float, backend: Backend
) -> tuple[np.ndarray, AlleleCounts, BlockResult]:
    """Impute, test and filter one block; returns (kept mask, counts, kept results).

    dosages: samples x variants, int8 (``MISSING_INT8`` = missing) or float (NaN =
    missing, imputed in place); see :meth:`Backend.genotypes`.
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
    result = association_block(g, model.basis, model.c_inv, model.residualizer.dof)
    keep = maf_filter(counts, min_maf, min_mac) & np.isfinite(result.chisq)
    return keep, counts, _subset(result, keep)


def _subset(result: BlockResult, mask: np.ndarray) -> BlockResult:
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


def backend_for(device: str) -> Backend:
    """numpy float64 on 'cpu'; torch float32 on 'cuda' (after resolve_device)."""
    if device == "cpu":
        return Backend()
    return Backend(device="cuda", dtype="float32", use_torch=True)


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
    values = table[names + covar_names].apply(pd.to_numeric, errors="coerce")
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


def variant_rows(genotypes: Genotypes, chrom: str | None) -> np.ndarray:
    """.bim rows of one chromosome, or all."""
    if chrom is None:
        return np.arange(genotypes.n_variants)
    rows = np.flatnonzero(genotypes.bim["CHR"].to_numpy() == str(chrom))
    if rows.size == 0:
        raise InputError(
            genotypes.prefix.with_suffix(".bim"),
            f"no variants on chromosome '{chrom}'",
            "check the chromosome list in the config against the .bim",
        )
    return rows


def read_ahead(load: Callable[[T], R], keys: Sequence[T]) -> Iterator[R]:
    """``load(key)`` for each key in order, the next one running in a background thread."""
    if not keys:
        return
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(load, keys[0])
        for key in keys[1:]:
            done, pending = pending.result(), pool.submit(load, key)
            yield done
        yield pending.result()


def _check_filters(min_maf: float, min_mac: float, block_size: int) -> None:
    if not 0.0 <= min_maf <= 0.5:
        raise ConfigError("gwas.min_maf", f"{min_maf} is not in [0, 0.5]")
    if min_mac < 0:
        raise ConfigError("gwas.min_mac", f"{min_mac} is negative")
    if block_size < 1:
        raise ConfigError("gwas.block_size", f"{block_size} is not a positive integer")


def run_builtin_gwas(
    bfile: str,
    pheno_df: pd.DataFrame,
    covar_df: pd.DataFrame | None,
    chrom: str | None = None,
    min_maf: float = 0.01,
    min_mac: float = 20,
    block_size: int = DEFAULT_BLOCK_SIZE,
    device: str = "auto",
    threads: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-dimension (long, column TRAIT) and multi-trait sumstats for one chromosome or all.

    pheno_df: FID IID Y0..; covar_df: FID IID covariates (None: intercept only).
    """
    _check_filters(min_maf, min_mac, block_size)
    backend = backend_for(resolve_device(device))  # float64 on CPU, float32 on GPU
    with Genotypes(bfile, threads=threads) as genotypes, threadpool_limits(threads):
        samples, y, covariates = align_samples(genotypes.fam, pheno_df, covar_df)
        model = null_model(y, covariates, backend)
        rows = variant_rows(genotypes, chrom)
        everyone = np.array_equal(samples, np.arange(genotypes.n_samples))
        pick = None if everyone else samples  # read_int8's fast path decodes everyone

        blocks = [rows[i : i + block_size] for i in range(0, rows.size, block_size)]
        # float blocks alternate between two buffers: one loading, one being tested
        shape = (samples.size, min(block_size, rows.size))
        buffers = [
            None if backend.use_torch else np.empty(shape, backend.dtype, "F") for _ in range(2)
        ]

        def load(i: int) -> tuple[np.ndarray, Array, AlleleCounts]:
            dosages = genotypes.read_int8(blocks[i], pick)  # samples x block, int8
            out = None if buffers[i % 2] is None else buffers[i % 2][:, : blocks[i].size]
            return blocks[i], *backend.genotypes(backend.transfer(dosages), out)

        parts = []
        for block, g, counts in tqdm(
            read_ahead(load, range(len(blocks))),
            total=len(blocks),
            unit="block",
            desc="builtin GWAS",
        ):
            keep, counts, result = score_block(g, counts, model, min_maf, min_mac)
            parts.append((block[keep], counts, keep, result))
        return _tables(genotypes.bim, parts, phenotype_names(pheno_df))


def _tables(
    bim: pd.DataFrame,
    parts: list[tuple[np.ndarray, AlleleCounts, np.ndarray, BlockResult]],
    names: list[str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Assemble block results into the sumstats scheme of gemcont.io.sumstats."""
    rows = np.concatenate([p[0] for p in parts])
    variants = pd.DataFrame(
        {
            "CHR": bim["CHR"].to_numpy()[rows],
            "POS": bim["POS"].to_numpy()[rows],
            "ID": bim["ID"].to_numpy()[rows],
            "EA": bim["A1"].to_numpy()[rows],
            "OA": bim["A2"].to_numpy()[rows],
            "EAF": np.concatenate([p[1].eaf[p[2]] for p in parts]),
            "N": np.concatenate([p[1].n_obs[p[2]] for p in parts]),
        }
    )
    stack = {k: np.concatenate([vars(p[3])[k] for p in parts]) for k in vars(parts[0][3])}
    multi_df = variants.assign(
        CHISQ=stack["chisq"],
        DF=len(names),
        P=10.0 ** -stack["chisq_mlog10p"],
        LOG10P=stack["chisq_mlog10p"],
    )
    per_dim = [
        variants.assign(
            BETA=stack["beta"][:, d],
            SE=stack["se"][:, d],
            P=10.0 ** -stack["mlog10p"][:, d],
            LOG10P=stack["mlog10p"][:, d],
            TRAIT=name,
        )
        for d, name in enumerate(names)
    ]
    return pd.concat(per_dim, ignore_index=True), multi_df


def write_builtin_gwas(
    per_dim_df: pd.DataFrame, multi_df: pd.DataFrame, per_dim_path: str, multi_path: str
) -> None:
    """Write both tables gzipped (paths ending .gz) in the shared sumstats scheme."""
    write_sumstats(per_dim_df, per_dim_path, SINGLE_TRAIT_COLUMNS)
    write_sumstats(multi_df, multi_path, MULTI_TRAIT_COLUMNS)
