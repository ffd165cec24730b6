"""Programme exercises as body-segment movements, with their repetition ground truth.

An :class:`ExerciseSet` names one exercise of :mod:`analysis.programme` and how it is
done: repetitions (per side for the per-side exercises, alternating left then right),
holds, tempo and its per-repetition spread, range of motion and its spread, pauses,
partial repetitions, holds broken early and bounces. :func:`plan` turns it, from its own
seed, into :class:`Rep` values: the true start, end, side and hold of every repetition.
:func:`exercise_signal` turns a plan into the orientation (and, for the squat, the
vertical acceleration) of the sensor's body segment with the conventions of
:mod:`firmware_sim.params`; :mod:`firmware_sim.motion` adds mounting, noise and timing
as for every other activity.

Each exercise starts from its programme position (lying on the back with the knees bent,
on all fours, lying face down before a plank, standing) and moves every segment by a
fixed angle at full range (:data:`MOVES`), scaled by a minimum-jerk profile (Flash &
Hogan 1985, J Neurosci 5(7):1688-1703) that rises to the repetition's depth, stays there
for the hold and comes back. The sensor is on the right thigh and the left wrist, as a
watch. Movements are slow, so apart from the squat's hip travel the linear acceleration
is left out (a 30° move in 1.5 s accelerates a mid-thigh sensor by under 0.05 g).

In a script an exercise set is a :class:`~firmware_sim.scenarios.Step` of
``Activity.EXERCISE`` carrying the set (:func:`exercise_step`); :func:`guided_session`
strings several together with rests, and :func:`exercise_truth` gives the repetitions of
a whole script.

>>> reps = plan(ExerciseSet(ExerciseId.KNEE_ROLL, seed=1)).reps
>>> [str(r.side) for r in reps]
['left', 'right', 'left', 'right', 'left', 'right']
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from numpy.typing import NDArray

from analysis.programme import MAX_HOLD_S, MAX_REPS, exercise_by_id
from analysis.settings import Placement, Posture
from firmware_sim.kinematics import G_MS2, StepDraw, minimum_jerk, segment_signal, sway_sines, up_vector
from firmware_sim.params import MotionParams
from firmware_sim.poses import (
    ARM_ONLY_THIGH,
    GROUP_OF,
    MOVES,
    REST_ACTIVITY,
    SPECS,
    UPRIGHT,
    ExerciseId,
    Group,
    Move,
    Side,
    StartPosition,
)
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


# The allowed range of each numeric option: (low, high, low allowed, high allowed).
_BOUNDS: Mapping[str, tuple[float, float, bool, bool]] = MappingProxyType(
    {
        "tempo_jitter": (0.0, 1.0, True, False),
        "range_jitter": (0.0, 1.0, True, False),
        "partial_range": (0.0, 1.0, False, False),
        "break_fraction": (0.0, 1.0, False, False),
        "bounce_range": (0.0, 1.0, False, False),
        "pause_s": (0.0, math.inf, True, False),
        "settle_s": (0.0, math.inf, True, False),
        "bounce_hz": (0.0, math.inf, False, False),
        "duration_s": (0.0, math.inf, False, False),
    }
)


def _check_bounds(exercise_set: ExerciseSet) -> None:
    for name, (low, high, low_in, high_in) in _BOUNDS.items():
        value = getattr(exercise_set, name)
        above = value >= low if low_in else value > low
        below = value <= high if high_in else value < high
        if not (math.isfinite(value) and above and below):
            interval = f"{'[' if low_in else '('}{low:g}, {high:g}{']' if high_in else ')'}"
            raise ValueError(f"{name} must be in {interval}, got {value}")


def _indices(name: str, value: tuple[int, ...], total: int) -> None:
    if any(not 0 <= i < total for i in value):
        raise ValueError(f"{name} must be repetition indices in [0, {total}), got {value}")


@dataclass(frozen=True, slots=True)
class ExerciseSet:
    """One exercise done for one set, and how.

    Attributes:
        exercise: Which exercise.
        reps: Repetitions, per side for a per-side exercise; None: the programme dose
            (1 for the plank, which the programme doses by its hold).
        hold_s: Each hold, seconds: one value, a ``(min, max)`` range drawn per
            repetition, 0 for none, or None for the programme dose.
        tempo_s: Moving in and back out in one repetition, seconds; None: the
            exercise's usual pace.
        tempo_jitter: Each repetition's tempo is ``tempo_s`` scaled by ``1 ± tempo_jitter``, in [0, 1).
        range_jitter: Each repetition's depth is full range scaled by ``1 ± range_jitter``, in [0, 1).
        pause_s: Mean pause in the starting position between repetitions, seconds (each
            drawn in ``[0.5, 1.5]`` times it); 0 for none.
        partial: Indices (0-based, in the order done) of repetitions done to
            ``partial_range`` of their depth.
        partial_range: Fraction of the depth reached by a partial repetition, in (0, 1).
        broken: Indices of repetitions whose hold is broken early, after
            ``break_fraction`` of it.
        break_fraction: How much of a broken hold is held, in (0, 1).
        bounce: Indices of repetitions that bounce through their hold.
        bounce_hz: Bounce frequency.
        bounce_range: Bounce depth as a fraction of the repetition's depth, in (0, 1).
        bird_dog: Back stabiliser with the opposite leg lifted too (False: arm only).
        alternate: A per-side exercise alternates left and right (False: every left
            repetition, then every right one).
        settle_s: Still time in the starting position before the first repetition and
            after the last, seconds (covers the posture blend of the step boundaries).
        duration_s: Length of a walk, seconds (only for ``walk``).
        seed: Seed of the per-repetition draws (>= 0).

    Raises:
        ValueError: A value is out of range, or an option does not apply to the
            exercise; the message names it.
    """

    exercise: ExerciseId
    reps: int | None = None
    hold_s: float | tuple[float, float] | None = None
    tempo_s: float | None = None
    tempo_jitter: float = 0.25
    range_jitter: float = 0.15
    pause_s: float = 1.5
    partial: tuple[int, ...] = ()
    partial_range: float = 0.4
    broken: tuple[int, ...] = ()
    break_fraction: float = 0.3
    bounce: tuple[int, ...] = ()
    bounce_hz: float = 1.5
    bounce_range: float = 0.15
    bird_dog: bool = True
    alternate: bool = True
    settle_s: float = 3.0
    duration_s: float = 600.0
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "exercise", ExerciseId(self.exercise))
        if self.reps is not None and not (isinstance(self.reps, int) and 1 <= self.reps <= MAX_REPS):
            raise ValueError(f"reps must be a whole number from 1 to {MAX_REPS}, got {self.reps!r}")
        hold = self.hold_s
        if isinstance(hold, int | float):
            hold = (float(hold), float(hold))
            object.__setattr__(self, "hold_s", hold)
        if hold is not None:
            low, high = hold
            if not 0 <= low <= high <= MAX_HOLD_S:
                raise ValueError(f"hold_s must be 0 <= min <= max <= {MAX_HOLD_S}, got {self.hold_s}")
        if self.tempo_s is not None and not (math.isfinite(self.tempo_s) and self.tempo_s > 0):
            raise ValueError(f"tempo_s must be > 0, got {self.tempo_s}")
        _check_bounds(self)
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")
        total = self.total_reps
        _indices("partial", self.partial, total)
        _indices("broken", self.broken, total)
        _indices("bounce", self.bounce, total)
        if (self.broken or self.bounce) and self.holds[1] == 0:
            raise ValueError(f"broken and bounce need holds; {self.exercise} has none here")

    @property
    def position(self) -> StartPosition:
        """The starting position."""
        return SPECS[self.exercise].position

    @property
    def posture(self) -> Posture:
        """The posture the analysis should report during the set (:attr:`Segment.posture`)."""
        return SPECS[self.exercise].posture

    @property
    def per_side(self) -> bool:
        """Whether the set is done on the left and on the right (programme dose)."""
        return self.exercise is not ExerciseId.WALK and exercise_by_id(self.exercise).dose.per_side

    @property
    def total_reps(self) -> int:
        """Repetitions in the set, both sides included (0 for a walk)."""
        if self.exercise is ExerciseId.WALK:
            return 0
        reps = self.reps if self.reps is not None else exercise_by_id(self.exercise).dose.reps or 1
        return reps * (2 if self.per_side else 1)

    @property
    def holds(self) -> tuple[float, float]:
        """The ``(min, max)`` hold, seconds (``(0, 0)``: no hold)."""
        if isinstance(self.hold_s, tuple):
            return (float(self.hold_s[0]), float(self.hold_s[1]))
        if self.exercise is ExerciseId.WALK:
            return (0.0, 0.0)
        return exercise_by_id(self.exercise).dose.hold_s or (0.0, 0.0)


@dataclass(frozen=True, slots=True)
class Rep:
    """The ground truth of one repetition.

    Attributes:
        index: Position in the set, from 0.
        start_s: Start of the movement out of the starting position, seconds.
        end_s: Back in the starting position, seconds.
        side: The side, or None for an exercise done on both sides at once.
        depth: Range reached, as a fraction of the exercise's full range.
        hold_start_s: Start of the hold (the end of the move in), seconds.
        hold_end_s: End of the hold (the start of the move back), seconds; equals
            ``hold_start_s`` when there is no hold.
        hold_target_s: The hold that was meant, seconds (longer than the hold when broken).
        partial: Done to part of the range on purpose (:attr:`ExerciseSet.partial`).
        broken: The hold was broken early.
        bounce: The hold bounced.
    """

    index: int
    start_s: float
    end_s: float
    side: Side | None
    depth: float
    hold_start_s: float
    hold_end_s: float
    hold_target_s: float
    partial: bool = False
    broken: bool = False
    bounce: bool = False

    @property
    def hold_s(self) -> float:
        """Length of the hold, seconds."""
        return self.hold_end_s - self.hold_start_s

    def shifted(self, offset_s: float) -> Rep:
        """The same repetition with every time moved by ``offset_s`` seconds."""
        return dataclasses.replace(
            self,
            start_s=self.start_s + offset_s,
            end_s=self.end_s + offset_s,
            hold_start_s=self.hold_start_s + offset_s,
            hold_end_s=self.hold_end_s + offset_s,
        )


@dataclass(frozen=True, slots=True)
class ExercisePlan:
    """What happens in one exercise set, times in seconds from its start.

    Attributes:
        exercise_set: The set.
        reps: Its repetitions, in order.
        duration_s: Its length, settling time at both ends included.
    """

    exercise_set: ExerciseSet
    reps: tuple[Rep, ...]
    duration_s: float

    @property
    def holds(self) -> tuple[tuple[float, float], ...]:
        """The ``(start_s, end_s)`` of every hold, in order (none for a set without holds)."""
        return tuple((r.hold_start_s, r.hold_end_s) for r in self.reps if r.hold_end_s > r.hold_start_s)


@functools.lru_cache(maxsize=256)
def plan(exercise_set: ExerciseSet) -> ExercisePlan:
    """Draw the repetitions of an exercise set from its seed.

    Each repetition draws, in a fixed order, its tempo, depth, hold and the pause after
    it, so options such as ``partial`` or ``broken`` change nothing else.

    Args:
        exercise_set: The set.

    Returns:
        The plan; the same set always gives the same plan.

    >>> p = plan(ExerciseSet(ExerciseId.SQUAT, reps=3, pause_s=0.0, tempo_jitter=0.0, range_jitter=0.0))
    >>> [(r.start_s, r.end_s) for r in p.reps], p.duration_s
    ([(3.0, 5.0), (5.0, 7.0), (7.0, 9.0)], 12.0)
    """
    ex = exercise_set
    if ex.exercise is ExerciseId.WALK:
        return ExercisePlan(ex, (), ex.duration_s)
    rng = np.random.default_rng([ex.seed, list(ExerciseId).index(ex.exercise)])
    tempo_s = ex.tempo_s if ex.tempo_s is not None else SPECS[ex.exercise].tempo_s
    hold_min, hold_max = ex.holds
    reps: list[Rep] = []
    t_s = ex.settle_s
    for i in range(ex.total_reps):
        scale, depth, hold_u, pause_u = rng.uniform(size=4)
        move_s = tempo_s * (1 + ex.tempo_jitter * (2 * float(scale) - 1))
        depth = 1 + ex.range_jitter * (2 * float(depth) - 1)
        if i in ex.partial:
            depth *= ex.partial_range
        target_s = hold_min + (hold_max - hold_min) * float(hold_u)
        hold_s = target_s * ex.break_fraction if i in ex.broken else target_s
        side = _side_of(ex, i)
        top_s = t_s + move_s / 2
        end_s = top_s + hold_s + move_s / 2
        reps.append(
            Rep(
                index=i,
                start_s=t_s,
                end_s=end_s,
                side=side,
                depth=depth,
                hold_start_s=top_s,
                hold_end_s=top_s + hold_s,
                hold_target_s=target_s,
                partial=i in ex.partial,
                broken=i in ex.broken,
                bounce=i in ex.bounce,
            )
        )
        last = i == ex.total_reps - 1
        t_s = end_s + (0.0 if last else ex.pause_s * (0.5 + float(pause_u)))
    return ExercisePlan(ex, tuple(reps), t_s + ex.settle_s)


def _side_of(exercise_set: ExerciseSet, index: int) -> Side | None:
    """The side of a repetition: left first, then alternating or in two blocks."""
    if not exercise_set.per_side:
        return None
    first = index % 2 == 0 if exercise_set.alternate else index < exercise_set.total_reps // 2
    return Side.LEFT if first else Side.RIGHT


def _profile(
    p: ExercisePlan, t_s: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Depth (fraction of full range), its second derivative (1/s²) and side (-1 left, +1 right, 0) at ``t_s``."""
    n = t_s.shape[0]
    depth = np.zeros(n)
    accel = np.zeros(n)
    side = np.zeros(n)
    if not p.reps:
        return depth, accel, side
    starts = np.array([r.start_s for r in p.reps])
    k = np.searchsorted(starts, t_s, side="right") - 1
    for i in np.unique(k[k >= 0]):
        rep = p.reps[int(i)]
        m = k == i
        t = t_s[m]
        move_in_s = rep.hold_start_s - rep.start_s
        move_out_s = rep.end_s - rep.hold_end_s
        pos_in, acc_in = minimum_jerk((t - rep.start_s) / move_in_s)
        pos_out, acc_out = minimum_jerk((t - rep.hold_end_s) / move_out_s)
        d = rep.depth * (pos_in - pos_out)
        a = rep.depth * (acc_in / move_in_s**2 - acc_out / move_out_s**2)
        if rep.bounce:
            holding = (t >= rep.hold_start_s) & (t < rep.hold_end_s)
            w = 2 * math.pi * p.exercise_set.bounce_hz
            tau = t - rep.hold_start_s
            amp = 0.5 * p.exercise_set.bounce_range * rep.depth
            d = np.where(holding, d + amp * (1 - np.cos(w * tau)), d)
            a = np.where(holding, a + amp * w * w * np.cos(w * tau), a)
        depth[m] = d
        accel[m] = a
        side[m] = 0.0 if rep.side is None else (-1.0 if rep.side is Side.LEFT else 1.0)
    return depth, accel, side


