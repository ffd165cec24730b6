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
from bench.days import HEADER, DayResult, alerts_due, match_alerts, summary_row
from bench.report import markdown_table
from tests.conftest import data_dir

__all__ = ["EDGE_S", "MIN_SEGMENT_S", "SPANS", "Stretched", "evaluate", "main", "stretch"]

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
            n = round(rng.uniform(*SPANS[name]) * rate_hz)
            middle = part[edge : len(part) - edge]
            there_and_back = np.concatenate([middle, middle[::-1]])
            body = np.resize(there_and_back, (max(n - 2 * edge, 1), 3))
            part = np.concatenate([part[:edge], body, part[len(part) - edge :]])
        keep(part, name)
        done = max(done, int(hi))
    keep(acc_g[done:], "unknown")
    return np.concatenate(pieces), np.concatenate(names)


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


def evaluate(csv: Path, seed: int) -> Stretched:
    """Stretch one labelled recording (seeded), analyse it at its placement and score it.

    Args:
        csv: The recording; its JSON sidecar beside it gives the labels and placement.
        seed: Seed of the durations (drawn differently for each recording).

    Returns:
        The comparison with the labels.
    """
    meta = json.loads(csv.with_suffix(".json").read_text())
    frame = pd.read_csv(csv)
    rate = float(meta["sample_rate_hz"])
    acc, labels = stretch(
        frame["t"].to_numpy(np.float64),
        frame[["ax", "ay", "az"]].to_numpy(np.float64),
        meta["labels"],
        rate,
        np.random.default_rng([seed, 0x57E7, zlib.crc32(csv.stem.encode())]),
    )
    placement = Placement(meta["placement_id"])
    result = analyze(np.arange(len(acc)) / rate, acc, AnalysisSettings(placement))
    scored = np.isin(labels, _SCORED)
    found = np.zeros(len(labels), dtype=np.bool_)
    for bout in result.bouts:
        if bout.posture is Posture.SITTING:
            found[round((bout.start_s - result.t0_s) * rate) : round((bout.end_s - result.t0_s) * rate)] = True
    expected = alerts_due(_runs(labels, rate))
    matched, worst = match_alerts([a.t_s - result.t0_s for a in result.alerts], expected)
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
    )
    return Stretched(str(meta["recording_id"]), str(meta["dataset"]), day)


def _run(job: tuple[Path, int]) -> Stretched:
    return evaluate(*job)


def table(results: Sequence[Stretched]) -> str:
    """A Markdown table: one row per dataset, worst case over its stretched recordings."""
    rows = []
    for dataset in sorted({r.dataset for r in results}):
        days = [r.result for r in results if r.dataset == dataset]
        rows.append([dataset, *summary_row(days)])
    return markdown_table(f"dataset | {HEADER}", rows)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.stretched", description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", default=["uci_hapt"], help="posture datasets (default uci_hapt)")
    parser.add_argument("--seeds", type=int, default=3, help="stretches per recording (seeds 1..N)")
    parser.add_argument("--workers", type=int, default=2, help="processes")
    parser.add_argument("--verbose", action="store_true", help="one line per stretched recording")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Stretch, analyse and score every recording; print the table; non-zero if any fails."""
    args = _parser().parse_args(argv)
    root = data_dir()
    files = [csv for name in args.datasets for csv in sorted((root / name).glob("*.csv"))]
    jobs = [(csv, seed) for seed in range(1, args.seeds + 1) for csv in files]
    if not jobs:
        print(f"no recordings of {' '.join(args.datasets)} in {root} (set SITLESS_DATA)", file=sys.stderr)
        return 2
    with ProcessPoolExecutor(max_workers=max(1, args.workers)) as pool:
        results = list(pool.map(_run, jobs))
    if args.verbose:
        for s in results:
            r = s.result
            print(
                f"{s.recording:>16} seed {r.seed} {r.hours:.1f} h sitting {100 * r.sitting_error:+6.2f}% "
                f"alerts {r.matched}/{r.truth_alerts} false {r.false_alerts} worst {r.worst_offset_s:5.0f} s"
                f"{'' if r.passed else '  FAIL'}"
            )
    print(f"python -m bench.stretched {' '.join(args.datasets)} --seeds {args.seeds}, {dt.date.today().isoformat()}")
    print(table(results))
    return 0 if all(s.result.passed for s in results) else 1


if __name__ == "__main__":
    sys.exit(main())
