"""Rule train_model: one method on one split's training people (an interrupted job
resumes from the per-epoch state in params.state, which is not a Snakemake output)."""

from pathlib import Path

from gemcont.logs import to_file
from gemcont.settings import build
from gemcont.threads import limit_threads
from gemcont.train.config import TrainSettings
from gemcont.train.stage import stage_inputs, train_stage

sm = snakemake  # noqa: F821
to_file(sm.log[0])
limit_threads(sm.threads)
train_stage(
    sm.wildcards.method,
    int(sm.wildcards.split),
    stage_inputs(sm.input),
    build(TrainSettings, sm.params.train, "train"),
    sm.params.modality,
    Path(sm.output.checkpoint),
    Path(sm.output.metrics),
    Path(sm.output.hparams),
    Path(sm.params.state),
)
