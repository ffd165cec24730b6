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
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from analysis.days import DaySummary
from analysis.programme import DISCLAIMER, SEE_A_DOCTOR_IF, exercise_by_id
from analysis.report import (
    ANSWER_WINDOW_S,
    WALK_MIN_BOUT_S,
    Report,
    Summary,
    bout_profile,
    days_between,
    exercise_totals,
    summarize,
    worn_s,
)

__all__ = ["METHOD_NOTES", "NO_DATA", "render_html"]

#: Said wherever a period has no data, in place of empty charts and tables.
NO_DATA = "No data in this period."

#: How the figures are measured and how well, in short (sources: docs/validation.md).
METHOD_NOTES: tuple[tuple[str, str], ...] = (
    (
        "What is measured",
        "One accelerometer worn on the thigh, waist, lower back, chest, upper back or wrist. "
        "Posture (sitting, standing, lying, walking) is decided every 0.1 s from the sensor's "
        "angle against the upright learned while walking (thigh: Skotte et al. 2014, "
        "doi:10.1249/MSS.0000000000000308; waist: Vähä-Ypyä et al. 2018, doi:10.1111/sms.13017) "
        "and from sit/stand transitions (Najafi et al. 2003, doi:10.1109/TBME.2003.812189). "
        "A sensor that lies still (under 4 mg range over 60 s) is not worn (after van Hees et al. "
        "2013, doi:10.1371/journal.pone.0061691); that time is never sitting. On the wrist only "
        "activity against inactivity is reported.",
    ),
    (
        "Bouts, breaks and reminders",
        "A break is at least 1 minute of standing or walking; shorter fidgets do not end a sitting "
        "bout (Chastin & Granat 2010, doi:10.1016/j.gaitpost.2009.09.002). A reminder is raised "
        "after 30 minutes of sitting and repeated every 10 minutes while it goes on. Sitting "
        "time is waking sitting: time in bed is counted apart where the in-bed window is judged "
        "(sitless analyze); the live store does not judge it, so in-bed time shows as not measured.",
    ),
    (
        "How well, on which data",
        "On labelled public recordings (development split): posture balanced accuracy 0.993 on "
        "UCI HAPT, a smartphone at the waist, 18 subjects (Reyes-Ortiz et al. 2016, Neurocomputing "
        "171: 754-767), and 0.990 on a smartphone in the trouser pocket, 14 subjects (Matey-Sanz et "
        "al. 2023, doi:10.1016/j.dib.2023.109809). Those recordings hold only short still bouts, so "
        "long sitting was checked on them lengthened to office durations (sitting time -1.6% on "
        "average, 473 of 476 reminders matched) and on simulated office days (waking sitting time "
        "within 3% of the truth on most days). A sensor on the chest or upper back can miss a bout "
        "entered by walking straight into a chair. Figures, commands and limits: docs/validation.md.",
    ),
)

_WIDTH = 720
_HEIGHT = 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 46, 8, 14, 34


@dataclass(frozen=True, slots=True)
class _Series:
    """One series of a chart: its key (pattern id), label, colour and pattern."""

    key: str
    label: str
    colour: str
    pattern: str  # "solid", "diagonal", "dots", "cross", "horizontal", "vertical", "back"


# Okabe & Ito's colour-blind-safe palette, each with its own pattern.
_ACTIVITY = (
    _Series("sitting", "Sitting", "#D55E00", "solid"),
    _Series("standing", "Standing", "#56B4E9", "diagonal"),
    _Series("walking", "Walking", "#009E73", "dots"),
    _Series("lying", "Lying", "#CC79A7", "cross"),
    _Series("other", "Other", "#999999", "vertical"),
    _Series("in_bed", "In bed", "#0072B2", "horizontal"),
    _Series("nonwear", "Not worn", "#DDDDDD", "back"),
)
_BOUTS = (
    _Series("short", "Under 30 min", "#F0E442", "solid"),
    _Series("medium", "30 to 60 min", "#E69F00", "diagonal"),
    _Series("long", "60 min or more", "#D55E00", "cross"),
)
_KEPT = _Series("kept", "Plan kept", "#009E73", "dots")
_ANSWER_LABELS = {
    "done": "Done (stretch or exercise)",
    "done_still_sitting": "Done, but the sensor saw no break",
    "snooze": "Snoozed",
    "meeting": "In a meeting",
    "dismiss": "Dismissed",
    "break": "Break taken without a button",
    "ignored": "Ignored",
}
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


