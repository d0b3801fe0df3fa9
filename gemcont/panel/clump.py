"""LD clumping with PLINK 1.9 ``--clump`` semantics: built in, or by running plink1.9.

Semantics (read from PLINK 1.9 ``clump_reports``, and checked against plink1.9 in
tests/test_panel_clump.py):

- Variants with ``P <= max(p1, p2)`` take part; those with ``P <= p1`` may be index
  variants. Index candidates are visited by increasing P, ties by .bim order.
- A visited candidate that is not yet in a clump becomes an index variant. Every
  not-yet-clumped participant on its chromosome with ``|POS - POS_index| < kb * 1000``
  (PLINK's radius is ``kb * 1000 - 1`` bp) and ``r^2 > r2`` (strictly greater) joins its
  clump and can no longer be an index variant.
- PLINK 1.9 computes r^2 from haplotype frequencies estimated by EM from the two
  variants' unphased genotypes (``r2_method="haplotype"``, the default), counting
  founders only and people called at both variants. ``r2_method="pearson"`` uses
  the squared correlation of mean-imputed dosages instead (faster, and what most
  other tools call r^2); with complete calls under HWE the two are close but can
  fall on different sides of a threshold.
- Each index variant's r^2 is computed against the not-yet-clumped participants of its
  window only, from 3 x 3 genotype tables counted on bit sets of the people (both
  methods): memory 3 bits a genotype, time linear in index variants x candidates.

Known differences from plink1.9: non-founders (.fam parents present) count here;
a secondary variant whose P equals ``p2`` exactly is listed in ``SP2`` here but not
by PLINK (which requires ``P < p2`` to list it, while still removing it).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from gemcont.errors import ConfigError, InputError
from gemcont.io.plink import Genotypes

R2Method = Literal["haplotype", "pearson"]
#: r^2 of a chromosome's participant ``i`` with participants ``near`` (rows of its table)
PairR2 = Callable[[int, np.ndarray], np.ndarray]
CLUMP_COLUMNS = ["ID", "CHR", "POS", "P", "N_CLUMPED", "SP2", "BIM_INDEX"]
NEEDED = ["ID", "CHR", "POS", "P", "BIM_INDEX"]
EM_MAX_ITER = 1000
EM_TOL = 1e-12


def radius_bp(window_kb: float) -> int:
    """PLINK 1.9's clump radius: variants at distance <= this are in the window."""
    return int(round(window_kb * 1000)) - 1


def _check_columns(variants: pd.DataFrame) -> None:
    missing = [c for c in NEEDED if c not in variants.columns]
    if missing:
        raise ValueError(f"clump needs columns {NEEDED}; missing {missing}")


def _participants(variants: pd.DataFrame, p1: float, p2: float) -> pd.DataFrame:
    """Variants with P <= max(p1, p2), in .bim order, with their index-visit rank."""
    _check_columns(variants)
    v = variants[variants["P"] <= max(p1, p2)].copy()
    with np.errstate(divide="ignore"):
        v["LOG10P_KEY"] = v["LOG10P"] if "LOG10P" in v.columns else -np.log10(v["P"])
    v = v.sort_values("BIM_INDEX", kind="stable").reset_index(drop=True)
    eligible = v[v["P"] <= p1].sort_values(
        ["P", "LOG10P_KEY", "BIM_INDEX"], ascending=[True, False, True], kind="stable"
    )
    v["RANK"] = pd.Series(np.arange(len(eligible)), index=eligible.index).reindex(v.index)
    return v


# Genotypes per variant as bit sets over people: 3 bits a genotype instead of the
# int8 (8 bits) or float32 (32 bits) matrix, and a pair's 3 x 3 genotype table is 9
# AND + popcount passes (see benchmarks/README.md, clumping).
BLOCK_BYTES = 1 << 24  # int8 genotypes decoded per read (bounds the decode temporaries)
CHUNK_WORDS = 1 << 18  # 2 MB of words per AND/popcount step: stays in cache


@dataclass(frozen=True)
class _Bits:
    """Variants x words of people bits: A1 count 1, A1 count 2, called."""

    one: np.ndarray
    two: np.ndarray
    called: np.ndarray
    mean: np.ndarray  # A1 count mean over called people (pearson)
    sum_sq: np.ndarray  # sum of squared deviations from it over called people (pearson)


def _n_people(genotypes: Genotypes, samples: np.ndarray | slice | None) -> int:
    everyone = np.arange(genotypes.n_samples)
    return genotypes.n_samples if samples is None else len(everyone[samples])


