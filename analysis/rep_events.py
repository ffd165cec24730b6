"""The repetition counter's events (``analysis.reps``): a repetition, and a closed set.

>>> RepCounted(4.2, 2.9, "squat", 3).to_dict()
{'kind': 'rep', 't_s': 4.2, 'start_s': 2.9, 'exercise': 'squat', 'rep': 3, 'side': None}
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

__all__ = ["RepCounted", "RepSet"]


@dataclass(frozen=True, slots=True)
class RepCounted:
    """One repetition, emitted as soon as it is complete.

    Attributes:
        t_s: When it completed (back near rest, or the cycle's return), s.
        start_s: When it left rest (or the cycle's outward crossing), s.
        exercise: Exercise id (``any`` for the generic counter).
        rep: 1-based count within the set (both sides together for a per-side exercise).
        side: ``"left"``, ``"right"`` or None (see ``RepCounter`` for how sides are told).
    """

    kind: ClassVar[str] = "rep"
    t_s: float
    start_s: float
    exercise: str
    rep: int
    side: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form, including ``kind``."""
        return {"kind": self.kind, **asdict(self)}


@dataclass(frozen=True, slots=True)
class RepSet:
    """A closed set: its first repetition's start to its last one's end.

    Attributes:
        start_s: Start of the first repetition, s.
        end_s: End of the last repetition, s.
        exercise: Exercise id.
        reps: Repetitions counted (both sides together for a per-side exercise).
    """

    kind: ClassVar[str] = "exercise"
    start_s: float
    end_s: float
    exercise: str
    reps: int

    def to_dict(self) -> dict[str, Any]:
        """Return the ``exercises`` entry of the ``sitless analyze`` JSON, with ``kind``."""
        return {"kind": self.kind, "exercise": self.exercise, **asdict(self), "holds_s": []}
