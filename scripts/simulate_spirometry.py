"""Rule simulate_spirometry: field-3066 blows, FEV1/FVC marker, flow-volume plot."""

from pathlib import Path

from gemcont.logs import to_file
from gemcont.settings import build
from gemcont.simulate.phenotypes import people_table, simulate_spirometry_files
from gemcont.simulate.settings import SimulateSettings
from gemcont.threads import limit_threads

sm = snakemake  # noqa: F821
to_file(sm.log[0])
limit_threads(sm.threads)
settings = build(SimulateSettings, sm.params.simulate, "simulate")
people = people_table(Path(sm.input.covariates), Path(sm.input.latent))
simulate_spirometry_files(
    people,
    settings,
    table=Path(sm.output.table),
    markers=Path(sm.output.markers),
    plot=Path(sm.output.plot),
)