def _pack(mask: np.ndarray, words: int) -> np.ndarray:
    """Rows of a boolean variants x people mask as rows of ``words`` uint64 words."""
    out = np.zeros((mask.shape[0], words * 8), dtype=np.uint8)
    packed = np.packbits(mask, axis=1, bitorder="little")
    out[:, : packed.shape[1]] = packed
    return out.view(np.uint64)


def _read_bits(
    genotypes: Genotypes, bim_index: np.ndarray, samples: np.ndarray | slice | None
) -> _Bits:
    """Bit sets of ``bim_index``'s variants, decoded a block of variants at a time."""
    n = _n_people(genotypes, samples)
    words = max(1, -(-n // 64))
    one, two, called = (np.zeros((len(bim_index), words), np.uint64) for _ in range(3))
    counts = np.zeros((3, len(bim_index)))  # people with A1 count 0, 1, 2
    block = max(1, BLOCK_BYTES // max(n, 1))
    for lo in range(0, len(bim_index), block):
        rows = slice(lo, lo + block)
        g = np.asarray(genotypes.read(bim_index[rows], samples, dtype="int8")).T
        masks = [g == 0, g == 1, g == 2]
        counts[:, rows] = [m.sum(axis=1) for m in masks]
        one[rows], two[rows] = _pack(masks[1], words), _pack(masks[2], words)
        called[rows] = _pack(masks[0] | masks[1] | masks[2], words)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = (counts[1] + 2 * counts[2]) / counts.sum(axis=0)
    sum_sq = np.nan_to_num(sum(counts[k] * (k - mean) ** 2 for k in range(3)), nan=0.0)
    return _Bits(one, two, called, mean, sum_sq)


def _popcounts(index: np.ndarray, rows: np.ndarray, buffer: np.ndarray) -> np.ndarray:
    """Per row of ``rows``: the number of people set in both it and ``index``."""
    both = np.bitwise_and(rows, index, out=buffer[: len(rows)])
    return np.bitwise_count(both, out=both).sum(axis=1)


def _genotype_table(bits: _Bits, index: int, cols: np.ndarray) -> np.ndarray:
    """3 x 3 x len(cols) counts of (index A1 count, candidate A1 count), both called."""
    words = bits.one.shape[1]
    by_index = [
        bits.called[index] & ~bits.one[index] & ~bits.two[index],
        bits.one[index],
        bits.two[index],
    ]
    table = np.zeros((3, 3, len(cols)), dtype=np.int64)
    step = max(1, CHUNK_WORDS // words)
    buffer = np.empty((min(step, len(cols)), words), np.uint64)
    for lo in range(0, len(cols), step):
        chunk = cols[lo : lo + step]
        part = table[:, :, lo : lo + step]
        for b, candidate in ((1, bits.one[chunk]), (2, bits.two[chunk]), (0, bits.called[chunk])):
            for a, people in enumerate(by_index):
                part[a, b] = _popcounts(people, candidate, buffer)
        part[:, 0] -= part[:, 1] + part[:, 2]  # called minus A1 count 1 or 2 = count 0
    return table


def _haplotype_r2(bits: _Bits, index: int, cols: np.ndarray) -> np.ndarray:
    """r^2 from EM haplotype frequencies, as PLINK 1.9 --clump computes it."""
    n = _genotype_table(bits, index, cols).astype(np.float64)
    k11 = 2 * n[2, 2] + n[2, 1] + n[1, 2]
    k12 = 2 * n[2, 0] + n[2, 1] + n[1, 0]
    k21 = 2 * n[0, 2] + n[1, 2] + n[0, 1]
    k22 = 2 * n[0, 0] + n[1, 0] + n[0, 1]
    het = n[1, 1]
    total = k11 + k12 + k21 + k22 + 2 * het
    with np.errstate(divide="ignore", invalid="ignore"):
        cis = np.full_like(het, 0.5)  # share of double heterozygotes phased 11/22
        for _ in range(EM_MAX_ITER):
            f11, f22 = (k11 + het * cis) / total, (k22 + het * cis) / total
            f12, f21 = (k12 + het * (1 - cis)) / total, (k21 + het * (1 - cis)) / total
            new = np.nan_to_num(f11 * f22 / (f11 * f22 + f12 * f21), nan=0.5)
            converged = np.max(np.abs(new - cis), initial=0.0) < EM_TOL
            cis = new
            if converged:
                break
        f11 = (k11 + het * cis) / total
        p = (k11 + k12 + het) / total
        q = (k11 + k21 + het) / total
        d = f11 - p * q
        r2 = np.nan_to_num(d * d / (p * (1 - p) * q * (1 - q)), nan=0.0)
    return np.minimum(r2, 1.0)  # as _pearson_r2: never above 1 by rounding


def _pearson_r2(bits: _Bits, index: int, cols: np.ndarray) -> np.ndarray:
    """Squared correlation of mean-imputed A1 counts, in float64: imputed calls sit at
    the mean, so only people called at both variants add to the covariance. Capped at 1:
    identical variants round to just above it for some counts, and would then pass a
    clump_r2 of 1 (r^2 > 1 is impossible)."""
    n = _genotype_table(bits, index, cols).astype(np.float64)
    a = np.arange(3.0)[:, None, None] - bits.mean[index]
    b = np.arange(3.0)[None, :, None] - bits.mean[cols]
    cov = (n * a * b).sum(axis=(0, 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = cov * cov / (bits.sum_sq[index] * bits.sum_sq[cols])
    return np.minimum(np.nan_to_num(r2, nan=0.0, posinf=0.0), 1.0)


def _clump_chromosome(
    v: pd.DataFrame, r2_of: PairR2, r2_threshold: float, radius: int
) -> list[tuple[int, list[int]]]:
    """Greedy clumping of one chromosome's participants (rows of ``v``, .bim order).

    r^2 is computed only between each index variant and the not-yet-clumped
    participants of its window: one row of the pair matrix per index variant.
    """
    pos = v["POS"].to_numpy()
    clumped = np.zeros(len(v), dtype=bool)
    clumps = []
    for i in v["RANK"].dropna().sort_values().index:
        if clumped[i]:
            continue
        clumped[i] = True
        near = np.flatnonzero(~clumped & (np.abs(pos - pos[i]) <= radius))
        members = near[r2_of(i, near) > r2_threshold] if len(near) else near
        clumped[members] = True
        clumps.append((i, sorted(members.tolist())))
    return clumps


def _clump_table(v: pd.DataFrame, clumps: list[tuple[int, list[int]]]) -> pd.DataFrame:
    ids = v["ID"].to_numpy()
    rows = [
        {
            **v.loc[i, ["ID", "CHR", "POS", "P", "BIM_INDEX"]].to_dict(),
            "N_CLUMPED": len(members),
            "SP2": ",".join(ids[members]) if members else "NONE",
        }
        for i, members in clumps
    ]
    return pd.DataFrame(rows, columns=CLUMP_COLUMNS)


def clump(
    variants: pd.DataFrame,
    genotypes: Genotypes,
    p_threshold: float = 1e-5,
    r2_threshold: float = 0.05,
    window_kb: float = 5000,
    p2_threshold: float | None = None,
    samples: np.ndarray | slice | None = None,
    r2_method: R2Method = "haplotype",
) -> pd.DataFrame:
    """Greedy LD clumping; returns index variants by increasing P.

    ``variants`` needs ``ID CHR POS P BIM_INDEX`` (``LOG10P`` breaks P ties that
    underflowed to 0). Only participants (``P <= max(p_threshold, p2_threshold)``)
    are read from the .bed, one chromosome at a time. Columns of the result:
    ``ID CHR POS P N_CLUMPED SP2 BIM_INDEX`` (``SP2``: clumped IDs, or ``NONE``).
    """
    r2_of = _pearson_r2 if r2_method == "pearson" else _haplotype_r2

    def chromosome_r2(chrom: pd.DataFrame) -> PairR2:
        bits = _read_bits(genotypes, chrom["BIM_INDEX"].to_numpy(), samples)
        return lambda i, near: r2_of(bits, i, near)

    return greedy_clump(variants, p_threshold, r2_threshold, window_kb, p2_threshold, chromosome_r2)


def greedy_clump(
    variants: pd.DataFrame,
    p_threshold: float,
    r2_threshold: float,
    window_kb: float,
    p2_threshold: float | None,
    chromosome_r2: Callable[[pd.DataFrame], PairR2],
) -> pd.DataFrame:
    """PLINK's greedy clumping (:func:`clump`'s arguments and result) with the LD of
    ``chromosome_r2``: given one chromosome's participants (its table, rows 0..), the
    r^2 of a pair of them. Shared by the hard-call and the dosage engines."""
    p2 = p_threshold if p2_threshold is None else p2_threshold
    v = _participants(variants, p_threshold, p2)
    radius = radius_bp(window_kb)
    tables = []
    for _, chrom in v.groupby("CHR", sort=False):
        if chrom["RANK"].isna().all():
            continue
        chrom = chrom.reset_index(drop=True)
        clumps = _clump_chromosome(chrom, chromosome_r2(chrom), r2_threshold, radius)
        table = _clump_table(chrom, clumps)
        table["RANK"] = chrom.loc[[i for i, _ in clumps], "RANK"].to_numpy()
        tables.append(table)
    if not tables:
        return pd.DataFrame(columns=CLUMP_COLUMNS)
    out = pd.concat(tables).sort_values("RANK").drop(columns="RANK")
    return out.reset_index(drop=True)


def _run_plink(command: list[str], out: Path) -> None:
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    except FileNotFoundError as err:
        raise ConfigError(
            "panel.plink1_9",
            f"'{command[0]}' not found on PATH. Fix: install PLINK 1.9 (Debian: plink1.9), or "
            "set panel.plink1_9 to its path or name (bioconda's plink package, in "
            "envs/gemcont.yaml for --sdm conda, installs it as 'plink')",
        ) from err
    if result.returncode != 0:
        log = Path(f"{out}.log")
        text = log.read_text() if log.exists() else result.stdout + result.stderr
        tail = "\n".join(text.strip().splitlines()[-15:])
        raise RuntimeError(
            f"plink1.9 --clump failed (exit {result.returncode}): {' '.join(command)}\n{tail}"
        )


def read_clumped(path: str | Path, variants: pd.DataFrame) -> pd.DataFrame:
    """Parse a plink1.9 ``.clumped`` file into the :func:`clump` result columns.

    ``N_CLUMPED`` counts the ``SP2`` members; PLINK's ``TOTAL`` also counts clumped
    variants with P >= 0.05 that were in its input but not taking part.
    """
    raw = pd.read_csv(path, sep=r"\s+", dtype={"SNP": str, "CHR": str, "SP2": str})
    if "SNP" not in raw.columns or "SP2" not in raw.columns:
        raise InputError(path, "not a plink1.9 .clumped file", "rerun plink1.9 --clump")
    sp2 = raw["SP2"].str.replace(r"\(\d+\)", "", regex=True)
    out = pd.DataFrame(
        {
            "ID": raw["SNP"],
            "CHR": raw["CHR"],
            "POS": raw["BP"].astype(np.int64),
            "P": raw["P"].astype(float),
            "N_CLUMPED": np.where(sp2 == "NONE", 0, sp2.str.count(",") + 1),
            "SP2": sp2,
        }
    )
    index = variants.drop_duplicates("ID").set_index("ID")["BIM_INDEX"]
    out["BIM_INDEX"] = out["ID"].map(index).to_numpy()
    return out[CLUMP_COLUMNS]


def clump_plink(
    variants: pd.DataFrame,
    bfile: str | Path,
    p_threshold: float = 1e-5,
    r2_threshold: float = 0.05,
    window_kb: float = 5000,
    p2_threshold: float | None = None,
    plink: str = "plink1.9",
    threads: int = 1,
    workdir: str | Path | None = None,
) -> pd.DataFrame:
    """Clump with ``plink1.9 --clump`` on fileset ``bfile``; same result columns as clump.

    ``variants`` IDs must be the .bim IDs. The plink input, log and ``.clumped`` go
    to ``workdir`` (a temporary folder, removed afterwards, when None).
    """
    _check_columns(variants)
    p2 = p_threshold if p2_threshold is None else p2_threshold
    keep_dir = workdir is not None
    work = Path(workdir) if keep_dir else Path(tempfile.mkdtemp(prefix="gemcont_clump_"))
    try:
        work.mkdir(parents=True, exist_ok=True)
        infile, out = work / "clump_input.tsv", work / "clump"
        variants[["ID", "P"]].to_csv(infile, sep="\t", index=False, float_format="%.17g")
        command = [plink, "--bfile", str(bfile), "--clump", str(infile)]
        command += ["--clump-snp-field", "ID", "--clump-field", "P"]
        command += ["--clump-p1", repr(p_threshold), "--clump-p2", repr(p2)]
        command += ["--clump-r2", repr(r2_threshold), "--clump-kb", repr(window_kb)]
        command += ["--threads", str(threads), "--out", str(out)]
        _run_plink(command, out)
        clumped = Path(f"{out}.clumped")
        if not clumped.exists():
            return pd.DataFrame(columns=CLUMP_COLUMNS)
        return read_clumped(clumped, variants)
    finally:
        if not keep_dir:
            shutil.rmtree(work, ignore_errors=True)


def plink_clumper(bfile: str | Path, plink: str = "plink1.9", threads: int = 1):
    """A clump function with :func:`clump`'s call signature that runs plink1.9 on ``bfile``."""

    def run(variants, genotypes, p_threshold, r2_threshold, window_kb, samples=None):
        if samples is not None:
            raise ValueError("plink1.9 clumping uses every person of the fileset")
        return clump_plink(
            variants, bfile, p_threshold, r2_threshold, window_kb, plink=plink, threads=threads
        )

    return run
