"""What every streaming detector of the ``Analyzer`` provides.

The analyser turns samples into frames once (``analysis.frames``) and hands every closed
frame, as a :class:`~analysis.frames.FrameBatch`, to each detector in its list: posture
and bouts (``analysis.posture_detector``), and the exercise detectors. A detector keeps
the least state that makes chunked input equal batch input, returns its own typed
events, and saves its state under its own ``name`` and ``version`` in the analyser's
snapshot, so that adding or changing one detector never throws away another's running
state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Protocol

from analysis.events import Event
from analysis.frames import FrameBatch

__all__ = ["Detector", "saved_part", "saved_parts"]


class Detector(Protocol):
    """One streaming stage fed the shared frames.

    Attributes:
        name: Key of the detector's part of the analyser's snapshot.
        version: Version of that part; a saved part of another version is not loaded
            (the detector starts fresh, the others carry on).
    """

    name: ClassVar[str]
    version: ClassVar[int]

    def update(self, frames: FrameBatch) -> list[Event]:
        """Take the next closed frames (consecutive with the last ones); return the events completed."""
        ...

    def flush(self, frames: FrameBatch) -> list[Event]:
        """Take the last frames of the stream or segment (maybe none) and close everything open."""
        ...

    def next_segment(self, forward: bool) -> Detector:
        """Return a fresh detector for the segment after a time jump, with this one's wearer state.

        Called after ``flush``. What belongs to the wearer rather than to the stream
        (a learned reference, a snooze) carries over; ``forward`` is False when the
        clock went back, so that times of the old clock are dropped.
        """
        ...

    def snapshot(self) -> dict[str, Any]:
        """Return the state as JSON-serialisable data."""
        ...

    def load(self, state: dict[str, Any]) -> None:
        """Restore the state saved by ``snapshot`` (same ``version``)."""
        ...


def saved_parts(detectors: Iterable[Detector]) -> dict[str, dict[str, Any]]:
    """The detectors' states for a snapshot: ``{name: {"version": v, "state": ...}}``."""
    return {d.name: {"version": d.version, "state": d.snapshot()} for d in detectors}


def saved_part(parts: Mapping[str, Any], detector: Detector) -> dict[str, Any] | None:
    """The state ``saved_parts`` kept for ``detector``; None when there is none of its name and version."""
    part = parts.get(detector.name)
    if not (isinstance(part, dict) and part.get("version") == detector.version):
        return None
    state: dict[str, Any] = part["state"]
    return state
