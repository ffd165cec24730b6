"""The hold timer: simulated sets of every supported exercise and placement, chunking, snapshots, real data.

Tolerances: each hold end within 1 s of the simulator's and each duration within 1.6 s.
The ends are where the segment comes within ~1.5° of the held direction, and a
minimum-jerk move spends its last fifth covering ~6% of its range, so both ends land
outside the true ones: ``python -m bench.holds --seeds 20`` measures ends off by at
most 0.82 s and durations long by 0.4-1.1 s (median), at most 1.54 s (the plank's
12° rise at thigh and lower back, the smallest move relative to the 1.5° tolerance).
"""

from __future__ import annotations

import itertools
import json
from functools import cache
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from analysis.events import Event
from analysis.frames import FrameBatch
from analysis.holds import RULES, HoldEnded, HoldRule, HoldStarted, HoldTimer
from analysis.settings import Placement
from bench.holds import FRAME_S, batches, expected, frame_batches, holds_of, run, simulate
from firmware_sim.exercises import ExerciseId, ExerciseSet, exercise_step, exercise_truth
from firmware_sim.motion import generate
from firmware_sim.scenarios import Activity, Script, Step

COMBOS = sorted((ex, pl) for ex, pl in RULES if pl is not Placement.WAIST)
END_TOL_S = 1.0
DURATION_TOL_S = 1.6


def _set(exercise: str, seed: int = 3, placement: Placement = Placement.THIGH, **options: Any) -> ExerciseSet:
    """A short set: 3 reps (per side; a plank 4), rep 2 broken early, rep 0 bouncing.

    The bounce is the simulator's default 15% of the depth, or 3° peak to peak where
    that is less (the pelvis's 10° tilts: 1.5° is under the timer's 2° bounce floor).
    """
    reps = 4 if exercise == "plank" else 3
    rule = RULES.get((exercise, placement))
    bounce_range = 0.15 if rule is None else max(0.15, 3.0 / rule.full_deg)
    chosen: dict[str, Any] = {
        "reps": reps,
        "seed": seed,
        "broken": (2,),
        "break_fraction": 0.3,
        "bounce": (0,),
        "bounce_range": bounce_range,
        "settle_s": 6.0,
    }
    return ExerciseSet(ExerciseId(exercise), **(chosen | options))


@cache
def _recording(
    exercise: str, placement: Placement, seed: int = 3, rest_s: float = 0.0
) -> tuple[NDArray[np.float64], NDArray[np.float64], tuple[Any, ...]]:
    return simulate(_set(exercise, seed, placement), placement, seed, rest_s=rest_s)


def _holds(exercise: str, placement: Placement, t: NDArray[np.float64], acc: NDArray[np.float64]) -> list[HoldEnded]:
    return holds_of(run(HoldTimer(exercise, placement, FRAME_S), frame_batches(t, acc)))


@pytest.mark.parametrize(("exercise", "placement"), COMBOS)
def test_simulated_set_holds_timed(exercise: str, placement: Placement) -> None:
    """Every hold is found once, with its ends, side, broken flag and bounce."""
    t, acc, reps = _recording(exercise, placement)
    found = _holds(exercise, placement, t, acc)
    truth = expected(reps, exercise, placement)
    assert len(found) == len(truth)
    per_side: dict[str | None, int] = {}
    for hold, rep in zip(found, truth, strict=True):
        assert abs(hold.start_s - rep.hold_start_s) < END_TOL_S
        assert abs(hold.end_s - rep.hold_end_s) < END_TOL_S
        assert abs(hold.duration_s - rep.hold_s) < DURATION_TOL_S
        assert hold.side == (None if rep.side is None else str(rep.side))
        assert hold.broken == rep.broken
        assert (hold.bounces > 0) == rep.bounce
        per_side[hold.side] = per_side.get(hold.side, 0) + 1
        assert hold.hold == per_side[hold.side]


