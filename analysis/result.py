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
from analysis.events import Alert, BreakTaken, Event, PostureBout, SittingBout
from analysis.settings import AnalysisSettings, Posture

__all__ = ["AnalysisResult", "ResultBuilder", "analyze"]


@dataclass(frozen=True, slots=True)
class AnalysisResult:
    """Everything found in one recording.

    Event times are in the input time base; ``to_json`` makes them relative to the
    first sample (``t0_s``).

    Attributes:
        samples: Number of samples.
        duration_s: Last minus first sample time in s.
        rate_hz: Mean sample rate ((samples - 1) / duration), 0 when undefined.
        bouts: Posture bouts tiling the recording.
        sitting_bouts: Closed sitting bouts.
        breaks: Breaks that ended sitting bouts.
        alerts: Sit-too-long alerts.
        t0_s: Time of the first sample in the input time base (0 without samples).
    """

    samples: int
    duration_s: float
    rate_hz: float
    bouts: tuple[PostureBout, ...]
    sitting_bouts: tuple[SittingBout, ...]
    breaks: tuple[BreakTaken, ...]
    alerts: tuple[Alert, ...]
    t0_s: float = 0.0

    def summary(self) -> dict[str, float | int]:
        """Return time per posture (s), the number of breaks and the longest sitting bout (s)."""
        out: dict[str, float | int] = {f"{p}_s": 0.0 for p in Posture}
        for bout in self.bouts:
            out[f"{bout.posture}_s"] = float(out[f"{bout.posture}_s"]) + (bout.end_s - bout.start_s)
        out["breaks"] = len(self.breaks)
        out["longest_sitting_s"] = max((b.end_s - b.start_s for b in self.sitting_bouts), default=0.0)
        return out

    def to_json(self) -> dict[str, Any]:
        """Return the DESIGN.md "Batch analysis CLI" JSON, times relative to the first sample."""
        t0 = self.t0_s

        def rel(t: float) -> float:
            return round(t - t0, 6)

        return {
            "recording": {"samples": self.samples, "duration_s": self.duration_s, "rate_hz": self.rate_hz},
            "bouts": [
                {"start_s": rel(b.start_s), "end_s": rel(b.end_s), "posture": str(b.posture)} for b in self.bouts
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
            "exercises": [],
            "summary": self.summary(),
        }


class ResultBuilder:
    """Collects the events of a chunked run into an ``AnalysisResult``.

    Args:
        settings: The analysis settings.
    """

    def __init__(self, settings: AnalysisSettings) -> None:
        self._analyzer = Analyzer(settings)
        self._events: list[Event] = []
        self._samples = 0
        self._first_t: float | None = None
        self._last_t: float | None = None

    def feed(self, t_s: NDArray[np.float64], acc_g: NDArray[np.float64]) -> None:
        """Analyse the next chunk of samples (t_s shape (n,), acc_g shape (n, 3) in g)."""
        self._events += self._analyzer.update(t_s, acc_g)
        n = int(np.shape(t_s)[0])
        if n:
            if self._first_t is None:
                self._first_t = float(t_s[0])
            self._last_t = float(t_s[-1])
            self._samples += n

    def finish(self) -> AnalysisResult:
        """Flush the analyser and return the result."""
        self._events += self._analyzer.flush()
        first = self._first_t if self._first_t is not None else 0.0
        duration = (self._last_t - first) if self._last_t is not None else 0.0
        rate = (self._samples - 1) / duration if duration > 0 else 0.0
        ev = self._events
        return AnalysisResult(
            samples=self._samples,
            duration_s=duration,
            rate_hz=rate,
            bouts=tuple(e for e in ev if isinstance(e, PostureBout)),
            sitting_bouts=tuple(e for e in ev if isinstance(e, SittingBout)),
            breaks=tuple(e for e in ev if isinstance(e, BreakTaken)),
            alerts=tuple(e for e in ev if isinstance(e, Alert)),
            t0_s=first,
        )


def analyze(t_s: NDArray[np.float64], acc_g: NDArray[np.float64], settings: AnalysisSettings) -> AnalysisResult:
    """Analyse a whole recording at once.

    Args:
        t_s: Sample times in s, shape (n,), non-decreasing.
        acc_g: Acceleration in g, shape (n, 3).
        settings: The analysis settings.

    Returns:
        The result (identical to feeding the same samples in any chunks).
    """
    builder = ResultBuilder(settings)
    builder.feed(t_s, acc_g)
    return builder.finish()
