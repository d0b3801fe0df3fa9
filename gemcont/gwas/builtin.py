"""The built-in GWAS engine: vectorised OLS for all embedding dimensions at once.

Covariates (with an intercept) are projected out once by a :class:`Residualizer`;
each genotype block then costs one matrix product with the residualised phenotypes
(Frisch-Waugh-Lovell), and BETA, SE, t, P and the multi-trait statistic of METHOD.md
follow in closed form. The kernel runs on numpy (CPU, float64) or torch (CUDA,
float32 products, float64 for the small per-variant reductions: expect ~1e-5
relative differences from the CPU numbers there).

Missing genotypes are mean-imputed. Without missingness every number equals
``plink2 --glm`` (same model, Student t with N - c - 2 dof); with missingness plink2
instead drops the sample for that variant, so results differ slightly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import betaln, hyp2f1
from scipy.stats import t as student_t
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from gemcont.errors import ConfigError, InputError
from gemcont.gwas.multitrait import LN10, LOG_TAIL_SWITCH, chi2_mlog10p
from gemcont.gwas.prepare import ID_COLUMNS, phenotype_names
from gemcont.io.plink import Genotypes
from gemcont.io.sumstats import MULTI_TRAIT_COLUMNS, SINGLE_TRAIT_COLUMNS, write_sumstats

log = logging.getLogger(__name__)

Array = Any  # np.ndarray or torch.Tensor; the kernel is written for both
DEVICES = ("auto", "cpu", "cuda")
COLLINEAR_TOL = 1e-8  # residual / centred genotype sum of squares below this: dropped


@dataclass(frozen=True)
class BlockResult:
    """Per-variant statistics of one block (numpy float64)."""

    beta: np.ndarray  # variants x D
    se: np.ndarray  # variants x D
    tstat: np.ndarray  # variants x D
    mlog10p: np.ndarray  # variants x D, -log10 P (two-sided t)
    chisq: np.ndarray  # variants, multi-trait T ~ χ²_D
    chisq_mlog10p: np.ndarray  # variants
    gtg: np.ndarray  # variants, residualised genotype sum of squares


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
        q, r = np.linalg.qr(basis)  # q: samples x (c + 1)
        diag = np.abs(np.diag(r))
        if diag.min() <= 1e-10 * diag.max():
            raise InputError(
                None,
                f"covariates are collinear (with each other or the intercept), N={n}, c={c}",
                "drop constant or redundant covariate columns",
            )
        self.q = q
        self._q_cache: dict[tuple[str, str], Array] = {}

    def _q_like(self, x: Array) -> Array:
        """Q on x's backend, device and dtype."""
        if isinstance(x, np.ndarray):
            return self.q
        key = (str(x.device), str(x.dtype))
        if key not in self._q_cache:
            import torch

            self._q_cache[key] = torch.as_tensor(self.q, dtype=x.dtype, device=x.device)
        return self._q_cache[key]

    def transform(self, x: Array) -> Array:
        """x - Q(Qᵀx) for x samples x m (numpy or torch)."""
        assert x.shape[0] == self.n_samples, (x.shape, self.n_samples)
        q = self._q_like(x)
        return x - q @ (q.T @ x)


def _to_numpy64(x: Array) -> np.ndarray:
    if isinstance(x, np.ndarray):
        return x.astype(np.float64, copy=False)
    return x.detach().double().cpu().numpy()


def t_mlog10p(tstat: np.ndarray, dof: int) -> np.ndarray:
    """-log10 two-sided Student-t P, accurate far below 1e-308.

    Where scipy underflows, P = I_x(dof/2, 1/2) with x = dof / (dof + t²) is taken in
    log-space via I_x(a, b) = xᵃ(1-x)ᵇ ₂F₁(a+b, 1; a+1; x) / (a B(a, b)).
    """
    abs_t = np.abs(np.asarray(tstat, dtype=np.float64))
    logp = np.log(2.0) + student_t.logsf(abs_t, dof)
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


