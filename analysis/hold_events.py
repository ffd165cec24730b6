"""The events of the hold timer (``analysis.holds``): a hold started, a hold ended.

:class:`HoldStarted` goes out as soon as a held position is reached and steady, so that
a dashboard can run the hold timer; :class:`HoldEnded` when the hold is over, with its
length, whether it was broken early and how many bounce cycles it held.

>>> ended = HoldEnded(2.0, 12.5, "knee_roll", "left", 10.0, False, 0, 1)
>>> ended.duration_s, ended.to_dict()["kind"]
(10.5, 'hold')
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

__all__ = ["HoldEnded", "HoldStarted"]


@dataclass(frozen=True, slots=True)
class HoldStarted:
    """A hold began at ``t_s``: the position was reached and is steady (emitted live).

    Attributes:
        t_s: Start of the hold, s.
        exercise: Programme exercise id.
        side: ``"left"``, ``"right"`` or None (an exercise done on both sides at once).
        target_s: The hold asked for, s.
    """

    kind: ClassVar[str] = "hold_started"
    t_s: float
    exercise: str
    side: str | None
    target_s: float

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form, including ``kind``."""
        return {"kind": self.kind, **asdict(self)}


@dataclass(frozen=True, slots=True)
class HoldEnded:
    """A closed hold.

    Attributes:
        start_s: Start of the hold, s (the ``t_s`` of its ``HoldStarted``).
        end_s: End of the hold, s.
        exercise: Programme exercise id.
        side: ``"left"``, ``"right"`` or None.
        target_s: The hold asked for, s.
        broken: Shorter than the target by more than ``BROKEN_GRACE_S`` (``analysis.hold_rules``).
        bounces: Bounce cycles seen in the hold.
        hold: 1-based number of this hold in the detector's run: per side for a per-side
            exercise, overall otherwise.
    """

    kind: ClassVar[str] = "hold"
    start_s: float
    end_s: float
    exercise: str
    side: str | None
    target_s: float
    broken: bool
    bounces: int
    hold: int

    @property
    def duration_s(self) -> float:
        """Length of the hold, s."""
        return self.end_s - self.start_s

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form, including ``kind``."""
        return {"kind": self.kind, **asdict(self)}
