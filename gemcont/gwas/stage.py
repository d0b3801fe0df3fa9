"""The GWAS stage's driver for the workflow's scripts: every engine writes the same files.

Per chromosome, :func:`run_split_chromosome` scans every method of a split in one pass
over the genotypes (:mod:`gemcont.gwas.joint`) and writes per method two gzipped TSVs
in the scheme of :mod:`gemcont.io.sumstats`:

* per dimension (long): ``CHR POS ID EA OA EAF N BETA SE P LOG10P TRAIT``;
* multi-trait: ``CHR POS ID EA OA EAF N CHISQ DF P LOG10P``,

with the same variants in the same (.bim) order, and (with ``MethodGwas.qc``) the
scan's variant QC counts (:data:`QC_COLUMNS`, one row; :func:`merge_variant_qc` gathers
them into the split's ``variant_qc.tsv``). ``builtin`` computes the
multi-trait statistic of METHOD.md natively; for ``plink2`` and ``regenie`` it is the
same T = zᵀR⁻¹z (:func:`gemcont.gwas.multitrait.combine_z`) from each engine's
per-dimension score z (its ``Z`` column; why the score z: :mod:`gemcont.gwas.multitrait`)
and R the correlation of the covariate-residualised phenotypes, ``trait_corr.tsv`` of
:func:`gemcont.gwas.inputs.build_gwas_inputs`. MAF/MAC filters are applied here to
every engine's output (from its EAF and N), so all engines keep the same variants.
Settings come typed (:class:`gemcont.gwas.settings.GwasSettings`), built by the script.
"""

from __future__ import annotations

import gzip
import itertools
import json
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gemcont.errors import ConfigError, InputError
from gemcont.gwas import loci
from gemcont.gwas.engines import plink2, regenie
from gemcont.gwas.engines.builtin import scan_builtin_groups
from gemcont.gwas.engines.job import ChromosomeJob
from gemcont.gwas.genotypes import Chunk, GwasGenotypes, as_genotypes, mfi_low_info, mfi_path
from gemcont.gwas.joint import MethodGwas, ScanGroup, group_phenotype_file, scan_groups
from gemcont.gwas.kernel import QC_KEPT, QC_REASONS, AlleleCounts, maf_filter
from gemcont.gwas.multitrait import Z_COLUMN, combine_z
from gemcont.gwas.prepare import read_correlation
from gemcont.gwas.pvalues import chi2_mlog10p
from gemcont.gwas.settings import GwasSettings, check_engine_filters
from gemcont.io.atomic import atomic_open
from gemcont.io.chromosomes import sort_key
from gemcont.io.ids import KEY
from gemcont.io.panel import read_panel
from gemcont.io.plink import Genotypes
from gemcont.io.sumstats import (
    MULTI_COLUMNS,
    PER_DIM_COLUMNS,
    TRAIT_COLUMN,
    VARIANT_COLUMNS,
    builtin_frames,
    read_multi_trait,
    write_sumstats,
)
from gemcont.io.tables import concat_gzip_tables, write_tsv, write_tsv_lines

log = logging.getLogger(__name__)

VARIANT_KEY = ["ID", "POS", "EA"]
BONFERRONI_ALPHA = 0.05
# A scan's variant QC (gwas.genotypes.mfi with min_info, gwas.max_missing, min_info,
# min_maf/min_mac): variants scanned, then each counted under its first failing filter
# in this order (UNTESTED: no finite statistic), so that SCANNED is the sum of the
# others. plink2 and REGENIE filter missingness and INFO themselves: MISSING and INFO
# are NA there, and the variants absent from the engine's output count as UNTESTED.
QC_COUNTS = {
    "mfi_info": "MFI_INFO",
    "missing": "MISSING",
    "info": "INFO",
    "maf_mac": "MAF_MAC",
    "untested": "UNTESTED",
}
QC_COLUMNS = ["CHR", "SCANNED", *(QC_COUNTS[r] for r in QC_REASONS), "KEPT"]


