"""Batch results: one recording analysed end to end, in the ``sitless analyze`` JSON.

``analyze`` feeds one chunk to an ``Analyzer`` and flushes it; ``ResultBuilder`` does
the same over many chunks (a week-long CSV read piece by piece). Both give the same
``AnalysisResult``.

A recording too short or too degenerate to judge gets no postures at all: its result
is empty and ``problem`` says why (``MIN_DATA_S``).

Alongside the analyser, the builder keeps the sensor's z-angle in 5-s epochs
(``analysis.epochs``), and at the end finds the in-bed window of each noon-to-noon day
(``analysis.inbed``) and splits the results into local calendar days
(``analysis.days``): that needs the whole recording, so it is a batch result only.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from analysis.analyzer import Analyzer
from analysis.days import DaySummary, day_summaries, noon_boundaries, split_at
from analysis.epochs import AngleEpochs
from analysis.events import Alert, BreakTaken, DataGap, Event, PostureBout, SittingBout, SlouchNudge, TimeJump
from analysis.inbed import InBedWindow, NightWindow, find_in_bed
from analysis.posture import capabilities
from analysis.sets import ExerciseSet, exercise_detectors, exercise_sets, recognition_detectors
from analysis.settings import THORAX, AnalysisSettings, Placement, Posture, UserAction

__all__ = ["AnalysisResult", "ResultBuilder", "analyze"]

#: Postures that are never in bed (``analysis.inbed``).
UPRIGHT = frozenset({Posture.STANDING, Posture.WALKING})


@dataclass(frozen=True, slots=True)
class AnalysisResult:
    """Everything found in one recording.

    Event times are in the input time base; ``to_json`` makes them relative to the
    first sample (``t0_s``). After a backward time jump they can be negative.

    Attributes:
        samples: Number of samples.
        duration_s: Time the recording spans, s: last minus first sample time, summed
            over the segments between time jumps (``Analyzer.span_s``), plus the time
            the clock jumped forward. Posture bouts and gaps together cover it.
        rate_hz: Mean sample rate where there is data, 0 when undefined: the sampling
            intervals within segments ((samples - 1) without a time jump) over
            ``duration_s`` less the gaps.
        bouts: Posture bouts; with ``gaps``, they tile the recording. At the thigh,
            sitting inside an in-bed window is lying (``_unsure_beds``).
        sitting_bouts: Closed sitting bouts (``analysis.bouts`` says what one is); at the
            thigh, those starting inside an in-bed window are left out.
        breaks: Breaks that ended sitting bouts, each from its start to the next sitting.
        alerts: Sit-too-long alerts; at the thigh, those inside an in-bed window are left out.
        t0_s: Time of the first sample in the input time base (0 without samples).
        slouch_s: Time spent slouching (chest and upper back), s.
        nudges: Slouch nudges (only with ``SlouchPolicy.nudge``).
        detects: What the placement can report (``analysis.posture.capabilities``).
        min_sitting_bout_s: The minimum sitting bout the bouts and breaks were counted with.
        min_break_s: The minimum break (fidget tolerance) they were counted with.
        min_run_s: The minimum posture run (``AlertPolicy.min_run_s``) they were counted with.
        time_jumps: Jumps of the sample clock, each starting a new segment of the analysis.
        gaps: Stretches without data (``DataGap``): no posture, no sitting, no break.
        slouch_measured: Whether the placement measures slouch (chest and upper back).
        problem: Why the recording is too short or too degenerate to judge, else
            ``None``. With a problem, the result holds no bouts, gaps or events at all.
        nights: The noon-to-noon windows and their in-bed windows (``analysis.inbed``).
        days: The results per local calendar day (``analysis.days``).
        in_bed_alerts: Alerts a thigh's stream raised inside an in-bed window found
            afterwards (it cannot tell lying on the back with straight legs from sitting
            until the night is seen whole): not sit-too-long alerts, kept to be reported.
        exercises: The exercise sets (``analysis.sets``), in time order.
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
    min_run_s: float = 10.0
    time_jumps: tuple[TimeJump, ...] = ()
    gaps: tuple[DataGap, ...] = ()
    slouch_measured: bool = False
    problem: str | None = None
    nights: tuple[NightWindow, ...] = ()
    days: tuple[DaySummary, ...] = ()
    in_bed_alerts: tuple[Alert, ...] = ()
    exercises: tuple[ExerciseSet, ...] = ()

    @property
    def in_bed_s(self) -> float | None:
        """Time in bed over the judged nights, s; ``None`` when no night could be judged."""
        if not any(n.judged for n in self.nights):
            return None
        return sum((n.in_bed.duration_s for n in self.nights if n.judged and n.in_bed is not None), 0.0)

    @property
    def in_bed_windows(self) -> tuple[InBedWindow, ...]:
        """The in-bed windows found, in order."""
        return tuple(n.in_bed for n in self.nights if n.in_bed is not None)

    @property
    def gap_s(self) -> float:
        """Time without data, s."""
        return sum((g.duration_s for g in self.gaps), 0.0)

    def summary(self) -> dict[str, float | int]:
        """Return time per posture and without data (s), bouts and breaks, the longest sitting bout and slouch time.

        ``sitting_s`` is all time classified as sitting, whatever the bout settings;
        ``sitting_bouts`` and ``breaks`` are counted with ``min_sitting_bout_s``,
        ``min_break_s`` and ``min_run_s`` (reported beside them), which change these counts but not the
        sitting time. ``gap_s`` is the time without data, in no posture (time in bed:
        ``bed_summary``). A posture the
        placement cannot report (not in ``detects``) is 0 here; ``detects`` tells it
        from a measured 0.
        """
        out: dict[str, float | int] = {f"{p}_s": 0.0 for p in Posture}
        for bout in self.bouts:
            out[f"{bout.posture}_s"] = float(out[f"{bout.posture}_s"]) + (bout.end_s - bout.start_s)
        out["gap_s"] = self.gap_s
        out["gaps"] = len(self.gaps)
        out["breaks"] = len(self.breaks)
        out["sitting_bouts"] = len(self.sitting_bouts)
        out["longest_sitting_s"] = max((b.end_s - b.start_s for b in self.sitting_bouts), default=0.0)
        out["min_sitting_bout_s"] = self.min_sitting_bout_s
        out["min_break_s"] = self.min_break_s
        out["min_run_s"] = self.min_run_s
        out["slouch_s"] = self.slouch_s
        return out

    def bed_summary(self) -> dict[str, float | None]:
        """Time in bed over the judged nights (``None``: no night could be judged) and waking sitting and lying, s."""
        return {
            "in_bed_s": self.in_bed_s,
            "waking_sitting_s": sum(d.seconds_of(str(Posture.SITTING)) for d in self.days),
            "waking_lying_s": sum(d.seconds_of(str(Posture.LYING)) for d in self.days),
        }

    def to_json(self) -> dict[str, Any]:
        """Return the DESIGN.md "Batch analysis CLI" JSON, times relative to the first sample.

        ``bouts`` cover the recording except its ``gaps`` (``{start_s, end_s}``):
        together they tile it end to end.
        """
        t0 = self.t0_s

        def rel(t: float) -> float:
            return round(t - t0, 6)

        return {
            "recording": {"samples": self.samples, "duration_s": self.duration_s, "rate_hz": self.rate_hz},
            "bouts": [
                {"start_s": rel(b.start_s), "end_s": rel(b.end_s), "posture": str(b.posture), "slouch_s": b.slouch_s}
                for b in self.bouts
            ],
            "gaps": [{"start_s": rel(g.start_s), "end_s": rel(g.end_s)} for g in self.gaps],
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
            "in_bed_alerts": [{"t_s": rel(a.t_s), "repeat": a.repeat} for a in self.in_bed_alerts],
            "slouch_nudges": [{"t_s": rel(n.t_s), "slouching_since_s": rel(n.slouching_since_s)} for n in self.nudges],
            "time_jumps": [{"from_s": rel(j.from_s), "t_s": rel(j.t_s)} for j in self.time_jumps],
            "exercises": [e.to_dict(t0) for e in self.exercises],
            "nights": [
                {
                    "start_s": rel(n.start_s),
                    "end_s": rel(n.end_s),
                    "judged": n.judged,
                    "in_bed": None
                    if n.in_bed is None
                    else {"start_s": rel(n.in_bed.start_s), "end_s": rel(n.in_bed.end_s)},
                }
                for n in self.nights
            ],
            "days": [{**d.to_dict(), "start_s": rel(d.start_s), "end_s": rel(d.end_s)} for d in self.days],
            "summary": {**self.summary(), **self.bed_summary()},
            "detects": list(self.detects),
        }


