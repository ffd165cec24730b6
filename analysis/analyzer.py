"""The streaming analyser of one wearer: samples in, events out.

It chains the framer (``analysis.frames``), the posture tracker
(``analysis.posture``) and the bout/alert tracker (``analysis.bouts``). Batch analysis
is the same analyser fed one chunk and flushed, so live and batch give the same events.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from analysis.bouts import BoutTracker
from analysis.events import ActionApplied, Event, LiveStatus
from analysis.frames import Framer
from analysis.posture import PostureTracker, capabilities
from analysis.settings import POSTURE_CODES, AnalysisSettings, UserAction

__all__ = ["Analyzer"]

_SNAPSHOT_VERSION = 3


class Analyzer:
    """Streaming analysis for one wearer.

    Times ``t_s`` may be Unix epoch seconds (live) or seconds from the first sample
    (batch); only differences matter, except for working hours. Frames are aligned to
    the first sample time seen. A posture becomes final ``lookahead_s`` after it
    happened, or, while the sensor lies motionless, once it is known whether that
    stillness is non-wear (up to ``PostureTuning.nonwear_window_s``); ``status()``
    shows the newest, provisional one.

    Args:
        settings: The analysis settings.
    """

    def __init__(self, settings: AnalysisSettings) -> None:
        self.settings = settings
        self._framer = Framer(settings.tuning.frame_s)
        self._posture = PostureTracker(settings)
        self._bouts = BoutTracker(settings.policy, settings.tuning.frame_s, settings.slouch)
        self._flushed = False

    @property
    def lookahead_s(self) -> float:
        """Delay in s between a sample and the final posture of its time."""
        return self._posture.lookahead_s

    def update(self, t_s: NDArray[np.float64], acc_g: NDArray[np.float64]) -> list[Event]:
        """Feed samples; return the events they complete.

        Args:
            t_s: Sample times in s, shape (n,), non-decreasing across calls; n may be 0.
                Irregular sampling and gaps are allowed.
            acc_g: Acceleration in g, shape (n, 3).

        Returns:
            Events in time order.

        Raises:
            ValueError: Wrong shapes, non-finite values or times going backwards.
            RuntimeError: The stream was already flushed.
        """
        if self._flushed:
            raise RuntimeError("the analyser was flushed; create a new one for a new stream")
        k, stats = self._framer.update(t_s, acc_g)
        k, codes, slouch = self._posture.update(k, stats)
        return self._bouts_update(k, codes, slouch)

    def flush(self) -> list[Event]:
        """End the stream: close every open frame, window, posture run and sitting bout."""
        if self._flushed:
            return []
        self._flushed = True
        k, stats = self._framer.flush()
        k, codes, slouch = self._posture.flush(k, stats)
        events = self._bouts_update(k, codes, slouch)
        if self._framer.t0_s is not None:
            events += self._bouts.flush(self._framer.t0_s)
        return events

    def _bouts_update(self, k: int, codes: NDArray[np.int64], slouch: NDArray[np.float64]) -> list[Event]:
        if self._framer.t0_s is None:
            return []
        return self._bouts.update(self._framer.t0_s, k, codes, slouch)

    def act(self, action: UserAction, t_s: float | None = None) -> list[Event]:
        """Apply a wearer's action.

        ``DONE`` acknowledges the open alert (the next reminder follows ``repeat_s``
        later if no break is taken), ``SNOOZE`` silences alerts for ``snooze_s``,
        ``MEETING`` for ``meeting_s`` and ``MEETING_END`` lifts the meeting.
        ``CALIBRATE`` takes the first ``PostureTuning.calibration_s`` of still
        standing from ``t_s`` on as the wearer's upright reference.

        Args:
            action: What the wearer did.
            t_s: When, in the samples' time base; default the last sample time seen.

        Returns:
            The ``ActionApplied`` event.

        Raises:
            ValueError: No time given and no sample seen yet.
        """
        action = UserAction(action)
        if t_s is None:
            t_s = self._framer.last_t_s
            if t_s is None:
                raise ValueError("no time given and no sample seen yet")
        if action is UserAction.CALIBRATE:
            t0 = self._framer.t0_s
            k = 0 if t0 is None else max(0, math.floor((t_s - t0) / self.settings.tuning.frame_s))
            self._posture.calibrate_from(k)
            return [ActionApplied(t_s, action, None)]
        until = self._bouts.alerts.act(action, t_s)
        return [ActionApplied(t_s, action, until)]

    def status(self) -> LiveStatus:
        """Return what the wearer is doing now (the newest posture is provisional)."""
        t0 = self._framer.t0_s
        now = self._framer.last_t_s
        code = self._posture.latest_code
        posture = None if code is None else POSTURE_CODES[code]
        since = None if t0 is None else self._bouts.posture_since_s(t0)
        final_code = self._bouts.run_code
        if final_code is not None and code is not None and final_code != code:
            since = None if t0 is None else t0 + self._bouts.next_k * self.settings.tuning.frame_s
        bout_start = self._bouts.bout_start_s
        sitting_s = 0.0 if bout_start is None or now is None else max(0.0, now - bout_start)
        snoozed, meeting = self._bouts.alerts.quiet_until(now)
        return LiveStatus(
            t_s=now,
            posture=posture,
            posture_since_s=since,
            sitting_since_s=bout_start,
            sitting_s=sitting_s,
            open_alert=self._bouts.alerts.open_alert,
            snoozed_until_s=snoozed,
            meeting_until_s=meeting,
            reference_ready=self._posture.reference_ready,
            calibrated=self._posture.calibrated,
            detects=capabilities(self.settings.placement),
            slouch_s=self.slouch_s,
            posture_slouch_s=self._bouts.run_slouch_frames * self.settings.tuning.frame_s,
        )

    @property
    def slouch_s(self) -> float:
        """Time spent slouching so far (final frames), in s."""
        return self._bouts.slouch_frames * self.settings.tuning.frame_s

    def snapshot(self) -> dict[str, Any]:
        """Return the whole state as JSON-serialisable data (``json.dumps`` works).

        Restoring it and feeding the rest of the stream gives the same events as an
        uninterrupted run: the running sitting bout, the alert state and the learned
        upright reference carry over.
        """
        return {
            "version": _SNAPSHOT_VERSION,
            "placement": str(self.settings.placement),
            "flushed": self._flushed,
            "framer": self._framer.snapshot(),
            "posture": self._posture.snapshot(),
            "bouts": self._bouts.snapshot(),
        }

    @classmethod
    def restore(cls, settings: AnalysisSettings, snapshot: dict[str, Any]) -> Analyzer:
        """Rebuild an analyser from ``snapshot()``.

        Args:
            settings: The settings to continue with (same placement and tuning as before).
            snapshot: The saved state.

        Returns:
            The analyser, ready for the next samples.

        Raises:
            ValueError: The snapshot has another version or placement.
        """
        if snapshot.get("version") != _SNAPSHOT_VERSION:
            raise ValueError(f"unsupported snapshot version {snapshot.get('version')!r}")
        if snapshot.get("placement") != str(settings.placement):
            raise ValueError(
                f"snapshot is for placement {snapshot.get('placement')!r}, settings are for {settings.placement!s}"
            )
        analyzer = cls(settings)
        analyzer._flushed = bool(snapshot["flushed"])
        analyzer._framer = Framer.restore(settings.tuning.frame_s, snapshot["framer"])
        analyzer._posture.load(snapshot["posture"])
        analyzer._bouts.load(snapshot["bouts"])
        return analyzer
