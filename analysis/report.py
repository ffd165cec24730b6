"""The progress report: weeks of sitting, breaks, reminders and the exercise plan kept.

Built from what the analysis found over days or weeks (posture and sitting bouts,
breaks, alerts, the wearer's answers, exercise sets), for ``sitless report`` and the
dashboard's progress page:

- **days**: ``analysis.days.day_summaries`` per local calendar day;
- **weeks**: 7-day weeks ending on the report's last day: waking sitting time, the
  longest sitting bout, breaks, breaks per hour of sitting, alerts;
- **reminders**: how each alert was answered: ``done``, ``snooze``, ``meeting`` or
  ``dismiss`` (the first such action within ``ANSWER_WINDOW_S``), else ``break`` when the
  wearer took a break in that time without a button, else ``ignored``. The sensor
  judges *Done* too: a ``done`` after which no break began within ``ANSWER_WINDOW_S``
  (the wearer pressed it and stayed seated) is ``done_still_sitting``;
- **exercise**: what was done (``Done`` records: each exercise set's repetitions and
  seconds held; a bout the recogniser found, whose repetitions are not counted, ticks
  its exercise off for the day; and walks: walking bouts of at least
  ``WALK_MIN_BOUT_S`` make the plan's daily walk) and the adherence to the plan (``analysis.adherence``): per day and
  plan week, streaks, and the weekly trend over the report;
- **summary** (``summarize``): the headline figures of the whole report: days with
  data (a day with any worn time), average waking sitting per such day, the longest
  sitting bout, breaks per hour of sitting, reminders answered, plan kept; and per
  exercise, the days it was due against the days its dose was met (``exercise_totals``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from analysis.adherence import Adherence, Done, adherence
from analysis.days import DaySummary, Instant, Labelled, Span, day_summaries, local_date
from analysis.inbed import NightWindow
from analysis.plan import Plan
from analysis.programme import exercise_by_id
from analysis.sets import ExerciseSet

__all__ = [
    "ANSWER_KINDS",
    "ANSWER_WINDOW_S",
    "WALK_MIN_BOUT_S",
    "Answer",
    "ExerciseTotal",
    "Report",
    "Summary",
    "WeekActivity",
    "answers",
    "bout_profile",
    "build_report",
    "days_between",
    "done_records",
    "exercise_totals",
    "summarize",
    "worn_s",
]

#: An alert is answered by what the wearer does within this time, s (the default repeat).
ANSWER_WINDOW_S = 600.0
#: A walking bout this long or longer is a walk of the plan, s: a purposeful walk, not a
#: trip to the printer (the programme's walk is 10 minutes a day, ``analysis.programme``).
WALK_MIN_BOUT_S = 300.0
#: Actions that answer a reminder.
_ANSWERS = ("done", "snooze", "meeting", "dismiss")
#: Every way a reminder can be answered (``Answer.answer``), in the order reports list them.
ANSWER_KINDS = ("done", "done_still_sitting", "snooze", "meeting", "dismiss", "break", "ignored")


@dataclass(frozen=True, slots=True)
class Answer:
    """How one alert was answered.

    Attributes:
        t_s: The alert's time, s.
        answer: One of :data:`ANSWER_KINDS`: ``done`` (and a break followed),
            ``done_still_sitting`` (no break followed), ``snooze``, ``meeting``,
            ``dismiss``, ``break`` (taken without a button) or ``ignored``.
        after_s: Seconds from the alert to the answer (None when ignored).
    """

    t_s: float
    answer: str
    after_s: float | None


@dataclass(frozen=True, slots=True)
class WeekActivity:
    """Sitting and breaks over one week of the report.

    Attributes:
        start: First day.
        end: Last day.
        sitting_s: Waking sitting time, s.
        longest_sitting_s: Longest sitting bout starting in the week, s (0 without one).
        breaks: Breaks that ended sitting bouts.
        alerts: Sit-too-long alerts.
        breaks_per_sitting_hour: Breaks per hour of waking sitting (None without sitting).
    """

    start: dt.date
    end: dt.date
    sitting_s: float
    longest_sitting_s: float
    breaks: int
    alerts: int
    breaks_per_sitting_hour: float | None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "sitting_s": self.sitting_s,
            "longest_sitting_s": self.longest_sitting_s,
            "breaks": self.breaks,
            "alerts": self.alerts,
            "breaks_per_sitting_hour": self.breaks_per_sitting_hour,
        }


@dataclass(frozen=True, slots=True)
class Report:
    """Progress over the report's days (see the module docstring).

    Attributes:
        start: First day.
        end: Last day.
        days: The calendar days from the first data to the last, within the report, in order.
        weeks: The weeks, oldest first.
        answers: How each alert was answered, in time order.
        done: What was done, per exercise and day.
        adherence: Adherence to the plan over the report's days within the plan, or
            ``None`` when the plan does not overlap them.
    """

    start: dt.date
    end: dt.date
    days: tuple[DaySummary, ...]
    weeks: tuple[WeekActivity, ...]
    answers: tuple[Answer, ...]
    done: tuple[Done, ...]
    adherence: Adherence | None

    def answer_counts(self) -> dict[str, int]:
        """How many alerts were answered each way."""
        counts = dict.fromkeys(ANSWER_KINDS, 0)
        for a in self.answers:
            counts[a.answer] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON of ``sitless report --json``."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "days": [d.to_dict() for d in self.days],
            "weeks": [w.to_dict() for w in self.weeks],
            "reminders": self.answer_counts(),
            "done": [d.to_dict() for d in self.done],
            "adherence": None if self.adherence is None else self.adherence.to_dict(),
            "trend": [] if self.adherence is None else [w.fraction for w in self.adherence.weeks],
        }


def answers(alerts: Iterable[Instant], actions: Iterable[tuple[float, str]], breaks: Iterable[Span]) -> list[Answer]:
    """How each alert was answered (see the module docstring).

    The first answering action (``done``, ``snooze``, ``meeting``, ``dismiss``) within
    ``ANSWER_WINDOW_S`` of the alert answers it. A ``done`` counts as such only when a
    break began between the alert and ``ANSWER_WINDOW_S`` after the press (the sitting
    bout ended: before the press, when the wearer stood up first, or after it); else
    it is ``done_still_sitting``. Without an action, a break begun in the window
    answers it (``break``); else it was ``ignored``.

    Args:
        alerts: The sit-too-long alerts (their ``t_s``).
        actions: The wearer's actions, ``(t_s, action)``; other actions are left out.
        breaks: The breaks (their ``start_s``, where the sitting bout ended).

    Returns:
        One answer per alert, in time order.

    >>> class At:
    ...     def __init__(self, t_s: float) -> None:
    ...         self.t_s = t_s
    >>> class Break:
    ...     start_s, end_s = 950.0, 1100.0
    >>> [a.answer for a in answers([At(0.0), At(900.0), At(2000.0)], [(120.0, "snooze")], [Break()])]
    ['snooze', 'break', 'ignored']
    >>> [a.answer for a in answers([At(0.0), At(900.0)], [(60.0, "done"), (930.0, "done")], [Break()])]
    ['done_still_sitting', 'done']
    """
    acts = sorted((t, a) for t, a in actions if a in _ANSWERS)
    starts = sorted(b.start_s for b in breaks)
    out = []
    for alert in sorted(alerts, key=lambda a: a.t_s):
        t = alert.t_s
        act = next(((at, a) for at, a in acts if t <= at < t + ANSWER_WINDOW_S), None)
        brk = next((s for s in starts if t <= s < t + ANSWER_WINDOW_S), None)
        if act is not None:
            at, answer = act
            if answer == "done" and not any(t <= s < at + ANSWER_WINDOW_S for s in starts):
                answer = "done_still_sitting"
            out.append(Answer(t, answer, at - t))
        elif brk is not None:
            out.append(Answer(t, "break", brk - t))
        else:
            out.append(Answer(t, "ignored", None))
    return out


def done_records(
    sets: Iterable[ExerciseSet], bouts: Iterable[Labelled], *, epoch_s: float, tz: dt.tzinfo
) -> list[Done]:
    """What was done per exercise and local day: the sets, and walks of ``WALK_MIN_BOUT_S`` or more.

    Sets of ``any`` (the generic counter) name no exercise and are left out.

    Args:
        sets: Exercise sets (``analysis.sets.exercise_sets``).
        bouts: Posture bouts (walking ones make walks), times in the same base.
        epoch_s: Unix time of the time base's 0, s.
        tz: The local time zone.
    """
    totals: dict[tuple[str, dt.date], list[float]] = {}

    def add(exercise: str, t_s: float, reps: float, held_s: float, duration_s: float) -> None:
        day = local_date(t_s, epoch_s, tz)
        total = totals.setdefault((exercise, day), [0.0, 0.0, 0.0])
        total[0] += reps
        total[1] += held_s
        total[2] += duration_s

    for s in sets:
        try:
            exercise_by_id(s.exercise)
        except KeyError:
            continue
        add(s.exercise, s.start_s, s.reps, sum(h.duration_s for h in s.holds), 0.0)
    for b in bouts:
        if str(b.posture) == "walking" and b.end_s - b.start_s >= WALK_MIN_BOUT_S:
            add("walk", b.start_s, 0, 0.0, b.end_s - b.start_s)
    return [
        Done(
            exercise,
            day,
            reps=int(reps) if reps else None,
            held_s=held if held else None,
            duration_s=duration if duration else None,
        )
        for (exercise, day), (reps, held, duration) in sorted(totals.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    ]


def _weeks(
    end: dt.date,
    n_weeks: int,
    days: Sequence[DaySummary],
    sitting_bouts: Sequence[Span],
    *,
    epoch_s: float,
    tz: dt.tzinfo,
) -> list[WeekActivity]:
    weeks = []
    # Each bout's local start date and each summary's date, found once for all the weeks.
    bout_days = [(local_date(b.start_s, epoch_s, tz), b.end_s - b.start_s) for b in sitting_bouts]
    summary_days = [(dt.date.fromisoformat(d.date), d) for d in days if d.date is not None]
    for k in range(n_weeks, 0, -1):
        last = end - dt.timedelta(days=7 * (k - 1))
        first = last - dt.timedelta(days=6)
        mine = [d for day, d in summary_days if first <= day <= last]
        longest = max((length for day, length in bout_days if first <= day <= last), default=0.0)
        sitting = sum(d.seconds_of("sitting") for d in mine)
        breaks = sum(d.breaks for d in mine)
        per_hour = breaks / (sitting / 3600.0) if sitting > 0 else None
        weeks.append(WeekActivity(first, last, sitting, longest, breaks, sum(d.alerts for d in mine), per_hour))
    return weeks


def build_report(
    plan: Plan,
    *,
    end: dt.date,
    weeks: int = 12,
    bouts: Iterable[Labelled] = (),
    sitting_bouts: Iterable[Span] = (),
    breaks: Iterable[Span] = (),
    alerts: Iterable[Instant] = (),
    actions: Iterable[tuple[float, str]] = (),
    sets: Iterable[ExerciseSet] = (),
    nights: Iterable[NightWindow] | None = None,
    epoch_s: float = 0.0,
    tz: dt.tzinfo = dt.UTC,
) -> Report:
    """Build the report of the ``weeks`` weeks ending on ``end``.

    Args:
        plan: The exercise plan.
        end: The report's last day (local).
        weeks: How many weeks (>= 1).
        bouts: Posture bouts (``PostureBout``), tiling the recorded time.
        sitting_bouts: Sitting bouts.
        breaks: Breaks.
        alerts: Sit-too-long alerts.
        actions: The wearer's actions, ``(t_s, action)``.
        sets: Exercise sets (``analysis.sets.exercise_sets``).
        nights: The in-bed windows known (``NightWindow``): the days' in-bed time, with
            sitting and lying outside them; None: in-bed time not measured.
        epoch_s: Unix time of the time base's 0, s (0 when times are Unix times).
        tz: The local time zone of the days.

    Raises:
        ValueError: ``weeks`` below 1.
    """
    if weeks < 1:
        raise ValueError(f"weeks must be >= 1, got {weeks}")
    start = end - dt.timedelta(days=7 * weeks - 1)
    bouts, sitting_bouts, breaks, alerts = list(bouts), list(sitting_bouts), list(breaks), list(alerts)
    days = [
        d
        for d in day_summaries(bouts, sitting_bouts, breaks, alerts, nights=nights, epoch_s=epoch_s, tz=tz)
        if d.date is not None and start <= dt.date.fromisoformat(d.date) <= end
    ]
    done = done_records(sets, bouts, epoch_s=epoch_s, tz=tz)
    first, last = max(start, plan.start), min(end, plan.end)
    return Report(
        start=start,
        end=end,
        days=tuple(days),
        weeks=tuple(_weeks(end, weeks, days, sitting_bouts, epoch_s=epoch_s, tz=tz)),
        answers=tuple(answers(alerts, actions, breaks)),
        done=tuple(done),
        adherence=adherence(plan, done, first, last) if first <= last else None,
    )


@dataclass(frozen=True, slots=True)
class Summary:
    """The headline figures of a report (``summarize``).

    Attributes:
        days_with_data: Days with any worn time (``worn_s`` > 0).
        sitting_per_day_s: Mean waking sitting time over those days, s (None without any).
        longest_sitting_s: Longest sitting bout starting in the report, s (0 without one).
        sitting_s: Waking sitting time in all, s.
        breaks: Breaks that ended sitting bouts.
        breaks_per_sitting_hour: Breaks per hour of waking sitting (None without sitting).
        reminders: Sit-too-long alerts.
        reminders_answered: Alerts answered any way but ``ignored``.
        plan_kept: Share of the plan kept over the report (``Adherence.fraction``), or None
            when nothing was due or the plan does not overlap the report.
    """

    days_with_data: int
    sitting_per_day_s: float | None
    longest_sitting_s: float
    sitting_s: float
    breaks: int
    breaks_per_sitting_hour: float | None
    reminders: int
    reminders_answered: int
    plan_kept: float | None


@dataclass(frozen=True, slots=True)
class ExerciseTotal:
    """One exercise of the plan over the report: days due, days done, amounts done.

    Attributes:
        exercise_id: The exercise.
        due_days: Days it was due.
        done_days: Days due on which its dose was met.
        reps: Repetitions done over the report (all days), or 0.
        held_s: Seconds held over the report, s.
        duration_s: Seconds of timed activity (walks) over the report, s.
    """

    exercise_id: str
    due_days: int
    done_days: int
    reps: int
    held_s: float
    duration_s: float


def worn_s(day: DaySummary) -> float:
    """Time the sensor was worn on ``day``, s: the time with data less non-wear."""
    return max(day.covered_s - day.seconds_of("nonwear"), 0.0)


def days_between(days: Iterable[DaySummary], first: dt.date, last: dt.date) -> list[DaySummary]:
    """The days dated from ``first`` to ``last`` (both included), in the given order."""
    return [d for d in days if d.date is not None and first <= dt.date.fromisoformat(d.date) <= last]


def bout_profile(days: Iterable[DaySummary]) -> tuple[int, int, int]:
    """Sitting bouts starting on ``days``: under 30 min, 30 to 60 min, 60 min or more.

    >>> from analysis.days import day_summaries
    >>> class Sit:
    ...     def __init__(self, start_s: float, end_s: float) -> None:
    ...         self.start_s, self.end_s, self.posture = start_s, end_s, "sitting"
    >>> sits = [Sit(0.0, 600.0), Sit(1000.0, 3000.0), Sit(4000.0, 8000.0), Sit(90000.0, 90600.0)]
    >>> bout_profile(day_summaries(sits, sits, epoch_s=None))
    (2, 1, 1)
    """
    totals = [0, 0, 0]
    for day in days:
        for i, count in enumerate(day.sitting_bouts):
            totals[i] += count
    return totals[0], totals[1], totals[2]


def summarize(report: Report) -> Summary:
    """The headline figures of ``report`` (see ``Summary``)."""
    worn = [d for d in report.days if worn_s(d) > 0]
    sitting = sum(d.seconds_of("sitting") for d in report.days)
    breaks = sum(d.breaks for d in report.days)
    counts = report.answer_counts()
    return Summary(
        days_with_data=len(worn),
        sitting_per_day_s=sum(d.seconds_of("sitting") for d in worn) / len(worn) if worn else None,
        longest_sitting_s=max((w.longest_sitting_s for w in report.weeks), default=0.0),
        sitting_s=sitting,
        breaks=breaks,
        breaks_per_sitting_hour=breaks / (sitting / 3600.0) if sitting > 0 else None,
        reminders=len(report.answers),
        reminders_answered=len(report.answers) - counts["ignored"],
        plan_kept=None if report.adherence is None else report.adherence.fraction,
    )


def exercise_totals(report: Report) -> tuple[ExerciseTotal, ...]:
    """Per exercise of the plan: days due and days done over the report, and amounts done.

    Exercises appear in the order they are first due; an exercise done but never due in
    the report is left out (it is in ``Report.done``).
    """
    if report.adherence is None:
        return ()
    due: dict[str, list[int]] = {}
    for day in report.adherence.days:
        for item in day.items:
            counts = due.setdefault(item.exercise_id, [0, 0])
            counts[0] += 1
            counts[1] += item.done
    first, last = report.adherence.start, report.adherence.end
    out = []
    for exercise_id, (due_days, done_days) in due.items():
        mine = [d for d in report.done if d.exercise_id == exercise_id and first <= d.day <= last]
        out.append(
            ExerciseTotal(
                exercise_id,
                due_days,
                done_days,
                reps=sum(d.reps or 0 for d in mine),
                held_s=sum(d.held_s or 0.0 for d in mine),
                duration_s=sum(d.duration_s or 0.0 for d in mine),
            )
        )
    return tuple(out)
