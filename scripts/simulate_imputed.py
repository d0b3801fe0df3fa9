"""Rule simulate_imputed: the cohort as imputed dosages (PGEN, and BGEN per chromosome)."""

from gemcont.io.plink import prefix_of
from gemcont.logs import to_file
from gemcont.settings import build
from gemcont.simulate.imputed import simulate_imputed
from gemcont.simulate.settings import SimulateSettings
from gemcont.threads import limit_threads

sm = snakemake  # noqa: F821
to_file(sm.log[0])
limit_threads(sm.threads)
simulate_imputed(
    build(SimulateSettings, sm.params.simulate, "simulate"),
    prefix_of(sm.input.bed),
    prefix_of(sm.output.pgen[0]),
    sm.params.bgen,
    sm.threads,
)
