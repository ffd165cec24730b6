"""Exercise sets: which detectors follow an exercise, and the sets their events make.

A guided exercise (``sitless analyze --exercise ID``, or a live session's
``exercise_start`` action) is followed by the repetition counter (``analysis.reps``)
and the hold timer (``analysis.holds``) that the exercise and the placement allow;
``any`` is the generic repetition counter. Without a guided exercise, the recogniser
(``analysis.recognition``, :func:`recognition_detectors`) looks for programme exercises
done unprompted. :func:`exercise_sets` turns the events of those detectors into the
``exercises`` list of the ``sitless analyze`` JSON (DESIGN.md):

- each set the counter closed is one entry, with the holds of that exercise inside it;
- holds outside any counted set (the plank and the other hold-only exercises) are
  grouped into one entry per run of holds less than ``HOLD_RUN_GAP_S`` apart, their
  repetitions being the holds;
- each bout the recogniser found is an entry (``found``) with the repetitions and
  holds its followers counted (``analysis.recognition``), unless a guided set overlaps
  it (the wearer said what was done then).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from analysis.detector import Detector
from analysis.events import Event
from analysis.holds import RULES as HOLD_RULES
from analysis.holds import HoldEnded, HoldTimer
from analysis.programme import exercise_by_id
from analysis.recognition import SERVED, ExerciseFound, ExerciseRecognizer, Follow
from analysis.reps import ANY, SUPPORTED, RepCounter, RepSet
from analysis.settings import Placement

__all__ = [
    "HOLD_RUN_GAP_S",
    "STANDING_EXERCISES",
    "ExerciseEnded",
    "ExerciseSet",
    "ExerciseStarted",
    "exercise_detectors",
    "exercise_sets",
    "followed",
    "follower",
    "recognition_detectors",
]

#: Holds further apart than this belong to separate sets, s (a rest between sets).
HOLD_RUN_GAP_S = 60.0
#: Exercises done standing: a guided one with a repetition counted breaks the sitting
#: bout, however short (``Analyzer.act``).
STANDING_EXERCISES = frozenset({"squat"})


@dataclass(frozen=True, slots=True)
class ExerciseStarted:
    """A guided exercise began: its repetitions and holds are followed from ``t_s``.

    Attributes:
        t_s: When, s.
        exercise: Programme exercise id, or ``any``.
        reps: Whether repetitions are counted (the placement allows it).
        holds: Whether holds are timed.
    """

    kind: ClassVar[str] = "exercise_started"
    t_s: float
    exercise: str
    reps: bool
    holds: bool

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form, including ``kind``."""
        return {"kind": self.kind, **asdict(self)}


