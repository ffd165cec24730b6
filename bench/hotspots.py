"""Where the analysis spends its time: CPU timings and cProfile breakdowns, batch and live.

- ``python -m bench.hotspots batch`` reads the benchmark's 1-day recording
  (``bench.data``, thigh, 50 Hz) into memory in ``sitless analyze``'s chunks, then
  feeds it to ``analysis.ResultBuilder``: the CPU time of the analysis alone (best of
  ``--repeat``) for the thigh and the waist, per ``--chunk-rows``, and a cProfile of
  the thigh run (profiling inflates the times).
- ``python -m bench.hotspots live`` feeds ``Analyzer.update`` the packets of
  ``--wearers`` interleaved simulated wearers (``bench.worker.packet_streams``) for
  ``--minutes``: CPU per packet, a cProfile per packet, and the size of a snapshot as
  the worker saves it.

The cProfile tables list the functions of ``analysis/`` by cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import json
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from analysis import AnalysisSettings, Analyzer, Placement, ResultBuilder
from analysis.sets import recognition_detectors
from bench.data import recording
from bench.worker import PACKETS_PER_S, packet_streams
from ingest.codec import decode
from ingest.recording import DEFAULT_CHUNK_ROWS, Chunk, read_chunks

__all__ = ["best_cpu_s", "main"]

Chunks = list[Chunk]
ANALYSIS = str(Path(__file__).resolve().parents[1] / "analysis")


def best_cpu_s(run: Callable[[], object], repeat: int) -> float:
    """The least CPU time of this process over ``repeat`` calls of ``run`` (other work only ever adds to it)."""
    best = float("inf")
    for _ in range(repeat):
        c0 = time.process_time()
        run()
        best = min(best, time.process_time() - c0)
    return best


def _profile_table(profile: cProfile.Profile, per: float, unit: str, top: int) -> str:
    """The ``top`` functions of ``analysis/`` by cumulative time, divided by ``per``."""
    stats = pstats.Stats(profile)
    rows = []
    for (path, _line, name), (_cc, _nc, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if path.startswith(ANALYSIS):
            rows.append((cumtime, tottime, f"{Path(path).name}:{name}"))
    rows.sort(reverse=True)
    lines = [f"  {'function':<48} {'cumulative':>12} {'own':>10}"]
    lines += [f"  {where:<48} {cum / per:9.3f} {unit:<2} {own / per:7.3f} {unit}" for cum, own, where in rows[:top]]
    return "\n".join(lines)


def _feed(chunks: Chunks, placement: Placement) -> None:
    builder = ResultBuilder(AnalysisSettings(placement))
    for t_s, acc_g, _gyro in chunks:
        builder.feed(t_s, acc_g)
    builder.finish()


def batch(chunk_rows: list[int], repeat: int, top: int) -> None:
    """Print the batch analysis CPU time of one day per placement and chunk size, and its profile."""
    path = recording(1)
    for rows in chunk_rows:
        chunks = list(read_chunks(path, chunk_rows=rows))
        frames = round((chunks[-1][0][-1] - chunks[0][0][0]) / 0.1)
        cpu = {p: best_cpu_s(functools.partial(_feed, chunks, p), repeat) for p in (Placement.THIGH, Placement.WAIST)}
        print(
            f"one day in memory ({frames:,} frames of 0.1 s), chunks of {rows:,} rows:"
            f" analysis CPU thigh {cpu[Placement.THIGH]:.2f} s, waist {cpu[Placement.WAIST]:.2f} s (best of {repeat})"
        )
    chunks = list(read_chunks(path, chunk_rows=DEFAULT_CHUNK_ROWS))
    profile = cProfile.Profile()
    profile.enable()
    _feed(chunks, Placement.THIGH)
    profile.disable()
    total = sum(v[2] for v in pstats.Stats(profile).stats.values())  # type: ignore[attr-defined]
    print(f"cProfile of the thigh day ({total:.2f} s profiled), functions of analysis/ by cumulative time:")
    print(_profile_table(profile, 1.0, "s", top))


def live(
    wearers: int, minutes: float, streams: int, repeat: int, top: int, *, recognition: bool = True, per_call: int = 1
) -> None:
    """Print Analyzer.update's CPU per packet, its profile per packet and the snapshot size.

    Each wearer's analysis is built as the worker builds it: with the recogniser of
    exercise done unprompted, unless ``recognition`` is false; each call is fed
    ``per_call`` packets of a wearer (2: as the worker gathers them live).
    """
    packets_each = max(2, round(minutes * 60 * PACKETS_PER_S)) // per_call * per_call
    rounds = packets_each // per_call
    decoded = [[(b.times_s(), b.acc_g()) for b in map(decode, p)] for p in packet_streams(streams, packets_each)]
    inputs = [
        [
            (
                np.concatenate([t for t, _ in feed[i : i + per_call]]),
                np.concatenate([a for _, a in feed[i : i + per_call]]),
            )
            for i in range(0, packets_each, per_call)
        ]
        for feed in decoded
    ]
    settings = AnalysisSettings(Placement.THIGH)

    def run(profile: cProfile.Profile | None = None) -> list[Analyzer]:
        extra = (lambda: recognition_detectors(settings.placement, settings.tuning.frame_s)) if recognition else list
        analyzers = [Analyzer(settings, extra()) for _ in range(wearers)]
        feeds = [inputs[w % streams] for w in range(wearers)]
        if profile is not None:
            profile.enable()
        for r in range(rounds):
            for analyzer, feed in zip(analyzers, feeds, strict=True):
                analyzer.update(*feed[r])
        if profile is not None:
            profile.disable()
        return analyzers

    packets = wearers * packets_each
    cpu = best_cpu_s(run, repeat)
    per_packet_us = 1e6 * cpu / packets
    what = "with" if recognition else "without"
    print(
        f"Analyzer.update {what} the recogniser, {wearers} wearers x {minutes:g} min, {per_call} packet(s) a call:",
        end="",
    )
    print(f" {per_packet_us:.0f} µs CPU per packet", end="")
    print(f" (best of {repeat})")
    profile = cProfile.Profile()
    analyzers = run(profile)
    print(f"cProfile per packet ({packets:,} packets), functions of analysis/ by cumulative time:")
    print(_profile_table(profile, packets / 1e6, "µs", top))
    sizes = [len(json.dumps(a.snapshot())) for a in analyzers]
    print(f"snapshot as saved (JSON): {np.mean(sizes) / 1000:.1f} kB on average, at most {max(sizes) / 1000:.1f} kB")


def main(argv: list[str] | None = None) -> int:
    """Run the profile named on the command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.hotspots", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs; the best is reported")
    parser.add_argument("--top", type=int, default=12, help="functions listed")
    sub = parser.add_subparsers(dest="what", required=True)
    b = sub.add_parser("batch", help="one day in memory through ResultBuilder")
    b.add_argument("--chunk-rows", type=int, nargs="+", default=[DEFAULT_CHUNK_ROWS], help="rows per chunk")
    lv = sub.add_parser("live", help="Analyzer.update packet by packet for many wearers")
    lv.add_argument("--wearers", type=int, default=100)
    lv.add_argument("--minutes", type=float, default=1.0)
    lv.add_argument("--streams", type=int, default=25, help="distinct simulated wearers behind them")
    lv.add_argument(
        "--no-recognition", action="store_true", help="leave out the recogniser of exercise done unprompted"
    )
    lv.add_argument("--per-call", type=int, default=1, help="packets of a wearer per call (2: as gathered live)")
    args = parser.parse_args(argv)
    if args.what == "batch":
        batch(args.chunk_rows, args.repeat, args.top)
    else:
        recognition = not args.no_recognition
        live(
            args.wearers,
            args.minutes,
            args.streams,
            args.repeat,
            args.top,
            recognition=recognition,
            per_call=args.per_call,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
