"""Final per-frame postures -> posture bouts, sitting bouts, breaks and alerts.

Rules (DESIGN.md, "Alert policy"): a sitting bout starts at the first sitting frame
and survives short non-sitting stretches (fidgets). It ends when a non-sitting stretch
lasts ``min_break_s``; the bout's end is where that stretch began. An upright
(standing/walking) run of ``min_break_s`` after a bout is a break. Lying or missing data
for ``min_break_s`` also ends a bout (the wearer is not sitting), but is no break.
Alerts are raised on sitting frames only, at the end of the first frame at or after
the due time, so they fall on the frame grid and do not depend on chunking.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from analysis.alerts import AlertScheduler
from analysis.events import BreakTaken, Event, PostureBout, SittingBout, SittingStarted
from analysis.settings import POSTURE_CODES, UPRIGHT, AlertPolicy, Posture

__all__ = ["BoutTracker"]

_SIT = POSTURE_CODES.index(Posture.SITTING)
_UPRIGHT_CODES = frozenset(POSTURE_CODES.index(p) for p in UPRIGHT)


class BoutTracker:
    """Streaming bout and alert logic over final posture codes.

    Args:
        policy: The alert policy.
        frame_s: Frame length in s.
    """

    def __init__(self, policy: AlertPolicy, frame_s: float) -> None:
        self.policy = policy
        self.frame_s = frame_s
        self.alerts = AlertScheduler(policy)
        self.run_code: int | None = None
        self.run_start_k = 0
        self.next_k = 0  # first frame not processed yet
        self.bout_start_s: float | None = None
        self.last_sit_end_s = 0.0
        self.nonsit_start_s: float | None = None
        self.upright_start_s: float | None = None
        self.after_bout = False

    def update(self, t0_s: float, k_first: int, codes: NDArray[np.int64]) -> list[Event]:
        """Process final posture codes of consecutive frames.

        Args:
            t0_s: Time of frame 0 in s.
            k_first: Index of the first frame of ``codes``.
            codes: Posture codes (indices into ``POSTURE_CODES``), shape (m,).

        Returns:
            Events in time order.
        """
        events: list[Event] = []
        if codes.size == 0:
            return events
        if self.run_code is None:
            self.run_code = int(codes[0])
            self.run_start_k = k_first
        cuts = np.flatnonzero(np.diff(codes)) + 1
        starts = np.concatenate([[0], cuts])
        ends = np.concatenate([cuts, [codes.size]])
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            self._run(t0_s, int(codes[a]), k_first + a, k_first + b, events)
        self.next_k = k_first + codes.size
        return events

    def flush(self, t0_s: float) -> list[Event]:
        """Close the open posture run and sitting bout at the end of the stream."""
        events: list[Event] = []
        if self.run_code is not None:
            end_s = t0_s + self.next_k * self.frame_s
            events.append(PostureBout(t0_s + self.run_start_k * self.frame_s, end_s, POSTURE_CODES[self.run_code]))
            self.run_code = None
        if self.bout_start_s is not None:
            events.append(SittingBout(self.bout_start_s, self.last_sit_end_s))
            self._end_bout()
        return events

    def _run(self, t0_s: float, code: int, ka: int, kb: int, events: list[Event]) -> None:
        if code != self.run_code:
            events.append(
                PostureBout(
                    t0_s + self.run_start_k * self.frame_s,
                    t0_s + ka * self.frame_s,
                    POSTURE_CODES[self.run_code if self.run_code is not None else code],
                )
            )
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
            events.append(SittingBout(self.bout_start_s, self.last_sit_end_s))
            self._end_bout()
            self.after_bout = True
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
            "next_k": self.next_k,
            "bout_start_s": self.bout_start_s,
            "last_sit_end_s": self.last_sit_end_s,
            "nonsit_start_s": self.nonsit_start_s,
            "upright_start_s": self.upright_start_s,
            "after_bout": self.after_bout,
        }

    def load(self, state: dict[str, Any]) -> None:
        """Restore the state saved by ``snapshot()``."""
        self.alerts.load(state["alerts"])
        self.run_code = state["run_code"]
        self.run_start_k = int(state["run_start_k"])
        self.next_k = int(state["next_k"])
        self.bout_start_s = state["bout_start_s"]
        self.last_sit_end_s = float(state["last_sit_end_s"])
        self.nonsit_start_s = state["nonsit_start_s"]
        self.upright_start_s = state["upright_start_s"]
        self.after_bout = bool(state["after_bout"])
