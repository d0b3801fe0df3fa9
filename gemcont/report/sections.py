"""The report's sections: configuration, cohort, panel, method comparison, figures,
embedding GWAS and the simulated truth, each as a :class:`Section` of HTML."""

from __future__ import annotations

import html
import json
import re
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from PIL import Image

from gemcont.io.ids import join_summary
from gemcont.io.panel import read_panel
from gemcont.io.splits import HELDOUT, TRAIN, read_splits
from gemcont.phenotypes.store import reason_kind
from gemcont.plots.figures import method_label, metric_summary, ordered_methods
from gemcont.report.cells import (
    MISSING,
    Html,
    Num,
    count_mean_sd,
    fmt,
    mean_sd,
    note,
    table_html,
)
from gemcont.report.inputs import ReportInputs, absent, present, read_tsv

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
COUNT_METRIC = re.compile(r"^(n_.+|gwas_n_loci|gwas_n_new|gwas_false_discoveries)$")
OUTCOME_LABELS = {"disease_at_assessment": "at assessment", "incident_5y": "within 5 years"}
CSS_PX_PER_INCH = 96


@dataclass(frozen=True)
class Section:
    """One titled part of the page."""

    anchor: str
    title: str
    body: str


def lookup(config: Mapping[str, Any], dotted: str) -> Any:
    """The value at a dotted key, e.g. ``train.lr``; ``None`` when absent."""
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
        (key, _setting(v)) for key in KEY_SETTINGS if (v := lookup(config, key)) is not None
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
            int((splits[c] == TRAIN).sum()),
            int((splits[c] == HELDOUT).sum()),
        )
        for c in columns
    ]
    return pd.DataFrame(rows, columns=["split", "train", "held-out"])


def cohort_section(inputs: ReportInputs) -> Section:
    """People per join step, the reasons they were dropped, the splits, QC exclusions."""
    splits = read_splits(inputs.splits)
    dropped = read_tsv(inputs.dropped)
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
    if not present(path):
        return absent("phenotype exclusion table", path)
    table = read_tsv(path)
    if table.empty:
        return '<p class="muted">No phenotype item was excluded.</p>'
    kinds = table.assign(reason=table["reason"].map(reason_kind))
    counts = kinds.groupby("reason").agg(items=("IID", "size"), people=("IID", "nunique"))
    note = '<p class="muted">Each item and its full reason: exclusions.tsv in the store.</p>'
    return table_html(counts.reset_index().sort_values("items", ascending=False)) + note


def panel_section(inputs: ReportInputs) -> Section:
    """Panel size, allele harmonisation statuses and dosage-feature QC."""
    panel = read_panel(inputs.panel)
    coverage = read_tsv(inputs.coverage)
    if "count" in coverage:  # statuses no row had say nothing
        coverage = coverage[coverage["count"] > 0].copy()
    coverage["status"] = coverage["status"].str.replace("_", " ")
    if "fraction" in coverage:
        coverage["fraction"] = [Num(f"{f:.1%}") for f in coverage["fraction"]]
    studies = list(dict.fromkeys(coverage["study"])) if "study" in coverage else []
    scheme = inputs.config.get("panel", {}).get("meta_scheme")
    meta = (
        f"<p>Meta-analysed from {len(studies)} studies ({', '.join(studies)})"
        + (f", panel.meta_scheme {scheme}" if scheme else "")
        + ".</p>"
        if len(studies) > 1
        else ""
    )
    parts = [
        f"<p><strong>{len(panel):,}</strong> independent panel variants on "
        f"{panel['CHR'].nunique()} chromosomes.</p>",
        meta,
        "<h3>Harmonisation of the disease summary statistics</h3>",
        table_html(coverage),
        "<h3>Effect allele checked against the cohort's allele frequencies</h3>",
        _eaf_check(inputs.eaf_check),
        "<h3>Panel dosage features</h3>",
        _features(inputs.features_report),
    ]
    return Section("panel", "Variant panel", "".join(parts))


def _eaf_check(path: Path | None) -> str:
    """Each study's EAF orientation check (panel/eaf_check.py): what was compared, or
    why it could not be (no EAF column: strand-ambiguous variants dropped for it)."""
    if not present(path):
        return absent("effect-allele check table", path)
    checks = read_tsv(path)
    rows = pd.DataFrame(
        {
            "study": checks["study"],
            "variants compared": checks["n_compared"],
            "ambiguous dropped without EAF": checks["n_ambiguous_without_eaf"],
            "outcome": checks["message"],
        }
    )
    unchecked = checks.loc[~checks["checked"].astype(str).str.lower().eq("true"), "study"]
    warn = (
        f"<p><strong>Not checked: {html.escape(', '.join(unchecked))}</strong>: a swapped "
        "effect allele in these files would flip every BETA sign unseen.</p>"
        if len(unchecked)
        else ""
    )
    return warn + table_html(rows)


