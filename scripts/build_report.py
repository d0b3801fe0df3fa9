"""Rule build_report: the standalone HTML report of the run.

The rule passes the whole resolved configuration: the report shows it."""

from pathlib import Path

from gemcont.logs import to_file
from gemcont.report.stage import report
from gemcont.threads import limit_threads

sm = snakemake  # noqa: F821
to_file(sm.log[0])
limit_threads(sm.threads)
PER_METHOD = ("manhattan", "qq", "qc_images")
paths = {name: Path(sm.input[name]) for name in sm.input.keys() if name not in PER_METHOD}
gwas = {
    method: {"manhattan": Path(man), "qq": Path(qq)}
    for method, man, qq in zip(sm.params.methods, sm.input.manhattan, sm.input.qq, strict=True)
}
qc = [Path(p) for p in sm.input.get("qc_images", [])]
report(sm.params.config, paths, gwas, qc, Path(sm.output.html))
