"""The streaming analyser: chunk invariance, snapshots, status and input checks."""

from __future__ import annotations

import itertools
import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from analysis import (
    Alert,
    AlertPolicy,
    AnalysisSettings,
    Analyzer,
    Event,
    Placement,
    Posture,
    PostureBout,
    SittingBout,
    analyze,
)
from analysis.settings import ThighTuning

Signal = tuple[NDArray[np.float64], NDArray[np.float64]]
# Short policy so that a few minutes of signal exercise bouts, breaks and repeats.
QUICK = AlertPolicy(max_sitting_s=60.0, min_break_s=10.0, repeat_s=20.0)
#: The synthetic seat has no move at all, as still as a sleeper (``analysis.stillness``):
#: the tests of the alert policy itself hold no alert back for it.
AWAKE = ThighTuning(hold_s=48 * 3600.0)


@pytest.fixture(scope="module")
def irregular(make_signal: Any) -> Signal:
    """Four minutes of mixed postures with jittered, repeated and missing timestamps."""
    t, acc = make_signal(
        [
            ("standing", 20.0),
            ("walking", 25.0),
            ("sitting", 90.0),
            ("standing", 5.0),
            ("sitting", 40.0),
            ("walking", 15.0),
            ("sitting", 30.0),
        ],
        rate_hz=50.0,
        seed=3,
    )
    rng = np.random.default_rng(7)
    t = t + rng.uniform(0.0, 0.015, t.size)
    t = np.maximum.accumulate(np.round(t, 3))  # millisecond stamps: some repeat (dt = 0)
    keep = np.ones(t.size, dtype=bool)
    keep[rng.integers(0, t.size, 400)] = False  # dropouts
    keep[(t > 100.0) & (t < 101.5)] = False  # a 1.5 s gap inside the sitting
    return t[keep], acc[keep]


def feed(analyzer: Analyzer, t: NDArray[np.float64], acc: NDArray[np.float64], cuts: list[int]) -> list[Event]:
    events: list[Event] = []
    bounds = [0, *sorted(cuts), t.size]
    for a, b in itertools.pairwise(bounds):
        events += analyzer.update(t[a:b], acc[a:b])
    return events


@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=12_000), max_size=12))
def test_any_chunking_gives_the_batch_events(irregular: Signal, cuts: list[int]) -> None:
    """Feeding the samples in any chunks gives exactly the events of one chunk."""
    t, acc = irregular
    cfg = AnalysisSettings(Placement.THIGH, policy=QUICK)
    batch = Analyzer(cfg)
    expected = batch.update(t, acc) + batch.flush()
    chunked = Analyzer(cfg)
    got = feed(chunked, t, acc, [min(c, t.size) for c in cuts]) + chunked.flush()
    assert got == expected


def test_irregular_signal_gives_bouts_breaks_and_alerts(irregular: Signal) -> None:
    """The chunking test signal really exercises every event type."""
    t, acc = irregular
    result = analyze(t, acc, AnalysisSettings(Placement.THIGH, policy=QUICK))
    kinds = {b.posture for b in result.bouts}
    assert {Posture.SITTING, Posture.STANDING, Posture.WALKING} <= kinds
    assert result.sitting_bouts
    assert result.breaks
    assert result.alerts
    # The 5 s stand is a fidget: the 90 s and 40 s sittings form one bout.
    assert result.sitting_bouts[0].end_s - result.sitting_bouts[0].start_s > 130.0


def test_bouts_tile_the_recording(irregular: Signal) -> None:
    """Posture bouts are contiguous from the first sample to the end."""
    t, acc = irregular
    bouts = analyze(t, acc, AnalysisSettings(Placement.WAIST)).bouts
    assert bouts[0].start_s == t[0]
    assert all(a.end_s == b.start_s for a, b in itertools.pairwise(bouts))
    assert t[-1] <= bouts[-1].end_s <= t[-1] + 0.1


