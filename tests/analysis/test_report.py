"""The progress report: reminders answered, exercise done, weeks and the plan kept."""

from __future__ import annotations

import datetime as dt

import pytest

from analysis import BreakTaken, Posture, PostureBout, SittingBout, default_plan
from analysis.holds import HoldEnded
from analysis.report import (
    ANSWER_KINDS,
    ANSWER_WINDOW_S,
    WALK_MIN_BOUT_S,
    answers,
    bout_profile,
    build_report,
    done_records,
    exercise_totals,
    summarize,
)
from analysis.sets import ExerciseSet

MONDAY = dt.date(2026, 11, 2)
EPOCH = dt.datetime(2026, 11, 2, tzinfo=dt.UTC).timestamp()  # local midnight of MONDAY, UTC


class At:
    def __init__(self, t_s: float) -> None:
        self.t_s = t_s


def day_s(day: int, hour: float) -> float:
    """Unix time of ``hour`` o'clock on day ``day`` (0 = MONDAY)."""
    return EPOCH + day * 86400.0 + hour * 3600.0


def test_each_alert_takes_the_first_answer_in_its_window() -> None:
    """A button within the window answers; a break without a button too; else it was ignored."""
    alerts = [At(0.0), At(1000.0), At(5000.0), At(9000.0)]
    actions = [(30.0, "done"), (1000.0 + ANSWER_WINDOW_S + 1, "snooze"), (5100.0, "calibrate"), (5200.0, "meeting")]
    breaks = [BreakTaken(90.0, 500.0), BreakTaken(1200.0, 1400.0), BreakTaken(9000.0 + ANSWER_WINDOW_S, 9900.0)]
    got = [(a.answer, a.after_s) for a in answers(alerts, actions, breaks)]
    assert got == [("done", 30.0), ("break", 200.0), ("meeting", 200.0), ("ignored", None)]


def test_done_without_a_break_is_done_still_sitting() -> None:
    """Done counts as done only when the sensor saw the sitting bout end by 10 min after the press."""
    alerts = [At(0.0), At(2000.0), At(4000.0), At(6000.0)]
    actions = [(60.0, "done"), (2060.0, "done"), (4060.0, "done"), (6300.0, "done")]
    breaks = [
        BreakTaken(2100.0, 2400.0),  # stood up 40 s after pressing
        BreakTaken(4030.0, 4300.0),  # stood up first, pressed Done while walking
        BreakTaken(6300.0 + ANSWER_WINDOW_S - 1, 7000.0),  # stood up just within 10 min of the press
    ]
    got = [(a.answer, a.after_s) for a in answers(alerts, actions, breaks)]
    assert got == [("done_still_sitting", 60.0), ("done", 60.0), ("done", 60.0), ("done", 300.0)]


def test_dismiss_answers_a_reminder_and_every_answer_is_counted() -> None:
    """Dismiss is an answer of its own; the report counts each kind, ignored and break included."""
    alerts = [At(t) for t in (0.0, 2000.0, 4000.0, 6000.0, 8000.0, 10000.0, 12000.0)]
    actions = [(10.0, "dismiss"), (2010.0, "done"), (4010.0, "snooze"), (6010.0, "meeting"), (8010.0, "done")]
    breaks = [BreakTaken(2100.0, 2400.0), BreakTaken(10100.0, 10400.0)]
    got = [a.answer for a in answers(alerts, actions, breaks)]
    assert got == ["dismiss", "done", "snooze", "meeting", "done_still_sitting", "break", "ignored"]
    report = build_report(
        default_plan(MONDAY), end=MONDAY, weeks=1, alerts=alerts, actions=actions, breaks=breaks, epoch_s=EPOCH
    )
    assert report.answer_counts() == {
        "done": 1,
        "done_still_sitting": 1,
        "snooze": 1,
        "meeting": 1,
        "dismiss": 1,
        "break": 1,
        "ignored": 1,
    }
    assert tuple(report.answer_counts()) == ANSWER_KINDS
    assert summarize(report).reminders_answered == 6


def test_sets_and_long_walks_are_done_per_local_day() -> None:
    """Sets add up per exercise and day, holds in seconds; only walks of 5 min or more count."""
    hold = HoldEnded(day_s(0, 8.1), day_s(0, 8.1) + 12.0, "knee_roll", "left", 10.0, False, 0, 1)
    sets = [
        ExerciseSet("squat", day_s(0, 8.0), day_s(0, 8.01), 10),
        ExerciseSet("squat", day_s(0, 18.0), day_s(0, 18.01), 8),
        ExerciseSet("knee_roll", day_s(0, 8.1), day_s(0, 8.2), 6, (hold,)),
        ExerciseSet("any", day_s(0, 9.0), day_s(0, 9.1), 20),
        ExerciseSet("squat", day_s(1, 0.5), day_s(1, 0.51), 5),
    ]
    walks = [
        PostureBout(day_s(0, 12.0), day_s(0, 12.0) + WALK_MIN_BOUT_S, Posture.WALKING),
        PostureBout(day_s(0, 13.0), day_s(0, 13.0) + WALK_MIN_BOUT_S - 1, Posture.WALKING),
        PostureBout(day_s(0, 14.0), day_s(0, 15.0), Posture.SITTING),
    ]
    done = done_records(sets, walks, epoch_s=0.0, tz=dt.UTC)
    assert [(d.exercise_id, d.day.day, d.reps, d.held_s, d.duration_s) for d in done] == [
        ("knee_roll", 2, 6, 12.0, None),
        ("squat", 2, 18, None, None),
        ("walk", 2, None, None, WALK_MIN_BOUT_S),
        ("squat", 3, 5, None, None),
    ]
    # A day in another zone: 00:30 UTC on Tuesday is still Monday in New York.
    ny = done_records(sets[-1:], (), epoch_s=0.0, tz=dt.timezone(dt.timedelta(hours=-5)))
    assert ny[0].day == MONDAY


