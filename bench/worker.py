"""The live worker's cost per wearer: pure analysis, then the whole path without the network.

Wearers send 25-sample packets (0.5 s at 50 Hz), so one wearer is 2 packets/s and a
core keeps up with ``1 / (2 * CPU time per packet)`` wearers. Packets come from the
simulated wearable (:func:`firmware_sim.device.iter_packets`, no packet loss) playing
the ``all_postures`` scenario on a loop; ``streams`` distinct simulated wearers, each
starting at another point of the script, are shared round-robin by all wearers and
interleaved one packet per wearer per round, as live traffic arrives.

- :func:`bench_analyzer` times ``Analyzer.update`` alone on decoded packets.
- :func:`bench_worker` times ``Worker.handle`` on ``Message`` objects in batches of
  500 (the service's ``max_batch``) with a SQLite store in a temporary folder (or the
  store a URL names, PostgreSQL for instance, emptied of the bench's wearers): decode,
  sequence checks, analysis, events stored and published, counters and state saves.
  The MQTT client is never connected: paho queues what the worker publishes (a few
  hundred bytes per event), which the result reports.

``python -m bench.worker --wearers 100 --minutes 4 --no-recognition`` runs the two
``Worker.handle`` rows alone (``--no-recognition``: with the worker's recogniser of
exercise done unprompted left out, to show what it costs).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from analysis import AnalysisSettings, Analyzer, Placement
from firmware_sim.device import DeviceSettings, iter_packets
from firmware_sim.params import MotionParams
from firmware_sim.scenarios import scenario
from ingest.codec import decode
from ingest.service import Message
from ingest.store import StateRow, Store, parse_store_url
from ingest.topics import Kind, topic
from ingest.worker import Worker, WorkerSettings

__all__ = ["PACKETS_PER_S", "WorkerResult", "bench_analyzer", "bench_worker", "packet_streams"]

#: Packets per second of one wearer: 50 Hz in 25-sample packets.
PACKETS_PER_S = 2.0
_T0_S = 1_767_225_600.0  # 2026-01-01 00:00 UTC: live packets carry epoch times
_MAX_BATCH = 500  # MqttService's default max_batch


@dataclass(frozen=True, slots=True)
class WorkerResult:
    """Medians of a per-wearer cost benchmark.

    Attributes:
        name: What was timed.
        wearers: Simulated wearers.
        packets: Packets timed per repetition (all wearers).
        repeat: Repetitions.
        cpu_us: Median CPU time per packet, microseconds.
        wall_us: Median wall time per packet, microseconds.
        events: Events returned (or stored) per repetition.
        saves: State saves per repetition (0 for the pure analysis).
        queued_publishes: Messages paho queued while unconnected, last repetition.
    """

    name: str
    wearers: int
    packets: int
    repeat: int
    cpu_us: float
    wall_us: float
    events: int
    saves: int = 0
    queued_publishes: int = 0

    @property
    def wearers_per_core(self) -> float:
        """Wearers at 50 Hz one core keeps up with, from the CPU time per packet."""
        return 1e6 / (PACKETS_PER_S * self.cpu_us)

    @classmethod
    def from_runs(
        cls,
        name: str,
        wearers: int,
        packets: int,
        cpu_s: Sequence[float],
        wall_s: Sequence[float],
        *,
        events: int,
        saves: int = 0,
        queued_publishes: int = 0,
    ) -> WorkerResult:
        """The result of repeated runs from each run's CPU and wall time (s): medians per packet."""
        return cls(
            name=name,
            wearers=wearers,
            packets=packets,
            repeat=len(cpu_s),
            cpu_us=statistics.median(cpu_s) / packets * 1e6,
            wall_us=statistics.median(wall_s) / packets * 1e6,
            events=events,
            saves=saves,
            queued_publishes=queued_publishes,
        )