def _features(path: Path | None) -> str:
    if not present(path):
        return absent("feature report", path)
    report = read_tsv(path)
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


def not_estimable(metrics: pd.DataFrame) -> pd.DataFrame:
    """The metric rows that are NA with a reason (``note``): method split metric note."""
    if "note" not in metrics.columns:
        return pd.DataFrame(columns=["method", "split", "metric", "note"])
    notes = metrics["note"].astype(object).fillna("").astype(str)
    rows = metrics[metrics["value"].isna() & (notes != "")]
    return rows[["method", "split", "metric", "note"]].reset_index(drop=True)


def not_estimable_table(metrics: pd.DataFrame) -> str:
    """The NA metrics and why (empty when every metric was estimated)."""
    rows = not_estimable(metrics)
    if rows.empty:
        return ""
    shown = pd.DataFrame(
        {
            "method": [method_label(m) for m in rows["method"]],
            "split": rows["split"].astype(int),
            "metric": [metric_label(m) for m in rows["metric"]],
            "reason": rows["note"],
        }
    )
    return "<h3>Metrics not estimable (NA)</h3>" + table_html(shown)


def metrics_tables(metrics: pd.DataFrame) -> str:
    """One table per metric group: methods x metrics, mean ± sd over the splits where
    the metric was estimable ("NA" where it was in none; the reasons follow)."""
    stats = metric_summary(metrics)
    na = not_estimable(metrics)
    if len(na):  # metrics NA in every split still get a column, shown as NA
        missing = na.groupby(["method", "metric"]).size().rename("n").reset_index()
        missing = missing.assign(mean=np.nan, sd=np.nan, n=0)
        known = pd.MultiIndex.from_frame(stats[["method", "metric"]])
        missing = missing[~pd.MultiIndex.from_frame(missing[["method", "metric"]]).isin(known)]
        stats = pd.concat([stats, missing], ignore_index=True)
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
    if int(row["n"]) == 0:
        return "NA"
    if COUNT_METRIC.match(metric):
        return count_mean_sd(row["mean"], row["sd"], int(row["n"]))
    return mean_sd(row["mean"], row["sd"], int(row["n"]))


def delong_table(comparison: pd.DataFrame) -> str:
    """Per method and outcome: AUCs and their difference (mean ± sd over the splits
    where the test was estimable) and the DeLong p of every split."""
    rows = []
    for method in ordered_methods(comparison["method"].unique()):
        own = comparison[comparison["method"] == method]
        for outcome, g in own.groupby("outcome", sort=False):
            n = int(g["auc"].count())  # the splits where the test was estimable
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
                    **({"note": _delong_notes(g)} if "note" in comparison.columns else {}),
                }
            )
    return table_html(pd.DataFrame(rows))


def _delong_notes(group: pd.DataFrame) -> str:
    """Why a split's DeLong test is NA ("split 1: not estimable: ..."), or ""."""
    notes = (
        group.sort_values("split")[["split", "note"]].astype({"note": object}).fillna({"note": ""})
    )
    return "; ".join(f"split {int(s)}: {n}" for s, n in notes.itertuples(index=False) if n)


def comparison_section(inputs: ReportInputs) -> Section:
    """Mean ± sd over splits of every metric, and the DeLong tests against GEMCONT."""
    metrics = read_tsv(inputs.metrics)
    parts = [
        '<p class="muted">Held-out people only; mean ± sd over splits. '
        "GEMCONT's row is in bold.</p>",
        metrics_tables(metrics),
        not_estimable_table(metrics),
        "<h3>AUC against GEMCONT (DeLong test)</h3>",
    ]
    if present(inputs.comparison) and read_tsv(inputs.comparison).empty:
        parts.append(
            note(
                "No DeLong comparison: it needs GEMCONT and at least one other method "
                f"(methods: {', '.join(_methods(inputs))})."
            )
        )
    elif present(inputs.comparison):
        parts += [
            '<p class="muted">Δ AUC = method − reference (GEMCONT).</p>',
            delong_table(read_tsv(inputs.comparison)),
        ]
    else:
        parts.append(absent("DeLong comparison table", inputs.comparison))
    return Section("comparison", "Method comparison", "".join(parts))


def _methods(inputs: ReportInputs) -> list[str]:
    """The run's configured methods (GEMCONT when the config does not say)."""
    return list(inputs.config.get("methods") or ["gemcont"])