def _within(t_s: float, spans: list[tuple[float, float]]) -> bool:
    """Whether ``t_s`` lies in one of ``spans`` (``[start_s, end_s)``).

    >>> _within(5.0, [(0.0, 5.0), (5.0, 9.0)]), _within(9.0, [(5.0, 9.0)])
    (True, False)
    """
    return any(a <= t_s < b for a, b in spans)


def _unsure_beds(nights: tuple[NightWindow, ...], placement: Placement) -> list[tuple[float, float]]:
    """The in-bed windows in which sitting may be lying: at the thigh only, else none.

    A thigh cannot tell lying on the back with the legs out from sitting
    (``analysis.thigh``), so there sitting in bed is taken as lying, and the alerts and
    sitting bouts the stream found in bed are set aside. A trunk sensor measures lying
    itself: the sitting it reports in bed is sitting up, as on a sofa before the night.
    """
    if placement is not Placement.THIGH:
        return []
    return [(n.in_bed.start_s, n.in_bed.end_s) for n in nights if n.in_bed is not None]


def _lying_in_bed(bouts: tuple[PostureBout, ...], beds: list[tuple[float, float]]) -> tuple[PostureBout, ...]:
    """Sitting inside the ``beds`` windows taken as lying, and like neighbours merged (``_unsure_beds``).

    >>> b = (PostureBout(0.0, 10.0, Posture.SITTING), PostureBout(10.0, 20.0, Posture.LYING))
    >>> [(x.start_s, x.end_s, str(x.posture)) for x in _lying_in_bed(b, [(5.0, 30.0)])]
    [(0.0, 5.0, 'sitting'), (5.0, 20.0, 'lying')]
    """
    if not beds:
        return bouts
    out: list[PostureBout] = []
    for bout in bouts:
        pieces = [bout]
        cuts = split_at(bout.start_s, bout.end_s, beds) if bout.posture is Posture.SITTING else []
        if any(inside for _, _, inside in cuts):
            pieces = [PostureBout(a, b, Posture.LYING if inside else Posture.SITTING) for a, b, inside in cuts]
        for piece in pieces:
            last = out[-1] if out else None
            if last is not None and last.posture is piece.posture and last.end_s == piece.start_s:
                out[-1] = PostureBout(last.start_s, piece.end_s, last.posture, last.slouch_s + piece.slouch_s)
            else:
                out.append(piece)
    return tuple(out)


