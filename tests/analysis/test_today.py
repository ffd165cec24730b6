"""The day so far: bouts clipped to it, the sitting summary, and how reminders were answered."""

from __future__ import annotations

import pytest

from analysis import BreakTaken, SittingBout
from analysis.today import ClippedBout, RunningBout, StoredBout, clipped_bouts, day_so_far, responses


class At:
    def __init__(self, t_s: float) -> None:
        self.t_s = t_s


def test_bouts_are_clipped_at_midnight_and_at_the_running_one() -> None:
    """Yesterday's part is cut off, slouch shared pro rata; a bout stored after the running one's start is dropped."""
    closed = [
        StoredBout("sitting", -1800.0, 1800.0, slouch_s=360.0),
        StoredBout("walking", 1800.0, 2400.0),
        StoredBout("standing", 2400.0, 3000.0),  # the running bout, closed since the status was saved
    ]
    bouts = clipped_bouts(closed, RunningBout("standing", 2400.0, slouch_s=30.0), start_s=0.0, now_s=2700.0)
    assert bouts == [
        ClippedBout("sitting", 0.0, 1800.0, False, 180.0),
        ClippedBout("walking", 1800.0, 2400.0, False, 0.0),
        ClippedBout("standing", 2400.0, 2700.0, True, 30.0),
    ]
    assert clipped_bouts(closed[:1], None, start_s=1800.0, now_s=2000.0) == []


def test_the_day_counts_bouts_ending_today_and_the_running_one() -> None:
    bouts = clipped_bouts(
        [StoredBout("sitting", 0.0, 1800.0)], RunningBout("sitting", 3000.0), start_s=0.0, now_s=3600.0
    )
    day = day_so_far(
        bouts,
        [SittingBout(-4000.0, -100.0), SittingBout(0.0, 1800.0)],
        [BreakTaken(1800.0, 3000.0)],
        [At(-50.0), At(1700.0)],
        running_sitting_s=600.0,
        start_s=0.0,
    )
    assert (day.sitting_bouts, day.breaks, day.alerts) == (2, 1, 1)
    assert day.sitting_s == pytest.approx(2400.0)
    assert day.longest_sitting_s == 1800.0


def test_responses_take_buttons_then_breaks_and_say_open_while_the_alert_waits() -> None:
    alerts = [At(0.0), At(1000.0), At(5000.0), At(9000.0)]
    got = responses(alerts, [(60.0, "done"), (5030.0, "snooze")], [BreakTaken(1100.0, 1400.0)], open_t_s=9000.0)
    assert got == ["done_still_sitting", "break", "snooze", "open"]  # no break followed the done
    assert responses(alerts[-1:], [], [], open_t_s=None) == ["ignored"]
