"""Rule simulate_genetics: genotypes, covariates, disease, truth and external GWAS."""

from pathlib import Path

from gemcont.logs import to_file
from gemcont.settings import build
from gemcont.simulate.cohort import GeneticsPaths, simulate_genetics
from gemcont.simulate.settings import SimulateSettings
from gemcont.threads import limit_threads

sm = snakemake  # noqa: F821
to_file(sm.log[0])
limit_threads(sm.threads)
settings = build(SimulateSettings, sm.params.simulate, "simulate")
out = sm.output
paths = GeneticsPaths(
    bfile=str(Path(out.bed).with_suffix("")),
    covariates=Path(out.covariates),
    disease=Path(out.disease),
    sumstats=Path(out.sumstats),
    causal=Path(out.causal),
    latent=Path(out.latent),
    summary=Path(out.summary),
    more_sumstats=tuple(Path(p) for p in out.more_sumstats),
)
simulate_genetics(settings, paths, threads=sm.threads)
