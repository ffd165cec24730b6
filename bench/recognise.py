"""How well and how fast ``analysis.recognition.ExerciseRecognizer`` finds programme exercises.

``python -m bench.recognise`` prints:

- on ``mex_thigh`` (``SITLESS_DATA``, default ``../shared/data``; Wijekoon et al. 2019,
  MEx, arXiv:1908.08992): every file fed through ``Framer`` and the recogniser in 0.5-s
  chunks, scored as ``../shared/tools/score.py recognise`` scores it (a file is the first
  of knee_roll / pelvic_tilt found, else "other"; balanced accuracy over the three), the
  confusion per MEx exercise, and leave-subject-out: the two thresholds the development
  data can move (``hook_axis_deg``, ``tilt_max_deg``) chosen from a small grid on the
  other subjects, then applied to the held-out one;
- false bouts per hour on the ordinary recordings of ``uci_hapt`` (waist) and
  ``spsw_pocket_tug`` (thigh), and on simulated office days (``firmware_sim.days``,
  whose breaks include desk squats: bouts over those are not false, and are counted);
- per-exercise recall on simulated programme sessions (``firmware_sim.exercises``,
  seeds 0..``--seeds``-1) per placement: a set counts when a bout of its exercise
  overlaps it; bouts of another exercise over a set, or outside every set, are listed;
- the mean cost of one ``update`` of 5 frames over a simulated session;
- with ``--day FILE`` (a recording CSV, e.g. ``bench/out/thigh_1d_seed1.csv``, a
  simulated 24-h thigh day at 50 Hz), the recogniser's own CPU time over the whole
  file fed as ``sitless analyze`` feeds it (batches of ``--batch`` frames) and as the
  live worker does (5 frames, one 0.5-s packet, at a time), and whether both give
  the same events.

    python -m bench.recognise --seeds 3 --days 1
    python -m bench.recognise --only cost --day bench/out/thigh_1d_seed1.csv
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from analysis.events import Event
from analysis.frames import FrameBatch, Framer
from analysis.looks import RecognitionTuning
from analysis.recognition import ExerciseFound, ExerciseRecognizer
from analysis.sets import follower
from analysis.settings import Placement
from firmware_sim.days import office_day
from firmware_sim.exercises import plan, programme_session
from firmware_sim.motion import generate
from firmware_sim.scenarios import Activity, Script
from ingest.recording import read_chunks
from tests.conftest import data_dir

__all__ = ["MAPPED", "file_label", "recognise", "run_mex"]

FRAME_S = 0.1
CHUNK_S = 0.5
#: MEx exercises mapped onto programme ids, as ``score.py`` maps them (the rest: "other").
MAPPED = {"knee_rolling": "knee_roll", "pelvic_tilt": "pelvic_tilt"}
_GRID_HOOK_AXIS = (16.0, 22.0, 28.0)
_GRID_TILT_MAX = (10.0, 12.0, 14.0)


def recognise(
    placement: Placement,
    t_s: NDArray[np.float64],
    acc_g: NDArray[np.float64],
    tuning: RecognitionTuning | None = None,
    chunk_s: float = CHUNK_S,
    *,
    follow: bool = False,
) -> tuple[list[Event], list[float]]:
    """Feed samples in ``chunk_s`` chunks; return the events and the cost of each ``update`` with frames, s.

    With ``follow``, found bouts carry their repetitions and holds (``analysis.sets.follower``).
    """
    framer = Framer(FRAME_S)
    rec = ExerciseRecognizer(placement, FRAME_S, tuning, follow=follower(placement, FRAME_S) if follow else None)
    bounds = np.searchsorted(t_s, np.arange(t_s[0], t_s[-1] + chunk_s, chunk_s))
    events: list[Event] = []
    costs: list[float] = []
    for a, b in itertools.pairwise([*bounds.tolist(), t_s.size]):
        k, stats = framer.update(t_s[a:b], acc_g[a:b])
        if stats.shape[0] == 0:
            continue
        start = time.perf_counter()
        events += rec.update(FrameBatch(float(t_s[0]), FRAME_S, k, stats))
        costs.append(time.perf_counter() - start)
    k, stats = framer.flush()
    events += rec.flush(FrameBatch(float(t_s[0]), FRAME_S, k, stats))
    return events, costs


def file_label(events: list[Event]) -> str:
    """The file's class as ``score.py`` reads it: the first of knee_roll / pelvic_tilt found, else "other"."""
    found = {e.exercise for e in events if isinstance(e, ExerciseFound)}
    return next((x for x in MAPPED.values() if x in found), "other")


def _load(folder: Path) -> list[tuple[dict[str, Any], NDArray[np.float64], NDArray[np.float64]]]:
    out = []
    for meta_path in sorted(folder.glob("*.json")):
        if meta_path.name == "manifest.json":
            continue
        data = np.loadtxt(meta_path.with_suffix(".csv"), delimiter=",", skiprows=1, ndmin=2)
        out.append((json.loads(meta_path.read_text()), data[:, 0].copy(), data[:, 1:4].copy()))
    return out