def _problem(samples: int, span_s: float, data_s: float, rate_hz: float, min_data_s: float) -> str | None:
    """Why samples cannot be judged, or ``None`` when they can.

    >>> _problem(1, 0.0, 0.0, 0.0, 3.2)
    'only 1 sample'
    >>> _problem(5, 0.0, 0.0, 0.0, 3.2)
    'all 5 samples have the same time'
    >>> _problem(40, 2.0, 2.0, 19.5, 3.2)
    'only 2.0 s of data; a posture needs at least 3.2 s'
    """
    if samples == 0:
        return "no usable samples"
    if samples == 1:
        return "only 1 sample"
    if span_s <= 0:
        return f"all {samples} samples have the same time"
    if not data_s >= min_data_s:
        return f"only {data_s:.1f} s of data; a posture needs at least {min_data_s:.1f} s"
    if not (math.isfinite(rate_hz) and rate_hz > 0):
        return f"no usable sample rate ({rate_hz!r} Hz)"
    return None


class ResultBuilder:
    """Collects the events of a chunked run into an ``AnalysisResult``.

    Args:
        settings: The analysis settings.
        exercise: The exercise the recording is a guided set of (a programme id, or
            ``any`` for the generic repetition counter): its repetitions and holds are
            followed from the first sample (``analysis.sets.exercise_detectors``).
            Without one, exercises done unprompted are looked for
            (``analysis.sets.recognition_detectors``).

    Raises:
        ValueError: The exercise is unknown or cannot be followed from the placement.
    """

    def __init__(self, settings: AnalysisSettings, exercise: str | None = None) -> None:
        self._settings = settings
        frame_s = settings.tuning.frame_s
        detectors = (
            recognition_detectors(settings.placement, frame_s)
            if exercise is None
            else exercise_detectors(exercise, settings.placement, frame_s)
        )
        self._analyzer = Analyzer(settings, detectors)
        self._events: list[Event] = []
        self._samples = 0
        self._first_t: float | None = None
        self._last_t: float | None = None
        self._angles = AngleEpochs(settings.in_bed)

    @property
    def min_data_s(self) -> float:
        """Least data a recording needs to be judged, s: the analyser's look-ahead.

        A posture is final only ``Analyzer.lookahead_s`` after it happened (features,
        decision delay, smoothing: 3.2 s at the default tuning); with less data no
        frame's posture had its whole context.
        """
        return self._analyzer.lookahead_s

    def set_clock(self, epoch_s: float, tz: dt.tzinfo = dt.UTC) -> None:
        """Tell the analysis the clock time of the time base's 0, before the first sample.

        The analyser's clock-time rules (the noons at which it learns the wearer's nights,
        the in-bed hours and working hours of the alert policy) read ``t +
        AlertPolicy.utc_offset_h`` as local time; for times relative to a start at Unix
        time ``epoch_s`` that offset is the start's local time of day (a change of
        daylight saving time during the recording is not followed).

        Args:
            epoch_s: Unix time of the time base's 0, s.
            tz: The local time zone.
        """
        start = dt.datetime.fromtimestamp(epoch_s, tz)
        local_s = epoch_s + (start.utcoffset() or dt.timedelta(0)).total_seconds()
        policy = dataclasses.replace(self._settings.policy, utc_offset_h=(local_s % 86400.0) / 3600.0)
        self._settings = dataclasses.replace(self._settings, policy=policy)
        self._analyzer.set_policy(policy)

    def feed(
        self, t_s: NDArray[np.float64], acc_g: NDArray[np.float64], gyro_dps: NDArray[np.float64] | None = None
    ) -> None:
        """Analyse the next chunk of samples (t_s shape (n,), acc_g shape (n, 3) in g, gyro_dps (n, 3) or None)."""
        self._events += self._analyzer.update(t_s, acc_g, gyro_dps)
        self._angles.update(t_s, acc_g)
        n = int(np.shape(t_s)[0])
        if n:
            if self._first_t is None:
                self._first_t = float(t_s[0])
            self._last_t = float(t_s[-1])
            self._samples += n

    def act(self, action: UserAction, t_s: float) -> None:
        """Apply a wearer's action at ``t_s`` (feed the samples before ``t_s`` first)."""
        self._events += self._analyzer.act(action, t_s)

    def finish(self, *, epoch_s: float | None = None, tz: dt.tzinfo = dt.UTC) -> AnalysisResult:
        """Flush the analyser and return the result (empty, with ``problem`` set, if it cannot be judged).

        Args:
            epoch_s: Unix time of the input time base's 0, s (0.0 when sample times are
                Unix times), or ``None`` when times are only relative: days are then
                numbered from the first sample, taken as local midnight.
            tz: The local time zone of the calendar days and noons.
        """
        self._events += self._analyzer.flush()
        ev = self._events
        jumps = tuple(e for e in ev if isinstance(e, TimeJump))
        gaps = tuple(e for e in ev if isinstance(e, DataGap))
        span = self._analyzer.span_s
        duration = span + sum(max(0.0, j.t_s - j.from_s) for j in jumps)
        data_s = duration - sum(g.duration_s for g in gaps)
        rate = (self._samples - 1 - len(jumps)) / data_s if data_s > 0 else 0.0
        settings = self._settings
        problem = _problem(self._samples, span, data_s, rate, self.min_data_s)
        if problem is not None:
            ev = []
        nights, days, beds = self._days(ev, epoch_s, tz) if problem is None else ((), (), [])
        alerts = tuple(e for e in ev if isinstance(e, Alert))
        bouts = _lying_in_bed(tuple(e for e in ev if isinstance(e, PostureBout)), beds)
        return AnalysisResult(
            samples=self._samples,
            duration_s=duration,
            rate_hz=rate,
            bouts=bouts,
            sitting_bouts=tuple(e for e in ev if isinstance(e, SittingBout) and not _within(e.start_s, beds)),
            breaks=tuple(e for e in ev if isinstance(e, BreakTaken)),
            alerts=tuple(a for a in alerts if not _within(a.t_s, beds)),
            t0_s=self._first_t if self._first_t is not None else 0.0,
            slouch_s=self._analyzer.slouch_s if problem is None else 0.0,
            nudges=tuple(e for e in ev if isinstance(e, SlouchNudge)),
            detects=capabilities(settings.placement),
            min_sitting_bout_s=settings.policy.min_sitting_bout_s,
            min_break_s=settings.policy.min_break_s,
            min_run_s=settings.policy.min_run_s,
            time_jumps=tuple(e for e in ev if isinstance(e, TimeJump)),
            gaps=tuple(e for e in ev if isinstance(e, DataGap)),
            slouch_measured=settings.placement in THORAX,
            problem=problem,
            nights=nights,
            days=days,
            in_bed_alerts=tuple(a for a in alerts if _within(a.t_s, beds)),
            exercises=exercise_sets(ev),
        )

    def _days(
        self, ev: list[Event], epoch_s: float | None, tz: dt.tzinfo
    ) -> tuple[tuple[NightWindow, ...], tuple[DaySummary, ...], list[tuple[float, float]]]:
        """In-bed windows (non-wear is never in bed), the day summaries, and the beds of ``_unsure_beds``."""
        bouts = [e for e in ev if isinstance(e, PostureBout)]
        if not bouts or self._first_t is None or self._last_t is None:
            return (), (), []
        start = min(self._first_t, bouts[0].start_s)
        end = max(self._last_t, bouts[-1].end_s)
        epochs = self._angles.epochs()
        nonwear = epochs.mask((b.start_s, b.end_s) for b in bouts if b.posture is Posture.NONWEAR)
        lying = upright = None
        if str(Posture.LYING) in capabilities(self._settings.placement):
            lying = epochs.mask((b.start_s, b.end_s) for b in bouts if b.posture is Posture.LYING)
            upright = epochs.mask((b.start_s, b.end_s) for b in bouts if b.posture in UPRIGHT)
        bounds = noon_boundaries(start, end, epoch_s=epoch_s, tz=tz)
        nights = find_in_bed(epochs, bounds, nonwear, self._settings.in_bed, lying=lying, upright=upright).nights
        beds = _unsure_beds(nights, self._settings.placement)
        days = day_summaries(
            bouts,
            (e for e in ev if isinstance(e, SittingBout) and not _within(e.start_s, beds)),
            (e for e in ev if isinstance(e, BreakTaken)),
            (e for e in ev if isinstance(e, Alert) and not _within(e.t_s, beds)),
            nights=nights,
            gaps=(e for e in ev if isinstance(e, DataGap)),
            epoch_s=epoch_s,
            tz=tz,
        )
        return nights, days, beds


