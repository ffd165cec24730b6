"""Workers sharing devices through leases, fed messages directly: who analyses what, and take-overs.

Each worker gets its own clock, moved by hand, for the renewal cadence; a lease is made
to expire by claiming it again for 0 s, never by waiting.
"""

from __future__ import annotations

import dataclasses

import pytest

from ingest.service import Message
from ingest.store import Store
from ingest.topics import Kind, topic
from ingest.worker import Worker, WorkerSettings
from tests.ingest.test_worker import DEVICE, packet_message


class Clock:
    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


def worker(store_url: str, name: str, clock: Clock) -> Worker:
    settings = WorkerSettings(store_url=store_url, client_id=f"w-{name}", worker_id=name, lease_s=10.0)
    return Worker(settings, clock=clock)


def packets(seqs: range, device_id: str = DEVICE) -> list[Message]:
    return [dataclasses.replace(packet_message(s), topic=topic(device_id, Kind.IMU)) for s in seqs]


def packets_counted(store_url: str) -> int:
    with Store(store_url) as store:
        return store.counters("worker").get(("worker", DEVICE, "packets"), 0)


def test_a_device_is_analysed_by_the_worker_that_claimed_it_first(any_store_url: str) -> None:
    """Both workers hear the device; the first to claim it analyses it, the other only keeps its messages."""
    clock = Clock()
    a, b = worker(any_store_url, "a", clock), worker(any_store_url, "b", clock)
    a.handle(packets(range(0, 4)))
    b.handle(packets(range(0, 4)))
    assert a.ownership.held == {DEVICE}
    assert b.ownership.held == set()
    assert DEVICE in a._wearers
    assert DEVICE not in b._wearers
    assert b.ownership.standby_messages() == 4
    a.close()
    b.close()


def test_a_take_over_goes_on_from_the_snapshot_with_the_kept_messages(any_store_url: str) -> None:
    """No recorder stores anything: the worker taking a device over catches up from the messages
    it kept, after the dead worker's last snapshot, and every packet is counted once."""
    clock_a, clock_b = Clock(), Clock()
    a, b = worker(any_store_url, "a", clock_a), worker(any_store_url, "b", clock_b)
    a.handle(packets(range(0, 40)))
    b.handle(packets(range(0, 40)))
    a.flush(force=True)  # a's last snapshot, after packet 39
    a.handle(packets(range(40, 60)))  # analysed, never saved: a dies here
    b.handle(packets(range(40, 60)))
    with Store(any_store_url) as store:
        store.claim_leases("a", [DEVICE], 0.0)  # a stopped renewing: its lease expires
    clock_b.now_s += 10.0  # b's next renewal is due
    b.handle(packets(range(60, 80)))
    assert b.ownership.held == {DEVICE}
    assert b._wearers[DEVICE].seq == 79
    b.close()
    assert packets_counted(any_store_url) == 80  # 40 in a's snapshot, 40 analysed by b
    with Store(any_store_url) as store:
        assert store.counters("worker").get(("worker", DEVICE, "gaps_skipped"), 0) == 0
        assert store.leases() == {}  # b let go of it as it closed


def test_a_worker_that_lost_its_lease_stops_analysing_and_saves_nothing(
    any_store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker stalled past its lease finds the device taken: it lets it go without writing over
    the new owner's state, and keeps its messages again."""
    clock_a, clock_b = Clock(), Clock()
    a, b = worker(any_store_url, "a", clock_a), worker(any_store_url, "b", clock_b)
    a.handle(packets(range(0, 20)))
    b.handle(packets(range(0, 20)))
    with Store(any_store_url) as store:
        store.claim_leases("a", [DEVICE], 0.0)
    clock_b.now_s += 10.0
    b.handle(packets(range(20, 30)))  # b takes it over from a's first snapshot
    assert b.ownership.held == {DEVICE}
    a.handle(packets(range(20, 30)))  # a wakes up; its save is refused
    a.flush(force=True)
    assert DEVICE not in a._wearers
    assert a.ownership.held == set()
    assert "another worker's now" in caplog.text
    b.close()
    a.close()
    with Store(any_store_url) as store:
        state = store.load_state(DEVICE)
    assert state is not None
    assert state.status["worker"] == "b"
    assert packets_counted(any_store_url) == 30


def test_workers_starting_together_split_the_fleet(any_store_url: str) -> None:
    """Two workers present before the wearers come each take a fair share, and a third
    worker's share is taken over when it dies; a worker alone takes them all."""
    clock = Clock()
    a, b = worker(any_store_url, "a", clock), worker(any_store_url, "b", clock)
    a.flush()  # both present (their first renewal)
    b.flush()
    fleet = [f"d{i}" for i in range(6)]
    burst = [m for d in fleet for m in packets(range(0, 2), d)]
    a.handle(burst)
    b.handle(burst)
    for _ in range(3):  # devices refused in a race are claimed at the next renewals
        clock.now_s += 10.0
        a.flush()
        b.flush()
    assert a.ownership.held | b.ownership.held == set(fleet)
    assert len(a.ownership.held) == len(b.ownership.held) == 3
    with Store(any_store_url) as store:
        store.claim_leases("b", [*b.ownership.held, "worker/b"], 0.0)  # b dies
    clock.now_s += 10.0
    a.flush()
    assert a.ownership.held == set(fleet)
    a.close()
    b.close()
