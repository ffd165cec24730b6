"""Guided exercises in the analyser, and the exercise sets their events make."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from analysis import AlertPolicy, AnalysisSettings, Analyzer, Placement, UserAction
from analysis.events import Alert
from analysis.holds import HoldEnded, HoldTimer
from analysis.recognition import ExerciseFound
from analysis.reps import RepCounter, RepSet
from analysis.sets import (
    ExerciseEnded,
    ExerciseStarted,
    exercise_detectors,
    exercise_sets,
    followed,
    recognition_detectors,
)
from firmware_sim.motion import generate
from firmware_sim.scenarios import Activity, Script, Step

QUICK = AlertPolicy(max_sitting_s=60.0, min_break_s=10.0, repeat_s=20.0)


def hold(exercise: str, start_s: float, length_s: float, side: str | None = None) -> HoldEnded:
    return HoldEnded(start_s, start_s + length_s, exercise, side, 10.0, length_s < 9.5, 0, 1)


@pytest.mark.parametrize(
    ("exercise", "placement", "kinds"),
    [
        ("squat", Placement.THIGH, [RepCounter]),
        ("knee_roll", Placement.THIGH, [RepCounter, HoldTimer]),
        ("plank", Placement.LOWER_BACK, [HoldTimer]),
        ("pelvic_tilt", Placement.LOWER_BACK, [RepCounter, HoldTimer]),
        ("any", Placement.WRIST, [RepCounter]),
    ],
)
def test_each_exercise_gets_the_detectors_its_placement_allows(
    exercise: str, placement: Placement, kinds: list[type]
) -> None:
    assert [type(d) for d in exercise_detectors(exercise, placement, 0.1)] == kinds


def test_exercises_that_cannot_be_followed_are_refused() -> None:
    with pytest.raises(ValueError, match="crunch cannot be followed from a sensor on the thigh"):
        exercise_detectors("crunch", Placement.THIGH, 0.1)
    with pytest.raises(ValueError, match="cartwheel"):
        followed("cartwheel", Placement.THIGH)


def test_sets_take_their_holds_and_loose_holds_make_runs() -> None:
    """A counted set owns its exercise's holds; planks a minute apart are one set, ten minutes apart two."""
    events: list[Any] = [
        RepSet(100.0, 160.0, "knee_roll", 6),
        hold("knee_roll", 105.0, 10.0, "left"),
        hold("knee_roll", 125.0, 11.0, "right"),
        hold("plank", 300.0, 20.0),
        hold("plank", 370.0, 25.0),
        hold("plank", 1000.0, 8.0),
    ]
    sets = exercise_sets(events)
    assert [(s.exercise, s.start_s, s.end_s, s.reps, len(s.holds)) for s in sets] == [
        ("knee_roll", 100.0, 160.0, 6, 2),
        ("plank", 300.0, 395.0, 2, 2),
        ("plank", 1000.0, 1008.0, 1, 1),
    ]
    entry = sets[0].to_dict(t0_s=100.0)
    assert entry == {
        "exercise": "knee_roll",
        "start_s": 0.0,
        "end_s": 60.0,
        "reps": 6,
        "holds_s": [10.0, 11.0],
        "holds_broken": 0,
        "holds_bounced": 0,
        "sides": ["left", "right"],
        "found": False,
    }
    assert sets[2].to_dict()["holds_broken"] == 1


def test_a_bout_found_unprompted_is_listed_unless_a_guided_set_covers_it() -> None:
    """The recogniser's bouts are sets of their own, except where the wearer said what was done."""
    events: list[Any] = [
        RepSet(100.0, 160.0, "squat", 10),
        ExerciseFound(90.0, 170.0, "knee_hug", 0.6),  # the guided squats, taken for knee hugs
        ExerciseFound(500.0, 560.0, "knee_roll", 0.9),
    ]
    sets = exercise_sets(events)
    assert [(s.exercise, s.reps, s.found) for s in sets] == [("squat", 10, False), ("knee_roll", 0, True)]


def sitting(make_signal: Any, seconds: float) -> tuple[Any, Any]:
    return make_signal([("walking", 20.0), ("sitting", seconds)], rate_hz=25.0, seed=2)


