"""Rule simulate_fundus: fundus photographs, manifest, cup-to-disc marker, contact sheet."""

from pathlib import Path

from gemcont.logs import to_file
from gemcont.simulate.phenotypes import people_table, simulate_fundus_files

sm = snakemake  # noqa: F821
to_file(sm.log[0])
people = people_table(Path(sm.input.covariates), Path(sm.input.latent))
simulate_fundus_files(
    people,
    sm.params.simulate,
    manifest=Path(sm.output.manifest),
    markers=Path(sm.output.markers),
    sheet=Path(sm.output.sheet),
    threads=sm.threads,
)
