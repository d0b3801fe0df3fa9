"""Rule simulate_fundus: fundus photographs, manifest, cup-to-disc marker, contact sheet."""

from pathlib import Path

from gemcont.logs import to_file
from gemcont.settings import build
from gemcont.simulate.phenotypes import people_table, simulate_fundus_files
from gemcont.simulate.settings import SimulateSettings
from gemcont.threads import limit_threads

sm = snakemake  # noqa: F821
to_file(sm.log[0])
limit_threads(sm.threads)
settings = build(SimulateSettings, sm.params.simulate, "simulate")
people = people_table(Path(sm.input.covariates), Path(sm.input.latent))
simulate_fundus_files(
    people,
    settings,
    manifest=Path(sm.output.manifest),
    markers=Path(sm.output.markers),
    sheet=Path(sm.output.sheet),
    threads=sm.threads,
)
