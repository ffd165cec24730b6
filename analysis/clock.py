"""The wearable's clock: which sample times are jitter, and which start a new segment.

Sample times come from the wearable's clock, which can jump. Each sample is compared
with the one before it and with the latest time seen:

- a step back of at most ``PostureTuning.max_step_back_s`` behind the latest time seen
  is clock jitter: the sample is held at that latest time;
- a step forward of more than ``PostureTuning.max_gap_s``, or a sample further back
  than ``max_step_back_s`` behind the latest time seen, starts a new segment
  (``analysis.analyzer`` closes the one before it and marks the ``TimeJump``);
- shorter forward gaps stay in the segment, as frames without samples.

The step back is measured from the latest time seen rather than from the previous
sample alone, so that a clock drifting back in small steps starts a new segment once it
is ``max_step_back_s`` behind, instead of holding every later sample in one frame.
Samples timed beyond :data:`MAX_T_FRAMES` frames from 0 are not used at all.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from analysis.settings import PostureTuning

__all__ = ["MAX_T_FRAMES", "in_order", "next_jump"]

#: Sample times further than this many frames from 0 are ignored: float64 there is coarser
#: than 1/64 frame (2**52 / 2**46), so frame starts and alert times would stop
#: advancing. For 0.1-s frames that is 7.0e12 s, 223,000 years either side of the Unix
#: epoch, which still takes epoch milliseconds sent as seconds.
MAX_T_FRAMES = 2.0**46


def next_jump(
    t_s: NDArray[np.float64], prev_s: float, top_s: float, max_gap_s: float, max_back_s: float
) -> tuple[int, NDArray[np.float64]]:
    """Find the first sample that starts a new segment, and hold the jitter before it.

    Args:
        t_s: Sample times in s as received, shape (n,), finite.
        prev_s: Time of the sample before ``t_s[0]`` as received, s.
        top_s: Latest time reached in the current segment, s.
        max_gap_s: Longest step forward within a segment, s.
        max_back_s: Furthest a sample may lie behind the latest time and stay in the segment, s.

    Returns:
        ``(j, held_s)``: index of the first sample of a new segment (``n`` when there is
        none), and the times of ``t_s[:j]`` held at the running maximum, shape (j,).

    >>> j, held = next_jump(np.array([10.0, 9.8, 10.1, 8.0]), 9.9, 9.9, 600.0, 1.0)
    >>> j, held.tolist()
    (3, [10.0, 10.0, 10.1])
    """
    prev = np.concatenate(([prev_s], t_s[:-1]))
    top = np.maximum.accumulate(np.concatenate(([top_s], t_s)))
    jump = (t_s - prev > max_gap_s) | (t_s < top[:-1] - max_back_s)
    j = int(np.argmax(jump))
    if not jump[j]:
        j = t_s.size
    return j, top[1 : j + 1]


def in_order(t_s: NDArray[np.float64], prev_s: float | None, top_s: float | None, tuning: PostureTuning) -> bool:
    """Whether the samples go on the current segment as they are: none held, ignored or starting a new one.

    That is when they are usable, do not decrease, start no earlier than the latest
    time seen and step forward by at most ``max_gap_s``: ``next_jump`` would find
    no jump and hold nothing.

    Args:
        t_s: Sample times in s as received, shape (n,), finite.
        prev_s: Time of the sample before ``t_s[0]`` as received, s; ``None`` before any.
        top_s: Latest time reached in the current segment, s; ``None`` before any.
        tuning: The frame length and the clock's limits.

    Returns:
        True when the samples need no holding, dropping or new segment.

    A step back is held, so it is not in order:

    >>> tuning = PostureTuning()
    >>> in_order(np.array([10.0, 10.1]), 9.9, 9.9, tuning), in_order(np.array([9.8]), 9.9, 9.9, tuning)
    (True, False)
    """
    n = t_s.size
    if n == 0:
        return False
    first, last = float(t_s[0]), float(t_s[-1])
    limit = MAX_T_FRAMES * tuning.frame_s
    if not (abs(first) <= limit and abs(last) <= limit):
        return False
    if prev_s is not None and first - prev_s > tuning.max_gap_s:
        return False
    if top_s is not None and first < top_s:
        return False
    if n == 1:
        return True
    steps = t_s[1:] - t_s[:-1]  # np.diff's steps, without its checks
    return bool(steps.min() >= 0.0 and steps.max() <= tuning.max_gap_s)
