"""The report: a model built from the correlations and daily tables, rendered as text, JSON or HTML."""

from prodlens.report.html import render_html
from prodlens.report.model import Association, DailyPoint, Report, build_report, describe
from prodlens.report.text import render_json, render_text

__all__ = [
    "Association",
    "DailyPoint",
    "Report",
    "build_report",
    "describe",
    "render_html",
    "render_json",
    "render_text",
]
