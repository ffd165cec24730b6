"""Scripted days: what the simulated wearer does, as pure data.

A :class:`Script` is a named sequence of :class:`Step` values ``(activity, duration_s)``.
Scripts are fixed; a randomised variant comes only from a seed through :func:`jitter`
(seeded whole days: :mod:`firmware_sim.days`). :func:`truth` turns a script into the
ground-truth segments a test compares the analysis against, with each activity mapped
to the posture the analysis should report (:data:`POSTURE_OF`); steps spent in bed
carry ``in_bed`` and :func:`in_bed_windows` joins them into the in-bed periods.

The named scenarios follow the alert policy of DESIGN.md: sitting bouts longer than the
30-minute threshold, short fidgets inside them that must not end a bout, and breaks of
at least one minute of standing or walking.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np

from analysis.settings import Posture

if TYPE_CHECKING:
    from firmware_sim.exercises import ExerciseSet

__all__ = [
    "LYING_POSITIONS",
    "POSTURE_OF",
    "SCENARIOS",
    "Activity",
    "Script",
    "Segment",
    "Step",
    "in_bed_windows",
    "jitter",
    "scenario",
    "scenario_names",
    "truth",
]

MIN = 60.0


class Activity(StrEnum):
    """What the wearer does during one step of a script."""

    SITTING = "sitting"
    STANDING = "standing"
    WALKING = "walking"
    LYING = "lying"
    #: A short shift in the chair or a reach while seated: a few seconds of small movement.
    FIDGET = "fidget"
    #: A standing stretch break: standing with slow, large trunk and arm movements.
    STRETCH = "stretch"
    #: Standing squats, about 2 s per repetition (programme.md, ``squat``).
    SQUAT = "squat"
    #: The sensor lies still on a desk.
    NONWEAR = "nonwear"
    #: Lying on the back, legs out straight and relaxed (``MotionParams.supine_thigh_roll_deg``).
    SUPINE = "supine"
    #: Lying on the back with the knees bent and the feet flat, knees above the hips.
    HOOK_LYING = "hook_lying"
    #: Lying on the left side, hips and knees flexed.
    SIDE_LEFT = "side_left"
    #: Lying on the right side, hips and knees flexed.
    SIDE_RIGHT = "side_right"
    #: Lying on the front.
    PRONE = "prone"
    #: Sitting up with the legs stretched out in front, leaning back: in bed against the
    #: headboard, on a sofa with the feet up.
    LONG_SITTING = "long_sitting"
    #: A set of a programme exercise (:class:`~firmware_sim.exercises.ExerciseSet`),
    #: named by the step's ``exercise``.
    EXERCISE = "exercise"


#: The lying positions of a night or a sofa (``LYING`` is a side-lying whose side the
#: session draws).
LYING_POSITIONS = frozenset(
    {Activity.LYING, Activity.SUPINE, Activity.HOOK_LYING, Activity.SIDE_LEFT, Activity.SIDE_RIGHT, Activity.PRONE}
)

#: The posture the analysis should report for each activity (DESIGN.md postures). A fidget
#: stays sitting because "short fidgets do not end a bout"; a stretch is standing in place;
#: squats are ``other``; a sensor on the desk is ``nonwear`` (never sitting).
POSTURE_OF: MappingProxyType[Activity, Posture] = MappingProxyType(
    {
        Activity.SITTING: Posture.SITTING,
        Activity.STANDING: Posture.STANDING,
        Activity.WALKING: Posture.WALKING,
        Activity.LYING: Posture.LYING,
        Activity.FIDGET: Posture.SITTING,
        Activity.STRETCH: Posture.STANDING,
        Activity.SQUAT: Posture.OTHER,
        Activity.NONWEAR: Posture.NONWEAR,
        Activity.SUPINE: Posture.LYING,
        Activity.HOOK_LYING: Posture.LYING,
        Activity.SIDE_LEFT: Posture.LYING,
        Activity.SIDE_RIGHT: Posture.LYING,
        Activity.PRONE: Posture.LYING,
        Activity.LONG_SITTING: Posture.SITTING,
        # The exercise's own posture replaces this one (:attr:`Segment.posture`).
        Activity.EXERCISE: Posture.OTHER,
    }
)


@dataclass(frozen=True, slots=True)
class Step:
    """One activity held for a while.

    Attributes:
        activity: What the wearer does.
        duration_s: How long, seconds (> 0).
        incline_deg: How far the head end of a lying trunk is raised above horizontal,
            in [0, 45): a pillow, a sofa's armrest. The thorax takes it, the pelvis lies flat.
        in_bed: The step is part of the wearer's time in bed (sitting on the edge of the
            bed and sitting up in it included).
        exercise: The exercise set of an ``EXERCISE`` step (:func:`~firmware_sim.exercises.exercise_step`
            makes the step as long as the set); None for every other activity.
    """

    activity: Activity
    duration_s: float
    incline_deg: float = 0.0
    in_bed: bool = False
    exercise: ExerciseSet | None = None

    def __post_init__(self) -> None:
        if not np.isfinite(self.duration_s) or self.duration_s <= 0:
            raise ValueError(f"step duration_s must be > 0, got {self.duration_s}")
        if not 0 <= self.incline_deg < 45:
            raise ValueError(f"step incline_deg must be in [0, 45), got {self.incline_deg}")
        if (self.activity is Activity.EXERCISE) != (self.exercise is not None):
            raise ValueError(f"an exercise set goes with an {Activity.EXERCISE} step only, got {self.activity}")


@dataclass(frozen=True, slots=True)
class Script:
    """A named sequence of steps played back to back.

    Attributes:
        name: Scenario name (``office_morning``, ``quick``...).
        steps: The steps, in order (at least one).
    """

    name: str
    steps: tuple[Step, ...]

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError(f"script {self.name!r} has no steps")

    @property
    def duration_s(self) -> float:
        """Total duration, seconds."""
        return float(sum(step.duration_s for step in self.steps))

    def truncated(self, max_s: float) -> Script:
        """The first ``max_s`` seconds of the script (the last step is cut short).

        >>> scenario("quick").truncated(150.0).duration_s
        150.0
        """
        if max_s <= 0:
            raise ValueError(f"max_s must be > 0, got {max_s}")
        steps: list[Step] = []
        left = max_s
        for step in self.steps:
            if left <= 0:
                break
            steps.append(dataclasses.replace(step, duration_s=min(step.duration_s, left)))
            left -= step.duration_s
        return Script(self.name, tuple(steps))


@dataclass(frozen=True, slots=True)
class Segment:
    """A ground-truth stretch of a recording.

    Attributes:
        start_s: Start, seconds from the start of the script.
        end_s: End, seconds from the start of the script (> start_s).
        activity: What the wearer did.
        in_bed: The wearer was in bed (:attr:`Step.in_bed`).
        exercise: The exercise set of an ``EXERCISE`` segment (:attr:`Step.exercise`).
    """

    start_s: float
    end_s: float
    activity: Activity
    in_bed: bool = False
    exercise: ExerciseSet | None = None

    def __post_init__(self) -> None:
        if not self.end_s > self.start_s:
            raise ValueError(f"segment end_s {self.end_s} must be > start_s {self.start_s}")

    @property
    def posture(self) -> Posture:
        """The posture the analysis should report here (:data:`POSTURE_OF`, or the exercise's)."""
        if self.exercise is not None:
            return self.exercise.posture
        return POSTURE_OF[self.activity]


def truth(script: Script) -> tuple[Segment, ...]:
    """The ground-truth segments of a script; they tile ``[0, script.duration_s]``.

    >>> [(s.start_s, s.end_s, str(s.activity)) for s in truth(ALL_POSTURES)][:2]
    [(0.0, 180.0, 'standing'), (180.0, 360.0, 'sitting')]
    """
    segments: list[Segment] = []
    t_s = 0.0
    for step in script.steps:
        segments.append(Segment(t_s, t_s + step.duration_s, step.activity, step.in_bed, step.exercise))
        t_s += step.duration_s
    return tuple(segments)


def in_bed_windows(segments: Iterable[Segment]) -> list[tuple[float, float]]:
    """The in-bed periods ``(start_s, end_s)``: consecutive in-bed segments joined.

    >>> s = Script("x", (Step(A.SUPINE, 60.0, in_bed=True), Step(A.SITTING, 30.0, in_bed=True),
    ...                  Step(A.STANDING, 10.0), Step(A.PRONE, 5.0, in_bed=True)))
    >>> in_bed_windows(truth(s))
    [(0.0, 90.0), (100.0, 105.0)]
    """
    windows: list[tuple[float, float]] = []
    for seg in segments:
        if not seg.in_bed:
            continue
        if windows and windows[-1][1] == seg.start_s:
            windows[-1] = (windows[-1][0], seg.end_s)
        else:
            windows.append((seg.start_s, seg.end_s))
    return windows


def jitter(script: Script, seed: int, fraction: float = 0.15) -> Script:
    """A randomised variant of a script: each duration scaled by ``1 ± fraction``.

    Args:
        script: The script to vary.
        seed: Seed of ``np.random.default_rng``; the same seed gives the same variant.
        fraction: Largest relative change of a duration, in [0, 1).

    Returns:
        A script with the same activities in the same order.

    Raises:
        ValueError: ``fraction`` is outside [0, 1).
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"fraction must be in [0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    scales = 1.0 + rng.uniform(-fraction, fraction, size=len(script.steps))
    steps = tuple(
        dataclasses.replace(step, duration_s=round(step.duration_s * float(scale), 3))
        for step, scale in zip(script.steps, scales, strict=True)
    )
    return Script(script.name, steps)


def _steps(*pairs: tuple[Activity, float]) -> tuple[Step, ...]:
    return tuple(Step(activity, duration_s) for activity, duration_s in pairs)


def _seated(total_s: float, fidget_every_s: float, fidget_s: float = 4.0) -> tuple[tuple[Activity, float], ...]:
    """A sitting bout of ``total_s`` with a short fidget every ``fidget_every_s``."""
    pairs: list[tuple[Activity, float]] = []
    left = total_s
    while left > fidget_every_s + fidget_s:
        pairs += [(Activity.SITTING, fidget_every_s), (Activity.FIDGET, fidget_s)]
        left -= fidget_every_s + fidget_s
    pairs.append((Activity.SITTING, left))
    return tuple(pairs)


A = Activity

#: About 3.5 h of an office morning: two sitting bouts over the 30-minute threshold with
#: fidgets inside, desk standing, coffee and corridor walks, a stretch break with a few
#: squats, and a seated meeting.
OFFICE_MORNING = Script(
    "office_morning",
    _steps(
        (A.NONWEAR, 2 * MIN),  # sensor on the desk before it is clipped on
        # Clipped on, then a walk: with the sensor mounted any way up, the analysis learns
        # the wearer's upright from walking, so what comes before a first walk is unsure.
        (A.WALKING, 3 * MIN),  # to the coffee machine and back
        (A.STANDING, 3 * MIN),
        *_seated(42 * MIN, fidget_every_s=9 * MIN),  # e-mail: too long, raises an alert
        (A.STANDING, 1.5 * MIN),
        (A.WALKING, 2 * MIN),
        *_seated(25 * MIN, fidget_every_s=7 * MIN),
        (A.STANDING, 20 * MIN),  # working at a standing desk
        (A.WALKING, 4 * MIN),  # to the meeting room
        *_seated(55 * MIN, fidget_every_s=6 * MIN, fidget_s=6.0),  # meeting, seated
        (A.WALKING, 4 * MIN),
        (A.STANDING, 1 * MIN),
        (A.STRETCH, 2 * MIN),  # stretch break
        (A.SQUAT, 20.0),  # 10 squats (programme.md default) at ~2 s each
        (A.STANDING, 1 * MIN),
        *_seated(38 * MIN, fidget_every_s=8 * MIN),  # too long again
        (A.WALKING, 3 * MIN),  # to lunch
    ),
)

#: A short demo: 2 min walking (the analysis learns the upright reference), then 35 min
#: seated with fidgets (a sit-too-long alert at 30 min, 32 s of wall time at speed 60), a
#: 2-minute walk break, then seated again.
QUICK = Script(
    "quick",
    _steps(
        (A.WALKING, 2 * MIN),
        *_seated(35 * MIN, fidget_every_s=5 * MIN),
        (A.WALKING, 2 * MIN),
        (A.STANDING, 30.0),
        *_seated(20 * MIN, fidget_every_s=5 * MIN),
    ),
)

#: Every activity for a few minutes, for tests.
ALL_POSTURES = Script(
    "all_postures",
    _steps(
        (A.STANDING, 3 * MIN),
        (A.SITTING, 3 * MIN),
        (A.WALKING, 3 * MIN),
        (A.LYING, 3 * MIN),
        (A.STANDING, 1 * MIN),
        (A.STRETCH, 1 * MIN),
        (A.SQUAT, 30.0),
        (A.STANDING, 30.0),
        (A.SITTING, 1 * MIN),
        (A.FIDGET, 5.0),
        (A.SITTING, 1 * MIN),
        (A.NONWEAR, 2 * MIN),
    ),
)

#: The named scenarios, by name.
SCENARIOS: MappingProxyType[str, Script] = MappingProxyType(
    {script.name: script for script in (OFFICE_MORNING, QUICK, ALL_POSTURES)}
)


#: Scenarios built by modules that import this one: name -> (module, function of no arguments).
_BUILT: MappingProxyType[str, tuple[str, str]] = MappingProxyType(
    {"programme_session": ("firmware_sim.exercises", "programme_session")}
)


def scenario_names() -> tuple[str, ...]:
    """Every scenario name ``scenario`` knows.

    >>> scenario_names()[-1]
    'programme_session'
    """
    return (*SCENARIOS, *_BUILT)


def scenario(name: str) -> Script:
    """The named scenario (``scenario_names``).

    Raises:
        ValueError: No scenario has that name; the message lists the known ones.
    """
    if name in _BUILT:
        module, function = _BUILT[name]
        built: Script = getattr(importlib.import_module(module), function)()
        return built
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; choose one of {', '.join(scenario_names())}") from None
