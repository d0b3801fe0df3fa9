"""Rule gwas_chromosome: one chromosome (or one chunk of it) of every method's embedding
GWAS of a split, in one scan of gwas.genotypes with the configured engine."""

from pathlib import Path

from gemcont.gwas.genotypes import Chunk, GwasGenotypes
from gemcont.gwas.joint import MethodGwas, read_step1_manifest
from gemcont.gwas.settings import rule_settings
from gemcont.gwas.stage import run_split_chromosome
from gemcont.logs import to_file
from gemcont.threads import limit_threads

sm = snakemake  # noqa: F821
to_file(sm.log[0])
limit_threads(sm.threads)
settings = rule_settings("gwas_chromosome", sm.params.gwas)
files = zip(
    sm.params.methods,
    sm.input.pheno,
    sm.input.covar,
    sm.input.corr,
    sm.output.per_dim,
    sm.output.multi,
    sm.output.qc,
    strict=True,
)
methods = [
    MethodGwas(method, Path(pheno), Path(covar), Path(corr), (Path(per_dim), Path(multi)), Path(qc))
    for method, pheno, covar, corr, per_dim, multi, qc in files
]
chunk = sm.wildcards.get("chunk")
run_split_chromosome(
    settings,
    GwasGenotypes.configured(settings.genotypes, sm.params.bfile),
    methods,
    sm.wildcards.chrom,
    sm.threads,
    Path(sm.output.work),
    read_step1_manifest(sm.input.step1) if sm.input.get("step1") else None,
    None if chunk is None else Chunk(int(chunk), sm.params.n_chunks),
)
