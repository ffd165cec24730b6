"""An exercise set: one programme exercise done for one set, and how.

An :class:`ExerciseSet` names one exercise of :mod:`analysis.programme` and how it is
done: repetitions (per side for the per-side exercises, alternating left then right),
holds, tempo and its per-repetition spread, range of motion and its spread, pauses,
partial repetitions, holds broken early and bounces. It checks every option where it is
built and answers the programme's dose for the options left out;
:func:`firmware_sim.exercise_plan.plan` draws its repetitions from its seed.

>>> ExerciseSet(ExerciseId.KNEE_ROLL, reps=3).total_reps
6
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from analysis.programme import MAX_HOLD_S, MAX_REPS, exercise_by_id
from analysis.settings import Posture
from firmware_sim.poses import SPECS, ExerciseId, StartPosition

__all__ = ["ExerciseSet"]


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
