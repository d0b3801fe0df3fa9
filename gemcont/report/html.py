"""A standalone HTML report: configuration, cohort, panel, method comparison, figures.

:func:`build_report` writes one ``index.html`` (inline CSS, no external resources)
and copies every figure PNG into ``figures/`` beside it, referenced relatively, so
the folder can be zipped and opened anywhere. Required inputs that are missing
raise :class:`gemcont.errors.InputError`; optional ones are skipped with a note.
"""

from __future__ import annotations

import html
import json
import math
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from gemcont.errors import InputError
from gemcont.io.ids import join_summary
from gemcont.io.panel import read_panel
from gemcont.plots.figures import method_label, metric_summary, ordered_methods


@dataclass(frozen=True)
class ReportInputs:
    """What the report reads. ``config`` is the resolved run configuration; the rest
    are paths. The first five paths are required; ``None`` (or an empty mapping)
    marks an optional input as not produced by this run."""

    config: Mapping[str, Any]
    metrics: Path
    splits: Path
    dropped: Path
    panel: Path
    coverage: Path
    comparison: Path | None = None
    phenotype_exclusions: Path | None = None
    features_report: Path | None = None
    truth_summary: Path | None = None
    loci: Path | None = None
    methods_figure: Path | None = None
    training_figure: Path | None = None
    pca_figure: Path | None = None
    violin_figure: Path | None = None
    manhattan: Mapping[str, Path] = field(default_factory=dict)
    qq: Mapping[str, Path] = field(default_factory=dict)
    qc_images: Sequence[Path] = ()


