"""The repetitions of an exercise set, drawn from its seed: the ground truth of a set.

:func:`plan` turns an :class:`~firmware_sim.exercise_set.ExerciseSet`, from its own
seed, into :class:`Rep` values: the true start, end, side, depth and hold of every
repetition, in an :class:`ExercisePlan` that also gives the set's length, settling time
at both ends included.

>>> reps = plan(ExerciseSet(ExerciseId.KNEE_ROLL, seed=1)).reps
>>> [str(r.side) for r in reps]
['left', 'right', 'left', 'right', 'left', 'right']
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np

from firmware_sim.exercise_set import ExerciseSet
from firmware_sim.poses import SPECS, ExerciseId, Side

__all__ = ["ExercisePlan", "Rep", "plan"]


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
