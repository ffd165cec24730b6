"""The analyser's list of detectors: shared frames, gyro, and each detector's part of the snapshot."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pytest
from numpy.typing import NDArray

from analysis import AlertPolicy, AnalysisSettings, Analyzer, Event, Placement, SittingBout
from analysis.frames import FrameBatch

CFG = AnalysisSettings(Placement.THIGH, policy=AlertPolicy(max_sitting_s=60.0, min_break_s=10.0, repeat_s=20.0))


@dataclass(frozen=True, slots=True)
class Tally:
    """What the probe saw in one batch of frames."""

    kind: ClassVar[str] = "tally"
    k_first: int
    frames: int
    gyro_sum: float

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "k_first": self.k_first, "frames": self.frames, "gyro_sum": self.gyro_sum}


class Probe:
    """A detector that reports the frames it is given, and keeps a running total."""

    name: ClassVar[str] = "probe"
    version: ClassVar[int] = 2

    def __init__(self) -> None:
        self.total = 0
        self.segments = 1

    def update(self, frames: FrameBatch) -> list[Event]:
        self.total += frames.m
        gyro = frames.gyro_dps
        seen = float(np.nansum(gyro[:, 0])) if frames.has_gyro else 0.0
        return [Tally(frames.k_first, frames.m, seen)] if frames.m else []

    def flush(self, frames: FrameBatch) -> list[Event]:
        return self.update(frames)

    def next_segment(self, forward: bool) -> Probe:
        fresh = Probe()
        fresh.segments = self.segments + 1
        return fresh

    def snapshot(self) -> dict[str, Any]:
        return {"total": self.total}

    def load(self, state: dict[str, Any]) -> None:
        self.total = int(state["total"])


def _sitting(events: list[Event]) -> list[SittingBout]:
    return [e for e in events if isinstance(e, SittingBout)]


def _frames_seen(events: list[Event]) -> list[int]:
    """Every frame index the probe was given, in order."""
    return [k for e in events if isinstance(e, Tally) for k in range(e.k_first, e.k_first + e.frames)]


@pytest.fixture(scope="module")
def day(make_signal: Any) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    t, acc = make_signal([("walking", 30.0), ("sitting", 150.0), ("walking", 40.0)], rate_hz=25.0, seed=4)
    gyro = np.zeros_like(acc)
    gyro[:, 0] = 2.0  # every sample turns at 2 deg/s about x
    return t, acc, gyro


def test_every_detector_gets_every_frame_once_with_its_gyro(day: Any) -> None:
    """The posture events are unchanged by another detector, which sees each frame once with the mean rate."""
    t, acc, gyro = day
    alone = Analyzer(CFG)
    expected = alone.update(t, acc) + alone.flush()
    analyzer = Analyzer(CFG, [Probe()])
    events: list[Event] = []
    for a in range(0, t.size, 37):
        events += analyzer.update(t[a : a + 37], acc[a : a + 37], gyro[a : a + 37])
    events += analyzer.flush()
    assert [e for e in events if not isinstance(e, Tally)] == expected
    seen = _frames_seen(events)
    assert seen == list(range(len(seen)))
    assert len(seen) == int((t[-1] - t[0]) // CFG.tuning.frame_s) + 1
    rates = [e.gyro_sum / e.frames for e in events if isinstance(e, Tally)]
    assert rates == pytest.approx([2.0] * len(rates))


def test_a_detector_added_after_a_restart_starts_fresh_and_the_sitting_bout_carries_on(day: Any) -> None:
    """A worker restarted with a new detector keeps the running sitting bout; the new one begins at the next frame."""
    t, acc, _ = day
    whole = Analyzer(CFG)
    expected = whole.update(t, acc) + whole.flush()
    cut = int(np.searchsorted(t, t[0] + 120.0))  # mid-sitting
    first = Analyzer(CFG)
    events = first.update(t[:cut], acc[:cut])
    second = Analyzer.restore(CFG, json.loads(json.dumps(first.snapshot())), [Probe()])
    later = second.update(t[cut:], acc[cut:]) + second.flush()
    assert _sitting(events + later) == _sitting(expected)
    seen = _frames_seen(later)
    assert seen[0] == first.snapshot()["framer"]["next_k"]
    assert seen == list(range(seen[0], seen[-1] + 1))


def test_a_detector_left_out_after_a_restart_is_set_aside_and_the_sitting_bout_carries_on(day: Any) -> None:
    """A worker restarted without a detector (``sitless worker --no-recognition``) loads the
    snapshot that has its part, and the running sitting bout goes on as without a restart."""
    t, acc, _ = day
    whole = Analyzer(CFG)
    expected = whole.update(t, acc) + whole.flush()
    cut = int(np.searchsorted(t, t[0] + 120.0))  # mid-sitting
    first = Analyzer(CFG, [Probe()])
    events = [e for e in first.update(t[:cut], acc[:cut]) if not isinstance(e, Tally)]
    state = json.loads(json.dumps(first.snapshot()))
    assert "probe" in state["detectors"]
    second = Analyzer.restore(CFG, state, [])
    assert len(second.detectors) == 1
    later = second.update(t[cut:], acc[cut:]) + second.flush()
    assert _sitting(events + later) == _sitting(expected)


def test_a_part_of_another_version_is_dropped_alone(day: Any) -> None:
    """The probe's saved part of an older version is not loaded; the posture part still is."""
    t, acc, _ = day
    cut = int(np.searchsorted(t, t[0] + 120.0))
    first = Analyzer(CFG, [Probe()])
    first.update(t[:cut], acc[:cut])
    saved = first.detectors[1]
    assert isinstance(saved, Probe)
    assert saved.total > 0
    state = json.loads(json.dumps(first.snapshot()))
    assert state["detectors"]["probe"] == {"version": 2, "state": {"total": saved.total}}
    state["detectors"]["probe"]["version"] = 1
    second = Analyzer.restore(CFG, state, [Probe()])
    probe = second.detectors[1]
    assert isinstance(probe, Probe)
    assert probe.total == 0
    kept = Analyzer.restore(CFG, json.loads(json.dumps(first.snapshot())), [Probe()]).detectors[1]
    assert isinstance(kept, Probe)
    assert kept.total == saved.total
    assert second.status().sitting_since_s == first.status().sitting_since_s is not None


