"""The progress report as one self-contained HTML file (``sitless report --html``).

``render_html(report, device_id)`` turns an ``analysis.report.Report`` into the text of
an HTML page for a physiotherapist or occupational-health nurse: a one-paragraph
summary, sitting and activity per day, sitting bouts by length, the weeks, reminders
and how they were answered, the exercise plan kept, the method and accuracy notes
(``METHOD_NOTES``) and the disclaimer. The same report gives the same text, so the
dashboard can offer these bytes as a download.

The page needs nothing from outside: the styles are inline, the fonts are the reader's
own, and the charts are static SVG drawn here (no script). Each series in a chart has a
pattern as well as a colour and a label in the legend, and every figure is also in a
table, so nothing depends on colour. ``@media print`` lays it out on A4.

The package's parts: :func:`render_html` here, with the page's styles; its sections,
the method notes among them (``sections``); and its charts (``charts``).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from analysis.days import DaySummary
from analysis.report import Report, summarize, worn_s
from ingest.report_html.charts import defs
from ingest.report_html.sections import (
    METHOD_NOTES,
    NO_DATA,
    activity_section,
    disclaimer_section,
    notes_section,
    plan_section,
    reminders_section,
    summary_section,
    weeks_section,
)

__all__ = ["METHOD_NOTES", "NO_DATA", "render_html"]

_CSS = """
:root { color: #111; background: #fff; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  font-size: 11pt; line-height: 1.4; max-width: 190mm; margin: 1.5em auto; padding: 0 1em; }
h1 { font-size: 18pt; margin: 0 0 0.2em; }
h2 { font-size: 13pt; margin: 1.6em 0 0.4em; border-bottom: 1px solid #888; padding-bottom: 0.1em; }
h3 { font-size: 11pt; margin: 1em 0 0.3em; }
.meta { color: #333; margin: 0 0 1em; }
.summary { background: #f3f3f3; border-left: 4px solid #333; padding: 0.6em 0.9em; }
.empty { font-style: italic; }
table { border-collapse: collapse; width: 100%; margin: 0.4em 0 1em; font-size: 9pt;
  font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #bbb; padding: 2px 5px; text-align: right; vertical-align: top; }
th { background: #eee; }
th:first-child, td:first-child, td.text { text-align: left; }
td:first-child { white-space: nowrap; }
caption { text-align: left; font-size: 9pt; color: #333; caption-side: bottom; padding-top: 2px; }
figure { margin: 0.5em 0 1em; }
figure svg { width: 100%; height: auto; display: block; }
figcaption { font-size: 9pt; color: #333; }
.legend { list-style: none; padding: 0; margin: 0.3em 0; font-size: 9pt;
  display: flex; flex-wrap: wrap; gap: 0.3em 1.2em; }
figure .legend svg { display: inline-block; width: 14px; height: 14px; vertical-align: -2px;
  margin-right: 0.3em; border: 1px solid #555; }
.notes p { font-size: 9.5pt; }
.disclaimer { border: 2px solid #333; padding: 0.6em 0.9em; margin-top: 1.5em; }
svg text { font-family: inherit; }
* { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 10pt; }
  h2 { break-after: avoid; }
  figure, .summary, .disclaimer, tr { break-inside: avoid; }
  thead { display: table-header-group; }
}
"""


def _has_data(days: Sequence[DaySummary]) -> bool:
    return any(worn_s(d) > 0 for d in days)


def render_html(report: Report, device_id: str) -> str:
    """The report as the text of one self-contained HTML page (see the module).

    Args:
        report: The report (``analysis.report.build_report`` or ``ingest.progress.load_report``).
        device_id: The wearable, named in the title.

    Returns:
        The page, UTF-8 text; the same report gives the same text.
    """
    summary = summarize(report)
    title = f"sitless report: {device_id}, {report.start} to {report.end}"
    if _has_data(report.days):
        activity, weeks, plan = activity_section(report), weeks_section(report), plan_section(report)
    else:  # no charts of nothing; the plan too, as nothing was measured against it
        activity = weeks = plan = f'<p class="empty">{NO_DATA}</p>'
    sections = [
        f'<h1>Sitting and activity report</h1><p class="meta">Wearable <strong>{escape(device_id)}</strong>, '
        f"{report.start.day} {report.start:%b %Y} to {report.end.day} {report.end:%b %Y}. "
        "Made by sitless from the wearable's stored analysis; figures are the sensor's estimates "
        "(method and accuracy at the end).</p>",
        summary_section(report, summary),
        f'<section id="activity"><h2>Sitting and activity per day</h2>{activity}</section>',
        f'<section id="weeks"><h2>Weeks and sitting bouts by length</h2>{weeks}</section>',
        f'<section id="reminders"><h2>Reminders and how they were answered</h2>{reminders_section(report)}</section>',
        f'<section id="plan"><h2>Exercise programme kept</h2>{plan}</section>',
        notes_section(),
        disclaimer_section(),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>{defs()}"
        + "".join(sections)
        + "</body></html>\n"
    )
