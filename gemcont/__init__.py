"""GEMCONT: genetics-guided contrastive embeddings of high-content phenotypes."""

__version__ = "0.1.0"