# --- per-chromosome association ------------------------------------------------------


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
    """Filter an engine's long table and add the multi-trait test T = zᵀR⁻¹z from its
    score z column (``Z``).

    Keeps variants passing MAF/MAC with finite BETA/SE in every trait; all traits
    must list the same variants in the same order.
    """
    by_trait = [per_dim[per_dim[TRAIT_COLUMN] == t].reset_index(drop=True) for t in traits]
    first = by_trait[0]
    for trait, frame in zip(traits, by_trait, strict=True):
        if not frame[VARIANT_KEY].equals(first[VARIANT_KEY]):
            raise ValueError(f"trait {trait} lists other variants than trait {traits[0]}")
    z = np.column_stack([f[Z_COLUMN].to_numpy(np.float64) for f in by_trait])
    wald = np.column_stack([(f["BETA"] / f["SE"]).to_numpy(np.float64) for f in by_trait])
    finite = np.isfinite(z).all(axis=1) & np.isfinite(wald).all(axis=1)
    keep = finite & _passes_filters(first, min_maf, min_mac)
    chisq, _ = combine_z(z[keep], corr.loc[traits, traits].to_numpy())
    mlog10p = chi2_mlog10p(chisq, len(traits))
    multi = first.loc[keep, VARIANT_COLUMNS].reset_index(drop=True)
    multi = multi.assign(CHISQ=chisq, DF=len(traits), P=10.0**-mlog10p, LOG10P=mlog10p)
    long = pd.concat([f.loc[keep] for f in by_trait], ignore_index=True)
    return long, multi


def run_chromosome(
    settings: GwasSettings,
    genotypes: str | Path | GwasGenotypes,
    pheno_path: str | Path,
    covar_path: str | Path | None,
    corr_path: str | Path | None,
    chrom: str,
    out: tuple[str | Path, str | Path],
    threads: int | None,
    workdir: str | Path,
    regenie_pred: str | Path | None = None,
    qc_path: str | Path | None = None,
) -> None:
    """One method's chromosome: :func:`run_split_chromosome` of that method alone
    (regenie_pred: its step 1 predictions; None: --ignore-pred; qc_path: where its
    variant QC counts go, None: not written)."""
    method = MethodGwas(
        "method",
        Path(pheno_path),
        None if covar_path is None else Path(covar_path),
        None if corr_path is None else Path(corr_path),
        (Path(out[0]), Path(out[1])),
        None if qc_path is None else Path(qc_path),
    )
    preds = None if regenie_pred is None else {(method.method,): Path(regenie_pred)}
    run_split_chromosome(settings, genotypes, [method], chrom, threads, workdir, preds)


