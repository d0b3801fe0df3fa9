"""The built-in GWAS engine: all embedding dimensions of one chromosome (or all, or a
chunk of one) in one streaming scan of the genotypes, with the kernel of
:mod:`gemcont.gwas.kernel`.

Block pipelines, each reading one block ahead in a background thread: for a .bed,
numpy on the CPU (:mod:`~gemcont.gwas.engines.numpy_engine`) and torch on CUDA
(:mod:`~gemcont.gwas.engines.torch_engine`), both decoding the packed bytes
themselves; for PGEN and BGEN dosages, the reader's floats
(:mod:`~gemcont.gwas.engines.dosage_engine`). The statistics land in result arrays
(one row per scanned variant) whose pages fault in meanwhile; the sumstats tables are
made from them by :func:`gemcont.io.sumstats.builtin_frames`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from gemcont.devices import resolve_device
from gemcont.gwas.engines.dosage_engine import DosageEngine
from gemcont.gwas.engines.numpy_engine import NumpyEngine
from gemcont.gwas.engines.streaming import ScanInputs, ScanResults, Timings, drive
from gemcont.gwas.engines.torch_engine import TorchEngine
from gemcont.gwas.genotypes import (
    Chunk,
    GwasGenotypes,
    as_genotypes,
    checked_chunk,
    info_filtered,
    mfi_low_info,
)
from gemcont.gwas.inputs import align_samples
from gemcont.gwas.kernel import Backend, VariantFilters, backend_for, null_model
from gemcont.gwas.prepare import phenotype_names
from gemcont.gwas.settings import GwasSettings
from gemcont.io.plink import Genotypes
from gemcont.io.sumstats import builtin_tables

log = logging.getLogger(__name__)

# variants per block when not configured. CPU: products run at full GEMM speed from
# ~512 columns, and smaller blocks need fewer fresh pages (host memory about
# N x block x 18 bytes: two int8 and two float64 blocks), so a first scan is faster
# (benchmarks/README.md). CUDA: larger blocks amortise each block's launches and
# synchronisations.
DEFAULT_BLOCK_SIZE = {"cpu": 512, "cuda": 2048}


@dataclass(frozen=True)
class BuiltinScan:
    """What :func:`scan_builtin_gwas` found, one row per scanned variant, before tables."""

    bim: pd.DataFrame
    names: list[str]  # the D phenotypes
    rows: np.ndarray  # scanned rows of bim
    keep: np.ndarray  # passes MAF/MAC, not collinear (other rows: undefined values)
    n_obs: np.ndarray
    eaf: np.ndarray
    beta: np.ndarray  # rows x D, in the scan dtype (float32 or float64)
    se: np.ndarray  # rows x D
    mlog10p: np.ndarray  # rows x D
    chisq: np.ndarray
    chisq_mlog10p: np.ndarray
    seconds: dict[str, float]  # setup (inputs, null model), blocks (the scan), phases
    qc: np.ndarray | None = None  # each row's gemcont.gwas.kernel.QC_REASONS code (0: kept)


def variant_filters(settings: GwasSettings) -> VariantFilters:
    """The per-variant QC of ``settings`` (gwas.min_maf, min_mac, min_info, max_missing)."""
    return VariantFilters(
        settings.min_maf, settings.min_mac, settings.min_info, settings.max_missing
    )


def info_rows(
    bim: pd.DataFrame, rows: np.ndarray, fmt: str, chrom: str | None
) -> bool | np.ndarray:
    """Where the INFO filter applies among ``rows`` of ``bim`` (all on ``chrom`` when
    given; :func:`gemcont.gwas.genotypes.info_filtered`). One bool when every row
    agrees."""
    if rows.size == 0:
        return False
    if chrom is not None:
        return info_filtered(fmt, chrom)
    chroms = bim["CHR"].array.take(rows)
    applies = {c: info_filtered(fmt, c) for c in pd.unique(chroms)}
    if len(set(applies.values())) == 1:
        return next(iter(applies.values()))
    return pd.Series(chroms).map(applies).to_numpy(bool)


def settings_backend(settings: GwasSettings) -> Backend:
    """The backend of ``gwas.device`` and ``gwas.dtype`` (auto: the device's default).

    float64 on the CPU equals float64 OLS to ~1e-12; float32 (the CUDA default) is
    ~1e-6 relative and ~1.7x faster on the CPU; the sumstats keep 6 digits either way.
    """
    device = resolve_device(settings.device, "gwas.device")
    return backend_for(device, None if settings.dtype == "auto" else settings.dtype)


def scan_builtin_gwas(
    genotypes: str | GwasGenotypes,
    pheno_df: pd.DataFrame,
    covar_df: pd.DataFrame | None,
    settings: GwasSettings,
    chrom: str | None = None,
    threads: int | None = None,
    backend: Backend | None = None,
) -> BuiltinScan:
    """The statistics of :func:`run_builtin_gwas` as arrays (no tables yet).

    genotypes: a PLINK 1 prefix or any :class:`GwasGenotypes`.
    pheno_df: FID IID Y0..; covar_df: FID IID covariates (None: intercept only).
    settings: min_maf, min_mac, block_size (None: :data:`DEFAULT_BLOCK_SIZE` of the
    device), device and dtype. backend: overrides device/dtype, e.g.
    ``Backend(use_torch=True, dtype="float32")`` runs the CUDA pipeline on the CPU.
    """
    return scan_builtin_groups(genotypes, [pheno_df], covar_df, settings, chrom, threads, backend)[
        0
    ]


def scan_builtin_groups(
    genotypes: str | GwasGenotypes,
    phenos: list[pd.DataFrame],
    covar_df: pd.DataFrame | None,
    settings: GwasSettings,
    chrom: str | None = None,
    threads: int | None = None,
    backend: Backend | None = None,
    chunk: Chunk | None = None,
) -> list[BuiltinScan]:
    """:func:`scan_builtin_gwas` of several phenotype tables of the same people (e.g.
    every method of a split) in one pass over the genotypes: a scan per table, each
    equal bit for bit to its own scan (own null model, product and multi-trait test).

    chunk: scan only that chunk of ``settings.chunk_variants`` variants of the
    chromosome (:func:`gemcont.gwas.genotypes.chunk_rows`; blocks start at its first
    row), None: all.

    Raises ValueError when the tables' complete cases in .fam differ (they must share
    one sample set; :func:`gemcont.gwas.joint.scan_groups` groups them so).
    """
    backend = backend or settings_backend(settings)
    block_size = settings.block_size or DEFAULT_BLOCK_SIZE[backend.device]
    start = time.perf_counter()
    source = as_genotypes(genotypes)
    with source.open(chrom, threads) as genotypes, threadpool_limits(threads):
        rows = np.arange(genotypes.n_variants)  # of the chromosome's variants, or all
        if chunk is not None:
            rows = checked_chunk(rows.size, settings.chunk_variants, chunk, source.path)
        names = [phenotype_names(pheno_df) for pheno_df in phenos]
        filters = variant_filters(settings)
        dosages = settings.min_info > 0 and info_rows(genotypes.bim, rows, source.format, chrom)
        mfi = settings.genotypes.mfi
        mfi_low = mfi_low_info(mfi, settings.min_info, genotypes.bim.iloc[rows])
        results = [  # fault in meanwhile
            ScanResults(rows.size, len(n), backend.dtype, filters, dosages, mfi_low) for n in names
        ]
        models, samples = [], None
        for pheno_df in phenos:
            picked, y, covariates = align_samples(genotypes.fam, pheno_df, covar_df)
            if samples is not None and not np.array_equal(picked, samples):
                raise ValueError("phenotype tables of one scan analyse different samples")
            samples = picked
            models.append(null_model(y, covariates, backend))
        everyone = np.array_equal(samples, np.arange(genotypes.n_samples))
        pick = None if everyone else samples  # read_int8's fast path decodes everyone
        blocks = [rows[i : i + block_size] for i in range(0, rows.size, block_size)]
        if isinstance(genotypes, Genotypes):  # .bed: the packed-byte pipelines
            kind = TorchEngine if backend.use_torch else NumpyEngine
        else:
            kind = DosageEngine
        timings = Timings()
        inputs = ScanInputs(genotypes, blocks, pick, models, backend, results, timings)
        engine = kind(inputs)
        setup = time.perf_counter()
        sizes = drive(engine, blocks, timings)
        for _ in tqdm(sizes, total=len(blocks), unit="block", desc="builtin GWAS"):
            pass
        for group in results:
            group.close()
        seconds = {"setup": setup - start, "blocks": time.perf_counter() - setup}
        phases = ", ".join(f"{k} {v:.2f} s" for k, v in timings.items())
        log.info(
            "builtin GWAS: %d variants x %d phenotype group(s) in %.1f s (+ %.1f s setup) "
            "on %s; %s",
            rows.size,
            len(phenos),
            seconds["blocks"],
            seconds["setup"],
            backend,
            phases,
        )
        seconds.update(timings)
    return [
        BuiltinScan(
            bim=genotypes.bim,
            names=group_names,
            rows=rows,
            keep=group.keep,
            qc=group.qc,
            n_obs=group.n_obs,
            eaf=group.eaf,
            **group.arrays,
            seconds=seconds,
        )
        for group_names, group in zip(names, results, strict=True)
    ]


def run_builtin_gwas(*args: object, **kwargs: object) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-dimension (long, column TRAIT) and multi-trait sumstats for one chromosome or
    all: :func:`gemcont.io.sumstats.builtin_tables` of :func:`scan_builtin_gwas` (same
    arguments)."""
    return builtin_tables(scan_builtin_gwas(*args, **kwargs))
