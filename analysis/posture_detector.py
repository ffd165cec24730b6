"""The posture detector: postures, sitting bouts, breaks, alerts and slouching.

It chains the posture tracker (``analysis.posture``: frames -> final per-frame postures)
and the bout/alert tracker (``analysis.bouts``: postures -> bouts, breaks, alerts) as one
``Detector`` of the ``Analyzer``. It is the detector every analyser has; the wearer's
actions (done, snooze, meeting, calibrate) and the live status are its business.

It also learns the wearer's nights (``analysis.nights``): each in-bed window found at a
local noon is reported (``InBedFound``), and from then on, at the thigh, a sitting bout
that begins in the usual in-bed hours (widened by ``BED_MARGIN_S``) raises no alert:
turning onto the back in bed reads as sitting down there. A bout that began before them
(the evening on the sofa) keeps its reminders. The trunk placements see lying in bed as
lying, so their sitting in those hours (up late at the desk) is reminded as always.
At the thigh the stillness hold keeps alerts back while the wearer is as still as a
sleeper: at any hour until a night is known, then only within ``HOLD_AROUND_NIGHT_S``
of the usual in-bed hours (a night that starts earlier than usual), so that still
sitting with the feet up in the afternoon gets its reminder.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from analysis.bouts import BoutTracker
from analysis.events import Event, LiveStatus
from analysis.frames import FrameBatch
from analysis.nights import NightLearner
from analysis.posture import PostureTracker, capabilities
from analysis.settings import (
    POSTURE_CODES,
    AlertPolicy,
    AnalysisSettings,
    Placement,
    Posture,
    SlouchPolicy,
    UserAction,
)
from analysis.stillness import AlertHold

__all__ = ["BED_MARGIN_S", "HOLD_AROUND_NIGHT_S", "PostureDetector"]

#: The usual in-bed hours, for bouts that begin in them, are widened by this at each end, s.
BED_MARGIN_S = 900.0
#: Once a night is known, the thigh's stillness hold applies this far around the usual in-bed hours, s.
HOLD_AROUND_NIGHT_S = 3600.0


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
        self.nights = NightLearner(
            settings.in_bed,
            tuning.frame_s,
            reports_lying=str(Posture.LYING) in capabilities(settings.placement),
            utc_offset_h=settings.policy.utc_offset_h,
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
        return self.bouts.update(frames.t0_s, k, codes, slouch) + self._learn_nights(frames.t0_s, k, codes)

    def flush(self, frames: FrameBatch) -> list[Event]:
        """Take the last frames and close the posture run, sitting bout and break."""
        self._note(frames)
        k, codes, slouch = self.tracker.flush(frames.k_first, frames.stats)
        events = self.bouts.update(frames.t0_s, k, codes, slouch)
        found = self._learn_nights(frames.t0_s, k, codes)
        return events + self.bouts.flush(frames.t0_s) + found

    def _learn_nights(self, t0_s: float, k: int, codes: NDArray[np.int64]) -> list[Event]:
        """Give the night learner the final postures; follow a night it found (``_follow_nights``)."""
        found = self.nights.postures(t0_s, k, codes)
        if found:
            self._follow_nights()
        return list(found)

    def _note(self, frames: FrameBatch) -> None:
        """Note the frames' sample counts and, on the thigh, their moves, before their postures are final."""
        self.bouts.frames_closed(frames.k_first, frames.counts)
        if self.bouts.hold is not None:
            self.bouts.hold.stillness.update(frames.k_first, frames.stats)
        self.nights.frames(frames)

    def set_policy(self, policy: AlertPolicy, slouch: SlouchPolicy) -> None:
        """Take the wearer's new alert and slouch policy from now on (``BoutTracker.set_policy``)."""
        self.settings = dataclasses.replace(self.settings, policy=policy, slouch=slouch)
        self.nights.offset_s = policy.utc_offset_h * 3600.0
        self._follow_nights()

    def _follow_nights(self) -> None:
        """Give the bout tracker the policy, the usual in-bed hours and the hold's hours."""
        self.bouts.set_policy(self.settings.policy, self.settings.slouch)
        self.bouts.bed_hours = self.usual_in_bed_hours if self.settings.placement is Placement.THIGH else None
        self.bouts.hold_hours = self.nights.usual_hours(margin_s=HOLD_AROUND_NIGHT_S)

    @property
    def usual_in_bed_hours(self) -> tuple[float, float] | None:
        """The wearer's usual in-bed hours learned so far (local hours, widened by ``BED_MARGIN_S``), or None."""
        return self.nights.usual_hours(margin_s=BED_MARGIN_S)

    def next_segment(self, forward: bool) -> PostureDetector:
        """A fresh detector keeping the upright reference, the slouch time and, forward, snooze and meeting."""
        fresh = PostureDetector(self.settings)
        reference = fresh.tracker.decider.reference
        reference.load(self.tracker.decider.reference.snapshot())
        reference.end_bout()
        fresh.bouts.slouch_frames = self.bouts.slouch_frames
        self.nights.new_segment(forward)
        fresh.nights = self.nights
        fresh._follow_nights()
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
            in_bed_hours=self.usual_in_bed_hours,
        )

    def snapshot(self) -> dict[str, Any]:
        """Return the JSON-serialisable state."""
        return {"posture": self.tracker.snapshot(), "bouts": self.bouts.snapshot(), "nights": self.nights.snapshot()}

    def load(self, state: dict[str, Any]) -> None:
        """Restore the state saved by ``snapshot()``."""
        self.tracker.load(state["posture"])
        self.bouts.load(state["bouts"])
        if "nights" in state:  # absent before nights were learned live: none known
            self.nights.load(state["nights"])
        self._follow_nights()
