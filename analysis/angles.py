"""Angles between gravity directions, one at a time or a whole chunk at once.

The posture decisions compare angles with cut-points (``PostureTuning.move_deg``,
``fidget_deg``, the placements' sitting and lying cut-points). A frame must get the
same decision whether the analyser saw it in a chunk of one packet or of a whole day,
so the scalar and the vectorised forms here compute bit for bit the same value: the
dot product is summed left to right in plain IEEE arithmetic (``np.dot`` may use
fused multiply-adds, and ``math.acos`` may round differently from ``np.arccos``), and
the arc cosine is numpy's in both (its result does not depend on the array's length
or position, unlike a BLAS dot product).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import NDArray

__all__ = ["angle_deg", "angles_deg", "axis_inclination_deg", "axis_inclinations_deg", "beyond_deg", "dots"]

#: How far (in cosine) a dot product must lie from a cut-point's cosine for ``beyond_deg``
#: to compare it with the cosine instead of taking its angle.
_NEAR_COS = 1e-9


def angle_deg(a: Sequence[float] | NDArray[np.float64], b: Sequence[float] | NDArray[np.float64]) -> float:
    """Angle between two unit vectors, deg.

    Args:
        a: Unit vector, 3 values.
        b: Unit vector, 3 values.

    Returns:
        The angle in [0, 180] (the same value ``angles_deg`` gives for these rows).

    >>> round(angle_deg((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)), 9)
    90.0
    """
    dot = float(a[0]) * float(b[0]) + float(a[1]) * float(b[1]) + float(a[2]) * float(b[2])
    return float(np.degrees(np.arccos(max(-1.0, min(1.0, dot)))))


def angles_deg(units: NDArray[np.float64], other: NDArray[np.float64]) -> NDArray[np.float64]:
    """Row-wise angles between unit vectors, deg.

    Args:
        units: Unit vectors, shape (n, 3).
        other: One unit vector shape (3,), or one per row shape (n, 3).

    Returns:
        Angles in [0, 180], shape (n,).

    >>> u = np.array([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0]])
    >>> bool(angles_deg(u, np.array([0.6, 0.8, 0.0]))[1] == angle_deg(u[1], (0.6, 0.8, 0.0)))
    True
    """
    o = np.asarray(other, dtype=np.float64)
    dot = units[:, 0] * o[..., 0] + units[:, 1] * o[..., 1] + units[:, 2] * o[..., 2]
    return np.asarray(np.degrees(np.arccos(np.minimum(np.maximum(dot, -1.0), 1.0))), dtype=np.float64)


def axis_inclination_deg(u: Sequence[float] | NDArray[np.float64], axis: int) -> float:
    """Angle between a unit vector and a device axis, sign-agnostic, deg (0 to 90)."""
    return float(np.degrees(np.arccos(min(1.0, abs(float(u[axis]))))))


def axis_inclinations_deg(units: NDArray[np.float64], axis: int) -> NDArray[np.float64]:
    """Row-wise ``axis_inclination_deg`` of unit vectors shape (n, 3); returns shape (n,)."""
    return np.asarray(np.degrees(np.arccos(np.minimum(1.0, np.abs(units[:, axis])))), dtype=np.float64)


def dots(units: NDArray[np.float64], other: NDArray[np.float64]) -> list[float]:
    """Row-wise dot products with one unit vector, summed as ``angles_deg`` sums them.

    Args:
        units: Unit vectors, shape (n, 3).
        other: One unit vector, shape (3,).

    Returns:
        n dot products.
    """
    ox, oy, oz = other.tolist()
    return [x * ox + y * oy + z * oz for x, y, z in units.tolist()]


def beyond_deg(cosines: Iterable[float], cut_deg: float, *, inclusive: bool = False) -> list[bool]:
    """Whether the angle of each cosine lies beyond a cut-point, as ``angles_deg`` would decide it.

    A cut-point compared with a few frames' angles, without an arc cosine for each: a
    cosine (clipped to [-1, 1]) clearly on one side of the cut-point's decides at once (the arc cosine falls
    at least as steeply as its argument rises, so ``_NEAR_COS`` keeps the angle more than
    1e-9 rad from the cut-point, millions of times any rounding of it); one nearer takes
    the angle as ``angles_deg`` computes it (numpy's arc cosine of the clipped cosine).

    Args:
        cosines: Dot products of unit vectors (``dots``), or ``|u[axis]|`` for an inclination.
        cut_deg: The cut-point, deg.
        inclusive: Compare with ``>=`` instead of ``>``.

    Returns:
        One flag per cosine: ``angle > cut_deg`` (``>=`` if inclusive).

    >>> beyond_deg([1.0, 0.0, math.cos(math.radians(45.0))], 45.0, inclusive=True)
    [False, True, True]
    """
    cos_cut = _cos_deg(cut_deg)
    out: list[bool] = []
    for c in cosines:
        clipped = -1.0 if c < -1.0 else 1.0 if c > 1.0 else c  # as the arc cosine sees it (NaN stays)
        if clipped > cos_cut + _NEAR_COS:
            out.append(False)
        elif clipped < cos_cut - _NEAR_COS:
            out.append(True)
        else:
            angle = float(np.degrees(np.arccos(np.minimum(np.maximum(c, -1.0), 1.0))))
            out.append(angle >= cut_deg if inclusive else angle > cut_deg)
    return out


@functools.lru_cache(maxsize=64)
def _cos_deg(angle_deg: float) -> float:
    return math.cos(math.radians(angle_deg))