def packet_streams(streams: int, packets: int, seed: int = 1) -> list[list[bytes]]:
    """Encoded packets of ``streams`` simulated wearers, ``packets`` each.

    Stream ``k`` plays ``all_postures`` on a loop with seed ``seed + k``, starting
    ``k / streams`` of the way through the script.

    Returns:
        One list of packet payloads per stream, in sequence order.
    """
    script = scenario("all_postures")
    params = MotionParams(drop_prob=0.0)  # a gap would park packets in the reorder buffer
    script_packets = int(script.duration_s * PACKETS_PER_S)
    out: list[list[bytes]] = []
    for k in range(streams):
        settings = DeviceSettings(device_id=f"bench-{k}", seed=seed + k, loop=True, params=params)
        skip = k * script_packets // streams
        payloads = [p.payload for p in itertools.islice(iter_packets(script, settings, _T0_S), skip, skip + packets)]
        out.append([p for p in payloads if p is not None])
    return out


def _check_sizes(wearers: int, minutes: float, repeat: int, streams: int) -> int:
    if wearers <= 0 or minutes <= 0 or repeat <= 0 or streams <= 0:
        raise ValueError("wearers, minutes, repeat and streams must be > 0")
    return max(2, round(minutes * 60 * PACKETS_PER_S))


def bench_analyzer(wearers: int = 1000, minutes: float = 1.0, repeat: int = 3, streams: int = 25) -> WorkerResult:
    """Time ``Analyzer.update`` fed packet by packet for many interleaved wearers.

    Args:
        wearers: Analysers fed side by side.
        minutes: Minutes of data per wearer and repetition.
        repeat: Repetitions, each with fresh analysers.
        streams: Distinct simulated wearers behind them.

    Returns:
        The medians over repetitions.
    """
    rounds = _check_sizes(wearers, minutes, repeat, streams)
    inputs: list[list[tuple[NDArray[np.float64], NDArray[np.float64]]]] = []
    for payloads in packet_streams(streams, rounds):
        batches = [decode(p) for p in payloads]
        inputs.append([(b.times_s(), b.acc_g()) for b in batches])
    settings = AnalysisSettings(placement=Placement.THIGH)
    cpu: list[float] = []
    wall: list[float] = []
    events = 0
    for _ in range(repeat):
        analyzers = [Analyzer(settings) for _ in range(wearers)]
        feeds = [inputs[w % streams] for w in range(wearers)]
        events = 0
        c0, w0 = time.process_time(), time.perf_counter()
        for r in range(rounds):
            for analyzer, feed in zip(analyzers, feeds, strict=True):
                t_s, acc_g = feed[r]
                events += len(analyzer.update(t_s, acc_g))
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return WorkerResult.from_runs("Analyzer.update", wearers, rounds * wearers, cpu, wall, events=events)


def _messages(wearers: int, streams: list[list[bytes]], first: int, last: int) -> list[Message]:
    """Packets ``first..last-1`` of every wearer, one per wearer per round."""
    topics = [topic(f"bench-{w:05d}", Kind.IMU) for w in range(wearers)]
    mid = itertools.count(1)
    return [
        Message(topics[w], streams[w % len(streams)][r], next(mid) % 65536 or 1, 1, 0.0)
        for r in range(first, last)
        for w in range(wearers)
    ]


