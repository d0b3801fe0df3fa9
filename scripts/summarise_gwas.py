"""Rule summarise_gwas: lambda GC, independent loci, recovery of the panel loci."""

from gemcont.gwas.settings import rule_settings
from gemcont.gwas.stage import summarise_gwas
from gemcont.io.plink import prefix_of
from gemcont.logs import to_file
from gemcont.panel.clump import clump, plink_clumper
from gemcont.threads import limit_threads

sm = snakemake  # noqa: F821
to_file(sm.log[0])
limit_threads(sm.threads)
settings = rule_settings("summarise_gwas", sm.params.gwas)
bfile = prefix_of(sm.input.bed[0])
if sm.params.clump_engine == "plink1.9":
    clump_fn = plink_clumper(bfile, sm.params.plink1_9, sm.threads)
else:
    clump_fn = clump
summarise_gwas(
    sm.input.multi,
    sm.input.panel,
    bfile,
    {name: sm.output[name] for name in ("loci", "recovery", "summary")},
    settings,
    clump_fn,
)
