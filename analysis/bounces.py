"""Bounces in a hold, counted by a zig-zag detector on the departure angle.

programme.md: never bounce. A bounce is a swing of the departure angle (per 0.1-s frame)
of at least ``max(BOUNCE_FLOOR_DEG, BOUNCE_FRAC x depth)`` between turning points
:data:`BOUNCE_HALF_S` apart (half-periods of 0.5-3 Hz), counted with a zig-zag
(peak-valley) detector; two swings make a cycle. The 2° floor is "a few degrees": above
the frame noise and the breathing sway of a lying body
(``firmware_sim.params.MotionParams.lying_sway_deg``, 0.75°, and slower than 0.5 Hz),
and the 10% makes a bounce of a large stretch (the knee hug's 75°) count only when it
is clearly part of the movement rather than an adjustment.

A hold 30° deep (swings of 3° count) that swings between 30° and 34° every 0.3 s: a
swing counts once the next one has gone 3° back, and the last frame of each swing
(3, 6, 9, 12) is its end.

>>> counter = BounceCounter(0.1)
>>> counter.set_depth(30.0)
>>> for k, deg in enumerate([30, 31, 33, 34, 33, 31, 30, 31, 33, 34, 33, 31, 30, 31, 33]):
...     counter.add(deg, k)
>>> counter.swings, counter.swing_ends, counter.cycles_until(14), counter.cycles_until(8)
(4, [3, 6, 9, 12], 2, 1)
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["BOUNCE_FLOOR_DEG", "BOUNCE_FRAC", "BOUNCE_HALF_S", "BounceCounter"]

#: Least bounce swing, deg peak to peak (see the module docstring).
BOUNCE_FLOOR_DEG = 2.0
#: Least bounce swing as a fraction of the hold's depth.
BOUNCE_FRAC = 0.1
#: Shortest and longest half-period of a bounce, s (3 Hz to 0.5 Hz).
BOUNCE_HALF_S = (1.0 / 6.0, 1.0)


def _finite(pair: tuple[float, int]) -> tuple[float | None, int]:
    """A (value, frame) pair for JSON: an infinite value (none seen yet) as None."""
    return (pair[0] if math.isfinite(pair[0]) else None, pair[1])


class BounceCounter:
    """The zig-zag bounce detector of one hold (see the module docstring).

    Args:
        frame_s: Frame length, s.

    Attributes:
        swing_deg: Least swing that counts, deg (0 until :meth:`set_depth`).
        swings: Swings counted.
        swing_ends: Frames at which the recent swings ended (see :meth:`forget_before`).
    """

    __slots__ = ("_dir", "_ext", "_ext_k", "_hi", "_lo", "_turn_k", "frame_s", "swing_deg", "swing_ends", "swings")

    def __init__(self, frame_s: float) -> None:
        self.frame_s = frame_s
        self.swing_deg = 0.0
        # Direction, extreme and its frame, last turning point, the running min and max
        # before the first turn.
        self._dir = 0
        self._ext = 0.0
        self._ext_k = 0
        self._lo = (math.inf, 0)
        self._hi = (-math.inf, 0)
        self._turn_k = 0
        self.swings = 0
        self.swing_ends: list[int] = []

    def set_depth(self, depth_deg: float) -> None:
        """Set the least swing for a hold ``depth_deg`` from rest."""
        self.swing_deg = max(BOUNCE_FLOOR_DEG, BOUNCE_FRAC * depth_deg)

    def add(self, x: float, k: int) -> None:
        """Feed frame ``k``'s departure angle ``x``, deg."""
        b = self.swing_deg
        if self._dir == 0:
            if x < self._lo[0]:
                self._lo = (x, k)
            if x > self._hi[0]:
                self._hi = (x, k)
            if x - self._lo[0] >= b:
                self._dir, self._turn_k, self._ext, self._ext_k = 1, self._lo[1], x, k
            elif self._hi[0] - x >= b:
                self._dir, self._turn_k, self._ext, self._ext_k = -1, self._hi[1], x, k
            return
        if (x - self._ext) * self._dir >= 0:  # further the same way
            self._ext, self._ext_k = x, k
            return
        if abs(self._ext - x) < b:
            return
        half_s = (self._ext_k - self._turn_k) * self.frame_s
        if BOUNCE_HALF_S[0] - 1e-9 <= half_s <= BOUNCE_HALF_S[1] + 1e-9:
            self.swings += 1
            self.swing_ends.append(self._ext_k)
        self._dir, self._turn_k, self._ext, self._ext_k = -self._dir, self._ext_k, x, k

    def cycles_until(self, end_k: int) -> int:
        """Bounce cycles of the swings that ended by frame ``end_k``."""
        return max(0, self.swings - sum(1 for e in self.swing_ends if e > end_k)) // 2

    def forget_before(self, k: int) -> None:
        """Drop the ends of swings before frame ``k`` (no hold can end before it)."""
        self.swing_ends = [e for e in self.swing_ends if e >= k]

    def to_json(self) -> dict[str, Any]:
        """Return the state (less ``swing_deg``) as JSON-serialisable data."""
        return {
            "zz": [self._dir, self._ext, self._ext_k, *_finite(self._lo), *_finite(self._hi)],
            "turn_k": self._turn_k,
            "swings": self.swings,
            "swing_ends": list(self.swing_ends),
        }

    def load(self, state: dict[str, Any]) -> None:
        """Restore the state saved by ``to_json``."""
        zz_dir, zz_ext, zz_ext_k, lo, lo_k, hi, hi_k = state["zz"]
        self._dir, self._ext, self._ext_k = int(zz_dir), float(zz_ext), int(zz_ext_k)
        self._lo = (math.inf if lo is None else float(lo), int(lo_k))
        self._hi = (-math.inf if hi is None else float(hi), int(hi_k))
        self._turn_k = int(state["turn_k"])
        self.swings = int(state["swings"])
        self.swing_ends = [int(k) for k in state["swing_ends"]]
