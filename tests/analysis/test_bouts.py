"""Sitting bouts, breaks and the alert policy (DESIGN.md, "Alert policy")."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from analysis import (
    ActionApplied,
    Alert,
    AlertPolicy,
    AnalysisSettings,
    Analyzer,
    BreakTaken,
    Event,
    Placement,
    SittingBout,
    SittingStarted,
    UserAction,
)

MIN = 60.0
# Alerts fall on the 0.1-s frame grid at or after the due time.
GRID_S = 0.1 + 1e-6
# An action applies at once, but postures become final only after the analyser's
# look-ahead (3.2 s: features, decision delay, smoothing), so an alert released by an action may carry a frame time up
# to that much earlier.
LOOKAHEAD_S = 3.5


def run(
    t: NDArray[np.float64],
    acc: NDArray[np.float64],
    policy: AlertPolicy | None = None,
    actions: tuple[tuple[float, UserAction], ...] = (),
) -> list[Event]:
    """Feed samples, applying each action once the samples reach its time."""
    analyzer = Analyzer(AnalysisSettings(Placement.THIGH, policy=policy or AlertPolicy()))
    events: list[Event] = []
    done = 0
    for at, action in actions:
        i = int(np.searchsorted(t, at))
        events += analyzer.update(t[done:i], acc[done:i])
        events += analyzer.act(action, at)
        done = i
    events += analyzer.update(t[done:], acc[done:])
    return events + analyzer.flush()


def alerts(events: list[Event]) -> list[Alert]:
    return [e for e in events if isinstance(e, Alert)]


def test_alert_after_30_min_then_repeats_every_10_min(make_signal: Any) -> None:
    """An unanswered alert comes at 30 min of sitting and repeats after 10 min."""
    t, acc = make_signal([("standing", 10.0), ("sitting", 51 * MIN)], rate_hz=10.0)
    got = alerts(run(t, acc))
    assert [a.repeat for a in got] == [0, 1, 2]
    assert [a.t_s - 10.0 for a in got] == pytest.approx([30 * MIN, 40 * MIN, 50 * MIN], abs=GRID_S)
    assert all(a.sitting_since_s == pytest.approx(10.0, abs=GRID_S) for a in got)
    assert got[0].stretch_id == "squat"
    assert got[0].to_dict()["alert"] == "sit_too_long"


def test_done_postpones_the_reminder_by_repeat_time(make_signal: Any) -> None:
    """'Done' settles the alert; without a break the next one comes 10 min after the answer."""
    t, acc = make_signal([("sitting", 45 * MIN)], rate_hz=10.0)
    got = alerts(run(t, acc, actions=((32 * MIN, UserAction.DONE),)))
    assert [a.t_s for a in got] == pytest.approx([30 * MIN, 42 * MIN], abs=GRID_S)


def test_snooze_silences_for_snooze_time(make_signal: Any) -> None:
    """A snooze at 30.5 min moves the reminder to 40.5 min."""
    t, acc = make_signal([("sitting", 45 * MIN)], rate_hz=10.0)
    events = run(t, acc, actions=((30.5 * MIN, UserAction.SNOOZE),))
    assert [a.t_s for a in alerts(events)] == pytest.approx([30 * MIN, 40.5 * MIN], abs=GRID_S)
    applied = [e for e in events if isinstance(e, ActionApplied)]
    assert applied[0].until_s == pytest.approx(40.5 * MIN)


def test_meeting_silences_until_it_ends(make_signal: Any) -> None:
    """No alert during a meeting; ending the meeting lets the due alert through."""
    t, acc = make_signal([("sitting", 80 * MIN)], rate_hz=10.0)
    got = alerts(run(t, acc, actions=((5 * MIN, UserAction.MEETING), (50 * MIN, UserAction.MEETING_END))))
    assert 50 * MIN - LOOKAHEAD_S <= got[0].t_s <= 50 * MIN + GRID_S
    quiet = alerts(run(t, acc, actions=((5 * MIN, UserAction.MEETING),)))
    assert quiet[0].t_s == pytest.approx(65 * MIN, abs=GRID_S)  # the 60-min meeting ran out


def test_working_hours_hold_alerts_until_work_starts(make_signal: Any) -> None:
    """Sitting from 08:00 with working hours 09-17 gives the first alert at 09:00."""
    day = 19_000 * 86400.0  # a midnight UTC
    t, acc = make_signal([("sitting", 75 * MIN)], rate_hz=10.0, t0_s=day + 8 * 3600.0)
    policy = AlertPolicy(working_hours=(9.0, 17.0))
    got = alerts(run(t, acc, policy))
    assert [a.t_s - day for a in got] == pytest.approx([9 * 3600.0, 9 * 3600.0 + 10 * MIN], abs=GRID_S)
    shifted = AlertPolicy(working_hours=(9.0, 17.0), utc_offset_h=1.0)  # 08:00 UTC is 09:00 local
    assert alerts(run(t, acc, shifted))[0].t_s - day == pytest.approx(8.5 * 3600.0, abs=GRID_S)


def test_fidget_shorter_than_a_break_does_not_end_the_bout(make_signal: Any) -> None:
    """A 45 s stand inside 40 min of sitting leaves one bout and the alert at 30 min."""
    t, acc = make_signal([("sitting", 20 * MIN), ("standing", 45.0), ("sitting", 20 * MIN)], rate_hz=10.0)
    events = run(t, acc)
    bouts = [e for e in events if isinstance(e, SittingBout)]
    assert len(bouts) == 1
    assert bouts[0].end_s - bouts[0].start_s == pytest.approx(40 * MIN + 45.0, abs=1.0)
    assert not [e for e in events if isinstance(e, BreakTaken)]
    assert alerts(events)[0].t_s == pytest.approx(30 * MIN, abs=GRID_S)


def test_one_minute_walk_is_a_break_and_restarts_the_clock(make_signal: Any) -> None:
    """A 70 s walk ends the bout with a break; the next alert needs 30 new minutes."""
    t, acc = make_signal([("sitting", 20 * MIN), ("walking", 70.0), ("sitting", 35 * MIN)], rate_hz=10.0)
    events = run(t, acc)
    bouts = [e for e in events if isinstance(e, SittingBout)]
    breaks = [e for e in events if isinstance(e, BreakTaken)]
    assert len(bouts) == 2
    # The look-ahead blurs posture edges by under a second.
    assert bouts[0].end_s == pytest.approx(20 * MIN, abs=1.0)
    assert len(breaks) == 1
    assert breaks[0].start_s == pytest.approx(20 * MIN, abs=1.0)
    assert breaks[0].end_s - breaks[0].start_s == pytest.approx(MIN)
    starts = [e.t_s for e in events if isinstance(e, SittingStarted)]
    assert starts == pytest.approx([0.0, 20 * MIN + 70.0], abs=1.0)
    assert [a.t_s for a in alerts(events)] == pytest.approx([starts[1] + 30 * MIN], abs=GRID_S)


def test_policy_rejects_nonsense() -> None:
    """Settings check themselves."""
    with pytest.raises(ValueError, match="min_break_s"):
        AlertPolicy(min_break_s=0)
    with pytest.raises(ValueError, match="working_hours"):
        AlertPolicy(working_hours=(9.0, 9.0))
    with pytest.raises(ValueError, match="utc_offset_h"):
        AlertPolicy(utc_offset_h=30.0)