def run_split_chromosome(
    settings: GwasSettings,
    genotypes: str | Path | GwasGenotypes,
    methods: Sequence[MethodGwas],
    chrom: str,
    threads: int | None,
    workdir: str | Path,
    regenie_preds: Mapping[tuple[str, ...], Path] | None = None,
    chunk: Chunk | None = None,
) -> None:
    """One chromosome for every method of a split with ``settings.engine``: one pass
    over the genotypes per :func:`gemcont.gwas.joint.scan_groups` group (one when the
    methods share their held-out people), each method's (per-dimension, multi-trait)
    TSV.gz written to its ``out``, byte for byte what a scan of it alone writes.

    corr: R of each method's traits (trait_corr.tsv), read by plink2 and REGENIE.
    workdir: created; the external engines' own files go there (the rule deletes it).
    genotypes: what the GWAS scans (a PLINK 1 prefix, or ``gwas.genotypes``).
    regenie_preds: step 1 predictions per group (its methods, in order; None: the
    groups run with --ignore-pred). chunk: only that chunk of ``gwas.chunk_variants``
    variants, checked against the planned chunk count (builtin engine;
    :func:`merge_chunks` joins them).
    """
    engine, chrom, workdir = settings.engine, str(chrom), Path(workdir)
    genotypes = as_genotypes(genotypes)
    if chunk is not None and engine != "builtin":
        raise ConfigError(
            "gwas.chunk_variants",
            f"chunks are scanned by the builtin engine only, not {engine}: set it to 0",
        )
    check_engine_filters(engine, settings.max_missing)
    workdir.mkdir(parents=True, exist_ok=True)  # the rule's temp output, whatever the engine
    groups = scan_groups(methods)
    for k, group in enumerate(groups):
        traits = sum(len(p.columns) - len(KEY) for p in group.phenos)
        log.info(
            "GWAS chromosome %s: engine %s, methods %s, %d traits",
            chrom,
            engine,
            ", ".join(group.methods),
            traits,
        )
        if engine == "builtin":
            scans = scan_builtin_groups(
                genotypes, group.phenos, group.covar, settings, chrom, threads, chunk=chunk
            )
            for member, scan in zip(group.members, scans, strict=True):
                per_dim, multi = builtin_frames(scan)  # a frame per trait, made as written
                _write(member, per_dim, multi, chrom, builtin_qc(chrom, scan.qc))
            continue
        scanned, mfi_ids = _external_qc_inputs(settings, genotypes, chrom)
        pred = None
        if regenie_preds is not None:
            pred = regenie_preds.get(tuple(group.methods))
            if pred is None:
                raise ValueError(
                    f"no REGENIE step 1 predictions for methods {group.methods} "
                    f"(step 1 has {sorted(regenie_preds)}): rerun regenie_step1"
                )
        raw = _external_scan(
            settings, genotypes, group, chrom, threads, workdir / f"group{k}", pred
        )
        raw = raw[~raw["ID"].isin(mfi_ids)] if mfi_ids else raw  # IDs are unique
        for member, names in zip(group.members, group.joint_names(), strict=True):
            if member.corr is None:
                raise ValueError(f"engine {engine} needs the trait correlation (trait_corr.tsv)")
            back = {joint: own for own, joint in names.items()}
            own = raw[raw[TRAIT_COLUMN].isin(back.keys())]
            own = own.assign(**{TRAIT_COLUMN: own[TRAIT_COLUMN].map(back)})
            per_dim, multi = combine_engine_output(
                own, list(names), read_correlation(member.corr), settings.min_maf, settings.min_mac
            )
            first = own[own[TRAIT_COLUMN] == next(iter(back.values()))]
            failing = int((~_passes_filters(first, settings.min_maf, settings.min_mac)).sum())
            qc = engine_qc(chrom, scanned, len(mfi_ids), failing, len(multi))
            _write(member, [per_dim], multi, chrom, qc)


def _external_qc_inputs(
    settings: GwasSettings, genotypes: GwasGenotypes, chrom: str
) -> tuple[int, set[str]]:
    """The variants an external engine scans on ``chrom`` and the IDs of those whose
    mfi INFO is below gwas.min_info (left out of its results; none without an mfi)."""
    if mfi_path(settings.genotypes.mfi, settings.min_info, chrom) is None:
        return genotypes.variant_counts([chrom])[chrom], set()
    variants = genotypes.variants(chrom)
    low = mfi_low_info(settings.genotypes.mfi, settings.min_info, variants)
    return len(variants), set(variants["ID"][low])


def _external_scan(
    settings: GwasSettings,
    genotypes: GwasGenotypes,
    group: ScanGroup,
    chrom: str,
    threads: int | None,
    workdir: Path,
    regenie_pred: Path | None,
) -> pd.DataFrame:
    """plink2 or REGENIE over one group's traits at once (joint trait names)."""
    workdir.mkdir(parents=True, exist_ok=True)
    pheno_path, traits = group_phenotype_file(group, workdir / "pheno.tsv")
    covar_path = group.members[0].covar
    job = ChromosomeJob(genotypes, pheno_path, covar_path, chrom, traits, threads, workdir)
    if settings.engine == "plink2":
        n_covariates = 0 if group.covar is None else group.covar.shape[1] - len(KEY)
        return plink2.per_dim_chromosome(
            job, n_covariates, settings.plink2, settings.min_info, settings.max_missing
        )
    return regenie.per_dim_chromosome(job, settings.regenie, regenie_pred, settings.min_info)