def _balanced(pairs: list[tuple[str, str]]) -> float:
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for truth, got in pairs:
        per[truth][0] += truth == got
        per[truth][1] += 1
    return sum(h / n for h, n in per.values()) / len(per)


def run_mex(root: Path) -> None:
    """Print MEx balanced accuracy, its confusion and the leave-subject-out figure."""
    files = _load(root / "mex_thigh")
    grid = list(itertools.product(_GRID_HOOK_AXIS, _GRID_TILT_MAX))
    got: dict[tuple[float, float], list[str]] = {}
    for hook_axis, tilt_max in grid:
        tuning = replace(RecognitionTuning(), hook_axis_deg=hook_axis, tilt_max_deg=tilt_max)
        got[(hook_axis, tilt_max)] = [file_label(recognise(Placement.THIGH, t, a, tuning)[0]) for _, t, a in files]
    truth = [MAPPED.get(m["labels"][0]["exercise"], "other") for m, _, _ in files]
    default = (RecognitionTuning().hook_axis_deg, RecognitionTuning().tilt_max_deg)
    labels = got[default]
    score = _balanced(list(zip(truth, labels, strict=True)))
    print(f"mex_thigh dev, {len(files)} files, defaults: balanced accuracy {score:.3f}")
    confusion: dict[str, Counter[str]] = defaultdict(Counter)
    for (meta, _, _), label in zip(files, labels, strict=True):
        confusion[meta["labels"][0]["exercise"]][label] += 1
    print(f"  {'MEx exercise':20s} {'knee_roll':>10s} {'pelvic_tilt':>12s} {'other':>6s}")
    for exercise, row in sorted(confusion.items()):
        print(f"  {exercise:20s} {row['knee_roll']:10d} {row['pelvic_tilt']:12d} {row['other']:6d}")
    scores = {g: round(_balanced(list(zip(truth, got[g], strict=True))), 3) for g in grid}
    print(f"  balanced accuracy over the grid (hook_axis_deg, tilt_max_deg): {scores}")
    subjects = sorted({m["subject"] for m, _, _ in files})
    pairs: list[tuple[str, str]] = []
    chosen: Counter[tuple[float, float]] = Counter()
    for subject in subjects:
        train = [i for i, (m, _, _) in enumerate(files) if m["subject"] != subject]
        test = [i for i, (m, _, _) in enumerate(files) if m["subject"] == subject]
        # Best on the other subjects; ties go to the defaults, then to the grid order.
        best = max(grid, key=lambda g: (_balanced([(truth[i], got[g][i]) for i in train]), g == default))
        chosen[best] += 1
        pairs += [(truth[i], got[best][i]) for i in test]
    print(f"  leave-subject-out ({len(subjects)} folds): balanced accuracy {_balanced(pairs):.3f}")
    print(f"  thresholds chosen (hook_axis_deg, tilt_max_deg): {dict(chosen)}")


def _false_bouts(
    name: str,
    placement: Placement,
    recs: list[tuple[NDArray[np.float64], NDArray[np.float64]]],
    allowed: list[list[tuple[float, float]]] | None = None,
) -> None:
    """Print the bouts found per hour; those over an ``allowed`` span (a real squat break) are not false."""
    bouts: Counter[str] = Counter()
    true = 0
    hours = 0.0
    for i, (t, a) in enumerate(recs):
        events, _ = recognise(placement, t, a)
        spans = allowed[i] if allowed else []
        for e in events:
            if isinstance(e, ExerciseFound):
                if any(e.start_s < end and e.end_s > start for start, end in spans):
                    true += 1
                else:
                    bouts[e.exercise] += 1
        hours += float(t[-1] - t[0]) / 3600.0
    total = sum(bouts.values())
    extra = f", besides {true} over its squat breaks" if allowed else ""
    print(
        f"{name} ({placement}, {hours:.2f} h): {total} false bouts, {total / hours:.2f} per hour {dict(bouts)}{extra}"
    )


def _squat_breaks(script: Script) -> list[tuple[float, float]]:
    spans, t0 = [], 0.0
    for step in script.steps:
        if step.activity in (Activity.SQUAT, Activity.STRETCH, Activity.EXERCISE):
            spans.append((t0, t0 + step.duration_s))
        t0 += step.duration_s
    return spans


