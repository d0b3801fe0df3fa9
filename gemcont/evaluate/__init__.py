"""Evaluation of embeddings on held-out people (METHOD.md, Evaluation).

- :mod:`risk`: disease risk prediction (L2 logistic regression, out-of-fold ROC / PR AUC);
- :mod:`compare`: paired comparison of two methods' ROC AUCs (DeLong, paired bootstrap);
- :mod:`truth`: simulation truth (ridge R² of the latent traits, GWAS power);
- :mod:`collect`: one run's long metric table, summaries over splits, method comparisons.
"""
