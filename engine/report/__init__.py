"""Evaluations of two versions -> one self-contained HTML document (Jinja2 page, matplotlib SVG charts).

`build_report` evaluates a base version A and a version B over the same data for a list of
fiscal years and gathers what the page shows; `render_html` lays it out with the template
`templates/report.html.j2`. The page loads nothing: no script, no font, no stylesheet, no
image from anywhere; the charts are inline SVG whose text stays text, so Japanese labels
render with the reader's fonts, and a Content-Security-Policy of `default-src 'none'`
forbids every load. The same inputs give the same bytes (fixed SVG hash salt, no
metadata, no timestamps).

Exact values are shown exactly (render.format_display); a chart is a picture, so its bar
heights are floats converted from the exact values at drawing time only.

The package: `model` (what the report computes: `build_report`, `Report` and the column helpers
the workbook uses too), `measures` (B - A per municipality, ranked and distributed), `charts`
(matplotlib/SVG), `text` (the ja/en UI text, data in templates/report-text.json, and value text)
and `page` (the HTML page through the template).
"""

from __future__ import annotations

from .charts import FONTS, draw_charts, figure_svg, matplotlib_setup
from .measures import TOP_MOVERS, Measure, distribution, movers
from .model import (
    COLUMN_GROUPS,
    FULL_TABLES_MAX,
    REPORT_NAMES,
    DataFile,
    Report,
    build_report,
    column_label,
    column_unit,
    default_versions,
    report_columns,
    report_years,
    result_blocks,
    target_period,
)
from .page import render_html
from .text import text_table, ui_text

__all__ = [
    "COLUMN_GROUPS",
    "FONTS",
    "FULL_TABLES_MAX",
    "REPORT_NAMES",
    "TOP_MOVERS",
    "DataFile",
    "Measure",
    "Report",
    "build_report",
    "column_label",
    "column_unit",
    "default_versions",
    "distribution",
    "draw_charts",
    "figure_svg",
    "matplotlib_setup",
    "movers",
    "render_html",
    "report_columns",
    "report_years",
    "result_blocks",
    "target_period",
    "text_table",
    "ui_text",
]
