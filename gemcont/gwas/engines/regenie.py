"""REGENIE engine: step 1 once for all traits, step 2 per chromosome, output parsing.

REGENIE's ALLELE1 is .bim column 5, the counted allele (:mod:`gemcont.io.plink`);
BETA is per ALLELE1 copy. Output files carry LOG10P (= -log10 p) and no P column;
:func:`read_regenie` maps them to ``CHR POS ID EA OA EAF N BETA SE P`` (+ CHISQ,
LOG10P, TRAIT) for both the split (``<out>_<trait>.regenie``) and the
``--no-split`` (``<out>.regenie[.gz]`` + ``.Ydict``) layouts. CHROM is normalised
(REGENIE writes chrX as 23: X here, :mod:`gemcont.io.chromosomes`). For quantitative
traits BETA/SE is the score z (SE from the residual variance without the variant), the
multi-trait test's input as it stands (:mod:`gemcont.gwas.multitrait`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from gemcont.errors import InputError
from gemcont.gwas.engines.job import ChromosomeJob
from gemcont.gwas.engines.plink2 import (
    check_effect_allele,
    find_binary,
    normalise_chromosomes,
    run_tool,
)
from gemcont.gwas.genotypes import GwasGenotypes, as_genotypes, info_filtered
from gemcont.gwas.multitrait import Z_COLUMN
from gemcont.gwas.prepare import phenotype_names, read_phenotypes
from gemcont.gwas.settings import RegenieSettings, Step1QcSettings
from gemcont.io.ids import KEY
from gemcont.io.sumstats import SINGLE_TRAIT_COLUMNS, TRAIT_COLUMN
from gemcont.io.tables import require_columns

REGENIE_RENAME = {
    "CHROM": "CHR",
    "GENPOS": "POS",
    "ID": "ID",
    "ALLELE1": "EA",
    "ALLELE0": "OA",
    "A1FREQ": "EAF",
    "N": "N",
}
STAT_COLUMNS = ["BETA", "SE", "CHISQ", "LOG10P"]
BINARY_KEY = "gwas.regenie.binary"
PLINK2_KEY = "gwas.plink2.binary"
ENV_FILE = "envs/gemcont.yaml"

log = logging.getLogger(__name__)


def _common(
    step: int,
    genotypes: str | Path | GwasGenotypes,
    extract: str | Path | None,
    pheno_file: str | Path,
    covar_file: str | Path | None,
    pheno_cols: Sequence[str] | None,
    chrom: str | None,
    bsize: int,
    binary: str,
) -> list[str]:
    """Flags shared by both steps, in REGENIE's own log order (genotypes: a PLINK 1
    prefix, or --pgen / --bgen --sample [--bgi] [--ref-first] of a file set; extract:
    step 1's QC'd variant list)."""
    inputs = as_genotypes(genotypes).regenie_flags(None if chrom is None else str(chrom))
    cmd = [binary, "--step", str(step), *inputs]
    if extract is not None:
        cmd += ["--extract", str(extract)]
    if chrom is not None:
        cmd += ["--chr", str(chrom)]
    if covar_file is not None:
        cmd += ["--covarFile", str(covar_file)]
    cmd += ["--phenoFile", str(pheno_file)]
    if pheno_cols is not None:
        cmd += ["--phenoColList", ",".join(pheno_cols)]
    return [*cmd, "--qt", "--bsize", str(bsize)]


def step1_command(
    bed: str | Path,
    pheno_file: str | Path,
    out: str | Path,
    *,
    covar_file: str | Path | None = None,
    pheno_cols: Sequence[str] | None = None,
    extract: str | Path | None = None,
    bsize: int = 1000,
    lowmem_prefix: str | Path | None = None,
    threads: int | None = None,
    binary: str = "regenie",
) -> list[str]:
    """Step 1 (whole-genome ridge fit, all traits at once) on the variants listed in
    ``extract`` (None: all); writes ``<out>_pred.list``."""
    cmd = _common(1, bed, extract, pheno_file, covar_file, pheno_cols, None, bsize, binary)
    if lowmem_prefix is not None:
        cmd += ["--lowmem", "--lowmem-prefix", str(lowmem_prefix)]
    cmd.append("--use-relative-path")
    if threads is not None:
        cmd += ["--threads", str(threads)]
    return [*cmd, "--out", str(out)]


def step2_command(
    genotypes: str | Path | GwasGenotypes,
    pheno_file: str | Path,
    out: str | Path,
    *,
    pred: str | Path | None,
    covar_file: str | Path | None = None,
    pheno_cols: Sequence[str] | None = None,
    chrom: str | None = None,
    bsize: int = 400,
    no_split: bool = False,
    gz: bool = False,
    min_info: float | None = None,
    threads: int | None = None,
    binary: str = "regenie",
) -> list[str]:
    """Step 2 association tests on ``genotypes`` (a PLINK 1 prefix, or a PGEN or BGEN
    file set: dosages); ``pred=None`` runs plain regression (``--ignore-pred``);
    min_info: ``--minINFO`` (REGENIE's INFO: IMPUTE's for BGEN, MaCH r2 for PGEN)."""
    cmd = _common(2, genotypes, None, pheno_file, covar_file, pheno_cols, chrom, bsize, binary)
    cmd += ["--ignore-pred"] if pred is None else ["--pred", str(pred)]
    if min_info is not None:
        cmd += ["--minINFO", str(min_info)]
    if no_split:
        cmd.append("--no-split")
    if gz:
        cmd.append("--gz")
    if threads is not None:
        cmd += ["--threads", str(threads)]
    return [*cmd, "--out", str(out)]


def step2_outputs(
    out: str | Path, traits: Sequence[str], no_split: bool = False, gz: bool = False
) -> list[Path]:
    """The result files step 2 writes: one per trait, or one shared file."""
    ext = ".regenie.gz" if gz else ".regenie"
    if no_split:
        return [Path(f"{out}{ext}")]
    return [Path(f"{out}_{trait}{ext}") for trait in traits]


def run_regenie(cmd: Sequence[str], out: str | Path) -> None:
    """Run a REGENIE command; errors carry the tail of ``<out>.log``."""
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    run_tool(cmd, f"{out}.log")


def regenie_binary(configured: str | None = None) -> str:
    """The regenie executable from config (gwas.regenie.binary) or PATH."""
    return find_binary(configured, "regenie", BINARY_KEY, ENV_FILE)


def read_ydict(path: str | Path) -> dict[str, str]:
    """A ``.Ydict`` file: column suffix (Y1, Y2, ...) -> trait name."""
    pairs = [line.split() for line in Path(path).read_text().splitlines() if line.strip()]
    if any(len(p) != 2 for p in pairs):
        raise InputError(path, "not a 2-column .Ydict file", "rerun regenie --no-split")
    return dict(pairs)


def _to_scheme(raw: pd.DataFrame, stats: dict[str, str], trait: str) -> pd.DataFrame:
    """One trait's rows in the project scheme; ``stats`` maps output to REGENIE columns."""
    df = raw[list(REGENIE_RENAME)].rename(columns=REGENIE_RENAME)
    for ours, theirs in stats.items():
        df[ours] = pd.to_numeric(raw[theirs], errors="coerce")
    df["P"] = np.power(10.0, -df["LOG10P"])
    df[Z_COLUMN] = df["BETA"] / df["SE"]
    df[TRAIT_COLUMN] = trait
    columns = [*SINGLE_TRAIT_COLUMNS, "CHISQ", "LOG10P", Z_COLUMN, TRAIT_COLUMN]
    return df[columns].reset_index(drop=True)


