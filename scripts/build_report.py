"""Rule build_report: the standalone HTML report of the run."""

from pathlib import Path

from gemcont.logs import to_file
from gemcont.report.stage import report

sm = snakemake  # noqa: F821
to_file(sm.log[0])
single = [
    "metrics", "comparison", "splits", "dropped", "panel", "coverage", "phenotype_exclusions",
    "features_report", "loci", "methods_figure", "training_figure", "pca_figure",
    "violin_figure", "truth_summary",
]  # fmt: skip
paths = {name: Path(sm.input[name]) if name in sm.input.keys() else None for name in single}
gwas = {
    method: {"manhattan": Path(man), "qq": Path(qq)}
    for method, man, qq in zip(sm.params.methods, sm.input.manhattan, sm.input.qq, strict=True)
}
qc = [Path(p) for p in sm.input.get("qc_images", [])]
report(sm.params.config, paths, gwas, qc, Path(sm.output.html))