def builtin_qc(chrom: str, codes: np.ndarray) -> pd.DataFrame:
    """The :data:`QC_COLUMNS` row of a built-in scan from its variants'
    :data:`gemcont.gwas.kernel.QC_REASONS` codes."""
    counts = np.bincount(codes, minlength=len(QC_REASONS) + 1)
    row = {"CHR": chrom, "SCANNED": codes.size, "KEPT": counts[QC_KEPT]}
    row.update({QC_COUNTS[r]: counts[k + 1] for k, r in enumerate(QC_REASONS)})
    return _qc_counts(pd.DataFrame([row], columns=QC_COLUMNS))


def engine_qc(chrom: str, scanned: int, mfi: int, maf_mac: int, kept: int) -> pd.DataFrame:
    """The :data:`QC_COLUMNS` row of a plink2 or REGENIE scan: ``scanned`` variants in
    the genotypes, ``mfi`` of them dropped for their mfi INFO, ``maf_mac`` of the rest
    of its output failing MAF/MAC, ``kept`` written; the rest UNTESTED (left out by the
    engine's own missingness and INFO filters, or without finite statistics)."""
    row = {"CHR": chrom, "SCANNED": scanned, "MFI_INFO": mfi, "MISSING": pd.NA, "INFO": pd.NA}
    row.update(MAF_MAC=maf_mac, UNTESTED=scanned - mfi - maf_mac - kept, KEPT=kept)
    return _qc_counts(pd.DataFrame([row], columns=QC_COLUMNS))


def _write(
    member: MethodGwas,
    per_dim: Iterable[pd.DataFrame],
    multi: pd.DataFrame,
    chrom: str,
    qc: pd.DataFrame,
) -> None:
    """One method's chromosome files (and its QC counts, when asked for)."""
    counts = ", ".join(f"{c} {v}" for c, v in qc.iloc[0].items() if c != "CHR")
    log.info("GWAS chromosome %s: %s: variant QC: %s", chrom, member.method, counts)
    log.info("GWAS chromosome %s: %s: %d variants written", chrom, member.method, len(multi))
    write_sumstats((f[PER_DIM_COLUMNS] for f in per_dim), member.out[0], PER_DIM_COLUMNS)
    write_sumstats(multi[MULTI_COLUMNS], member.out[1], MULTI_COLUMNS)
    if member.qc is not None:
        write_tsv(qc, member.qc)


# --- merging -------------------------------------------------------------------------


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
    keyed.sort(key=lambda kp: (kp[0] is None, sort_key(kp[0] or "")))
    concat_gzip_tables([p for _, p in keyed], out)


def merge_chunks(paths: Sequence[str | Path], out: str | Path) -> None:
    """One chromosome's file from its chunks' files (chunk order), byte for byte what
    one scan of the chromosome writes: per-dimension rows regrouped trait by trait (each
    chunk lists its traits one after the other, as the chromosome's file does), then
    written in the same gzip members (:func:`gemcont.io.tables.write_tsv_lines`). The
    rows' text is copied, never re-formatted."""
    with ExitStack() as stack:
        readers = [stack.enter_context(gzip.open(p, "rb")) for p in paths]
        headers = [reader.readline() for reader in readers]
        for path, header in zip(paths, headers, strict=True):
            if header != headers[0]:
                fix = "rerun the chunk's gwas_chromosome job"
                raise InputError(path, f"header differs from {paths[0]}", fix)
        columns = headers[0].decode().rstrip("\n").split("\t")
        if TRAIT_COLUMN not in columns:
            write_tsv_lines(headers[0], [itertools.chain.from_iterable(readers)], out)
            return
        write_tsv_lines(headers[0], _trait_frames(readers, columns.index(TRAIT_COLUMN)), out)


def _trait_frames(readers: list[Any], column: int) -> Iterator[Iterator[bytes]]:
    """Per trait, its lines from every chunk in turn (each chunk trait-major)."""
    ahead = [reader.readline() for reader in readers]  # each chunk's next line
    done: set[bytes] = set()

    def trait(line: bytes) -> bytes:
        return line.rstrip(b"\n").split(b"\t")[column]

    def frame(name: bytes) -> Iterator[bytes]:
        for k, reader in enumerate(readers):
            while ahead[k] and trait(ahead[k]) == name:
                yield ahead[k]
                ahead[k] = reader.readline()

    while any(ahead):
        name = trait(next(line for line in ahead if line))
        if name in done:  # a chunk lists its traits in another order
            raise ValueError(f"trait {name.decode()} appears twice: the chunks disagree")
        done.add(name)
        yield frame(name)


