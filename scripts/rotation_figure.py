"""Rule rotation_figure: the Fig. 2 layout (R² and recovery rows; default point, sweeps)."""

from pathlib import Path

import pandas as pd

from gemcont.logs import to_file
from gemcont.rotation.figure import fig_rotation
from gemcont.rotation.settings import build_run
from gemcont.threads import limit_threads

sm = snakemake  # noqa: F821
to_file(sm.log[0])
limit_threads(sm.threads)
summary = pd.read_csv(sm.input.summary, sep="\t")
fig_rotation(summary, build_run(sm.params.rotation), Path(sm.output.png).with_suffix(""))