@pytest.mark.parametrize(("exercise", "placement"), [c for c in COMBOS if c[1] is not Placement.WRIST])
def test_getting_into_position_is_no_hold(exercise: str, placement: Placement) -> None:
    """A rest in the programme's resting position before the set, then getting into position: no extra hold."""
    t, acc, reps = _recording(exercise, placement, rest_s=20.0)
    found = _holds(exercise, placement, t, acc)
    assert len(found) == len(expected(reps, exercise, placement))
    assert [h.hold for h in found if h.side != "right"] == list(range(1, 1 + sum(h.side != "right" for h in found)))


@pytest.mark.parametrize(
    ("exercise", "placement", "after"),
    [
        ("knee_hug", Placement.THIGH, Activity.STANDING),
        ("pelvic_tilt", Placement.LOWER_BACK, Activity.STANDING),
        ("plank", Placement.LOWER_BACK, Activity.SITTING),
    ],
)
def test_getting_up_after_the_set_is_no_hold(exercise: str, placement: Placement, after: Activity) -> None:
    """Standing or sitting up after the set (a change of position) closes no hold."""
    ex = _set(exercise, placement=placement)
    script = Script("set_then_up", (exercise_step(ex), Step(after, 30.0)))
    rec = generate(script, placement, seed=5)
    found = _holds(exercise, placement, rec.t_s, rec.acc_g)
    assert len(found) == len(expected(exercise_truth(script), exercise, placement))


@pytest.mark.parametrize(("exercise", "placement"), [("knee_roll", Placement.THIGH), ("pelvic_tilt", Placement.WAIST)])
def test_a_pause_in_the_start_position_is_no_hold(exercise: str, placement: Placement) -> None:
    """A minute still in the starting position, and the rests between sets, give no hold."""
    rest = Step(Activity.HOOK_LYING, 60.0)
    rec = generate(Script("still", (rest,)), placement, seed=2)
    assert _holds(exercise, placement, rec.t_s, rec.acc_g) == []


def test_no_hold_from_repetitions_without_holds() -> None:
    """Knee hugs moved in and straight back out (no hold) are not holds."""
    ex = ExerciseSet(ExerciseId.KNEE_HUG, reps=4, hold_s=0.0, seed=1)
    t, acc, _ = simulate(ex, Placement.THIGH, 1, rest_s=0.0)
    assert _holds("knee_hug", Placement.THIGH, t, acc) == []


def test_sides_of_a_blocked_knee_roll() -> None:
    """All left rolls then all right ones: the sides follow the direction, counted per side."""
    ex = _set("knee_roll", placement=Placement.LOWER_BACK, alternate=False, bounce=(), broken=())
    t, acc, reps = simulate(ex, Placement.LOWER_BACK, 4, rest_s=0.0)
    found = _holds("knee_roll", Placement.LOWER_BACK, t, acc)
    assert [h.side for h in found] == [str(r.side) for r in reps]
    assert [h.hold for h in found] == [1, 2, 3, 1, 2, 3]


def test_first_side_names_the_first_hold() -> None:
    """A wearer who starts on the right says so; the sides swap."""
    t, acc, reps = _recording("knee_roll", Placement.THIGH)
    timer = HoldTimer("knee_roll", Placement.THIGH, FRAME_S, first_side="right")
    found = holds_of(run(timer, frame_batches(t, acc)))
    assert [h.side for h in found] == ["right" if str(r.side) == "left" else "left" for r in reps]


def test_hold_started_comes_live_before_the_end() -> None:
    """``HoldStarted`` comes 1.5-2.5 s into the hold (fed 0.5 s at a time), with its side and target."""
    t, acc, _ = _recording("back_stabiliser", Placement.THIGH)
    (whole, last) = frame_batches(t, acc)
    timer = HoldTimer("back_stabiliser", Placement.THIGH, FRAME_S)
    started: list[tuple[float, HoldStarted]] = []
    for part in batches(whole, 5):
        started += [(part.start_s[-1] + FRAME_S, e) for e in timer.update(part) if isinstance(e, HoldStarted)]
    ended = holds_of(run(HoldTimer("back_stabiliser", Placement.THIGH, FRAME_S), [whole, last]))
    assert [e.t_s for _, e in started] == [h.start_s for h in ended]
    # Known once it has lasted MIN_HOLD_S (1.5 s), plus up to a batch (0.5 s) of waiting.
    assert all(1.5 <= seen - e.t_s < 2.5 for seen, e in started)
    assert {e.side for _, e in started} == {"left"}
    assert {e.target_s for _, e in started} == {10.0}


