"""The wearer's upright reference: learned from walking, refreshed over the day, or calibrated.

Inclination methods measure the sensor's tilt against the direction of gravity seen
while the wearer walks upright: Skotte et al. 2014 (Acti4, thigh; Med Sci Sports Exerc
46(9):1839-1846, doi:10.1249/MSS.0000000000000308) and Vähä-Ypyä et al. 2018 (hip;
Scand J Med Sci Sports 28(3):1092-1102, doi:10.1111/sms.13017). Because the reference
is learned from data, any mounting works, including a sensor worn upside down.

The reference is an exponentially weighted mean of the gravity directions of walking
frames, so it follows a sensor that slipped or was re-clipped. When one walking bout
settles more than ``reset_deg`` away from the reference (the sensor was re-clipped in
another orientation), that bout replaces the reference at once. An explicit
calibration (the wearer stands still for a few seconds) sets the reference directly.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["UprightReference", "gait_like"]


def _angle_deg(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    na = float(np.linalg.norm(a))
    nb = float(np.linalg.norm(b))
    if na == 0.0 or nb == 0.0:
        return 0.0
    return math.degrees(math.acos(max(-1.0, min(1.0, float(np.dot(a, b)) / (na * nb)))))


def gait_like(mag_g: NDArray[np.float64], frame_s: float, min_cadence_hz: float) -> bool:
    """Whether |a| oscillates at a walking cadence: each step is one rise and fall of |a|.

    Only gait teaches the upright: a set of squats or other exercise repetitions moves
    as hard but at 0.3-0.7 repetitions/s, with the trunk or thigh bent for much of it.
    The steps are counted as crossings of the mean |a| (two per step).

    Args:
        mag_g: Mean |a| of consecutive frames, g, shape (n,).
        frame_s: Frame length in s.
        min_cadence_hz: Slowest step frequency taken for walking, steps/s.

    Returns:
        True when the crossings reach ``2 * min_cadence_hz`` per second.

    >>> t = np.arange(30) * 0.1
    >>> gait_like(1 + 0.3 * np.sin(2 * np.pi * 1.8 * t), 0.1, 1.0)
    True
    >>> gait_like(1 + 0.2 * np.sin(2 * np.pi * 0.5 * t), 0.1, 1.0)  # squats, 2 s each
    False
    """
    if mag_g.size < 2:
        return False
    above = mag_g > float(np.mean(mag_g))
    crossings = int(np.count_nonzero(above[1:] != above[:-1]))
    return crossings >= 2 * min_cadence_hz * mag_g.size * frame_s


class UprightReference:
    """Exponentially weighted walking upright with bout resets and calibration.

    Args:
        min_frames: Walking frames needed before the reference is used.
        half_life_frames: Walking frames after which an old frame weighs half.
        reset_deg: A walking bout this far from the reference replaces it.
    """

    def __init__(self, min_frames: int, half_life_frames: float, reset_deg: float) -> None:
        self.min_frames = min_frames
        self.decay = 0.5 ** (1.0 / half_life_frames)
        self.reset_deg = reset_deg
        self.sum = np.zeros(3)
        self.weight = 0.0
        self.bout_sum = np.zeros(3)
        self.bout_frames = 0
        self.calibrated = False

    @property
    def ready(self) -> bool:
        """Whether a reference is known (from enough walking or a calibration)."""
        return self.weight >= self.min_frames

    def unit(self) -> NDArray[np.float64] | None:
        """The upright direction in sensor axes (unit vector, shape (3,)), or ``None``."""
        if not self.ready:
            return None
        norm = float(np.linalg.norm(self.sum))
        return None if norm == 0.0 else self.sum / norm

    def walking(self, unit_g: NDArray[np.float64]) -> None:
        """Add one walking frame's gravity direction (unit vector, shape (3,))."""
        self.walking_many(np.reshape(unit_g, (1, 3)))

    def walking_many(self, units_g: NDArray[np.float64]) -> None:
        """Add consecutive walking frames' gravity directions (unit vectors, shape (n, 3)).

        The weighted mean is updated frame by frame in plain floats: the same
        operations, in the same order and so to the same bits, as one vector update
        per frame.
        """
        if units_g.shape[0] == 0:
            return
        decay = self.decay
        s0, s1, s2 = self.sum.tolist()
        b0, b1, b2 = self.bout_sum.tolist()
        weight = self.weight
        for x, y, z in units_g.tolist():
            s0, s1, s2 = s0 * decay + x, s1 * decay + y, s2 * decay + z
            weight = weight * decay + 1.0
            b0, b1, b2 = b0 + x, b1 + y, b2 + z
            self.bout_frames += 1
            if self.bout_frames == self.min_frames and weight > self.min_frames:
                bout, ref = np.array([b0, b1, b2]), np.array([s0, s1, s2])
                if _angle_deg(bout, ref) > self.reset_deg:
                    s0, s1, s2 = b0, b1, b2
                    weight = float(self.bout_frames)
                    self.calibrated = False
        self.sum = np.array([s0, s1, s2])
        self.weight = weight
        self.bout_sum = np.array([b0, b1, b2])

    def end_bout(self) -> None:
        """A walking bout ended."""
        self.bout_sum = np.zeros(3)
        self.bout_frames = 0

    def calibrate(self, unit_g: NDArray[np.float64], frames: int) -> None:
        """Set the reference from a still standing period.

        Args:
            unit_g: Mean gravity direction while standing still, shape (3,).
            frames: Weight given to it, in walking frames (at least ``min_frames``).
        """
        norm = float(np.linalg.norm(unit_g))
        self.sum = unit_g / (norm if norm > 0 else 1.0) * max(frames, self.min_frames)
        self.weight = float(max(frames, self.min_frames))
        self.calibrated = True

    def snapshot(self) -> dict[str, Any]:
        """Return the JSON-serialisable state."""
        return {
            "sum": self.sum.tolist(),
            "weight": self.weight,
            "bout_sum": self.bout_sum.tolist(),
            "bout_frames": self.bout_frames,
            "calibrated": self.calibrated,
        }

    def load(self, state: dict[str, Any]) -> None:
        """Restore the state saved by ``snapshot()``."""
        self.sum = np.asarray(state["sum"], dtype=np.float64).reshape(3)
        self.weight = float(state["weight"])
        self.bout_sum = np.asarray(state["bout_sum"], dtype=np.float64).reshape(3)
        self.bout_frames = int(state["bout_frames"])
        self.calibrated = bool(state["calibrated"])
