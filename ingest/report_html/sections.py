"""The report page's sections: summary, days, weeks, reminders, exercise plan, method notes, disclaimer.

Each is HTML text made from an ``analysis.report.Report``. A chart in a section
(:mod:`ingest.report_html.charts`) comes with a table of the same figures.
"""

from __future__ import annotations

import datetime as dt
from html import escape

from analysis.programme import DISCLAIMER, SEE_A_DOCTOR_IF, exercise_by_id
from analysis.report import (
    ANSWER_WINDOW_S,
    WALK_MIN_BOUT_S,
    Report,
    Summary,
    bout_profile,
    days_between,
    exercise_totals,
    worn_s,
)
from ingest.report_html.charts import ACTIVITY, BOUTS, KEPT, bars, columns, figure, legend, nice_max, nice_step

__all__ = [
    "METHOD_NOTES",
    "NO_DATA",
    "activity_section",
    "disclaimer_section",
    "notes_section",
    "plan_section",
    "reminders_section",
    "summary_section",
    "weeks_section",
]

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

_ANSWER_LABELS = {
    "done": "Done (stretch or exercise)",
    "done_still_sitting": "Done, but the sensor saw no break",
    "snooze": "Snoozed",
    "meeting": "In a meeting",
    "dismiss": "Dismissed",
    "break": "Break taken without a button",
    "ignored": "Ignored",
}


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


def summary_section(report: Report, s: Summary) -> str:
    """The one-paragraph summary of the period (``s``: its ``analysis.report.summarize``), or that it has no data."""
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


def activity_section(report: Report) -> str:
    """Sitting and activity per day: hours in each posture as a chart, and the days' table."""
    days = [report.start + dt.timedelta(days=k) for k in range((report.end - report.start).days + 1)]
    by_date = {d.date: d for d in report.days}
    stacks = []
    for day in days:
        d = by_date.get(day.isoformat())
        if d is None:
            stacks.append([0.0] * len(ACTIVITY))
            continue
        stacks.append(
            [(d.in_bed_s or 0.0) / 3600 if s.key == "in_bed" else d.seconds_of(s.key) / 3600 for s in ACTIVITY]
        )
    y_max = min(nice_max(max((sum(st) for st in stacks), default=0.0), 4.0), 26.0)
    tick = 1 if len(days) <= 14 else 7
    labels = [_day_label(d) if tick == 1 else f"{d.day} {d:%b}" for d in days]
    chart = columns(
        "activity",
        "Hours per day in each posture",
        labels,
        stacks,
        ACTIVITY,
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
    return figure("activity", chart, caption, legend(ACTIVITY)) + table


def weeks_section(report: Report) -> str:
    """The weeks: sitting bouts by length per week as a chart, and the weeks' table."""
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
    step = nice_step(top * 1.1)
    chart = columns(
        "bouts",
        "Sitting bouts per week by length",
        labels,
        stacks,
        BOUTS,
        y_max=nice_max(top * 1.1, step),
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
    return figure("bouts", chart, caption, legend(BOUTS)) + table


def reminders_section(report: Report) -> str:
    """How reminders were answered, as bars and a table; or that there were none."""
    counts = report.answer_counts()
    total = len(report.answers)
    if not total:
        return '<p class="empty">No reminders in this period.</p>'
    rows = [(_ANSWER_LABELS[k], v) for k, v in counts.items()]
    chart = bars("answers", "How reminders were answered", rows, total)
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
    return figure("answers", chart, caption) + table


def plan_section(report: Report) -> str:
    """The exercise plan kept: streaks, the share kept per plan week, exercises done against prescribed."""
    a = report.adherence
    if a is None:
        return '<p class="empty">The exercise plan does not overlap this period.</p>'
    labels = [f"Week {w.week}" for w in a.weeks]
    stacks = [[100.0 * (w.fraction or 0.0)] for w in a.weeks]
    tops = [_pct(w.fraction) for w in a.weeks]
    chart = columns(
        "plan",
        "Share of the plan kept per plan week",
        labels,
        stacks,
        (KEPT,),
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
    return streaks + figure("plan", chart, caption, legend((KEPT,))) + weeks + exercises


def notes_section() -> str:
    """The method and accuracy notes (:data:`METHOD_NOTES`)."""
    paragraphs = "".join(f"<p><strong>{escape(head)}.</strong> {escape(text)}</p>" for head, text in METHOD_NOTES)
    return f'<section class="notes" id="method"><h2>Method and accuracy</h2>{paragraphs}</section>'


def disclaimer_section() -> str:
    """The disclaimer, and when to see a doctor rather than rely on exercises."""
    signs = "".join(f"<li>{escape(sign)}</li>" for sign in SEE_A_DOCTOR_IF)
    return (
        f'<section class="disclaimer" id="disclaimer"><h2>Not medical advice</h2><p>{escape(DISCLAIMER)}</p>'
        f"<p>See a doctor, rather than relying on exercises, if:</p><ul>{signs}</ul></section>"
    )
