"""Seeded day-long recordings for the benchmarks, cached in ``bench/out/``.

A day is a :class:`~firmware_sim.scenarios.Script` of 24 h: the night with the sensor on
the nightstand, two jittered office mornings (the second one stands for the afternoon)
with a lunch walk between, the commute home and a seated evening. A file of several
days concatenates days of consecutive seeds with a continuous time axis.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from analysis import Placement
from firmware_sim.motion import iter_chunks
from firmware_sim.recording import Chunk, write_csv
from firmware_sim.scenarios import Activity, Script, Step, jitter, scenario

__all__ = ["DAY_S", "OUT_DIR", "RATE_HZ", "day_script", "recording"]

DAY_S = 24 * 3600.0
RATE_HZ = 50.0
OUT_DIR = Path(__file__).resolve().parent / "out"
_H = 3600.0


def day_script(seed: int) -> Script:
    """Twenty-four hours of a wearer's day, varied by ``seed`` (durations ±15 %).

    Args:
        seed: Seed of :func:`firmware_sim.scenarios.jitter` for both office halves.

    Returns:
        A script lasting exactly :data:`DAY_S`.
    """
    office = scenario("office_morning")
    morning = jitter(office, seed).steps
    afternoon = jitter(office, seed + 10_000).steps
    steps = (
        Step(Activity.NONWEAR, 7 * _H),  # the night: sensor on the nightstand
        Step(Activity.WALKING, 0.5 * _H),  # commute
        *morning,
        Step(Activity.WALKING, 0.25 * _H),  # lunch
        Step(Activity.SITTING, 0.5 * _H),
        *afternoon,
        Step(Activity.WALKING, 0.5 * _H),  # commute
        Step(Activity.STANDING, 0.5 * _H),
        Step(Activity.SITTING, 2.5 * _H),  # evening
        Step(Activity.LYING, 0.5 * _H),
        Step(Activity.NONWEAR, 5 * _H),  # sensor off until midnight (cut below)
    )
    return Script(f"bench_day_{seed}", steps).truncated(DAY_S)


def _days(days: int, seed: int, placement: Placement) -> Iterator[Chunk]:
    for day in range(days):
        offset_s = day * DAY_S
        for chunk in iter_chunks(day_script(seed + day), placement, seed + day, RATE_HZ):
            yield Chunk(
                first_sample=chunk.first_sample,
                packet_samples=chunk.packet_samples,
                t_s=chunk.t_s + offset_s,
                acc_g=chunk.acc_g,
                dropped=chunk.dropped,
            )


def recording(days: int, seed: int = 1, placement: Placement = Placement.THIGH, out_dir: Path = OUT_DIR) -> Path:
    """The CSV of ``days`` simulated days at 50 Hz, generated once and cached.

    Day ``d`` uses seed ``seed + d`` for its script and its samples, so the first day of
    every file with the same ``seed`` is the same. Times are continuous across days.

    Args:
        days: Number of days (> 0).
        seed: Seed of the first day (>= 0).
        placement: Where the simulated sensor is worn.
        out_dir: Cache folder.

    Returns:
        Path of the ``t,ax,ay,az`` CSV.
    """
    if days <= 0:
        raise ValueError(f"days must be > 0, got {days}")
    path = out_dir / f"{placement}_{days}d_seed{seed}.csv"
    if path.exists():
        return path
    out_dir.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".partial{os.getpid()}")
    write_csv(_days(days, seed, placement), partial)
    partial.replace(path)  # a half-written file never looks cached
    return path
