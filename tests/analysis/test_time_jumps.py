"""Jumps of the wearable's clock: jitter is held, real jumps start a new segment."""

from __future__ import annotations

import itertools
import json
import math
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
    PostureTuning,
    ResultBuilder,
    SittingBout,
    SittingStarted,
    TimeJump,
    UserAction,
    analyze,
)
from firmware_sim import Activity, Script, Step, generate

Signal = tuple[NDArray[np.float64], NDArray[np.float64]]

T0_S = 1.7e9  # epoch seconds, as the live worker sees them
RATE_HZ = 20.0
FRAME_S = PostureTuning().frame_s
PACKET = 25  # samples per packet of the simulated wearable
# A short policy: one alert a minute into each sitting bout, no repeat within these tests.
POLICY = AlertPolicy(max_sitting_s=60.0, min_break_s=10.0, repeat_s=600.0)
CFG = AnalysisSettings(Placement.THIGH, policy=POLICY)
# Sit-downs are seen within about a second (the look-ahead and the edge of the movement).
EDGE_S = 1.5
# A whole analyser state is a few kB; a day of frames or held samples would be megabytes.
SMALL_STATE_BYTES = 50_000


def two_parts(make_signal: Any, step_s: float, after: list[tuple[str, float]] | None = None) -> tuple[Signal, float]:
    """A walk and 100 s of sitting, then the clock steps by ``step_s`` and ``after`` follows.

    Returns:
        The samples and the time of the first sample after the step.
    """
    t1, a1 = make_signal([("walking", 20.0), ("sitting", 100.0)], rate_hz=RATE_HZ, seed=1, t0_s=T0_S)
    script = [("walking", 20.0), ("sitting", 150.0)] if after is None else after
    t2, a2 = make_signal(script, rate_hz=RATE_HZ, seed=2, t0_s=float(t1[-1]) + step_s)
    return (np.concatenate([t1, t2]), np.concatenate([a1, a2])), float(t2[0])


def run(analyzer: Analyzer, t: NDArray[np.float64], acc: NDArray[np.float64], size: int = PACKET) -> list[Event]:
    """Feed packets of ``size`` samples as the live worker does, then flush."""
    events: list[Event] = []
    for i in range(0, t.size, size):
        events += analyzer.update(t[i : i + size], acc[i : i + size])
    return events + analyzer.flush()


def split_at_jump(events: list[Event]) -> tuple[list[Event], TimeJump, list[Event]]:
    """The events before the only time jump, the jump and the events after it."""
    jumps = [i for i, e in enumerate(events) if isinstance(e, TimeJump)]
    assert len(jumps) == 1
    i = jumps[0]
    jump = events[i]
    assert isinstance(jump, TimeJump)
    return events[:i], jump, events[i + 1 :]


def check_bout_before(before: list[Event], jump: TimeJump) -> None:
    """The sitting bout before the jump was closed at its last sitting frame, not after it."""
    bouts = [e for e in before if isinstance(e, SittingBout)]
    assert len(bouts) == 1
    assert bouts[0].start_s == pytest.approx(T0_S + 20.0, abs=EDGE_S)
    # Frames end up to one frame after the sample in them.
    assert jump.from_s - EDGE_S <= bouts[0].end_s <= jump.from_s + FRAME_S
    alerts = [e for e in before if isinstance(e, Alert)]
    assert [a.sitting_since_s for a in alerts] == [bouts[0].start_s]


def check_sitting_after(after: list[Event], sit_from_s: float) -> None:
    """A sitting stretch after the jump starts its own bout and alerts a minute into it."""
    started = [e for e in after if isinstance(e, SittingStarted)]
    alerts = [e for e in after if isinstance(e, Alert)]
    assert len(started) == 1
    assert started[0].t_s == pytest.approx(sit_from_s, abs=EDGE_S)
    assert len(alerts) == 1
    assert alerts[0].sitting_since_s == started[0].t_s
    # Alerts fall at the end of the frame in which they are due.
    assert alerts[0].t_s - started[0].t_s == pytest.approx(POLICY.max_sitting_s, abs=FRAME_S + 1e-3)


