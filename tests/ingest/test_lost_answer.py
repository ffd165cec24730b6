"""A commit the database made durable, whose answer a crash cut off, is written again and counted once.

The server commits, then the connection fails before the service hears back, as when
the server crashes at that instant: the service sees a ``StoreError``, holds what it
wrote and writes it again with its loop's backoff. Packets and events are written once
per key; the counts (packets analysed, packets stored, bad packets...) are added once
per save token (``ingest.tally``). Run on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.errors import StoreError
from ingest.recorder import Recorder, RecorderSettings
from ingest.service import Message, MqttService
from ingest.store import Store
from ingest.tally import Tally, writer_id
from ingest.topics import Kind, topic
from ingest.worker import Worker, WorkerSettings
from tests.ingest.test_worker import DEVICE, packet_message

pytestmark = pytest.mark.both_stores


class LostAnswers:
    """Cuts off the answer of the next commits of a store that insert into a table.

    The ``COMMIT`` runs on the server; then the connection is closed and the driver's
    own ``OperationalError`` raised, as a server crashing before its answer leaves.

    Args:
        store: The store whose connections to cut.
        table: The table (``counters``: the transactions that add to the counters).
    """

    def __init__(self, store: Store, table: str = "counters") -> None:
        self.left = 0  # commits still to cut
        self.cut = 0  # commits cut so far
        self._insert = f"INSERT INTO {table} "
        self._adding = False  # the transaction under way inserts into the table
        self._dbapi = store._engine.dialect.loaded_dbapi
        sa.event.listen(store._engine, "after_cursor_execute", self._after)

    def _after(self, conn: sa.Connection, cursor: Any, statement: str, *_: object) -> None:
        if statement.startswith(self._insert):
            self._adding = True
        elif statement == "COMMIT":
            adding, self._adding = self._adding, False
            if adding and self.left:
                self.left -= 1
                self.cut += 1
                conn.connection.dbapi_connection.close()  # type: ignore[union-attr]
                raise self._dbapi.OperationalError("server closed the connection unexpectedly")


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The loop tries a failed write again after 10 ms instead of its usual backoff."""
    monkeypatch.setattr("ingest.service.CONNECT_RETRY_MIN_S", 0.01)


def messages() -> list[Message]:
    """40 packets of a wearer, one of them sent twice, and a bad packet."""
    bad = Message(topic(DEVICE, Kind.IMU), b"\x01garbage", 0, 1, 0.0)
    packets = [packet_message(s) for s in range(40)]
    return [*packets[:20], bad, packet_message(3), *packets[20:]]


def counters(url: str) -> dict[tuple[str, str, str], int]:
    with Store(url) as store:
        return store.counters()


def take_in_and_save(service: MqttService, *, force: bool = False) -> None:
    """What the service loop does with a batch: take it in, then save until it is saved."""
    service.absorb(messages())
    flush = functools.partial(service.flush, force=True) if force else service.flush
    assert service._until_done(flush, "saving")


def test_a_worker_s_counts_are_added_once_when_the_answer_of_their_commit_was_lost(
    store_url: str, tmp_path: Path
) -> None:
    """The save of the snapshot with its packets analysed, then the save of the other
    counts: each commits and loses its answer; the worker saves again and its counters
    are those of a worker that saw no failure."""
    calm_url = f"sqlite:///{tmp_path / 'calm.sqlite'}"
    calm = Worker(WorkerSettings(store_url=calm_url, reorder_wait_s=3600))
    take_in_and_save(calm, force=True)
    calm.store.close()
    worker = Worker(WorkerSettings(store_url=store_url, reorder_wait_s=3600))
    lost = LostAnswers(worker.store)
    lost.left = 2
    take_in_and_save(worker, force=True)
    worker.flush(force=True)  # the loop's next turn: nothing held, nothing written twice
    worker.store.close()
    assert lost.cut == worker.store_failures == 2
    assert counters(store_url) == counters(calm_url)
    assert counters(store_url)[("worker", DEVICE, "packets")] == 40
    assert counters(store_url)[("worker", DEVICE, "duplicates")] == 1


