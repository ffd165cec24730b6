"""The long axis of the worn segment, learned from gait, for the exercise recogniser.

The *long axis* of the segment (femur, trunk) is the gravity direction seen while
walking (Skotte et al. 2014, Med Sci Sports Exerc 46(9):1839-1846,
doi:10.1249/MSS.0000000000000308); the recogniser (``analysis.recognition``) measures
each look's posture and movement against it. Each look's last 2-s block that is gait
(its |a| spreads over :attr:`~analysis.looks.RecognitionTuning.max_shake_g` at a
walking cadence) adds its mean direction to a running sum that fades by 0.9 a block,
about 10 gait looks of memory, so the axis follows a re-clip. The axis is read from the
sum once its weight reaches 3 (:class:`analysis.screen.AxisAt`).

>>> axis = AxisAt(np.zeros(3), 0.0)
>>> for _ in range(3):
...     axis = _with_gait(axis, np.array([0.0, 0.0, 1.0]))
>>> round(axis.weight, 2), axis.axis
(2.71, None)
>>> _with_gait(axis, np.array([0.0, 0.0, 1.0])).axis.tolist()
[0.0, 0.0, 1.0]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from analysis.looks import RecognitionTuning, is_gait, unit
from analysis.screen import AxisAt, Screen

__all__ = ["learned_axes"]


def _with_gait(axis: AxisAt, direction: NDArray[np.float64]) -> AxisAt:
    """``axis`` after a block of gait whose mean acceleration points along ``direction`` (3,)."""
    # About 10 gait looks of memory: follows a re-clip.
    return AxisAt(axis.total * 0.9 + direction, axis.weight * 0.9 + 1.0)


def _learn_gait(axis: AxisAt, window: NDArray[np.float64], frame_s: float, tuning: RecognitionTuning) -> AxisAt:
    """``axis`` after a block of frame rows (shape (n, N_ACC_STATS)): learned from if it is gait, else unchanged."""
    sums = window.sum(axis=0)
    if sums[0] == 0 or np.any(window[:, 0] == 0):
        return axis
    mean = sums[4] / sums[0]
    if sums[5] / sums[0] - mean * mean <= tuning.max_shake_g**2 or not is_gait(window, frame_s, tuning):
        return axis
    return _with_gait(axis, unit(sums[1:4]))


def learned_axes(
    axis: AxisAt,
    screen: Screen,
    rows: NDArray[np.float64],
    starts: list[int],
    ends: list[int],
    *,
    gait_frames: int,
    frame_s: float,
    tuning: RecognitionTuning,
) -> list[AxisAt]:
    """Learn the long axis from each look's last block in turn; return the axis each look sees.

    Args:
        axis: The long axis learned before these looks.
        screen: What the screen found for the looks (``learn``: what each one's last
            block teaches; ``units``: the direction of those surely gait).
        rows: Frame rows, shape (n, N_ACC_STATS).
        starts: Each look's first row in ``rows``.
        ends: Each look's end row in ``rows``.
        gait_frames: Frames in a block of gait (``is_gait``'s block).
        frame_s: Frame length, s.
        tuning: Thresholds.

    Returns:
        The axis as it stands at each look, the last one's being the axis learned so far.
    """
    at = axis
    axes: list[AxisAt] = []
    for j in [j for j, learn in enumerate(screen.learn) if learn]:
        axes.extend([at] * (j - len(axes)))
        if screen.learn[j] == 1:
            at = _with_gait(at, screen.units[j])
        else:
            at = _learn_gait(at, rows[max(starts[j], ends[j] - gait_frames) : ends[j]], frame_s, tuning)
        axes.append(at)
    axes.extend([at] * (len(screen.learn) - len(axes)))
    return axes