@pytest.mark.parametrize("back_s", [86400.0, 3600.0, 5.0])
def test_clock_going_back_closes_the_bout_and_analysis_goes_on(make_signal: Any, back_s: float) -> None:
    """A clock that goes back by a day, an hour or 5 s starts a new segment instead of raising."""
    (t, acc), start_s = two_parts(make_signal, -back_s)
    events = run(Analyzer(CFG), t, acc)
    before, jump, after = split_at_jump(events)
    assert jump.t_s == start_s
    assert jump.from_s == pytest.approx(T0_S + 120.0 - 1 / RATE_HZ, abs=1e-6)
    assert jump.to_dict() == {"kind": "time_jump", "t_s": jump.t_s, "from_s": jump.from_s}
    check_bout_before(before, jump)
    check_sitting_after(after, start_s + 20.0)


@pytest.mark.parametrize("gap_s", [86400.0, 7 * 86400.0, 1e10])
def test_forward_jump_costs_nothing_and_raises_no_alert_across_it(make_signal: Any, gap_s: float) -> None:
    """A day, a week or 1e10 s later the analysis starts afresh, keeping no frame for the gap."""
    (t, acc), start_s = two_parts(make_signal, gap_s, after=[("sitting", 90.0)])
    analyzer = Analyzer(CFG)
    events: list[Event] = []
    n_jump = int(np.searchsorted(t, start_s))
    for i in range(0, t.size, PACKET):
        events += analyzer.update(t[i : i + PACKET], acc[i : i + PACKET])
        if i <= n_jump < i + PACKET:
            state = analyzer.snapshot()
            # Frames count from the new sample: only the packet's own few frames exist.
            assert state["framer"]["next_k"] <= PACKET / RATE_HZ / FRAME_S
            assert len(json.dumps(state)) < SMALL_STATE_BYTES
    events += analyzer.flush()
    before, jump, after = split_at_jump(events)
    assert jump.t_s == start_s
    check_bout_before(before, jump)
    # No alert between the last sample before the jump and the first after it.
    assert not [e for e in events if isinstance(e, Alert) and jump.from_s < e.t_s < jump.t_s]
    check_sitting_after(after, start_s)


def test_jump_cost_does_not_grow_with_its_size() -> None:
    """A jump of any size leaves the same small state; a gap under ``max_gap_s`` keeps its frames."""
    acc = np.tile([0.0, 1.0, 0.0], (40, 1))
    t = np.arange(40) / RATE_HZ
    sizes = {}
    for step_s in (-86400.0, 700.0, 86400.0, 1e10):
        analyzer = Analyzer(CFG)
        analyzer.update(t, acc)
        events = analyzer.update(t + t[-1] + step_s, acc)
        assert sum(isinstance(e, TimeJump) for e in events) == 1
        sizes[step_s] = analyzer.snapshot()["framer"]["next_k"]
    assert set(sizes.values()) == {sizes[1e10]}
    kept = Analyzer(CFG)
    kept.update(t, acc)
    assert not [e for e in kept.update(t + t[-1] + 500.0, acc) if isinstance(e, TimeJump)]
    assert kept.snapshot()["framer"]["next_k"] > 500.0 / FRAME_S  # the gap is missing data


