"""Real recordings stretched to office lengths: sitting time and alerts on real signals.

The labelled recordings of ``../shared/data`` are short (the static segments of
``uci_hapt`` last 12-32 s), so they cannot show a 30-minute sitting bout. ``python -m
bench.stretched`` makes a longer recording out of each one: every labelled sitting,
standing, lying and walking segment of at least ``MIN_SEGMENT_S`` is lengthened to a
seeded office duration (``SPANS``) by playing its middle forwards and backwards in
turn (so that the signal has no jumps), its first and last ``EDGE_S`` kept as
recorded; transitions, stairs and unlabelled stretches stay as recorded, in their
order. Each sit-down and stand-up is so the real one of that wearer, followed by
the real posture it led to. The result is scored as ``bench.days`` scores simulated
days: sitting time within the labelled time against the labels (target within 3%),
and each sit-too-long alert against the alerts the labels call for (within 2 min, no
false alerts).

Repeating the middle of a segment repeats any movement in it (a weight shift while
standing, a shift on the chair) every 10-30 s, which makes these days harsher than a
real one.

``--full-day`` gives each recording an evening and a night (``stretch_day``): its
lying segments but the last become an evening on the sofa (``EVENING_LYING``), and the
last one a night in bed (``NIGHT``) made of all its lying segments in turn, each held
an exponential time of mean ``1 / SHIFTS_PER_H`` (1.6 position shifts an hour, Skarpsno
et al. 2017, doi:10.2147/NSS.S145777) and joined by a ``TURN_S`` cross-fade, the
recorded ends of that segment kept, so the night starts with the wearer's real lying
down and ends with the real getting up. uci_hapt then runs standing, sitting, standing,
sofa, sitting, night, walking and stairs. Scored as ``bench.days --full-day``: also
alerts within the night (target 0) and the per-frame posture balanced accuracy over
the labelled time (stairs as walking, 0.5 s left out at each end of a labelled
segment as ``score.py`` does; target 0.97).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import zlib
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from analysis import AnalysisSettings, Placement, Posture, analyze
from bench.days import FULL_HEADER, HEADER, DayResult, day_line, found_bouts, full_row, summary_row
from bench.report import markdown_table
from bench.scoring import alerts_due, alerts_within, match_alerts, posture_score
from firmware_sim.days import SHIFTS_PER_H
from tests.conftest import data_dir

__all__ = [
    "EDGE_S",
    "EVENING_LYING",
    "MIN_SEGMENT_S",
    "NIGHT",
    "SPANS",
    "TURN_S",
    "Stretched",
    "evaluate",
    "main",
    "stretch",
    "stretch_day",
]

MIN = 60.0
#: Seeded duration ranges of the lengthened segments, s.
SPANS: dict[str, tuple[float, float]] = {
    "sitting": (5 * MIN, 50 * MIN),
    "standing": (0.5 * MIN, 5 * MIN),
    "lying": (1 * MIN, 10 * MIN),
    "walking": (1 * MIN, 3 * MIN),
}
#: Time kept as recorded at each end of a lengthened segment, s: the still levels on
#: either side of a transition (``analysis.sitstand``) are real.
EDGE_S = 3.0
#: Shorter segments are kept as recorded (too little to repeat a middle of).
MIN_SEGMENT_S = 2 * EDGE_S + 2.0
#: Labels of the time scored: sitting found elsewhere (transitions, unlabelled) is not counted.
_SCORED = ("sitting", "standing", "lying", "walking", "stairs")
#: ``--full-day``: seeded durations of the lying segments on the sofa and of the night, s.
EVENING_LYING = (15 * MIN, 60 * MIN)
NIGHT = (6.5 * 3600, 8.5 * 3600)
#: Cross-fade between two lying segments in the night (a turn in bed), s.
TURN_S = 2.0
#: Shortest hold of one lying segment in the night, s.
_MIN_HOLD_S = 1 * MIN
#: Time left out of the posture score at each end of a labelled segment, s (``score.py``).
_SCORE_EDGE_S = 0.5
#: Truth posture of each label, for the posture score (others are not scored).
_POSTURE_OF = {
    "sitting": Posture.SITTING,
    "standing": Posture.STANDING,
    "lying": Posture.LYING,
    "walking": Posture.WALKING,
    "stairs": Posture.WALKING,
}


def stretch(
    t_s: NDArray[np.float64],
    acc_g: NDArray[np.float64],
    labels: Sequence[dict[str, Any]],
    rate_hz: float,
    rng: np.random.Generator,
) -> tuple[NDArray[np.float64], NDArray[np.str_]]:
    """Lengthen a labelled recording's segments to office durations (see the module docstring).

    Args:
        t_s: Sample times, s, shape (n,).
        acc_g: Acceleration, g, shape (n, 3).
        labels: Its ``{start_s, end_s, label}`` segments.
        rate_hz: Its sample rate.
        rng: Source of the durations.

    Returns:
        ``(acc_g, label per sample)`` of the stretched recording, sampled at ``rate_hz``;
        unlabelled samples are ``"unknown"``.

    >>> t = np.arange(1000) / 50.0
    >>> acc, lab = stretch(t, np.zeros((1000, 3)), [{"start_s": 2.0, "end_s": 14.0, "label": "sitting"}],
    ...                    50.0, np.random.default_rng(1))
    >>> bool(5 * 60 <= (lab == "sitting").sum() / 50 <= 50 * 60), len(acc) == len(lab)
    (True, True)
    """
    edge = round(EDGE_S * rate_hz)
    pieces: list[NDArray[np.float64]] = []
    names: list[NDArray[np.str_]] = []

    def keep(part: NDArray[np.float64], name: str) -> None:
        pieces.append(part)
        names.append(np.full(len(part), name))

    done = 0
    for seg in sorted(labels, key=lambda s: float(s["start_s"])):
        lo, hi = np.searchsorted(t_s, [seg["start_s"], seg["end_s"]])
        if lo > done:
            keep(acc_g[done:lo], "unknown")
        part = acc_g[lo:hi]
        name = str(seg["label"])
        if name in SPANS and hi - lo >= MIN_SEGMENT_S * rate_hz:
            part = _lengthen(part, round(rng.uniform(*SPANS[name]) * rate_hz), edge)
        keep(part, name)
        done = max(done, int(hi))
    keep(acc_g[done:], "unknown")
    return np.concatenate(pieces), np.concatenate(names)


def _lengthen(part: NDArray[np.float64], n: int, edge: int) -> NDArray[np.float64]:
    """``part`` made ``n`` samples long: its middle forwards and backwards, ``edge`` kept at each end."""
    return np.concatenate([part[:edge], _replay(part[edge : len(part) - edge], max(n - 2 * edge, 1)), part[-edge:]])


def _replay(middle: NDArray[np.float64], n: int) -> NDArray[np.float64]:
    """``n`` samples of ``middle`` played forwards and backwards in turn, shape (n, 3)."""
    return np.resize(np.concatenate([middle, middle[::-1]]), (n, 3))


def _cross_fade(before: NDArray[np.float64], after: NDArray[np.float64], n: int) -> NDArray[np.float64]:
    """``after`` with its first ``n`` samples faded in from the last sample of ``before``.

    The direction turns linearly and the magnitude follows from one end's to the other's,
    so a still 1-g reading stays 1 g through the turn.
    """
    n = min(n, len(after))
    w = np.linspace(0.0, 1.0, n)[:, None]
    start, target = before[-1], after[:n]
    mixed = (1 - w) * start + w * target
    size = (1 - w) * np.linalg.norm(start) + w * np.linalg.norm(target, axis=1, keepdims=True)
    faded = mixed / np.maximum(np.linalg.norm(mixed, axis=1, keepdims=True), 1e-9) * size
    return np.concatenate([faded, after[n:]])


def stretch_day(
    t_s: NDArray[np.float64],
    acc_g: NDArray[np.float64],
    labels: Sequence[dict[str, Any]],
    rate_hz: float,
    rng: np.random.Generator,
) -> tuple[NDArray[np.float64], NDArray[np.str_], NDArray[np.bool_]]:
    """``stretch`` with an evening on the sofa and a night in bed (the module docstring).

    Args:
        t_s: Sample times, s, shape (n,).
        acc_g: Acceleration, g, shape (n, 3).
        labels: Its ``{start_s, end_s, label}`` segments.
        rate_hz: Its sample rate.
        rng: Source of the durations.

    Returns:
        ``(acc_g, label per sample, in bed per sample)`` of the stretched recording,
        sampled at ``rate_hz``; unlabelled samples are ``"unknown"``.

    >>> t = np.arange(3000) / 50.0
    >>> lying = [{"start_s": s, "end_s": s + 15.0, "label": "lying"} for s in (2.0, 30.0)]
    >>> acc, lab, bed = stretch_day(t, np.tile([0.0, 0.0, 1.0], (3000, 1)), lying, 50.0, np.random.default_rng(1))
    >>> bool(6.5 <= bed.sum() / 50 / 3600 <= 8.5), bool(np.all(lab[bed] == "lying"))
    (True, True)
    """
    edge = round(EDGE_S * rate_hz)
    ordered = sorted(labels, key=lambda s: float(s["start_s"]))
    bounds = [tuple(np.searchsorted(t_s, [seg["start_s"], seg["end_s"]])) for seg in ordered]
    long_enough = [hi - lo >= MIN_SEGMENT_S * rate_hz for lo, hi in bounds]
    lying = [i for i, seg in enumerate(ordered) if seg["label"] == "lying" and long_enough[i]]
    pieces: list[NDArray[np.float64]] = []
    names: list[NDArray[np.str_]] = []
    beds: list[NDArray[np.bool_]] = []

    def keep(part: NDArray[np.float64], name: str, in_bed: bool = False) -> None:
        pieces.append(part)
        names.append(np.full(len(part), name))
        beds.append(np.full(len(part), in_bed))

    done = 0
    for i, seg in enumerate(ordered):
        lo, hi = bounds[i]
        if lo > done:
            keep(acc_g[done:lo], "unknown")
        part = acc_g[lo:hi]
        name = str(seg["label"])
        if lying and i == lying[-1]:
            middles = [acc_g[a + edge : b - edge] for a, b in (bounds[j] for j in lying)]
            night = _night(middles, len(lying) - 1, round(rng.uniform(*NIGHT) * rate_hz), rate_hz, rng)
            tail = _cross_fade(night, part[-edge:], round(TURN_S * rate_hz))
            keep(np.concatenate([part[:edge], night, tail]), name, in_bed=True)
            done = max(done, int(hi))
            continue
        if i in lying:
            part = _lengthen(part, round(rng.uniform(*EVENING_LYING) * rate_hz), edge)
        elif name in SPANS and long_enough[i]:
            part = _lengthen(part, round(rng.uniform(*SPANS[name]) * rate_hz), edge)
        keep(part, name)
        done = max(done, int(hi))
    keep(acc_g[done:], "unknown")
    return np.concatenate(pieces), np.concatenate(names), np.concatenate(beds)


def _night(
    middles: Sequence[NDArray[np.float64]], first: int, n: int, rate_hz: float, rng: np.random.Generator
) -> NDArray[np.float64]:
    """``n`` samples of lying: the ``middles`` in turn from ``first``, cross-faded, shape (n, 3)."""
    mean_hold = rate_hz * 3600 / SHIFTS_PER_H
    parts: list[NDArray[np.float64]] = []
    k, total = first, 0
    while total < n:
        hold = min(n - total, max(round(_MIN_HOLD_S * rate_hz), round(rng.exponential(mean_hold))))
        part = _replay(middles[k], hold)
        parts.append(_cross_fade(parts[-1], part, round(TURN_S * rate_hz)) if parts else part)
        total += hold
        k = (k + 1) % len(middles)
    return np.concatenate(parts)


@dataclass(frozen=True, slots=True)
class Stretched:
    """One stretched recording scored: its id and the day-long comparison."""

    recording: str
    dataset: str
    result: DayResult


def _runs(labels: NDArray[np.str_], rate_hz: float) -> list[tuple[float, float, bool]]:
    """``(start_s, end_s, sitting)`` of each run of equal labels."""
    cuts = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    starts, ends = np.r_[0, cuts], np.r_[cuts, len(labels)]
    return [(a / rate_hz, b / rate_hz, bool(labels[a] == "sitting")) for a, b in zip(starts, ends, strict=True)]


def evaluate(csv: Path, seed: int, *, full_day: bool = False) -> Stretched:
    """Stretch one labelled recording (seeded), analyse it at its placement and score it.

    Args:
        csv: The recording; its JSON sidecar beside it gives the labels and placement.
        seed: Seed of the durations (drawn differently for each recording).
        full_day: Give it an evening on the sofa and a night in bed (``stretch_day``),
            and score the night's alerts and the posture per frame as well.

    Returns:
        The comparison with the labels.
    """
    meta = json.loads(csv.with_suffix(".json").read_text())
    frame = pd.read_csv(csv)
    rate = float(meta["sample_rate_hz"])
    rng = np.random.default_rng([seed, 0x57E7, zlib.crc32(csv.stem.encode())])
    t_s = frame["t"].to_numpy(np.float64)
    recorded = frame[["ax", "ay", "az"]].to_numpy(np.float64)
    if full_day:
        acc, labels, in_bed = stretch_day(t_s, recorded, meta["labels"], rate, rng)
    else:
        acc, labels = stretch(t_s, recorded, meta["labels"], rate, rng)
        in_bed = np.zeros(len(labels), dtype=np.bool_)
    placement = Placement(meta["placement_id"])
    result = analyze(np.arange(len(acc)) / rate, acc, AnalysisSettings(placement))
    scored = np.isin(labels, _SCORED)
    found = np.zeros(len(labels), dtype=np.bool_)
    for bout in result.bouts:
        if bout.posture is Posture.SITTING:
            found[round((bout.start_s - result.t0_s) * rate) : round((bout.end_s - result.t0_s) * rate)] = True
    expected = alerts_due(_runs(labels, rate))
    alert_s = [a.t_s - result.t0_s for a in result.alerts]
    matched, worst = match_alerts(alert_s, expected)
    runs = _spans(labels, rate)
    day = DayResult(
        placement=placement,
        seed=seed,
        hours=len(acc) / rate / 3600,
        true_sitting_s=float((labels == "sitting").sum()) / rate,
        sitting_s=float((found & scored).sum()) / rate,
        truth_alerts=len(expected),
        matched=matched,
        false_alerts=len(result.alerts) - matched,
        worst_offset_s=worst,
        in_bed_alerts=alerts_within(alert_s, [(a, b) for a, b, name in _spans(in_bed, rate) if name]),
        posture=(
            posture_score(
                [(a, b, _POSTURE_OF.get(str(name), Posture.OTHER)) for a, b, name in runs],
                found_bouts(result),
                activity_only=placement is Placement.WRIST,
                edge_s=_SCORE_EDGE_S,
            )
            if full_day
            else None
        ),
    )
    return Stretched(str(meta["recording_id"]), str(meta["dataset"]), day)


def _spans(values: NDArray[Any], rate_hz: float) -> list[tuple[float, float, Any]]:
    """``(start_s, end_s, value)`` of each run of equal per-sample values."""
    cuts = np.flatnonzero(values[1:] != values[:-1]) + 1
    starts, ends = np.r_[0, cuts], np.r_[cuts, len(values)]
    return [(a / rate_hz, b / rate_hz, values[a]) for a, b in zip(starts, ends, strict=True)]


def _run(job: tuple[Path, int, bool]) -> Stretched:
    csv, seed, full_day = job
    return evaluate(csv, seed, full_day=full_day)


def table(results: Sequence[Stretched], *, full: bool = False) -> str:
    """A Markdown table: one row per dataset, worst case over its stretched recordings."""
    rows = []
    for dataset in sorted({r.dataset for r in results}):
        days = [r.result for r in results if r.dataset == dataset]
        rows.append([dataset, *(full_row(days) if full else summary_row(days))])
    return markdown_table(f"dataset | {FULL_HEADER if full else HEADER}", rows)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.stretched", description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", default=["uci_hapt"], help="posture datasets (default uci_hapt)")
    parser.add_argument("--seeds", type=int, default=3, help="stretches per recording (seeds 1..N)")
    parser.add_argument("--workers", type=int, default=2, help="processes")
    parser.add_argument("--verbose", action="store_true", help="one line per stretched recording")
    parser.add_argument("--full-day", action="store_true", help="with an evening on the sofa and a night in bed")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Stretch, analyse and score every recording; print the table; non-zero if any fails."""
    args = _parser().parse_args(argv)
    root = data_dir()
    files = [csv for name in args.datasets for csv in sorted((root / name).glob("*.csv"))]
    jobs = [(csv, seed, args.full_day) for seed in range(1, args.seeds + 1) for csv in files]
    if not jobs:
        print(f"no recordings of {' '.join(args.datasets)} in {root} (set SITLESS_DATA)", file=sys.stderr)
        return 2
    with ProcessPoolExecutor(max_workers=max(1, args.workers)) as pool:
        results = list(pool.map(_run, jobs))
    if args.verbose:
        for s in results:
            print(day_line(f"{s.recording:>16}", s.result))
    flags = f"--seeds {args.seeds}" + (" --full-day" if args.full_day else "")
    print(f"python -m bench.stretched {' '.join(args.datasets)} {flags}, {dt.date.today().isoformat()}")
    print(table(results, full=args.full_day))
    return 0 if all(s.result.passed for s in results) else 1


if __name__ == "__main__":
    sys.exit(main())
