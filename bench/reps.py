"""How well and how fast ``analysis.reps.RepCounter`` counts repetitions.

``python -m bench.reps`` prints:

- on the real sets of ``spar_wrist`` (``SITLESS_DATA``, default ``../shared/data``; Burns
  et al. 2018, Physiol Meas 39(7):075007, doi:10.1088/1361-6579/aacfd9): every file fed
  through ``Framer`` and ``RepCounter("any", Placement.WRIST, 0.1)`` in 0.5-s chunks; the
  number of sets, the share counted within ±1 of the protocol's 20, the mean absolute
  error and the bias, the same per subject (the file names' ``pNN``), and with
  ``--misses`` every set off by more than one;
- on the still postures of ``uci_hapt`` (waist; Reyes-Ortiz et al. 2016,
  Neurocomputing 171:754-767): the reps each counter
  finds in the labelled sitting, standing and lying segments, which should be none;
- on simulated sets (``firmware_sim.exercises``, seeds 0..``--seeds``-1, the default
  tempo, range, pause and partial-rep jitter): per exercise and placement, the share of
  sets counted exactly (a partial repetition, at 40% of the depth, is not a repetition);
- on 15 simulated squats back to back (``Activity.SQUAT``, no pause at the top; seeds
  0..``--seeds``-1, 60-100% of the simulator's depth), per placement and repetition time
  (1.2, 2 and 3 s): the share counted within ±1 and exactly;
- the cost of one ``update`` of 5 frames (0.5 s) over a simulated set of 20 squats
  (thigh, and ``any`` on the wrist): mean, median and largest over the updates, each the
  median of 7 runs.

    python -m bench.reps --seeds 20 --misses
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from analysis.frames import FrameBatch, Framer
from analysis.reps import ANY, SUPPORTED, RepCounted, RepCounter
from analysis.settings import Placement
from firmware_sim.exercises import ExerciseId, ExerciseSet, exercise_step, exercise_truth
from firmware_sim.motion import Session, generate
from firmware_sim.params import MotionParams
from firmware_sim.scenarios import Activity, Script, Step
from tests.conftest import data_dir

__all__ = ["continuous_squats", "count_reps", "main", "simulated_set", "update_cost_s"]

FRAME_S = 0.1
CHUNK_S = 0.5


def count_reps(
    counter: RepCounter, t_s: NDArray[np.float64], acc_g: NDArray[np.float64], chunk_s: float = CHUNK_S
) -> int:
    """Feed samples through ``Framer`` and the counter in ``chunk_s`` chunks; return the reps counted.

    Args:
        counter: A fresh counter.
        t_s: Sample times, s, shape (n,).
        acc_g: Accelerations, g, shape (n, 3).
        chunk_s: Chunk length, s.

    Returns:
        The number of ``RepCounted`` events.
    """
    framer = Framer(FRAME_S)
    bounds = np.searchsorted(t_s, np.arange(t_s[0], t_s[-1] + chunk_s, chunk_s))
    reps = 0
    for a, b in itertools.pairwise([*bounds.tolist(), t_s.size]):
        k, stats = framer.update(t_s[a:b], acc_g[a:b])
        events = counter.update(FrameBatch(float(t_s[0]), FRAME_S, k, stats))
        reps += sum(isinstance(e, RepCounted) for e in events)
    k, stats = framer.flush()
    events = counter.flush(FrameBatch(float(t_s[0]), FRAME_S, k, stats))
    return reps + sum(isinstance(e, RepCounted) for e in events)


def update_cost_s(exercise: str, placement: Placement, frames: FrameBatch, repeat: int = 7) -> NDArray[np.float64]:
    """Time of each 5-frame ``update`` over a stream of frames, s: the median of ``repeat`` runs, shape (updates,)."""
    runs = []
    for _ in range(repeat):
        counter = RepCounter(exercise, placement, FRAME_S)
        times = []
        for a in range(0, frames.m, 5):
            part = FrameBatch(frames.t0_s, FRAME_S, frames.k_first + a, frames.stats[a : a + 5])
            start = time.perf_counter()
            counter.update(part)
            times.append(time.perf_counter() - start)
        runs.append(times)
    cost: NDArray[np.float64] = np.median(np.array(runs), axis=0)
    return cost


def simulated_set(
    exercise: str, placement: Placement, seed: int, reps: int = 6
) -> tuple[NDArray[np.float64], NDArray[np.float64], int]:
    """One simulated set at the default tempo, range and pause jitter, its 4th repetition partial.

    Args:
        exercise: The exercise performed (an ``ExerciseId``).
        placement: Where the sensor is worn.
        seed: Seed of the set and of the recording.
        reps: Repetitions (per side for knee rolls).

    Returns:
        ``(t_s, acc_g, reps)``: samples (shapes (n,) and (n, 3)) and the full (not
        partial) repetitions.
    """
    options: dict[str, Any] = {"reps": reps, "partial": (3,), "seed": seed}
    if exercise in ("knee_roll", "knee_hug", "pelvic_tilt"):
        options["hold_s"] = (2.0, 5.0)
    script = Script("set", (exercise_step(ExerciseSet(ExerciseId(exercise), **options)),))
    rec = generate(script, placement, seed=seed + 100)
    full = sum(not r.partial for r in exercise_truth(script))
    return rec.t_s, rec.acc_g, full


def continuous_squats(
    placement: Placement, seed: int, *, rep_s: float = 2.0, depth: float = 1.0, reps: int = 15, lead_s: float = 20.0
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Standing, ``reps`` squats back to back (``Activity.SQUAT``: no pause at the top), standing.

    The squat step starts and ends at the top of a repetition (its phase is drawn from
    the seed; the durations change no draw), so exactly ``reps`` are done.

    Args:
        placement: Where the sensor is worn.
        seed: Seed of the recording.
        rep_s: Nominal repetition time, s (each set draws ±10% of it).
        depth: Depth as a fraction of the simulator's (thigh 75°, pelvis 35°).
        reps: Repetitions.
        lead_s: About how long the wearer stands first, s.

    Returns:
        ``(t_s, acc_g)``: the samples, shapes (n,) and (n, 3).
    """
    base = MotionParams()
    params = dataclasses.replace(
        base,
        squat_rep_s=rep_s,
        squat_thigh_deg=depth * base.squat_thigh_deg,
        squat_trunk_deg=depth * base.squat_trunk_deg,
    )

    def script(stand_s: float, squat_s: float) -> Script:
        return Script(
            "squats", (Step(Activity.STANDING, stand_s), Step(Activity.SQUAT, squat_s), Step(Activity.STANDING, 20.0))
        )

    draw = Session.draw(script(lead_s, 1.0), seed, params).draws[1]
    # Squat depth is 0.5·(1 - cos(2π·t/rep_s + phase)): at the top where the angle is 2πk.
    k = math.ceil((2 * math.pi * lead_s / draw.rep_s + draw.phases[0]) / (2 * math.pi))
    stand_s = (2 * math.pi * k - draw.phases[0]) * draw.rep_s / (2 * math.pi)
    rec = generate(script(stand_s, reps * draw.rep_s), placement, seed=seed, params=params)
    return rec.t_s, rec.acc_g