def bench_worker(
    wearers: int = 1000,
    minutes: float = 1.0,
    repeat: int = 3,
    streams: int = 25,
    *,
    periodic_saves: bool = True,
    store_url: str | None = None,
    recognition: bool = True,
) -> WorkerResult:
    """Time ``Worker.handle`` on encoded packets of many wearers, without a broker.

    Each repetition uses a fresh worker and store. The first packet of every wearer is
    handled untimed (it creates the wearer and looks up saved state); the rest are
    timed, in batches of 500 messages.

    Args:
        wearers: Devices sending packets.
        minutes: Minutes of data per wearer and repetition.
        repeat: Repetitions.
        streams: Distinct simulated wearers behind them.
        periodic_saves: Save statuses and snapshots at the worker's default cadence
            (``WorkerSettings.status_every_s``, ``snapshot_every_s``) on a clock that
            advances 0.5 s per packet of each wearer, as live; False leaves periodic
            saves out (alerts and actions still save at once).
        store_url: The store to use (``postgresql://...``); the bench's wearers
            (``bench-NNNNN``) are deleted from it before each repetition. None: a fresh
            SQLite file in a temporary folder.
        recognition: Run the worker's recogniser of exercise done unprompted (as the
            worker does); False leaves it out (``WorkerSettings.recognition``, ``sitless
            worker --no-recognition``), to measure what it costs.

    Returns:
        The medians over repetitions.
    """
    rounds = _check_sizes(wearers, minutes, repeat, streams)
    payloads = packet_streams(streams, rounds)
    warmup = _messages(wearers, payloads, 0, 1)
    timed = _messages(wearers, payloads, 1, rounds)
    batches = [timed[i : i + _MAX_BATCH] for i in range(0, len(timed), _MAX_BATCH)]
    cpu: list[float] = []
    wall: list[float] = []
    events = saves = queued = 0
    clock = [0.0]  # live seconds of the traffic handled so far
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="sitless-bench-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'store.sqlite'}" if store_url is None else store_url
            if store_url is not None:
                with Store(url) as store:
                    for w in range(wearers):
                        store.delete_device(f"bench-{w:05d}")
            clock[0] = 0.0
            settings = WorkerSettings(store_url=url, recognition=recognition)
            if not periodic_saves:
                settings = dataclasses.replace(settings, status_every_s=math.inf, snapshot_every_s=math.inf)
            worker = Worker(settings, clock=lambda: clock[0])
            save_calls = _count_saves(worker)
            for i in range(0, len(warmup), _MAX_BATCH):
                worker.handle(warmup[i : i + _MAX_BATCH])
            saves_before = save_calls[0]
            c0, w0 = time.process_time(), time.perf_counter()
            for batch in batches:
                worker.handle(batch)
                clock[0] += len(batch) / wearers / PACKETS_PER_S  # live time these packets span
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
            saves = save_calls[0] - saves_before
            queued = len(getattr(worker.client, "_out_messages", {}))
            worker.close()
            with Store(url) as store:
                events = sum(len(store.events(f"bench-{w:05d}")) for w in range(wearers))
    label = "live save cadence" if periodic_saves else "no periodic saves"
    if not recognition:
        label += ", without the recogniser"
    if store_url is not None:
        label += f", {parse_store_url(store_url).backend}"
    return WorkerResult.from_runs(
        f"Worker.handle ({label})", wearers, len(timed), cpu, wall, events=events, saves=saves, queued_publishes=queued
    )


def _count_saves(worker: Worker) -> list[int]:
    """Wrap the worker's ``store.save_states`` to count the snapshots it saves (one-item list)."""
    calls = [0]
    save = worker.store.save_states

    def counting_save(rows: Sequence[StateRow], **options: Any) -> None:
        calls[0] += sum(r.snapshot is not None for r in rows)
        save(rows, **options)

    worker.store.save_states = counting_save  # type: ignore[method-assign]  # measuring only
    return calls


def main(argv: list[str] | None = None) -> int:
    """Print the two ``Worker.handle`` rows (live save cadence, no periodic saves)."""
    from bench.report import machine, worker_table  # bench.report imports this module

    parser = argparse.ArgumentParser(prog="python -m bench.worker", description=__doc__.splitlines()[0])
    parser.add_argument("--wearers", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=1.0, help="minutes of data per wearer")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each row; medians are reported")
    parser.add_argument("--no-recognition", action="store_true", help="leave out the recogniser of exercise")
    args = parser.parse_args(argv)
    print(f"Measured {machine()}.", flush=True)
    recognition = not args.no_recognition
    results = [
        bench_worker(args.wearers, args.minutes, args.repeat, periodic_saves=saves, recognition=recognition)
        for saves in (True, False)
    ]
    print(worker_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
