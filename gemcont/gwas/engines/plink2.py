"""PLINK 2 ``--glm`` engine: command line, run, and parsing into the sumstats scheme.

``--glm omit-ref`` on a .bed fileset reports A1 = ALT = .bim column 5, the counted
allele of :mod:`gemcont.io.plink`; :func:`check_effect_allele` verifies it on every
output. Columns are requested explicitly (``cols=``) with names that Debian's
2.00a3.5 and current builds both accept (2.00a3.5 has ``ax``, current builds
renamed it ``omitted``, so the other allele is derived from REF/ALT instead), and
the output is read by column name, never by position.

chrX: the covariates are the workflow's own design (sex among them when configured),
so ``no-x-sex`` stops plink2 adding sex a second time on chrX (it would stop with a VIF
error), and ``--xchr-model 2`` codes males 0..2, the .bed codes the built-in engine
reads. Chromosome codes are normalised (:mod:`gemcont.io.chromosomes`: X, not 23).

This module also holds the helpers shared with the REGENIE engine: finding a
binary, running it, and the effect-allele check.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from gemcont.errors import ConfigError, InputError
from gemcont.gwas.engines.job import ChromosomeJob
from gemcont.gwas.genotypes import GwasGenotypes, as_genotypes, info_filtered
from gemcont.gwas.multitrait import Z_COLUMN, score_z_from_t
from gemcont.gwas.pvalues import t_mlog10p_per_dof
from gemcont.gwas.settings import Plink2Settings
from gemcont.io.chromosomes import normalise
from gemcont.io.ids import KEY
from gemcont.io.plink import COUNTED_ALLELE
from gemcont.io.sumstats import SINGLE_TRAIT_COLUMNS, TRAIT_COLUMN
from gemcont.io.tables import require_columns

GLM_COLS = ("chrom", "pos", "ref", "alt", "a1freq", "test", "nobs", "beta", "se", "tz", "p")
GLM_RENAME = {
    "#CHROM": "CHR",
    "POS": "POS",
    "ID": "ID",
    "A1": "EA",
    "A1_FREQ": "EAF",
    "OBS_CT": "N",
    "BETA": "BETA",
    "SE": "SE",
    "T_STAT": "T",
    "P": "P",
}
GLM_REQUIRED = [*GLM_RENAME, "REF", "ALT", "TEST"]
LOG_TAIL_LINES = 25


class ToolError(RuntimeError):
    """An external program (plink2, regenie) exited with an error."""


def find_binary(configured: str | None, default: str, key: str, env_file: str) -> str:
    """Path of an external binary: the configured one, else ``default`` on PATH."""
    name = configured or default
    found = shutil.which(name)
    if found is None:
        raise ConfigError(
            key,
            f"'{name}' is not an executable file nor on PATH; install it (conda env "
            f"{env_file}, used with `snakemake --sdm conda`) or set {key} to its path",
        )
    return found


def log_tail(path: str | Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file, or a note that it does not exist."""
    path = Path(path)
    if not path.exists():
        return f"(no log file {path})"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def run_tool(cmd: Sequence[str], log: str | Path) -> None:
    """Run ``cmd``; on a non-zero exit raise ToolError with the tail of its log."""
    result = subprocess.run(list(cmd), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = log_tail(log) if Path(log).exists() else result.stderr.strip() or result.stdout
        raise ToolError(
            f"{Path(cmd[0]).name} exited with status {result.returncode}\n"
            f"command: {' '.join(map(str, cmd))}\n--- end of {log} ---\n{tail}"
        )


def check_effect_allele(df: pd.DataFrame, bim: pd.DataFrame, source: str | Path) -> None:
    """Error unless every (ID, POS, EA) of ``df`` is an (ID, POS, A1) row of the .bim."""
    ours = pd.MultiIndex.from_frame(df[["ID", "POS", "EA"]].astype({"POS": np.int64}))
    bims = pd.MultiIndex.from_frame(bim[["ID", "POS", COUNTED_ALLELE]])
    bad = ~ours.isin(bims)
    if bad.any():
        examples = ", ".join(f"{i} EA={a}" for i, _, a in ours[bad][:5])
        raise InputError(
            source,
            f"{int(bad.sum())} variants have an effect allele that is not .bim column 5 "
            f"(A1) or are absent from the .bim, e.g. {examples}",
            "run the engine on the same .bed/.bim as the pipeline (plink2 needs "
            "--glm omit-ref; do not use --ref-allele/--maj-ref)",
        )


def normalise_chromosomes(codes: pd.Series, source: str | Path) -> pd.Series:
    """An engine's chromosome column in the workflow's codes (REGENIE writes chrX as
    23, plink2 as X): :func:`gemcont.io.chromosomes.normalise` of each distinct code."""
    codes = codes.astype(str)
    mapping = {}
    for code in codes.unique():
        try:
            mapping[code] = normalise(code)
        except ValueError as err:
            raise InputError(source, str(err), "give the engine's own output file") from err
    return codes.map(mapping)


def _col_nums(nums: Sequence[int]) -> str:
    """1-based column numbers as a comma list, consecutive runs written as ranges."""
    runs: list[list[int]] = []
    for n in sorted(nums):
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ",".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


def glm_command(
    genotypes: str | Path | GwasGenotypes,
    pheno: str | Path,
    out: str | Path,
    *,
    pheno_names: Sequence[str] | None = None,
    pheno_col_nums: Sequence[int] | None = None,
    covar: str | Path | None = None,
    chrom: str | None = None,
    maf: float | None = None,
    mac: int | None = None,
    keep: str | Path | None = None,
    max_missing: float | None = None,
    min_mach_r2: float | None = None,
    threads: int | None = None,
    binary: str = "plink2",
) -> list[str]:
    """The ``plink2 --glm`` command line (quantitative traits, additive test on A1);
    ``genotypes``: a PLINK 1 prefix, or a .pgen (``--pfile``) or .bgen (``--bgen ...
    --sample``) file set (dosages are then tested).

    keep: the people the variant filters count (``--keep``); max_missing: ``--geno ...
    dosage`` (a dosage without a hard call is not missing); min_mach_r2:
    ``--mach-r2-filter`` (plink2 computes it on hard calls too: give it for dosages
    only)."""
    if (pheno_names is None) == (pheno_col_nums is None):
        raise ValueError("give exactly one of pheno_names and pheno_col_nums")
    inputs = as_genotypes(genotypes).plink2_flags(None if chrom is None else str(chrom))
    cmd = [binary, *inputs, "--pheno", str(pheno)]
    if pheno_names is not None:
        cmd += ["--pheno-name", ",".join(pheno_names)]
    else:
        cmd += ["--pheno-col-nums", _col_nums(pheno_col_nums)]
    modifiers = ["omit-ref", "hide-covar", "no-x-sex"]
    if covar is None:
        modifiers.append("allow-no-covars")
    else:
        cmd += ["--covar", str(covar), "--covar-variance-standardize"]
    cmd += ["--glm", *modifiers, "cols=" + ",".join(GLM_COLS), "--xchr-model", "2"]
    if chrom is not None:
        cmd += ["--chr", str(chrom)]
    if maf is not None:
        cmd += ["--maf", str(maf)]
    if mac is not None:
        cmd += ["--mac", str(mac)]
    if keep is not None:
        cmd += ["--keep", str(keep)]
    if max_missing is not None:
        cmd += ["--geno", str(max_missing), "dosage"]
    if min_mach_r2 is not None:
        cmd += ["--mach-r2-filter", str(min_mach_r2)]
    if threads is not None:
        cmd += ["--threads", str(threads)]
    return [*cmd, "--out", str(out)]


def glm_output(out: str | Path, trait: str) -> Path:
    """The ``--glm`` result file of one quantitative trait."""
    return Path(f"{out}.{trait}.glm.linear")


def read_glm(path: str | Path, trait: str | None = None) -> pd.DataFrame:
    """A ``.glm.linear`` file as ``CHR POS ID EA OA EAF N BETA SE P`` (+ T, TRAIT), ADD rows."""
    raw = pd.read_csv(
        path,
        sep="\t",
        na_values=["NA", "."],
        keep_default_na=False,
        dtype={"#CHROM": str, "ID": str, "REF": str, "ALT": str, "A1": str},
    )
    require_columns(
        raw,
        GLM_REQUIRED,
        path,
        f"run plink2 --glm with cols={','.join(GLM_COLS)} (see glm_command)",
    )
    raw = raw[raw["TEST"] == "ADD"]
    df = raw[list(GLM_RENAME)].rename(columns=GLM_RENAME)
    df["CHR"] = normalise_chromosomes(df["CHR"], path)
    df["OA"] = np.where(raw["A1"] == raw["ALT"], raw["REF"], raw["ALT"])
    df = df[[*SINGLE_TRAIT_COLUMNS, "T"]].reset_index(drop=True)
    if trait is not None:
        df[TRAIT_COLUMN] = trait
    return df


def run_glm(
    genotypes: str | Path | GwasGenotypes,
    pheno: str | Path,
    out: str | Path,
    traits: Sequence[str],
    bim: pd.DataFrame,
    *,
    binary: str | None = None,
    **options: object,
) -> pd.DataFrame:
    """Run ``plink2 --glm`` on named traits; long sumstats with a TRAIT column, A1 checked."""
    exe = find_binary(binary, "plink2", "gwas.plink2.binary", "envs/gemcont.yaml")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    cmd = glm_command(genotypes, pheno, out, pheno_names=traits, binary=exe, **options)
    run_tool(cmd, f"{out}.log")
    frames = []
    for trait in traits:
        path = glm_output(out, trait)
        df = read_glm(path, trait)
        check_effect_allele(df, bim, path)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def filter_options(
    job: ChromosomeJob, out: str | Path, min_info: float, max_missing: float
) -> dict[str, object]:
    """:func:`glm_command`'s QC options for ``gwas.min_info`` and ``gwas.max_missing``
    among the phenotype file's people (``<out>.keep``); none with the defaults (0, 1),
    and the MaCH r2 filter only where :func:`gemcont.gwas.genotypes.info_filtered`."""
    options: dict[str, object] = {}
    if max_missing < 1:
        options["max_missing"] = max_missing
    if min_info > 0 and info_filtered(job.genotypes.format, job.chrom):
        options["min_mach_r2"] = min_info
    if options:
        keep = Path(f"{out}.keep")
        people = pd.read_csv(job.pheno_path, sep=r"\s+", usecols=KEY, dtype=str)
        keep.write_text("#FID\tIID\n" + "".join(f"{f}\t{i}\n" for f, i in people.to_numpy()))
        options["keep"] = keep
    return options


def per_dim_chromosome(
    job: ChromosomeJob,
    n_covariates: int,
    settings: Plink2Settings,
    min_info: float = 0.0,
    max_missing: float = 1.0,
) -> pd.DataFrame:
    """plink2 --glm for all traits of one chromosome: long sumstats with LOG10P from T
    (no underflow) and Z, the score z of :func:`gemcont.gwas.multitrait.score_z_from_t`
    (the multi-trait test's input), rows of every trait in .bim order; variants failing
    ``min_info`` or ``max_missing`` (:func:`filter_options`) left out by plink2."""
    bim = job.genotypes.variants(job.chrom)
    out = job.out("plink2")
    options = {"covar": job.covar_path, "chrom": job.chrom, "threads": job.threads}
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    options.update(filter_options(job, out, min_info, max_missing))
    df = run_glm(
        job.genotypes, job.pheno_path, out, job.traits, bim, binary=settings.binary, **options
    )
    dof = (df["N"] - n_covariates - 2).to_numpy(np.float64)  # plink2 --glm: N - c - 2
    df["LOG10P"] = t_mlog10p_per_dof(df["T"].to_numpy(np.float64), dof)
    df[Z_COLUMN] = score_z_from_t(df["T"].to_numpy(np.float64), dof)
    return df.drop(columns="T")
