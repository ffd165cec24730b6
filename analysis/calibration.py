"""Explicit calibration of the upright: the wearer stands still for a few seconds.

After ``UserAction.CALIBRATE`` the first ``PostureTuning.calibration_s`` of still
frames (movement restarts the count) give the upright direction directly, instead of
waiting for walking (``analysis.reference``). If the wearer never keeps still that long
within six times that span, the request lapses.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["CalibrationWindow"]


class CalibrationWindow:
    """Collects the still frames that follow a calibration request.

    Args:
        frames: Still frames needed (``calibration_s`` in frames, >= 1).

    >>> cal = CalibrationWindow(frames=2)
    >>> cal.start(10)
    >>> cal.feed(10, np.array([1.0, 0.0, 0.0]), still=True) is None
    True
    >>> cal.feed(11, np.array([1.0, 0.0, 0.0]), still=True).tolist()
    [1.0, 0.0, 0.0]
    """

    def __init__(self, frames: int) -> None:
        self.frames = frames
        self.from_k: int | None = None
        self.sum = np.zeros(3)
        self.n = 0

    def start(self, k: int) -> None:
        """Calibrate from frame ``k`` on."""
        self.from_k = k
        self.sum = np.zeros(3)
        self.n = 0

    def feed(self, k: int, unit_g: NDArray[np.float64], *, still: bool) -> NDArray[np.float64] | None:
        """Add frame ``k`` (gravity unit vector shape (3,)); return the upright once found.

        Returns:
            The mean gravity direction of the still span (unit vector, shape (3,)) on
            the frame that completes it, else ``None``.
        """
        if self.from_k is None or k < self.from_k:
            return None
        if not still:
            self.sum = np.zeros(3)
            self.n = 0
        else:
            self.sum = self.sum + unit_g
            self.n += 1
        if self.n >= self.frames:
            norm = float(np.linalg.norm(self.sum))
            self.from_k = None
            return self.sum / norm if norm > 0 else self.sum
        if k - self.from_k > 6 * self.frames:
            self.from_k = None  # never still long enough: give up
        return None

    def snapshot(self) -> dict[str, Any]:
        """Return the JSON-serialisable state (the keys of earlier decider snapshots)."""
        return {"calib_from_k": self.from_k, "calib_sum": self.sum.tolist(), "calib_n": self.n}

    def load(self, state: dict[str, Any]) -> None:
        """Restore the state saved by ``snapshot()``."""
        self.from_k = state["calib_from_k"]
        self.sum = np.asarray(state["calib_sum"], dtype=np.float64)
        self.n = int(state["calib_n"])