def association_block(g_res: Array, y_res: Array, c_inv: np.ndarray, dof: int) -> BlockResult:
    """Statistics for one block of residualised genotypes against all phenotypes.

    g_res: samples x variants, y_res: samples x D (same backend), c_inv: D x D
    inverse null covariance of y_res, dof: residual dof of the full model.
    """
    assert g_res.shape[0] == y_res.shape[0], (g_res.shape, y_res.shape)
    gty = _to_numpy64(g_res.T @ y_res)  # variants x D, the one big product
    gtg = _to_numpy64((g_res * g_res).sum(0))  # variants
    yty = _to_numpy64((y_res * y_res).sum(0))  # D
    with np.errstate(divide="ignore", invalid="ignore"):
        beta = gty / gtg[:, None]  # variants x D
        rss = np.maximum(yty[None, :] - beta * gty, 0.0)  # residual SS, closed form
        se = np.sqrt(rss / (dof * gtg[:, None]))
        tstat = beta / se
        chisq = np.einsum("vd,de,ve->v", gty, c_inv, gty) / gtg  # gᵀY C⁻¹ Yᵀg / gᵀg
    return BlockResult(
        beta=beta,
        se=se,
        tstat=tstat,
        mlog10p=t_mlog10p(tstat, dof),
        chisq=chisq,
        chisq_mlog10p=chi2_mlog10p(chisq, c_inv.shape[0]),
        gtg=gtg,
    )


def allele_counts(dosages: np.ndarray) -> AlleleCounts:
    """A1 counts from samples x variants dosages (NaN = missing)."""
    observed = ~np.isnan(dosages)
    n_obs = observed.sum(axis=0)  # variants
    a1 = np.nansum(dosages, axis=0, dtype=np.float64)  # variants
    with np.errstate(divide="ignore", invalid="ignore"):
        eaf = a1 / (2.0 * n_obs)
    return AlleleCounts(n_obs=n_obs, eaf=eaf, mac=np.minimum(a1, 2.0 * n_obs - a1))


def maf_filter(counts: AlleleCounts, min_maf: float, min_mac: float) -> np.ndarray:
    """Variants that pass MAF/MAC thresholds and are polymorphic (mask)."""
    maf = np.minimum(counts.eaf, 1.0 - counts.eaf)
    return (counts.n_obs > 0) & (counts.mac > 0) & (maf >= min_maf) & (counts.mac >= min_mac)


def centre_impute(dosages: np.ndarray, eaf: np.ndarray) -> np.ndarray:
    """Centre dosages (samples x variants) at 2·EAF; missing -> 0 (= mean imputation)."""
    centred = dosages - 2.0 * eaf[None, :]
    centred[np.isnan(centred)] = 0.0
    return centred


@dataclass(frozen=True)
class NullModel:
    """Everything a block needs besides its genotypes."""

    residualizer: Residualizer
    y_res: Array  # samples x D on the compute backend
    c_inv: np.ndarray  # D x D


def null_model(
    y: np.ndarray, covariates: np.ndarray, to_device: Callable[[np.ndarray], Array]
) -> NullModel:
    """Residualise phenotypes (samples x D) once; C = YᵀY / (N - c - 1) is fixed here."""
    residualizer = Residualizer(covariates)
    y_res = residualizer.transform(y.astype(np.float64))  # samples x D
    c = y_res.T @ y_res / residualizer.null_dof  # D x D
    return NullModel(residualizer, to_device(y_res), np.linalg.inv(c))


def scan_block(
    dosages: np.ndarray,
    model: NullModel,
    min_maf: float,
    min_mac: float,
    to_device: Callable[[np.ndarray], Array],
) -> tuple[np.ndarray, AlleleCounts, BlockResult]:
    """Filter, impute, residualise and test one block; returns (kept mask, counts, result).

    Variants collinear with the covariates are dropped from the mask.
    """
    counts = allele_counts(dosages)
    keep = maf_filter(counts, min_maf, min_mac)
    g = centre_impute(dosages[:, keep], counts.eaf[keep])  # samples x kept
    g_res = model.residualizer.transform(to_device(g))
    result = association_block(g_res, model.y_res, model.c_inv, model.residualizer.dof)
    informative = result.gtg > COLLINEAR_TOL * (g * g).sum(axis=0)
    keep[np.flatnonzero(keep)[~informative]] = False
    return keep, counts, _subset(result, informative)


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


