"""Day-long simulated recordings against their ground truth: sitting time and alerts.

``python -m bench.days`` generates full office days with ``firmware_sim`` (about 8.5 h:
the sensor on the desk before and after, seated work bouts over and under 30 min with
fidgets and short stand-ups, desk standing, walks, a seated meeting, stretch-and-squat
breaks, lunch), for several seeds and every placement with a random mounting, analyses
each with ``analysis.analyze`` (what ``sitless analyze`` runs) and compares:

- daily sitting time against the truth (target: within 3%; the wrist is exempt, it
  reports activity vs inactivity only);
- each sit-too-long alert against the truth's alerts: 30 min after the start of a
  sitting bout, then every 10 min while it goes on (DESIGN.md, alert policy), a bout
  ending at the first non-sitting stretch of at least 1 min. An alert within 2 min of
  a truth alert matches it; any other alert is false, and an unmatched truth alert is
  missed (every placement must raise no false alert).

``--full-day`` runs 24-hour days instead (``firmware_sim.days.full_day``: asleep in bed
until about 07:00 with turns between the sleep positions of Skarpsno et al. 2017, a
morning routine, a commute, the office day above, an evening of dinner, sitting and
lying on the sofa, sitting up in bed, asleep again from about 23:00), the sensor worn
throughout. Each is one day of a recording worn for days: the evening before, from
the walk to bed on, and the night after, up to getting up, are analysed with it and not
scored; the analysis is told the clock time. It adds:

- alerts in bed: alerts found within the truth's in-bed periods (the truth has none
  there; target 0). ``sitless analyze`` sets aside the alerts a thigh's stream raised inside
  the in-bed windows it finds afterwards (``AnalysisResult.in_bed_alerts``); the live
  column counts those too, as the live worker raised them;
- sitting time is waking sitting: the truth's outside its in-bed periods, the found
  outside the in-bed windows found;
- the per-frame posture balanced accuracy on a 0.1 s grid: the mean recall of
  sitting, standing, lying and walking, leaving out time the truth gives no such
  posture (squats, the desk) and ``SCORE_EDGE_S`` either side of each change of truth
  posture (target at least 0.97). The wrist is judged on what it reports: walking
  against not walking (``other``).

``--plain`` makes the sensor only turn between postures, with no vertical travel of the
hips and no trunk flexion at sit-downs and stand-ups (``PLAIN``): a recording made by
switching orientations, as a generator without a body model would, and the harshest
case for the transition detection of trunk placements. A chest or upper-back sensor
then has nothing left to tell upright sitting from standing (the thorax is within a
few degrees of its standing angle when seated) and is expected to fail.

These are simulator-only figures: the simulator is not a real body, and the real
recordings of ``../shared/data`` remain the arbiter (``docs/validation.md``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from analysis import AnalysisResult, AnalysisSettings, Placement, Posture, analyze
from analysis.days import split_at
from analysis.events import Alert
from bench.report import markdown_table
from bench.scoring import (
    ALERT_TOLERANCE_S,
    MIN_BALANCED_ACCURACY,
    SCORE_EDGE_S,
    SCORED,
    PostureScore,
    alerts_due,
    alerts_within,
    match_alerts,
    posture_score,
)
from firmware_sim import Activity, MotionParams, Script, generate, truth
from firmware_sim.days import after_evening, full_day, office_day, until_first_walk
from firmware_sim.scenarios import in_bed_windows

__all__ = [
    "ALERT_TOLERANCE_S",
    "FULL_HEADER",
    "HEADER",
    "MIN_BALANCED_ACCURACY",
    "SCORE_EDGE_S",
    "DayResult",
    "PostureScore",
    "alerts_due",
    "alerts_within",
    "day_line",
    "evaluate_day",
    "evaluate_full_day",
    "found_bouts",
    "full_day",
    "full_row",
    "main",
    "match_alerts",
    "office_day",
    "overall_row",
    "posture_score",
    "score_script",
    "summary_row",
    "truth_alerts",
]

#: Postures change by turning the sensor only: no hip travel, no trunk flexion.
PLAIN = MotionParams(hip_drop_m=0.0, thigh_drop_m=0.0, chair_trunk_flex_deg=0.0, chair_pelvis_flex_deg=0.0)
SITTING_TOLERANCE = 0.03
#: Unix time of the midnight a full day starts at (a Tuesday, UTC): the evening before
#: starts earlier, so that noon-to-noon windows fall at local noon.
MIDNIGHT_UTC = dt.datetime(2026, 1, 6, tzinfo=dt.UTC).timestamp()

A = Activity


def truth_alerts(script: Script) -> list[float]:
    """The alert times the policy calls for on the script's ground truth, s (``alerts_due``).

    >>> from firmware_sim import Step
    >>> s = Script("x", (Step(A.SITTING, 2100.0), Step(A.STANDING, 30.0), Step(A.SITTING, 600.0)))
    >>> truth_alerts(s)
    [1800.0, 2400.0]
    """
    return alerts_due((seg.start_s, seg.end_s, seg.posture is Posture.SITTING) for seg in truth(script))


@dataclass(frozen=True, slots=True)
class DayResult:
    """One simulated day analysed at one placement.

    Attributes:
        placement: Where the sensor was worn.
        seed: Seed of the day and of the simulated session.
        hours: Length of the day, h.
        true_sitting_s: Sitting time in the truth, s (a full day: outside its in-bed periods).
        sitting_s: Sitting time found, s (a full day: outside the in-bed windows found).
        truth_alerts: Alerts the truth calls for.
        matched: Alerts found within ``ALERT_TOLERANCE_S`` of a truth alert.
        false_alerts: Alerts found with no truth alert within the tolerance.
        worst_offset_s: Largest |found - truth| over the matched alerts, s.
        in_bed_alerts: Alerts found within the truth's in-bed periods.
        live_in_bed_alerts: Alerts the live stream raised there: those found, and those
            the batch result set aside in the in-bed windows it found
            (``AnalysisResult.in_bed_alerts``).
        posture: The per-frame posture score, or None when not measured.
    """

    placement: Placement
    seed: int
    hours: float
    true_sitting_s: float
    sitting_s: float
    truth_alerts: int
    matched: int
    false_alerts: int
    worst_offset_s: float
    in_bed_alerts: int = 0
    live_in_bed_alerts: int = 0
    posture: PostureScore | None = None

    @property
    def sitting_error(self) -> float:
        """Relative sitting-time error (found / truth - 1)."""
        return self.sitting_s / self.true_sitting_s - 1 if self.true_sitting_s > 0 else 0.0

    @property
    def missed(self) -> int:
        """Truth alerts nothing matched."""
        return self.truth_alerts - self.matched

    @property
    def passed(self) -> bool:
        """Meets the day-long standard (the wrist: no false alerts, and its own posture score)."""
        scored = self.posture is None or self.posture.balanced >= MIN_BALANCED_ACCURACY
        quiet = self.false_alerts == 0 and self.in_bed_alerts == 0
        if self.placement is Placement.WRIST:
            return quiet and scored
        return abs(self.sitting_error) <= SITTING_TOLERANCE and quiet and self.missed == 0 and scored


def evaluate_day(placement: Placement, seed: int, work_h: float = 8.0, *, plain: bool = False) -> DayResult:
    """Simulate, analyse and score one day at one placement (random mounting from the seed).

    Args:
        placement: Where the sensor is worn.
        seed: Seed of the day's script and of the simulated session.
        work_h: Approximate worn hours (``office_day``).
        plain: Postures change by turning the sensor only (``PLAIN``).

    Returns:
        The comparison with the truth.
    """
    script = office_day(seed, work_h)
    params = PLAIN if plain else MotionParams()
    rec = generate(script, placement, seed=1000 * seed + list(Placement).index(placement), params=params)
    result = analyze(rec.t_s, rec.acc_g, AnalysisSettings(placement))
    true_sitting = sum(s.end_s - s.start_s for s in truth(script) if s.posture is Posture.SITTING)
    expected = truth_alerts(script)
    found = [a.t_s - result.t0_s for a in result.alerts]
    matched, worst = match_alerts(found, expected)
    return DayResult(
        placement=placement,
        seed=seed,
        hours=script.duration_s / 3600,
        true_sitting_s=true_sitting,
        sitting_s=float(result.summary()["sitting_s"]),
        truth_alerts=len(expected),
        matched=matched,
        false_alerts=len(found) - matched,
        worst_offset_s=worst,
    )


def evaluate_full_day(placement: Placement, seed: int, *, plain: bool = False) -> DayResult:
    """Simulate, analyse and score one 24-hour day (``full_day``) at one placement.

    The day is the second of a recording worn for days: the end of the day before
    (``after_evening(seed - 1)``, from the walk to bed on) is played and analysed first,
    and only the 24 hours from midnight are scored.

    Args:
        placement: Where the sensor is worn.
        seed: Seed (>= 1) of the day's script and of the simulated session.
        plain: Postures change by turning the sensor only (``PLAIN``).

    Returns:
        The comparison with the truth, in-bed alerts and posture score included.
    """
    before, day, after = after_evening(seed - 1), full_day(seed), until_first_walk(seed + 1)
    script = Script(day.name, before.steps + day.steps + after.steps)
    session = 1000 * seed + list(Placement).index(placement)
    return score_script(
        script,
        placement,
        seed,
        session_seed=session,
        plain=plain,
        scored_from_s=before.duration_s,
        scored_to_s=before.duration_s + day.duration_s,
    )


def score_script(
    script: Script,
    placement: Placement,
    seed: int,
    *,
    session_seed: int | None = None,
    plain: bool = False,
    scored_from_s: float = 0.0,
    scored_to_s: float | None = None,
) -> DayResult:
    """Simulate one script at one placement and score it as a full day (``DayResult``).

    Args:
        script: What the wearer does.
        placement: Where the sensor is worn.
        seed: Seed the script was made with (reported).
        session_seed: Seed of the simulated session (default ``seed``).
        plain: Postures change by turning the sensor only (``PLAIN``).
        scored_from_s: Score only from this time of the script on (what comes before is
            analysed, and its alerts and sitting are left out). It is midnight: the
            analysis is told the clock time (``MIDNIGHT_UTC``), so that its noon-to-noon
            windows fall at noon.
        scored_to_s: Score only up to this time (default: the end of the script).

    Returns:
        The comparison with the truth, in-bed alerts and posture score included.
    """
    session = seed if session_seed is None else session_seed
    end_s = script.duration_s if scored_to_s is None else scored_to_s
    rec = generate(script, placement, seed=session, params=PLAIN if plain else MotionParams())
    result = analyze(rec.t_s, rec.acc_g, AnalysisSettings(placement), epoch_s=MIDNIGHT_UTC - scored_from_s)

    def clip(spans: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
        return [
            (max(a, scored_from_s) - scored_from_s, min(b, end_s) - scored_from_s)
            for a, b in spans
            if b > scored_from_s and a < end_s
        ]

    def labelled(spans: Sequence[tuple[float, float, Posture]]) -> list[tuple[float, float, Posture]]:
        return [
            (max(a, scored_from_s) - scored_from_s, min(b, end_s) - scored_from_s, p)
            for a, b, p in spans
            if b > scored_from_s and a < end_s
        ]

    def times(alerts: Sequence[Alert]) -> list[float]:
        return [a.t_s - result.t0_s - scored_from_s for a in alerts if scored_from_s <= a.t_s - result.t0_s < end_s]

    segments = labelled([(s.start_s, s.end_s, s.posture) for s in truth(script)])
    bouts = labelled(found_bouts(result))
    expected = [t - scored_from_s for t in truth_alerts(script) if scored_from_s <= t < end_s]
    found = times(result.alerts)
    matched, worst = match_alerts(found, expected)
    in_bed = clip(in_bed_windows(truth(script)))
    found_bed = clip([(w.start_s - result.t0_s, w.end_s - result.t0_s) for w in result.in_bed_windows])
    return DayResult(
        placement=placement,
        seed=seed,
        hours=(end_s - scored_from_s) / 3600,
        true_sitting_s=_outside(segments, in_bed),
        sitting_s=_outside(bouts, found_bed),
        truth_alerts=len(expected),
        matched=matched,
        false_alerts=len(found) - matched,
        worst_offset_s=worst,
        in_bed_alerts=alerts_within(found, in_bed),
        live_in_bed_alerts=alerts_within(times(result.alerts + result.in_bed_alerts), in_bed),
        posture=posture_score(segments, bouts, activity_only=placement is Placement.WRIST),
    )


def _outside(spans: Sequence[tuple[float, float, Posture]], beds: Sequence[tuple[float, float]]) -> float:
    """Sitting time of ``spans`` outside the ``beds`` windows (sorted, disjoint), s: waking sitting.

    >>> _outside([(0.0, 10.0, Posture.SITTING), (10.0, 20.0, Posture.LYING)], [(8.0, 30.0)])
    8.0
    """
    return sum(
        (b - a for s, e, p in spans if p is Posture.SITTING for a, b, inside in split_at(s, e, beds) if not inside), 0.0
    )


def found_bouts(result: AnalysisResult) -> list[tuple[float, float, Posture]]:
    """The posture bouts of a result, ``(start_s, end_s, posture)`` from its first sample."""
    return [(b.start_s - result.t0_s, b.end_s - result.t0_s, b.posture) for b in result.bouts]


def _run(job: tuple[Placement, int, float, bool, bool]) -> DayResult:
    placement, seed, work_h, plain, full = job
    if full:
        return evaluate_full_day(placement, seed, plain=plain)
    return evaluate_day(placement, seed, work_h, plain=plain)


HEADER = "days | sitting error, mean / worst | alerts matched (truth) | worst offset | false | missed | days passing"


def summary_row(days: Sequence[DayResult], *, exempt: bool = False) -> list[str]:
    """The ``HEADER`` columns over some days: worst cases and sums (``exempt``: no sitting figure)."""
    errors = [r.sitting_error for r in days]
    worst_err = max(errors, key=abs)
    sitting = "exempt (activity only)" if exempt else f"{100 * float(np.mean(errors)):+.1f}% / {100 * worst_err:+.1f}%"
    return [
        str(len(days)),
        sitting,
        f"{sum(r.matched for r in days)} ({sum(r.truth_alerts for r in days)})",
        f"{max(r.worst_offset_s for r in days) / 60:.1f} min",
        str(sum(r.false_alerts for r in days)),
        str(sum(r.missed for r in days)),
        f"{sum(r.passed for r in days)}/{len(days)}",
    ]


FULL_HEADER = (
    "days | sitting error, mean / worst | alerts matched (truth) | worst offset | false | missed"
    " | in-bed alerts, batch / live | posture balanced accuracy, mean / worst"
    " | recall, mean: sitting / standing / lying / walking | days passing"
)


def full_row(days: Sequence[DayResult], *, exempt: bool = False) -> list[str]:
    """The ``FULL_HEADER`` columns over some days (``exempt``: no sitting figure, walking vs other)."""
    head = summary_row(days, exempt=exempt)
    scores = [r.posture for r in days if r.posture is not None]
    balanced = [s.balanced for s in scores]
    by_class: dict[str, list[float]] = {}
    for score in scores:
        for name, recall in score.recalls:
            by_class.setdefault(name, []).append(recall)
    names = ("walking", "other") if exempt else tuple(str(p) for p in SCORED)
    recalls = " / ".join(f"{float(np.mean(by_class[n])):.3f}" if n in by_class else "-" for n in names)
    return [
        *head[:-1],
        f"{sum(r.in_bed_alerts for r in days)} / {sum(r.live_in_bed_alerts for r in days)}",
        f"{float(np.mean(balanced)):.3f} / {min(balanced):.3f}" if balanced else "-",
        f"{recalls} (walking / other)" if exempt else recalls,
        head[-1],
    ]


def table(results: Sequence[DayResult], *, full: bool = False) -> str:
    """A Markdown table: one row per placement, worst case over the days (``full``: and overall)."""
    rows: list[list[str]] = []
    row = full_row if full else summary_row
    for placement in Placement:
        days = [r for r in results if r.placement is placement]
        if days:
            rows.append([str(placement), *row(days, exempt=placement is Placement.WRIST)])
    if full and len(rows) > 1:
        rows.append(["overall", *overall_row(results)])
    return markdown_table(f"placement | {FULL_HEADER if full else HEADER}", rows)


def overall_row(results: Sequence[DayResult]) -> list[str]:
    """The ``FULL_HEADER`` columns over every placement.

    Sitting time, matched and missed alerts and the four recalls come from the placements
    that report sitting (not the wrist); false and in-bed alerts, the balanced accuracy
    (the wrist's own) and the days passing from all.
    """
    body = [r for r in results if r.placement is not Placement.WRIST] or list(results)
    every = full_row(results, exempt=not any(r.placement is not Placement.WRIST for r in results))
    sitting = full_row(body)
    return [every[0], *sitting[1:4], every[4], sitting[5], every[6], every[7], sitting[8], every[9]]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.days", description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="days per placement (seeds 1..N)")
    parser.add_argument("--hours", type=float, default=8.0, help="worn hours per day")
    parser.add_argument("--placement", action="append", type=Placement, help="only these (repeatable)")
    parser.add_argument("--workers", type=int, default=2, help="processes")
    parser.add_argument("--verbose", action="store_true", help="one line per day")
    parser.add_argument("--plain", action="store_true", help="postures change by turning the sensor only")
    parser.add_argument(
        "--full-day", action="store_true", help="24-hour days with a night in bed (--hours is then ignored)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the day-long comparison and print the table; non-zero if any day fails."""
    args = _parser().parse_args(argv)
    placements = args.placement or list(Placement)
    jobs = [(p, seed, args.hours, args.plain, args.full_day) for p in placements for seed in range(1, args.seeds + 1)]
    with ProcessPoolExecutor(max_workers=max(1, args.workers)) as pool:
        results = list(pool.map(_run, jobs))
    if args.verbose:
        for r in results:
            print(day_line(f"{r.placement:>10}", r))
    hours = "" if args.full_day else f" --hours {args.hours:g}"
    flags = hours + (" --plain" if args.plain else "") + (" --full-day" if args.full_day else "")
    print(f"python -m bench.days --seeds {args.seeds}{flags}, {dt.date.today().isoformat()}")
    print(table(results, full=args.full_day))
    return 0 if all(r.passed for r in results) else 1


def day_line(label: str, r: DayResult) -> str:
    """One day in one line (``--verbose``), after ``label``."""
    score = ""
    if r.posture is not None:
        recalls = " ".join(f"{name[:4]} {recall:.3f}" for name, recall in r.posture.recalls)
        score = f" in bed {r.in_bed_alerts}/{r.live_in_bed_alerts} posture {r.posture.balanced:.3f} {recalls}"
    return (
        f"{label} seed {r.seed:>3} {r.hours:.1f} h sitting {100 * r.sitting_error:+6.2f}% "
        f"alerts {r.matched}/{r.truth_alerts} false {r.false_alerts} worst {r.worst_offset_s:5.0f} s"
        f"{score}{'' if r.passed else '  FAIL'}"
    )


if __name__ == "__main__":
    sys.exit(main())
