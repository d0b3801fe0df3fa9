"""Rule prepare_gwas: held-out embedding phenotypes, covariates and their correlation."""

from pathlib import Path

from gemcont.gwas.inputs import build_gwas_inputs
from gemcont.gwas.settings import rule_settings
from gemcont.logs import to_file
from gemcont.threads import limit_threads

sm = snakemake  # noqa: F821
to_file(sm.log[0])
limit_threads(sm.threads)
settings = rule_settings("prepare_gwas", sm.params.gwas)
build_gwas_inputs(
    Path(sm.input.embeddings),
    sm.input.covariates,
    sm.input.pcs,
    sm.input.fam,
    settings.covariates,
    settings.n_components,
    {name: Path(sm.output[name]) for name in ("pheno", "covar", "corr")},
)
