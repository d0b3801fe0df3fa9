"""GWAS inputs for one method and split: held-out phenotypes, covariates, trait correlation."""

from __future__ import annotations

import logging
from pathlib import Path

from gemcont.errors import InputError
from gemcont.gwas.covariates import gwas_covariates, parse_term, write_covariates
from gemcont.gwas.prepare import prepare_gwas_inputs, write_phenotypes
from gemcont.gwas.stage import write_trait_correlation
from gemcont.io.ids import KEY, dropped_rows, read_keyed_table
from gemcont.io.plink import read_fam

log = logging.getLogger(__name__)


def covariate_columns(spec: dict) -> list[str]:
    """Covariate-table columns named by the ``gwas.covariates`` terms and categoricals."""
    names = [factor.column for term in spec["terms"] for factor in parse_term(term)]
    return list(dict.fromkeys([*names, *spec["categorical"]]))


def build_gwas_inputs(
    embeddings: Path,
    covariates_path: str,
    pcs_path: str,
    fam_path: str,
    spec: dict,
    n_components: int | None,
    out: dict[str, Path],
) -> None:
    """Write pheno.tsv (held-out people, PCA + rank-INT), covar.tsv and trait_corr.tsv."""
    pheno = prepare_gwas_inputs(embeddings, out["pheno"], out["corr"], n_components)
    fam = read_fam(fam_path)
    covariates = read_keyed_table(
        covariates_path, covariate_columns(spec), [], "covariates", fam=fam
    )
    pcs = read_keyed_table(pcs_path, [], [], "pcs", fam=fam)
    dropped = dropped_rows(covariates)
    if len(dropped):
        reasons = dropped["reason"].value_counts().to_dict()
        log.warning("GWAS covariates: %d people dropped: %s", len(dropped), reasons)
    design = gwas_covariates(covariates, pcs, spec)
    keyed = design.set_index(KEY)
    keep = pheno.set_index(KEY).index.isin(keyed.index)
    if not keep.all():
        log.warning("GWAS: %d held-out people lack covariates and are dropped", (~keep).sum())
    pheno = pheno[keep].reset_index(drop=True)
    if len(pheno) < 50:
        raise InputError(
            embeddings,
            f"only {len(pheno)} held-out people have covariates",
            "check data.covariates and gwas.covariates",
        )
    design = keyed.loc[pheno.set_index(KEY).index].reset_index()
    write_phenotypes(pheno, out["pheno"])
    write_covariates(design, out["covar"])
    write_trait_correlation(out["pheno"], out["covar"], out["corr"])
    log.info(
        "GWAS inputs: %d held-out people, %d phenotypes, %d covariate columns",
        len(pheno),
        pheno.shape[1] - 2,
        design.shape[1] - 2,
    )
