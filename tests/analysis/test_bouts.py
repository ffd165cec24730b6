"""Sitting bouts, breaks and the alert policy (DESIGN.md, "Alert policy")."""

from __future__ import annotations

import itertools
import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from numpy.typing import NDArray

from analysis import (
    ActionApplied,
    Alert,
    AlertPolicy,
    AnalysisSettings,
    Analyzer,
    BreakTaken,
    DataGap,
    Event,
    Placement,
    Posture,
    PostureBout,
    SittingBout,
    SittingStarted,
    UserAction,
)
from analysis.bouts import BoutTracker
from analysis.settings import POSTURE_CODES, ThighTuning

MIN = 60.0
#: The synthetic seat has no move at all, as still as a sleeper (``analysis.stillness``):
#: the tests of the alert policy itself hold no alert back for it.
AWAKE = ThighTuning(hold_s=48 * 3600.0)
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
    analyzer = Analyzer(AnalysisSettings(Placement.THIGH, policy=policy or AlertPolicy(), thigh=AWAKE))
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


def test_dismiss_settles_the_alert_like_done(make_signal: Any) -> None:
    """'Dismiss' closes the open alert with no quiet time; still seated, the next one comes 10 min later."""
    t, acc = make_signal([("sitting", 45 * MIN)], rate_hz=10.0)
    events = run(t, acc, actions=((32 * MIN, UserAction.DISMISS),))
    assert [a.t_s for a in alerts(events)] == pytest.approx([30 * MIN, 42 * MIN], abs=GRID_S)
    applied = [e for e in events if isinstance(e, ActionApplied)]
    assert [(str(e.action), e.until_s) for e in applied] == [("dismiss", None)]


def test_a_break_taken_without_a_button_closes_the_open_alert(make_signal: Any) -> None:
    """The alert stays open while the wearer sits on, and closes once a one-minute walk ends the bout."""
    t, acc = make_signal([("sitting", 33 * MIN), ("walking", 2 * MIN)], rate_hz=10.0)
    analyzer = Analyzer(AnalysisSettings(Placement.THIGH, thigh=AWAKE))
    sitting = int(np.searchsorted(t, 33 * MIN))
    analyzer.update(t[:sitting], acc[:sitting])
    alert = analyzer.status().open_alert
    assert alert is not None
    assert alert.t_s == pytest.approx(30 * MIN, abs=GRID_S)
    analyzer.update(t[sitting:], acc[sitting:])
    assert analyzer.status().open_alert is None
    assert analyzer.status().sitting_since_s is None


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
    """A 70 s walk ends the bout with a 70 s break; the next alert needs 30 new minutes."""
    t, acc = make_signal([("sitting", 20 * MIN), ("walking", 70.0), ("sitting", 35 * MIN)], rate_hz=10.0)
    events = run(t, acc)
    bouts = [e for e in events if isinstance(e, SittingBout)]
    breaks = [e for e in events if isinstance(e, BreakTaken)]
    assert len(bouts) == 2
    # The look-ahead blurs posture edges by under a second.
    assert bouts[0].end_s == pytest.approx(20 * MIN, abs=1.0)
    assert len(breaks) == 1
    assert breaks[0].start_s == pytest.approx(20 * MIN, abs=1.0)
    assert breaks[0].end_s - breaks[0].start_s == pytest.approx(70.0, abs=1.0)
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


# --- what a sitting bout is, and where a break ends (analysis.bouts) --------------------

FRAME_S = 0.1
GAP_HALF = 5  # frames: half the 1.1-s gravity window at the default tuning