def _h(seconds: float) -> str:
    """Hours with one decimal (no unit)."""
    return f"{seconds / 3600.0:.1f}"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60.0:.0f}"


def _pct(fraction: float | None) -> str:
    return "&ndash;" if fraction is None else f"{fraction:.0%}"


def _rate(value: float | None) -> str:
    return "&ndash;" if value is None else f"{value:.1f}"


def _day_label(day: dt.date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


def _exercise_name(exercise_id: str) -> str:
    try:
        return exercise_by_id(exercise_id).name
    except KeyError:
        return exercise_id


# Charts ------------------------------------------------------------------------------


def _pattern(series: _Series) -> str:
    """An SVG pattern: the series' colour with its own marks, so black-and-white prints differ."""
    marks = {
        "solid": "",
        "diagonal": '<path d="M-1,1 l2,-2 M0,6 l6,-6 M5,7 l2,-2" stroke="#fff" stroke-width="1.2"/>',
        "back": '<path d="M-1,5 l2,2 M0,0 l6,6 M5,-1 l2,2" stroke="#555" stroke-width="0.8"/>',
        "dots": '<circle cx="3" cy="3" r="1.2" fill="#fff"/>',
        "cross": '<path d="M0,0 l6,6 M6,0 l-6,6" stroke="#fff" stroke-width="1"/>',
        "horizontal": '<path d="M0,3 h6" stroke="#fff" stroke-width="1.2"/>',
        "vertical": '<path d="M3,0 v6" stroke="#fff" stroke-width="1.2"/>',
    }[series.pattern]
    return (
        f'<pattern id="p-{series.key}" width="6" height="6" patternUnits="userSpaceOnUse">'
        f'<rect width="6" height="6" fill="{series.colour}"/>{marks}</pattern>'
    )


def _defs() -> str:
    """The patterns every chart refers to, once per page (a zero-size SVG, not ``display: none``)."""
    patterns = "".join(_pattern(s) for s in (*_ACTIVITY, *_BOUTS, _KEPT))
    return f'<svg width="0" height="0" style="position:absolute" aria-hidden="true"><defs>{patterns}</defs></svg>'


def _legend(series: Sequence[_Series]) -> str:
    items = "".join(
        f'<li><svg viewBox="0 0 14 14" aria-hidden="true"><rect width="14" height="14" fill="url(#p-{s.key})"/></svg>'
        f"{escape(s.label)}</li>"
        for s in series
    )
    return f'<ul class="legend">{items}</ul>'


def _nice_max(value: float, step: float) -> float:
    return max(step, step * -(-value // step))


def _nice_step(span: float) -> float:
    """The smallest of 1, 2, 5, 10, 20, 50, ... that splits ``span`` into at most 6 steps."""
    step = 1.0
    while span / step > 6:
        for factor in (2.0, 2.5, 2.0):
            step *= factor
            if span / step <= 6:
                break
    return step


def _columns(
    name: str,
    title: str,
    labels: Sequence[str],
    stacks: Sequence[Sequence[float]],
    series: Sequence[_Series],
    *,
    y_max: float,
    y_step: float,
    y_unit: str,
    tick_every: int = 1,
    tops: Sequence[str] | None = None,
    reference: float | None = None,
) -> str:
    """Stacked columns, one per label; ``stacks`` holds one value per series for each column.

    ``tops`` are texts written above the columns, ``reference`` a dashed line at that value.
    """
    plot_w = _WIDTH - _LEFT - _RIGHT
    plot_h = _HEIGHT - _TOP - _BOTTOM
    n = max(len(labels), 1)
    slot = plot_w / n

    def y(v: float) -> float:
        return _TOP + plot_h * (1 - v / y_max)

    parts = [
        f'<svg viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" aria-labelledby="{name}-title" '
        f'><title id="{name}-title">{escape(title)}</title>'
    ]
    v = 0.0
    while v <= y_max + 1e-9:
        parts.append(
            f'<line x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
            'stroke="#ccc" stroke-width="0.6"/>'
            f'<text x="{_LEFT - 4}" y="{y(v) + 3:.1f}" font-size="10" text-anchor="end">{v:g}</text>'
        )
        v += y_step
    parts.append(
        f'<text x="10" y="{_TOP + plot_h / 2:.1f}" font-size="10" text-anchor="middle" '
        f'transform="rotate(-90 10 {_TOP + plot_h / 2:.1f})">{escape(y_unit)}</text>'
    )
    if reference is not None:
        parts.append(
            f'<line x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{y(reference):.1f}" y2="{y(reference):.1f}" '
            'stroke="#333" stroke-width="1" stroke-dasharray="4 3"/>'
        )
    bar_w = max(slot * 0.78, 1.0)
    for i, (label, stack) in enumerate(zip(labels, stacks, strict=True)):
        x = _LEFT + i * slot + (slot - bar_w) / 2
        base = 0.0
        for s, value in zip(series, stack, strict=True):
            if value <= 0:
                continue
            top = min(base + value, y_max)
            parts.append(
                f'<rect x="{x:.1f}" y="{y(top):.1f}" width="{bar_w:.1f}" height="{y(base) - y(top):.1f}" '
                f'fill="url(#p-{s.key})" stroke="#333" stroke-width="0.4"><title>{escape(label)}: '
                f"{escape(s.label)} {value:.1f} {escape(y_unit)}</title></rect>"
            )
            base = top
        if tops is not None and tops[i]:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{y(base) - 3:.1f}" font-size="9" text-anchor="middle">'
                f"{escape(tops[i])}</text>"
            )
        if i % tick_every == 0:
            parts.append(
                f'<text x="{_LEFT + i * slot + slot / 2:.1f}" y="{_HEIGHT - _BOTTOM + 13}" font-size="9" '
                f'text-anchor="{"middle" if tick_every == 1 else "start"}">{escape(label)}</text>'
            )
    parts.append(
        f'<line x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="#333" stroke-width="1"/>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _bars(name: str, title: str, rows: Sequence[tuple[str, int]], total: int) -> str:
    """Horizontal bars labelled with their counts and shares."""
    row_h, label_w = 24, 200
    height = row_h * len(rows) + 8
    plot_w = _WIDTH - label_w - 110
    top = max((v for _, v in rows), default=0) or 1
    parts = [
        f'<svg viewBox="0 0 {_WIDTH} {height}" role="img" aria-labelledby="{name}-title" '
        f'><title id="{name}-title">{escape(title)}</title>'
    ]
    for i, (label, value) in enumerate(rows):
        yy = 4 + i * row_h
        w = plot_w * value / top
        share = f"{value / total:.0%}" if total else "&ndash;"
        parts.append(
            f'<text x="{label_w - 6}" y="{yy + 15}" font-size="11" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{yy + 3}" width="{w:.1f}" height="{row_h - 8}" fill="#7A9CC6" '
            f'stroke="#333" stroke-width="0.5"/>'
            f'<text x="{label_w + w + 5:.1f}" y="{yy + 15}" font-size="11">{value} ({share})</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _figure(name: str, svg: str, caption: str, legend: str = "") -> str:
    return f'<figure id="chart-{name}">{svg}{legend}<figcaption>{escape(caption)}</figcaption></figure>'


# Sections ----------------------------------------------------------------------------


def _summary_text(report: Report, s: Summary) -> str:
    first, last = report.start, report.end
    period = f"{first.day} {first:%B %Y} to {last.day} {last:%B %Y} ({len(report.weeks)} weeks)"
    if s.days_with_data == 0:
        return f'<p class="summary" id="summary">{period}: <strong>{NO_DATA}</strong></p>'
    per_day = "&ndash;" if s.sitting_per_day_s is None else _h(s.sitting_per_day_s)
    answered = f"{s.reminders_answered} of {s.reminders}" if s.reminders else "no reminders"
    kept = "the plan does not overlap this period" if report.adherence is None else _pct(s.plan_kept)
    return (
        f'<p class="summary" id="summary">{period}. The sensor was worn on '
        f'<strong id="days-with-data">{s.days_with_data}</strong> days. On those days the wearer sat for '
        f'<strong id="sitting-per-day">{per_day} h</strong> a day on average while awake; the longest '
        f'sitting bout lasted <strong id="longest-bout">{_minutes(s.longest_sitting_s)} min</strong>. '
        f'There were <strong id="breaks-per-hour">{_rate(s.breaks_per_sitting_hour)}</strong> breaks '
        f"per hour of sitting ({s.breaks} in all). Reminders answered: "
        f'<strong id="reminders-answered">{answered}</strong>. Exercise plan kept: '
        f'<strong id="plan-kept">{kept}</strong>.</p>'
    )


def _activity(report: Report) -> str:
    days = [report.start + dt.timedelta(days=k) for k in range((report.end - report.start).days + 1)]
    by_date = {d.date: d for d in report.days}
    stacks = []
    for day in days:
        d = by_date.get(day.isoformat())
        if d is None:
            stacks.append([0.0] * len(_ACTIVITY))
            continue
        stacks.append(
            [(d.in_bed_s or 0.0) / 3600 if s.key == "in_bed" else d.seconds_of(s.key) / 3600 for s in _ACTIVITY]
        )
    y_max = min(_nice_max(max((sum(st) for st in stacks), default=0.0), 4.0), 26.0)
    tick = 1 if len(days) <= 14 else 7
    labels = [_day_label(d) if tick == 1 else f"{d.day} {d:%b}" for d in days]
    chart = _columns(
        "activity",
        "Hours per day in each posture",
        labels,
        stacks,
        _ACTIVITY,
        y_max=y_max,
        y_step=2.0 if y_max <= 12 else 4.0,
        y_unit="hours",
        tick_every=tick,
    )
    rows = []
    for d in report.days:
        label = _day_label(dt.date.fromisoformat(d.date or ""))
        if d.covered_s <= 0:
            rows.append(f'<tr><td>{label}</td><td class="text" colspan="12">no data</td></tr>')
            continue
        cls = d.sitting_bouts
        bed = "n/m" if d.in_bed_s is None else _h(d.in_bed_s)
        cells = [
            label,
            _h(worn_s(d)),
            *(_h(d.seconds_of(k)) for k in ("sitting", "standing", "walking", "lying")),
            bed,
            _h(d.seconds_of("nonwear")),
            *(str(c) for c in cls),
            str(d.breaks),
            str(d.alerts),
        ]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    table = (
        '<table id="table-days"><thead><tr><th rowspan="2">Day</th><th rowspan="2">Worn (h)</th>'
        '<th colspan="4">Waking time (h)</th><th rowspan="2">In bed (h)</th><th rowspan="2">Not worn (h)</th>'
        '<th colspan="3">Sitting bouts (count)</th><th rowspan="2">Breaks</th><th rowspan="2">Reminders</th></tr>'
        "<tr><th>Sitting</th><th>Standing</th><th>Walking</th><th>Lying</th>"
        "<th>&lt; 30 min</th><th>30&ndash;60 min</th><th>≥ 60 min</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody>"
        "<caption>Hours in decimal (1.5 h = 1 h 30 min). n/m: in-bed time not measured. Days run midnight to "
        "midnight, local time; a bout, break or reminder counts on the day it starts.</caption></table>"
    )
    caption = (
        "Hours per day in each posture, stacked; blank above a column is time without data "
        "(sensor off or not recording). Figures in the table below."
    )
    return _figure("activity", chart, caption, _legend(_ACTIVITY)) + table


def _weeks(report: Report) -> str:
    labels, stacks, tops, rows = [], [], [], []
    for w in report.weeks:
        mine = days_between(report.days, w.start, w.end)
        profile = bout_profile(mine)
        worn = [d for d in mine if worn_s(d) > 0]
        per_day = "&ndash;" if not worn else _h(sum(d.seconds_of("sitting") for d in worn) / len(worn))
        labels.append(f"{w.start.day} {w.start:%b} - {w.end.day} {w.end:%b}")
        stacks.append([float(c) for c in profile])
        tops.append(str(sum(profile)) if sum(profile) else "")
        cells = [
            f"{w.start.day} {w.start:%b} &ndash; {w.end.day} {w.end:%b %Y}",
            str(len(worn)),
            _h(w.sitting_s),
            per_day,
            _minutes(w.longest_sitting_s) if w.longest_sitting_s else "&ndash;",
            *(str(c) for c in profile),
            str(w.breaks),
            _rate(w.breaks_per_sitting_hour),
            str(w.alerts),
        ]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    top = max((sum(s) for s in stacks), default=0.0)
    step = _nice_step(top * 1.1)
    chart = _columns(
        "bouts",
        "Sitting bouts per week by length",
        labels,
        stacks,
        _BOUTS,
        y_max=_nice_max(top * 1.1, step),
        y_step=step,
        y_unit="bouts",
        tick_every=1 if len(labels) <= 6 else 2,
        tops=tops,
    )
    table = (
        '<table id="table-weeks"><thead><tr><th rowspan="2">Week</th><th rowspan="2">Days worn</th>'
        '<th colspan="2">Waking sitting (h)</th><th rowspan="2">Longest bout (min)</th>'
        '<th colspan="3">Sitting bouts (count)</th><th rowspan="2">Breaks</th>'
        '<th rowspan="2">Breaks per sitting hour</th><th rowspan="2">Reminders</th></tr>'
        "<tr><th>Total</th><th>Per day worn</th><th>&lt; 30 min</th><th>30&ndash;60 min</th><th>≥ 60 min</th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )
    caption = "Sitting bouts started each week, by length; the number above a column is the week's total."
    return _figure("bouts", chart, caption, _legend(_BOUTS)) + table


def _reminders(report: Report) -> str:
    counts = report.answer_counts()
    total = len(report.answers)
    if not total:
        return '<p class="empty">No reminders in this period.</p>'
    rows = [(_ANSWER_LABELS[k], v) for k, v in counts.items()]
    chart = _bars("answers", "How reminders were answered", rows, total)
    body = "".join(f"<tr><td>{escape(label)}</td><td>{v}</td><td>{v / total:.0%}</td></tr>" for label, v in rows)
    table = (
        '<table id="table-reminders"><thead><tr><th>Answer</th><th>Reminders</th><th>Share</th></tr></thead>'
        f"<tbody>{body}<tr><th>All</th><th>{total}</th><th>100%</th></tr></tbody></table>"
    )
    caption = (
        f"A reminder is answered by the first button within {ANSWER_WINDOW_S / 60:.0f} min (done, snooze, "
        "in a meeting, dismiss); without one, a break started in that time counts as a break taken; otherwise it "
        "was ignored. Done counts as done when a break began by the same time after the press, else as done "
        "without a break seen."
    )
    return _figure("answers", chart, caption) + table


def _plan(report: Report) -> str:
    a = report.adherence
    if a is None:
        return '<p class="empty">The exercise plan does not overlap this period.</p>'
    labels = [f"Week {w.week}" for w in a.weeks]
    stacks = [[100.0 * (w.fraction or 0.0)] for w in a.weeks]
    tops = [_pct(w.fraction) for w in a.weeks]
    chart = _columns(
        "plan",
        "Share of the plan kept per plan week",
        labels,
        stacks,
        (_KEPT,),
        y_max=100.0,
        y_step=25.0,
        y_unit="% of plan",
        tick_every=1 if len(labels) <= 12 else 2,
        tops=tops,
        reference=100.0,
    )
    rows = "".join(
        f'<tr><td>Week {w.week}</td><td class="text">{w.start.day} {w.start:%b} &ndash; {w.end.day} {w.end:%b}</td>'
        f"<td>{w.prescribed}</td>"
        f"<td>{w.done}</td><td>{_pct(w.fraction)}</td><td>{w.complete_days}</td></tr>"
        for w in a.weeks
    )
    weeks = (
        '<table id="table-plan"><thead><tr><th>Plan week</th><th>Days</th><th>Exercises due</th>'
        "<th>Done in full</th><th>Share kept</th><th>Days complete</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )
    streaks = (
        f'<p id="streaks">Overall <strong>{_pct(a.fraction)}</strong> of the plan kept. Current streak of complete '
        f"days: <strong>{a.current_streak_days}</strong>; longest: <strong>{a.longest_streak_days}</strong> "
        "(days with nothing due neither extend nor break a streak).</p>"
    )
    totals = exercise_totals(report)
    body = "".join(
        f'<tr><td class="text">{escape(_exercise_name(t.exercise_id))}</td><td>{t.due_days}</td><td>{t.done_days}</td>'
        f"<td>{t.reps or '&ndash;'}</td><td>{_minutes(t.held_s) if t.held_s else '&ndash;'}</td>"
        f"<td>{_minutes(t.duration_s) if t.duration_s else '&ndash;'}</td></tr>"
        for t in totals
    )
    exercises = (
        '<h3>Exercises done against prescribed</h3><table id="table-exercises"><thead><tr><th>Exercise</th>'
        "<th>Days due</th><th>Days dose met</th><th>Repetitions</th><th>Held (min)</th><th>Walked (min)</th>"
        f"</tr></thead><tbody>{body}</tbody><caption>Repetitions and times count the sets stored; an exercise "
        "found without counting its repetitions ticks its day off. Walks are walking bouts of "
        f"{WALK_MIN_BOUT_S / 60:.0f} min or more.</caption></table>"
    )
    caption = "Share of the exercises due each plan week that was done (dashed line: all of it)."
    return streaks + _figure("plan", chart, caption, _legend((_KEPT,))) + weeks + exercises


def _notes() -> str:
    paragraphs = "".join(f"<p><strong>{escape(head)}.</strong> {escape(text)}</p>" for head, text in METHOD_NOTES)
    return f'<section class="notes" id="method"><h2>Method and accuracy</h2>{paragraphs}</section>'


def _disclaimer() -> str:
    signs = "".join(f"<li>{escape(sign)}</li>" for sign in SEE_A_DOCTOR_IF)
    return (
        f'<section class="disclaimer" id="disclaimer"><h2>Not medical advice</h2><p>{escape(DISCLAIMER)}</p>'
        f"<p>See a doctor, rather than relying on exercises, if:</p><ul>{signs}</ul></section>"
    )


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
        activity, weeks, plan = _activity(report), _weeks(report), _plan(report)
    else:  # no charts of nothing; the plan too, as nothing was measured against it
        activity = weeks = plan = f'<p class="empty">{NO_DATA}</p>'
    sections = [
        f'<h1>Sitting and activity report</h1><p class="meta">Wearable <strong>{escape(device_id)}</strong>, '
        f"{report.start.day} {report.start:%b %Y} to {report.end.day} {report.end:%b %Y}. "
        "Made by sitless from the wearable's stored analysis; figures are the sensor's estimates "
        "(method and accuracy at the end).</p>",
        _summary_text(report, summary),
        f'<section id="activity"><h2>Sitting and activity per day</h2>{activity}</section>',
        f'<section id="weeks"><h2>Weeks and sitting bouts by length</h2>{weeks}</section>',
        f'<section id="reminders"><h2>Reminders and how they were answered</h2>{_reminders(report)}</section>',
        f'<section id="plan"><h2>Exercise programme kept</h2>{plan}</section>',
        _notes(),
        _disclaimer(),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>{_defs()}"
        + "".join(sections)
        + "</body></html>\n"
    )
