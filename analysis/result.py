"""Batch results: one recording analysed end to end, in the ``sitless analyze`` JSON.

``analyze`` feeds one chunk to an ``Analyzer`` and flushes it; ``ResultBuilder`` does
the same over many chunks (a week-long CSV read piece by piece). Both give the same
``AnalysisResult``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from analysis.analyzer import Analyzer
from analysis.events import Alert, BreakTaken, Event, PostureBout, SittingBout, SlouchNudge, TimeJump
from analysis.posture import capabilities
from analysis.settings import AnalysisSettings, Posture, UserAction

__all__ = ["AnalysisResult", "ResultBuilder", "analyze"]


@dataclass(frozen=True, slots=True)
class AnalysisResult:
    """Everything found in one recording.

    Event times are in the input time base; ``to_json`` makes them relative to the
    first sample (``t0_s``). After a backward time jump they can be negative.

    Attributes:
        samples: Number of samples.
        duration_s: Time the samples span in s: last minus first sample time, summed
            over the segments between time jumps (``Analyzer.span_s``).
        rate_hz: Mean sample rate, 0 when undefined: the sampling intervals within
            segments ((samples - 1) without a time jump) over ``duration_s``.
        bouts: Posture bouts tiling the recording.
        sitting_bouts: Closed sitting bouts.
        breaks: Breaks that ended sitting bouts.
        alerts: Sit-too-long alerts.
        t0_s: Time of the first sample in the input time base (0 without samples).
        slouch_s: Time spent slouching (chest and upper back), s.
        nudges: Slouch nudges (only with ``SlouchPolicy.nudge``).
        detects: What the placement can report (``analysis.posture.capabilities``).
        min_sitting_bout_s: The minimum sitting bout the bouts and breaks were counted with.
        min_break_s: The minimum break (fidget tolerance) they were counted with.
        time_jumps: Jumps of the sample clock, each starting a new segment of the analysis.
    """

    samples: int
    duration_s: float
    rate_hz: float
    bouts: tuple[PostureBout, ...]
    sitting_bouts: tuple[SittingBout, ...]
    breaks: tuple[BreakTaken, ...]
    alerts: tuple[Alert, ...]
    t0_s: float = 0.0
    slouch_s: float = 0.0
    nudges: tuple[SlouchNudge, ...] = ()
    detects: tuple[str, ...] = ()
    min_sitting_bout_s: float = 0.0
    min_break_s: float = 60.0
    time_jumps: tuple[TimeJump, ...] = ()

    def summary(self) -> dict[str, float | int]:
        """Return time per posture (s), bouts and breaks, the longest sitting bout and slouch time.

        ``sitting_s`` is all time classified as sitting, whatever the bout settings;
        ``sitting_bouts`` and ``breaks`` are counted with ``min_sitting_bout_s`` and
        ``min_break_s`` (reported beside them), which change these counts but not the
        sitting time.
        """
        out: dict[str, float | int] = {f"{p}_s": 0.0 for p in Posture}
        for bout in self.bouts:
            out[f"{bout.posture}_s"] = float(out[f"{bout.posture}_s"]) + (bout.end_s - bout.start_s)
        out["breaks"] = len(self.breaks)
        out["sitting_bouts"] = len(self.sitting_bouts)
        out["longest_sitting_s"] = max((b.end_s - b.start_s for b in self.sitting_bouts), default=0.0)
        out["min_sitting_bout_s"] = self.min_sitting_bout_s
        out["min_break_s"] = self.min_break_s
        out["slouch_s"] = self.slouch_s
        return out

    def to_json(self) -> dict[str, Any]:
        """Return the DESIGN.md "Batch analysis CLI" JSON, times relative to the first sample."""
        t0 = self.t0_s

        def rel(t: float) -> float:
            return round(t - t0, 6)

        return {
            "recording": {"samples": self.samples, "duration_s": self.duration_s, "rate_hz": self.rate_hz},
            "bouts": [
                {"start_s": rel(b.start_s), "end_s": rel(b.end_s), "posture": str(b.posture), "slouch_s": b.slouch_s}
                for b in self.bouts
            ],
            "sitting_bouts": [{"start_s": rel(b.start_s), "end_s": rel(b.end_s)} for b in self.sitting_bouts],
            "breaks": [{"start_s": rel(b.start_s), "end_s": rel(b.end_s)} for b in self.breaks],
            "alerts": [
                {
                    "t_s": rel(a.t_s),
                    "kind": a.kind_name,
                    "sitting_since_s": rel(a.sitting_since_s),
                    "repeat": a.repeat,
                    "stretch_id": a.stretch_id,
                }
                for a in self.alerts
            ],
            "slouch_nudges": [{"t_s": rel(n.t_s), "slouching_since_s": rel(n.slouching_since_s)} for n in self.nudges],
            "time_jumps": [{"from_s": rel(j.from_s), "t_s": rel(j.t_s)} for j in self.time_jumps],
            "exercises": [],
            "summary": self.summary(),
            "detects": list(self.detects),
        }


class ResultBuilder:
    """Collects the events of a chunked run into an ``AnalysisResult``.

    Args:
        settings: The analysis settings.
    """

    def __init__(self, settings: AnalysisSettings) -> None:
        self._settings = settings
        self._analyzer = Analyzer(settings)
        self._events: list[Event] = []
        self._samples = 0
        self._first_t: float | None = None

    def feed(self, t_s: NDArray[np.float64], acc_g: NDArray[np.float64]) -> None:
        """Analyse the next chunk of samples (t_s shape (n,), acc_g shape (n, 3) in g)."""
        self._events += self._analyzer.update(t_s, acc_g)
        n = int(np.shape(t_s)[0])
        if n:
            if self._first_t is None:
                self._first_t = float(t_s[0])
            self._samples += n

    def act(self, action: UserAction, t_s: float) -> None:
        """Apply a wearer's action at ``t_s`` (feed the samples before ``t_s`` first)."""
        self._events += self._analyzer.act(action, t_s)

    def finish(self) -> AnalysisResult:
        """Flush the analyser and return the result."""
        self._events += self._analyzer.flush()
        ev = self._events
        jumps = tuple(e for e in ev if isinstance(e, TimeJump))
        duration = self._analyzer.span_s
        rate = (self._samples - 1 - len(jumps)) / duration if duration > 0 else 0.0
        return AnalysisResult(
            samples=self._samples,
            duration_s=duration,
            rate_hz=rate,
            bouts=tuple(e for e in ev if isinstance(e, PostureBout)),
            sitting_bouts=tuple(e for e in ev if isinstance(e, SittingBout)),
            breaks=tuple(e for e in ev if isinstance(e, BreakTaken)),
            alerts=tuple(e for e in ev if isinstance(e, Alert)),
            t0_s=self._first_t if self._first_t is not None else 0.0,
            slouch_s=self._analyzer.slouch_s,
            nudges=tuple(e for e in ev if isinstance(e, SlouchNudge)),
            detects=capabilities(self._settings.placement),
            min_sitting_bout_s=self._settings.policy.min_sitting_bout_s,
            min_break_s=self._settings.policy.min_break_s,
            time_jumps=jumps,
        )


def analyze(
    t_s: NDArray[np.float64],
    acc_g: NDArray[np.float64],
    settings: AnalysisSettings,
    calibrate_at_s: float | None = None,
) -> AnalysisResult:
    """Analyse a whole recording at once.

    Args:
        t_s: Sample times in s, shape (n,) (jumps of the clock: ``analysis.analyzer``).
        acc_g: Acceleration in g, shape (n, 3).
        settings: The analysis settings.
        calibrate_at_s: The wearer stood still and upright from this time (same time
            base as ``t_s``) for ``PostureTuning.calibration_s`` (``UserAction.CALIBRATE``).

    Returns:
        The result (identical to feeding the same samples in any chunks).
    """
    builder = ResultBuilder(settings)
    if calibrate_at_s is None:
        builder.feed(t_s, acc_g)
    else:
        # The first sample at or after it (times may jump back, so no binary search).
        later = np.flatnonzero(np.asarray(t_s) >= calibrate_at_s)
        i = int(later[0]) if later.size else len(t_s)
        builder.feed(t_s[:i], acc_g[:i])
        builder.act(UserAction.CALIBRATE, calibrate_at_s)
        builder.feed(t_s[i:], acc_g[i:])
    return builder.finish()