def _require(raw: pd.DataFrame, columns: list[str], path: str | Path) -> None:
    require_columns(raw, columns, path, "give a REGENIE step 2 output file")


def read_regenie(
    path: str | Path, trait: str | None = None, bim: pd.DataFrame | None = None
) -> pd.DataFrame:
    """A step 2 output (split or ``--no-split``, plain or .gz) as long sumstats, ADD rows.

    Split files are labelled ``trait`` (default: the file name without extension);
    ``--no-split`` files take trait names from the ``.Ydict`` beside them. With
    ``bim``, EA is checked against .bim column 5.
    """
    raw = pd.read_csv(
        path, sep=r"\s+", dtype={"CHROM": str, "ID": str, "ALLELE0": str, "ALLELE1": str}
    )
    _require(raw, [*REGENIE_RENAME, "TEST"], path)
    raw = raw[raw["TEST"] == "ADD"]
    if "BETA" in raw.columns:
        _require(raw, STAT_COLUMNS, path)
        name = trait or Path(path).name.removesuffix(".gz").removesuffix(".regenie")
        df = _to_scheme(raw, {c: c for c in STAT_COLUMNS}, name)
    else:
        ydict = read_ydict(f"{path}".removesuffix(".gz") + ".Ydict")
        _require(raw, [f"{c}.{y}" for y in ydict for c in STAT_COLUMNS], path)
        df = pd.concat(
            [_to_scheme(raw, {c: f"{c}.{y}" for c in STAT_COLUMNS}, t) for y, t in ydict.items()],
            ignore_index=True,
        )
    df["CHR"] = normalise_chromosomes(df["CHR"], path)
    if bim is not None:
        check_effect_allele(df, bim, path)
    return df