def test_recording_played_twice_gives_its_bouts_and_alerts_twice() -> None:
    """A simulator run again with the same start: the second run is analysed like the first."""
    steps = [(Activity.WALKING, 30.0), (Activity.SITTING, 150.0), (Activity.STANDING, 30.0)]
    rec = generate(Script("twice", tuple(Step(a, s) for a, s in steps)), Placement.THIGH, seed=3, rate_hz=RATE_HZ)
    t = T0_S + rec.t_s
    events = run(Analyzer(CFG), np.concatenate([t, t]), np.concatenate([rec.acc_g, rec.acc_g]))
    first, jump, second = split_at_jump(events)
    assert (jump.from_s, jump.t_s) == (t[-1], t[0])

    def timeline(part: list[Event]) -> list[tuple[str, float]]:
        return [(e.kind, e.to_dict().get("t_s", e.to_dict().get("start_s"))) for e in part if e.kind != "posture_bout"]

    once, again = timeline(first), timeline(second)
    assert [kind for kind, _ in once] == ["sitting_started", "alert", "sitting_bout", "break"]
    assert [kind for kind, _ in again] == [kind for kind, _ in once]
    for (_, a), (_, b) in zip(once, again, strict=True):
        # The second run starts with the upright learned in the first.
        assert b == pytest.approx(a, abs=EDGE_S)


def test_small_jitter_back_is_held_and_changes_nothing(make_signal: Any) -> None:
    """Packets stamped 0.2 s early now and then give no jump and the same bouts and alerts."""
    t, acc = make_signal(
        [("walking", 20.0), ("sitting", 100.0), ("walking", 30.0), ("sitting", 80.0)], rate_hz=RATE_HZ, seed=4
    )
    jittered = t.copy()
    for i in range(PACKET, t.size, 4 * PACKET):
        jittered[i : i + PACKET] -= 0.2
    assert np.any(np.diff(jittered) < 0)
    clean = run(Analyzer(CFG), t, acc)
    held = run(Analyzer(CFG), jittered, acc)
    assert not [e for e in held if isinstance(e, TimeJump)]
    assert [e.kind for e in held] == [e.kind for e in clean]
    for a, b in zip(held, clean, strict=True):
        for key, value in a.to_dict().items():
            if isinstance(value, float):
                # Held samples move by at most the 0.2 s jitter, plus a frame.
                assert value == pytest.approx(b.to_dict()[key], abs=0.2 + FRAME_S)


def test_chunk_starting_a_little_before_the_last_is_held() -> None:
    """A chunk half a second before the previous one's end is jitter: held at the latest time."""
    analyzer = Analyzer(CFG)
    analyzer.update(np.array([0.0, 1.0]), np.ones((2, 3)))
    assert analyzer.update(np.array([0.5, 0.6]), np.ones((2, 3))) == []
    assert analyzer.status().t_s == 1.0
    assert analyzer.snapshot()["last_raw_t_s"] == 0.6


def test_clock_drifting_back_in_small_steps_starts_a_segment() -> None:
    """Steps back of 0.3 s that add up past ``max_step_back_s`` are a clock going back.

    Each is jitter on its own, but holding them all at the first time would pile every
    later sample into one frame.
    """
    t = 100.0 - 0.3 * np.arange(10)
    events = Analyzer(CFG).update(t, np.ones((10, 3)))
    jumps = [e for e in events if isinstance(e, TimeJump)]
    assert [(j.from_s, j.t_s) for j in jumps] == [(t[3], t[4]), (t[7], t[8])]


def test_clock_standing_still_keeps_the_state_small() -> None:
    """Packets that all start at the same time pile into one frame, which keeps only its sums."""
    analyzer = Analyzer(CFG)
    t = T0_S + np.arange(PACKET) / 50.0  # 0.5 s packets of a clock that never advances
    for _ in range(2000):
        assert analyzer.update(t, np.tile([0.0, 1.0, 0.0], (PACKET, 1))) == []
    state = analyzer.snapshot()
    assert state["framer"]["open"][0] > 1999 * PACKET  # every later packet is held at the first one's end
    assert len(json.dumps(state)) < SMALL_STATE_BYTES


