"""Several analysis workers sharing a fleet through device leases, on mosquitto and a SQLite
store: each device analysed by one worker, moved to the other when its worker is killed, and
handed over in part to a worker that starts later."""

from __future__ import annotations

import collections
import itertools
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.failover import lossless_wearer
from firmware_sim.device import Device
from ingest.mqtt import BrokerAddress
from ingest.recorder import Recorder, RecorderSettings
from ingest.service import probe_topic
from ingest.store import Store
from tests.e2e.helpers import SIT_ON, ProbeLog
from tests.support import wait_until

pytestmark = pytest.mark.e2e

WEARERS = [f"fleet-{i:02d}" for i in range(4)]
#: Short leases keep the test quick: a killed worker's devices move within about 4/3 of it.
LEASE_S = 2.0
#: Device seconds per wall-clock second of each wearer: 34 min in ~17 s.
SPEED = 120.0
#: Messages a worker keeps per device the other holds: the 10 s between two snapshots and
#: 4/3 of a lease of a wearer streaming at 120x (240 packets per second), so that a
#: take-over never depends on how far behind the recorder is on a busy machine.
STANDBY_MESSAGES = 4000


def wearer(broker: BrokerAddress, device_id: str, seed: int) -> Device:
    """A simulated wearable that walks 2 min, then sits on for the rest of 34 min."""
    return lossless_wearer(SIT_ON.truncated(34 * 60.0), broker, device_id, speed=SPEED, seed=seed)


def worker_process(broker: BrokerAddress, store_url: str, name: str, subscribe: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "ingest.cli", "worker", "--broker", broker.url, "--store", store_url]
    options = ["--worker-id", name, "--lease-s", str(LEASE_S), "--standby-messages", str(STANDBY_MESSAGES)]
    return subprocess.Popen([*cmd, "--client-id", f"e2e-worker-{name}", "--subscribe", subscribe, *options])


@pytest.fixture(params=["all", "held"])
def subscribe(request: pytest.FixtureRequest) -> str:
    """How the workers subscribe: to every device's packets, or only to those of the devices each holds."""
    return str(request.param)


@pytest.fixture
def workers(
    mosquitto_broker: BrokerAddress, store_url: str, subscribe: str
) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    """Two worker processes, both subscribed before the test goes on."""
    probes = ProbeLog(mosquitto_broker)
    procs = {name: worker_process(mosquitto_broker, store_url, name, subscribe) for name in ("a", "b")}
    try:
        wait_until(
            lambda: probes.heard >= {probe_topic(f"e2e-worker-{n}") for n in procs}, what="both workers subscribed"
        )
        probes.close()
        yield procs
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            proc.wait(30)


def owners(store_url: str) -> dict[str, str]:
    """Who holds each device's lease now (a lease let go of with ``--subscribe held`` stays, expired)."""
    with Store(store_url) as store:
        return {d: lease.owner for d, lease in store.leases().items() if lease.expires_in_s > 0}


def analysed_by(store_url: str) -> dict[str, str]:
    """The worker that saved each device's live status last."""
    with Store(store_url) as store:
        return {d: str(s.status["worker"]) for d in WEARERS if (s := store.load_state(d)) is not None}


def saved_seq(store_url: str, device_id: str) -> int:
    with Store(store_url) as store:
        state = store.load_state(device_id)
    return -1 if state is None else state.seq


def events(store_url: str, device_id: str, kind: str) -> list[dict[str, object]]:
    with Store(store_url) as store:
        return [e.body for e in store.events(device_id, kinds=[kind])]


def _all_analysed(
    runners: list[threading.Thread], wearables: list[Device], recorder: Recorder, store_url: str
) -> dict[str, int]:
    """Wait until the wearers have sent everything and each packet is stored and analysed; the packets sent."""
    for runner in runners:
        runner.join(180)
    sent = {d: w.stats.packets_sent for d, w in zip(WEARERS, wearables, strict=True)}
    wait_until(lambda: recorder.stats.stored == sum(sent.values()), what="every packet stored")
    for device_id, n in sent.items():  # snapshots are saved every 10 s of wall clock
        wait_until(lambda d=device_id, n=n: saved_seq(store_url, d) == n - 1, what=f"{device_id} analysed")
    return sent


