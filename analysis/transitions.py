"""Sit-to-stand and stand-to-sit transitions: vertical hip displacement from |a|.

A trunk or waist sensor cannot tell upright sitting from standing by its angle alone,
but the transition between them can: the hips move down by about 0.3-0.5 m when
sitting down and up when standing up. Najafi et al. (2002, IEEE Trans Biomed Eng
49(8):843-851, doi:10.1109/TBME.2002.800763; 2003, IEEE Trans Biomed Eng 50(6):711-723,
doi:10.1109/TBME.2003.812189) classify these postural transitions from the pattern of
the vertical acceleration of a trunk sensor. Here the vertical acceleration is
approximated without knowing the mounting: the magnitude of the specific force,
``|a| - 1 g``, equals the vertical acceleration when the horizontal acceleration is
small, whatever the sensor's orientation. It is integrated twice over the transition
with the velocity forced to zero at both ends (the wearer is still before and after).

A sensor's |a| at rest is not exactly 1 g and differs by orientation (a zero-g offset
of tens of mg is typical, and ``uci_hapt`` phones read 1.01-1.03 g depending on
posture); a step of 20 mg in the middle of a 4-s window alone would integrate to
0.4 m. So the resting level is interpolated between its values before and after the
transition in proportion to how far the gravity direction has turned, which removes
that artefact. Level errors that remain grow with the square of the window, so the
window is trimmed to the active part of the movement (frames whose |a| departs from
the interpolated level by more than ``active_g``, plus ``pad_frames`` either side):
with the label windows widened by 1.5 s, this kept stand-to-sit negative in 89% of the
``uci_hapt`` development transitions (positive beyond +0.05 m in 6%) and sit-to-stand
above +0.05 m in all of them, where untrimmed windows of the same width gave 11% of
stand-to-sit above +0.05 m.

Measured on the labelled transitions of the ``uci_hapt`` development split (waist,
each transition taken from 0.5 s before to 0.5 s after its label, levels from 1 s
either side, untrimmed; ``tests/analysis/test_transitions.py``
repeats the measurement on six recordings): stand-to-sit -0.20 +- 0.17 m (95th
percentile +0.01 m), sit-to-stand +0.34 +- 0.12 m (5th percentile +0.23 m).
Transitions from lying turn the sensor by ~90 deg and are not separable this way
(lie-to-sit -0.06 +- 0.18 m, lie-to-stand +0.11 +- 1.03 m).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

__all__ = ["STANDARD_GRAVITY_MS2", "hip_displacement_m"]

#: Standard gravity (ISO 80000-3), m/s^2 per g.
STANDARD_GRAVITY_MS2 = 9.80665


def hip_displacement_m(
    mag_g: NDArray[np.float64],
    unit_g: NDArray[np.float64],
    before: tuple[float, NDArray[np.float64]],
    after: tuple[float, NDArray[np.float64]],
    frame_s: float,
    *,
    active_g: float = 0.05,
    pad_frames: int = 5,
) -> float:
    """Vertical displacement over a transition, from |a| (see the module docstring).

    Args:
        mag_g: Mean |a| of each frame of the transition, g, shape (n,).
        unit_g: Gravity direction (unit vector) of each frame, shape (n, 3).
        before: ``(|a| level in g, gravity unit vector shape (3,))`` while still before.
        after: The same while still after.
        frame_s: Frame length in s.
        active_g: Departure of |a| from the still level that marks movement, g.
        pad_frames: Frames kept either side of the active part.

    Returns:
        Displacement in m, positive upwards (standing up), 0 for fewer than 3 frames.

    >>> t = np.arange(40) * 0.1
    >>> up = 1.0 + 0.3 * np.sin(2 * np.pi * t / 4.0)  # push up, then brake
    >>> g = np.tile([1.0, 0.0, 0.0], (40, 1))
    >>> up[-4:] = 1.0  # still again
    >>> hip_displacement_m(up, g, (1.0, g[0]), (1.0, g[0]), 0.1) > 0.3
    True
    """
    m0, g0 = before
    m1, g1 = after
    active = np.flatnonzero(np.abs(mag_g - np.linspace(m0, m1, mag_g.shape[0])) > active_g)
    if active.size == 0:
        return 0.0
    lo, hi = max(0, int(active[0]) - pad_frames), int(active[-1]) + pad_frames + 1
    mag_g, unit_g = mag_g[lo:hi], unit_g[lo:hi]
    n = mag_g.shape[0]
    if n < 3:
        return 0.0
    turn = math.acos(max(-1.0, min(1.0, float(np.dot(g0, g1)))))
    if turn > 0.05:
        progress = np.arccos(np.clip(unit_g @ g0, -1.0, 1.0)) / turn
        weight = np.clip(progress, 0.0, 1.0)
    else:
        weight = np.linspace(0.0, 1.0, n)
    acc = (mag_g - (m0 + (m1 - m0) * weight)) * STANDARD_GRAVITY_MS2
    acc -= acc.mean()  # no net change of velocity: still before and after
    vel = np.cumsum(acc) * frame_s
    vel -= np.linspace(0.0, vel[-1], n)
    return float(np.sum(vel) * frame_s)