def frames_of(runs: list[tuple[str, float]]) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Per-frame posture codes and sample counts of ``(posture or "gap", seconds)`` runs.

    A gap is frames without samples, which the posture labels ``other``.
    """
    codes: list[NDArray[np.int64]] = []
    counts: list[NDArray[np.float64]] = []
    for name, seconds in runs:
        n = round(seconds / FRAME_S)
        posture = Posture.OTHER if name == "gap" else Posture(name)
        codes.append(np.full(n, POSTURE_CODES.index(posture), dtype=np.int64))
        counts.append(np.full(n, 0.0 if name == "gap" else 5.0))
    return np.concatenate(codes), np.concatenate(counts)


def track(runs: list[tuple[str, float]], policy: AlertPolicy | None = None, cuts: tuple[int, ...] = ()) -> list[Event]:
    """Run a ``BoutTracker`` over the runs, fed in pieces at ``cuts`` (frame indices)."""
    codes, counts = frames_of(runs)
    tracker = BoutTracker(policy or AlertPolicy(), FRAME_S, gap_half_frames=GAP_HALF)
    events: list[Event] = []
    known = 0
    bounds = [0, *sorted({c for c in cuts if 0 < c < codes.size}), codes.size]
    for a, b in itertools.pairwise(bounds):
        # Sample counts are known a little ahead of the final postures, as in Analyzer.
        ahead = min(codes.size, b + GAP_HALF)
        tracker.frames_closed(known, counts[known:ahead])
        known = max(known, ahead)
        events += tracker.update(0.0, a, codes[a:b])
    return events + tracker.flush(0.0)


def of(kind: type[Any], events: list[Event]) -> list[tuple[float, float]]:
    return [(round(e.start_s, 1), round(e.end_s, 1)) for e in events if isinstance(e, kind)]


def test_a_sub_second_sitting_blip_is_no_bout() -> None:
    """0.6 s of sitting at the start of a few squats makes no bout and no break; sitting time keeps it."""
    events = track([("standing", 120.0), ("sitting", 0.6), ("walking", 20.0), ("standing", 120.0)])
    assert of(SittingBout, events) == []
    assert of(BreakTaken, events) == []
    assert (120.0, 120.6) in of(PostureBout, events)


@pytest.mark.parametrize(("sitting_s", "bouts"), [(9.9, 0), (AlertPolicy().min_run_s, 1)])
def test_sitting_makes_a_bout_once_it_lasts_the_minimum_run(sitting_s: float, bouts: int) -> None:
    """A sitting run seats the wearer from its start once it lasts the policy's min_run_s (10 s by default)."""
    events = track([("walking", 60.0), ("sitting", sitting_s), ("walking", 90.0)])
    assert of(SittingBout, events) == [(60.0, round(60.0 + sitting_s, 1))] * bouts
    assert [e.t_s for e in events if isinstance(e, SittingStarted)] == [60.0] * bouts


@pytest.mark.parametrize(("min_run_s", "bouts"), [(2.0, 1), (5.0, 0)])
def test_the_minimum_run_is_a_policy_option(min_run_s: float, bouts: int) -> None:
    """4 s of sitting seats the wearer with a 2-s minimum run, not with a 5-s one."""
    events = track([("walking", 60.0), ("sitting", 4.0), ("walking", 90.0)], AlertPolicy(min_run_s=min_run_s))
    assert of(SittingBout, events) == [(60.0, 64.0)] * bouts


def test_a_bad_minimum_run_is_refused() -> None:
    with pytest.raises(ValueError, match="min_run_s"):
        AlertPolicy(min_run_s=0.0)


def test_the_minimum_run_is_never_longer_than_the_minimum_break() -> None:
    """With 5-s breaks, 6 s of sitting is a bout and 6 s of walking a break."""
    policy = AlertPolicy(min_break_s=5.0)
    events = track([("walking", 20.0), ("sitting", 6.0), ("walking", 6.0), ("sitting", 30.0)], policy)
    assert of(SittingBout, events) == [(20.0, 26.0), (32.0, 62.0)]
    assert of(BreakTaken, events) == [(26.0, 32.0)]


def test_a_break_runs_from_the_bout_to_the_next_sitting() -> None:
    """Walk, stand, a sitting blip, squats and standing after a bout: one break up to the next sitting."""
    events = track(
        [
            ("sitting", 20 * MIN),
            ("walking", 120.0),
            ("sitting", 0.6),  # the low point of the first squat
            ("other", 20.0),  # squats
            ("standing", 24 * MIN),
            ("sitting", 5 * MIN),
        ]
    )
    end = 20 * MIN + 120.0 + 0.6 + 20.0 + 24 * MIN
    assert of(SittingBout, events) == [(0.0, 20 * MIN), (round(end, 1), round(end + 5 * MIN, 1))]
    assert of(BreakTaken, events) == [(20 * MIN, round(end, 1))]


def test_a_break_ends_where_lying_for_a_break_begins() -> None:
    """Lying (or non-wear, or no data) for the minimum break ends the break at the last upright frame."""
    for away in ("lying", "nonwear", "gap"):
        events = track([("sitting", 20 * MIN), ("standing", 5 * MIN), (away, 10 * MIN), ("standing", 2 * MIN)])
        assert of(BreakTaken, events) == [(20 * MIN, 25 * MIN)], away


def test_shorter_stretches_inside_a_break_stay_in_it() -> None:
    """45 s of lying between two stands is inside the break."""
    events = track([("sitting", 20 * MIN), ("standing", 2 * MIN), ("lying", 45.0), ("standing", 2 * MIN)])
    assert of(BreakTaken, events) == [(20 * MIN, 20 * MIN + 285.0)]


def test_a_short_sit_inside_a_long_stand_does_not_hide_the_break() -> None:
    """Sitting for 3 s between two 40-s stands: the 83 s on one's feet are a break."""
    events = track([("sitting", 20 * MIN), ("standing", 40.0), ("sitting", 3.0), ("standing", 40.0), ("sitting", MIN)])
    assert of(SittingBout, events) == [(0.0, 20 * MIN), (20 * MIN + 83.0, 20 * MIN + 143.0)]
    assert of(BreakTaken, events) == [(20 * MIN, 20 * MIN + 83.0)]


