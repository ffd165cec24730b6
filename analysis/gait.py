"""Walking for the decider: when walking-like movement is walking, and which frames teach the upright.

Movement at walking intensity (``PostureTuning.walk_sd_g``) is first taken for part of a
postural transition: a brisk sit-to-stand reaches walking intensity for up to ~1.5 s.
It is walking once it lasts ``walk_confirm_s``; a gap, non-wear or any frame below
walking intensity ends the walking bout. While walking, a frame adds its gravity
direction to the upright reference (``analysis.reference``) only when |a| over the
last ``walk_confirm_s`` rises and falls at a walking cadence (``gait_like``), so that
squats and similar repetitions teach nothing.

``add`` takes one frame; ``add_many`` takes a run of frames of an established walking
bout in one step (``analysis.steady.gait_windows``) and ends in the same state.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
from numpy.typing import NDArray

from analysis.reference import UprightReference, gait_like
from analysis.steady import gait_windows

__all__ = ["Gait"]


class Gait:
    """Walking bouts and the gait frames they give the upright reference.

    Args:
        reference: The upright reference that walking frames refresh (shared with the
            decider, which also reads it).
        confirm_frames: Walking-like frames in a row that make a walking bout
            (``walk_confirm_s`` in frames, >= 1); also the |a| history for the cadence.
        frame_s: Frame length in s.
        min_cadence_hz: Slowest step frequency taken for walking, steps/s.

    >>> gait = Gait(UprightReference(5, 100.0, 30.0), confirm_frames=2, frame_s=0.1, min_cadence_hz=1.0)
    >>> up = np.array([1.0, 0.0, 0.0])
    >>> gait.add(up, 1.2), gait.add(up, 0.8), gait.walking
    (False, True, True)
    """

    def __init__(self, reference: UprightReference, confirm_frames: int, frame_s: float, min_cadence_hz: float) -> None:
        self.reference = reference
        self.confirm_frames = confirm_frames
        self.frame_s = frame_s
        self.min_cadence_hz = min_cadence_hz
        self.walking = False
        # Gravity directions of the walking-like frames before walking is confirmed.
        self.walk_run: list[tuple[float, ...]] = []
        # |a| of the latest walking-like frames, g, for the cadence test.
        self.gait_m: deque[float] = deque(maxlen=confirm_frames)

    @property
    def steady(self) -> bool:
        """Whether a walking bout is established with a full |a| history (``add_many`` applies)."""
        return self.walking and len(self.gait_m) == self.confirm_frames

    def add(self, unit_g: NDArray[np.float64], mag_g: float) -> bool:
        """Add one walking-like frame; return whether it confirmed a walking bout.

        Args:
            unit_g: Gravity direction of the frame, unit vector, shape (3,).
            mag_g: Mean |a| of the frame, g.

        Returns:
            True on the frame that makes the walking-like run ``confirm_frames`` long.
        """
        self.gait_m.append(mag_g)
        gait = gait_like(np.asarray(self.gait_m), self.frame_s, self.min_cadence_hz)
        if self.walking:
            if gait:
                self.reference.walking(unit_g)
            return False
        self.walk_run.append(tuple(unit_g.tolist()))
        if len(self.walk_run) < self.confirm_frames:
            return False
        self.walking = True
        if gait:
            self.reference.walking_many(np.array(self.walk_run, dtype=np.float64))
        self.walk_run = []
        return True

    def add_many(self, units_g: NDArray[np.float64], mags_g: NDArray[np.float64]) -> None:
        """Add a run of walking-like frames while ``steady``: ``add`` of each, at once.

        Args:
            units_g: Gravity directions of the frames, unit vectors, shape (r, 3).
            mags_g: Mean |a| of the frames, g, shape (r,).
        """
        gait = gait_windows(np.asarray(self.gait_m), mags_g, self.frame_s, self.min_cadence_hz)
        self.gait_m.extend(mags_g[-self.confirm_frames :].tolist())
        self.reference.walking_many(units_g[gait])

    def leave(self) -> bool:
        """Forget the gait history and end an open walking bout; return whether one was open."""
        self.walk_run = []
        self.gait_m.clear()
        if not self.walking:
            return False
        self.reference.end_bout()
        self.walking = False
        return True

    def snapshot(self) -> dict[str, Any]:
        """Return the JSON-serialisable state (the keys of earlier decider snapshots)."""
        return {
            "walking": self.walking,
            "walk_run": [list(w) for w in self.walk_run],
            "gait_m": list(self.gait_m),
        }

    def load(self, state: dict[str, Any]) -> None:
        """Restore the state saved by ``snapshot()``."""
        self.walking = bool(state["walking"])
        self.walk_run = [tuple(w) for w in state["walk_run"]]
        self.gait_m = deque((float(m) for m in state.get("gait_m", [])), maxlen=self.confirm_frames)
