"""Final per-frame postures -> posture bouts, sitting bouts, breaks and alerts.

Rules (DESIGN.md, "Alert policy"): a sitting bout starts at the first sitting frame
and survives short non-sitting stretches (fidgets). It ends when a non-sitting stretch
lasts ``min_break_s``; the bout's end is where that stretch began. An upright
(standing/walking) run of ``min_break_s`` after a bout is a break. Lying or missing data
for ``min_break_s`` also ends a bout (the wearer is not sitting), but is no break.
Alerts are raised on sitting frames only, at the end of the first frame at or after
the due time, so they fall on the frame grid and do not depend on chunking. Non-wear
is never sitting: it ends a bout like lying does and raises nothing.

Sitting bouts shorter than ``min_sitting_bout_s`` are not reported, and the upright run
after them is no break; sitting time (the posture bouts) does not change with it.

Slouch (chest and upper back): frames whose trunk inclination from the upright reaches
``SlouchPolicy.slouch_deg`` add to ``slouch_s`` and to the ``slouch_s`` of the posture
bout they fall in (so a day's slouch time is the sum over its bouts); with ``nudge`` on,
``dwell_s`` of continuous slouching raises a ``SlouchNudge``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from analysis.alerts import AlertScheduler
from analysis.events import BreakTaken, Event, PostureBout, SittingBout, SittingStarted, SlouchNudge
from analysis.settings import POSTURE_CODES, UPRIGHT, AlertPolicy, Posture, SlouchPolicy

__all__ = ["BoutTracker"]

_SIT = POSTURE_CODES.index(Posture.SITTING)
_UPRIGHT_CODES = frozenset(POSTURE_CODES.index(p) for p in UPRIGHT)


class BoutTracker:
    """Streaming bout and alert logic over final posture codes.

    Args:
        policy: The alert policy.
        frame_s: Frame length in s.
        slouch: The slouch policy.
    """

    def __init__(self, policy: AlertPolicy, frame_s: float, slouch: SlouchPolicy | None = None) -> None:
        self.policy = policy
        self.frame_s = frame_s
        self.slouch = SlouchPolicy() if slouch is None else slouch
        self.slouch_frames = 0
        self.slouch_run_start_k: int | None = None
        self.slouch_due_k: int | None = None
        self.alerts = AlertScheduler(policy)
        self.run_code: int | None = None
        self.run_start_k = 0
        self.run_slouch_frames = 0  # slouching frames of the open posture run
        self.next_k = 0  # first frame not processed yet
        self.bout_start_s: float | None = None
        self.last_sit_end_s = 0.0
        self.nonsit_start_s: float | None = None
        self.upright_start_s: float | None = None
        self.after_bout = False

    def update(
        self, t0_s: float, k_first: int, codes: NDArray[np.int64], slouch_deg: NDArray[np.float64] | None = None
    ) -> list[Event]:
        """Process final posture codes of consecutive frames.

        Args:
            t0_s: Time of frame 0 in s.
            k_first: Index of the first frame of ``codes``.
            codes: Posture codes (indices into ``POSTURE_CODES``), shape (m,).
            slouch_deg: Trunk inclination from upright per frame (NaN where not
                measured), shape (m,); ``None``: not measured.

        Returns:
            Events in time order.
        """
        events: list[Event] = []
        if codes.size == 0:
            return events
        bad = None if slouch_deg is None else np.nan_to_num(slouch_deg, nan=0.0) >= self.slouch.slouch_deg
        slouched = None  # running count of slouching frames, to split among the posture runs
        if bad is not None:
            events += self._slouch(t0_s, k_first, bad)
            if bad.any():
                slouched = np.concatenate([[0], np.cumsum(bad)]).tolist()
        if self.run_code is None:
            self.run_code = int(codes[0])
            self.run_start_k = k_first
        cuts = np.flatnonzero(np.diff(codes)) + 1
        starts = np.concatenate([[0], cuts])
        ends = np.concatenate([cuts, [codes.size]])
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            self._run(t0_s, int(codes[a]), k_first + a, k_first + b, events)
            if slouched is not None:
                self.run_slouch_frames += slouched[b] - slouched[a]
        self.next_k = k_first + codes.size
        return events

    def flush(self, t0_s: float) -> list[Event]:
        """Close the open posture run and sitting bout at the end of the stream."""
        events: list[Event] = []
        if self.run_code is not None:
            events.append(self._posture_bout(t0_s, self.run_code, self.next_k))
            self.run_code = None
        if self.bout_start_s is not None:
            self._close_bout(events)
            self._end_bout()
        return events

    def _posture_bout(self, t0_s: float, code: int, k_end: int) -> PostureBout:
        """Close the open posture run at frame ``k_end``."""
        slouch_s = self.run_slouch_frames * self.frame_s
        self.run_slouch_frames = 0
        start_s = t0_s + self.run_start_k * self.frame_s
        return PostureBout(start_s, t0_s + k_end * self.frame_s, POSTURE_CODES[code], slouch_s)

    def _slouch(self, t0_s: float, k_first: int, bad: NDArray[np.bool_]) -> list[Event]:
        events: list[Event] = []
        if not bad.any():  # no slouching (every frame of most placements): no run goes on
            self.slouch_run_start_k = None
            return events
        self.slouch_frames += int(bad.sum())
        dwell = max(1, math.ceil(self.slouch.dwell_s / self.frame_s))
        edges = np.flatnonzero(np.diff(np.concatenate([[0], bad.astype(np.int8), [0]])))
        carried = self.slouch_run_start_k
        self.slouch_run_start_k = None
        for a, b in zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True):
            if a == 0 and carried is not None and self.slouch_due_k is not None:
                start, due = carried, self.slouch_due_k
            else:
                start, due = k_first + a, k_first + a + dwell
            while self.slouch.nudge and due <= k_first + b:
                events.append(SlouchNudge(t0_s + due * self.frame_s, t0_s + start * self.frame_s))
                due += dwell
            if b == bad.size:
                self.slouch_run_start_k, self.slouch_due_k = start, due
        return events

    def _close_bout(self, events: list[Event]) -> None:
        """Report the running bout if long enough; only then can a break follow it."""
        if self.last_sit_end_s - (self.bout_start_s or 0.0) >= self.policy.min_sitting_bout_s:
            events.append(SittingBout(self.bout_start_s or 0.0, self.last_sit_end_s))
            self.after_bout = True
        else:
            self.after_bout = False

    def _run(self, t0_s: float, code: int, ka: int, kb: int, events: list[Event]) -> None:
        if code != self.run_code:
            events.append(self._posture_bout(t0_s, self.run_code if self.run_code is not None else code, ka))
            self.run_code = code
            self.run_start_k = ka
        ta = t0_s + ka * self.frame_s
        tb = t0_s + kb * self.frame_s
        if code == _SIT:
            self._sitting(t0_s, ka, kb, events)
            return
        if self.bout_start_s is not None and self.nonsit_start_s is None:
            self.nonsit_start_s = ta
        if code in _UPRIGHT_CODES:
            if self.upright_start_s is None:
                self.upright_start_s = ta
        else:
            self.upright_start_s = None
        min_break = self.policy.min_break_s
        if self.bout_start_s is not None and self.nonsit_start_s is not None and tb - self.nonsit_start_s >= min_break:
            self._close_bout(events)
            self._end_bout()
        if self.after_bout and self.upright_start_s is not None and tb - self.upright_start_s >= min_break:
            events.append(BreakTaken(self.upright_start_s, self.upright_start_s + min_break))
            self.after_bout = False

    def _sitting(self, t0_s: float, ka: int, kb: int, events: list[Event]) -> None:
        ta = t0_s + ka * self.frame_s
        if self.bout_start_s is None:
            self.bout_start_s = ta
            self.alerts.start_bout(ta)
            events.append(SittingStarted(ta))
        self.nonsit_start_s = None
        self.upright_start_s = None
        self.after_bout = False
        self.last_sit_end_s = t0_s + kb * self.frame_s
        while (due := self.alerts.next_due_s()) is not None:
            k_fire = max(ka, math.ceil((due - t0_s) / self.frame_s) - 1)
            if k_fire >= kb:
                break
            events.append(self.alerts.fire(t0_s + (k_fire + 1) * self.frame_s))

    def _end_bout(self) -> None:
        self.bout_start_s = None
        self.nonsit_start_s = None
        self.alerts.end_bout()

    def posture_since_s(self, t0_s: float) -> float | None:
        """Start of the current final posture run, or ``None`` before any."""
        return None if self.run_code is None else t0_s + self.run_start_k * self.frame_s

    def snapshot(self) -> dict[str, Any]:
        """Return the JSON-serialisable state."""
        return {
            "alerts": self.alerts.snapshot(),
            "run_code": self.run_code,
            "run_start_k": self.run_start_k,
            "run_slouch_frames": self.run_slouch_frames,
            "next_k": self.next_k,
            "bout_start_s": self.bout_start_s,
            "last_sit_end_s": self.last_sit_end_s,
            "nonsit_start_s": self.nonsit_start_s,
            "upright_start_s": self.upright_start_s,
            "after_bout": self.after_bout,
            "slouch_frames": self.slouch_frames,
            "slouch_run_start_k": self.slouch_run_start_k,
            "slouch_due_k": self.slouch_due_k,
        }

    def load(self, state: dict[str, Any]) -> None:
        """Restore the state saved by ``snapshot()``."""
        self.alerts.load(state["alerts"])
        self.run_code = state["run_code"]
        self.run_start_k = int(state["run_start_k"])
        self.run_slouch_frames = int(state.get("run_slouch_frames", 0))  # absent before slouch per bout
        self.next_k = int(state["next_k"])
        self.bout_start_s = state["bout_start_s"]
        self.last_sit_end_s = float(state["last_sit_end_s"])
        self.nonsit_start_s = state["nonsit_start_s"]
        self.upright_start_s = state["upright_start_s"]
        self.after_bout = bool(state["after_bout"])
        self.slouch_frames = int(state["slouch_frames"])
        self.slouch_run_start_k = state["slouch_run_start_k"]
        self.slouch_due_k = state["slouch_due_k"]
