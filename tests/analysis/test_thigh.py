"""Lying from a thigh sensor alone (``analysis.thigh``), on synthetic postures.

Gravity directions for a sensor whose y axis runs along the thigh (standing: +y) and
whose z axis faces out of the front of the thigh (seated: +z). The real floor
exercises of ``mex_thigh`` are checked in ``test_real_data.py``.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from analysis import AnalysisResult, AnalysisSettings, Placement, Posture, analyze
from analysis.analyzer import Analyzer
from analysis.events import PostureBout
from analysis.posture import capabilities
from analysis.settings import ThighTuning
from tests.analysis.conftest import synth

_C = math.cos(math.radians(45.0))
GRAVITY = {
    "walking": (0.0, 1.0, 0.0),
    "standing": (0.0, 1.0, 0.0),
    "sitting": (0.0, 0.0, 1.0),
    "crossed": (0.35, 0.0, 0.94),  # legs crossed: the thigh rolled ~20 deg
    "side": (1.0, 0.0, 0.0),  # on the side: rolled 90 deg about the long axis
    "prone": (0.0, 0.0, -1.0),  # face down: rolled 180 deg
    "supine": (0.4, 0.0, 0.92),  # on the back, the leg rolled outward ~25 deg: looks seated
    "hook": (0.0, -_C, _C),  # on the back, knees bent: the femur points 45 deg upward
}


def _run(segments: list[tuple[str, float]], **kw: object) -> AnalysisResult:
    t, acc = synth(segments, gravity=GRAVITY, noise_g=0.005)
    return analyze(t, acc, AnalysisSettings(Placement.THIGH, **kw))  # type: ignore[arg-type]


def _middles(segments: list[tuple[str, float]], result: AnalysisResult) -> list[Posture]:
    out, start = [], 0.0
    for _, seconds in segments:
        mid = start + seconds / 2
        out.append(next(b.posture for b in result.bouts if b.start_s <= mid < b.end_s))
        start += seconds
    return out


def test_the_thigh_reports_lying() -> None:
    assert "lying" in capabilities(Placement.THIGH)


def test_side_and_front_lying_after_a_seat_was_learned() -> None:
    """Sitting teaches the seat; rolling onto the side or front from it is lying."""
    segs = [("walking", 20.0), ("sitting", 60.0), ("side", 60.0), ("prone", 60.0), ("walking", 20.0)]
    got = _middles(segs, _run(segs))
    assert got == [Posture.WALKING, Posture.SITTING, Posture.LYING, Posture.LYING, Posture.WALKING]


def test_lying_carries_through_the_bout_until_the_wearer_stands() -> None:
    """Back on the back after a turn (looks seated) is still lying; sitting after a walk is sitting."""
    segs = [
        ("walking", 20.0),
        ("sitting", 60.0),
        ("standing", 20.0),
        ("side", 60.0),
        ("supine", 120.0),
        ("walking", 20.0),
        ("sitting", 60.0),
    ]
    got = _middles(segs, _run(segs))
    assert got[3:] == [Posture.LYING, Posture.LYING, Posture.WALKING, Posture.SITTING]


def test_a_rolled_seat_stays_sitting() -> None:
    """Crossing the legs rolls the thigh less than the 65-deg threshold: still sitting."""
    segs = [("walking", 20.0), ("sitting", 60.0), ("crossed", 60.0), ("sitting", 60.0)]
    result = _run(segs)
    assert _middles(segs, result)[1:] == [Posture.SITTING] * 3
    assert sum(b.end_s - b.start_s for b in result.bouts if b.posture is Posture.LYING) == 0.0


def test_knees_bent_on_the_back_is_lying_without_any_seat() -> None:
    """The femur pointing upward (knee above hip) is lying even before any sitting."""
    segs = [("walking", 20.0), ("hook", 120.0), ("walking", 20.0)]
    assert _middles(segs, _run(segs)) == [Posture.WALKING, Posture.LYING, Posture.WALKING]


def test_lying_down_straight_from_standing_on_the_side_is_lying() -> None:
    """Once the seat is known, a bout that starts rolled is lying from its start."""
    segs = [("walking", 20.0), ("sitting", 60.0), ("walking", 20.0), ("side", 60.0)]
    assert _middles(segs, _run(segs))[-1] is Posture.LYING


def test_without_an_upright_reference_the_thigh_cannot_tell_lying() -> None:
    """Before any walk, a horizontal thigh is sitting whatever its roll (documented limit)."""
    segs = [("sitting", 60.0), ("side", 60.0)]
    assert Posture.LYING not in _middles(segs, _run(segs))


def test_thresholds_are_settings() -> None:
    """A roll threshold above 90 deg no longer calls side-lying lying."""
    segs = [("walking", 20.0), ("sitting", 60.0), ("side", 60.0)]
    assert _middles(segs, _run(segs, thigh=ThighTuning(roll_deg=120.0)))[-1] is Posture.SITTING
    with pytest.raises(ValueError, match="knee_up_deg"):
        ThighTuning(knee_up_deg=80.0)


def _bouts(events: list[object]) -> list[tuple[float, float, str]]:
    return [(round(e.start_s, 6), round(e.end_s, 6), str(e.posture)) for e in events if isinstance(e, PostureBout)]


@pytest.mark.parametrize("chunk", [7, 331, 2000])
def test_chunked_and_restored_runs_match_the_batch(chunk: int) -> None:
    """Any chunking, with a snapshot/restore between chunks, gives the batch bouts."""
    segs = [("walking", 20.0), ("sitting", 40.0), ("side", 40.0), ("supine", 40.0), ("walking", 10.0), ("hook", 30.0)]
    t, acc = synth(segs, gravity=GRAVITY, noise_g=0.005)
    settings = AnalysisSettings(Placement.THIGH)
    whole = Analyzer(settings)
    expected = _bouts([*whole.update(t, acc), *whole.flush()])
    events: list[object] = []
    live = Analyzer(settings)
    for i in range(0, len(t), chunk):
        events += live.update(t[i : i + chunk], acc[i : i + chunk])
        live = Analyzer.restore(settings, json.loads(json.dumps(live.snapshot())))
    events += live.flush()
    assert _bouts(events) == expected
    assert any(p == "lying" for *_, p in expected)


def test_snapshots_from_before_thigh_lying_still_load() -> None:
    """A saved state without the thigh part loads as a fresh bout."""
    settings = AnalysisSettings(Placement.THIGH)
    t, acc = synth([("walking", 20.0), ("sitting", 20.0)], gravity=GRAVITY)
    a = Analyzer(settings)
    a.update(t, acc)
    state = a.snapshot()
    state["detectors"]["posture"]["state"]["posture"]["decider"].pop("thigh")
    b = Analyzer.restore(settings, state)
    b.update(t + 40.0, np.asarray(acc))
