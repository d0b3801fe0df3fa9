"""Rule train_model: one method on one split's training people (resumes when interrupted)."""

from pathlib import Path

import torch

from gemcont.logs import to_file
from gemcont.train.stage import stage_inputs, train_stage

sm = snakemake  # noqa: F821
to_file(sm.log[0])
torch.set_num_threads(sm.threads)
inputs = stage_inputs(sm.input)
train_stage(
    sm.wildcards.method,
    int(sm.wildcards.split),
    inputs,
    sm.params.train,
    sm.params.modality,
    Path(sm.output.checkpoint),
    Path(sm.output.metrics),
    Path(sm.output.hparams),
)
