"""One genotype scan per split for every method: which methods can share it, and the
phenotype file an external engine scans them from.

The methods of a split analyse the same held-out people (export writes exactly the
split's people; prepare_gwas drops the same ones, those lacking covariates, from each),
so one pass over the genotypes serves them all. That is checked here, never assumed:
methods share a scan only when their phenotype files list the same FID/IID in the same
order and their covariate files are the same bytes; any other method gets a scan of its
own (logged as a warning), so a method that drops people is never merged silently.
Each method keeps its own files: per-dimension sumstats, and the multi-trait test from
its own dimensions and its own residual correlation.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from gemcont.gwas.engines.regenie import step1
from gemcont.gwas.prepare import phenotype_names, read_phenotypes
from gemcont.gwas.settings import RegenieSettings
from gemcont.io.ids import KEY
from gemcont.io.tables import require_columns, write_tsv

log = logging.getLogger(__name__)

# a method's trait in a shared phenotype file: <method>_<trait> (method names are
# [a-z]+, so the name is unique; results are split back by the group's own mapping)
JOINT_SEPARATOR = "_"


@dataclass(frozen=True)
class MethodGwas:
    """One method's prepared GWAS inputs (prepare_gwas) and one chromosome's outputs
    (per-dimension, multi-trait; qc: its variant QC counts, None: not written); covar
    None: no covariates."""

    method: str
    pheno: Path
    covar: Path | None
    corr: Path | None
    out: tuple[Path, Path]
    qc: Path | None = None


@dataclass(frozen=True)
class ScanGroup:
    """Methods scanned together: their phenotype tables (each method's own trait
    names) and the covariate table they share."""

    members: list[MethodGwas]
    phenos: list[pd.DataFrame]
    covar: pd.DataFrame | None

    @property
    def methods(self) -> list[str]:
        return [m.method for m in self.members]

    def joint_names(self) -> list[dict[str, str]]:
        """Per member, its trait -> the trait's name in the shared phenotype file (its
        own name when the group has one member)."""
        if len(self.members) == 1:
            return [{t: t for t in phenotype_names(self.phenos[0])}]
        return [
            {t: f"{m.method}{JOINT_SEPARATOR}{t}" for t in phenotype_names(p)}
            for m, p in zip(self.members, self.phenos, strict=True)
        ]


def _covar_bytes(path: Path | None) -> bytes | None:
    return None if path is None else Path(path).read_bytes()


def scan_groups(methods: Sequence[MethodGwas]) -> list[ScanGroup]:
    """Methods grouped by identical held-out people (FID IID, in order) and covariate
    file, in the order given; a method differing from the first group gets its own
    group, with a warning naming it."""
    keyed: dict[tuple, list[int]] = {}
    phenos = [read_phenotypes(m.pheno) for m in methods]
    covars = [_covar_bytes(m.covar) for m in methods]
    for i, pheno in enumerate(phenos):
        people = tuple(map(tuple, pheno[KEY].to_numpy()))
        keyed.setdefault((people, covars[i]), []).append(i)
    groups = []
    for members in keyed.values():
        first = methods[members[0]]
        covar = None if first.covar is None else read_phenotypes(first.covar)
        groups.append(ScanGroup([methods[i] for i in members], [phenos[i] for i in members], covar))
    if len(groups) > 1:
        log.warning(
            "GWAS: the methods' held-out people or covariates differ, so they are scanned "
            "in %d passes over the genotypes instead of one: %s",
            len(groups),
            "; ".join(", ".join(g.methods) for g in groups),
        )
    return groups


def group_phenotype_file(group: ScanGroup, path: Path) -> tuple[Path, list[str]]:
    """The phenotype file an external engine scans ``group`` from, and its trait names.

    One member: its own file. Several: their columns side by side under
    :meth:`ScanGroup.joint_names`, copied as text (each value as prepare_gwas wrote
    it), written to ``path``."""
    names = group.joint_names()
    if len(group.members) == 1:
        return Path(group.members[0].pheno), list(names[0].values())
    texts = [
        pd.read_csv(m.pheno, sep=r"\s+", dtype=str).rename(columns=n)
        for m, n in zip(group.members, names, strict=True)
    ]
    joint = pd.concat([texts[0][KEY], *(t.drop(columns=KEY) for t in texts)], axis=1)
    write_tsv(joint, path)
    return path, [name for n in names for name in n.values()]


# --- REGENIE step 1 per group --------------------------------------------------------

STEP1_COLUMNS = ["METHODS", "PRED"]


def regenie_step1_groups(
    bfile: str | Path,
    methods: Sequence[MethodGwas],
    manifest: Path,
    settings: RegenieSettings,
    threads: int | None = None,
    plink2_binary: str | None = None,
) -> None:
    """REGENIE step 1 once per :func:`scan_groups` group (once per split when the
    methods share their people), on the phenotype file step 2 scans the group from and
    the variants that pass ``settings.step1_qc`` among its people (plink2 at
    ``plink2_binary``, None: on PATH);
    ``manifest`` (TSV: METHODS comma-separated, PRED the ``_pred.list`` beside it)
    tells step 2 which predictions are whose."""
    rows = []
    for k, group in enumerate(scan_groups(methods)):
        pheno, _ = group_phenotype_file(group, manifest.with_name(f"group{k}_pheno.tsv"))
        prefix = manifest.with_name(f"group{k}_step1")
        covar = group.members[0].covar
        pred = step1(bfile, pheno, covar, prefix, settings, threads, plink2_binary)
        rows.append({"METHODS": ",".join(group.methods), "PRED": pred.name})
    write_tsv(pd.DataFrame(rows, columns=STEP1_COLUMNS), manifest)


def read_step1_manifest(path: str | Path) -> dict[tuple[str, ...], Path]:
    """The predictions of :func:`regenie_step1_groups`: group methods -> _pred.list."""
    table = pd.read_csv(path, sep="\t", dtype=str)
    require_columns(table, STEP1_COLUMNS, path, "rerun regenie_step1")
    return {
        tuple(row.METHODS.split(",")): Path(path).with_name(row.PRED)
        for row in table.itertuples(index=False)
    }
