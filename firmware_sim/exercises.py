"""Programme exercises as body-segment movements, with their repetition ground truth.

An exercise set (:class:`ExerciseSet`, :mod:`firmware_sim.exercise_set`) names one
exercise of :mod:`analysis.programme` and how it is done; :func:`plan`
(:mod:`firmware_sim.exercise_plan`) draws its repetitions (:class:`Rep`) from its own
seed, and :func:`exercise_signal` (:mod:`firmware_sim.exercise_motion`) turns them into
the movement of the sensor's body segment.

In a script an exercise set is a :class:`~firmware_sim.scenarios.Step` of
``Activity.EXERCISE`` carrying the set (:func:`exercise_step`); :func:`guided_session`
strings several together with rests, and :func:`exercise_truth` gives the repetitions of
a whole script.

>>> reps = plan(ExerciseSet(ExerciseId.KNEE_ROLL, seed=1)).reps
>>> [str(r.side) for r in reps]
['left', 'right', 'left', 'right', 'left', 'right']
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from firmware_sim.exercise_motion import exercise_signal
from firmware_sim.exercise_plan import ExercisePlan, Rep, plan
from firmware_sim.exercise_set import ExerciseSet
from firmware_sim.poses import REST_ACTIVITY, ExerciseId, Side, StartPosition
from firmware_sim.scenarios import Activity, Script, Step

__all__ = [
    "ExerciseId",
    "ExercisePlan",
    "ExerciseSet",
    "Rep",
    "Side",
    "StartPosition",
    "exercise_signal",
    "exercise_step",
    "exercise_truth",
    "guided_session",
    "plan",
    "programme_session",
]


def exercise_step(exercise_set: ExerciseSet) -> Step:
    """A script step doing the set, as long as its plan.

    >>> exercise_step(ExerciseSet(ExerciseId.WALK, duration_s=90.0)).duration_s
    90.0
    """
    return Step(Activity.EXERCISE, plan(exercise_set).duration_s, exercise=exercise_set)


def guided_session(sets: Iterable[ExerciseSet], rest_s: float = 30.0, name: str = "guided_session") -> Script:
    """A guided session: the sets in order, with a rest before each set after the first.

    The rest is held in the next set's resting position (lying on the back with the
    knees bent before floor work, face down before a plank, standing otherwise).

    Args:
        sets: The exercise sets, in order (at least one).
        rest_s: Rest between sets, seconds (> 0).
        name: The script's name.

    Returns:
        The script.

    Raises:
        ValueError: No sets, or ``rest_s`` <= 0.
    """
    if not (math.isfinite(rest_s) and rest_s > 0):
        raise ValueError(f"rest_s must be > 0, got {rest_s}")
    steps: list[Step] = []
    for exercise_set in sets:
        if steps:
            steps.append(Step(REST_ACTIVITY[exercise_set.position], rest_s))
        steps.append(exercise_step(exercise_set))
    if not steps:
        raise ValueError("a guided session needs at least one exercise set")
    return Script(name, tuple(steps))


def programme_session(seed: int = 0, rest_s: float = 30.0, warm_up_s: float = 300.0) -> Script:
    """The whole programme at its doses, as a guided session after a warm-up walk.

    programme.md: warm up first with 5-10 minutes of light cardio such as walking; then
    the stretches and the strengthening exercises in the programme's order.

    Args:
        seed: Seed of every set's repetitions (>= 0).
        rest_s: Rest between sets, seconds.
        warm_up_s: The warm-up walk, seconds.

    Returns:
        The script (about 20 minutes with the defaults).

    >>> len(exercise_truth(programme_session()))
    69
    """
    sets = [ExerciseSet(ExerciseId.WALK, duration_s=warm_up_s, seed=seed)]
    sets += [ExerciseSet(ex, seed=seed) for ex in ExerciseId if ex is not ExerciseId.WALK]
    return guided_session(sets, rest_s, name="programme_session")


def exercise_truth(script: Script) -> tuple[Rep, ...]:
    """Every repetition of a script's exercise steps, times in seconds from the script start.

    A repetition that a shortened step (:meth:`Script.truncated`, :func:`jitter`) cuts
    off before its end is left out.

    >>> s = guided_session([ExerciseSet(ExerciseId.SQUAT, reps=2), ExerciseSet(ExerciseId.CRUNCH, reps=3)])
    >>> [r.index for r in exercise_truth(s)]
    [0, 1, 0, 1, 2]
    """
    reps: list[Rep] = []
    t_s = 0.0
    for step in script.steps:
        if step.exercise is not None:
            reps.extend(r.shifted(t_s) for r in plan(step.exercise).reps if r.end_s <= step.duration_s)
        t_s += step.duration_s
    return tuple(reps)