@dataclass(frozen=True, slots=True)
class ExerciseEnded:
    """A guided exercise ended at ``t_s`` (the events of its last set come before this one).

    Attributes:
        t_s: When, s.
        exercise: Programme exercise id, or ``any``.
    """

    kind: ClassVar[str] = "exercise_ended"
    t_s: float
    exercise: str

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form, including ``kind``."""
        return {"kind": self.kind, **asdict(self)}


def followed(exercise: str, placement: Placement) -> tuple[bool, bool]:
    """Whether the exercise's repetitions, and its holds, can be followed from the placement.

    Raises:
        ValueError: ``exercise`` is neither ``any`` nor a programme exercise id, or
            neither can be followed from the placement (the message names both).
    """
    if exercise == ANY:
        return True, False
    try:
        exercise_by_id(exercise)
    except KeyError as err:
        raise ValueError(str(err).strip("'\"")) from err
    reps, holds = (exercise, placement) in SUPPORTED, (exercise, placement) in HOLD_RULES
    if not (reps or holds):
        raise ValueError(f"{exercise} cannot be followed from a sensor on the {placement}")
    return reps, holds


def exercise_detectors(exercise: str, placement: Placement, frame_s: float) -> list[Detector]:
    """The detectors that follow one exercise from one placement.

    Args:
        exercise: A programme exercise id, or ``any`` for the generic repetition counter.
        placement: Where the sensor is worn.
        frame_s: The analysis frame length, s.

    Returns:
        The repetition counter and/or the hold timer.

    Raises:
        ValueError: An unknown exercise, or one that cannot be followed from the
            placement (the message names both).
    """
    reps, holds = followed(exercise, placement)
    detectors: list[Detector] = []
    if reps:
        detectors.append(RepCounter(exercise, placement, frame_s))
    if holds:
        detectors.append(HoldTimer(exercise, placement, frame_s))
    return detectors


def recognition_detectors(placement: Placement, frame_s: float) -> list[Detector]:
    """The detectors that look for exercise done unprompted: the recogniser where the placement allows it.

    Each bout it finds is followed by the detectors of a guided set of that exercise
    (:func:`follower`), so a found bout carries its repetitions and holds.
    """
    return [ExerciseRecognizer(placement, frame_s, follow=follower(placement, frame_s))] if placement in SERVED else []


def follower(placement: Placement, frame_s: float) -> Follow:
    """What follows a found bout of an exercise: :func:`exercise_detectors`, none where it cannot be followed."""

    def follow(exercise: str) -> list[Detector]:
        try:
            return exercise_detectors(exercise, placement, frame_s)
        except ValueError:  # neither its repetitions nor its holds are followed from here
            return []

    return follow


@dataclass(frozen=True, slots=True)
class ExerciseSet:
    """One set of one exercise, an entry of the ``exercises`` list.

    Attributes:
        exercise: Programme exercise id, or ``any``.
        start_s: Start, s.
        end_s: End, s.
        reps: Repetitions (holds, for an exercise dosed by holds alone).
        holds: The holds in it, in order.
        found: Found by the recogniser, not in a guided exercise.
    """

    exercise: str
    start_s: float
    end_s: float
    reps: int
    holds: tuple[HoldEnded, ...] = ()
    found: bool = False

    def to_dict(self, t0_s: float = 0.0) -> dict[str, Any]:
        """Return the JSON entry, times relative to ``t0_s``."""
        return {
            "exercise": self.exercise,
            "start_s": self.start_s - t0_s,
            "end_s": self.end_s - t0_s,
            "reps": self.reps,
            "holds_s": [round(h.duration_s, 3) for h in self.holds],
            "holds_broken": sum(h.broken for h in self.holds),
            "holds_bounced": sum(h.bounces > 0 for h in self.holds),
            "sides": sorted({h.side for h in self.holds if h.side is not None}),
            "found": self.found,
        }


def exercise_sets(events: Iterable[Event]) -> tuple[ExerciseSet, ...]:
    """The exercise sets of a stream's events, in time order (see the module docstring)."""
    events = list(events)
    counted = [e for e in events if isinstance(e, RepSet)]
    holds = sorted((e for e in events if isinstance(e, HoldEnded)), key=lambda h: h.start_s)
    owned: list[list[HoldEnded]] = [[] for _ in counted]
    loose: list[HoldEnded] = []
    for hold in holds:
        owner = next(
            (i for i, c in enumerate(counted) if c.exercise == hold.exercise and c.start_s <= hold.start_s < c.end_s),
            None,
        )
        (loose if owner is None else owned[owner]).append(hold)
    sets = [
        ExerciseSet(c.exercise, c.start_s, c.end_s, c.reps, tuple(mine)) for c, mine in zip(counted, owned, strict=True)
    ]
    sets += _hold_runs(loose)
    for bout in (e for e in events if isinstance(e, ExerciseFound)):
        if not any(s.start_s < bout.end_s and bout.start_s < s.end_s for s in sets):
            sets.append(ExerciseSet(bout.exercise, bout.start_s, bout.end_s, bout.reps, bout.holds, found=True))
    return tuple(sorted(sets, key=lambda s: (s.start_s, s.exercise)))


def _hold_runs(holds: list[HoldEnded]) -> list[ExerciseSet]:
    """Holds of one exercise less than ``HOLD_RUN_GAP_S`` apart, as sets whose repetitions are the holds."""
    runs: list[list[HoldEnded]] = []
    for hold in holds:
        last = runs[-1][-1] if runs else None
        if last is not None and last.exercise == hold.exercise and hold.start_s - last.end_s <= HOLD_RUN_GAP_S:
            runs[-1].append(hold)
        else:
            runs.append([hold])
    return [ExerciseSet(r[0].exercise, r[0].start_s, r[-1].end_s, len(r), tuple(r)) for r in runs]
