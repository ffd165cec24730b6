"""Gravity directions of the last frames and their rolling means, kept by frame index.

:class:`DirectionBuffer` keeps, for each of the last 0.1-s frames (``analysis.frames``),
its gravity direction (the unit vector of the frame's acceleration sum) and the mean
direction over a short and a long window ending at it. The hold timer
(``analysis.holds``) reads from it how far the long mean has turned over a lag (is the
segment steady?) and how far each frame departs from a reference (is it away from
rest?). Each window is summed from 0 in row order, the same wherever it sits, so a
frame gets the same bits however the stream is chunked.

>>> buffer = DirectionBuffer(n_short=1, n_long=2)
>>> buffer.append(np.array([[2.0, 0.0, 0.0], [0.0, 3.0, 0.0]]))
>>> buffer.long.round(3).tolist(), buffer.turned_deg(0, n_lag=1).round(1).tolist()
([[1.0, 0.0, 0.0], [0.707, 0.707, 0.0]], [nan, 45.0])
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from analysis.angles import angles_deg

__all__ = ["DirectionBuffer"]


def _unit(sums: NDArray[np.float64], fill: float = math.nan) -> NDArray[np.float64]:
    """Rows scaled to unit length; zero rows become ``fill``, shape (n, 3) in and out."""
    norm = np.sqrt(sums[:, 0] * sums[:, 0] + sums[:, 1] * sums[:, 1] + sums[:, 2] * sums[:, 2])[:, None]
    out = np.full(sums.shape, fill)
    np.divide(sums, norm, out=out, where=norm > 0)
    return out


def _means(x: NDArray[np.float64], short: int, long: int, m: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Mean direction over the ``short`` and the ``long`` rows up to each of the last ``m`` rows.

    Frames without samples are zero rows, left out as are rows before the first (the
    start of the stream); a window without any row is NaN. Each window is summed from 0
    in row order (the long one goes on from the short one's sum), the same wherever it
    sits, so a frame gets the same bits in any chunking.

    Args:
        x: Unit vectors, or zero rows for frames without samples, shape (n, 3).
        short: Short window in rows (>= 1).
        long: Long window in rows (>= ``short``).
        m: Rows wanted, the last ones (<= n).

    Returns:
        ``(short, long)`` unit vectors or NaN rows, shape (m, 3) each.

    >>> x = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    >>> [v.round(3).tolist() for v in _means(x, 1, 3, 2)]  # the gap is left out
    [[[nan, nan, nan], [0.0, 1.0, 0.0]], [[1.0, 0.0, 0.0], [0.707, 0.707, 0.0]]]
    """
    first = x.shape[0] - m
    total = np.zeros((m, 3))
    short_total = total
    for j in range(long):
        lo = first - j  # each output row adds the row j before it
        if lo >= 0:
            total += x[lo : lo + m]
        elif m + lo > 0:
            total[-lo:] += x[: m + lo]
        if j == short - 1:
            short_total = total.copy()
    both = _unit(np.concatenate([short_total, total]))
    return both[:m], both[m:]


