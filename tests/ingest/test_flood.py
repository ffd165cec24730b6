"""A device flooding the worker: its analysis is held to its budget, the others' is not, and nothing is lost.

The worker is fed messages directly, with a clock moved by hand for the budget. A
batch taken in (``handle``) stands for a busy worker; a ``tick`` with no message
waiting is spare time. Work is counted in samples analysed, never timed.
"""

from __future__ import annotations

import argparse
import logging
import math
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from analysis import AlertPolicy
from ingest.codec import Batch, encode
from ingest.service import Message
from ingest.store import BatchRow, Store
from ingest.topics import Kind, topic
from ingest.worker import Worker, WorkerSettings
from ingest.worker.cmd import register, run
from tests.analysis.conftest import synth
from tests.ingest.test_worker_leases import Clock

GOOD, FLOOD = "good-01", "flood-01"
T0_S = 1.7e9
RATE_HZ = 50.0
N = 25  # samples per packet, as the wearables send them
#: A budget of 10x real time at 50 Hz after a minute's burst, at most 2 minutes deferred.
TIGHT = {"flood_samples_per_s": 500.0, "flood_burst_samples": 3000, "flood_max_deferred_samples": 6000}
#: The flooder sends 20 packets for each of the good wearer's: 20x real time.
FLOOD_FACTOR = 20