def test_a_recorder_s_counts_are_added_once_when_the_answer_of_their_commit_was_lost(store_url: str) -> None:
    """The recorder's packets are stored once, and its counts, written again, added once."""
    recorder = Recorder(RecorderSettings(store_url=store_url))
    lost = LostAnswers(recorder.store)
    lost.left = 1
    take_in_and_save(recorder)
    recorder.flush()
    recorder.store.close()
    assert lost.cut == recorder.store_failures == 1
    assert counters(store_url) == {
        ("recorder", DEVICE, "stored"): 40,
        ("recorder", DEVICE, "duplicates"): 1,
        ("recorder", DEVICE, "bad_packets"): 1,
    }


def test_packets_whose_commit_lost_its_answer_are_counted_stored_not_duplicated(store_url: str) -> None:
    """The recorder's write of the packets commits and loses its answer: written again,
    they are already there, and count as stored (with no gap), not as duplicates; the one
    sent twice still counts as a duplicate."""
    recorder = Recorder(RecorderSettings(store_url=store_url))
    lost = LostAnswers(recorder.store, "batches")
    lost.left = 1
    take_in_and_save(recorder)
    recorder.absorb([packet_message(40)])  # the stream goes on: no gap before it
    recorder.flush()
    recorder.store.close()
    assert lost.cut == recorder.store_failures == 1
    assert counters(store_url) == {
        ("recorder", DEVICE, "stored"): 41,
        ("recorder", DEVICE, "duplicates"): 1,
        ("recorder", DEVICE, "bad_packets"): 1,
    }
    assert (recorder.stats.stored, recorder.stats.duplicates, recorder.stats.gaps) == (41, 1, 0)


def test_an_event_whose_commit_lost_its_answer_is_published_once(store_url: str) -> None:
    """A user action's event is stored, and the answer lost: written again, the store
    says it was there, and the worker publishes it from the store, once."""
    worker = Worker(WorkerSettings(store_url=store_url, reorder_wait_s=3600))
    lost = LostAnswers(worker.store, "events")
    lost.left = 1
    snooze = Message(topic(DEVICE, Kind.ACTION), b'{"action": "snooze", "id": "a7"}', 7, 1, 0.0)
    worker.absorb([packet_message(0), snooze])
    assert worker._until_done(worker.flush, "saving")
    worker.flush()  # the loop's next turn
    worker.store.close()
    assert lost.cut == worker.store_failures == 1
    published = list(worker.events.in_flight())
    assert [(key[0], key[1], key[3]) for key in published] == [(DEVICE, "action", "a7")]


class FailedWrites(LostAnswers):
    """:class:`LostAnswers`, and also writes that fail before their commit (rolled back)."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.before = 0  # writes still to fail before their commit

    def _after(self, conn: sa.Connection, cursor: Any, statement: str, *rest: object) -> None:
        if statement.startswith(self._insert) and self.before:
            self.before -= 1
            raise self._dbapi.OperationalError("disk I/O error")
        super()._after(conn, cursor, statement, *rest)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.dictionaries(st.sampled_from(["d1", "d2", "*"]), st.integers(0, 5), max_size=3),
            st.sampled_from(["ok", "failed", "lost"]),
        ),
        max_size=12,
    )
)
def test_counts_held_through_any_failures_are_added_exactly_once(
    tmp_path_factory: pytest.TempPathFactory, writes: list[tuple[dict[str, int], str]]
) -> None:
    """Counts held, then written with each write ending well, failing before its commit
    or losing its answer after it, and tried again at the next: once a write ends well,
    the counters hold every count held so far, once."""
    url = f"sqlite:///{tmp_path_factory.mktemp('tally') / 'store.sqlite'}"
    held: Counter[tuple[str, str]] = Counter()
    with Store(url) as store:
        faults = FailedWrites(store)
        tally = Tally("worker", writer_id("w"))
        for counts, outcome in writes:
            batch = {(device, "packets"): n for device, n in counts.items()}
            tally.hold(batch)
            held.update(batch)
            faults.before, faults.left = outcome == "failed", outcome == "lost"
            try:
                store.add_counts(tally)
                tally.written()
            except StoreError:
                assert outcome != "ok"
        faults.before = faults.left = 0
        store.add_counts(tally)
        tally.written()
        stored = {(d, n): v for (_, d, n), v in store.counters("worker").items()}
    assert stored == {key: n for key, n in held.items() if n}
