"""The simulated programme exercises: repetitions, holds, sides, tempo and seeds.

The repetition counts here check the simulator only (a movement stands out of the
starting position once per true repetition), not a product detector.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from numpy.typing import NDArray

from analysis.settings import Placement, Posture
from firmware_sim.exercises import (
    ExerciseId,
    ExerciseSet,
    Rep,
    Side,
    exercise_step,
    exercise_truth,
    guided_session,
    plan,
    programme_session,
)
from firmware_sim.motion import generate
from firmware_sim.recording import Recording
from firmware_sim.scenarios import Activity, Script, Step, truth

PLACEMENTS = (Placement.THIGH, Placement.LOWER_BACK, Placement.WRIST)
REPEATED = tuple(ex for ex in ExerciseId if ex is not ExerciseId.WALK)
HELD = (
    ExerciseId.KNEE_ROLL,
    ExerciseId.KNEE_HUG,
    ExerciseId.BACK_STABILISER,
    ExerciseId.PELVIC_TILT,
    ExerciseId.DEEP_STOMACH,
    ExerciseId.PLANK,
)


def _short_set(exercise: ExerciseId, **options: object) -> ExerciseSet:
    """A quick set: 3 repetitions (per side), holds of 3-5 s where the exercise holds."""
    chosen: dict[str, object] = {"reps": 3, "hold_s": (3.0, 5.0) if exercise in HELD else None, "seed": 2}
    return ExerciseSet(exercise, **(chosen | options))  # type: ignore[arg-type]


def _record(exercise_set: ExerciseSet, placement: Placement, seed: int = 4) -> tuple[Recording, tuple[Rep, ...]]:
    script = Script("set", (exercise_step(exercise_set),))
    return generate(script, placement, seed=seed), exercise_truth(script)


def _deviation(rec: Recording, settle_s: float = 3.0) -> NDArray[np.float64]:
    """Distance of the 0.5-s moving mean from the starting position's mean, g, shape (n,)."""
    width = int(rec.rate_hz * 0.5)
    kernel = np.ones(width) / width
    smooth = np.column_stack([np.convolve(rec.acc_g[:, i], kernel, mode="same") for i in range(3)])
    start = smooth[(rec.t_s > 0.5) & (rec.t_s < settle_s - 0.5)].mean(axis=0)
    deviation: NDArray[np.float64] = np.linalg.norm(smooth - start, axis=1)
    # The moving mean is cut short at both ends of the recording.
    deviation[: width // 2] = 0.0
    deviation[-width // 2 :] = 0.0
    return deviation


def _count(deviation: NDArray[np.float64], high: float, low: float) -> int:
    """Excursions that rise above ``high`` after falling below ``low`` (hysteresis count)."""
    count, above = 0, False
    for value in deviation:
        if not above and value > high:
            count, above = count + 1, True
        elif above and value < low:
            above = False
    return count


def _peaks(rec: Recording, deviation: NDArray[np.float64], reps: tuple[Rep, ...]) -> NDArray[np.float64]:
    return np.array([deviation[(rec.t_s >= r.start_s) & (rec.t_s <= r.end_s)].max() for r in reps])


@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("exercise", REPEATED)
def test_signal_has_the_true_number_of_reps(exercise: ExerciseId, placement: Placement) -> None:
    """Each true repetition moves the segment out of its starting position and back, once."""
    rec, reps = _record(_short_set(exercise), placement)
    deviation = _deviation(rec)
    smallest = float(_peaks(rec, deviation, reps).min())
    still = deviation[(rec.t_s > 0.5) & (rec.t_s < reps[0].start_s)]
    # Sway and noise of the still start stay clearly under the smallest repetition (the
    # crunch moves the thigh by only ~5°, 0.09 g, against lying sway of up to ~0.02 g).
    assert smallest > 3 * float(still.max()) + 0.02
    assert _count(deviation, high=0.5 * smallest, low=0.25 * smallest) == len(reps)


@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("exercise", HELD)
def test_holds_are_still_for_their_length(exercise: ExerciseId, placement: Placement) -> None:
    """Within each hold the signal barely moves, and each hold lasts its drawn length."""
    rec, reps = _record(_short_set(exercise), placement)
    deviation = _deviation(rec)
    for rep in reps:
        assert rep.hold_s == pytest.approx(rep.hold_target_s)
        assert 3.0 <= rep.hold_s <= 5.0
        # 0.3 s in from each end, clear of the 0.5-s moving mean's reach into the moves.
        inside = (rec.t_s > rep.hold_start_s + 0.3) & (rec.t_s < rep.hold_end_s - 0.3)
        peak = deviation[(rec.t_s >= rep.start_s) & (rec.t_s <= rep.end_s)].max()
        # Lying sway (0.75°) moves a still segment by ~0.013 g at most.
        assert np.ptp(rec.acc_g[inside], axis=0).max() < 0.05
        assert np.ptp(deviation[inside]) < max(0.2 * peak, 0.03)


@pytest.mark.parametrize("exercise", [ExerciseId.KNEE_ROLL, ExerciseId.BACK_STABILISER])
def test_per_side_exercises_do_both_sides_in_turn(exercise: ExerciseId) -> None:
    """Per-side exercises alternate left then right, as many on each side."""
    reps = plan(ExerciseSet(exercise, reps=3, hold_s=3.0)).reps
    assert [r.side for r in reps] == [Side.LEFT, Side.RIGHT] * 3
    assert all(r.side is None for r in plan(_short_set(ExerciseId.KNEE_HUG)).reps)
    blocks = plan(ExerciseSet(exercise, reps=3, hold_s=3.0, alternate=False)).reps
    assert [r.side for r in blocks] == [Side.LEFT] * 3 + [Side.RIGHT] * 3


def test_the_two_sides_of_a_knee_roll_tilt_opposite_ways() -> None:
    """The pelvis rolls one way for the left repetitions, the other for the right ones."""
    rec, reps = _record(_short_set(ExerciseId.KNEE_ROLL), Placement.LOWER_BACK)

    def held_gravity(side: Side) -> NDArray[np.float64]:
        mask = np.zeros(rec.t_s.shape[0], dtype=bool)
        for rep in reps:
            if rep.side is side:
                mask |= (rec.t_s > rep.hold_start_s) & (rec.t_s < rep.hold_end_s)
        mean: NDArray[np.float64] = rec.acc_g[mask].mean(axis=0)
        return mean / np.linalg.norm(mean)

    angle = np.degrees(np.arccos(held_gravity(Side.LEFT) @ held_gravity(Side.RIGHT)))
    # 2 x 30° of pelvic roll, each side's depth within ±15 %.
    assert 45 < angle < 75


def test_tempo_varies_between_reps() -> None:
    """Repetition durations spread by up to ±25 %; without jitter they are equal."""
    moves = [r.end_s - r.start_s for r in plan(ExerciseSet(ExerciseId.SQUAT, reps=10)).reps]
    assert np.std(moves) / np.mean(moves) > 0.05
    assert min(moves) >= 0.75 * 2.0
    assert max(moves) <= 1.25 * 2.0
    fixed = [r.end_s - r.start_s for r in plan(ExerciseSet(ExerciseId.SQUAT, reps=10, tempo_jitter=0.0)).reps]
    assert np.ptp(fixed) == pytest.approx(0.0, abs=1e-12)


def test_range_varies_and_partial_reps_go_part_way() -> None:
    """Depths spread by ±15 %; a partial repetition reaches ~40 % of the others."""
    exercise_set = _short_set(ExerciseId.SQUAT, partial=(1,))
    reps = plan(exercise_set).reps
    full = [r.depth for r in reps if not r.partial]
    assert all(0.85 <= d <= 1.15 for d in full)
    assert np.ptp(full) > 0
    assert reps[1].partial
    assert reps[1].depth < 0.5
    rec, reps = _record(exercise_set, Placement.THIGH)
    peaks = _peaks(rec, _deviation(rec), reps)
    # The thigh's gravity change is not linear in the angle: within 0.2 of the depth ratio.
    assert peaks[1] / peaks[[0, 2]].mean() == pytest.approx(reps[1].depth / np.mean(full), abs=0.2)


def test_a_broken_hold_ends_early() -> None:
    """A broken hold lasts break_fraction of its target, and the segment is back early."""
    exercise_set = _short_set(ExerciseId.PLANK, broken=(1,))
    rec, reps = _record(exercise_set, Placement.LOWER_BACK)
    rep = reps[1]
    assert rep.broken
    assert rep.hold_s == pytest.approx(0.3 * rep.hold_target_s)
    deviation = _deviation(rec)
    after = (rec.t_s > rep.end_s + 0.5) & (rec.t_s < rep.hold_start_s + rep.hold_target_s)
    assert after.any()
    assert deviation[after].max() < 0.25 * _peaks(rec, deviation, reps).max()


def test_a_bouncing_hold_bounces_at_bounce_hz() -> None:
    """A bouncing hold oscillates at about 1.5 Hz; a normal hold does not."""
    rec, reps = _record(_short_set(ExerciseId.KNEE_HUG, bounce=(0,), hold_s=5.0), Placement.THIGH)

    def spread(rep: Rep) -> float:
        inside = (rec.t_s > rep.hold_start_s + 0.3) & (rec.t_s < rep.hold_end_s - 0.3)
        return float(np.linalg.norm(rec.acc_g[inside] - rec.acc_g[inside].mean(axis=0), axis=1).std())

    assert reps[0].bounce
    assert spread(reps[0]) > 4 * spread(reps[1])
    inside = (rec.t_s > reps[0].hold_start_s) & (rec.t_s < reps[0].hold_end_s)
    signal = rec.acc_g[inside] - rec.acc_g[inside].mean(axis=0)
    axis = np.linalg.svd(signal, full_matrices=False)[2][0]
    spectrum = np.abs(np.fft.rfft(signal @ axis))
    freqs = np.fft.rfftfreq(signal.shape[0], 1 / rec.rate_hz)
    assert freqs[1 + np.argmax(spectrum[1:])] == pytest.approx(1.5, abs=0.3)


def test_seeds_fix_reps_and_samples() -> None:
    """The same set and seeds give the same repetitions and samples; another seed changes them."""
    exercise_set = _short_set(ExerciseId.BACK_STABILISER)
    again = dataclasses.replace(exercise_set)
    assert plan(exercise_set) == plan(again)
    other = plan(dataclasses.replace(exercise_set, seed=3)).reps
    assert [r.start_s for r in other] != [r.start_s for r in plan(exercise_set).reps]
    a, _ = _record(exercise_set, Placement.WRIST)
    b, _ = _record(again, Placement.WRIST)
    np.testing.assert_array_equal(a.acc_g, b.acc_g)


def test_options_change_nothing_else() -> None:
    """Marking a repetition partial or broken leaves the others' draws as they were."""
    plain = plan(_short_set(ExerciseId.DEEP_STOMACH)).reps
    marked = plan(_short_set(ExerciseId.DEEP_STOMACH, partial=(0,), broken=(2,))).reps
    assert plain[1].depth == marked[1].depth
    assert plain[2].hold_target_s == marked[2].hold_target_s


def test_programme_dose_is_the_default() -> None:
    """Without options a set follows programme.md: 3 knee rolls per side with 10-s holds, 10 squats."""
    knee_roll = plan(ExerciseSet(ExerciseId.KNEE_ROLL)).reps
    assert len(knee_roll) == 6
    assert all(r.hold_target_s == 10.0 for r in knee_roll)
    assert len(plan(ExerciseSet(ExerciseId.SQUAT)).reps) == 10
    assert len(plan(ExerciseSet(ExerciseId.PLANK)).reps) == 1


def test_guided_session_has_truth_and_postures() -> None:
    """A scripted session: rests between sets, postures per exercise, reps in script time."""
    sets = [_short_set(ExerciseId.PELVIC_TILT), _short_set(ExerciseId.PLANK), _short_set(ExerciseId.SQUAT)]
    script = guided_session([ExerciseSet(ExerciseId.WALK, duration_s=60.0), *sets], rest_s=20.0)
    segments = truth(script)
    assert [s.activity for s in segments] == [
        Activity.EXERCISE,
        Activity.HOOK_LYING,
        Activity.EXERCISE,
        Activity.PRONE,
        Activity.EXERCISE,
        Activity.STANDING,
        Activity.EXERCISE,
    ]
    postures = [s.posture for s in segments if s.exercise is not None]
    assert postures == [Posture.WALKING, Posture.LYING, Posture.LYING, Posture.OTHER]
    reps = exercise_truth(script)
    assert len(reps) == 9
    for rep in reps:
        seg = next(s for s in segments if s.start_s <= rep.start_s < s.end_s)
        assert seg.exercise is not None
        assert rep.end_s <= seg.end_s
    for placement in Placement:
        rec = generate(script, placement, seed=1)
        norm = np.linalg.norm(rec.acc_g, axis=1)
        assert np.isfinite(rec.acc_g).all()
        assert norm.min() > 0.3
        assert norm.max() < 2.5


def test_a_cut_step_keeps_only_whole_reps() -> None:
    """Truncating a script drops the repetitions it cuts off."""
    script = Script("squats", (exercise_step(_short_set(ExerciseId.SQUAT)),))
    reps = exercise_truth(script)
    cut = exercise_truth(script.truncated(reps[1].end_s + 0.1))
    assert cut == reps[:2]


def test_bad_steps_and_sets_are_refused() -> None:
    """An exercise step needs a set; holds-only options need holds; indices must exist."""
    with pytest.raises(ValueError, match="exercise"):
        Step(Activity.EXERCISE, 10.0)
    with pytest.raises(ValueError, match="exercise"):
        Step(Activity.STANDING, 10.0, exercise=ExerciseSet(ExerciseId.SQUAT))
    with pytest.raises(ValueError, match="holds"):
        ExerciseSet(ExerciseId.SQUAT, bounce=(0,))
    with pytest.raises(ValueError, match="partial"):
        ExerciseSet(ExerciseId.CRUNCH, reps=3, partial=(3,))
    with pytest.raises(ValueError, match="tempo_jitter"):
        ExerciseSet(ExerciseId.CRUNCH, tempo_jitter=1.0)


def test_programme_session_runs_every_exercise_at_its_dose() -> None:
    """The whole programme after a warm-up walk: every set's reps, in order, with walking first."""
    script = programme_session(seed=1)
    reps = exercise_truth(script)
    # programme.md doses: 3+3 knee rolls, 5 hugs, 10+10 stabilisers, 5 tilts, 10 deep
    # stomach, 1 plank, 10 squats, 12 crunches.
    assert len(reps) == 69
    assert [r.start_s for r in reps] == sorted(r.start_s for r in reps)
    first = truth(script)[0]
    assert first.posture is Posture.WALKING
    rec = generate(script, Placement.LOWER_BACK, seed=2)
    assert rec.t_s[-1] == pytest.approx(script.duration_s, abs=0.1)
