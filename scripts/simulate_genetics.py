"""Rule simulate_genetics: genotypes, covariates, disease, truth and external GWAS."""

from pathlib import Path

from gemcont.logs import to_file
from gemcont.simulate.cohort import GeneticsPaths, simulate_genetics

sm = snakemake  # noqa: F821
to_file(sm.log[0])
out = sm.output
paths = GeneticsPaths(
    bfile=str(Path(out.bed).with_suffix("")),
    covariates=Path(out.covariates),
    disease=Path(out.disease),
    sumstats=Path(out.sumstats),
    causal=Path(out.causal),
    latent=Path(out.latent),
    summary=Path(out.summary),
)
simulate_genetics(sm.params.simulate, paths, threads=sm.threads)