def test_a_report_of_two_weeks() -> None:
    """Weeks end on the last day; sitting, the longest bout, breaks per sitting hour and the plan kept."""
    sitting = [(1, 9.0, 10.5), (1, 11.0, 11.5), (9, 9.0, 9.25)]
    bouts = [PostureBout(day_s(d, a), day_s(d, b), Posture.SITTING) for d, a, b in sitting]
    sitting_bouts = [SittingBout(day_s(d, a), day_s(d, b)) for d, a, b in sitting]
    breaks = [BreakTaken(day_s(1, 10.5), day_s(1, 11.0))]
    plan = default_plan(MONDAY)
    sets = [ExerciseSet("squat", day_s(2, 12.0), day_s(2, 12.01), 10)]  # strengthening: every other day
    end = MONDAY + dt.timedelta(days=13)
    report = build_report(
        plan, end=end, weeks=2, bouts=bouts, sitting_bouts=sitting_bouts, breaks=breaks, sets=sets, tz=dt.UTC
    )
    assert (report.start, report.end) == (MONDAY, end)
    first, second = report.weeks
    assert (first.start, first.end, second.end) == (MONDAY, MONDAY + dt.timedelta(days=6), end)
    assert first.sitting_s == pytest.approx(2 * 3600.0)
    assert first.longest_sitting_s == pytest.approx(1.5 * 3600.0)
    assert first.breaks_per_sitting_hour == pytest.approx(0.5)
    assert second.sitting_s == pytest.approx(900.0)
    assert second.breaks_per_sitting_hour == 0.0
    assert report.adherence is not None
    assert [d.date for d in report.days] == [f"2026-11-{d:02d}" for d in range(3, 12)]  # first to last data
    assert [d.sitting_bouts for d in report.days if d.seconds_of("sitting")] == [(0, 1, 1), (1, 0, 0)]
    squat_days = [
        day.day for day in report.adherence.days if any(i.exercise_id == "squat" and i.done for i in day.items)
    ]
    assert squat_days == [MONDAY + dt.timedelta(days=2)]
    assert len(report.to_dict()["trend"]) == 2


def test_a_plan_that_starts_later_gives_no_adherence() -> None:
    report = build_report(default_plan(MONDAY + dt.timedelta(days=30)), end=MONDAY, weeks=1)
    assert report.adherence is None
    assert report.to_dict()["trend"] == []
    with pytest.raises(ValueError, match="weeks"):
        build_report(default_plan(MONDAY), end=MONDAY, weeks=0)


def test_the_summary_of_a_report() -> None:
    """Days worn, sitting per worn day, the longest bout, breaks per hour, reminders answered, plan kept."""
    sitting = [(1, 9.0, 10.5), (1, 11.0, 11.5), (2, 9.0, 9.25)]
    bouts = [PostureBout(day_s(d, a), day_s(d, b), Posture.SITTING) for d, a, b in sitting]
    bouts.append(PostureBout(day_s(3, 9.0), day_s(3, 12.0), Posture.NONWEAR))  # a day on the desk
    sitting_bouts = [SittingBout(day_s(d, a), day_s(d, b)) for d, a, b in sitting]
    breaks = [BreakTaken(day_s(1, 10.5), day_s(1, 11.0))]
    alerts = [At(day_s(1, 9.5)), At(day_s(1, 10.0))]
    sets = [ExerciseSet("squat", day_s(2, 12.0), day_s(2, 12.01), 10)]
    report = build_report(
        default_plan(MONDAY),
        end=MONDAY + dt.timedelta(days=6),
        weeks=1,
        bouts=bouts,
        sitting_bouts=sitting_bouts,
        breaks=breaks,
        alerts=alerts,
        actions=[(day_s(1, 9.5) + 60.0, "snooze")],
        sets=sets,
    )
    s = summarize(report)
    assert s.days_with_data == 2  # the day the sensor lay on the desk has no worn time
    assert s.sitting_per_day_s == pytest.approx((2.0 + 0.25) * 3600.0 / 2)
    assert s.longest_sitting_s == pytest.approx(1.5 * 3600.0)
    assert s.breaks == 1
    assert s.breaks_per_sitting_hour == pytest.approx(1 / 2.25)
    assert (s.reminders, s.reminders_answered) == (2, 1)
    assert report.adherence is not None
    assert s.plan_kept == report.adherence.fraction
    assert bout_profile(report.days) == (1, 1, 1)  # 15 min; 30 min is in 30 to 60; 90 min
    squat = next(t for t in exercise_totals(report) if t.exercise_id == "squat")
    assert (squat.due_days, squat.done_days, squat.reps) == (4, 1, 10)  # every other day from Monday


def test_an_empty_report_sums_to_nothing() -> None:
    report = build_report(default_plan(MONDAY), end=MONDAY, weeks=1)
    s = summarize(report)
    assert (s.days_with_data, s.sitting_per_day_s, s.breaks_per_sitting_hour, s.reminders) == (0, None, None, 0)
