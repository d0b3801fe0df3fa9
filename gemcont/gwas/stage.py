"""Stage-level GWAS API for the workflow's scripts: every engine writes the same files.

Per chromosome, :func:`run_chromosome` writes two gzipped TSVs in the scheme of
:mod:`gemcont.io.sumstats`:

* per dimension (long): ``CHR POS ID EA OA EAF N BETA SE P LOG10P TRAIT``;
* multi-trait: ``CHR POS ID EA OA EAF N CHISQ DF P LOG10P``,

with the same variants in the same (.bim) order. ``builtin`` computes the
multi-trait statistic of METHOD.md natively; for ``plink2`` and ``regenie`` it is
T = zᵀR⁻¹z (:func:`gemcont.gwas.multitrait.combine_z`) with z = BETA/SE and R the
correlation of the covariate-residualised phenotypes
(:func:`gemcont.gwas.builtin.residual_correlation`). MAF/MAC filters are applied
here to every engine's output (from its EAF and N), so all engines keep the same
variants. ``cfg`` is the ``gwas`` section of the config; :func:`gwas_settings` fills
what it lacks from the schema's defaults.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from gemcont.config import with_defaults
from gemcont.errors import ConfigError
from gemcont.gwas import loci
from gemcont.gwas.builtin import (
    AlleleCounts,
    builtin_frames,
    maf_filter,
    residual_correlation,
    scan_builtin_gwas,
    t_mlog10p,
)
from gemcont.gwas.multitrait import chi2_mlog10p, combine_z
from gemcont.gwas.plink2 import TRAIT_COLUMN, run_glm
from gemcont.gwas.prepare import (
    ID_COLUMNS,
    phenotype_names,
    read_phenotypes,
    write_correlation,
)
from gemcont.gwas.regenie import (
    read_regenie,
    regenie_binary,
    run_regenie,
    step1_command,
    step2_command,
    step2_outputs,
)
from gemcont.io.plink import Genotypes, read_bim_chromosome
from gemcont.io.sumstats import (
    MULTI_TRAIT_COLUMNS,
    SINGLE_TRAIT_COLUMNS,
    VARIANT_COLUMNS,
    write_sumstats,
)
from gemcont.io.tables import concat_gzip_tables, write_tsv

log = logging.getLogger(__name__)

ENGINES = ("builtin", "plink2", "regenie")
PER_DIM_COLUMNS = [*SINGLE_TRAIT_COLUMNS, "LOG10P", TRAIT_COLUMN]
MULTI_COLUMNS = [*MULTI_TRAIT_COLUMNS, "LOG10P"]
VARIANT_KEY = ["ID", "POS", "EA"]
SEX_CHROMS = ("X", "Y", "XY", "MT", "M")
BONFERRONI_ALPHA = 0.05


def gwas_settings(cfg: dict) -> dict[str, Any]:
    """The ``gwas`` config section with the schema's defaults for keys it lacks."""
    return with_defaults("gwas", cfg)


# --- per-chromosome association ------------------------------------------------------