def exercise_signal(
    exercise_set: ExerciseSet,
    placement: Placement,
    t_s: NDArray[np.float64],
    draw: StepDraw,
    params: MotionParams,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Gravity direction and linear acceleration of the sensor's segment during a set.

    Args:
        exercise_set: The set.
        placement: Where the sensor is worn.
        t_s: Times from the start of the set, seconds, shape (n,); before the first
            repetition and after the last the wearer is still in the starting position.
        draw: The step's random choices (posture offsets, sway; cadence for a walk).
        params: Motion parameters.

    Returns:
        ``(up, lin_g)`` in the segment frame, shape (n, 3) each, as
        :func:`firmware_sim.kinematics.segment_signal`.
    """
    ex = exercise_set
    if ex.exercise is ExerciseId.WALK:
        return segment_signal(Activity.WALKING, placement, t_s, draw, params)
    group = GROUP_OF[Placement(placement)]
    p = plan(ex)
    depth, accel, side = _profile(p, t_s)
    move = _moves_of(ex, group, params)
    left, right = np.array(move.towards(-1.0)), np.array(move.towards(1.0))
    change = np.where(side[:, None] > 0, right, left) * depth[:, None]
    sway_deg = params.standing_sway_deg if ex.position is StartPosition.STANDING else params.lying_sway_deg
    angles = np.array(move.start) + np.array(draw.offsets_deg) + change
    pitch = angles[:, 0] + sway_deg * sway_sines(t_s, draw, 0)
    lateral = angles[:, 1] + sway_deg * sway_sines(t_s, draw, 3)
    up = up_vector(np.radians(pitch), np.radians(lateral), np.radians(angles[:, 2]))
    # The hips go down by ``squat_hip_drop_m`` at full depth: vertical acceleration -H·d''.
    hip_drop_m = params.squat_hip_drop_m if ex.exercise is ExerciseId.SQUAT else 0.0
    vertical_g = -hip_drop_m * accel / G_MS2
    return up, vertical_g[:, None] * up


def _moves_of(ex: ExerciseSet, group: Group, params: MotionParams) -> Move:
    if ex.exercise is ExerciseId.SQUAT:
        # The simulator's squat (``MotionParams.squat_thigh_deg``, ``squat_trunk_deg``):
        # thigh back, trunk forward, arms reaching forward as a counterweight.
        full = {
            Group.THIGH: (-params.squat_thigh_deg, 0.0, 0.0),
            Group.PELVIS: (params.squat_trunk_deg, 0.0, 0.0),
            Group.THORAX: (params.squat_trunk_deg, 0.0, 0.0),
            Group.FOREARM: (-90.0, 0.0, 0.0),
        }
        return Move(UPRIGHT[group], full[group])
    if ex.exercise is ExerciseId.BACK_STABILISER and group is Group.THIGH and not ex.bird_dog:
        return ARM_ONLY_THIGH
    return MOVES[ex.exercise][group]


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
