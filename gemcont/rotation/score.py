"""Scoring of a test embedding: ridge R² of z and the embedding GWAS's recovery of the
causal variants and calibration on the null ones.

* ``r2``: out-of-fold ridge R² of z from the test embedding (``r2_genetic``: of the
  genetic part std(Gβ));
* ``recovery``: fraction of causal variants with multi-trait p < ``p_threshold`` in the
  embedding GWAS of the test people (top ``n_components`` PCs, rank-inverse-normal,
  the built-in engine's LRT of METHOD.md); ``recovery_bonferroni`` at 0.05 / n_causal;
* ``null_fp``: null variants with p < ``p_threshold`` (expected 0), ``null_lambda``:
  their median χ² over the χ²_D median (expected 1).

Neither bed_reader nor scikit-learn is imported (the GWAS kernel is called on an
in-memory genotype matrix; the ridge R² is numpy's).
"""

from __future__ import annotations

import math

import numpy as np

from gemcont.rotation.settings import Evaluate


def embedding_gwas(
    emb: np.ndarray, geno: np.ndarray, n_components: int | None, block: int = 512
) -> np.ndarray:
    """Multi-trait -log10 P per variant of the test embedding (samples x D) on ``geno``
    (samples x M): PCA to ``n_components``, rank-inverse-normal, built-in engine
    (intercept only; NaN for monomorphic variants)."""
    from gemcont.gwas.kernel import Backend, null_model, scan_block
    from gemcont.gwas.prepare import pca_scores, rank_inverse_normal

    y = rank_inverse_normal(pca_scores(emb.astype(np.float64), n_components))
    backend = Backend()
    model = null_model(y, np.zeros((len(y), 0)), backend)
    mlog10p = np.full(geno.shape[1], np.nan)
    for start in range(0, geno.shape[1], block):
        cols = np.arange(start, min(start + block, geno.shape[1]))
        keep, _, result = scan_block(geno[:, cols], model, 0.0, 0.0, backend)
        mlog10p[cols[keep]] = result.chisq_mlog10p
    return mlog10p


def score_embedding(
    emb: np.ndarray,
    z: np.ndarray,
    genetic: np.ndarray,
    geno: np.ndarray,
    causal: np.ndarray,
    evaluate: Evaluate,
    seed: int,
) -> dict[str, float]:
    """R² of z (and of its genetic part) and the embedding GWAS's recovery and calibration."""
    from gemcont.evaluate.ridge import ridge_r2
    from gemcont.gwas.loci import lambda_gc

    r2, r2_genetic = ridge_r2(emb, np.column_stack([z, genetic]), seed, evaluate.r2_folds)
    mlog10p = embedding_gwas(emb, geno, evaluate.n_components)
    dof = min(evaluate.n_components or emb.shape[1], emb.shape[1])
    gw = -math.log10(evaluate.p_threshold)
    bonferroni = -math.log10(0.05 / max(int(causal.sum()), 1))
    hits = np.nan_to_num(mlog10p, nan=0.0)
    null = ~causal
    return {
        "r2": float(r2),
        "r2_genetic": float(r2_genetic),
        "recovery": float((hits[causal] > gw).mean()),
        "recovery_bonferroni": float((hits[causal] > bonferroni).mean()),
        "null_fp": int((hits[null] > gw).sum()),
        "null_lambda": lambda_gc(10.0 ** -mlog10p[null], dof) if null.any() else float("nan"),
    }