def _read_inputs(
    pheno_path: str | Path, covar_path: str | Path | None
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    covar_df = None if covar_path is None else read_phenotypes(covar_path)
    return read_phenotypes(pheno_path), covar_df


def _n_covariates(covar_df: pd.DataFrame | None) -> int:
    return 0 if covar_df is None else covar_df.shape[1] - len(ID_COLUMNS)


def _t_log10p(tstat: np.ndarray, dof: np.ndarray) -> np.ndarray:
    """-log10 P of Student t statistics with per-variant dof (NaN where dof is not finite)."""
    out = np.full(tstat.shape, np.nan)
    for d in np.unique(dof[np.isfinite(dof)]):
        rows = dof == d
        out[rows] = t_mlog10p(tstat[rows], int(d))
    return out


def _plink2_per_dim(
    bfile: str, pheno_path: str | Path, covar_path: str | Path | None, chrom: str,
    traits: list[str], n_covar: int, settings: dict, threads: int | None, workdir: Path,
) -> pd.DataFrame:  # fmt: skip
    """plink2 --glm for all traits of one chromosome; LOG10P from T (no underflow)."""
    bim, _, _ = read_bim_chromosome(f"{bfile}.bim", chrom)
    out = workdir / f"plink2_chr{chrom}"
    df = run_glm(
        bfile, pheno_path, out, traits, bim, binary=settings["plink2"]["binary"],
        covar=covar_path, chrom=chrom, threads=threads,
    )  # fmt: skip
    dof = (df["N"] - n_covar - 2).to_numpy(np.float64)  # plink2 --glm: N - c - 2
    df["LOG10P"] = _t_log10p(df["T"].to_numpy(np.float64), dof)
    return df.drop(columns="T")


def _regenie_per_dim(
    bfile: str, pheno_path: str | Path, covar_path: str | Path | None, chrom: str,
    traits: list[str], settings: dict, threads: int | None, workdir: Path,
    pred: str | Path | None,
) -> pd.DataFrame:  # fmt: skip
    """REGENIE step 2 for all traits of one chromosome (``pred=None``: --ignore-pred)."""
    exe = regenie_binary(settings["regenie"]["binary"])
    bim, _, _ = read_bim_chromosome(f"{bfile}.bim", chrom)
    out = workdir / f"regenie_chr{chrom}"
    cmd = step2_command(
        bfile, pheno_path, out, pred=pred, covar_file=covar_path, pheno_cols=traits,
        chrom=chrom, bsize=settings["regenie"]["step2_bsize"], threads=threads, binary=exe,
    )  # fmt: skip
    run_regenie(cmd, out)
    paths = step2_outputs(out, traits)
    frames = [
        read_regenie(path, trait, bim)
        for path, trait in tqdm(zip(paths, traits, strict=True), total=len(traits), desc="read")
    ]
    return pd.concat(frames, ignore_index=True)


def _passes_filters(variants: pd.DataFrame, min_maf: float, min_mac: float) -> np.ndarray:
    """The builtin engine's MAF/MAC rule applied to an engine's EAF and N columns."""
    n_obs = variants["N"].to_numpy(np.float64)
    eaf = variants["EAF"].to_numpy(np.float64)
    mac = np.rint(2.0 * n_obs * np.minimum(eaf, 1.0 - eaf))  # EAF is printed rounded
    counts = AlleleCounts(n_obs=n_obs, eaf=eaf, mac=mac)
    return np.asarray(maf_filter(counts, min_maf, min_mac) & np.isfinite(eaf))


def combine_engine_output(
    per_dim: pd.DataFrame, traits: list[str], corr: pd.DataFrame, min_maf: float, min_mac: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Filter an engine's long table and add the multi-trait test T = zᵀR⁻¹z.

    Keeps variants passing MAF/MAC with finite BETA/SE in every trait; all traits
    must list the same variants in the same order.
    """
    by_trait = [per_dim[per_dim[TRAIT_COLUMN] == t].reset_index(drop=True) for t in traits]
    first = by_trait[0]
    for trait, frame in zip(traits, by_trait, strict=True):
        if not frame[VARIANT_KEY].equals(first[VARIANT_KEY]):
            raise ValueError(f"trait {trait} lists other variants than trait {traits[0]}")
    z = np.column_stack([(f["BETA"] / f["SE"]).to_numpy(np.float64) for f in by_trait])
    keep = np.isfinite(z).all(axis=1) & _passes_filters(first, min_maf, min_mac)
    chisq, _ = combine_z(z[keep], corr.loc[traits, traits].to_numpy())
    mlog10p = chi2_mlog10p(chisq, len(traits))
    multi = first.loc[keep, VARIANT_COLUMNS].reset_index(drop=True)
    multi = multi.assign(CHISQ=chisq, DF=len(traits), P=10.0**-mlog10p, LOG10P=mlog10p)
    long = pd.concat([f.loc[keep] for f in by_trait], ignore_index=True)
    return long, multi


def write_trait_correlation(
    pheno_path: str | Path, covar_path: str | Path | None, out: str | Path
) -> pd.DataFrame:
    """Write (and return) R, the correlation of covariate-residualised phenotypes."""
    corr = residual_correlation(*_read_inputs(pheno_path, covar_path))
    write_correlation(corr, out)
    return corr


def run_chromosome(
    engine: str,
    bfile: str | Path,
    pheno_path: str | Path,
    covar_path: str | Path | None,
    chrom: str,
    out_per_dim: str | Path,
    out_multi: str | Path,
    cfg: dict,
    threads: int | None,
    workdir: str | Path,
    regenie_pred: str | Path | None = None,
) -> None:
    """One chromosome with the chosen engine -> per-dimension and multi-trait TSV.gz."""
    if engine not in ENGINES:
        raise ConfigError("gwas.engine", f"'{engine}' is not one of {ENGINES}")
    s = gwas_settings(cfg)
    bfile, chrom, workdir = str(bfile), str(chrom), Path(workdir)
    pheno_df, covar_df = _read_inputs(pheno_path, covar_path)
    traits = phenotype_names(pheno_df)
    log.info("GWAS chromosome %s: engine %s, %d traits", chrom, engine, len(traits))
    if engine == "builtin":
        scan = scan_builtin_gwas(
            bfile, pheno_df, covar_df, chrom, s["min_maf"], s["min_mac"], s["block_size"],
            s["device"], threads, None if s["dtype"] == "auto" else s["dtype"],
        )  # fmt: skip
        per_dim, multi = builtin_frames(scan)  # per_dim: a frame per trait, made as written
    else:
        workdir.mkdir(parents=True, exist_ok=True)
        if engine == "plink2":
            raw = _plink2_per_dim(
                bfile, pheno_path, covar_path, chrom, traits, _n_covariates(covar_df), s,
                threads, workdir,
            )  # fmt: skip
        else:
            raw = _regenie_per_dim(
                bfile, pheno_path, covar_path, chrom, traits, s, threads, workdir, regenie_pred
            )
        corr = residual_correlation(pheno_df, covar_df)
        per_dim, multi = combine_engine_output(raw, traits, corr, s["min_maf"], s["min_mac"])
        per_dim = [per_dim]
    log.info("GWAS chromosome %s: %d variants written", chrom, len(multi))
    write_sumstats((f[PER_DIM_COLUMNS] for f in per_dim), out_per_dim, PER_DIM_COLUMNS)
    write_sumstats(multi[MULTI_COLUMNS], out_multi, MULTI_COLUMNS)


def regenie_step1(
    bfile: str | Path,
    pheno_path: str | Path,
    covar_path: str | Path | None,
    out_prefix: str | Path,
    cfg: dict,
    threads: int | None = None,
) -> Path:
    """REGENIE step 1 (all traits at once) -> ``<out_prefix>_pred.list``.

    Raises ConfigError naming ``gwas.regenie.binary`` when regenie is not found.
    """
    s = gwas_settings(cfg)["regenie"]
    exe = regenie_binary(s["binary"])
    traits = phenotype_names(read_phenotypes(pheno_path))
    cmd = step1_command(
        bfile, pheno_path, out_prefix, covar_file=covar_path, pheno_cols=traits,
        bsize=s["step1_bsize"], lowmem_prefix=f"{out_prefix}_tmp" if s["lowmem"] else None,
        threads=threads, binary=exe,
    )  # fmt: skip
    run_regenie(cmd, out_prefix)
    return Path(f"{out_prefix}_pred.list")


# --- merging -------------------------------------------------------------------------


def chrom_sort_key(chrom: str) -> tuple[int, int, str]:
    """Numeric chromosomes first (1, 2, ..., 22, 23), then X, Y, XY, MT, then others."""
    name = str(chrom).upper().removeprefix("CHR")
    if name.isdigit():
        return 0, int(name), ""
    if name in SEX_CHROMS:
        return 1, SEX_CHROMS.index(name), ""
    return 2, 0, name


def _first_chrom(path: Path) -> str | None:
    """The chromosome of a per-chromosome file's first row (None when it has no rows)."""
    with gzip.open(path, "rt") as handle:
        columns = handle.readline().rstrip("\n").split("\t")
        row = handle.readline()
    return row.rstrip("\n").split("\t")[columns.index("CHR")] if row else None


def merge_chromosomes(paths: Sequence[str | Path], out: str | Path) -> None:
    """Concatenate per-chromosome TSV.gz files (identical headers) in chromosome order,
    copying their compressed rows (:func:`gemcont.io.tables.concat_gzip_tables`)."""
    keyed = [(_first_chrom(Path(p)), p) for p in paths]
    keyed.sort(key=lambda kp: (kp[0] is None, chrom_sort_key(kp[0] or "")))
    concat_gzip_tables([p for _, p in keyed], out)


# --- loci and recovery ---------------------------------------------------------------


def read_multi_trait(path: str | Path) -> pd.DataFrame:
    """A multi-trait sumstats file written by :func:`run_chromosome` / merged."""
    return pd.read_csv(path, sep="\t", dtype={"CHR": str, "ID": str, "EA": str, "OA": str})


def _write_json(data: dict, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


def summarise_gwas(
    multi_path: str | Path,
    panel_path: str | Path,
    bfile: str | Path,
    out_loci: str | Path,
    out_recovery: str | Path,
    out_summary_json: str | Path,
    cfg: dict,
    clump_fn: loci.ClumpFn,
) -> dict[str, Any]:
    """λGC, independent loci (new vs panel) and panel recovery; writes 2 TSVs + JSON."""
    s = gwas_settings(cfg)
    sumstats = read_multi_trait(multi_path)
    panel = pd.read_csv(panel_path, sep="\t", dtype={"CHR": str, "ID": str})
    n_dims = int(sumstats["DF"].iloc[0])
    with Genotypes(bfile) as genotypes:
        lead = loci.independent_loci(
            sumstats, genotypes.bim, clump_fn, genotypes, p_threshold=s["p_threshold"],
            r2_threshold=s["clump"]["r2"], window_kb=s["clump"]["kb"],
        )  # fmt: skip
    window = s["recovery_window_kb"]
    found = loci.novel_loci(lead, panel, window)
    recovery = loci.recovery_table(sumstats, panel, window, s["p_threshold"], BONFERRONI_ALPHA)
    counts = loci.recovery_summary(recovery, found)
    summary = {
        "lambda_gc": loci.lambda_gc(sumstats["P"], df=n_dims),
        "n_loci": counts["n_loci"],
        "n_new": counts["n_new_loci"],
        "recovered_gw": counts["recovered_gw"],
        "fraction_recovered_gw": counts["fraction_gw"],
        "recovered_bonferroni": counts["recovered_bonferroni"],
        "fraction_recovered_bonferroni": counts["fraction_bonferroni"],
        "p_threshold": s["p_threshold"],
        "bonferroni_threshold": BONFERRONI_ALPHA / len(panel),
        "S": len(panel),
        "D": n_dims,
        "N": int(sumstats["N"].max()),
    }
    write_tsv(found, out_loci)
    write_tsv(recovery, out_recovery)
    _write_json(summary, out_summary_json)
    log.info("GWAS summary: %s", summary)
    return summary