def test_snapshot_holding_the_open_frames_samples_still_loads(make_signal: Any) -> None:
    """A framer saved with its open frame's raw samples resumes with the same events."""
    t, acc = make_signal([("walking", 20.0), ("sitting", 90.0)], rate_hz=RATE_HZ, seed=8, t0_s=T0_S)
    expected = run(Analyzer(CFG), t, acc)
    cut = 1203  # inside a frame
    first = Analyzer(CFG)
    events = first.update(t[:cut], acc[:cut])
    old = first.snapshot()
    framer = old["framer"]
    in_open = np.floor((t[:cut] - framer["t0_s"]) / FRAME_S) == framer["next_k"]
    assert in_open.sum() > 1
    del framer["open"]
    framer["carry_t"], framer["carry_acc"] = t[:cut][in_open].tolist(), acc[:cut][in_open].tolist()
    assert events + run(Analyzer.restore(CFG, old), t[cut:], acc[cut:]) == expected


def test_several_jumps_in_one_chunk_are_taken_in_turn() -> None:
    """A chunk interleaving two clocks a day apart gives one jump per switch, in order."""
    t = np.arange(600) / RATE_HZ + np.where(np.arange(600) // 3 % 2 == 1, 86400.0, 0.0)
    analyzer = Analyzer(CFG)
    events = analyzer.update(t, np.ones((600, 3)))
    jumps = [e for e in events if isinstance(e, TimeJump)]
    switches = np.flatnonzero(np.abs(np.diff(t)) > 100.0) + 1
    assert len(switches) == 199
    assert [(j.from_s, j.t_s) for j in jumps] == list(zip(t[switches - 1].tolist(), t[switches].tolist(), strict=True))
    assert analyzer.snapshot()["framer"]["next_k"] <= 3


def test_wearer_state_survives_a_jump(make_signal: Any) -> None:
    """The learned upright reference and the slouch time carry over a clock jump."""
    chest = {"walking": (1.0, 0.0, 0.0), "standing": (1.0, 0.0, 0.0), "sitting": (0.866, 0.0, 0.5)}
    cfg = AnalysisSettings(Placement.CHEST)
    t1, a1 = make_signal([("walking", 30.0), ("sitting", 60.0)], gravity=chest, rate_hz=RATE_HZ, t0_s=T0_S)
    analyzer = Analyzer(cfg)
    analyzer.update(t1, a1)
    slouch_before = analyzer.slouch_s
    assert analyzer.status().reference_ready
    t2, a2 = make_signal([("sitting", 30.0)], gravity=chest, rate_hz=RATE_HZ, seed=5, t0_s=T0_S - 3600.0)
    events = analyzer.update(t2[:PACKET], a2[:PACKET])
    assert [e.kind for e in events].count("time_jump") == 1
    assert analyzer.status().reference_ready  # no walking needed after the jump
    assert analyzer.slouch_s >= slouch_before
    analyzer.update(t2[PACKET:], a2[PACKET:])
    analyzer.flush()
    assert analyzer.slouch_s > slouch_before + 20.0  # the later sitting adds its own


@pytest.mark.parametrize(("step_s", "kept"), [(700.0, True), (-3600.0, False)])
def test_quiet_times_carry_over_forward_jumps_only(step_s: float, kept: bool) -> None:
    """A meeting in progress goes on after a forward jump; after a backward one its end means nothing."""
    analyzer = Analyzer(CFG)
    t = T0_S + np.arange(40) / RATE_HZ
    analyzer.update(t, np.ones((40, 3)))
    [applied] = analyzer.act(UserAction.MEETING)
    analyzer.update(t + t[-1] - T0_S + step_s, np.ones((40, 3)))
    assert analyzer.status().meeting_until_s == (applied.to_dict()["until_s"] if kept else None)


def test_restore_across_a_jump_continues_the_stream(make_signal: Any) -> None:
    """Snapshots before and after a jump, restored, give the events of an uninterrupted run."""
    (t, acc), start_s = two_parts(make_signal, -3600.0)
    expected = run(Analyzer(CFG), t, acc)
    n_jump = int(np.flatnonzero(t == start_s)[0])
    for cut in (n_jump, n_jump + 1, n_jump + 300):
        first = Analyzer(CFG)
        events = first.update(t[:cut], acc[:cut])
        second = Analyzer.restore(CFG, json.loads(json.dumps(first.snapshot())))
        assert second.span_s == first.span_s
        assert events + run(second, t[cut:], acc[cut:]) == expected


def test_snapshot_saved_before_jumps_were_handled_still_loads() -> None:
    """A version-3 snapshot without the previous raw time takes the framer's last time."""
    analyzer = Analyzer(CFG)
    analyzer.update(T0_S + np.arange(40) / RATE_HZ, np.ones((40, 3)))
    old = analyzer.snapshot()
    del old["last_raw_t_s"], old["closed_span_s"]
    restored = Analyzer.restore(CFG, old)
    events = restored.update(np.array([T0_S - 86400.0]), np.ones((1, 3)))
    jumps = [e for e in events if isinstance(e, TimeJump)]
    assert [(j.from_s, j.t_s) for j in jumps] == [(T0_S + 39 / RATE_HZ, T0_S - 86400.0)]


def test_times_too_large_to_place_on_frames_are_ignored() -> None:
    """Times where float64 is coarser than a frame are ignored; the samples after them count."""
    analyzer = Analyzer(CFG)
    assert analyzer.update(np.array([1.7e308, -1e300, 1e16]), np.ones((3, 3))) == []
    assert analyzer.status().t_s is None
    analyzer.update(np.array([1.7e9, 1.7e9 + 0.05]), np.ones((2, 3)))
    assert analyzer.status().t_s == 1.7e9 + 0.05
    assert analyzer.snapshot()["last_raw_t_s"] == 1.7e9 + 0.05


def test_bad_chunk_is_rejected_before_any_segment_changes() -> None:
    """A chunk with a jump and a NaN raises and leaves the analyser as it was."""
    analyzer = Analyzer(CFG)
    analyzer.update(np.arange(40) / RATE_HZ, np.ones((40, 3)))
    before = analyzer.snapshot()
    acc = np.ones((3, 3))
    acc[2, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        analyzer.update(np.array([5.0, 1e6, 1e6 + 0.05]), acc)
    assert analyzer.snapshot() == before


def test_result_lists_the_jumps_and_reports_the_forward_one_as_a_gap(make_signal: Any) -> None:
    """The JSON lists each jump from the first sample; a forward one is a gap, in the duration but not the rate."""
    (t, acc), start_s = two_parts(make_signal, 86400.0)
    result = analyze(t, acc, CFG)
    out = json.loads(json.dumps(result.to_json()))
    assert out["time_jumps"] == [{"from_s": pytest.approx(120.0 - 1 / RATE_HZ), "t_s": round(start_s - T0_S, 6)}]
    # The gap runs from the end of the last posture bout (the frame of the last sample).
    assert out["gaps"] == [{"start_s": pytest.approx(120.0, abs=0.1), "end_s": round(start_s - T0_S, 6)}]
    jump_s = start_s - T0_S - (120.0 - 1 / RATE_HZ)
    assert result.duration_s == pytest.approx(120.0 + 170.0 - 2 / RATE_HZ + jump_s)
    assert out["summary"]["gap_s"] == pytest.approx(jump_s, abs=0.1)
    assert result.rate_hz == pytest.approx(RATE_HZ, rel=1e-3)  # the gap starts up to a frame after the last sample
    assert result.samples == t.size
    builder = ResultBuilder(CFG)
    for part in np.array_split(np.arange(t.size), 9):
        builder.feed(t[part], acc[part])
    assert builder.finish() == result


def test_thresholds_must_be_positive() -> None:
    """Both jump thresholds are checked like every other knob."""
    with pytest.raises(ValueError, match="max_gap_s"):
        PostureTuning(max_gap_s=0.0)
    with pytest.raises(ValueError, match="max_step_back_s"):
        PostureTuning(max_step_back_s=-1.0)


# --- properties ------------------------------------------------------------------------

_BASE_N = 2400  # two minutes at 20 Hz


@pytest.fixture(scope="module")
def mixed() -> Signal:
    """Two minutes of the simulated wearable walking, sitting and standing, to lay clock jumps over."""
    steps = [(Activity.WALKING, 15.0), (Activity.SITTING, 70.0), (Activity.STANDING, 15.0), (Activity.SITTING, 20.0)]
    rec = generate(Script("jumps", tuple(Step(a, s) for a, s in steps)), Placement.THIGH, seed=6, rate_hz=RATE_HZ)
    return rec.t_s[:_BASE_N], rec.acc_g[:_BASE_N]


steps = st.sampled_from([-1e10, -86400.0, -3600.0, -5.0, -1.5, -0.5, -0.2, 0.0, 30.0, 700.0, 86400.0, 1e10])


def with_jumps(t: NDArray[np.float64], jumps: list[tuple[int, float]]) -> NDArray[np.float64]:
    """Shift the samples from each index on by its step."""
    out = t.copy()
    for i, step in jumps:
        out[i:] += step
    return out


@settings(max_examples=30, deadline=None)
@given(
    jumps=st.lists(st.tuples(st.integers(1, _BASE_N - 1), steps), max_size=5),
    cuts=st.lists(st.integers(0, _BASE_N), max_size=10),
    restart=st.integers(0, 10),
)
def test_any_chunking_and_restart_give_the_batch_events(
    mixed: Signal, jumps: list[tuple[int, float]], cuts: list[int], restart: int
) -> None:
    """With clock jumps anywhere, any chunking, and a restart from a snapshot, events match one chunk."""
    t0, acc = mixed
    t = T0_S + with_jumps(t0, jumps)
    batch = Analyzer(CFG)
    expected = batch.update(t, acc) + batch.flush()
    chunked = Analyzer(CFG)
    got: list[Event] = []
    bounds = [0, *sorted(cuts), t.size]
    for n, (a, b) in enumerate(itertools.pairwise(bounds)):
        if n == restart:
            chunked = Analyzer.restore(CFG, json.loads(json.dumps(chunked.snapshot())))
        got += chunked.update(t[a:b], acc[a:b])
    got += chunked.flush()
    assert got == expected
    assert chunked.span_s == batch.span_s


times = st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from([0.0, 0.05, 1.7e9, -1.0, 600.0])


@settings(max_examples=200, deadline=None)
@given(t=st.lists(times, min_size=1, max_size=40), cuts=st.lists(st.integers(0, 40), max_size=4))
def test_random_times_never_raise_nor_cost_per_gap(t: list[float], cuts: list[int]) -> None:
    """Any finite times (huge, repeated, going back) are analysed; no gap allocates frames for itself."""
    times_s = np.asarray(t)
    acc = np.tile([0.0, 0.0, 1.0], (times_s.size, 1))
    analyzer = Analyzer(CFG)
    bounds = [0, *sorted(min(c, times_s.size) for c in cuts), times_s.size]
    jumps = 0
    for a, b in itertools.pairwise(bounds):
        jumps += sum(isinstance(e, TimeJump) for e in analyzer.update(times_s[a:b], acc[a:b]))
        state = analyzer.snapshot()
        # At most max_gap_s of frames per step within the segment, however far the clock went.
        bound = b * math.ceil(CFG.tuning.max_gap_s / FRAME_S) + 1
        assert 0 <= state["framer"]["next_k"] <= bound
        assert len(json.dumps(state)) < SMALL_STATE_BYTES
    assert jumps <= times_s.size - 1
    analyzer.flush()
    assert math.isfinite(analyzer.span_s)
