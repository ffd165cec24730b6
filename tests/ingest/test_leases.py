"""The device-lease contract, run on each backend: a SQLite file and a PostgreSQL database.

Expiry is tested with a lease of 0 s (expired as soon as it is written), never by
waiting on the wall clock.
"""

from __future__ import annotations

import threading

import pytest

from ingest.store import StateRow, Store
from ingest.store.leases import presence_key
from tests.support import tally


def test_a_free_device_is_taken_and_renewed(any_store_url: str) -> None:
    """A worker takes devices nobody holds, and renewing its own leases keeps them."""
    with Store(any_store_url) as store:
        assert store.claim_leases("w1", ["d1", "d2", "d1"], 5.0) == {"d1", "d2"}
        first = store.leases()["d1"]
        assert first.owner == "w1"
        assert 0 < first.expires_in_s <= 5.0
        assert store.claim_leases("w1", ["d1", "d2"], 60.0) == {"d1", "d2"}
        assert store.leases()["d1"].expires_in_s > 5.0  # renewed: pushed further out
        assert store.claim_leases("w1", [], 5.0) == set()


def test_a_held_device_is_refused_to_another_worker(any_store_url: str) -> None:
    """A lease that has not expired stays with its owner, and the refused claim changes nothing."""
    with Store(any_store_url) as store:
        store.claim_leases("w1", ["d1"], 60.0)
        assert store.claim_leases("w2", ["d1", "d2"], 60.0) == {"d2"}
        leases = store.leases()
        assert {d: lease.owner for d, lease in leases.items()} == {"d1": "w1", "d2": "w2"}
        assert leases["d1"].expires_in_s > 30.0  # untouched by w2's claim


def test_an_expired_lease_is_taken_over(any_store_url: str) -> None:
    """Once its owner stopped renewing it, another worker takes the device; the old owner's renewal then fails."""
    with Store(any_store_url) as store:
        store.claim_leases("w1", ["d1", "d2"], 0.0)  # expired as soon as written: w1 died
        store.claim_leases("w1", ["d2"], 60.0)  # ...but d2 it renewed in time
        assert store.claim_leases("w2", ["d1", "d2"], 60.0) == {"d1"}
        assert store.claim_leases("w1", ["d1", "d2"], 60.0) == {"d2"}
        assert {d: lease.owner for d, lease in store.leases().items()} == {"d1": "w2", "d2": "w1"}


def test_a_released_device_is_free_at_once(any_store_url: str) -> None:
    """A worker shutting down lets go of its leases: another takes them without waiting for expiry."""
    with Store(any_store_url) as store:
        store.claim_leases("w1", ["d1", "d2", "d3"], 60.0)
        store.claim_leases("w2", ["d4"], 60.0)
        store.release_leases("w1", ["d1"])
        assert store.claim_leases("w2", ["d1", "d2"], 60.0) == {"d1"}
        store.release_leases("w1")
        store.release_leases("w1", [])
        assert store.claim_leases("w2", ["d2", "d3"], 60.0) == {"d2", "d3"}
        store.release_leases("w1", ["d4"])  # not its lease: changes nothing
        assert store.leases()["d4"].owner == "w2"


def test_a_lapsed_lease_stays_expired_and_is_found_as_a_candidate(any_store_url: str) -> None:
    """Let go of by lapsing (workers subscribed to the devices they hold), a lease stays in the
    store, expired: the candidates of any worker include it, and of each worker its own leases."""
    with Store(any_store_url) as store:
        store.claim_leases("w1", ["d1", "d2", presence_key("w1")], 60.0)
        store.claim_leases("w2", ["d3"], 60.0)
        store.claim_leases("w3", ["d4"], 0.0)  # w3 died
        assert store.lease_candidates("w2") == {"d3", "d4"}
        store.release_leases("w1", ["d1"], lapse=True)
        leases = store.leases()
        assert leases["d1"].owner == "w1"
        assert leases["d1"].expires_in_s <= 0
        assert store.lease_candidates("w2") == {"d1", "d3", "d4"}
        assert store.lease_candidates("w1") == {"d1", "d2", "d4"}  # its own, never its presence
        store.release_leases("w1", lapse=True)  # all, its presence too: no longer counted alive
        assert store.lease_census() == (0, 4)
        assert store.claim_leases("w2", ["d1", "d2", "d4"], 60.0) == {"d1", "d2", "d4"}
        assert store.lease_candidates("w2") == {"d1", "d2", "d3", "d4"}
        assert store.lease_candidates("w1") == set()