def test_restless_sitting_stays_one_bout() -> None:
    """Sitting broken every 3 s by a 1-s movement stays seated: one bout, no break."""
    flicker = [("other", 1.0), ("sitting", 3.0)] * 60
    events = track([("sitting", 10 * MIN), *flicker, ("sitting", 10 * MIN), ("walking", 2 * MIN)])
    assert of(SittingBout, events) == [(0.0, 24 * MIN)]
    assert of(BreakTaken, events) == [(24 * MIN, 26 * MIN)]


def test_frames_without_samples_are_a_gap_not_a_posture() -> None:
    """A 5-min hole in the data is a DataGap between the posture bouts, and ends the sitting bout."""
    events = track([("sitting", 10 * MIN), ("gap", 5 * MIN), ("sitting", 10 * MIN)])
    # Frames within half the gravity window of a sample keep their posture (here the
    # ``other`` the hole was labelled with); the rest of the hole is the gap.
    assert of(DataGap, events) == [(600.5, 899.5)]
    assert of(PostureBout, events) == [(0.0, 600.0), (600.0, 600.5), (899.5, 900.0), (900.0, 1500.0)]
    assert of(SittingBout, events) == [(0.0, 600.0), (900.0, 1500.0)]
    assert of(BreakTaken, events) == []


def test_a_posture_carried_over_a_short_dropout_is_kept() -> None:
    """Frames without samples that the majority filter gave a posture stay that posture."""
    codes, counts = frames_of([("sitting", 60.0), ("gap", 2.0), ("sitting", 60.0)])
    codes[:] = POSTURE_CODES.index(Posture.SITTING)
    tracker = BoutTracker(AlertPolicy(), FRAME_S, gap_half_frames=GAP_HALF)
    tracker.frames_closed(0, counts)
    events = tracker.update(0.0, 0, codes) + tracker.flush(0.0)
    assert of(DataGap, events) == []
    assert of(PostureBout, events) == [(0.0, 122.0)]


runs_strategy = st.lists(
    st.tuples(
        st.sampled_from(["sitting", "standing", "walking", "lying", "other", "nonwear", "gap"]), st.integers(1, 900)
    ),
    min_size=1,
    max_size=14,
)


@hsettings(max_examples=60, deadline=None, database=None)
@given(runs=runs_strategy, cuts=st.lists(st.integers(1, 10_000), max_size=6), at=st.integers(1, 10_000))
def test_any_chunking_and_a_restart_give_the_batch_events(
    runs: list[tuple[str, int]], cuts: list[int], at: int
) -> None:
    """Bouts, breaks and gaps do not depend on chunking, nor on a snapshot and restore between chunks."""
    seconds = [(name, n * FRAME_S) for name, n in runs]
    policy = AlertPolicy(max_sitting_s=120.0, min_break_s=30.0, repeat_s=60.0)
    batch = track(seconds, policy)
    assert track(seconds, policy, tuple(cuts)) == batch
    codes, counts = frames_of(seconds)
    at = min(at, codes.size)
    first = BoutTracker(policy, FRAME_S, gap_half_frames=GAP_HALF)
    first.frames_closed(0, counts[: at + GAP_HALF])
    events = first.update(0.0, 0, codes[:at])
    second = BoutTracker(policy, FRAME_S, gap_half_frames=GAP_HALF)
    second.load(json.loads(json.dumps(first.snapshot())))
    second.frames_closed(at + GAP_HALF, counts[at + GAP_HALF :])
    events += second.update(0.0, at, codes[at:]) + second.flush(0.0)
    assert events == batch


def test_a_snapshot_from_before_seated_state_and_gaps_still_loads(make_signal: Any) -> None:
    """An Analyzer snapshot without the newer bout keys restores and gives the same bouts."""
    t, acc = make_signal([("walking", 30.0), ("sitting", 300.0), ("walking", 90.0)], rate_hz=10.0)
    cfg = AnalysisSettings(Placement.THIGH)
    whole = Analyzer(cfg)
    expected = whole.update(t, acc) + whole.flush()
    first = Analyzer(cfg)
    half = int(np.searchsorted(t, 200.0))
    events = first.update(t[:half], acc[:half])
    snap = json.loads(json.dumps(first.snapshot()))
    for key in ("seated", "sit_k", "away_k", "idle_start_s", "break_start_s", "break_end_s", "empty_runs", "known_k"):
        del snap["detectors"]["posture"]["state"]["bouts"][key]
    second = Analyzer.restore(cfg, snap)
    events += second.update(t[half:], acc[half:]) + second.flush()
    assert [e for e in events if isinstance(e, (SittingBout, BreakTaken))] == [
        e for e in expected if isinstance(e, (SittingBout, BreakTaken))
    ]
