"""The standalone HTML report of a run (results/report/index.html)."""

from gemcont.report.html import ReportInputs, build_report

__all__ = ["ReportInputs", "build_report"]