def _sessions(placement: Placement, seeds: int) -> list[float]:
    hits: Counter[str] = Counter()
    sets: Counter[str] = Counter()
    wrong: Counter[str] = Counter()
    costs: list[float] = []
    counted: defaultdict[str, list[tuple[int, int]]] = defaultdict(list)  # (counted, true) of found sets
    for seed in range(seeds):
        script = programme_session(seed)
        rec = generate(script, placement, seed=seed)
        costs += recognise(placement, rec.t_s, rec.acc_g)[1]  # the recogniser alone
        events = recognise(placement, rec.t_s, rec.acc_g, follow=True)[0]
        found = [e for e in events if isinstance(e, ExerciseFound)]
        spans = []
        t0 = 0.0
        for step in script.steps:
            if step.exercise is not None and str(step.exercise.exercise) != "walk":
                spans.append((str(step.exercise.exercise), t0, t0 + step.duration_s, len(plan(step.exercise).reps)))
            t0 += step.duration_s
        for exercise, start, end, true_reps in spans:
            sets[exercise] += 1
            over = [e for e in found if e.start_s < end and e.end_s > start]
            hits[exercise] += any(e.exercise == exercise for e in over)
            wrong.update(f"{exercise}->{e.exercise}" for e in over if e.exercise != exercise)
            if mine := [e for e in over if e.exercise == exercise]:
                counted[exercise].append((sum(e.reps for e in mine), true_reps))
    print(f"simulated programme sessions, {placement}, {seeds} seeds: recall per exercise, and the")
    print("  repetitions counted in the sets found (counted/true, summed; within +-1: sets)")
    for exercise in sets:
        pairs = counted[exercise]
        got, true = sum(p[0] for p in pairs), sum(p[1] for p in pairs)
        close = sum(abs(p[0] - p[1]) <= 1 for p in pairs)
        reps = f"reps {got}/{true}, within +-1: {close}/{len(pairs)}" if pairs else ""
        print(f"  {exercise:16s} {hits[exercise]}/{sets[exercise]}  {reps}")
    print(f"  other bouts over a set: {dict(wrong)}")
    return costs


def day_frames(path: Path) -> FrameBatch:
    """All 0.1-s frames of a recording CSV, built chunk by chunk as ``sitless analyze`` builds them."""
    framer = Framer(FRAME_S)
    parts = []
    for t_s, acc_g, _ in read_chunks(path):
        if t_s.size:
            parts.append(framer.update(t_s, acc_g)[1])
    parts.append(framer.flush()[1])
    assert framer.t0_s is not None
    return FrameBatch(framer.t0_s, FRAME_S, 0, np.concatenate(parts))


def feed(frames: FrameBatch, size: int, placement: Placement = Placement.THIGH) -> tuple[list[Event], list[float]]:
    """Feed ``frames`` to a fresh recogniser ``size`` frames at a time; return the events and CPU s per call."""
    rec = ExerciseRecognizer(placement, frames.frame_s)
    events: list[Event] = []
    costs: list[float] = []
    for a in range(0, frames.m, size):
        part = FrameBatch(frames.t0_s, frames.frame_s, frames.k_first + a, frames.stats[a : a + size])
        start = time.process_time()
        events += rec.update(part) if a + size < frames.m else rec.flush(part)
        costs.append(time.process_time() - start)
    return events, costs


def run_cost(path: Path, batch: int) -> None:
    """Print the recogniser's CPU time over a recording in batches and in 5-frame packets."""
    frames = day_frames(path)
    hours = frames.m * FRAME_S / 3600
    batch_events, batch_costs = feed(frames, batch)
    live_events, live_costs = feed(frames, 5)
    print(f"{path.name}: {frames.m} frames ({hours:.1f} h), {len(batch_events)} events")
    print(f"  batches of {batch} frames: {sum(batch_costs):.2f} s CPU")
    live = np.asarray(live_costs)
    print(
        f"  updates of 5 frames: {live.sum():.2f} s CPU, mean {live.mean() * 1e6:.1f} us per update ({live.size} calls)"
    )
    print(f"  same events in batches and in packets: {batch_events == live_events}")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3, help="simulated programme sessions per placement")
    parser.add_argument("--days", type=int, default=1, help="simulated office days per placement")
    parser.add_argument("--only", choices=("all", "cost"), default="all", help="cost: only the --day CPU time")
    parser.add_argument("--day", type=Path, help="recording CSV whose recognition cost to measure")
    parser.add_argument("--batch", type=int, default=10_000, help="frames per batch for --day")
    args = parser.parse_args(argv)
    if args.day is not None:
        run_cost(args.day, args.batch)
    if args.only == "cost":
        return 0
    root = data_dir()
    if (root / "mex_thigh").is_dir():
        run_mex(root)
        for name, placement in (("uci_hapt", Placement.WAIST), ("spsw_pocket_tug", Placement.THIGH)):
            _false_bouts(name, placement, [(t, a) for _, t, a in _load(root / name)])
    else:
        print(f"no recordings at {root}: set SITLESS_DATA", file=sys.stderr)
    for placement in (Placement.THIGH, Placement.LOWER_BACK):
        scripts = [office_day(seed) for seed in range(args.days)]
        days = [generate(script, placement, seed=seed, rate_hz=25.0) for seed, script in enumerate(scripts)]
        breaks = [_squat_breaks(script) for script in scripts]
        _false_bouts("simulated office days", placement, [(r.t_s, r.acc_g) for r in days], breaks)
    costs: list[float] = []
    for placement in (Placement.THIGH, Placement.LOWER_BACK):
        costs += _sessions(placement, args.seeds)
    cost = np.asarray(costs)
    print(
        f"update cost (5 frames, {cost.size} calls): mean {cost.mean() * 1e6:.0f} us, "
        f"95th percentile {np.percentile(cost, 95) * 1e6:.0f} us, max {cost.max() * 1e6:.0f} us"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
