"""Rule rotation_figure: the Fig. 2 layout (R² and recovery rows; default point, sweeps)."""

from pathlib import Path

import pandas as pd

from gemcont.logs import to_file
from gemcont.plots.rotation import fig_rotation

sm = snakemake  # noqa: F821
to_file(sm.log[0])
summary = pd.read_csv(sm.input.summary, sep="\t")
fig_rotation(summary, sm.params.rotation, Path(sm.output.png).with_suffix(""))