def device_converter(device: str) -> Callable[[np.ndarray], Array]:
    """numpy float64 on 'cpu'; torch float32 tensors on 'cuda'."""
    if device == "cpu":
        return lambda x: np.asarray(x, dtype=np.float64)
    import torch

    return lambda x: torch.as_tensor(x, dtype=torch.float32).to(device)


def align_samples(
    fam: pd.DataFrame, pheno_df: pd.DataFrame, covar_df: pd.DataFrame | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Samples in .fam with complete phenotypes and covariates.

    Returns (fam row indices ascending, y samples x D, covariates samples x c).
    """
    names = phenotype_names(pheno_df)
    table = fam[ID_COLUMNS].assign(_row=np.arange(len(fam))).merge(pheno_df, on=ID_COLUMNS)
    covar_names: list[str] = []
    if covar_df is not None:
        covar_names = [c for c in covar_df.columns if c not in ID_COLUMNS]
        table = table.merge(covar_df, on=ID_COLUMNS)
    values = table[names + covar_names].apply(pd.to_numeric, errors="coerce")
    complete = values.notna().all(axis=1).to_numpy()
    log.info(
        "GWAS samples: %d with genotypes+phenotypes%s, %d dropped for missing values",
        len(table),
        "+covariates" if covar_df is not None else "",
        int((~complete).sum()),
    )
    order = np.argsort(table["_row"].to_numpy()[complete], kind="stable")
    table, values = table[complete].iloc[order], values[complete].iloc[order]
    return (
        table["_row"].to_numpy(),
        values[names].to_numpy(np.float64),
        values[covar_names].to_numpy(np.float64).reshape(len(table), len(covar_names)),
    )


def variant_blocks(
    genotypes: Genotypes, chrom: str | None, block_size: int, samples: np.ndarray, dtype: str
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (bim row indices, samples x block dosages) for one chromosome or all."""
    if chrom is None:
        for sl, dosages in genotypes.blocks(block_size, samples, dtype):
            yield np.arange(sl.start, sl.stop), dosages
        return
    rows = np.flatnonzero(genotypes.bim["CHR"].to_numpy() == str(chrom))
    if rows.size == 0:
        raise InputError(
            genotypes.prefix.with_suffix(".bim"),
            f"no variants on chromosome '{chrom}'",
            "check the chromosome list in the config against the .bim",
        )
    for start in range(0, rows.size, block_size):
        idx = rows[start : start + block_size]
        yield idx, genotypes.read(idx, samples, dtype)


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
    block_size: int = 1000,
    device: str = "auto",
    threads: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-dimension (long, column TRAIT) and multi-trait sumstats for one chromosome or all.

    pheno_df: FID IID Y0..; covar_df: FID IID covariates (None: intercept only).
    """
    _check_filters(min_maf, min_mac, block_size)
    device = resolve_device(device)
    to_device = device_converter(device)
    dtype = "float64" if device == "cpu" else "float32"
    with Genotypes(bfile, threads=threads) as genotypes, threadpool_limits(threads):
        samples, y, covariates = align_samples(genotypes.fam, pheno_df, covar_df)
        model = null_model(y, covariates, to_device)
        n_rows = (
            genotypes.n_variants
            if chrom is None
            else int((genotypes.bim["CHR"] == str(chrom)).sum())
        )
        parts = []
        blocks = variant_blocks(genotypes, chrom, block_size, samples, dtype)
        for rows, dosages in tqdm(
            blocks, total=-(-n_rows // block_size), unit="block", desc="builtin GWAS"
        ):
            keep, counts, result = scan_block(dosages, model, min_maf, min_mac, to_device)
            parts.append((rows[keep], counts, keep, result))
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