def test_many_devices_are_claimed_in_one_call(any_store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A claim of more devices than fit in one statement takes them all, in one transaction."""
    monkeypatch.setattr("ingest.store.leases.CLAIM_CHUNK", 7)
    devices = [f"d{i:03d}" for i in range(30)]
    with Store(any_store_url) as store:
        store.claim_leases("w2", devices[10:12], 60.0)
        assert store.claim_leases("w1", devices, 60.0) == set(devices) - set(devices[10:12])


def test_a_renewal_keeps_the_held_and_takes_only_the_free(any_store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A renewal of many devices, some held (one of them expired, nobody took it), some
    free, some another worker holds: the held are renewed, the free taken, the others left."""
    monkeypatch.setattr("ingest.store.leases.CLAIM_CHUNK", 7)
    devices = [f"d{i:03d}" for i in range(30)]
    with Store(any_store_url) as store:
        store.claim_leases("w1", devices[:20], 60.0)
        store.claim_leases("w1", devices[:1], 0.0)  # expired, still w1's
        store.claim_leases("w2", devices[25:], 60.0)
        assert store.claim_leases("w1", devices, 30.0) == set(devices[:25])
        leases = store.leases()
        assert {leases[d].owner for d in devices[:25]} == {"w1"}
        assert all(10.0 < leases[d].expires_in_s <= 30.0 for d in devices[:25])  # all renewed to 30 s
        assert {leases[d].owner for d in devices[25:]} == {"w2"}
        assert all(leases[d].expires_in_s > 30.0 for d in devices[25:])  # untouched


def test_workers_racing_for_free_devices_get_each_device_once(any_store_url: str) -> None:
    """Four workers claiming the same free devices at once: each device goes to exactly one of them."""
    devices = [f"d{i}" for i in range(40)]
    won: dict[str, set[str]] = {}
    start = threading.Barrier(4)

    def claim(owner: str) -> None:
        with Store(any_store_url) as store:
            start.wait()
            won[owner] = store.claim_leases(owner, devices, 60.0)

    with Store(any_store_url):
        pass  # the schema, made before the race
    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(d for held in won.values() for d in held) == sorted(devices)
    with Store(any_store_url) as store:
        owners = {d: lease.owner for d, lease in store.leases().items()}
    assert all(d in won[owner] for d, owner in owners.items())


def test_a_save_is_refused_for_the_devices_another_worker_took(any_store_url: str) -> None:
    """A worker that stalled past its lease cannot write over the state (or the counts) of the
    worker that took its device over; it learns which devices it lost."""
    rows = [StateRow("d1", 9, {"v": 1}, {"worker": "w1"}), StateRow("d2", 9, {"v": 1}, {"worker": "w1"})]
    counts = tally("worker", {("d1", "packets"): 5, ("d2", "packets"): 5})
    with Store(any_store_url) as store:
        store.claim_leases("w1", ["d1", "d2"], 0.0)
        store.claim_leases("w2", ["d1"], 60.0)  # w1's lease of d1 expired and w2 took it
        assert store.save_states(rows, counts=counts, owner="w1") == {"d1"}
        assert store.load_state("d1") is None
        state = store.load_state("d2")
        assert state is not None
        assert state.seq == 9
        assert store.counters("worker") == {("worker", "d2", "packets"): 5}
        left = tally("worker", {("d1", "packets"): 3})  # held by w1 since d1 left its rows
        assert store.save_states([], counts=left, owner="w1") == set()
        assert store.counters("worker") == {("worker", "d2", "packets"): 5}
        assert store.save_states(rows[:1], owner="w2") == set()
        assert store.save_states(rows[:1]) == set()  # no owner named: saved as before


def test_the_census_counts_live_workers_and_leased_devices(any_store_url: str) -> None:
    """Presence leases count the workers alive and are no device's; an expired presence is a dead worker."""
    with Store(any_store_url) as store:
        assert store.lease_census() == (0, 0)
        store.claim_leases("w1", ["d1", "d2", presence_key("w1")], 60.0)
        store.claim_leases("w2", ["d3", presence_key("w2")], 0.0)  # w2 died
        assert store.lease_census() == (1, 3)
        assert set(store.leases()) == {"d1", "d2", "d3"}
        assert store.claimable(["d1", "d3", "d9"]) == {"d3", "d9"}
        assert store.claimable([]) == set()