def _summary(errors: list[int]) -> str:
    e = np.asarray(errors, dtype=np.float64)
    return (
        f"{e.size} sets, within ±1 {np.mean(np.abs(e) <= 1):.0%}, MAE {np.mean(np.abs(e)):.2f}, "
        f"bias {np.mean(e):+.2f}, exact {np.mean(e == 0):.0%}"
    )


def _spar(root: Path, misses: bool) -> None:
    errors: dict[str, int] = {}
    for csv in sorted((root / "spar_wrist").glob("*.csv")):
        truth = json.loads(csv.with_suffix(".json").read_text())["labels"][0]["reps"]
        data = np.loadtxt(csv, delimiter=",", skiprows=1, ndmin=2)
        got = count_reps(RepCounter(ANY, Placement.WRIST, FRAME_S), data[:, 0], data[:, 1:4])
        errors[csv.stem] = got - int(truth)
        if misses and abs(got - int(truth)) > 1:
            print(f"  miss: {csv.stem} counted {got}, labelled {truth}, {data[-1, 0] - data[0, 0]:.1f} s")
    print(f"spar_wrist (any, wrist): {_summary(list(errors.values()))}")
    for subject in sorted({name.split("_")[0] for name in errors}):
        print(f"  {subject}: {_summary([e for name, e in errors.items() if name.startswith(subject + '_')])}")