def test_a_guided_exercise_answers_the_alert_and_holds_the_next_back(make_signal: Any) -> None:
    """Alerts stop while the exercise runs; the next comes no sooner than repeat_s after it ends."""
    t, acc = sitting(make_signal, 300.0)
    cfg = AnalysisSettings(Placement.THIGH, policy=QUICK)
    analyzer = Analyzer(cfg)
    a, b = int(np.searchsorted(t, 100.0)), int(np.searchsorted(t, 200.0))
    events = analyzer.update(t[:a], acc[:a])
    started = analyzer.act(UserAction.EXERCISE_START, exercise="squat")
    assert [e.kind for e in started] == ["action", "exercise_started"]
    assert started[1] == ExerciseStarted(float(t[a - 1]), "squat", reps=True, holds=False)
    assert analyzer.exercise == "squat"
    events += analyzer.update(t[a:b], acc[a:b])
    ended = analyzer.act(UserAction.EXERCISE_END)
    assert isinstance(ended[-2], ExerciseEnded)
    assert analyzer.exercise is None
    events += analyzer.update(t[b:], acc[b:]) + analyzer.flush()
    alerts = [e.t_s for e in events if isinstance(e, Alert)]
    assert alerts
    assert not [s for s in alerts if t[a - 1] <= s < t[b - 1] + QUICK.repeat_s]


def test_a_restored_analyser_goes_on_with_the_guided_exercise(make_signal: Any) -> None:
    """The exercise and its detectors' state come back from the snapshot."""
    t, acc = sitting(make_signal, 60.0)
    cfg = AnalysisSettings(Placement.THIGH, policy=QUICK)
    analyzer = Analyzer(cfg)
    analyzer.update(t[:100], acc[:100])
    analyzer.act(UserAction.EXERCISE_START, exercise="knee_roll")
    analyzer.update(t[100:200], acc[100:200])
    state = json.loads(json.dumps(analyzer.snapshot()))
    assert state["exercise"] == "knee_roll"
    assert set(state["detectors"]) == {"posture", "reps", "holds"}
    again = Analyzer.restore(cfg, state)
    assert again.exercise == "knee_roll"
    assert [d.name for d in again.detectors] == ["posture", "reps", "holds"]
    assert again.snapshot() == state
    with pytest.raises(ValueError, match="needs the exercise"):
        again.act(UserAction.EXERCISE_START)
    with pytest.raises(ValueError, match="crunch"):
        again.act(UserAction.EXERCISE_START, exercise="crunch")
    assert again.exercise == "knee_roll"


@pytest.mark.parametrize("placement", [Placement.THIGH, Placement.LOWER_BACK])
def test_a_guided_set_of_squats_is_a_break_however_short(placement: Placement) -> None:
    """Thirty seconds of squats between two sittings: two sitting bouts and the set as the break, in any chunks."""
    steps = (
        Step(Activity.WALKING, 60),
        Step(Activity.SITTING, 300),
        Step(Activity.SQUAT, 30),
        Step(Activity.SITTING, 300),
    )
    rec = generate(Script("squat_break", steps), placement, seed=3, rate_hz=25.0)
    t, acc = rec.t_s, rec.acc_g
    cfg = AnalysisSettings(placement)
    a, b = int(np.searchsorted(t, 358.0)), int(np.searchsorted(t, 392.0))
    runs = []
    for size in (t.size, 250):
        analyzer = Analyzer(cfg)
        events = []
        for lo, hi in ((0, a), (a, b), (b, t.size)):
            if lo == b:
                events += analyzer.act(UserAction.EXERCISE_END)
            for i in range(lo, hi, size):
                events += analyzer.update(t[i : min(hi, i + size)], acc[i : min(hi, i + size)])
            if hi == a:
                events += analyzer.act(UserAction.EXERCISE_START, exercise="squat")
        events += analyzer.flush()
        runs.append(events)
    assert runs[0] == runs[1]
    bouts = [(round(e.start_s), round(e.end_s)) for e in runs[0] if e.kind == "sitting_bout"]
    breaks = [(round(e.start_s), round(e.end_s)) for e in runs[0] if e.kind == "break"]
    assert len(bouts) == 2
    (brk,) = breaks
    assert bouts[0][1] == brk[0]
    assert 357 <= brk[0] <= 363  # the first squat (the set begins at 360 s)
    assert 385 <= brk[1] <= bouts[1][0] + 4  # the last squat back at rest: up to seconds into the sitting after