def test_a_version_3_snapshot_still_loads(day: Any) -> None:
    """A state saved before detectors had parts of their own resumes the sitting bout."""
    t, acc, _ = day
    whole = Analyzer(CFG)
    expected = whole.update(t, acc) + whole.flush()
    cut = int(np.searchsorted(t, t[0] + 120.0))
    first = Analyzer(CFG)
    events = first.update(t[:cut], acc[:cut])
    state = json.loads(json.dumps(first.snapshot()))
    posture = state.pop("detectors")["posture"]["state"]
    old = {**state, "version": 3, "posture": posture["posture"], "bouts": posture["bouts"]}
    second = Analyzer.restore(CFG, old)
    assert events + second.update(t[cut:], acc[cut:]) + second.flush() == expected


def test_a_time_jump_hands_each_detector_to_its_next_segment() -> None:
    """After a jump of the clock the probe is its successor and sees frames from 0 again."""
    analyzer = Analyzer(CFG, [Probe()])
    t = np.concatenate([np.arange(100) / 25.0, 86400.0 + np.arange(100) / 25.0])
    events = analyzer.update(t, np.tile([0.0, 1.0, 0.0], (t.size, 1))) + analyzer.flush()
    probe = analyzer.detectors[1]
    assert isinstance(probe, Probe)
    assert probe.segments == 2
    starts = [e.k_first for e in events if isinstance(e, Tally)]
    assert starts[0] == 0
    assert 0 in starts[1:]


def test_detector_names_must_be_distinct() -> None:
    with pytest.raises(ValueError, match="distinct"):
        Analyzer(CFG, [Probe(), Probe()])


def test_gyro_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="gyro_dps"):
        Analyzer(CFG).update(np.zeros(3), np.zeros((3, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="finite"):
        Analyzer(CFG).update(np.zeros(1), np.zeros((1, 3)), np.array([[np.nan, 0.0, 0.0]]))


def test_a_detector_started_and_stopped_mid_stream_sees_only_the_frames_between(day: Any) -> None:
    """A guided exercise: its detector is given the frames closed while it runs, and flushed when it stops."""
    t, acc, _ = day
    alone = Analyzer(CFG)
    expected = alone.update(t, acc) + alone.flush()
    analyzer = Analyzer(CFG)
    a, b = int(np.searchsorted(t, 50.0)), int(np.searchsorted(t, 80.0))
    events = analyzer.update(t[:a], acc[:a])
    analyzer.add_detector(Probe())
    with pytest.raises(ValueError, match="runs already"):
        analyzer.add_detector(Probe())
    events += analyzer.update(t[a:b], acc[a:b])
    stopped = analyzer.remove_detector("probe")
    assert analyzer.remove_detector("probe") == []
    events += analyzer.update(t[b:], acc[b:]) + analyzer.flush()
    assert [e for e in events if not isinstance(e, Tally)] == expected
    seen = _frames_seen(events)
    assert seen[0] == int((t[a - 1] - t[0]) // CFG.tuning.frame_s)
    assert seen[-1] == int((t[b - 1] - t[0]) // CFG.tuning.frame_s) - 1
    assert stopped == []  # nothing was open
    with pytest.raises(ValueError, match="cannot be removed"):
        analyzer.remove_detector("posture")


class Fussy(Probe):
    """A probe whose saved parts never load."""

    def load(self, state: dict[str, Any]) -> None:
        self.total = -1
        raise ValueError("not a state of mine")


def test_a_part_that_does_not_load_starts_its_detector_afresh(day: Any) -> None:
    """The posture part still loads; the other detector is a fresh one, not half loaded."""
    t, acc, _ = day
    cut = int(np.searchsorted(t, t[0] + 120.0))
    first = Analyzer(CFG, [Fussy()])
    first.update(t[:cut], acc[:cut])
    second = Analyzer.restore(CFG, json.loads(json.dumps(first.snapshot())), [Fussy()])
    probe = second.detectors[1]
    assert isinstance(probe, Fussy)
    assert probe.total == 0
    assert second.status().sitting_since_s == first.status().sitting_since_s is not None