def _still(root: Path) -> None:
    """Reps counted in the sitting, standing and lying segments of uci_hapt (waist): should be none."""
    counters = (ANY, "pelvic_tilt", "crunch", "knee_hug", "knee_roll", "squat")
    found = {(c, label): 0 for c in counters for label in ("sitting", "standing", "lying")}
    segments = dict.fromkeys(("sitting", "standing", "lying"), 0)
    for csv in sorted((root / "uci_hapt").glob("*.csv")):
        data = np.loadtxt(csv, delimiter=",", skiprows=1, ndmin=2)
        for seg in json.loads(csv.with_suffix(".json").read_text())["labels"]:
            if seg["label"] not in segments:
                continue
            inside = (data[:, 0] >= seg["start_s"]) & (data[:, 0] < seg["end_s"])
            segments[seg["label"]] += 1
            for c in counters:
                counter = RepCounter(c, Placement.WAIST, FRAME_S)
                found[c, seg["label"]] += count_reps(counter, data[inside, 0], data[inside, 1:4])
    for label, n in segments.items():
        per = ", ".join(f"{c} {found[c, label]}" for c in counters)
        print(f"uci_hapt {label} (waist), {n} segments: reps counted: {per}")


# What is counted, from where, and which simulated exercise is performed: every supported
# combination (waist is the lower back's pelvis again), and ``any`` on the watch.
_COMBOS: tuple[tuple[str, Placement, str], ...] = (
    *((e, p, e) for e, p in sorted(SUPPORTED) if p is not Placement.WAIST),
    (ANY, Placement.WRIST, "squat"),
    (ANY, Placement.WRIST, "crunch"),
)


def _simulated(seeds: int) -> None:
    for exercise, placement, performed in _COMBOS:
        errors = []
        for seed in range(seeds):
            t_s, acc_g, truth = simulated_set(performed, placement, seed)
            errors.append(count_reps(RepCounter(exercise, placement, FRAME_S), t_s, acc_g) - truth)
        e = np.asarray(errors, dtype=np.float64)
        label = exercise if performed == exercise else f"{performed} as {exercise}"
        print(
            f"simulated {label:>16} on {placement:<10}: {e.size} sets, exact {np.mean(e == 0):.0%}, "
            f"bias {np.mean(e):+.2f}"
        )


def _continuous(seeds: int) -> None:
    """15 squats back to back (no pause at the top), per placement and tempo: counted within ±1 and exactly."""
    for placement in (Placement.LOWER_BACK, Placement.WAIST, Placement.THIGH):
        for rep_s in (1.2, 2.0, 3.0):
            errors = []
            for seed in range(seeds):
                depth = 0.6 + 0.4 * (seed % 3) / 2  # 60%, 80% and 100% of the simulator's depth
                t_s, acc_g = continuous_squats(placement, seed, rep_s=rep_s, depth=depth)
                errors.append(count_reps(RepCounter("squat", placement, FRAME_S), t_s, acc_g) - 15)
            e = np.asarray(errors, dtype=np.float64)
            print(
                f"simulated squats back to back, {rep_s:.1f} s, on {placement:<10}: {e.size} sets, "
                f"within ±1 {np.mean(np.abs(e) <= 1):.0%}, exact {np.mean(e == 0):.0%}, bias {np.mean(e):+.2f}"
            )


def _cost() -> None:
    for exercise, placement, performed in (("squat", Placement.THIGH, "squat"), (ANY, Placement.WRIST, "squat")):
        t_s, acc_g, _ = simulated_set(performed, placement, 0, reps=20)
        framer = Framer(FRAME_S)
        k, stats = framer.update(t_s, acc_g)
        cost = update_cost_s(exercise, placement, FrameBatch(float(t_s[0]), FRAME_S, k, stats)) * 1e6
        print(
            f"update of 5 frames, {exercise} on {placement}: mean {cost.mean():.0f} µs, "
            f"median {np.median(cost):.0f} µs, max {cost.max():.0f} µs (median of 7 runs per update)"
        )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seeds", type=int, default=20, help="simulated sets per exercise and placement")
    parser.add_argument("--misses", action="store_true", help="list the spar_wrist sets off by more than one")
    args = parser.parse_args(argv)
    root = data_dir()
    for name, bench in (("spar_wrist", lambda r: _spar(r, args.misses)), ("uci_hapt", _still)):
        if (root / name).is_dir():
            bench(root)
        else:
            print(f"no {name} recordings in {root} (set SITLESS_DATA)", file=sys.stderr)
    _simulated(args.seeds)
    _continuous(args.seeds)
    _cost()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
