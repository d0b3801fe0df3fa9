"""A standalone HTML report: configuration, cohort, panel, method comparison, figures.

:func:`build_report` writes one ``index.html`` (inline CSS, no external resources)
and copies every figure PNG into ``figures/`` beside it, referenced relatively, so
the folder can be zipped and opened anywhere. Required inputs that are missing
raise :class:`gemcont.errors.InputError`; optional ones are skipped with a note.
The sections are built in :mod:`gemcont.report.sections`, their cells in
:mod:`gemcont.report.cells`.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from gemcont.io.atomic import atomic_open
from gemcont.report.inputs import ReportInputs, check_required
from gemcont.report.sections import (
    FigureCopier,
    Section,
    cohort_section,
    comparison_section,
    config_section,
    figures_section,
    gwas_section,
    lookup,
    panel_section,
    simulation_section,
)

__all__ = ["ReportInputs", "build_report", "render_page"]

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
figure{margin:12px 0 24px}figure img{max-width:100%;height:auto;border:1px solid #e3e6ea}
figcaption{font-size:13.5px;color:#5f6b7a;margin-top:4px}
.row{display:flex;gap:16px;align-items:flex-start}.row figure{flex:1 1 0;min-width:0}
.row figure.narrow{flex:0 0 36%}details pre{background:#f3f4f6;padding:12px;font-size:12.5px;
overflow:auto}
"""


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
    modality = lookup(inputs.config, "data.modality") or "unknown modality"
    page = render_page(f"GEMCONT report: {modality}", [s for s in sections if s])
    with atomic_open(out_html, "w", encoding="utf-8") as handle:
        handle.write(page)
    return out_html