def report_method(methods: list[str]) -> str:
    """The method whose loci the report shows: GEMCONT, else the first configured
    (as ``REPORT_METHOD`` in workflow/rules/evaluate.smk)."""
    return "gemcont" if "gemcont" in methods else methods[0]


def display_width(path: Path) -> int | None:
    """The CSS width (px) that shows a PNG at its printed size (its dpi), so that every
    figure's type appears at the same size; ``None`` when the PNG records no dpi."""
    with Image.open(path) as image:
        dpi = image.info.get("dpi")
        if not dpi or not dpi[0]:
            return None
        return round(image.width / float(dpi[0]) * CSS_PX_PER_INCH)


class FigureCopier:
    """Copies figure PNGs next to the report and returns their ``<figure>`` markup."""

    def __init__(self, out_dir: Path) -> None:
        self.dir = out_dir / "figures"
        self.used: set[str] = set()

    def figure(self, path: Path | None, caption: str, name: str, narrow: bool = False) -> str:
        """``<figure>`` for ``path`` copied as ``figures/<name>.png``, or a note if absent."""
        if not present(path):
            return absent(f"figure '{caption}'", path)
        target = self._unique(re.sub(r"[^A-Za-z0-9_.-]+", "_", name))
        self.dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, self.dir / target)
        cls = ' class="narrow"' if narrow else ""
        alt = html.escape(caption, quote=True)
        width = display_width(path)
        size = f' width="{width}"' if width else ""
        return (
            f'<figure{cls}><img src="figures/{target}"{size} alt="{alt}" loading="lazy">'
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
                inputs.pca_figure,
                f"Held-out {method_label(_methods(inputs)[0])} embedding, PC1 vs PC2",
                "pca",
                narrow=True,
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
        parts.append(absent("embedding GWAS plots", None))
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
    loci_method = html.escape(method_label(report_method(_methods(inputs))))
    parts += [f"<h3>Independent loci, {loci_method} split 0</h3>", _loci(inputs.loci)]
    parts += [f"<h3>Variant QC, {loci_method} split 0</h3>", _variant_qc(inputs.variant_qc)]
    return Section("gwas", "Embedding GWAS", "".join(parts))


# variant_qc.tsv (gemcont.gwas.stage.QC_COLUMNS) as the report labels it
VARIANT_QC_LABELS = {
    "CHR": "CHR",
    "SCANNED": "scanned",
    "MFI_INFO": "mfi INFO",
    "MISSING": "missingness",
    "INFO": "INFO (MaCH r²)",
    "MAF_MAC": "MAF/MAC",
    "UNTESTED": "untested",
    "KEPT": "tested",
}


def _variant_qc(path: Path | None) -> str:
    """Per chromosome, the variants scanned, dropped per filter and tested, with a total
    row; '–' where the engine filters itself (plink2, REGENIE)."""
    if not present(path):
        return absent("variant QC table", path)
    qc = read_tsv(path)
    counts = list(VARIANT_QC_LABELS)[1:]
    total = {"CHR": "all", **{c: qc[c].sum(min_count=len(qc)) for c in counts}}
    qc = pd.concat([qc, pd.DataFrame([total])], ignore_index=True)
    shown = {"CHR": qc["CHR"].astype(str)}
    for column in counts:  # integers, None ('–') for NA
        shown[column] = [None if pd.isna(v) else int(v) for v in qc[column]]
    table = pd.DataFrame(shown).rename(columns=VARIANT_QC_LABELS)
    return table_html(table, highlight=[len(table) - 1]) + note(
        "Each variant counts under its first failing filter, in column order; "
        "untested: no finite statistic (for plink2 and REGENIE, also the variants their own "
        "missingness and INFO filters left out)."
    )


def _loci(path: Path | None) -> str:
    if not present(path):
        return absent("loci table", path)
    loci = read_tsv(path).sort_values("P")
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
    if not present(inputs.truth_summary) and not inputs.qc_images:
        return None
    parts = []
    if present(inputs.truth_summary):
        truth = json.loads(Path(inputs.truth_summary).read_text())
        rows = [
            (k.replace("_", " "), Num(fmt(v))) for k, v in truth.items() if not isinstance(v, dict)
        ]
        parts.append(table_html(pd.DataFrame(rows, columns=["quantity", "value"])))
    for image in inputs.qc_images:
        caption = f"Simulation QC: {Path(image).stem.replace('_', ' ')}"
        parts.append(copier.figure(image, caption, f"qc_{Path(image).stem}"))
    return Section("simulation", "Simulated cohort", "".join(parts))
