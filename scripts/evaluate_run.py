"""Rule evaluate_run: risk prediction, GWAS recovery and (simulation) truth metrics.

Risk is predicted from the embedding alone (no covariates)."""

from gemcont.evaluate.collect import EvaluateSettings, evaluate_run, write_metrics
from gemcont.logs import to_file
from gemcont.settings import build
from gemcont.threads import limit_threads

sm = snakemake  # noqa: F821
to_file(sm.log[0])
limit_threads(sm.threads)
settings = build(EvaluateSettings, sm.params.evaluate, "evaluate")
truth = list(sm.input.truth)
metrics = evaluate_run(
    sm.wildcards.method,
    int(sm.wildcards.split),
    settings,
    sm.params.seed,
    embeddings=sm.input.embeddings,
    disease=sm.input.disease,
    gwas_summary=sm.input.gwas_summary,
    gwas_loci=sm.input.gwas_loci,
    latent_traits=truth[0] if truth else None,
    causal_variants=truth[1] if truth else None,
    scores_out=sm.output.scores,
)
write_metrics(metrics, sm.output.metrics)
