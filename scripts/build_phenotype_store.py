"""Rule build_phenotype_store: images or curves -> fixed-size uint8 store + QC exclusions."""

from pathlib import Path

from gemcont.logs import to_file
from gemcont.phenotypes.build import PhenotypeSettings, build_store
from gemcont.settings import build
from gemcont.threads import limit_threads

sm = snakemake  # noqa: F821
to_file(sm.log[0])
limit_threads(sm.threads)
build_store(
    sm.params.modality,
    sm.input.source,
    build(PhenotypeSettings, sm.params.phenotypes, "phenotypes"),
    sm.input.fam,
    Path(sm.output.images).parent,
    sm.threads,
    sm.input.get("exclude") or None,
)