def _squats_between_sittings(placement: Placement) -> tuple[Any, Any]:
    """Up from the chair for 40 s: 5 s standing, 30 s of squats (from 365 s), 5 s standing."""
    steps = (
        Step(Activity.WALKING, 60),
        Step(Activity.SITTING, 300),
        Step(Activity.STANDING, 5),
        Step(Activity.SQUAT, 30),
        Step(Activity.STANDING, 5),
        Step(Activity.SITTING, 300),
    )
    rec = generate(Script("squat_break", steps), placement, seed=3, rate_hz=25.0)
    return rec.t_s, rec.acc_g


def _keyed(events: list[Any]) -> list[str]:
    """Events in a form that does not depend on how detectors interleave within one update."""
    return sorted(json.dumps(e.to_dict(), sort_keys=True) for e in events)


def test_squats_found_unprompted_are_a_break_in_any_chunks_and_across_a_restart() -> None:
    """The recogniser finds the set, counts it, and the posture detector takes it as the break, live as in batch."""
    t, acc = _squats_between_sittings(Placement.THIGH)
    cfg = AnalysisSettings(Placement.THIGH)

    def fresh() -> list[Any]:
        return recognition_detectors(Placement.THIGH, cfg.tuning.frame_s)

    runs, followed_labels = [], set()
    for size in (t.size, 12, 250):
        analyzer = Analyzer(cfg, fresh())
        events = []
        for i in range(0, t.size, size):
            events += analyzer.update(t[i : i + size], acc[i : i + size])
            if size == 250 and i // size in (37, 38, 39):  # restarts while the set is found
                state = json.loads(json.dumps(analyzer.snapshot()))
                followed_labels |= set(state["detectors"]["recognition"]["state"]["followers"])
                analyzer = Analyzer.restore(cfg, state, fresh())
                assert analyzer.snapshot() == state
        runs.append(_keyed(events + analyzer.flush()))
    assert runs[0] == runs[1] == runs[2]
    assert "squat" in followed_labels  # the restarts came while the squats were being counted
    events = [json.loads(e) for e in runs[0]]
    (found,) = [e for e in events if e["kind"] == "exercise_found"]
    assert found["exercise"] == "squat"
    assert 12 <= found["reps"] <= 18  # 30 s of squats at the simulator's 1.7-2.3 s each
    bouts = sorted((round(e["start_s"]), round(e["end_s"])) for e in events if e["kind"] == "sitting_bout")
    (brk,) = [(round(e["start_s"]), round(e["end_s"])) for e in events if e["kind"] == "break"]
    assert len(bouts) == 2
    assert bouts[0][1] == brk[0]
    assert 360 <= brk[0] <= 367  # up from the chair at 360 s, the first squat at 365 s
    assert 393 <= brk[1] <= bouts[1][0] <= 402  # the last squat ends at 395 s, seated at 400 s


def test_without_the_recogniser_unprompted_squats_between_sittings_are_no_break() -> None:
    """The same 40 s off the chair, under the minimum break, is one sitting bout when nothing finds the squats."""
    t, acc = _squats_between_sittings(Placement.THIGH)
    analyzer = Analyzer(AnalysisSettings(Placement.THIGH))
    events = analyzer.update(t, acc) + analyzer.flush()
    assert [e.kind for e in events if e.kind in ("sitting_bout", "break")] == ["sitting_bout"]


def test_a_guided_squat_exercise_without_a_repetition_breaks_nothing(make_signal: Any) -> None:
    """Pressing start and end while still sitting is no break."""
    t, acc = make_signal([("walking", 60.0), ("sitting", 400.0)], rate_hz=25.0)
    analyzer = Analyzer(AnalysisSettings(Placement.THIGH))
    a, b = int(np.searchsorted(t, 200.0)), int(np.searchsorted(t, 240.0))
    events = analyzer.update(t[:a], acc[:a]) + analyzer.act(UserAction.EXERCISE_START, exercise="squat")
    events += analyzer.update(t[a:b], acc[a:b]) + analyzer.act(UserAction.EXERCISE_END)
    events += analyzer.update(t[b:], acc[b:]) + analyzer.flush()
    assert [e.kind for e in events if e.kind in ("sitting_bout", "break")] == ["sitting_bout"]
