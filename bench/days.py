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
import math
import sys
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from analysis import AnalysisSettings, Placement, Posture, analyze
from bench.report import markdown_table
from firmware_sim import Activity, MotionParams, Script, Step, generate, truth

__all__ = [
    "HEADER",
    "DayResult",
    "alerts_due",
    "evaluate_day",
    "main",
    "match_alerts",
    "office_day",
    "summary_row",
    "truth_alerts",
]

MIN = 60.0
MAX_SITTING_S = 30 * MIN  # DESIGN.md alert policy defaults
MIN_BREAK_S = 1 * MIN
#: Postures change by turning the sensor only: no hip travel, no trunk flexion.
PLAIN = MotionParams(hip_drop_m=0.0, thigh_drop_m=0.0, chair_trunk_flex_deg=0.0, chair_pelvis_flex_deg=0.0)
REPEAT_S = 10 * MIN
ALERT_TOLERANCE_S = 2 * MIN
SITTING_TOLERANCE = 0.03

A = Activity


class _Day:
    """Collects the steps of a day from a seeded generator."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng([seed, 0xDA7])
        self.steps: list[Step] = []

    @property
    def elapsed_s(self) -> float:
        return float(sum(step.duration_s for step in self.steps))

    def add(self, activity: Activity, low_s: float, high_s: float | None = None) -> None:
        seconds = low_s if high_s is None else float(self.rng.uniform(low_s, high_s))
        self.steps.append(Step(activity, round(seconds, 1)))

    def seated(self, low_s: float, high_s: float, *, stand_ups: bool = True) -> None:
        """A seated bout with a fidget every 4-10 min and, sometimes, a stand-up of < 1 min."""
        left = float(self.rng.uniform(low_s, high_s))
        while left > 0:
            piece = min(left, float(self.rng.uniform(4 * MIN, 10 * MIN)))
            self.add(A.SITTING, piece)
            left -= piece
            if left <= 30:
                break
            if stand_ups and self.rng.random() < 0.15:
                self.add(A.STANDING, 15, 40)  # reach a shelf, greet someone: no break
            else:
                self.add(A.FIDGET, 3, 8)

    def pause(self) -> None:
        """A break between seated bouts (every kind ends the bout: >= 1 min off the chair)."""
        kind = int(self.rng.integers(0, 4))
        if kind == 0:  # coffee or printer
            self.add(A.STANDING, 10, 40)
            self.add(A.WALKING, 1.5 * MIN, 4 * MIN)
            self.add(A.STANDING, 10, 60)
        elif kind == 1:  # standing desk
            self.add(A.STANDING, 8 * MIN, 25 * MIN)
        elif kind == 2:  # stretch-and-squat break (programme.md)
            self.add(A.STANDING, 20, 60)
            self.add(A.STRETCH, 1 * MIN, 2.5 * MIN)
            self.add(A.SQUAT, 15, 25)
            self.add(A.STANDING, 30, 90)
        else:  # a chat standing by the desk
            self.add(A.STANDING, 1.5 * MIN, 4 * MIN)

    def work(self, until_s: float) -> None:
        """Seated work bouts (about half of them over 30 min) with breaks until ``until_s``."""
        while self.elapsed_s < until_s:
            if self.rng.random() < 0.5:
                self.seated(33 * MIN, 55 * MIN)
            else:
                self.seated(8 * MIN, 25 * MIN)
            self.pause()

    def walk(self, low_s: float, high_s: float) -> None:
        self.add(A.STANDING, 5, 20)
        self.add(A.WALKING, low_s, high_s)
        self.add(A.STANDING, 5, 20)


def office_day(seed: int, work_h: float = 8.0) -> Script:
    """A seeded office day: desk non-wear, work bouts, a meeting, lunch, desk non-wear.

    Args:
        seed: Seed of the day's choices (durations, kinds of break).
        work_h: Approximate hours between clipping the sensor on and taking it off; days
            of 5 h or more include a seated meeting and a seated lunch.

    Returns:
        The script (every step's duration rounded to 0.1 s).
    """
    day = _Day(seed)
    day.add(A.NONWEAR, 3 * MIN, 12 * MIN)  # on the desk before it is clipped on
    day.add(A.STANDING, 20, 60)
    day.walk(1 * MIN, 3 * MIN)
    start = day.elapsed_s
    long_day = work_h >= 5.0
    day.work(start + (0.3 if long_day else 0.5) * work_h * 3600)
    if long_day:
        day.walk(2 * MIN, 4 * MIN)  # to the meeting room
        day.seated(40 * MIN, 60 * MIN, stand_ups=False)
        day.walk(2 * MIN, 4 * MIN)
        day.work(start + 0.5 * work_h * 3600)
        day.walk(3 * MIN, 6 * MIN)  # lunch
        day.seated(20 * MIN, 35 * MIN, stand_ups=False)
        day.walk(3 * MIN, 6 * MIN)
    day.work(start + work_h * 3600)
    day.walk(1 * MIN, 3 * MIN)
    day.add(A.STANDING, 20, 60)
    day.add(A.NONWEAR, 3 * MIN, 12 * MIN)  # taken off and left on the desk
    return Script(f"office_day_{seed}", tuple(day.steps))


def truth_alerts(script: Script) -> list[float]:
    """The alert times the policy calls for on the script's ground truth, s (``alerts_due``).

    >>> s = Script("x", (Step(A.SITTING, 2100.0), Step(A.STANDING, 30.0), Step(A.SITTING, 600.0)))
    >>> truth_alerts(s)
    [1800.0, 2400.0]
    """
    return alerts_due((seg.start_s, seg.end_s, seg.posture is Posture.SITTING) for seg in truth(script))


def alerts_due(segments: Iterable[tuple[float, float, bool]]) -> list[float]:
    """The alert times the policy calls for on consecutive ``(start_s, end_s, sitting)`` segments, s.

    A bout starts at the first sitting segment and ends at a non-sitting stretch of at
    least ``MIN_BREAK_S``; it alerts ``MAX_SITTING_S`` after its start, then every
    ``REPEAT_S`` (an alert due during a short stand-up comes when the wearer sits again).

    >>> alerts_due([(0.0, 1900.0, True), (1900.0, 1990.0, False), (1990.0, 3900.0, True)])
    [1800.0, 3790.0]
    """
    alerts: list[float] = []
    bout_start: float | None = None
    due = math.inf
    off_since: float | None = None
    for start_s, end_s, sitting in segments:
        if sitting:
            if bout_start is None:
                bout_start, due = start_s, start_s + MAX_SITTING_S
            off_since = None
            while due < end_s:
                alerts.append(max(due, start_s))
                due = max(due, start_s) + REPEAT_S
            continue
        off_since = start_s if off_since is None else off_since
        if bout_start is not None and end_s - off_since >= MIN_BREAK_S:
            bout_start, due = None, math.inf
    return alerts


@dataclass(frozen=True, slots=True)
class DayResult:
    """One simulated day analysed at one placement.

    Attributes:
        placement: Where the sensor was worn.
        seed: Seed of the day and of the simulated session.
        hours: Length of the day, h.
        true_sitting_s: Sitting time in the truth, s.
        sitting_s: Sitting time found, s.
        truth_alerts: Alerts the truth calls for.
        matched: Alerts found within ``ALERT_TOLERANCE_S`` of a truth alert.
        false_alerts: Alerts found with no truth alert within the tolerance.
        worst_offset_s: Largest |found - truth| over the matched alerts, s.
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
        """Meets the day-long standard (the wrist: no false alerts only)."""
        if self.placement is Placement.WRIST:
            return self.false_alerts == 0
        return abs(self.sitting_error) <= SITTING_TOLERANCE and self.false_alerts == 0 and self.missed == 0


def match_alerts(found: Sequence[float], expected: Sequence[float]) -> tuple[int, float]:
    """Greedy one-to-one matching in time order; returns (matched, worst offset s)."""
    used = [False] * len(expected)
    matched, worst = 0, 0.0
    for t in found:
        best = None
        for j, e in enumerate(expected):
            if (
                not used[j]
                and abs(t - e) <= ALERT_TOLERANCE_S
                and (best is None or abs(t - e) < abs(t - expected[best]))
            ):
                best = j
        if best is not None:
            used[best] = True
            matched += 1
            worst = max(worst, abs(t - expected[best]))
    return matched, worst


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


def _run(job: tuple[Placement, int, float, bool]) -> DayResult:
    placement, seed, work_h, plain = job
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


def table(results: Sequence[DayResult]) -> str:
    """A Markdown table: one row per placement, worst case over the days."""
    rows: list[list[str]] = []
    for placement in Placement:
        days = [r for r in results if r.placement is placement]
        if days:
            rows.append([str(placement), *summary_row(days, exempt=placement is Placement.WRIST)])
    return markdown_table(f"placement | {HEADER}", rows)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.days", description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="days per placement (seeds 1..N)")
    parser.add_argument("--hours", type=float, default=8.0, help="worn hours per day")
    parser.add_argument("--placement", action="append", type=Placement, help="only these (repeatable)")
    parser.add_argument("--workers", type=int, default=2, help="processes")
    parser.add_argument("--verbose", action="store_true", help="one line per day")
    parser.add_argument("--plain", action="store_true", help="postures change by turning the sensor only")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the day-long comparison and print the table; non-zero if any day fails."""
    args = _parser().parse_args(argv)
    placements = args.placement or list(Placement)
    jobs = [(p, seed, args.hours, args.plain) for p in placements for seed in range(1, args.seeds + 1)]
    with ProcessPoolExecutor(max_workers=max(1, args.workers)) as pool:
        results = list(pool.map(_run, jobs))
    if args.verbose:
        for r in results:
            print(
                f"{r.placement:>10} seed {r.seed:>3} {r.hours:.1f} h sitting {100 * r.sitting_error:+6.2f}% "
                f"alerts {r.matched}/{r.truth_alerts} false {r.false_alerts} worst {r.worst_offset_s:5.0f} s"
                f"{'' if r.passed else '  FAIL'}"
            )
    flags = " --plain" if args.plain else ""
    print(f"python -m bench.days --seeds {args.seeds} --hours {args.hours:g}{flags}, {dt.date.today().isoformat()}")
    print(table(results))
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
