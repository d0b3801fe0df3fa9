"""Rule export_embeddings: e_p for every analysed person, held-out people flagged."""

from pathlib import Path

from gemcont.logs import to_file
from gemcont.settings import build
from gemcont.threads import limit_threads
from gemcont.train.config import TrainSettings
from gemcont.train.stage import export_stage, stage_inputs

sm = snakemake  # noqa: F821
to_file(sm.log[0])
limit_threads(sm.threads)
export_stage(
    sm.wildcards.method,
    int(sm.wildcards.split),
    stage_inputs(sm.input),
    build(TrainSettings, sm.params.train, "train"),
    sm.params.modality,
    sm.params.clinical_column,
    Path(sm.output.embeddings),
)