def analyze(
    t_s: NDArray[np.float64],
    acc_g: NDArray[np.float64],
    settings: AnalysisSettings,
    calibrate_at_s: float | None = None,
    *,
    epoch_s: float | None = None,
    tz: dt.tzinfo = dt.UTC,
    exercise: str | None = None,
) -> AnalysisResult:
    """Analyse a whole recording at once.

    Args:
        t_s: Sample times in s, shape (n,) (jumps of the clock: ``analysis.analyzer``).
        acc_g: Acceleration in g, shape (n, 3).
        settings: The analysis settings.
        calibrate_at_s: The wearer stood still and upright from this time (same time
            base as ``t_s``) for ``PostureTuning.calibration_s`` (``UserAction.CALIBRATE``).
        epoch_s: Unix time of the time base's 0 (``ResultBuilder.finish``).
        tz: The local time zone of the days.
        exercise: The guided exercise of the recording (``ResultBuilder``), or ``None``.

    Returns:
        The result (identical to feeding the same samples in any chunks).
    """
    builder = ResultBuilder(settings, exercise)
    if epoch_s is not None:
        builder.set_clock(epoch_s, tz)
    if calibrate_at_s is None:
        builder.feed(t_s, acc_g)
    else:
        # The first sample at or after it (times may jump back, so no binary search).
        later = np.flatnonzero(np.asarray(t_s) >= calibrate_at_s)
        i = int(later[0]) if later.size else len(t_s)
        builder.feed(t_s[:i], acc_g[:i])
        builder.act(UserAction.CALIBRATE, calibrate_at_s)
        builder.feed(t_s[i:], acc_g[i:])
    return builder.finish(epoch_s=epoch_s, tz=tz)
