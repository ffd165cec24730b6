"""A store that is locked (another writer, a backup, a migration) or full loses nothing.

Each service takes a batch in once and holds what it could not write; writing again
once the store is free gives exactly what an undisturbed service writes, and nothing
is counted twice. Real SQLite files, locked by a second connection or out of pages
(``tests.support.FullDisk``: SQLite's own "database or disk is full").
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ingest.errors import StoreError
from ingest.recorder import Recorder, RecorderSettings
from ingest.service import Message
from ingest.store import BatchRow, Store, parse_store_url
from ingest.topics import Kind, topic
from ingest.worker import Worker, WorkerSettings
from tests.analysis.conftest import synth
from tests.ingest.test_worker import DEVICE, packet_messages
from tests.support import FullDisk


@pytest.fixture(autouse=True)
def short_busy_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give up on a locked database after 50 ms instead of 10 s."""
    monkeypatch.setattr("ingest.store.base.BUSY_TIMEOUT_MS", 50)


@pytest.fixture
def messages() -> list[Message]:
    """A thigh wearer walking, then sitting, a bad packet and a status among the packets."""
    t, acc = synth([("walking", 30.0), ("sitting", 60.0), ("walking", 20.0)], rate_hz=50.0, t0_s=1.7e9)
    packets = packet_messages(t, acc)
    bad = Message(topic(DEVICE, Kind.IMU), b"\x01garbage", 0, 1, 0.0)
    status = Message(topic(DEVICE, Kind.STATUS), b'{"placement": "thigh", "battery": 0.9}', 0, 1, 0.0)
    return [status, *packets[:100], bad, *packets[100:]]


class Lock:
    """A second connection holding the write lock of a store."""

    error = "locked"

    def __init__(self, store_url: str) -> None:
        self.db = sqlite3.connect(str(parse_store_url(store_url).path), isolation_level=None)
        self.db.execute("BEGIN EXCLUSIVE")

    def release(self) -> None:
        self.db.execute("ROLLBACK")
        self.db.close()


class Full:
    """The disk of a store is full: no write that needs a new page succeeds."""

    error = "database or disk is full"

    def __init__(self, store_url: str, disk: FullDisk) -> None:
        self.disk = disk
        disk.fill()

    def release(self) -> None:
        self.disk.free()


@pytest.fixture
def disk() -> Iterator[FullDisk]:
    full = FullDisk()
    yield full
    full.close()


def url(tmp_path: Path, name: str) -> str:
    return f"sqlite:///{tmp_path / name}"


def written(store_url: str) -> tuple[object, ...]:
    """Everything the services wrote, without wall-clock times."""
    with Store(store_url) as store:
        state = store.load_state(DEVICE)
        assert state is not None
        return (
            store.seqs(DEVICE),
            [e.body for e in store.events(DEVICE)],
            store.counters(),
            store.devices(),
            state.seq,
            state.snapshot,
        )


def run(
    store_url: str, messages: list[Message], *, fault: Callable[[str], Lock | Full] | None = None
) -> tuple[Recorder, Worker]:
    recorder = Recorder(RecorderSettings(store_url=store_url))
    worker = Worker(WorkerSettings(store_url=store_url, reorder_wait_s=3600))
    if fault is not None:
        outage = fault(store_url)
        for service in (recorder, worker):
            service.absorb(messages)
            for _ in range(2):
                with pytest.raises(StoreError, match=outage.error):
                    service.flush()
        outage.release()
        recorder.flush()
        worker.flush(force=True)
    else:
        recorder.handle(messages)
        worker.absorb(messages)
        worker.flush(force=True)
    recorder.flush()  # the loop's next ticks: nothing is held any more, nothing is written twice
    worker.flush(force=True)
    return recorder, worker


@pytest.mark.parametrize("outage", ["locked", "full"])
def test_what_could_not_be_written_is_written_once_the_store_is_free(
    tmp_path: Path, messages: list[Message], outage: str, disk: FullDisk
) -> None:
    """Locked by another writer, or out of disk space: each service fails its writes, holds
    what it took in, and writes it once when the store is back; the same as undisturbed."""
    fault = Lock if outage == "locked" else functools.partial(Full, disk=disk)
    calm_recorder, calm_worker = run(url(tmp_path, "calm.sqlite"), messages)
    recorder, worker = run(url(tmp_path, "outage.sqlite"), messages, fault=fault)
    try:
        assert written(url(tmp_path, "outage.sqlite")) == written(url(tmp_path, "calm.sqlite"))
        assert recorder.stats == calm_recorder.stats
        assert recorder.stats.bad_packets == 1
        assert recorder.stats.duplicates == 0
        with Store(url(tmp_path, "outage.sqlite")) as store:
            counters = store.counters()
            assert [e.body["kind"] for e in store.events(DEVICE, kinds=["sitting_started"])] == ["sitting_started"]
        assert ("worker", DEVICE, "duplicates") not in counters
    finally:
        for service in (calm_recorder, calm_worker, recorder, worker):
            service.store.close()


def test_a_write_on_a_full_disk_is_refused_whole_and_done_once_space_is_back(tmp_path: Path, disk: FullDisk) -> None:
    """SQLITE_FULL is a StoreError that names the cause; the transaction is rolled back
    (no packet of the batch is stored), and the same write succeeds once space is back."""
    rows = [BatchRow(DEVICE, seq, 1.7e9 + seq / 2, 25, 50.0, bytes(178)) for seq in range(200)]
    with Store(url(tmp_path, "full.sqlite")) as store:
        disk.fill()
        with pytest.raises(StoreError, match="database or disk is full"):
            store.add_batches(rows)
        assert store.seqs(DEVICE) == []
        disk.free()
        assert store.add_batches(rows) == [True] * len(rows)
        assert store.seqs(DEVICE) == list(range(200))
