"""Neural networks and losses: genetic and phenotype encoders, GEMCONT and baselines."""