REQUIRED = {
    "metrics": "run the evaluate stage (snakemake evaluate) first",
    "splits": "run the splits stage (snakemake make_splits) first",
    "dropped": "run the splits stage (snakemake make_splits) first",
    "panel": "run the panel stage (snakemake build_panel) first",
    "coverage": "run the panel stage (snakemake build_panel) first",
}
KEY_SETTINGS = (
    "data.modality",
    "data.clinical_marker_column",
    "simulate.enabled",
    "simulate.n_people",
    "splits.n_splits",
    "splits.train_fraction",
    "panel.p_threshold",
    "panel.clump_r2",
    "panel.clump_kb",
    "train.epochs",
    "train.batch_size",
    "train.lr",
    "train.temperature",
    "train.latent",
    "gwas.engine",
    "gwas.n_components",
    "gwas.p_threshold",
)
METRIC_GROUPS = (
    ("Risk prediction", re.compile(r"^(auc|auprc)_")),
    ("Genetic discovery (embedding GWAS)", re.compile(r"^gwas_")),
    ("Simulation ground truth", re.compile(r"^r2_")),
)
METRIC_LABELS = {
    "auc_assessment": "AUC, assessment",
    "auprc_assessment": "AUPRC, assessment",
    "auc_incident_5y": "AUC, within 5 y",
    "auprc_incident_5y": "AUPRC, within 5 y",
    "gwas_lambda_gc": "λGC",
    "gwas_n_loci": "loci",
    "gwas_n_new": "new loci",
    "gwas_recovery_gw": "recovered (p < 5e-8)",
    "gwas_recovery_bonferroni": "recovered (Bonferroni)",
    "gwas_power_mediated": "power, mediated variants",
    "gwas_false_discoveries": "false discoveries",
}
R2_METRIC = re.compile(r"^r2_latent_(\d+)(_genetic)?$")
COUNT_METRICS = {"gwas_n_loci", "gwas_n_new", "gwas_false_discoveries"}
OUTCOME_LABELS = {"disease_at_assessment": "at assessment", "incident_5y": "within 5 years"}
MISSING = "–"
CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2733;
margin:0;background:#f6f7f9}
main{max-width:1180px;margin:0 auto;padding:24px 32px 64px;background:#fff}
h1{font-size:26px;margin:8px 0 4px}h2{font-size:20px;margin:40px 0 8px;padding-bottom:4px;
border-bottom:2px solid #1b3a5c}h3{font-size:16px;margin:24px 0 6px;color:#1b3a5c}
nav{font-size:14px;margin:8px 0 16px}nav a{margin-right:14px;color:#1b3a5c}
table{border-collapse:collapse;margin:8px 0 16px;font-size:13.5px}
th,td{padding:4px 10px;border-bottom:1px solid #e3e6ea;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600}tbody tr:nth-child(even){background:#fafbfc}
td:first-child{white-space:nowrap}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.highlight td{font-weight:600}
.note{color:#6b5a1e;background:#fdf6e3;border-left:3px solid #e0b341;padding:6px 10px;
font-size:14px}.muted{color:#5f6b7a;font-size:14px}
figure{margin:12px 0 24px}figure img{max-width:100%;border:1px solid #e3e6ea}
figcaption{font-size:13.5px;color:#5f6b7a;margin-top:4px}
.row{display:flex;gap:16px;align-items:flex-start}.row figure{flex:1 1 0;min-width:0}
.row figure.narrow{flex:0 0 36%}details pre{background:#f3f4f6;padding:12px;font-size:12.5px;
overflow:auto}
"""


class Html(str):
    """Text that is already HTML: inserted into tables without escaping."""


class Num(Html):
    """Already formatted numbers (HTML): right-aligned like plain numbers."""


@dataclass(frozen=True)
class Section:
    """One titled part of the page."""

    anchor: str
    title: str
    body: str


def fmt(value: Any, decimals: int = 3) -> str:
    """A cell value as HTML: thousands separators, p-values as a×10^b, '–' for NA."""
    if isinstance(value, Html):
        return value
    if value is None or (isinstance(value, float | np.floating) and not math.isfinite(value)):
        return MISSING
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        return _fmt_float(float(value), decimals)
    return html.escape(str(value))


def _fmt_float(value: float, decimals: int) -> str:
    if value != 0 and abs(value) < 10.0**-decimals:
        mantissa, exponent = f"{value:.1e}".split("e")
        return f"{mantissa}×10<sup>{int(exponent)}</sup>".replace("-", "−")
    text = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.{decimals}f}"
    return text.replace("-", "−")


def mean_sd(mean: float, sd: float, n: int, decimals: int = 3) -> Num:
    """'mean ± sd' (just the mean when there is one split)."""
    text = f"{mean:.{decimals}f}".replace("-", "−")
    return Num(text if n < 2 else f"{text} ± {sd:.{decimals}f}")


def table_html(df: pd.DataFrame, highlight: Iterable[int] = ()) -> str:
    """A table; numbers formatted and right-aligned, strings escaped, rows highlighted."""
    marked = set(highlight)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = []
    for i, values in enumerate(df.itertuples(index=False)):
        cells = "".join(_cell(v) for v in values)
        cls = ' class="highlight"' if i in marked else ""
        rows.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _cell(value: Any) -> str:
    numeric = isinstance(value, Num | int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )
    return f'<td class="num">{fmt(value)}</td>' if numeric else f"<td>{fmt(value)}</td>"


def note(text: str) -> str:
    """A highlighted remark, e.g. why a part is absent."""
    return f'<p class="note">{html.escape(text)}</p>'


def _present(path: Path | None) -> bool:
    return path is not None and Path(path).exists()


def _absent(what: str, path: Path | None) -> str:
    """The note for an optional input that is missing."""
    if path is None:
        return note(f"No {what} for this run (not produced or not applicable).")
    return note(f"No {what}: {path} not found.")


def _read_tsv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype={"FID": str, "IID": str, "CHR": str})


def check_required(inputs: ReportInputs) -> None:
    """Raise InputError naming the first missing required input and how to make it."""
    for name, fix in REQUIRED.items():
        path = getattr(inputs, name)
        if not Path(path).exists():
            raise InputError(path, f"required report input '{name}' is missing", fix)


def _lookup(config: Mapping[str, Any], dotted: str) -> Any:
    value: Any = config
    for key in dotted.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def config_section(config: Mapping[str, Any]) -> Section:
    """Methods, the key settings and the full resolved configuration (collapsed)."""
    methods = ", ".join(method_label(m) for m in config.get("methods", [])) or MISSING
    rows = [("methods", methods)] + [
        (key, _setting(v)) for key in KEY_SETTINGS if (v := _lookup(config, key)) is not None
    ]
    plain = json.loads(json.dumps(config, default=str))  # Paths etc. as text
    full = html.escape(yaml.safe_dump(plain, sort_keys=False, default_flow_style=None))
    body = (
        table_html(pd.DataFrame(rows, columns=["setting", "value"]))
        + f"<details><summary>Full resolved configuration</summary><pre>{full}</pre></details>"
    )
    return Section("config", "Run configuration", body)


def _setting(value: Any) -> Html:
    """A setting as left-aligned text: lists joined, booleans as yes/no."""
    if isinstance(value, list):
        return Html(html.escape(", ".join(map(str, value))))
    return Html(fmt(value) if isinstance(value, bool) else html.escape(str(value)))


def split_counts(splits: pd.DataFrame) -> pd.DataFrame:
    """People in training and held-out per split."""
    columns = [c for c in splits.columns if c.startswith("split_")]
    rows = [
        (
            int(c.removeprefix("split_")),
            int((splits[c] == "train").sum()),
            int((splits[c] == "heldout").sum()),
        )
        for c in columns
    ]
    return pd.DataFrame(rows, columns=["split", "train", "held-out"])


def cohort_section(inputs: ReportInputs) -> Section:
    """People per join step, the reasons they were dropped, the splits, QC exclusions."""
    splits = _read_tsv(inputs.splits)
    dropped = _read_tsv(inputs.dropped)
    parts = [f"<p><strong>{len(splits):,}</strong> people in the analysed cohort.</p>"]
    if dropped.empty:
        parts.append(
            '<p class="muted">Nobody was dropped when joining genotypes, '
            "phenotypes, disease and covariates.</p>"
        )
    else:
        summary = join_summary(dropped, len(splits))
        parts += ["<h3>Dropped per join step</h3>", table_html(summary)]
    parts += ["<h3>Splits</h3>", table_html(split_counts(splits))]
    parts += ["<h3>Phenotype QC exclusions</h3>", _exclusions(inputs.phenotype_exclusions)]
    return Section("cohort", "Cohort and exclusions", "".join(parts))


def _exclusions(path: Path | None) -> str:
    if not _present(path):
        return _absent("phenotype exclusion table", path)
    table = _read_tsv(path)
    if table.empty:
        return '<p class="muted">No phenotype item was excluded.</p>'
    counts = table.groupby("reason").agg(items=("IID", "size"), people=("IID", "nunique"))
    return table_html(counts.reset_index().sort_values("items", ascending=False))


def panel_section(inputs: ReportInputs) -> Section:
    """Panel size, allele harmonisation statuses and dosage-feature QC."""
    panel = read_panel(inputs.panel)
    coverage = _read_tsv(inputs.coverage)
    coverage["status"] = coverage["status"].str.replace("_", " ")
    if "fraction" in coverage:
        coverage["fraction"] = [Num(f"{f:.1%}") for f in coverage["fraction"]]
    parts = [
        f"<p><strong>{len(panel):,}</strong> independent panel variants on "
        f"{panel['CHR'].nunique()} chromosomes.</p>",
        "<h3>Harmonisation of the disease summary statistics</h3>",
        table_html(coverage),
        "<h3>Panel dosage features</h3>",
        _features(inputs.features_report),
    ]
    return Section("panel", "Variant panel", "".join(parts))


def _features(path: Path | None) -> str:
    if not _present(path):
        return _absent("feature report", path)
    report = _read_tsv(path)
    kept = report["KEPT"].astype(str).str.lower() == "true"
    text = f"<p>{int(kept.sum()):,} of {len(report):,} panel variants kept as features.</p>"
    if kept.all():
        return text
    reasons = report.loc[~kept, "REASON"].fillna("unspecified").value_counts()
    return text + table_html(reasons.rename_axis("reason").reset_index(name="variants"))


def metric_label(metric: str) -> str:
    """Column header of a metric, e.g. r2_latent_1_genetic -> 'R² latent 1, genetic'."""
    if match := R2_METRIC.match(metric):
        return f"R² latent {match.group(1)}" + (", genetic" if match.group(2) else "")
    return METRIC_LABELS.get(metric, metric)


def _metric_order(metrics: Iterable[str]) -> list[str]:
    known = [m for m in METRIC_LABELS if m in set(metrics)]
    return known + sorted(set(metrics) - set(known))


def _group(metric: str) -> str:
    return next((name for name, rx in METRIC_GROUPS if rx.match(metric)), "Other metrics")


def metrics_tables(metrics: pd.DataFrame) -> str:
    """One table per metric group: methods x metrics, mean ± sd over splits."""
    stats = metric_summary(metrics)
    methods = ordered_methods(stats["method"].unique())
    by_group: dict[str, list[str]] = {}
    for metric in _metric_order(stats["metric"].unique()):
        by_group.setdefault(_group(metric), []).append(metric)
    cells = stats.set_index(["method", "metric"])
    splits = stats.groupby("method")["n"].max()
    parts = []
    for group, names in by_group.items():
        rows = []
        for method in methods:
            row = {"method": method_label(method), "splits": int(splits[method])}
            for m in names:
                row[metric_label(m)] = _summary_cell(cells, method, m)
            rows.append(row)
        marked = [i for i, m in enumerate(methods) if m == "gemcont"]
        parts += [f"<h3>{html.escape(group)}</h3>", table_html(pd.DataFrame(rows), marked)]
    return "".join(parts)


def _summary_cell(cells: pd.DataFrame, method: str, metric: str) -> Any:
    if (method, metric) not in cells.index:
        return None
    row = cells.loc[(method, metric)]
    return mean_sd(row["mean"], row["sd"], int(row["n"]), 1 if metric in COUNT_METRICS else 3)


def delong_table(comparison: pd.DataFrame) -> str:
    """Per method and outcome: AUCs, their difference and the DeLong p of every split."""
    rows = []
    for method in ordered_methods(comparison["method"].unique()):
        own = comparison[comparison["method"] == method]
        for outcome, g in own.groupby("outcome", sort=False):
            n = len(g)
            rows.append(
                {
                    "method": method_label(method),
                    "outcome": OUTCOME_LABELS.get(outcome, outcome),
                    "AUC": mean_sd(g["auc"].mean(), g["auc"].std(), n),
                    "reference AUC": mean_sd(g["auc_ref"].mean(), g["auc_ref"].std(), n),
                    "Δ AUC": mean_sd(g["diff"].mean(), g["diff"].std(), n),
                    "DeLong p per split": Num(
                        ", ".join(map(fmt, g.sort_values("split")["p_delong"]))
                    ),
                }
            )
    return table_html(pd.DataFrame(rows))


def comparison_section(inputs: ReportInputs) -> Section:
    """Mean ± sd over splits of every metric, and the DeLong tests against GEMCONT."""
    parts = [
        '<p class="muted">Held-out people only; mean ± sd over splits. '
        "GEMCONT's row is in bold.</p>",
        metrics_tables(_read_tsv(inputs.metrics)),
        "<h3>AUC against GEMCONT (DeLong test)</h3>",
    ]
    if _present(inputs.comparison):
        parts += [
            '<p class="muted">Δ AUC = method − reference (GEMCONT).</p>',
            delong_table(_read_tsv(inputs.comparison)),
        ]
    else:
        parts.append(_absent("DeLong comparison table", inputs.comparison))
    return Section("comparison", "Method comparison", "".join(parts))


class FigureCopier:
    """Copies figure PNGs next to the report and returns their ``<figure>`` markup."""

    def __init__(self, out_dir: Path) -> None:
        self.dir = out_dir / "figures"
        self.used: set[str] = set()

    def figure(self, path: Path | None, caption: str, name: str, narrow: bool = False) -> str:
        """``<figure>`` for ``path`` copied as ``figures/<name>.png``, or a note if absent."""
        if not _present(path):
            return _absent(f"figure '{caption}'", path)
        target = self._unique(re.sub(r"[^A-Za-z0-9_.-]+", "_", name))
        self.dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, self.dir / target)
        cls = ' class="narrow"' if narrow else ""
        alt = html.escape(caption, quote=True)
        return (
            f'<figure{cls}><img src="figures/{target}" alt="{alt}" loading="lazy">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )

    def _unique(self, stem: str) -> str:
        name, i = f"{stem}.png", 1
        while name in self.used:
            i += 1
            name = f"{stem}_{i}.png"
        self.used.add(name)
        return name


def figures_section(inputs: ReportInputs, copier: FigureCopier) -> Section:
    """The paper-style methods figure, training curves and embedding views."""
    body = "".join(
        [
            copier.figure(
                inputs.methods_figure,
                "Genetic recovery, AUC and (simulation) latent "
                "R² per method; bars mean ± sd over splits",
                "methods",
            ),
            copier.figure(
                inputs.training_figure, "Training and validation loss per epoch", "training_curves"
            ),
            '<div class="row">',
            copier.figure(
                inputs.pca_figure, "Held-out GEMCONT embedding, PC1 vs PC2", "pca", narrow=True
            ),
            copier.figure(
                inputs.violin_figure,
                "Embedding PC1 and the clinical marker by disease status (held-out)",
                "marker_violin",
            ),
            "</div>",
        ]
    )
    return Section("figures", "Figures", body)


def gwas_section(inputs: ReportInputs, copier: FigureCopier) -> Section:
    """Manhattan and QQ plots of split 0 per method, then GEMCONT's loci."""
    parts = []
    methods = ordered_methods(list(inputs.manhattan) + list(inputs.qq))
    if not methods:
        parts.append(_absent("embedding GWAS plots", None))
    for method in methods:
        label = method_label(method)
        parts += [
            f"<h3>{html.escape(label)}</h3>",
            '<div class="row">',
            copier.figure(
                inputs.manhattan.get(method),
                f"{label}: Manhattan plot, split 0",
                f"manhattan_{method}",
            ),
            copier.figure(
                inputs.qq.get(method), f"{label}: QQ plot, split 0", f"qq_{method}", narrow=True
            ),
            "</div>",
        ]
    parts += ["<h3>Independent loci, GEMCONT split 0</h3>", _loci(inputs.loci)]
    return Section("gwas", "Embedding GWAS", "".join(parts))


def _loci(path: Path | None) -> str:
    if not _present(path):
        return _absent("loci table", path)
    loci = _read_tsv(path).sort_values("P")
    if loci.empty:
        return '<p class="muted">No locus reached genome-wide significance.</p>'
    shown = pd.DataFrame(
        {
            "lead variant": loci["ID"],
            "CHR": loci["CHR"],
            "POS": loci["POS"].astype(int),
            "P": loci["P"].astype(float),
            "clumped variants": loci["N_CLUMPED"].astype(int),
            "nearest panel variant (kb)": [Num(fmt(kb, 1)) for kb in loci["NEAREST_PANEL_KB"]],
            "status": np.where(loci["NEW"].astype(str).str.lower() == "true", "new", "known"),
        }
    )
    return table_html(shown)


def simulation_section(inputs: ReportInputs, copier: FigureCopier) -> Section | None:
    """The simulated truth and QC images; ``None`` for real data."""
    if not _present(inputs.truth_summary) and not inputs.qc_images:
        return None
    parts = []
    if _present(inputs.truth_summary):
        truth = json.loads(Path(inputs.truth_summary).read_text())
        rows = [
            (k.replace("_", " "), Num(fmt(v))) for k, v in truth.items() if not isinstance(v, dict)
        ]
        parts.append(table_html(pd.DataFrame(rows, columns=["quantity", "value"])))
    for image in inputs.qc_images:
        caption = f"Simulation QC: {Path(image).stem.replace('_', ' ')}"
        parts.append(copier.figure(image, caption, f"qc_{Path(image).stem}"))
    return Section("simulation", "Simulated cohort", "".join(parts))


def render_page(title: str, sections: Sequence[Section]) -> str:
    """The full HTML document with a table of contents."""
    nav = "".join(f'<a href="#{s.anchor}">{html.escape(s.title)}</a>' for s in sections)
    body = "".join(
        f'<section id="{s.anchor}"><h2>{html.escape(s.title)}</h2>{s.body}</section>'
        for s in sections
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body><main>"
        f"<h1>{html.escape(title)}</h1><nav>{nav}</nav>{body}</main></body></html>\n"
    )


def build_report(inputs: ReportInputs, out_html: Path) -> Path:
    """Write the report to ``out_html`` (figures copied to ``figures/`` beside it)."""
    check_required(inputs)
    out_html = Path(out_html)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    copier = FigureCopier(out_html.parent)
    sections = [
        config_section(inputs.config),
        cohort_section(inputs),
        panel_section(inputs),
        comparison_section(inputs),
        figures_section(inputs, copier),
        gwas_section(inputs, copier),
        simulation_section(inputs, copier),
    ]
    modality = _lookup(inputs.config, "data.modality") or "unknown modality"
    page = render_page(f"GEMCONT report: {modality}", [s for s in sections if s])
    tmp = out_html.with_name(f".{out_html.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out_html)
    return out_html
