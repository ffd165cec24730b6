"""Boxes of gravity directions, and the postures that a window whose directions lie in one surely is not in.

The screen (``analysis.screen``) bounds every smoothed gravity direction of a window by
a box of its blocks' extremes; :func:`direction_box` turns that into a box holding their
unit directions, so the window's resting direction, and :func:`off_posture` and
:func:`off_hook_without_axis` tell from it that the window surely gets no label.

Each corner is divided by the box's nearest or farthest ``|v|`` (0.9 and ~1.11 here),
so the box is sound rather than tight:

>>> high, low = direction_box([0.1, 1.1, 0.1], [-0.1, 0.9, -0.1])
>>> [round(v, 3) for v in high], [round(v, 3) for v in low]
([0.111, 1.222, 0.111], [-0.111, 0.812, -0.111])
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from analysis.looks import RecognitionTuning

__all__ = ["direction_box", "direction_boxes", "off_hook_without_axis", "off_posture", "off_postures"]


def direction_boxes(
    high: NDArray[np.float64], low: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """:func:`direction_box` of many boxes, rows of ``high`` and ``low``, shape (h, 3) each."""
    inside = (low <= 0) & (high >= 0)
    near = np.sqrt(np.square(np.where(inside, 0.0, np.minimum(np.abs(low), np.abs(high)))).sum(axis=1))[:, None]
    far = np.sqrt(np.square(np.maximum(np.abs(low), np.abs(high))).sum(axis=1))[:, None]
    known = (near > 0) & np.isfinite(far)
    near, far = np.where(known, near, 1.0), np.where(known, far, 1.0)
    slack = 1e-12
    up = np.where(known, high / np.where(high < 0, far, near) + slack, np.inf)
    down = np.where(known, low / np.where(low < 0, near, far) - slack, -np.inf)
    return up, down


def off_postures(
    high: NDArray[np.float64],
    low: NDArray[np.float64],
    axis: NDArray[np.float64],
    thigh: bool,
    tuning: RecognitionTuning,
) -> list[bool]:
    """:func:`off_posture` of many boxes and axes, rows of shape (h, 3) each."""
    with np.errstate(invalid="ignore"):  # inf * 0 in an unbounded box: not known
        top = np.maximum(axis * low, axis * high).sum(axis=1)
        bottom = np.minimum(axis * low, axis * high).sum(axis=1)
    inside = (low <= 0) & (high >= 0)
    near = np.sqrt(np.square(np.where(inside, 0.0, np.minimum(np.abs(low), np.abs(high)))).sum(axis=1))
    far = np.sqrt(np.square(np.maximum(np.abs(low), np.abs(high))).sum(axis=1))
    known = np.isfinite(high).all(axis=1) & np.isfinite(low).all(axis=1) & (near > 0)
    near, far = np.where(known, near, 1.0), np.where(known, far, 1.0)
    hi = np.where(top < 0, top / far, top / near)  # bounds of rest @ axis
    lo = np.where(bottom < 0, bottom / near, bottom / far)
    slack = 1e-9
    chord = np.sqrt(np.square(np.where(known[:, None], high - low, 0.0)).sum(axis=1))
    widest = 2.0 * np.degrees(np.arcsin(np.minimum(1.0, chord / 2.0)))
    squat_min_deg = tuning.squat_min_deg if thigh else tuning.squat_min_deg / 2
    upright = (hi >= math.cos(math.radians(tuning.upright_max_deg)) - slack) & (widest >= squat_min_deg - slack)
    if thigh:
        lying = lo <= math.cos(math.radians(tuning.hook_min_deg)) + slack
    else:
        band = math.radians(tuning.lying_band_deg)
        lying = (lo <= math.cos(math.pi / 2 - band) + slack) & (hi >= math.cos(math.pi / 2 + band) - slack)
    away: list[bool] = (known & ~upright & ~lying).tolist()
    return away


def direction_box(high: list[float], low: list[float]) -> tuple[list[float], list[float]]:
    """A box ``(high, low)`` holding ``v / |v|`` for every ``v`` of the box ``low..high`` (3 each).

    Unbounded when the box holds 0.
    """
    (h0, h1, h2), (l0, l1, l2) = high, low  # written out: one is found for most live looks
    near = math.sqrt(
        (0.0 if l0 <= 0 <= h0 else min(l0 * l0, h0 * h0))
        + (0.0 if l1 <= 0 <= h1 else min(l1 * l1, h1 * h1))
        + (0.0 if l2 <= 0 <= h2 else min(l2 * l2, h2 * h2))
    )
    far = math.sqrt(max(l0 * l0, h0 * h0) + max(l1 * l1, h1 * h1) + max(l2 * l2, h2 * h2))
    if not (near > 0 and math.isfinite(far)):
        return [math.inf] * 3, [-math.inf] * 3
    slack = 1e-12
    return (
        [hi / (far if hi < 0 else near) + slack for hi in high],
        [lo / (near if lo < 0 else far) - slack for lo in low],
    )


def off_posture(
    box: tuple[list[float], list[float]], axis: tuple[float, float, float], thigh: bool, tuning: RecognitionTuning
) -> bool:
    """Whether a window whose smoothed directions lie in ``box`` (high, low) is surely in no labelled posture.

    Every label needs the window lying (thigh: hook lying) or upright (``analysis.looks``), both
    read from its resting direction, which lies in the box; upright, it also needs a
    pitch (the range of the inclination) of ``squat_min_deg``, which two directions in
    the box can differ by only if its diagonal (a chord) spans that angle.

    Args:
        box: Upper and lower corners, 3 each.
        axis: Long axis, unit.
        thigh: Whether the sensor is on the thigh (else the trunk).
        tuning: Thresholds.
    """
    high, low = box
    if not all(math.isfinite(v) for v in (*high, *low)):
        return False
    (a, b, c), (h0, h1, h2), (l0, l1, l2) = axis, high, low
    top = max(a * l0, a * h0) + max(b * l1, b * h1) + max(c * l2, c * h2)
    bottom = min(a * l0, a * h0) + min(b * l1, b * h1) + min(c * l2, c * h2)
    near = math.sqrt(sum(0.0 if lo <= 0 <= hi else min(lo * lo, hi * hi) for lo, hi in ((l0, h0), (l1, h1), (l2, h2))))
    far = math.sqrt(max(l0 * l0, h0 * h0) + max(l1 * l1, h1 * h1) + max(l2 * l2, h2 * h2))
    if not near > 0:
        return False
    hi = top / (far if top < 0 else near)  # bounds of rest @ axis
    lo = bottom / (near if bottom < 0 else far)
    slack = 1e-9
    chord = math.sqrt((h0 - l0) ** 2 + (h1 - l1) ** 2 + (h2 - l2) ** 2)
    widest = 2.0 * math.degrees(math.asin(min(1.0, chord / 2.0)))
    squat_min_deg = tuning.squat_min_deg if thigh else tuning.squat_min_deg / 2
    upright = hi >= math.cos(math.radians(tuning.upright_max_deg)) - slack and widest >= squat_min_deg - slack
    if thigh:
        lying = lo <= math.cos(math.radians(tuning.hook_min_deg)) + slack
    else:
        band = math.radians(tuning.lying_band_deg)
        lying = lo <= math.cos(math.pi / 2 - band) + slack and hi >= math.cos(math.pi / 2 + band) - slack
    return not (upright or lying)


def _abs_range(lo: float, hi: float) -> tuple[float, float]:
    """Smallest and largest ``|x|`` for ``x`` in ``lo..hi``."""
    return (0.0 if lo <= 0 <= hi else min(abs(lo), abs(hi))), max(abs(lo), abs(hi))


def off_hook_without_axis(box: tuple[list[float], list[float]], tuning: RecognitionTuning) -> bool:
    """Whether a thigh window whose smoothed directions lie in ``box`` (high, low) is surely not hook lying.

    Before the long axis is learned, a thigh window gets a label only in hook lying as
    ``analysis.looks`` finds it without an axis: its resting direction within 30 deg of
    the sensor's face plane (``|z| < sin 30 deg``) and at an azimuth of
    ``hook_axis_deg`` .. ``90 - hook_axis_deg`` from its x axis. The resting direction
    is ``v / |v|`` for some ``v`` in the box, so ``|z|`` is at least the box's least
    ``|v_z|`` over its largest ``|v|``, and the azimuth (``atan2(|v_y|, |v_x|)``, the
    same for ``v`` and ``v / |v|``) lies between those of the box's corners.

    Args:
        box: Upper and lower corners, 3 each.
        tuning: Thresholds.

    >>> tuning = RecognitionTuning()
    >>> off_hook_without_axis(([0.02, 1.01, 0.11], [-0.02, 0.99, 0.09]), tuning)  # along y: a face axis
    True
    >>> off_hook_without_axis(([0.72, 0.72, 0.01], [0.70, 0.70, -0.01]), tuning)  # between x and y
    False
    """
    high, low = box
    if not all(math.isfinite(v) for v in (*high, *low)):
        return False
    (x_lo, x_hi), (y_lo, y_hi), (z_lo, _) = (_abs_range(lo, hi) for lo, hi in zip(low, high, strict=True))
    far = math.sqrt(x_hi * x_hi + y_hi * y_hi + max(low[2] * low[2], high[2] * high[2]))
    if not far > 0:
        return False
    slack = 1e-9  # far above the rounding of the resting direction's components and angles
    if z_lo / far >= math.sin(math.radians(30.0)) + slack:
        return True  # 30 deg or more out of the face plane
    widest = math.degrees(math.atan2(y_hi, x_lo))  # the azimuth's bounds
    narrowest = math.degrees(math.atan2(y_lo, x_hi))
    return widest < tuning.hook_axis_deg - slack or narrowest > 90.0 - tuning.hook_axis_deg + slack
