"""The human summary ``sitless analyze`` prints on stdout for one recording.

``summary_text`` gives the samples, the time in each posture, the sitting bouts, breaks,
alerts and slouching, then a line per exercise set and per calendar day; what the
placement cannot report (``analysis.posture.capabilities``) says "not measured", where a
number would read as a measured 0.
"""

from __future__ import annotations

from pathlib import Path

from analysis import AnalysisResult, Posture

__all__ = ["summary_text"]


#: Postures of the summary line, with the words it uses for them.
_POSTURE_WORDS = (
    (Posture.SITTING, "sitting"),
    (Posture.STANDING, "standing"),
    (Posture.LYING, "lying"),
    (Posture.WALKING, "walking"),
    (Posture.OTHER, "other"),
    (Posture.NONWEAR, "not worn"),
)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60.0:.1f} min"


def summary_text(path: Path, result: AnalysisResult) -> str:
    """The human summary: what a number would claim falsely says "not measured".

    >>> from analysis import Placement
    >>> from analysis.posture import capabilities
    >>> r = AnalysisResult(3000, 60.0, 50.0, (), (), (), (), detects=capabilities(Placement.WRIST))
    >>> print(summary_text(Path("w.csv"), r))  # doctest: +NORMALIZE_WHITESPACE
    w.csv: 3000 samples, 1.0 min at 50.0 Hz
      sitting not measured, standing not measured, lying not measured, walking 0.0 min, other 0.0 min,
      not worn 0.0 min
      sitting bouts, breaks and alerts not measured, slouching not measured
      this placement reports: walking, other, nonwear
    """
    s = result.summary()
    detects = set(result.detects)
    postures = ", ".join(
        f"{word} {_minutes(float(s[f'{p}_s'])) if str(p) in detects else 'not measured'}" for p, word in _POSTURE_WORDS
    )
    n_gaps = len(result.gaps)
    gaps = f", no data {_minutes(result.gap_s)} ({n_gaps} gap{'s' * (n_gaps != 1)})" if n_gaps else ""
    if str(Posture.SITTING) in detects:
        sitting = (
            f"sitting bouts {len(result.sitting_bouts)} (longest {_minutes(float(s['longest_sitting_s']))}), "
            f"breaks {s['breaks']}, alerts {len(result.alerts)}"
        )
        if result.in_bed_alerts:
            sitting += f" (and {len(result.in_bed_alerts)} in bed, set aside)"
    else:
        sitting = "sitting bouts, breaks and alerts not measured"
    slouch = _minutes(result.slouch_s) if result.slouch_measured else "not measured"
    return (
        f"{path}: {result.samples} samples, {_minutes(result.duration_s)} at {result.rate_hz:.1f} Hz{gaps}\n"
        f"  {postures}\n"
        f"  {sitting}, slouching {slouch}\n"
        f"  this placement reports: {', '.join(result.detects)}"
        + "".join(f"\n  {line}" for line in _exercise_lines(result) + _day_lines(result))
    )


def _exercise_lines(result: AnalysisResult) -> list[str]:
    """One line per exercise set: the exercise, when, repetitions and holds.

    >>> from analysis.sets import ExerciseSet
    >>> r = AnalysisResult(1, 1.0, 1.0, (), (), (), (), exercises=(ExerciseSet("squat", 12.0, 47.5, 10),))
    >>> _exercise_lines(r)
    ['exercise squat at 0.2-0.8 min: 10 reps']
    """
    lines = []
    for e in result.exercises:
        line = f"exercise {e.exercise} at {(e.start_s - result.t0_s) / 60:.1f}-{(e.end_s - result.t0_s) / 60:.1f} min"
        line += f": {e.reps} reps"
        if e.holds:
            held = ", ".join(f"{h.duration_s:.1f} s" for h in e.holds)
            line += f", holds {held}"
            broken = sum(h.broken for h in e.holds)
            bounced = sum(h.bounces > 0 for h in e.holds)
            line += f" ({broken} broken early, {bounced} bounced)" if broken or bounced else ""
        lines.append(line)
    return lines


def _day_lines(result: AnalysisResult) -> list[str]:
    """One line per calendar day: waking postures, in bed, non-wear, bouts by length, breaks, alerts.

    >>> from analysis.days import DaySummary
    >>> day = DaySummary(1, "2026-11-23", 0.0, 86400.0, 86400.0, (("sitting", 30000.0), ("nonwear", 600.0)),
    ...                  28800.0, 0.0, (5, 2, 1), 7, 3)
    >>> _day_lines(AnalysisResult(1, 1.0, 1.0, (), (), (), (), detects=("sitting", "lying"), days=(day,)))
    ['2026-11-23: awake sitting 500.0 min, lying 0.0 min; in bed 480.0 min; not worn 10.0 min; \
sitting bouts <30 min 5, 30-60 min 2, >60 min 1; breaks 7; alerts 3']
    """
    lines = []
    detects = set(result.detects)
    for d in result.days:
        name = d.date if d.date is not None else f"day {d.day}"
        awake = ", ".join(
            f"{word} {_minutes(d.seconds_of(str(p))) if str(p) in detects else 'not measured'}"
            for p, word in _POSTURE_WORDS
            if p not in (Posture.OTHER, Posture.NONWEAR) and (str(p) in detects or p is Posture.SITTING)
        )
        bed = "not measured" if d.in_bed_s is None else _minutes(d.in_bed_s)
        under, mid, over = d.sitting_bouts
        parts = [f"awake {awake}", f"in bed {bed}", f"not worn {_minutes(d.seconds_of(str(Posture.NONWEAR)))}"]
        if d.seconds_of("gap"):
            parts.append(f"no data {_minutes(d.seconds_of('gap'))}")
        if str(Posture.SITTING) in detects:
            parts += [f"sitting bouts <30 min {under}, 30-60 min {mid}, >60 min {over}", f"breaks {d.breaks}"]
            parts.append(f"alerts {d.alerts}")
        lines.append(f"{name}: " + "; ".join(parts))
    return lines
