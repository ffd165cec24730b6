"""The posture detector: postures, sitting bouts, breaks, alerts and slouching.

It chains the posture tracker (``analysis.posture``: frames -> final per-frame postures)
and the bout/alert tracker (``analysis.bouts``: postures -> bouts, breaks, alerts) as one
``Detector`` of the ``Analyzer``. It is the detector every analyser has; the wearer's
actions (done, snooze, meeting, calibrate) and the live status are its business.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

from analysis.bouts import BoutTracker
from analysis.events import Event, LiveStatus
from analysis.frames import FrameBatch
from analysis.posture import PostureTracker, capabilities
from analysis.settings import POSTURE_CODES, AlertPolicy, AnalysisSettings, Placement, SlouchPolicy, UserAction
from analysis.stillness import AlertHold

__all__ = ["PostureDetector"]


class PostureDetector:
    """Frames -> posture bouts, sitting bouts, breaks, alerts and slouch nudges.

    Args:
        settings: The analysis settings.
    """

    name: ClassVar[str] = "posture"
    version: ClassVar[int] = 1

    def __init__(self, settings: AnalysisSettings) -> None:
        self.settings = settings
        tuning = settings.tuning
        self.tracker = PostureTracker(settings)
        thigh = settings.thigh
        self.bouts = BoutTracker(
            settings.policy,
            tuning.frame_s,
            settings.slouch,
            gap_half_frames=tuning.frames(tuning.gravity_window_s),
            hold=AlertHold(tuning.frame_s, thigh.epoch_s, thigh.move_deg, thigh.hold_s, thigh.release_s)
            if settings.placement is Placement.THIGH
            else None,
        )

    @property
    def lookahead_s(self) -> float:
        """Delay in s between a frame and its final posture."""
        return self.tracker.lookahead_s

    @property
    def slouch_s(self) -> float:
        """Time spent slouching so far (final frames), in s."""
        return self.bouts.slouch_frames * self.settings.tuning.frame_s

    def update(self, frames: FrameBatch) -> list[Event]:
        """Take closed frames; return the posture, bout, break and alert events they complete."""
        self._note(frames)
        k, codes, slouch = self.tracker.update(frames.k_first, frames.stats)
        return self.bouts.update(frames.t0_s, k, codes, slouch)

    def flush(self, frames: FrameBatch) -> list[Event]:
        """Take the last frames and close the posture run, sitting bout and break."""
        self._note(frames)
        k, codes, slouch = self.tracker.flush(frames.k_first, frames.stats)
        return self.bouts.update(frames.t0_s, k, codes, slouch) + self.bouts.flush(frames.t0_s)

    def _note(self, frames: FrameBatch) -> None:
        """Note the frames' sample counts and, on the thigh, their moves, before their postures are final."""
        self.bouts.frames_closed(frames.k_first, frames.counts)
        if self.bouts.hold is not None:
            self.bouts.hold.stillness.update(frames.k_first, frames.stats)

    def set_policy(self, policy: AlertPolicy, slouch: SlouchPolicy) -> None:
        """Take the wearer's new alert and slouch policy from now on (``BoutTracker.set_policy``)."""
        self.settings = dataclasses.replace(self.settings, policy=policy, slouch=slouch)
        self.bouts.set_policy(policy, slouch)

    def next_segment(self, forward: bool) -> PostureDetector:
        """A fresh detector keeping the upright reference, the slouch time and, forward, snooze and meeting."""
        fresh = PostureDetector(self.settings)
        reference = fresh.tracker.decider.reference
        reference.load(self.tracker.decider.reference.snapshot())
        reference.end_bout()
        fresh.bouts.slouch_frames = self.bouts.slouch_frames
        if forward:
            old = self.bouts.alerts
            fresh.bouts.alerts.snoozed_until_s, fresh.bouts.alerts.meeting_until_s = (
                old.snoozed_until_s,
                old.meeting_until_s,
            )
        return fresh

    def closed_until_s(self, t0_s: float) -> float:
        """End of the final postures so far, s (where the last posture bout ends)."""
        return self.bouts.closed_until_s(t0_s)

    def act(self, action: UserAction, t_s: float, t0_s: float | None) -> float | None:
        """Apply a wearer's action at ``t_s``; return the time it lasts until, if any.

        Args:
            action: What the wearer did (see ``Analyzer.act``).
            t_s: When, s.
            t0_s: Start of frame 0, or ``None`` before any sample.
        """
        if action is UserAction.CALIBRATE:
            k = 0 if t0_s is None else max(0, math.floor((t_s - t0_s) / self.settings.tuning.frame_s))
            self.tracker.calibrate_from(k)
            return None
        return self.bouts.alerts.act(action, t_s)

    def status(self, t0_s: float | None, now_s: float | None) -> LiveStatus:
        """What the wearer is doing at ``now_s``, the last sample time (the newest posture is provisional)."""
        bouts = self.bouts
        code = self.tracker.latest_code
        posture = None if code is None else POSTURE_CODES[code]
        since = None if t0_s is None else bouts.posture_since_s(t0_s)
        final_code = bouts.run_code
        if final_code is not None and code is not None and final_code != code:
            since = None if t0_s is None else t0_s + bouts.next_k * self.settings.tuning.frame_s
        bout_start = bouts.bout_start_s
        sitting_s = 0.0 if bout_start is None or now_s is None else max(0.0, now_s - bout_start)
        snoozed, meeting = bouts.alerts.quiet_until(now_s)
        return LiveStatus(
            t_s=now_s,
            posture=posture,
            posture_since_s=since,
            sitting_since_s=bout_start,
            sitting_s=sitting_s,
            open_alert=bouts.alerts.open_alert,
            snoozed_until_s=snoozed,
            meeting_until_s=meeting,
            reference_ready=self.tracker.reference_ready,
            calibrated=self.tracker.calibrated,
            detects=capabilities(self.settings.placement),
            slouch_s=self.slouch_s,
            posture_slouch_s=bouts.run_slouch_frames * self.settings.tuning.frame_s,
        )

    def snapshot(self) -> dict[str, Any]:
        """Return the JSON-serialisable state."""
        return {"posture": self.tracker.snapshot(), "bouts": self.bouts.snapshot()}

    def load(self, state: dict[str, Any]) -> None:
        """Restore the state saved by ``snapshot()``."""
        self.tracker.load(state["posture"])
        self.bouts.load(state["bouts"])
