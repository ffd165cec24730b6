"""The detectors that follow a recognised bout: its repetitions and holds.

**Repetitions and holds of a found bout.** Given ``follow`` (``analysis.sets``
passes the counters of a guided exercise: ``exercise_detectors``), the first look
that gives a bout a label starts that label's followers on the frames of the look's
window, and they take every frame after it until the bout closes. The closed bout
then carries the repetitions its own label's followers counted (those that started
within the bout), the span from the first one's start to the last one's end, and its
holds: the same counters as a guided set, counting from up to a window before the
bout was recognised (``analysis.recognition``).

A :class:`Follower` is fed the recogniser's own frame rows, which keep the acceleration
statistics only (``N_ACC_STATS`` columns): its detectors get frames whose gyro columns
are zero.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from analysis.detector import Detector, saved_part, saved_parts
from analysis.events import Event
from analysis.frames import N_ACC_STATS, N_STATS, FrameBatch
from analysis.hold_events import HoldEnded
from analysis.reps import RepCounted

__all__ = ["Follow", "Follower"]

#: Makes the detectors that follow one exercise (no detector: it is not followed).
Follow = Callable[[str], list[Detector]]


@dataclass(slots=True)
class Follower:
    """The detectors following one label of the bout under way, and what they found.

    Attributes:
        detectors: The repetition counter and/or hold timer of the label.
        next_k: The first frame not given to them yet.
        reps: ``(start_s, t_s)`` of each repetition counted.
        holds: The holds closed.
    """

    detectors: list[Detector]
    next_k: int
    reps: list[tuple[float, float]] = field(default_factory=list)
    holds: list[HoldEnded] = field(default_factory=list)

    def feed(self, rows: NDArray[np.float64], k_first: int, k_end: int, t0_s: float, frame_s: float) -> None:
        """Give the detectors the frames from ``next_k`` to ``k_end`` of ``rows`` (whose first is ``k_first``)."""
        if k_end <= self.next_k:
            return
        stats = np.zeros((k_end - self.next_k, N_STATS))  # no gyro: the recogniser keeps none
        stats[:, :N_ACC_STATS] = rows[self.next_k - k_first : k_end - k_first]
        frames = FrameBatch(t0_s, frame_s, self.next_k, stats)
        for detector in self.detectors:
            self._take(detector.update(frames))
        self.next_k = k_end

    def close(self, t0_s: float, frame_s: float) -> None:
        """Flush the detectors: the set or hold under way closes."""
        frames = FrameBatch(t0_s, frame_s, self.next_k, np.empty((0, N_STATS)))
        for detector in self.detectors:
            self._take(detector.flush(frames))

    def _take(self, events: list[Event]) -> None:
        for e in events:
            if isinstance(e, RepCounted):
                self.reps.append((e.start_s, e.t_s))
            elif isinstance(e, HoldEnded):
                self.holds.append(e)

    def to_json(self) -> dict[str, Any]:
        """Return the state, with the detectors' saved parts, as JSON-serialisable data."""
        return {
            "next_k": self.next_k,
            "reps": [list(r) for r in self.reps],
            "holds": [asdict(h) for h in self.holds],
            "detectors": saved_parts(self.detectors),
        }

    @staticmethod
    def from_json(state: dict[str, Any], detectors: list[Detector]) -> Follower:
        """Restore onto fresh ``detectors``; ``ValueError`` when a part is missing or of another version."""
        for detector in detectors:
            saved = saved_part(state["detectors"], detector)
            if saved is None:
                raise ValueError(f"no saved state for the follower {detector.name!r}")
            detector.load(saved)
        return Follower(
            detectors,
            int(state["next_k"]),
            [(float(a), float(b)) for a, b in state["reps"]],
            [HoldEnded(**h) for h in state["holds"]],
        )
