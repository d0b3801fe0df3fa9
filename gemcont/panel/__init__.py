"""Variant panel: harmonise external GWAS sumstats to the cohort, then LD-clump."""
