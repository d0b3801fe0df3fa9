"""Rule rotation_collect: every run's metrics, and mean +- sd over seeds per setting."""

from gemcont.logs import to_file
from gemcont.rotation.tables import collect
from gemcont.threads import limit_threads

sm = snakemake  # noqa: F821
to_file(sm.log[0])
limit_threads(sm.threads)
collect(sm.input.metrics, sm.output.metrics, sm.output.summary)
