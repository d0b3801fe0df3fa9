"""Rule export_embeddings: e_p for every analysed person, held-out people flagged."""

from pathlib import Path

import torch

from gemcont.logs import to_file
from gemcont.train.stage import export_stage, stage_inputs

sm = snakemake  # noqa: F821
to_file(sm.log[0])
torch.set_num_threads(sm.threads)
inputs = stage_inputs(sm.input)
export_stage(
    sm.wildcards.method,
    int(sm.wildcards.split),
    inputs,
    sm.params.train,
    sm.params.modality,
    sm.params.clinical_column,
    Path(sm.output.embeddings),
)
