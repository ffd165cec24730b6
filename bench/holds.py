"""The hold timer (``analysis.holds``) on simulated sets and on the MEx floor exercises.

``python -m bench.holds`` prints

1. per supported exercise and placement, over simulated sets (``firmware_sim``, seeds
   1..``--seeds``, every programme exercise with a hold at its dose, one rep in four
   broken early and one in four bouncing, a 20-s rest in the starting position before
   the set and after it): the share of sets whose hold count is exact, the median and
   worst error of the hold ends and durations, and the recall and false rate of the
   broken and bounce flags;
2. on ``mex_thigh`` (``SITLESS_DATA``, default ``../shared/data``): the holds found per
   recording of bridging and pelvic tilt (~5-s holds each repetition), superman, knee
   rolling and the still rest before each file's first movement, with thresholds fitted
   to the thigh's range seen there (plausibility only: MEx has no hold labels);
3. the cost of one ``update`` of 5 frames (0.5 s), averaged over a long set.

    python -m bench.holds --seeds 20
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from analysis.events import Event
from analysis.frames import FrameBatch, Framer
from analysis.holds import RULES, HoldEnded, HoldRule, HoldTimer
from analysis.settings import Placement
from firmware_sim.exercises import ExerciseId, ExerciseSet, Rep, exercise_step, exercise_truth
from firmware_sim.motion import generate
from firmware_sim.poses import REST_ACTIVITY, SPECS
from firmware_sim.scenarios import Script, Step
from tests.conftest import data_dir

__all__ = ["batches", "frame_batches", "holds_of", "run", "simulate"]

FRAME_S = 0.1
REST_S = 20.0
SETTLE_S = 10.0  # still in the starting position before the first rep and after the last
#: Exercises with a hold in their dose, as the simulator names them.
HELD = (
    ExerciseId.KNEE_ROLL,
    ExerciseId.KNEE_HUG,
    ExerciseId.BACK_STABILISER,
    ExerciseId.PELVIC_TILT,
    ExerciseId.DEEP_STOMACH,
    ExerciseId.PLANK,
)


def frame_batches(t_s: NDArray[np.float64], acc_g: NDArray[np.float64], cuts: Sequence[int] = ()) -> list[FrameBatch]:
    """The closed frames of a recording, fed to a framer in chunks split at sample indices ``cuts``.

    Args:
        t_s: Sample times, s, shape (n,).
        acc_g: Accelerations, g, shape (n, 3).
        cuts: Sample indices where a new chunk starts.

    Returns:
        One batch per chunk, then the flushed frame (maybe empty).
    """
    framer = Framer(FRAME_S)
    out = []
    bounds = [0, *sorted(min(c, t_s.size) for c in cuts), t_s.size]
    for a, b in itertools.pairwise(bounds):
        k, stats = framer.update(t_s[a:b], acc_g[a:b])
        out.append(FrameBatch(framer.t0_s or 0.0, FRAME_S, k, stats))
    k, stats = framer.flush()
    out.append(FrameBatch(framer.t0_s or 0.0, FRAME_S, k, stats))
    return out


def batches(frames: FrameBatch, size: int) -> list[FrameBatch]:
    """One batch cut into batches of ``size`` frames."""
    return [
        FrameBatch(frames.t0_s, frames.frame_s, frames.k_first + i, frames.stats[i : i + size])
        for i in range(0, frames.m, size)
    ]


def run(timer: HoldTimer, parts: Iterable[FrameBatch]) -> list[Event]:
    """Feed the batches to the timer (the last one to ``flush``); return every event."""
    parts = list(parts)
    events: list[Event] = []
    for part in parts[:-1]:
        events += timer.update(part)
    events += timer.flush(parts[-1])
    return events


def simulate(
    exercise_set: ExerciseSet, placement: Placement, seed: int, rest_s: float = REST_S
) -> tuple[NDArray[np.float64], NDArray[np.float64], tuple[Rep, ...]]:
    """A set, after a rest in the position the programme rests in before it, as samples and its repetitions.

    Getting from the rest into the set's starting position is a change of position the
    timer must not take for a hold (``rest_s`` 0: no rest, the timer starts in the
    starting position); the set's own ``settle_s`` is the still time in its starting
    position before the first repetition and after the last.

    Returns:
        ``(t_s, acc_g, reps)``: sample times (n,), accelerations in g (n, 3) and the true
        repetitions, times from the first sample.
    """
    steps = [exercise_step(exercise_set)]
    if rest_s > 0:
        steps.insert(0, Step(REST_ACTIVITY[SPECS[exercise_set.exercise].position], rest_s))
    script = Script("hold_set", tuple(steps))
    rec = generate(script, placement, seed=seed)
    return rec.t_s, rec.acc_g, exercise_truth(script)


def bench_set(exercise: str, seed: int) -> ExerciseSet:
    """The programme dose (a plank: 6 holds), rep 2 broken early and rep 4 bouncing (both left-side reps)."""
    reps = 6 if exercise == "plank" else None
    return ExerciseSet(ExerciseId(exercise), reps=reps, seed=seed, broken=(2,), bounce=(4,), settle_s=SETTLE_S)


def holds_of(events: Iterable[Event]) -> list[HoldEnded]:
    """The closed holds among the events."""
    return [e for e in events if isinstance(e, HoldEnded)]


def expected(reps: Iterable[Rep], exercise: str, placement: Placement) -> list[Rep]:
    """The repetitions whose hold the placement can time (a back stabiliser's wrist or thigh: its own limb's side)."""
    reps = [r for r in reps if r.hold_end_s > r.hold_start_s]
    if exercise == "back_stabiliser" and placement in (Placement.THIGH, Placement.WRIST):
        reps = [r for r in reps if str(r.side) == "left"]  # the simulator's left-side reps move its limbs
    return reps


@dataclass
class Score:
    """Scores of one exercise at one placement over several sets."""

    sets: int = 0
    exact: int = 0
    ends_s: list[float] = field(default_factory=list)
    durations_s: list[float] = field(default_factory=list)
    broken_true: int = 0
    broken_hit: int = 0
    broken_false: int = 0
    bounce_true: int = 0
    bounce_hit: int = 0
    bounce_false: int = 0
    sides_ok: int = 0
    matched: int = 0


def score_set(score: Score, found: list[HoldEnded], truth: list[Rep]) -> None:
    """Add one set: holds matched in order when the counts agree."""
    score.sets += 1
    if len(found) != len(truth):
        return
    score.exact += 1
    for hold, rep in zip(found, truth, strict=True):
        score.matched += 1
        score.ends_s += [hold.start_s - rep.hold_start_s, hold.end_s - rep.hold_end_s]
        score.durations_s.append(hold.duration_s - rep.hold_s)
        score.sides_ok += (hold.side is None and rep.side is None) or hold.side == str(rep.side)
        score.broken_true += rep.broken
        score.broken_hit += rep.broken and hold.broken
        score.broken_false += (not rep.broken) and hold.broken
        score.bounce_true += rep.bounce
        score.bounce_hit += rep.bounce and hold.bounces > 0
        score.bounce_false += (not rep.bounce) and hold.bounces > 0


def _sim_table(seeds: int) -> None:
    print(
        "simulated sets: exercise placement | exact count (in position / after the rest before)"
        " | ends |error| median / max s | durations error median / max |error| s | sides | broken | bounce"
    )
    for (exercise, placement), _rule in RULES.items():
        if placement is Placement.WAIST:
            continue
        score = Score()
        setup_ok = 0
        for seed in range(1, seeds + 1):
            ex = bench_set(exercise, seed)
            t, acc, reps = simulate(ex, placement, seed, rest_s=0.0)
            found = holds_of(run(HoldTimer(exercise, placement, FRAME_S), frame_batches(t, acc)))
            score_set(score, found, expected(reps, exercise, placement))
            t, acc, reps = simulate(ex, placement, seed)
            found = holds_of(run(HoldTimer(exercise, placement, FRAME_S), frame_batches(t, acc)))
            setup_ok += len(found) == len(expected(reps, exercise, placement))
        ends = np.abs(np.asarray(score.ends_s or [0.0]))
        durations = np.asarray(score.durations_s or [0.0])
        fp_broken = score.matched - score.broken_true
        fp_bounce = score.matched - score.bounce_true
        print(
            f"{exercise:16s} {placement!s:11s} | {score.exact}/{score.sets} / {setup_ok}/{score.sets} | "
            f"{np.median(ends):.2f} / {ends.max():.2f} | {np.median(durations):+.2f} / {np.abs(durations).max():.2f} | "
            f"{score.sides_ok}/{score.matched} | "
            f"{score.broken_hit}/{score.broken_true} hit, {score.broken_false}/{fp_broken} false | "
            f"{score.bounce_hit}/{score.bounce_true} hit, {score.bounce_false}/{fp_bounce} false"
        )


#: MEx exercises timed on the thigh, with the rule fitted to the thigh's range seen there
#: (the median hold angle of bridging ~20°, pelvic tilt ~10°, superman ~70°) and the
#: programme exercise whose dose gives the target (pelvic tilt: 3 s).
MEX_RULES = {
    "ex02": ("bridging", HoldRule(20.0)),
    "ex03": ("pelvic_tilt", HoldRule(10.0)),
    "ex07": ("superman", HoldRule(60.0)),
    "ex01": ("knee_rolling", RULES[("knee_roll", Placement.THIGH)]),
}


def _read_csv(path: Path) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    raw = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    return raw[:, 0].copy(), raw[:, 1:4].copy()


def mex_holds(root: Path, code: str) -> list[tuple[str, float, list[HoldEnded]]]:
    """Holds found in every ``mex_thigh`` recording of one exercise code (``ex02``)."""
    _name, rule = MEX_RULES[code]
    out = []
    for csv in sorted((root / "mex_thigh").glob(f"*_{code}_*.csv")):
        t, acc = _read_csv(csv)
        exercise = "knee_roll" if code == "ex01" else "pelvic_tilt"
        timer = HoldTimer(exercise, Placement.THIGH, FRAME_S, target_s=3.0, rule=rule)
        out.append((csv.stem, float(t[-1]), holds_of(run(timer, frame_batches(t, acc)))))
    return out


def _mex_table() -> None:
    root = data_dir()
    if not (root / "mex_thigh").is_dir():
        print(f"mex_thigh: not found in {root} (set SITLESS_DATA)")
        return
    print("mex_thigh (thigh, no hold labels): holds per recording, median and range; hold lengths s")
    for code, (name, rule) in MEX_RULES.items():
        found = mex_holds(root, code)
        counts = [len(h) for _, _, h in found]
        lengths = [h.duration_s for _, _, hs in found for h in hs]
        bounced = sum(h.bounces > 0 for _, _, hs in found for h in hs)
        q = np.percentile(lengths, [10, 50, 90]) if lengths else [0.0, 0.0, 0.0]
        print(
            f"{name:13s} full {rule.full_deg:4.0f} deg | {len(found)} recordings | holds median "
            f"{statistics.median(counts)} ({min(counts)}-{max(counts)}) | length p10/p50/p90 "
            f"{q[0]:.1f}/{q[1]:.1f}/{q[2]:.1f} | bounced {bounced}"
        )


def _cost(repeat: int) -> None:
    ex = ExerciseSet(ExerciseId.BACK_STABILISER, seed=1)
    t, acc, _ = simulate(ex, Placement.WRIST, 1)
    (whole,) = frame_batches(t, acc)[:1]
    parts = batches(whole, 5)
    best = float("inf")
    for _ in range(repeat):
        timer = HoldTimer("back_stabiliser", Placement.WRIST, FRAME_S)
        start = time.perf_counter()
        for part in parts:
            timer.update(part)
        best = min(best, (time.perf_counter() - start) / len(parts))
    print(f"update of 5 frames: {best * 1e6:.0f} us on average over {len(parts)} updates (best of {repeat} runs)")


def main(argv: Sequence[str] | None = None) -> None:
    """Print the tables (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", choices=["sim", "mex", "cost"], default=None)
    args = parser.parse_args(argv)
    if args.only in (None, "sim"):
        _sim_table(args.seeds)
    if args.only in (None, "mex"):
        _mex_table()
    if args.only in (None, "cost"):
        _cost(args.repeat)


if __name__ == "__main__":
    main()