def merge_variant_qc(paths: Sequence[str | Path], out: str | Path, chunks: bool = False) -> None:
    """Gather :data:`QC_COLUMNS` files: a chromosome's chunks summed into its one row
    (``chunks``), or the chromosomes' rows in chromosome order."""
    frames = [read_variant_qc(p) for p in paths]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=QC_COLUMNS)
    if chunks and len(table):
        if table["CHR"].nunique() != 1:
            raise ValueError(f"chunk QC files of several chromosomes: {sorted(set(table['CHR']))}")
        sums = table[QC_COLUMNS[1:]].sum(min_count=len(table))  # NA stays NA
        table = pd.DataFrame([{"CHR": table["CHR"].iloc[0], **sums}], columns=QC_COLUMNS)
    table = table.sort_values("CHR", key=lambda c: c.map(sort_key), kind="stable")
    write_tsv(_qc_counts(table), out)


def read_variant_qc(path: str | Path) -> pd.DataFrame:
    """A :data:`QC_COLUMNS` file (counts as nullable integers; NA where an engine filters
    itself)."""
    table = pd.read_csv(path, sep="\t", dtype={"CHR": str})
    fix = "rerun its gwas_chromosome job"
    if list(table.columns) != QC_COLUMNS:
        raise InputError(path, f"columns {list(table.columns)} are not {QC_COLUMNS}", fix)
    return _qc_counts(table)


def _qc_counts(table: pd.DataFrame) -> pd.DataFrame:
    """A :data:`QC_COLUMNS` table with its counts as nullable integers."""
    return table.astype(dict.fromkeys(QC_COLUMNS[1:], "Int64"))


# --- loci and recovery ---------------------------------------------------------------


def summarise_gwas(
    multi_path: str | Path,
    panel_path: str | Path,
    bfile: str | Path,
    out: dict[str, str | Path],
    settings: GwasSettings,
    clump_fn: loci.ClumpFn,
) -> dict[str, Any]:
    """λGC, independent loci (new vs panel) and panel recovery; writes ``out`` "loci",
    "recovery" (TSVs) and "summary" (JSON)."""
    sumstats = read_multi_trait(multi_path)
    panel = read_panel(panel_path)
    n_dims = int(sumstats["DF"].iloc[0])
    with Genotypes(bfile) as genotypes:
        lead = loci.independent_loci(
            sumstats,
            genotypes.bim,
            clump_fn,
            genotypes,
            p_threshold=settings.p_threshold,
            r2_threshold=settings.clump.r2,
            window_kb=settings.clump.kb,
        )
    window = settings.recovery_window_kb
    found = loci.novel_loci(lead, panel, window)
    recovery = loci.recovery_table(sumstats, panel, window, settings.p_threshold, BONFERRONI_ALPHA)
    counts = loci.recovery_summary(recovery, found)
    summary = {
        "lambda_gc": loci.lambda_gc(sumstats["P"], df=n_dims),
        "n_loci": counts["n_loci"],
        "n_new": counts["n_new_loci"],
        "recovered_gw": counts["recovered_gw"],
        "fraction_recovered_gw": counts["fraction_gw"],
        "recovered_bonferroni": counts["recovered_bonferroni"],
        "fraction_recovered_bonferroni": counts["fraction_bonferroni"],
        "p_threshold": settings.p_threshold,
        "bonferroni_threshold": BONFERRONI_ALPHA / len(panel),
        "S": len(panel),
        "D": n_dims,
        "N": int(sumstats["N"].max()),
    }
    write_tsv(found, out["loci"])
    write_tsv(recovery, out["recovery"])
    with atomic_open(out["summary"], "w") as handle:
        handle.write(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    log.info("GWAS summary: %s", summary)
    return summary
