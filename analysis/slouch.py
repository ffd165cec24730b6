"""Slouch time and slouch nudges of a chest or upper-back sensor, over final frames.

Frames whose trunk inclination from the upright reaches ``SlouchPolicy.slouch_deg``
count as slouching. :class:`SlouchTimer` adds them up and, with the policy's ``nudge``
on, raises a ``SlouchNudge`` once a slouch has gone on for ``dwell_s``, and again after
each further ``dwell_s`` of it. A slouch that runs on past the end of one chunk of frames
carries over to the next, so chunked frames give the nudges of one chunk.
``BoutTracker`` (``analysis.bouts``) shares the slouching frames among its posture bouts.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from analysis.events import Event, SlouchNudge
from analysis.frame_runs import SHORT_FRAMES
from analysis.settings import SlouchPolicy

__all__ = ["SlouchTimer"]


def _slouching(slouch_deg: NDArray[np.float64], slouch_deg_min: float) -> NDArray[np.bool_] | None:
    """Which frames slouch: an inclination of at least ``slouch_deg_min`` (NaN: not measured, no).

    None when none does for want of a measure (a few frames, all NaN, as on most placements).
    """
    if slouch_deg.size <= SHORT_FRAMES and np.isnan(slouch_deg).all():  # nothing measured, as on most placements
        return None if slouch_deg_min > 0.0 else np.full(slouch_deg.size, slouch_deg_min <= 0.0)
    bad: NDArray[np.bool_] = np.nan_to_num(slouch_deg, nan=0.0) >= slouch_deg_min
    return bad


class SlouchTimer:
    """Slouching frames so far, and the nudges of continuous slouching.

    >>> timer = SlouchTimer(frame_s=1.0)
    >>> nudges, _ = timer.update(SlouchPolicy(nudge=True, dwell_s=2.0), 0.0, 0, np.array([30.0, 30.0, 30.0, 5.0]))
    >>> [(e.kind, e.t_s) for e in nudges], timer.frames
    ([('slouch_nudge', 2.0)], 3)

    Args:
        frame_s: Frame length in s.
    """

    def __init__(self, frame_s: float) -> None:
        self.frame_s = frame_s
        self.frames = 0  # slouching frames so far
        self.run_start_k: int | None = None  # start of a slouch that goes on past the last frame
        self.due_k: int | None = None  # its next nudge

    def update(
        self, policy: SlouchPolicy, t0_s: float, k_first: int, slouch_deg: NDArray[np.float64]
    ) -> tuple[list[Event], list[int] | None]:
        """Take the inclinations of consecutive final frames.

        Args:
            policy: The slouch policy in force.
            t0_s: Time of frame 0 in s.
            k_first: Index of the first frame of ``slouch_deg``.
            slouch_deg: Trunk inclination from upright per frame (NaN where not measured),
                shape (m,).

        Returns:
            The nudges in time order, and the running count of slouching frames, shape
            (m + 1,) from 0 (``None`` when no frame slouches).
        """
        bad = _slouching(slouch_deg, policy.slouch_deg)
        if bad is None:  # no frame slouches: no run goes on (``_nudges``)
            self.run_start_k = None
            return [], None
        events = self._nudges(policy, t0_s, k_first, bad)
        slouched: list[int] | None = np.concatenate([[0], np.cumsum(bad)]).tolist() if bad.any() else None
        return events, slouched

    def _nudges(self, policy: SlouchPolicy, t0_s: float, k_first: int, bad: NDArray[np.bool_]) -> list[Event]:
        events: list[Event] = []
        if not bad.any():  # no slouching (every frame of most placements): no run goes on
            self.run_start_k = None
            return events
        self.frames += int(bad.sum())
        dwell = max(1, math.ceil(policy.dwell_s / self.frame_s))
        edges = np.flatnonzero(np.diff(np.concatenate([[0], bad.astype(np.int8), [0]])))
        carried = self.run_start_k
        self.run_start_k = None
        for a, b in zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True):
            if a == 0 and carried is not None and self.due_k is not None:
                start, due = carried, self.due_k
            else:
                start, due = k_first + a, k_first + a + dwell
            while policy.nudge and due <= k_first + b:
                events.append(SlouchNudge(t0_s + due * self.frame_s, t0_s + start * self.frame_s))
                due += dwell
            if b == bad.size:
                self.run_start_k, self.due_k = start, due
        return events
