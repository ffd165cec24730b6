"""How fast a killed worker's devices move to another, and what keeping the others' messages costs.

``python -m bench failover --wearers 8 --lease-s 10 --runs 3`` starts mosquitto, a
recorder and two ``sitless worker`` processes on a SQLite store, streams simulated
wearers, kills (SIGKILL) the worker holding the most devices once every wearer is
analysed, and times:

- *moved*: from the kill until the other worker holds the lease of every device of the
  killed one (:mod:`ingest.ownership`);
- *resumed*: until the other worker has saved a live status of every one of them, i.e.
  restored its snapshot, caught up and analysed its stream again.

:func:`standby_cost` times :meth:`ingest.worker.Worker.absorb` on packets of devices another
worker holds: what each worker pays for seeing every device's stream.
"""

from __future__ import annotations

import dataclasses
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analysis import Placement
from firmware_sim.device import Device, DeviceSettings
from firmware_sim.params import MotionParams
from firmware_sim.scenarios import Activity, Script, Step
from ingest.broker import BrokerEngine, BrokerProcess, free_port
from ingest.codec import Batch, encode
from ingest.mqtt import BrokerAddress
from ingest.recorder import Recorder, RecorderSettings
from ingest.service import Message
from ingest.store import Store
from ingest.topics import Kind, topic
from ingest.worker import Worker, WorkerSettings

__all__ = ["FailoverResult", "bench_failover", "lossless_wearer", "standby_cost"]

#: Walk 2 min, then sit: the wearers stream until the benchmark stops them.
_SCRIPT = Script("sit_on", (Step(Activity.WALKING, 120.0), Step(Activity.SITTING, 8 * 3600.0)))


@dataclass(frozen=True, slots=True)
class FailoverResult:
    """Seconds from a worker's kill until its devices moved (leases) and were analysed again (status)."""

    devices: int
    moved_s: float
    resumed_s: float


def lossless_wearer(script: Script, broker: BrokerAddress, device_id: str, *, speed: float, seed: int) -> Device:
    """A simulated thigh wearable playing ``script`` over a link that drops nothing, its clock from 1.7e9 s.

    Every packet it sends must then reach the store and the analysis once: what the
    fail-over benchmark and the several-workers tests count.
    """
    settings = DeviceSettings(
        device_id=device_id,
        broker=broker,
        placement=Placement.THIGH,
        speed=speed,
        seed=seed,
        params=dataclasses.replace(MotionParams(), drop_prob=0.0),
        start_s=1.7e9,
    )
    return Device(script, settings)


def _wait(condition: Callable[[], bool], what: str, timeout_s: float = 300.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _worker(
    broker: BrokerAddress, store_url: str, name: str, lease_s: float, subscribe: str
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "ingest.cli", "worker", "--broker", broker.url, "--store", store_url),
            *("--client-id", f"bench-worker-{name}", "--worker-id", name, "--lease-s", str(lease_s)),
            *("--subscribe", subscribe),
        ],
        stderr=subprocess.DEVNULL,
    )


