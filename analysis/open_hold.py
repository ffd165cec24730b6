"""The hold that the hold timer (``analysis.holds``) is timing: where, how deep, and its end once left.

A hold's tolerances follow from its *depth*, its angle from rest: it is left when the
0.3-s mean strays ``max(LEAVE_FLOOR_DEG, LEAVE_FRAC x depth, 1.5 x edge)`` from the held
direction (``edge``: the edge tolerance its start was found with), and its bounces
count from ``max(BOUNCE_FLOOR_DEG, BOUNCE_FRAC x depth)`` (``analysis.bounces``). A hold
left is not over at once (the wearer may be settling into the set's starting
position), so :class:`OpenHold` keeps its end until the timer decides.

>>> hold = OpenHold(0.1)
>>> hold.begin(np.array([0.0, 1.0, 0.0]), 40.0, 1.5, start_k=30, start_s=3.0)
>>> hold.leave, hold.bounces.swing_deg
(12.0, 4.0)
>>> hold.leave_at(11.8, end_k=117, k=119)
>>> hold.ended("knee_hug", 10.0, 1)  # 8.8 s of 10: broken
HoldEnded(start_s=3.0, end_s=11.8, exercise='knee_hug', side=None, target_s=10.0, broken=True, bounces=0, hold=1)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from analysis.bounces import BounceCounter
from analysis.hold_events import HoldEnded
from analysis.hold_rules import BROKEN_GRACE_S, LEAVE_FLOOR_DEG, LEAVE_FRAC

__all__ = ["OpenHold"]


class OpenHold:
    """The hold under way, from its start until it is over (see the module docstring).

    Args:
        frame_s: Frame length, s.

    Attributes:
        held: Direction held at the start, unit vector.
        held_now: Where the hold last stood still (it may creep a little), unit vector.
        depth: Angle of ``held`` from rest, deg.
        edge: Edge tolerance of the hold's ends, deg.
        leave: Departure from the held direction that leaves the hold, deg.
        start_k: First frame of the hold.
        start_s: Start of the hold, s.
        side: ``"left"``, ``"right"`` or None.
        side_first: Whether this hold set the direction of the first side.
        end_s: Once left (:meth:`leave_at`): the end, s.
        cycles: Once left: the bounce cycles held.
        left_k: Once left: the frame at which it was left.
        bounces: The hold's bounce counter.
    """

    __slots__ = (
        "bounces",
        "cycles",
        "depth",
        "edge",
        "end_s",
        "held",
        "held_now",
        "leave",
        "left_k",
        "side",
        "side_first",
        "start_k",
        "start_s",
    )

    def __init__(self, frame_s: float) -> None:
        self.held: list[float] = [0.0, 0.0, 0.0]
        self.held_now: list[float] = [0.0, 0.0, 0.0]
        self.depth = 0.0
        self.edge = 0.0
        self.leave = 0.0
        self.start_k = 0
        self.start_s = 0.0
        self.side: str | None = None
        self.side_first = False
        self.end_s = 0.0
        self.cycles = 0
        self.left_k = 0
        self.bounces = BounceCounter(frame_s)

    def begin(self, held: NDArray[np.float64], depth: float, edge: float, *, start_k: int, start_s: float) -> None:
        """Start the hold at ``held`` (3,), ``depth`` deg from rest, its start found with tolerance ``edge`` deg."""
        self.held, self.held_now, self.depth, self.edge = held.tolist(), held.tolist(), depth, edge
        self.leave = max(LEAVE_FLOOR_DEG, LEAVE_FRAC * depth, 1.5 * edge)
        self.bounces.set_depth(depth)
        self.start_k, self.start_s = start_k, start_s

    def leave_at(self, end_s: float, *, end_k: int, k: int) -> None:
        """The hold was left at frame ``k``; its last frame in place was ``end_k``, which ends at ``end_s``."""
        self.end_s = max(self.start_s, end_s)
        self.cycles = self.bounces.cycles_until(end_k)
        self.left_k = k

    def ended(self, exercise: str, target_s: float, number: int) -> HoldEnded:
        """The event of the hold left, over: the ``number``-th hold of ``exercise`` held for ``target_s``."""
        broken = self.end_s - self.start_s < target_s - BROKEN_GRACE_S
        return HoldEnded(self.start_s, self.end_s, exercise, self.side, target_s, broken, self.cycles, number)

    def to_json(self) -> dict[str, Any]:
        """Return the state as JSON-serialisable data."""
        return {
            "h": self.held,
            "h_now": self.held_now,
            "depth": self.depth,
            "edge": self.edge,
            "leave": self.leave,
            "bounce": self.bounces.swing_deg,
            "start_k": self.start_k,
            "start_s": self.start_s,
            "side": self.side,
            "side_first": self.side_first,
            "pending": [self.end_s, self.cycles, self.left_k],
            **self.bounces.to_json(),
        }

    def load(self, state: dict[str, Any]) -> None:
        """Restore the state saved by ``to_json``."""
        self.held = [float(v) for v in state["h"]]
        self.held_now = [float(v) for v in state["h_now"]]
        self.depth = float(state["depth"])
        self.edge = float(state["edge"])
        self.leave = float(state["leave"])
        self.bounces.swing_deg = float(state["bounce"])
        self.start_k = int(state["start_k"])
        self.start_s = float(state["start_s"])
        self.side = state["side"]
        self.side_first = bool(state["side_first"])
        end_s, cycles, left_k = state["pending"]
        self.end_s, self.cycles, self.left_k = float(end_s), int(cycles), int(left_k)
        self.bounces.load(state)