class DirectionBuffer:
    """The last frames' gravity directions and their short and long means (see the module docstring).

    Args:
        n_short: Short window in frames (>= 1).
        n_long: Long window in frames (>= ``n_short``).

    Attributes:
        k0: Frame index of the first row.
        x: Gravity directions: unit vectors, zero rows for frames without samples, shape (n, 3).
        short: Mean direction over the ``n_short`` frames up to each row; NaN rows where
            none has samples, shape (n, 3).
        long: The same over ``n_long`` frames, shape (n, 3).
    """

    __slots__ = ("k0", "long", "n_long", "n_short", "short", "x")

    def __init__(self, n_short: int, n_long: int) -> None:
        self.n_short = n_short
        self.n_long = n_long
        self.k0 = 0
        self.x: NDArray[np.float64] = np.zeros((0, 3))
        self.short = self.long = self.x

    def append(self, sums: NDArray[np.float64]) -> None:
        """Append new frames, given their acceleration sums (shape (m, 3)), with their mean directions."""
        m = sums.shape[0]
        self.x = np.concatenate([self.x, _unit(sums, 0.0)])
        short, long = _means(self.x, self.n_short, self.n_long, m)
        self.short = np.concatenate([self.short, short])
        self.long = np.concatenate([self.long, long])

    def turned_deg(self, first: int, n_lag: int) -> NDArray[np.float64]:
        """How far the long mean has turned over ``n_lag`` frames at each row from ``first`` on, deg.

        NaN where there is no mean, or no frame ``n_lag`` before (the stream's first
        frames).
        """
        n = self.x.shape[0]
        m = n - first
        lagged = self.long[max(first - n_lag, 0) : max(n - n_lag, 0)]
        if lagged.shape[0] < m:
            lagged = np.concatenate([np.full((m - lagged.shape[0], 3), np.nan), lagged])
        return angles_deg(self.long[first:], lagged)

    def departure_deg(self, first: int, end: int | None, ref: NDArray[np.float64]) -> NDArray[np.float64]:
        """Angle of each frame from ``ref`` (3,), rows ``first`` to ``end``, deg; NaN for frames without samples."""
        x = self.x[first:end]
        angles = angles_deg(x, ref)
        angles[(x[:, 0] == 0) & (x[:, 1] == 0) & (x[:, 2] == 0)] = np.nan
        return angles

    def against(
        self, first: int, ref: list[float] | None, held: list[float] | None
    ) -> tuple[list[float], list[float], list[float]]:
        """Angles of the rows from ``first`` on, deg: short mean and frame to ``ref``, short mean to ``held``.

        Without ``ref`` all three are 0 (NaN where the short mean is); without ``held``
        all three are the short mean's from ``ref``.
        """
        s = self.short[first:]
        if ref is None:
            nan = np.where(np.isnan(s[:, 0]), np.nan, 0.0).tolist()
            return nan, nan, nan
        ref_v = np.asarray(ref)
        depart = angles_deg(s, ref_v).tolist()
        if held is None:
            return depart, depart, depart
        raw = self.departure_deg(first, None, ref_v)
        off = angles_deg(s, np.asarray(held))
        return depart, raw.tolist(), off.tolist()

    def wobble_deg(self, row: int) -> float:
        """Largest angle between the short and the long means over the long window up to ``row``, deg.

        A smooth approach to a position hardly parts them; a bounce does. 0 when none
        has samples.
        """
        first = max(row - self.n_long + 1, 0)
        wobble = angles_deg(self.short[first : row + 1], self.long[first : row + 1])
        return float(np.max(wobble[~np.isnan(wobble)], initial=0.0))

    def within_from(self, lo: int, end: int, direction: NDArray[np.float64], tol_deg: float) -> int:
        """First row in ``lo`` to ``end`` from which the short means stay within ``tol_deg`` of ``direction`` (3,)."""
        off = angles_deg(self.short[lo:end], direction)
        outside = np.flatnonzero(off > tol_deg)
        return lo + (int(outside[-1]) + 1 if outside.size else 0)

    def last_within(self, lo: int, end: int, direction: NDArray[np.float64], tol_deg: float) -> int | None:
        """Last row in ``lo`` to ``end`` whose short mean is within ``tol_deg`` of ``direction`` (3,); None if none."""
        off = angles_deg(self.short[lo:end], direction)
        inside = np.flatnonzero(off <= tol_deg)
        return lo + int(inside[-1]) if inside.size else None

    def keep(self, rows: int, k_end: int) -> None:
        """Drop all but the last ``rows`` rows; ``k_end`` is the index of the frame after the last."""
        cut = max(0, self.x.shape[0] - rows)
        self.x, self.short, self.long = self.x[cut:], self.short[cut:], self.long[cut:]
        self.k0 = k_end - self.x.shape[0]

    def restore(self, x: NDArray[np.float64], k0: int) -> None:
        """Take saved gravity directions ``x`` (shape (n, 3)) from frame ``k0`` on; their means are found again.

        A window that reaches back past the first row is cut short: a reader must not
        look at the first ``n_long - 1`` rows' means.
        """
        self.x = x
        self.short, self.long = _means(self.x, self.n_short, self.n_long, self.x.shape[0])
        self.k0 = k0
