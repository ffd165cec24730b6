"""The streaming analyser of one wearer: samples in, events out.

The framer (``analysis.frames``) turns samples, with angular rate where the sensor has
a gyroscope, into closed frames once; each ``FrameBatch`` goes to every detector in the
analyser's list (``analysis.detector``): the posture detector
(``analysis.posture_detector``: postures, sitting bouts, breaks, alerts) and any
exercise detectors it was given. Batch analysis is the same analyser fed one chunk and
flushed, so live and batch give the same events.

A set of squats is a break, however short, whether guided (``act``) or found by the
recogniser (``analysis.recognition``). A found set is known only some seconds after it
ends, at a frame the recogniser decides; the exercise detectors therefore take each
batch first, and the posture detector takes its frames up to each such frame, the
break, then the rest. Its state at that frame is the same however the stream was
chunked, so live and batch credit the same break.

Sample times come from the wearable's clock, which can jump; ``analysis.clock`` says
which samples are jitter, held at the latest time seen, and which start a new segment.
At a new segment the detectors are flushed as at the end of a stream (the running
posture and sitting bouts close at the last sample before the jump), fresh ones start
with their frame grid at the new sample, and a ``TimeJump`` event marks it, after a
``DataGap`` from the end of the last posture bout to the new sample when the clock went
forward. The wearer's upright reference and slouch time carry over; so do snooze and
meeting times after a forward jump (a time in the old clock means nothing after a
backward one). Shorter forward gaps stay in the timeline as frames without samples,
reported as a ``DataGap`` where no posture reaches (``analysis.bouts``).

>>> import numpy as np
>>> from analysis.settings import AnalysisSettings, Placement
>>> analyzer = Analyzer(AnalysisSettings(Placement.THIGH))
>>> t = np.array([0.0, 0.1, 0.05, 0.2, 86400.0, 86400.1])  # jitter, then a day later
>>> [e.to_dict() for e in analyzer.update(t, np.tile([0.0, 1.0, 0.0], (6, 1))) if e.kind == "time_jump"]
[{'kind': 'time_jump', 't_s': 86400.0, 'from_s': 0.2}]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from analysis.analyzer_snapshot import SNAPSHOT_VERSION, check_snapshot, detector_parts, load_parts
from analysis.clock import MAX_T_FRAMES, in_order, next_jump
from analysis.detector import Detector, saved_parts
from analysis.events import ActionApplied, DataGap, Event, LiveStatus, TimeJump
from analysis.frames import N_STATS, FrameBatch, Framer, checked_samples
from analysis.posture_detector import PostureDetector
from analysis.recognition import ExerciseFound
from analysis.reps import RepCounted
from analysis.sets import STANDING_EXERCISES, ExerciseEnded, ExerciseStarted, exercise_detectors, followed
from analysis.settings import AlertPolicy, AnalysisSettings, SlouchPolicy, UserAction

__all__ = ["Analyzer"]

#: Samples searched at once for the next time jump after one was found in a chunk. The
#: window doubles while no jump turns up, so a chunk costs O(n) however many it holds.
_SCAN_START = 256


class Analyzer:
    """Streaming analysis for one wearer.

    Times ``t_s`` may be Unix epoch seconds (live) or seconds from the first sample
    (batch); only differences matter, except for working hours. Frames are aligned to
    the first sample time of the stream, and again after each time jump (see the module
    docstring). A posture becomes final ``lookahead_s`` after it
    happened, or, while the sensor lies motionless, once it is known whether that
    stillness is non-wear (up to ``PostureTuning.nonwear_window_s``); ``status()``
    shows the newest, provisional one.

    Args:
        settings: The analysis settings.
        detectors: Detectors to run after the posture detector (exercise repetitions,
            holds), each with a distinct ``name`` other than ``"posture"``.

    Raises:
        ValueError: Two detectors share a name.
    """

    def __init__(self, settings: AnalysisSettings, detectors: Iterable[Detector] = ()) -> None:
        self.settings = settings
        self._framer = Framer(settings.tuning.frame_s)
        self._posture = PostureDetector(settings)
        self._detectors: list[Detector] = [self._posture, *detectors]
        names = [d.name for d in self._detectors]
        if len(set(names)) != len(names):
            raise ValueError(f"detector names must be distinct, got {names}")
        self._flushed = False
        self._last_raw_t_s: float | None = None  # the previous sample's time as received
        self._closed_span_s = 0.0  # time spanned by the segments before the current one
        self._exercise: str | None = None  # the guided exercise followed now
        self._exercise_names: tuple[str, ...] = ()  # its detectors
        self._exercise_reps_s: tuple[float, float] | None = None  # its first repetition's start, last one's end

    @property
    def exercise(self) -> str | None:
        """The guided exercise followed now (``UserAction.EXERCISE_START``), or ``None``."""
        return self._exercise

    @property
    def detectors(self) -> tuple[Detector, ...]:
        """The detectors, the posture detector first."""
        return tuple(self._detectors)

    def add_detector(self, detector: Detector) -> None:
        """Start a detector (a guided exercise begins): it is given the frames closed from now on.

        Raises:
            ValueError: A detector of that name runs already.
        """
        if any(d.name == detector.name for d in self._detectors):
            raise ValueError(f"a detector named {detector.name!r} runs already")
        self._detectors.append(detector)

    def remove_detector(self, name: str) -> list[Event]:
        """Stop the detector of that name (not the posture one); return the events its flush closes.

        Returns nothing when no such detector runs.

        Raises:
            ValueError: ``name`` is the posture detector's.
        """
        if name == PostureDetector.name:
            raise ValueError("the posture detector cannot be removed")
        for i, detector in enumerate(self._detectors):
            if detector.name == name:
                del self._detectors[i]
                t0 = self._framer.t0_s
                if t0 is None:
                    return []
                frames = FrameBatch(t0, self.settings.tuning.frame_s, self._framer.next_k, np.empty((0, N_STATS)))
                return detector.flush(frames)
        return []

    @property
    def lookahead_s(self) -> float:
        """Delay in s between a sample and the final posture of its time."""
        return self._posture.lookahead_s

    @property
    def span_s(self) -> float:
        """Time spanned by the samples so far, s (0 before two samples).

        Last minus first sample time, summed over the segments between time jumps: the
        time the posture bouts cover.
        """
        t0, last = self._framer.t0_s, self._framer.last_t_s
        current = 0.0 if t0 is None or last is None else last - t0
        return self._closed_span_s + current

    def update(
        self, t_s: NDArray[np.float64], acc_g: NDArray[np.float64], gyro_dps: NDArray[np.float64] | None = None
    ) -> list[Event]:
        """Feed samples; return the events they complete.

        Args:
            t_s: Sample times in s, shape (n,); n may be 0. Irregular sampling, gaps,
                repeated times and jumps of the clock (see the module docstring) are
                allowed. Samples timed where float64 cannot resolve a frame (beyond
                ``2**46`` frames from 0: 7.0e12 s for 0.1-s frames) are ignored.
            acc_g: Acceleration in g, shape (n, 3).
            gyro_dps: Angular rate in deg/s, shape (n, 3), or ``None`` without a gyroscope.

        Returns:
            Events of each detector in its time order, the detectors' in list order;
            a ``TimeJump`` follows the events that close the segment before it.

        Raises:
            ValueError: Wrong shapes or non-finite values.
            RuntimeError: The stream was already flushed.
        """
        if self._flushed:
            raise RuntimeError("the analyser was flushed; create a new one for a new stream")
        t_s, acc_g, gyro_dps = checked_samples(t_s, acc_g, gyro_dps)
        tuning = self.settings.tuning
        # As almost always live: no jitter, no jump, nothing out of range.
        if in_order(t_s, self._last_raw_t_s, self._framer.last_t_s, tuning):
            fed = self._feed(t_s, acc_g, gyro_dps)
            self._last_raw_t_s = float(t_s[-1])
            return fed
        usable = np.abs(t_s) <= MAX_T_FRAMES * tuning.frame_s
        if not usable.all():
            t_s, acc_g = t_s[usable], acc_g[usable]
            gyro_dps = None if gyro_dps is None else gyro_dps[usable]
        n = t_s.size
        if n == 0:
            return self._feed(t_s, acc_g, gyro_dps)
        events: list[Event] = []
        pos, width = 0, n  # the whole chunk first: without a jump, one pass
        while pos < n:
            stop = min(n, pos + width)
            first = float(t_s[pos])
            prev, top = self._last_raw_t_s, self._framer.last_t_s
            j, held = next_jump(
                t_s[pos:stop],
                first if prev is None else prev,
                first if top is None else top,
                tuning.max_gap_s,
                tuning.max_step_back_s,
            )
            if j:
                gyro = None if gyro_dps is None else gyro_dps[pos : pos + j]
                events += self._feed(held, acc_g[pos : pos + j], gyro)
                self._last_raw_t_s = float(t_s[pos + j - 1])
                pos += j
            if pos < stop:
                events += self._new_segment(float(t_s[pos]))
                width = _SCAN_START
            else:
                width *= 2
        return events

    def flush(self) -> list[Event]:
        """End the stream: close every open frame, window, posture run, sitting bout and set."""
        if self._flushed:
            return []
        self._flushed = True
        return self._close_detectors()

    def _feed(
        self, t_s: NDArray[np.float64], acc_g: NDArray[np.float64], gyro_dps: NDArray[np.float64] | None
    ) -> list[Event]:
        """Run non-decreasing samples of the current segment through the framer and the detectors."""
        return self._to_detectors(*self._framer.add(t_s, acc_g, gyro_dps), end=False)

    def _close_detectors(self) -> list[Event]:
        """Flush the framer and the detectors as at the end of the stream."""
        return self._to_detectors(*self._framer.flush(), end=True)

    def _to_detectors(self, k: int, stats: NDArray[np.float64], *, end: bool) -> list[Event]:
        """Hand closed frames to every detector (``flush`` them at the ``end``); their events in turn.

        The exercise detectors go first, so that the posture detector can take a set of
        squats they found as a break at the frame it was found (module docstring).
        """
        t0 = self._framer.t0_s
        if t0 is None:
            return []
        frame_s = self.settings.tuning.frame_s
        frames = FrameBatch(t0, frame_s, k, stats)
        later: list[Event] = []
        for detector in self._detectors[1:]:
            later += detector.flush(frames) if end else detector.update(frames)
        self._note_reps(later)
        events: list[Event] = []
        for decided_s, (first_s, last_s) in self._found_squats(later):
            cut = min(max(round((decided_s - t0) / frame_s), frames.k_first), frames.k_end)
            i = cut - frames.k_first
            events += self._posture.update(FrameBatch(t0, frame_s, frames.k_first, frames.stats[:i]))
            frames = FrameBatch(t0, frame_s, cut, frames.stats[i:])
            events += self._posture.bouts.exercise_break(first_s, last_s)
        events += self._posture.flush(frames) if end else self._posture.update(frames)
        return events + later

    def _found_squats(self, events: list[Event]) -> list[tuple[float, tuple[float, float]]]:
        """When each set of squats with a repetition among ``events`` was found, and its repetitions' span.

        None while a guided exercise runs: its own set is the break (``act``).
        """
        if self._exercise is not None:
            return []
        return [
            (e.decided_s, e.reps_span_s)
            for e in events
            if isinstance(e, ExerciseFound) and e.exercise in STANDING_EXERCISES and e.reps_span_s is not None
        ]

    def _note_reps(self, events: list[Event]) -> None:
        """Widen the span of the guided exercise's repetitions by those among ``events``."""
        if self._exercise is None:
            return
        for e in events:
            if isinstance(e, RepCounted):
                first, last = self._exercise_reps_s or (e.start_s, e.t_s)
                self._exercise_reps_s = (min(first, e.start_s), max(last, e.t_s))

    def _new_segment(self, t_s: float) -> list[Event]:
        """Close the current segment and start fresh detectors whose frames begin at ``t_s``.

        What belongs to the wearer carries over (``Detector.next_segment``): the upright
        reference, the slouch time and, after a forward jump, the snooze and meeting times.
        """
        from_s = self._last_raw_t_s if self._last_raw_t_s is not None else t_s
        events = self._close_detectors()
        t0 = self._framer.t0_s
        gap_start_s = from_s if t0 is None else self._posture.closed_until_s(t0)
        if t_s > gap_start_s:  # the clock went forward: no data until the new sample
            events.append(DataGap(gap_start_s, t_s))
        self._closed_span_s = self.span_s
        self._framer = Framer(self.settings.tuning.frame_s)
        forward = t_s > from_s
        self._posture = self._posture.next_segment(forward)
        self._detectors = [self._posture, *(d.next_segment(forward) for d in self._detectors[1:])]
        self._last_raw_t_s = t_s  # the segment's first sample is its own predecessor
        events.append(TimeJump(t_s=t_s, from_s=from_s))
        return events

    def act(self, action: UserAction, t_s: float | None = None, *, exercise: str | None = None) -> list[Event]:
        """Apply a wearer's action.

        ``DONE`` acknowledges the open alert (the next reminder follows ``repeat_s``
        later if no break is taken), ``SNOOZE`` silences alerts for ``snooze_s``,
        ``MEETING`` for ``meeting_s`` and ``MEETING_END`` lifts the meeting.
        ``CALIBRATE`` takes the first ``PostureTuning.calibration_s`` of still
        standing from ``t_s`` on as the wearer's upright reference.
        ``EXERCISE_START`` ends the guided exercise followed so far, if any, and starts
        the detectors that follow ``exercise`` (``analysis.sets.exercise_detectors``)
        on the frames from now on; ``EXERCISE_END`` stops them, closing the open set.
        A guided exercise answers the open alert, and no alert is raised while it runs
        (``AlertScheduler.exercise``). A guided set of squats (``STANDING_EXERCISES``)
        with a repetition counted is a break, however short, from its first repetition
        to its last (``BoutTracker.exercise_break``), as is a set the recogniser finds
        outside a guided exercise (module docstring).

        Args:
            action: What the wearer did.
            t_s: When, in the samples' time base; default the last sample time seen.
            exercise: The exercise of ``EXERCISE_START``: a programme id, or ``any``.

        Returns:
            The ``ActionApplied`` event, after the events of an exercise it ends and
            before an ``ExerciseStarted``.

        Raises:
            ValueError: No time given and no sample seen yet; ``EXERCISE_START``
                without an exercise, or with one that cannot be followed from this
                placement (nothing is changed then).
        """
        action = UserAction(action)
        if t_s is None:
            t_s = self._framer.last_t_s
            if t_s is None:
                raise ValueError("no time given and no sample seen yet")
        if action is UserAction.EXERCISE_START:
            if exercise is None:
                raise ValueError("exercise_start needs the exercise")
            fresh = exercise_detectors(exercise, self.settings.placement, self.settings.tuning.frame_s)
            events = self._end_exercise(t_s)
            self._follow(exercise, fresh)
            self._posture.bouts.alerts.exercise(t_s, running=True)
            reps, holds = followed(exercise, self.settings.placement)
            return [*events, ActionApplied(t_s, action, None), ExerciseStarted(t_s, exercise, reps, holds)]
        if action is UserAction.EXERCISE_END:
            return [*self._end_exercise(t_s), ActionApplied(t_s, action, None)]
        until = self._posture.act(action, t_s, self._framer.t0_s)
        return [ActionApplied(t_s, action, until)]

    def _follow(self, exercise: str, detectors: list[Detector]) -> None:
        """Start following a guided exercise with its (fresh) detectors."""
        for detector in detectors:
            self.add_detector(detector)
        self._exercise, self._exercise_names = exercise, tuple(d.name for d in detectors)
        self._exercise_reps_s = None

    def _end_exercise(self, t_s: float) -> list[Event]:
        """Stop the guided exercise's detectors; their last events, then ``ExerciseEnded``."""
        if self._exercise is None:
            return []
        events: list[Event] = []
        for name in self._exercise_names:
            events += self.remove_detector(name)
        self._posture.bouts.alerts.exercise(t_s, running=False)
        self._note_reps(events)
        if self._exercise in STANDING_EXERCISES and self._exercise_reps_s is not None:
            events += self._posture.bouts.exercise_break(*self._exercise_reps_s)  # a set of squats is a break
        events.append(ExerciseEnded(t_s, self._exercise))
        self._exercise, self._exercise_names = None, ()
        self._exercise_reps_s = None
        return events

    def set_policy(self, policy: AlertPolicy, slouch: SlouchPolicy | None = None) -> None:
        """Follow the wearer's new alert (and slouch) policy from the next sample on, keeping every running state.

        A sitting bout under way that has had no alert yet is due ``policy.max_sitting_s``
        after its start: lowering the limit below the time already sat raises the alert
        at the next update.
        """
        slouch = self.settings.slouch if slouch is None else slouch
        self.settings = dataclasses.replace(self.settings, policy=policy, slouch=slouch)
        self._posture.set_policy(policy, slouch)

    def status(self) -> LiveStatus:
        """Return what the wearer is doing now (the newest posture is provisional)."""
        return self._posture.status(self._framer.t0_s, self._framer.last_t_s)

    @property
    def slouch_s(self) -> float:
        """Time spent slouching so far (final frames), in s."""
        return self._posture.slouch_s

    def snapshot(self) -> dict[str, Any]:
        """Return the whole state as JSON-serialisable data (``json.dumps`` works).

        Restoring it and feeding the rest of the stream gives the same events as an
        uninterrupted run: the running sitting bout, the alert state and the learned
        upright reference carry over, and so does each detector's state.
        """
        return {
            "version": SNAPSHOT_VERSION,
            "placement": str(self.settings.placement),
            "flushed": self._flushed,
            "framer": self._framer.snapshot(),
            "last_raw_t_s": self._last_raw_t_s,
            "closed_span_s": self._closed_span_s,
            "exercise": self._exercise,
            "exercise_reps_s": None if self._exercise_reps_s is None else list(self._exercise_reps_s),
            "detectors": saved_parts(self._detectors),
        }

    @classmethod
    def restore(
        cls, settings: AnalysisSettings, snapshot: dict[str, Any], detectors: Iterable[Detector] = ()
    ) -> Analyzer:
        """Rebuild an analyser from ``snapshot()``.

        Each detector takes its saved part when the snapshot holds one of its name and
        version; otherwise, or when that part does not load, it starts fresh at the next
        frame while the others carry on.
        A guided exercise followed when the snapshot was taken is followed again.
        Parts of detectors no longer asked for are dropped. Version 3 snapshots (posture
        and bouts only) are read as the posture detector's part.

        Args:
            settings: The settings to continue with (same placement and tuning as before).
            snapshot: The saved state.
            detectors: The detectors after the posture one, fresh, as for ``Analyzer``.

        Returns:
            The analyser, ready for the next samples.

        Raises:
            ValueError: The snapshot has an unknown version or another placement.
        """
        check_snapshot(snapshot, settings.placement)
        analyzer = cls(settings, detectors)
        if (saved_exercise := snapshot.get("exercise")) is not None:  # a guided exercise was followed: it resumes
            exercise = str(saved_exercise)
            analyzer._follow(exercise, exercise_detectors(exercise, settings.placement, settings.tuning.frame_s))
            span = snapshot.get("exercise_reps_s")
            analyzer._exercise_reps_s = None if span is None else (float(span[0]), float(span[1]))
        analyzer._flushed = bool(snapshot["flushed"])
        analyzer._framer = Framer.restore(settings.tuning.frame_s, snapshot["framer"])
        load_parts(analyzer._detectors, detector_parts(snapshot), analyzer._posture)
        # Saved before time jumps were handled: no sample was held, and no segment closed.
        analyzer._last_raw_t_s = snapshot.get("last_raw_t_s", analyzer._framer.last_t_s)
        analyzer._closed_span_s = float(snapshot.get("closed_span_s", 0.0))
        return analyzer