def test_flush_closes_an_open_hold() -> None:
    """A stream that ends mid-hold gets the hold at ``flush``, ended at its last frame."""
    t, acc, reps = _recording("plank", Placement.WRIST)
    middle = 0.5 * (reps[0].hold_start_s + reps[0].hold_end_s)
    cut = int(np.searchsorted(t, middle))
    found = holds_of(run(HoldTimer("plank", Placement.WRIST, FRAME_S), frame_batches(t[:cut], acc[:cut])))
    assert len(found) == 1
    assert abs(found[0].end_s - t[cut - 1]) < 0.5
    assert abs(found[0].duration_s - (middle - reps[0].hold_start_s)) < END_TOL_S


def _events(parts: list[FrameBatch], exercise: str, placement: Placement) -> list[dict[str, Any]]:
    return [e.to_dict() for e in run(HoldTimer(exercise, placement, FRAME_S), parts)]


@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(0, 10**6), max_size=12), which=st.sampled_from(COMBOS[:6]))
def test_chunked_samples_give_the_same_events(cuts: list[int], which: tuple[str, Placement]) -> None:
    """Any chunking of the samples gives exactly the events of one chunk."""
    exercise, placement = which
    t, acc, _ = _recording(exercise, placement)
    whole = _events(frame_batches(t, acc), exercise, placement)
    assert whole
    assert _events(frame_batches(t, acc, [c % t.size for c in cuts]), exercise, placement) == whole


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.sampled_from([1, 2, 3, 5, 7, 13, 40]), min_size=1, max_size=8))
def test_chunked_frames_give_the_same_events(sizes: list[int]) -> None:
    """Batches of any numbers of frames (cycled) give the events of one batch."""
    t, acc, _ = _recording("knee_hug", Placement.LOWER_BACK)
    (whole, last) = frame_batches(t, acc)
    parts, i = [], 0
    for size in itertools.cycle(sizes):
        if i >= whole.m:
            break
        parts.append(FrameBatch(whole.t0_s, FRAME_S, whole.k_first + i, whole.stats[i : i + size]))
        i += size
    expected_events = _events([whole, last], "knee_hug", Placement.LOWER_BACK)
    assert _events([*parts, last], "knee_hug", Placement.LOWER_BACK) == expected_events


@pytest.mark.parametrize("fraction", [0.1, 0.33, 0.5, 0.62, 0.9])
def test_snapshot_mid_set_gives_the_same_events(fraction: float) -> None:
    """Restoring a JSON snapshot (mid-hold or not) and feeding the rest gives the same events."""
    t, acc, _ = _recording("back_stabiliser", Placement.WRIST)
    (whole, last) = frame_batches(t, acc)
    expected_events = _events([whole, last], "back_stabiliser", Placement.WRIST)
    cut = int(fraction * whole.m)
    first = HoldTimer("back_stabiliser", Placement.WRIST, FRAME_S)
    events: list[Event] = first.update(FrameBatch(whole.t0_s, FRAME_S, 0, whole.stats[:cut]))
    state = json.loads(json.dumps(first.snapshot(), allow_nan=False))
    second = HoldTimer("back_stabiliser", Placement.WRIST, FRAME_S)
    second.load(state)
    events += run(second, [FrameBatch(whole.t0_s, FRAME_S, cut, whole.stats[cut:]), last])
    assert [e.to_dict() for e in events] == expected_events