@pytest.mark.parametrize("split", [3_000, 6_000, 9_000])
def test_restore_continues_the_running_bout(irregular: Signal, split: int) -> None:
    """Snapshot mid-stream, restore, feed the rest: same events as without the restart."""
    t, acc = irregular
    cfg = AnalysisSettings(Placement.THIGH, policy=QUICK)
    whole = Analyzer(cfg)
    expected = whole.update(t, acc) + whole.flush()
    first = Analyzer(cfg)
    events = first.update(t[:split], acc[:split])
    snap = json.loads(json.dumps(first.snapshot()))
    second = Analyzer.restore(cfg, snap)
    assert second.status() == first.status()
    events += second.update(t[split:], acc[split:]) + second.flush()
    assert events == expected


def test_restore_mid_sitting_keeps_bout_start(make_signal: Any) -> None:
    """A restart 10 min into sitting keeps the bout start and the alert at 30 min."""
    t, acc = make_signal([("walking", 20.0), ("sitting", 35 * 60.0)], rate_hz=10.0)
    cfg = AnalysisSettings(Placement.THIGH, thigh=AWAKE)
    first = Analyzer(cfg)
    half = int(np.searchsorted(t, 620.0))
    first.update(t[:half], acc[:half])
    before = first.status()
    assert before.sitting_since_s == pytest.approx(20.0, abs=1.0)
    assert before.reference_ready
    second = Analyzer.restore(cfg, json.loads(json.dumps(first.snapshot())))
    events = second.update(t[half:], acc[half:]) + second.flush()
    alerts = [e for e in events if e.kind == "alert"]
    bouts = [e for e in events if isinstance(e, SittingBout)]
    assert len(alerts) == 1
    assert alerts[0].to_dict()["sitting_since_s"] == before.sitting_since_s
    assert bouts[0].start_s == before.sitting_since_s


def test_restore_rejects_other_placement() -> None:
    """A snapshot of a thigh analyser does not load into a waist one."""
    snap = Analyzer(AnalysisSettings(Placement.THIGH)).snapshot()
    with pytest.raises(ValueError, match="placement"):
        Analyzer.restore(AnalysisSettings(Placement.WAIST), snap)


def test_status_reports_current_sitting(make_signal: Any) -> None:
    """Status gives the provisional posture, the running bout and its length."""
    t, acc = make_signal([("standing", 10.0), ("sitting", 120.0)], rate_hz=20.0)
    analyzer = Analyzer(AnalysisSettings(Placement.THIGH))
    assert analyzer.status().t_s is None
    analyzer.update(t, acc)
    status = analyzer.status()
    assert status.posture is Posture.SITTING
    assert status.sitting_since_s == pytest.approx(10.0, abs=1.0)
    assert status.sitting_s == pytest.approx(t[-1] - status.sitting_since_s)
    assert not status.reference_ready  # no walking seen: the device axis stands in
    assert json.loads(json.dumps(status.to_dict()))["posture"] == "sitting"


def test_status_splits_slouch_time_between_closed_bouts_and_the_running_one(make_signal: Any) -> None:
    """Live, a day's slouch time is the closed bouts' ``slouch_s`` plus the running posture's."""
    chest = {"walking": (1.0, 0.0, 0.0), "standing": (1.0, 0.0, 0.0), "sitting": (0.866, 0.0, 0.5)}
    script = [("walking", 30.0), ("sitting", 100.0), ("walking", 20.0), ("sitting", 60.0)]
    t, acc = make_signal(script, gravity=chest, rate_hz=20.0)
    analyzer = Analyzer(AnalysisSettings(Placement.CHEST))
    closed: list[PostureBout] = []
    for cut in np.array_split(np.arange(t.size), 40):
        closed += [e for e in analyzer.update(t[cut], acc[cut]) if isinstance(e, PostureBout)]
        status = analyzer.status()
        assert sum(b.slouch_s for b in closed) + status.posture_slouch_s == pytest.approx(status.slouch_s)
    assert status.posture is Posture.SITTING
    assert status.posture_slouch_s == pytest.approx(60.0, abs=5.0)  # the second sitting, still running
    assert status.slouch_s == pytest.approx(160.0, abs=10.0)
    restored = Analyzer.restore(AnalysisSettings(Placement.CHEST), analyzer.snapshot())
    assert restored.status().posture_slouch_s == status.posture_slouch_s