def bench_failover(wearers: int, lease_s: float, speed: float, subscribe: str = "all") -> FailoverResult:
    """One failover: two workers, ``wearers`` simulated wearers at ``speed`` x real time, one worker killed.

    ``subscribe`` is the workers' ``--subscribe`` (``held``: a take-over catches up from the store alone).
    """
    with (
        tempfile.TemporaryDirectory() as tmp,
        BrokerProcess(
            BrokerAddress("127.0.0.1", free_port()),
            engine=BrokerEngine.MOSQUITTO,
            data_dir=Path(tmp) / "broker",
            open_access=True,
        ) as broker,
    ):
        store_url = f"sqlite:///{Path(tmp) / 'store.sqlite'}"
        address = broker.address
        recorder = Recorder(RecorderSettings(address, store_url, client_id="bench-recorder"))
        recorder.start()
        workers = {n: _worker(address, store_url, n, lease_s, subscribe) for n in ("a", "b")}
        devices = [lossless_wearer(_SCRIPT, address, f"bench-{i:03d}", speed=speed, seed=i) for i in range(wearers)]
        runners = [threading.Thread(target=d.run) for d in devices]
        try:
            with Store(store_url) as store:
                # Both workers present before the wearers come, so that they share them.
                _wait(lambda: store.lease_census()[0] == 2, "both workers present")
                for runner in runners:
                    runner.start()
                _wait(lambda: len(store.leases()) == wearers, "every device leased")
                _wait(lambda: len(_statuses(store)) == wearers, "every device analysed")
                held = {d: lease.owner for d, lease in store.leases().items()}
                victim = max(("a", "b"), key=lambda n: sum(o == n for o in held.values()))
                survivor = "b" if victim == "a" else "a"
                moved = [d for d, o in held.items() if o == victim]
                workers[victim].send_signal(signal.SIGKILL)
                killed_s, killed_wall_s = time.monotonic(), time.time()
                _wait(lambda: all(store.leases()[d].owner == survivor for d in moved), "the leases to move")
                moved_s = time.monotonic() - killed_s
                _wait(
                    lambda: all(
                        (s := _statuses(store).get(d)) is not None and s[0] == survivor and s[1] > killed_wall_s
                        for d in moved
                    ),
                    "the moved devices analysed again",
                )
                resumed_s = time.monotonic() - killed_s
        finally:
            for d in devices:
                d.stop()
            for runner in runners:
                runner.join(60)
            for proc in workers.values():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                proc.wait(60)
            recorder.close()
    return FailoverResult(len(moved), moved_s, resumed_s)


def _statuses(store: Store) -> dict[str, tuple[str, float]]:
    """Each analysed device's worker and the wall-clock time of its last saved status."""
    found = {}
    for device_id in store.leases():
        saved = store.load_status(device_id)
        if saved is not None:
            found[device_id] = (str(saved[0].get("worker")), saved[1])
    return found


def standby_cost(wearers: int = 100, packets: int = 200) -> float:
    """Microseconds of :meth:`Worker.absorb` per packet of a device another worker holds."""
    with tempfile.TemporaryDirectory() as tmp:
        store_url = f"sqlite:///{Path(tmp) / 'store.sqlite'}"
        ids = [f"other-{i:03d}" for i in range(wearers)]
        with Store(store_url) as store:
            store.claim_leases("other", ids, 3600.0)
        worker = Worker(WorkerSettings(store_url=store_url, client_id="bench-standby"))
        acc = np.tile(np.array([0, 0, 4096], dtype=np.int16), (25, 1))
        messages = [
            Message(topic(d, Kind.IMU), encode(Batch(seq, 1.7e9 + seq / 2, 50.0, 1 / 4096, acc)), seq, 1, 0.0)
            for seq in range(packets)
            for d in ids
        ]
        worker.absorb(messages[:500])  # the first sight of each device: claimed, and refused
        timings = []
        for start in range(500, len(messages), 500):
            t0 = time.perf_counter()
            worker.absorb(messages[start : start + 500])
            worker.flush()
            timings.append((time.perf_counter() - t0) / len(messages[start : start + 500]))
        worker.store.close()
    return statistics.median(timings) * 1e6


def main(wearers: int, lease_s: float, speed: float, runs: int, subscribe: str = "all") -> str:
    """Run the failover ``runs`` times and the standby cost once; the lines to print."""
    results = [bench_failover(wearers, lease_s, speed, subscribe) for _ in range(runs)]
    lines = [
        f"run {i + 1}: {r.devices} devices moved in {r.moved_s:.2f} s, analysed again after {r.resumed_s:.2f} s"
        for i, r in enumerate(results)
    ]
    lines.append(
        f"failover with --lease-s {lease_s:g} --subscribe {subscribe}, {wearers} wearers at {speed:g}x: moved median "
        f"{statistics.median(r.moved_s for r in results):.2f} s (max {max(r.moved_s for r in results):.2f}), "
        f"analysed again median {statistics.median(r.resumed_s for r in results):.2f} s "
        f"(max {max(r.resumed_s for r in results):.2f})"
    )
    lines.append(f"standby cost: {standby_cost():.1f} us of worker CPU per packet of a device another worker holds")
    return "\n".join(lines)