def test_snapshot_at_the_last_frame_then_flush() -> None:
    """A timer restored mid-hold and flushed without more frames closes the hold as the original does."""
    t, acc, reps = _recording("plank", Placement.WRIST)
    cut = int(np.searchsorted(t, 0.5 * (reps[0].hold_start_s + reps[0].hold_end_s)))
    (whole, last) = frame_batches(t[:cut], acc[:cut])
    first = HoldTimer("plank", Placement.WRIST, FRAME_S)
    first.update(whole)
    second = HoldTimer("plank", Placement.WRIST, FRAME_S)
    second.load(json.loads(json.dumps(first.snapshot())))
    assert [e.to_dict() for e in second.flush(last)] == [e.to_dict() for e in first.flush(last)]


def test_state_stays_bounded() -> None:
    """The snapshot of a long set is no bigger than that of a short one (the buffer is capped)."""
    t, acc, _ = _recording("deep_stomach", Placement.LOWER_BACK)
    (whole, _) = frame_batches(t, acc)
    timer = HoldTimer("deep_stomach", Placement.LOWER_BACK, FRAME_S)
    sizes = []
    for part in batches(whole, 50):
        timer.update(part)
        sizes.append(len(json.dumps(timer.snapshot())))
    assert max(sizes) < 8000


def test_next_segment_is_fresh_with_the_same_configuration() -> None:
    """After a time jump the timer starts over with the same exercise, placement, target and rule."""
    t, acc, _ = _recording("knee_roll", Placement.THIGH)
    timer = HoldTimer("knee_roll", Placement.THIGH, FRAME_S, target_s=12.0, first_side="right")
    run(timer, frame_batches(t, acc))
    fresh = timer.next_segment(forward=True)
    assert (fresh.exercise, fresh.placement, fresh.target_s, fresh.rule, fresh.first_side) == (
        "knee_roll",
        Placement.THIGH,
        12.0,
        timer.rule,
        "right",
    )
    assert fresh.snapshot() == HoldTimer("knee_roll", Placement.THIGH, FRAME_S, target_s=12.0).snapshot()


def test_events_are_json_ready() -> None:
    """Both events give their kind and fields."""
    started = HoldStarted(1.0, "plank", None, 10.0)
    ended = HoldEnded(1.0, 12.5, "knee_roll", "left", 10.0, False, 2, 1)
    assert started.to_dict() == {
        "kind": "hold_started",
        "t_s": 1.0,
        "exercise": "plank",
        "side": None,
        "target_s": 10.0,
    }
    assert ended.to_dict()["kind"] == "hold"
    assert ended.duration_s == 11.5
    assert json.loads(json.dumps(ended.to_dict()))["bounces"] == 2


@pytest.mark.parametrize(
    ("exercise", "placement"),
    [
        ("back_stabiliser", Placement.LOWER_BACK),
        ("pelvic_tilt", Placement.THIGH),
        ("deep_stomach", Placement.WRIST),
        ("knee_roll", Placement.WRIST),
        ("plank", Placement.CHEST),
    ],
)
def test_unmeasurable_combination_raises_naming_both(exercise: str, placement: Placement) -> None:
    """A segment that barely moves in the exercise cannot time its holds."""
    with pytest.raises(ValueError, match=f"{exercise}.*{placement}"):
        HoldTimer(exercise, placement, FRAME_S)


def test_exercise_without_hold_raises() -> None:
    """Squats and crunches have no hold; unknown ids are a KeyError."""
    with pytest.raises(ValueError, match="squat has no hold"):
        HoldTimer("squat", Placement.THIGH, FRAME_S)
    with pytest.raises(KeyError):
        HoldTimer("handstand", Placement.THIGH, FRAME_S)