def test_empty_chunks_and_empty_stream() -> None:
    """Zero-length chunks are fine; a stream without samples gives no events."""
    analyzer = Analyzer(AnalysisSettings(Placement.CHEST))
    assert analyzer.update(np.empty(0), np.empty((0, 3))) == []
    assert analyzer.flush() == []
    result = analyze(np.empty(0), np.empty((0, 3)), AnalysisSettings(Placement.CHEST))
    assert result.samples == 0
    assert result.bouts == ()


@pytest.mark.parametrize(
    ("t", "acc", "message"),
    [
        (np.zeros(3), np.zeros((3, 2)), "shape"),
        (np.array([0.0, np.nan]), np.zeros((2, 3)), "finite"),
    ],
)
def test_bad_input_raises(t: NDArray[np.float64], acc: NDArray[np.float64], message: str) -> None:
    """Programmer errors (shape, NaN) raise ValueError; times going back do not (test_time_jumps)."""
    with pytest.raises(ValueError, match=message):
        Analyzer(AnalysisSettings(Placement.THIGH)).update(t, acc)


def test_update_after_flush_is_an_error() -> None:
    """A flushed analyser does not take more samples."""
    analyzer = Analyzer(AnalysisSettings(Placement.THIGH))
    analyzer.flush()
    with pytest.raises(RuntimeError, match="flushed"):
        analyzer.update(np.array([0.0]), np.ones((1, 3)))


def test_events_serialise_to_json(irregular: Signal) -> None:
    """Every event's to_dict() is JSON-ready and names its kind."""
    t, acc = irregular
    analyzer = Analyzer(AnalysisSettings(Placement.THIGH, policy=QUICK))
    events = analyzer.update(t, acc) + analyzer.flush()
    events += analyzer.act("snooze")  # type: ignore[arg-type]  # plain strings are accepted too
    kinds = {json.loads(json.dumps(e.to_dict()))["kind"] for e in events}
    assert kinds == {"posture_bout", "sitting_started", "sitting_bout", "break", "alert", "action"}
    assert isinstance(events[0], PostureBout)


def test_a_new_policy_takes_effect_in_the_running_bout(make_signal: Any) -> None:
    """Lowering the limit mid-bout alerts at the next update; quiet hours then hold the repeat back."""
    t, acc = make_signal([("walking", 20.0), ("sitting", 40 * 60.0)], rate_hz=10.0)
    analyzer = Analyzer(AnalysisSettings(Placement.THIGH, thigh=AWAKE))
    cut = int(np.searchsorted(t, 20 * 60.0))
    assert not [e for e in analyzer.update(t[:cut], acc[:cut]) if e.kind == "alert"]
    since = analyzer.status().sitting_since_s
    assert since is not None
    analyzer.set_policy(AlertPolicy(max_sitting_s=15 * 60.0, repeat_s=300.0))
    cut2 = int(np.searchsorted(t, 21 * 60.0))
    alerts = [e for e in analyzer.update(t[cut:cut2], acc[cut:cut2]) if isinstance(e, Alert)]
    assert len(alerts) == 1
    # At once (the first frame whose posture is final after the change), not 15 min later.
    assert t[cut] - analyzer.lookahead_s - 1.0 <= alerts[0].t_s <= t[cut] + 1.0
    assert alerts[0].sitting_since_s == since
    # Quiet from 22 to 30 min past midnight (the signal's clock starts at midnight): the
    # repeat due at 25 min waits until 30 min, then the 5-min repeats go on.
    quiet = AlertPolicy(max_sitting_s=15 * 60.0, repeat_s=300.0, quiet_hours=((22 / 60, 30 / 60),))
    analyzer.set_policy(quiet)
    rest = [e for e in analyzer.update(t[cut2:], acc[cut2:]) + analyzer.flush() if isinstance(e, Alert)]
    assert [a.t_s for a in rest][:2] == [pytest.approx(30 * 60.0, abs=0.2), pytest.approx(35 * 60.0, abs=0.2)]
