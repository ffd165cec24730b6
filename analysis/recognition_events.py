"""The events of the exercise recogniser (``analysis.recognition``): a bout under way, a bout found.

:class:`ExerciseRecognised` goes out live as soon as a bout has enough labelled looks;
:class:`ExerciseFound` when the bout is over, with its repetitions and holds.

>>> found = ExerciseFound(10.0, 70.0, "knee_roll", 0.8, reps=6)
>>> found.duration_s, found.to_dict()["holds_s"]
(60.0, [])
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from analysis.hold_events import HoldEnded

__all__ = ["ExerciseFound", "ExerciseRecognised"]


@dataclass(frozen=True, slots=True)
class ExerciseFound:
    """A bout of one programme exercise, found without being told.

    Attributes:
        start_s: Start time in s (the start of its first labelled look).
        end_s: End time in s (the end of its last labelled look).
        exercise: Programme id (``analysis.programme``).
        confidence: Share, 0..1, of the bout's once-a-second looks labelled with it.
        reps: Repetitions counted in it (0 when the exercise's repetitions are not
            followed from the placement, or no ``follow`` was given).
        reps_span_s: The first repetition's start and the last one's end, s, or
            ``None`` without a repetition.
        holds: The holds timed in it.
        decided_s: When the bout was known to be over: the end of the look that closed
            it, s (not part of the JSON form).
    """

    kind: ClassVar[str] = "exercise_found"
    start_s: float
    end_s: float
    exercise: str
    confidence: float
    reps: int = 0
    reps_span_s: tuple[float, float] | None = None
    holds: tuple[HoldEnded, ...] = ()
    decided_s: float = math.nan

    @property
    def duration_s(self) -> float:
        """Length in s."""
        return self.end_s - self.start_s

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form, including ``kind``."""
        return {
            "kind": self.kind,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "exercise": self.exercise,
            "confidence": self.confidence,
            "reps": self.reps,
            "holds_s": [round(h.duration_s, 3) for h in self.holds],
        }


@dataclass(frozen=True, slots=True)
class ExerciseRecognised:
    """A bout of ``exercise`` is under way since ``t_s`` (sent once per bout, live)."""

    kind: ClassVar[str] = "exercise_recognised"
    t_s: float
    exercise: str

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form, including ``kind``."""
        return {"kind": self.kind, "t_s": self.t_s, "exercise": self.exercise}
