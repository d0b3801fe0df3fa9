"""GWAS engines: the built-in streaming scan (numpy and torch pipelines) and the
wrappers of the external tools (plink2, REGENIE). Each writes the sumstats scheme of
:mod:`gemcont.io.sumstats` through :mod:`gemcont.gwas.stage`."""
