"""GWAS on embeddings: phenotype preparation, the built-in engine, the multi-trait test."""