def test_settings_checked() -> None:
    """Bad frame length, target, side or rule are refused; the default target is the dose's low end."""
    assert HoldTimer("back_stabiliser", Placement.WRIST, FRAME_S).target_s == 10.0
    assert HoldTimer("plank", Placement.THIGH, FRAME_S, target_s=25).target_s == 25.0
    with pytest.raises(ValueError, match="frame_s"):
        HoldTimer("plank", Placement.THIGH, 0.0)
    with pytest.raises(ValueError, match="target_s"):
        HoldTimer("plank", Placement.THIGH, FRAME_S, target_s=-1.0)
    with pytest.raises(ValueError, match="first_side"):
        HoldTimer("plank", Placement.THIGH, FRAME_S, first_side="up")
    with pytest.raises(ValueError, match="full_deg"):
        HoldRule(0.0)
    assert HoldTimer("pelvic_tilt", Placement.THIGH, FRAME_S, rule=HoldRule(10.0)).rule.enter_deg == 5.0


def test_frames_must_follow_on() -> None:
    """A batch that skips frames is a programmer error."""
    timer = HoldTimer("plank", Placement.THIGH, FRAME_S)
    stats = np.zeros((5, 10))
    stats[:, 0], stats[:, 3] = 1.0, 1.0
    timer.update(FrameBatch(0.0, FRAME_S, 0, stats))
    with pytest.raises(ValueError, match="follow on"):
        timer.update(FrameBatch(0.0, FRAME_S, 7, stats))


# -- real recordings (plausibility: no hold labels) ----------------------------------


@pytest.mark.data
def test_mex_bridging_shows_plausible_holds(dataset: Any) -> None:
    """MEx bridging (thigh): a subject who holds each lift ~4 s gets most of them; no hold is minutes long.

    s03 lifts 10 times to ~25°, holding each for 3-5 s (read off the thigh angle); s06
    lifts 7 times to ~20° but holds only ~1-2 s, around the 1.5-s shortest hold.
    """
    found = {}
    for recording in ("s03_ex02_1", "s06_ex02_1"):
        t, acc, _ = dataset("mex_thigh", recording)
        timer = HoldTimer("pelvic_tilt", Placement.THIGH, FRAME_S, target_s=3.0, rule=HoldRule(20.0))
        found[recording] = holds_of(run(timer, frame_batches(t, acc)))
    assert sum(h.duration_s >= 3.0 for h in found["s03_ex02_1"]) >= 7
    assert len(found["s06_ex02_1"]) <= 7
    assert all(h.duration_s < 10.0 for holds in found.values() for h in holds)


@pytest.mark.data
def test_mex_knee_rolling_is_not_held(dataset: Any) -> None:
    """MEx knee rolling (thigh) rolls on without stopping: hardly any hold at the knee roll's thresholds."""
    for recording in ("s02_ex01_1", "s03_ex01_1", "s06_ex01_1"):
        t, acc, _ = dataset("mex_thigh", recording)
        found = holds_of(run(HoldTimer("knee_roll", Placement.THIGH, FRAME_S), frame_batches(t, acc)))
        assert sum(h.duration_s >= 3.0 for h in found) <= 1


@pytest.mark.data
def test_real_still_lying_gives_no_hold(dataset: Any) -> None:
    """Real lying at the waist (UCI HAPT), repeated end to end for a minute: no pelvic-tilt hold."""
    t, acc, meta = dataset("uci_hapt", "exp05_user03")
    lying = next(s for s in meta["labels"] if s["label"] == "lying")
    keep = (t >= lying["start_s"] + 0.5) & (t < lying["end_s"] - 0.5)
    still = np.resize(acc[keep], (60 * 50, 3))
    found = _holds("pelvic_tilt", Placement.WAIST, np.arange(still.shape[0]) / 50.0, still)
    assert found == []


def test_a_gap_in_a_hold_does_not_split_it() -> None:
    """A second of lost samples in the middle of a hold leaves one hold with its ends."""
    t, acc, reps = _recording("knee_roll", Placement.THIGH)
    middle = 0.5 * (reps[1].hold_start_s + reps[1].hold_end_s)
    keep = (t < middle - 0.5) | (t >= middle + 0.5)
    whole = _holds("knee_roll", Placement.THIGH, t, acc)
    gapped = _holds("knee_roll", Placement.THIGH, t[keep], acc[keep])
    assert len(gapped) == len(whole)
    assert abs(gapped[1].duration_s - whole[1].duration_s) < 0.5
