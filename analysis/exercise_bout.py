"""The bout of one exercise that the recogniser (``analysis.recognition``) has under way.

:class:`ExerciseBout` counts the labelled looks of the bout: the looks per label (the
bout's exercise is the label with the most), the end of each label's last look, and
the latest run of looks of one label, which the recogniser closes the bout on when
another exercise has taken over.

>>> bout = ExerciseBout(first_k=0, last_k=300, looks_first_k=300)
>>> for label, end in [("knee_roll", 300), ("pelvic_tilt", 320), ("pelvic_tilt", 340)]:
...     bout.add(label, end - 300, end)
>>> bout.best(), bout.run, bout.last_k_of
('pelvic_tilt', ('pelvic_tilt', 2, 20, 320), {'knee_roll': 300, 'pelvic_tilt': 340})
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ExerciseBout"]

#: Order of the labels when two have as many looks in a bout.
_ORDER = ("knee_roll", "pelvic_tilt", "knee_hug", "squat", "back_stabiliser")


@dataclass(slots=True)
class ExerciseBout:
    """The recognised bout under way (see the module docstring).

    Attributes:
        first_k: Its start (frame index).
        last_k: End of its last labelled look.
        looks_first_k: End of its first labelled look.
        votes: Labelled looks per label.
        last_k_of: End of the last look of each label.
        run: Label of the latest run of same-labelled looks, its length, the start of
            its first look's window and that look's end.
        started: Whether ``ExerciseRecognised`` went out.
    """

    first_k: int
    last_k: int
    looks_first_k: int
    votes: dict[str, int] = field(default_factory=dict)
    last_k_of: dict[str, int] = field(default_factory=dict)
    run: tuple[str, int, int, int] = ("", 0, 0, 0)
    started: bool = False

    def best(self) -> str:
        """The label with the most looks (of those tied, the first in ``_ORDER``)."""
        return max(_ORDER, key=lambda label: (self.votes.get(label, 0), -_ORDER.index(label)))

    def add(self, label: str, window_k: int, k_end: int) -> None:
        """Count a look labelled ``label`` whose window starts at ``window_k`` and ends at ``k_end``."""
        run_label, run_len, run_k, run_end = self.run
        self.run = (label, run_len + 1, run_k, run_end) if label == run_label else (label, 1, window_k, k_end)
        self.votes[label] = self.votes.get(label, 0) + 1
        self.last_k_of[label] = k_end
        self.last_k = k_end

    def to_json(self) -> dict[str, Any]:
        """Return the state as JSON-serialisable data."""
        return {
            "first_k": self.first_k,
            "last_k": self.last_k,
            "looks_first_k": self.looks_first_k,
            "votes": dict(self.votes),
            "last_k_of": dict(self.last_k_of),
            "run": list(self.run),
            "started": self.started,
        }

    @staticmethod
    def from_json(state: dict[str, Any]) -> ExerciseBout:
        """Restore a bout saved by ``to_json``."""
        label, length, window_k, k_end = state["run"]
        return ExerciseBout(
            int(state["first_k"]),
            int(state["last_k"]),
            int(state["looks_first_k"]),
            {str(k): int(v) for k, v in state["votes"].items()},
            {str(k): int(v) for k, v in state["last_k_of"].items()},
            (str(label), int(length), int(window_k), int(k_end)),
            bool(state["started"]),
        )