def batch_messages(
    device_id: str, t: NDArray[np.float64], acc: NDArray[np.float64], first_seq: int = 0
) -> list[Message]:
    """Samples at 50 Hz as the wearable sends them: 25-sample packets, seq ``first_seq``, ``first_seq + 1``..."""
    counts = np.round(acc * 4096).astype(np.int16)
    return [
        Message(
            topic(device_id, Kind.IMU),
            encode(Batch(first_seq + i, float(t[N * i]), RATE_HZ, 1 / 4096, counts[N * i : N * i + N])),
            i,
            1,
            0.0,
        )
        for i in range(len(t) // N)
    ]


def still(device_id: str, packets: int, first_seq: int = 0) -> list[Message]:
    """A sensor lying still: ``packets`` packets from ``first_seq`` on, back to back in device time."""
    n = packets * N
    t = T0_S + (first_seq * N + np.arange(n)) / RATE_HZ
    acc = np.tile([0.0, 0.0, 1.0], (n, 1))
    return batch_messages(device_id, t, acc, first_seq)


def sitting_wearer() -> list[Message]:
    """The good wearer: 30 s walking, then 200 s sitting, enough for an alert after 2 min of sitting."""
    t, acc = synth([("walking", 30.0), ("sitting", 200.0)], rate_hz=RATE_HZ, t0_s=T0_S)
    return batch_messages(GOOD, t, acc)


def record(url: str, messages: list[Message]) -> None:
    """Store packets as the recorder does (it stores every packet it receives)."""
    with Store(url) as store:
        rows = []
        for m in messages:
            device_id = m.topic.split("/")[2]
            seq = int.from_bytes(m.payload[4:8], "little")
            rows.append(BatchRow(device_id, seq, 0.0, N, RATE_HZ, m.payload))
        store.add_batches(rows)


def analysed_samples(worker: Worker, device_id: str) -> int:
    """Samples of a still flooder analysed so far, from the device time of the newest one."""
    t_s = worker._wearers[device_id].analyzer.status().t_s
    return 0 if t_s is None else round((t_s - T0_S) * RATE_HZ) + 1


def catch_up(worker: Worker, device_id: str) -> None:
    """Tick (spare time: no message waits) until nothing of the device waits to be analysed."""
    wearer = worker._wearers[device_id]
    for _ in range(10_000):  # one chunk per tick
        if not wearer.deferred and wearer.behind_seq is None:
            return
        worker.tick()
    raise AssertionError(f"{device_id} never caught up")


def first_alert(url: str, *, flooded: bool, **settings: float) -> tuple[int, int]:
    """Feed the good wearer in real time, each packet with the flood's packets of that half second.

    Returns:
        The good wearer's packets taken in when its alert was raised, and the flooder's
        samples analysed by then.
    """
    clock = Clock()
    policy = AlertPolicy(max_sitting_s=120.0)
    worker = Worker(WorkerSettings(store_url=url, policy=policy, **settings), clock=clock)  # type: ignore[arg-type]
    good = sitting_wearer()
    flood = still(FLOOD, len(good) * FLOOD_FACTOR) if flooded else []
    try:
        for i, m in enumerate(good):
            burst = flood[i * FLOOD_FACTOR : (i + 1) * FLOOD_FACTOR]
            worker.handle([*burst[: FLOOD_FACTOR // 2], m, *burst[FLOOD_FACTOR // 2 :]])
            clock.now_s += N / RATE_HZ
            if worker.store.events(GOOD, kinds=["alert"]):
                return i + 1, analysed_samples(worker, FLOOD) if flood else 0
    finally:
        worker.close()
    raise AssertionError("the good wearer's alert never came")


def test_a_flooding_device_does_not_delay_another_devices_alert(tmp_path: Path) -> None:
    """The good wearer's alert comes with the same packet, flood or not; before it, the flooder's
    analysis is held to its burst and rate, where without a budget all of it is done first."""
    alone, _ = first_alert(f"sqlite:///{tmp_path / 'alone.sqlite'}", flooded=False, **TIGHT)
    held, flooder_held = first_alert(f"sqlite:///{tmp_path / 'held.sqlite'}", flooded=True, **TIGHT)
    free, flooder_free = first_alert(
        f"sqlite:///{tmp_path / 'free.sqlite'}", flooded=True, **{**TIGHT, "flood_samples_per_s": math.inf}
    )
    assert held == free == alone
    elapsed_s = alone * N / RATE_HZ  # the clock moves in real time with the good wearer
    budget = TIGHT["flood_burst_samples"] + TIGHT["flood_samples_per_s"] * elapsed_s
    assert flooder_held <= budget + N  # the budget may end one packet in debt
    assert flooder_free == alone * FLOOD_FACTOR * N  # everything the flooder sent until then
    assert flooder_held < flooder_free / 2


def test_a_floods_packets_are_all_analysed_once_the_worker_has_time(
    any_store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A flood past the deferral bound: each packet is analysed, or waits in memory or (past the
    bound) in the store; the waiting ones are analysed in spare time, every packet is counted
    once, and the episode is logged once."""
    caplog.set_level(logging.INFO, logger="ingest.worker")
    clock = Clock()
    worker = Worker(WorkerSettings(store_url=any_store_url, **TIGHT), clock=clock)  # type: ignore[arg-type]
    flood = still(FLOOD, 2000)  # 50,000 samples in 10 s of wall clock: 10x the budget's rate
    good = still(GOOD, 20)  # in real time
    record(any_store_url, flood)
    for i in range(0, 200):
        worker.handle([*flood[10 * i : 10 * i + 10], *good[i // 10 : i // 10 + 1 if i % 10 == 0 else 0]])
        clock.now_s += 0.05
    worker.flush(force=True)  # a snapshot of what was analysed, deferred packets left out
    with Store(any_store_url) as store:
        counters = store.counters("worker")
    analysed = counters[("worker", FLOOD, "packets")]
    deferred = counters[("worker", FLOOD, "flood_deferred")]
    wearer = worker._wearers[FLOOD]
    assert wearer.behind_seq == len(flood) - 1  # past the bound: the rest is in the store
    waiting = len(wearer.deferred) + wearer.behind_seq - wearer.seq
    assert analysed + waiting == len(flood)  # each packet analysed, or waiting in memory or in the store
    assert waiting <= deferred <= len(flood) - TIGHT["flood_burst_samples"] // N
    assert counters[("worker", FLOOD, "flood_left_to_store")] > 0
    assert ("worker", GOOD, "flood_deferred") not in counters
    assert counters[("worker", GOOD, "packets")] == len(good)
    metric = worker.metrics.registry.get_sample_value("sitless_flood_deferred_packets_total", {"service": "worker"})
    assert metric == deferred
    catch_up(worker, FLOOD)  # spare time, the clock standing still
    assert worker._wearers[FLOOD].seq == len(flood) - 1
    assert analysed_samples(worker, FLOOD) == len(flood) * N
    assert worker._wearers[FLOOD].flooding  # still past its budget: the episode goes on
    clock.now_s += 60.0  # the budget grows back
    worker.tick()
    assert not worker._wearers[FLOOD].flooding
    worker.close()
    with Store(any_store_url) as store:
        counters = store.counters("worker")
    assert counters[("worker", FLOOD, "packets")] == len(flood)
    assert ("worker", FLOOD, "gaps_skipped") not in counters
    started = [r for r in caplog.records if "sends faster than its analysis budget" in r.getMessage()]
    ended = [r for r in caplog.records if "back within its analysis budget" in r.getMessage()]
    assert len(started) == len(ended) == 1


def test_deferred_packets_are_not_lost_when_the_worker_restarts(any_store_url: str) -> None:
    """The snapshot saved while packets wait leaves them out: a restarted worker takes them from the store."""
    clock = Clock()
    settings = WorkerSettings(store_url=any_store_url, **TIGHT)  # type: ignore[arg-type]
    worker = Worker(settings, clock=clock)
    flood = still(FLOOD, 200)  # 5,000 samples at once: 3,000 within the burst, the rest deferred
    record(any_store_url, flood)
    worker.handle(flood)
    assert worker._wearers[FLOOD].deferred
    worker.flush(force=True)  # then the worker dies, its deferred packets with it
    again = Worker(settings, clock=clock)
    again.handle(still(FLOOD, 1, first_seq=200))  # the next packet restores and replays the rest
    catch_up(again, FLOOD)
    again.close()
    with Store(any_store_url) as store:
        assert store.counters("worker")[("worker", FLOOD, "packets")] == 201


def test_a_live_wearer_and_a_backlog_are_not_deferred(tmp_path: Path) -> None:
    """A wearer at 50 Hz for 20 min stays within even a tight budget, and a gateway replaying
    10 min of backlog at once goes straight through with the default burst."""
    clock = Clock()
    live = Worker(WorkerSettings(store_url=f"sqlite:///{tmp_path / 'live.sqlite'}", **TIGHT), clock=clock)  # type: ignore[arg-type]
    packets = still(GOOD, 2400)
    for i in range(0, len(packets), 4):
        live.handle(packets[i : i + 4])
        clock.now_s += 4 * N / RATE_HZ
        assert not live._wearers[GOOD].deferred
    assert analysed_samples(live, GOOD) == len(packets) * N
    live.close()
    backlog = Worker(WorkerSettings(store_url=f"sqlite:///{tmp_path / 'backlog.sqlite'}"), clock=Clock())
    backlog.handle(still(GOOD, 1200))  # 30,000 samples, with the clock standing still
    assert not backlog._wearers[GOOD].flooding
    assert analysed_samples(backlog, GOOD) == 1200 * N
    backlog.close()
    for url in (live.settings.store_url, backlog.settings.store_url):
        with Store(url) as store:
            assert ("worker", GOOD, "flood_deferred") not in store.counters("worker")


def test_the_flood_options_reach_the_settings() -> None:
    """``--flood-*`` default to the settings' defaults, take ``inf`` for no limit, and refuse values out of range."""
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["worker"])
    defaults = WorkerSettings()
    assert (args.flood_samples_per_s, args.flood_burst_samples, args.flood_max_deferred_samples) == (
        defaults.flood_samples_per_s,
        defaults.flood_burst_samples,
        defaults.flood_max_deferred_samples,
    )
    assert math.isinf(parser.parse_args(["worker", "--flood-samples-per-s", "inf"]).flood_samples_per_s)
    assert run(parser.parse_args(["worker", "--flood-samples-per-s", "0"])) == 2
    for bad in ({"flood_samples_per_s": 0.0}, {"flood_burst_samples": 0}, {"flood_max_deferred_samples": -1}):
        with pytest.raises(ValueError, match="flood_"):
            WorkerSettings(**bad)  # type: ignore[arg-type]


def test_without_a_recorder_the_packets_left_to_the_store_are_a_gap(tmp_path: Path) -> None:
    """Nobody stores the flood: once the deferred packets are analysed and the recorder was
    waited for (``recorder_wait_s``), the stream goes on live past a gap, counted once."""
    clock = Clock()
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    settings = WorkerSettings(store_url=url, recorder_wait_s=0.0, **TIGHT)  # type: ignore[arg-type]
    worker = Worker(settings, clock=clock)
    flood = still(FLOOD, 600)  # 15,000 samples at once: 3,000 within the burst, 6,000 deferred, the rest left
    worker.handle(flood)
    wearer = worker._wearers[FLOOD]
    assert wearer.behind_seq == len(flood) - 1
    catch_up(worker, FLOOD)
    assert wearer.behind_seq is None
    assert analysed_samples(worker, FLOOD) == 3000 + 6000
    worker.handle(still(FLOOD, 4, first_seq=len(flood)))  # follows on from the gap
    assert wearer.seq == len(flood) + 3
    worker.tick()  # the device is still past its budget: analysed in spare time
    assert analysed_samples(worker, FLOOD) == (len(flood) + 4) * N
    worker.close()
    with Store(settings.store_url) as store:
        counters = store.counters("worker")
    assert counters[("worker", FLOOD, "gaps_skipped")] == 1
    assert counters[("worker", FLOOD, "packets")] == (3000 + 6000) // N + 4


def test_an_action_applies_after_the_packets_deferred_before_it(tmp_path: Path) -> None:
    """A user action arriving while a device's packets wait: those packets are analysed first, as queued ones are."""
    worker = Worker(WorkerSettings(store_url=f"sqlite:///{tmp_path / 'store.sqlite'}", **TIGHT), clock=Clock())  # type: ignore[arg-type]
    flood = still(FLOOD, 200)  # 3,000 samples within the burst, 2,000 deferred
    worker.handle(flood)
    assert worker._wearers[FLOOD].deferred
    meeting = Message(topic(FLOOD, Kind.ACTION), b'{"action": "meeting", "id": "m-1"}', 0, 1, T0_S)
    worker.handle([meeting])
    assert not worker._wearers[FLOOD].deferred
    assert analysed_samples(worker, FLOOD) == len(flood) * N
    worker.close()
    with Store(worker.settings.store_url) as store:
        assert [e.body["id"] for e in store.events(FLOOD, kinds=["action"])] == ["m-1"]
