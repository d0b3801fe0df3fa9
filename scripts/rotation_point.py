"""Rule rotation_point: one (point, method, seed) of the rotation simulation (Fig. 2)."""

from pathlib import Path

from gemcont.logs import to_file
from gemcont.rotation.jobs import Point
from gemcont.rotation.run import run_point
from gemcont.rotation.settings import build_run
from gemcont.rotation.tables import write_rows
from gemcont.threads import limit_threads

sm = snakemake  # noqa: F821
to_file(sm.log[0])
limit_threads(sm.threads)
out = Path(sm.output.metrics)
row = run_point(
    build_run(sm.params.rotation),
    Point(sm.wildcards.axis, sm.wildcards.value),
    sm.wildcards.method,
    int(sm.wildcards.seed),
    out.parent,
)
write_rows([row], out)
