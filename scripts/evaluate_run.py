"""Rule evaluate_run: risk prediction, GWAS recovery and (simulation) truth metrics."""

from gemcont.evaluate.collect import evaluate_run, write_metrics
from gemcont.logs import to_file

sm = snakemake  # noqa: F821
to_file(sm.log[0])
truth = list(sm.input.truth)
metrics = evaluate_run(
    sm.wildcards.method,
    int(sm.wildcards.split),
    embeddings=sm.input.embeddings,
    disease=sm.input.disease,
    covariates=None,
    gwas_summary=sm.input.gwas_summary,
    gwas_loci=sm.input.gwas_loci,
    latent_traits=truth[0] if truth else None,
    causal_variants=truth[1] if truth else None,
    cfg=sm.params.config,
    scores_out=sm.output.scores,
)
write_metrics(metrics, sm.output.metrics)