def per_dim_chromosome(
    job: ChromosomeJob, settings: RegenieSettings, pred: str | Path | None, min_info: float = 0.0
) -> pd.DataFrame:
    """REGENIE step 2 for all traits of one chromosome (``pred=None``: --ignore-pred);
    ``min_info`` > 0: ``--minINFO`` where :func:`gemcont.gwas.genotypes.info_filtered`."""
    exe = regenie_binary(settings.binary)
    bim = job.genotypes.variants(job.chrom)
    out = job.out("regenie")
    cmd = step2_command(
        job.genotypes,
        job.pheno_path,
        out,
        pred=pred,
        covar_file=job.covar_path,
        pheno_cols=job.traits,
        chrom=job.chrom,
        bsize=settings.step2_bsize,
        min_info=min_info
        if min_info > 0 and info_filtered(job.genotypes.format, job.chrom)
        else None,
        threads=job.threads,
        binary=exe,
    )
    run_regenie(cmd, out)
    paths = step2_outputs(out, job.traits)
    pairs = tqdm(zip(paths, job.traits, strict=True), total=len(job.traits), desc="read")
    return pd.concat([read_regenie(path, trait, bim) for path, trait in pairs], ignore_index=True)


def step1_qc_command(
    bfile: str | Path, keep: str | Path, out: str | Path, qc: Step1QcSettings, binary: str
) -> list[str]:
    """plink2 filters and LD pruning among the people in ``keep``: ``<out>.prune.in`` lists
    step 1's variants, ``<out>.prune.out`` those that passed the filters but were pruned."""
    return [
        binary,
        "--bfile",
        str(bfile),
        "--keep",
        str(keep),
        "--maf",
        str(qc.maf),
        "--mac",
        str(qc.mac),
        "--geno",
        str(qc.geno),
        "--indep-pairwise",
        str(qc.prune_window),
        str(qc.prune_step),
        str(qc.prune_r2),
        "--out",
        str(out),
    ]


def _lines(path: Path) -> int:
    return sum(1 for line in path.read_text().splitlines() if line.strip())


def step1_variants(
    bfile: str | Path,
    people: pd.DataFrame,
    out_prefix: str | Path,
    qc: Step1QcSettings,
    plink2_binary: str | None = None,
    threads: int | None = None,
) -> Path:
    """Step 1's variants: those passing ``qc`` among ``people`` (FID IID: the analysed,
    held-out people, among whom REGENIE needs every step 1 variant to vary), LD-pruned
    by plink2; the list ``<out_prefix>.prune.in``, its counts logged."""
    exe = find_binary(plink2_binary, "plink2", PLINK2_KEY, ENV_FILE)
    out = Path(out_prefix)
    out.parent.mkdir(parents=True, exist_ok=True)
    keep = out.with_name(f"{out.name}.keep")
    keep.write_text("#FID\tIID\n" + "".join(f"{f}\t{i}\n" for f, i in people[KEY].to_numpy()))
    cmd = step1_qc_command(bfile, keep, out, qc, exe)
    if threads is not None:
        cmd[-2:-2] = ["--threads", str(threads)]
    run_tool(cmd, f"{out}.log")
    listed, pruned = Path(f"{out}.prune.in"), Path(f"{out}.prune.out")
    total, kept = _lines(Path(f"{bfile}.bim")), _lines(listed)
    passed = kept + _lines(pruned)
    log.info(
        "REGENIE step 1 variants among %d held-out people: %d of %d in %s.bim pass "
        "MAF >= %g, MAC >= %d, missingness <= %g (%d fail); %d remain after LD pruning "
        "(%d %d %g, %d pruned): %s",
        len(people),
        passed,
        total,
        bfile,
        qc.maf,
        qc.mac,
        qc.geno,
        total - passed,
        kept,
        qc.prune_window,
        qc.prune_step,
        qc.prune_r2,
        passed - kept,
        listed,
    )
    return listed


def step1(
    bfile: str | Path,
    pheno_path: str | Path,
    covar_path: str | Path | None,
    out_prefix: str | Path,
    settings: RegenieSettings,
    threads: int | None = None,
    plink2_binary: str | None = None,
) -> Path:
    """REGENIE step 1 (all traits at once) on the variants of :func:`step1_variants`
    among the phenotype file's people -> ``<out_prefix>_pred.list``.

    Raises ConfigError naming ``gwas.regenie.binary`` when regenie is not found.
    """
    exe = regenie_binary(settings.binary)
    pheno = read_phenotypes(pheno_path)
    extract = step1_variants(
        bfile, pheno, f"{out_prefix}_qc", settings.step1_qc, plink2_binary, threads
    )
    cmd = step1_command(
        bfile,
        pheno_path,
        out_prefix,
        covar_file=covar_path,
        pheno_cols=phenotype_names(pheno),
        extract=extract,
        bsize=settings.step1_bsize,
        lowmem_prefix=f"{out_prefix}_tmp" if settings.lowmem else None,
        threads=threads,
        binary=exe,
    )
    run_regenie(cmd, out_prefix)
    return Path(f"{out_prefix}_pred.list")