def test_a_killed_workers_devices_move_to_the_other_and_lose_no_sample(
    mosquitto_broker: BrokerAddress,
    store_url: str,
    workers: dict[str, subprocess.Popen[bytes]],
    subscribe: str,
    tmp_path: Path,
) -> None:
    """Two workers share four wearers, each device analysed by one of them. The worker with
    the most devices is killed mid-bout: its devices move to the other within seconds, each
    running sitting bout goes on (the alert comes 30 min after sitting down), and every
    packet is analysed exactly once."""
    recorder = Recorder(RecorderSettings(mosquitto_broker, store_url, client_id="e2e-recorder"))
    recorder.start()
    wearables = [wearer(mosquitto_broker, d, seed=7 + i) for i, d in enumerate(WEARERS)]
    runners = [threading.Thread(target=w.run) for w in wearables]
    for runner in runners:
        runner.start()
    try:
        wait_until(lambda: set(analysed_by(store_url)) == set(WEARERS), what="every wearer analysed")
        for device_id in WEARERS:
            wait_until(lambda d=device_id: len(events(store_url, d, "sitting_started")) == 1, what="sitting")
        held = owners(store_url)
        assert set(held) == set(WEARERS)
        assert set(held.values()) == {"a", "b"}  # the fleet is shared
        wait_until(lambda: analysed_by(store_url) == held, what="each device's status saved by its owner")
        victim = max(("a", "b"), key=lambda n: sum(o == n for o in held.values()))
        survivor = "b" if victim == "a" else "a"
        moved = sorted(d for d, o in held.items() if o == victim)
        # Mid-bout: about 5 min of sitting stored for every wearer (2 packets per device second).
        wait_until(lambda: recorder.stats.stored > len(WEARERS) * (120 + 300) * 2, what="5 min of sitting for everyone")
        workers[victim].send_signal(signal.SIGKILL)  # a crash: no goodbye, no last save, leases left to expire
        killed_s = time.monotonic()
        workers[victim].wait(10)
        wait_until(lambda: all(owners(store_url).get(d) == survivor for d in moved), what="the devices to move")
        failover_s = time.monotonic() - killed_s
        wait_until(lambda: set(analysed_by(store_url).values()) == {survivor}, what="the survivor to analyse all")
        print(f"failover of {len(moved)} devices: {failover_s:.2f} s after the kill (lease {LEASE_S:.0f} s)")
        sent = _all_analysed(runners, wearables, recorder, store_url)
        workers[survivor].send_signal(signal.SIGTERM)  # a clean stop saves every device's state
        assert workers[survivor].wait(60) == 0
    finally:
        for w in wearables:
            w.stop()
        recorder.close()
    with Store(store_url) as store:
        counted = store.counters("worker")
        # The survivor let go of its leases as it stopped (held: left expired, to be found in the store).
        assert (
            all(lease.expires_in_s <= 0 for lease in store.leases().values())
            if subscribe == "held"
            else not store.leases()
        )
        for device_id, n in sent.items():
            state = store.load_state(device_id)
            assert state is not None
            assert state.seq == n - 1, device_id  # analysed up to its last packet
            # Each packet analysed exactly once in the chain of saved snapshots: a packet
            # lost in the move would count short, one analysed by both workers twice.
            assert ("worker", device_id, "gaps_skipped") not in counted
            assert counted[("worker", device_id, "packets")] == n, device_id
    for device_id in WEARERS:
        (started,) = events(store_url, device_id, "sitting_started")
        (alert,) = events(store_url, device_id, "alert")
        assert alert["sitting_since_s"] == started["t_s"], device_id  # the same bout, resumed
        bout_s = float(alert["t_s"]) - float(started["t_s"])  # type: ignore[arg-type]
        assert 30 * 60 <= bout_s <= 30 * 60 + 60, device_id
        bouts = events(store_url, device_id, "posture_bout")
        for before, after in itertools.pairwise(bouts):
            assert after["start_s"] == before["end_s"], device_id  # no sample lost or doubled between bouts


def test_a_worker_that_starts_later_is_handed_half_the_fleet(
    mosquitto_broker: BrokerAddress, store_url: str, subscribe: str
) -> None:
    """Worker a alone analyses four wearers; worker b starts mid-stream. Within seconds each
    holds two (a saves the state of the two it hands over, b goes on from it), each running
    sitting bout goes on, and every packet is analysed exactly once."""
    recorder = Recorder(RecorderSettings(mosquitto_broker, store_url, client_id="e2e-recorder"))
    recorder.start()
    probes = ProbeLog(mosquitto_broker)
    procs = {"a": worker_process(mosquitto_broker, store_url, "a", subscribe)}
    wearables = [wearer(mosquitto_broker, d, seed=7 + i) for i, d in enumerate(WEARERS)]
    runners = [threading.Thread(target=w.run) for w in wearables]
    try:
        wait_until(lambda: probe_topic("e2e-worker-a") in probes.heard, what="worker a subscribed")
        for runner in runners:
            runner.start()
        wait_until(lambda: set(owners(store_url).values()) == {"a"} and len(owners(store_url)) == 4, what="a has all")
        procs["b"] = worker_process(mosquitto_broker, store_url, "b", subscribe)
        wait_until(lambda: probe_topic("e2e-worker-b") in probes.heard, what="worker b subscribed")
        started_s = time.monotonic()
        wait_until(lambda: sorted(collections.Counter(owners(store_url).values()).items()) == [("a", 2), ("b", 2)],
                   what="two devices each")  # fmt: skip
        rebalanced_s = time.monotonic() - started_s
        wait_until(lambda: sorted(collections.Counter(analysed_by(store_url).values()).values()) == [2, 2],
                   what="each device's status saved by its new owner")  # fmt: skip
        print(f"rebalanced 4 devices to 2 + 2: {rebalanced_s:.2f} s after worker b subscribed (lease {LEASE_S:.0f} s)")
        sent = _all_analysed(runners, wearables, recorder, store_url)
        held = owners(store_url)
        assert sorted(collections.Counter(held.values()).values()) == [2, 2]  # and it stayed so
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)  # a clean stop saves every device's state
        for proc in procs.values():
            assert proc.wait(60) == 0
    finally:
        probes.close()
        for w in wearables:
            w.stop()
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
        recorder.close()
    with Store(store_url) as store:
        counted = store.counters("worker")
    for device_id, n in sent.items():
        # Each packet analysed exactly once in the chain of saved snapshots, across the hand-over.
        assert ("worker", device_id, "gaps_skipped") not in counted
        assert counted[("worker", device_id, "packets")] == n, device_id
        (started,) = events(store_url, device_id, "sitting_started")
        (alert,) = events(store_url, device_id, "alert")
        assert alert["sitting_since_s"] == started["t_s"], device_id  # the same bout, handed over
        bouts = events(store_url, device_id, "posture_bout")
        for before, after in itertools.pairwise(bouts):
            assert after["start_s"] == before["end_s"], device_id
    assert counted[("worker", "*", "handed_over")] == 2
