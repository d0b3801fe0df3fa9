"""Rule simulate_spirometry: field-3066 blows, FEV1/FVC marker, flow-volume plot."""

from pathlib import Path

from gemcont.logs import to_file
from gemcont.simulate.phenotypes import people_table, simulate_spirometry_files

sm = snakemake  # noqa: F821
to_file(sm.log[0])
people = people_table(Path(sm.input.covariates), Path(sm.input.latent))
simulate_spirometry_files(
    people,
    sm.params.simulate,
    table=Path(sm.output.table),
    markers=Path(sm.output.markers),
    plot=Path(sm.output.plot),
)
