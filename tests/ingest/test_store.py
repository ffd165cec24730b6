"""The store's contract, run on each backend: a SQLite file and a PostgreSQL database.

Every test takes ``any_store_url`` (tests/conftest.py), so the same statements are
checked on both; the PostgreSQL runs skip where PostgreSQL is not installed (and fail
where ``SITLESS_REQUIRE_POSTGRES=1``).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from ingest.errors import StoreError
from ingest.store import (
    SCHEMA_VERSION,
    Backend,
    BatchRow,
    StateRow,
    Store,
    event_key,
    parse_store_url,
)
from ingest.store.base import SAVE_TOKEN_KEEP_S
from ingest.tally import Tally, writer_id
from tests.postgres import PostgresServer
from tests.support import tally


def batch(seq: int, device_id: str = "d1") -> BatchRow:
    return BatchRow(device_id, seq, 1.7e9 + seq / 2, 25, 50.0, bytes([seq % 256]) * 8)


def test_a_batch_is_stored_once_and_the_call_says_which_were_new(any_store_url: str) -> None:
    """A redelivered packet, in the same call or a later one, is not stored again."""
    with Store(any_store_url) as store:
        assert store.add_batches([batch(0), batch(1), batch(1)]) == [True, True, False]
        assert store.add_batches([batch(1), batch(2), batch(0, "d2")]) == [False, True, True]
        assert store.add_batches([]) == []
        assert store.seqs("d1") == [0, 1, 2]
        assert list(store.batches("d1")) == [batch(0), batch(1), batch(2)]


def test_batches_are_read_in_order_page_by_page(any_store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading after a seq and up to a limit crosses pages without losing or repeating one."""
    monkeypatch.setattr("ingest.store.packets.BATCH_PAGE", 3)
    with Store(any_store_url) as store:
        store.add_batches([batch(s) for s in (7, 0, 3, 1, 2, 9, 4, 5)])
        assert [b.seq for b in store.batches("d1")] == [0, 1, 2, 3, 4, 5, 7, 9]
        assert [b.seq for b in store.batches("d1", after_seq=2, limit=4)] == [3, 4, 5, 7]
        assert list(store.batches("nobody")) == []


def test_gaps_and_the_highest_seq_come_from_what_is_stored(any_store_url: str) -> None:
    """0-2, 5, 9: two gaps; a late packet closes its gap."""
    with Store(any_store_url) as store:
        assert store.max_seq("d1") is None
        store.add_batches([batch(s) for s in (0, 1, 2, 5, 9)])
        assert store.gaps("d1") == [(3, 4), (6, 8)]
        assert store.max_seq("d1") == 9
        assert store.max_seq("d1", below=9) == 5
        store.add_batches([batch(3), batch(4)])
        assert store.gaps("d1") == [(6, 8)]
        assert store.max_seq("d1", below=2**63 - 1) == 9


def test_counters_add_up(any_store_url: str) -> None:
    """Counts are added to what is stored, per service, device and name."""
    with Store(any_store_url) as store:
        store.add_counts(tally("recorder", {("d1", "packets"): 3, ("*", "bad"): 1}))
        store.add_counts(tally("recorder", {("d1", "packets"): 2}))
        store.add_counts(tally("worker", {("d1", "packets"): 7}))
        store.add_counts(tally("worker", {}))
        assert store.counters("recorder") == {("recorder", "d1", "packets"): 5, ("recorder", "*", "bad"): 1}
        assert store.counters()[("worker", "d1", "packets")] == 7
        assert len(store.counters()) == 3
        store.add_counts(tally("worker", {("d2", "packets"): 4}))
        assert store.counters(device_id="d1") == {("recorder", "d1", "packets"): 5, ("worker", "d1", "packets"): 7}
        assert store.counters("worker", device_id="d2") == {("worker", "d2", "packets"): 4}
        assert store.counters(device_id="nobody") == {}


def test_counts_written_again_under_the_same_token_are_added_once(any_store_url: str) -> None:
    """A write tried again after its answer was lost sends the same batches: they are not
    added again, whether by ``add_counts`` or with a save, and the batches held since are."""
    with Store(any_store_url) as store:
        counts = tally("recorder", {("d1", "packets"): 3, ("*", "bad"): 1})
        store.add_counts(counts)
        store.add_counts(counts)  # committed, its answer lost: the service writes it again
        assert store.counters() == {("recorder", "d1", "packets"): 3, ("recorder", "*", "bad"): 1}
        counts.hold({("d1", "packets"): 2})  # held since: the retry carries both batches
        store.add_counts(counts)
        assert store.counters("recorder") == {("recorder", "d1", "packets"): 5, ("recorder", "*", "bad"): 1}
        packets = tally("worker", {("d1", "packets"): 11})
        for _ in range(3):
            store.save_states([StateRow("d1", 10, {"v": 1}, {})], counts=packets, owner=None)
        assert store.counters("worker") == {("worker", "d1", "packets"): 11}


def test_counts_under_different_tokens_are_all_added(any_store_url: str) -> None:
    """Each new batch is added, and so is each writer's: two runs of a service, or two
    workers, number their batches from 1 and never take each other's for a repeat."""
    with Store(any_store_url) as store:
        counts = tally("worker", {("d1", "packets"): 4})
        store.add_counts(counts)
        counts.written()
        counts.hold({("d1", "packets"): 4})
        store.add_counts(counts)
        other = Tally("worker", writer_id("another worker"))
        other.hold({("d1", "packets"): 4})
        store.add_counts(other)
        store.save_states([], counts=tally("worker", {("d1", "packets"): 4}), owner=None)
        assert store.counters() == {("worker", "d1", "packets"): 16}


def test_a_writer_s_first_write_deletes_the_tokens_of_writers_long_silent(any_store_url: str) -> None:
    """Runs of the services that ended leave one token row each, deleted once silent for
    SAVE_TOKEN_KEEP_S; a writer still writing keeps its own."""
    with Store(any_store_url) as store:
        for run in range(3):
            store.add_counts(tally("recorder", {("d1", "packets"): run + 1}))
        live = tally("worker", {("d1", "packets"): 1})
        store.add_counts(live)
        age(any_store_url, SAVE_TOKEN_KEEP_S + 60)  # a month later: three runs ended, one goes on
        live.hold({("d1", "packets"): 1})
        store.add_counts(live)  # not its first write: deletes nothing
        assert len(tokens(any_store_url)) == 4
        store.add_counts(tally("recorder", {("d1", "packets"): 4}))
        assert sorted(t for _, t in tokens(any_store_url)) == [1, 2]
        assert store.counters() == {("recorder", "d1", "packets"): 10, ("worker", "d1", "packets"): 2}


DAY_S = 86_400.0


def stored_days_ago(url: str, device_id: str, seqs: range, days: float) -> None:
    """Make the packets ``seqs`` of a device look stored ``days`` ago."""
    engine = sa.create_engine(parse_store_url(url).url)
    with engine.begin() as db:
        db.execute(
            sa.text("UPDATE batches SET received_s = received_s - :s WHERE device_id = :d AND seq >= :a AND seq < :z"),
            {"s": days * DAY_S, "d": device_id, "a": seqs.start, "z": seqs.stop},
        )
    engine.dispose()


@pytest.mark.parametrize("page", [7, 1000])
def test_pruning_deletes_only_old_packets_the_worker_has_analysed(any_store_url: str, page: int) -> None:
    """Packets stored more than the days kept go once the device's saved state includes
    them; newer ones, ones not analysed yet (after the state's seq, or of a device no
    worker analysed) and a late packet among old ones stay, and so do events and states."""
    with Store(any_store_url) as store:
        store.add_batches([batch(seq) for seq in range(100)] + [batch(seq, "d2") for seq in range(20)])
        stored_days_ago(any_store_url, "d1", range(0, 30), 3.0)
        stored_days_ago(any_store_url, "d1", range(31, 80), 3.0)  # 30 came late: stored just now
        stored_days_ago(any_store_url, "d2", range(0, 20), 3.0)
        store.save_state("d1", 59, snapshot={"k": 1}, status={"t_s": 1.7e9})
        store.add_events("d1", [{"kind": "alert", "t_s": 1.7e9, "alert": "sit_too_long"}])
        assert store.prune_batches(2 * DAY_S, page=page) == 59  # 0..59 but the late 30
        assert store.seqs("d1") == [30, *range(60, 100)]
        assert store.seqs("d2") == list(range(20))  # never analysed
        assert len(store.events("d1")) == 1
        state = store.load_state("d1")
        assert state is not None
        assert state.seq == 59
        assert [b.seq for b in store.batches("d1", after_seq=59)] == list(range(60, 100))  # a restart's replay
        assert store.prune_batches(2 * DAY_S, page=page) == 0
        with pytest.raises(ValueError, match="keep_s must be >= 0"):
            store.prune_batches(-1.0)


def test_a_host_whose_clock_runs_fast_deletes_no_token_of_a_writer_still_writing(
    any_store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tokens age by the database's clock, as the leases do: a service on a host more than
    SAVE_TOKEN_KEEP_S fast, writing for the first time, leaves the others' tokens alone."""
    with Store(any_store_url) as store:
        live = tally("worker", {("d1", "packets"): 1})
        store.add_counts(live)
        real = time.time
        monkeypatch.setattr(time, "time", lambda: real() + SAVE_TOKEN_KEEP_S + 86_400)
        store.add_counts(tally("recorder", {("d1", "packets"): 1}))
        assert len(tokens(any_store_url)) == 2


def age(url: str, seconds: float) -> None:
    """Make every row of ``save_tokens`` ``seconds`` older."""
    engine = sa.create_engine(parse_store_url(url).url)
    with engine.begin() as db:
        db.execute(sa.text("UPDATE save_tokens SET updated_s = updated_s - :s"), {"s": seconds})
    engine.dispose()


def tokens(url: str) -> list[tuple[str, int]]:
    """The rows of ``save_tokens``: ``(writer, token)``."""
    engine = sa.create_engine(parse_store_url(url).url)
    with engine.connect() as db:
        rows = [(str(w), int(t)) for w, t in db.exec_driver_sql("SELECT writer, token FROM save_tokens")]
    engine.dispose()
    return rows


def test_a_device_s_status_and_settings_keep_the_latest(any_store_url: str) -> None:
    with Store(any_store_url) as store:
        assert store.devices() == {}
        store.set_device_status("d2", {"battery": 0.5})
        store.set_device_status("d2", {"battery": 0.4})
        store.save_state("d1", 3, {"version": 1}, {"posture": "sitting"})
        assert store.devices() == {"d1": {}, "d2": {"battery": 0.4}}
        assert store.device_status("d2") == {"battery": 0.4}
        assert store.device_status("d1") is None  # analysed, but it published no status
        assert store.wearer_settings("d1") is None
        store.set_wearer_settings("d1", {"max_sitting_min": 30})
        store.set_wearer_settings("d1", {"max_sitting_min": 45})
        assert store.wearer_settings("d1") == {"max_sitting_min": 45}


def test_many_devices_statuses_are_kept_in_one_write(any_store_url: str) -> None:
    """As a recorder subscribing is handed every status the broker keeps: new and known devices at once."""
    with Store(any_store_url) as store:
        store.set_device_status("d-0001", {"online": True})
        store.set_device_statuses({f"d-{i:04d}": {"online": False, "n": i} for i in range(1, 1001)})
        store.set_device_statuses({})
        kept = store.devices()
        assert len(kept) == 1000
        assert kept["d-0001"] == {"online": False, "n": 1}
        assert store.device_status("d-1000") == {"online": False, "n": 1000}


def test_events_are_kept_once_on_their_key_in_time_then_stored_order(any_store_url: str) -> None:
    """Same device, kind, time and id is one event; two actions of one instant with ids are two."""
    first = {"kind": "alert", "t_s": 5.0, "n": 1}
    bout = {"kind": "posture_bout", "start_s": 1.0, "end_s": 5.0}
    done = {"kind": "action", "t_s": 5.0, "action": "done", "id": "b"}
    snooze = {"kind": "action", "t_s": 5.0, "action": "snooze", "id": "a"}
    with Store(any_store_url) as store:
        assert store.add_events("d1", [first, bout, {**first, "n": 2}]) == [True, True, False]
        assert store.add_events("d1", [done, snooze, done]) == [True, True, False]
        assert store.add_events("d1", []) == []
        assert [e.body for e in store.events("d1")] == [bout, done, snooze, first]  # time, kind, then as stored
        assert [e.body for e in store.events("d1", kinds=["alert", "posture_bout"])] == [bout, first]
        assert [e.t_s for e in store.events("d1", since_s=1.0, until_s=5.0)] == [1.0]
        assert store.events("d1", kinds=[]) == []
        assert store.events("d2") == []
        assert store.has_event("d1", "action", "a")
        assert not store.has_event("d1", "action", "c")


def test_unpublished_events_are_found_until_marked(any_store_url: str) -> None:
    """Events are stored unpublished; the ones whose publish was acknowledged stop showing."""
    events = [{"kind": "alert", "t_s": 9.0}, {"kind": "break", "start_s": 2.0, "end_s": 70.0}]
    with Store(any_store_url) as store:
        store.add_events("d1", events)
        store.add_events("d2", [{"kind": "alert", "t_s": 1.0, "id": "x"}])
        assert [(e.device_id, e.t_s) for e in store.unpublished_events()] == [("d2", 1.0), ("d1", 2.0), ("d1", 9.0)]
        assert len(store.unpublished_events(limit=1)) == 1
        store.mark_published([event_key("d1", events[1]), ("d2", "alert", 1.0, "x")])
        store.mark_published([])
        assert [e.body for e in store.unpublished_events()] == [events[0]]


def test_a_status_only_save_keeps_the_last_snapshot(any_store_url: str) -> None:
    """A restart resumes from a consistent snapshot and seq, whatever status came after."""
    with Store(any_store_url) as store:
        assert store.load_state("d1") is None
        store.save_states(
            [StateRow("d1", 10, {"version": 1, "x": [1, 2]}, {"posture": "sitting"})],
            counts=tally("worker", {("d1", "packets"): 11}),
        )
        store.save_states([StateRow("d1", 12, None, {"posture": "standing"})], counts=tally("worker", {}))
        state = store.load_state("d1")
        assert state is not None
        assert (state.seq, state.snapshot, state.status) == (10, {"version": 1, "x": [1, 2]}, {"posture": "standing"})
        store.save_states([StateRow("d2", 4, None, {"posture": "lying"})])
        fresh = store.load_state("d2")
        assert fresh is not None
        assert (fresh.seq, fresh.snapshot) == (-1, {})
        status = store.load_status("d2")
        assert status is not None
        assert status[0] == {"posture": "lying"}
        assert status[1] == fresh.updated_s > 0
        assert store.load_status("d3") is None
        assert store.counters("worker") == {("worker", "d1", "packets"): 11}


def test_deleting_a_device_removes_all_it_left_and_nothing_else(any_store_url: str) -> None:
    with Store(any_store_url) as store:
        for device in ("d1", "d2"):
            store.add_batches([batch(0, device), batch(1, device)])
            store.add_events(device, [{"kind": "alert", "t_s": 1.0}])
            store.save_state(device, 1, {"version": 1}, {})
            store.set_device_status(device, {"battery": 1.0})
            store.set_wearer_settings(device, {"max_sitting_min": 30})
            store.add_counts(tally("recorder", {(device, "packets"): 2}))
        assert store.delete_device("d1") == 8  # 2 packets, an event, a snapshot and a status, 3 more
        assert store.delete_device("d1") == 0
        assert store.seqs("d1") == []
        assert store.load_state("d1") is None
        assert list(store.devices()) == ["d2"]
        assert store.seqs("d2") == [0, 1]
        assert len(store.events("d2")) == 1


def test_a_reader_sees_the_writer_s_data_and_cannot_write(any_store_url: str) -> None:
    """The dashboard opens the store read-only: it reads everything and writes nothing."""
    assert not Store.exists(any_store_url)
    with Store(any_store_url) as writer:
        writer.add_batches([batch(0)])
        assert Store.exists(any_store_url)
        with Store(any_store_url, read_only=True) as reader:
            assert reader.seqs("d1") == [0]
            writer.add_batches([batch(1)])
            assert reader.seqs("d1") == [0, 1]  # a reader sees each commit
            with pytest.raises(StoreError, match="write to"):
                reader.add_batches([batch(2)])
            with pytest.raises(StoreError, match="write to"):
                reader.add_counts(tally("dashboard", {("d1", "views"): 1}))
    with Store(any_store_url) as store:
        assert store.seqs("d1") == [0, 1]


def test_opening_again_keeps_everything_and_the_schema_version(any_store_url: str) -> None:
    with Store(any_store_url) as store:
        store.add_batches([batch(0)])
        store.add_events("d1", [{"kind": "alert", "t_s": 1.0}])
    with Store(any_store_url) as store:
        assert store.seqs("d1") == [0]
        assert store.add_events("d1", [{"kind": "alert", "t_s": 1.0}]) == [False]


def test_a_store_of_schema_4_gains_the_save_tokens_and_keeps_its_data(any_store_url: str) -> None:
    """A store from before save tokens is migrated to schema 5: its packets, states and
    counters are kept, and counts written again after a lost answer are added once."""
    with Store(any_store_url) as store:
        store.add_batches([batch(0)])
        store.save_states([StateRow("d1", 0, {"v": 1}, {})], counts=tally("worker", {("d1", "packets"): 1}))
    engine = sa.create_engine(parse_store_url(any_store_url).url)
    with engine.begin() as db:
        db.exec_driver_sql("DROP TABLE save_tokens")
        db.exec_driver_sql("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    with Store(any_store_url) as store:
        assert store.seqs("d1") == [0]
        state = store.load_state("d1")
        assert state is not None
        assert state.snapshot == {"v": 1}
        counts = tally("worker", {("d1", "packets"): 2})
        store.add_counts(counts)
        store.add_counts(counts)
        assert store.counters() == {("worker", "d1", "packets"): 3}
    with engine.connect() as db:
        version = db.exec_driver_sql("SELECT value FROM meta WHERE key = 'schema_version'").scalar()
        assert db.exec_driver_sql("SELECT count(*) FROM save_tokens").scalar() == 1
    engine.dispose()
    assert int(str(version)) == SCHEMA_VERSION


def _schema_5_store(url: str) -> sa.Engine:
    """A store of schema 5 (the live status in ``worker_state``, no ``worker_status``) of
    device d1 (seq 7, snapshot ``{"v": 1}``, sitting); an engine on it."""
    with Store(url) as store:
        store.save_states([StateRow("d1", 7, {"v": 1}, {"posture": "sitting"})])
    engine = sa.create_engine(parse_store_url(url).url)
    with engine.begin() as db:
        db.exec_driver_sql("ALTER TABLE worker_state ADD COLUMN status TEXT NOT NULL DEFAULT ''")
        db.exec_driver_sql("UPDATE worker_state SET status = (SELECT status FROM worker_status)")
        db.exec_driver_sql("DROP TABLE worker_status")
        db.exec_driver_sql("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
    return engine


def test_a_reader_of_a_store_of_schema_5_not_yet_migrated_finds_the_live_statuses(any_store_url: str) -> None:
    """The dashboard may look at a store no writer has opened since sitless was upgraded."""
    _schema_5_store(any_store_url).dispose()
    with Store(any_store_url, read_only=True) as reader:
        assert reader.load_status("d1") is not None
        state = reader.load_state("d1")
        assert state is not None
        assert (state.seq, state.snapshot, state.status) == (7, {"v": 1}, {"posture": "sitting"})
        assert list(reader.devices()) == ["d1"]
    with Store(any_store_url) as store:  # a writer migrates it
        store.save_states([StateRow("d1", 9, None, {"posture": "standing"})])
    with Store(any_store_url, read_only=True) as reader:
        assert reader.load_status("d1") is not None
        state = reader.load_state("d1")
        assert state is not None
        assert (state.seq, state.status) == (7, {"posture": "standing"})


def test_a_store_of_schema_5_moves_the_live_statuses_to_their_own_table(any_store_url: str) -> None:
    """Schema 6 keeps each device's live status apart from its snapshot: a store of schema 5,
    with the status in the snapshot's row, is migrated with every state and status kept."""
    engine = _schema_5_store(any_store_url)
    with Store(any_store_url) as store:
        state = store.load_state("d1")
        assert state is not None
        assert (state.seq, state.snapshot, state.status) == (7, {"v": 1}, {"posture": "sitting"})
        assert list(store.devices()) == ["d1"]
        store.save_states([StateRow("d1", 9, None, {"posture": "standing"})])
        state = store.load_state("d1")
        assert state is not None
        assert (state.seq, state.status) == (7, {"posture": "standing"})
    with engine.connect() as db:
        version = db.exec_driver_sql("SELECT value FROM meta WHERE key = 'schema_version'").scalar()
        columns = {c["name"] for c in sa.inspect(db).get_columns("worker_state")}
    engine.dispose()
    assert int(str(version)) == SCHEMA_VERSION == 6
    assert columns == {"device_id", "seq", "snapshot", "updated_s"}


def test_a_missing_store_cannot_be_read(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'none' / 'store.sqlite'}"
    assert not Store.exists(url)
    with pytest.raises(StoreError, match="cannot open store"):
        Store(url, read_only=True)


def test_an_unreachable_postgresql_server_is_a_store_error() -> None:
    """Nothing listens on port 1: opening fails at once with the reason, as a StoreError."""
    with pytest.raises(StoreError, match=r"cannot open store postgresql://nobody@127\.0\.0\.1:1/sitless"):
        Store("postgresql://nobody@127.0.0.1:1/sitless")
    with pytest.raises(StoreError, match="cannot reach store"):
        Store.exists("postgresql://nobody@127.0.0.1:1/sitless")


def test_a_postgresql_store_of_a_newer_sitless_is_refused(postgres_url: str) -> None:
    import psycopg

    Store(postgres_url).close()
    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute("UPDATE meta SET value = %s WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(StoreError, match="newer than this sitless"):
        Store(postgres_url)


@pytest.mark.parametrize(
    ("url", "backend", "shown"),
    [
        ("sqlite:///var/s.sqlite", Backend.SQLITE, "var/s.sqlite"),
        ("sqlite:////srv/s.sqlite", Backend.SQLITE, "/srv/s.sqlite"),
        ("plain/s.sqlite", Backend.SQLITE, "plain/s.sqlite"),
        ("postgresql://sitless@db:5432/office", Backend.POSTGRESQL, "postgresql://sitless@db:5432/office"),
        ("postgresql+psycopg://sitless@db/office", Backend.POSTGRESQL, "postgresql://sitless@db/office"),
        (
            "postgres://sitless@db/office?sslmode=require",
            Backend.POSTGRESQL,
            "postgresql://sitless@db/office?sslmode=require",
        ),
    ],
)
def test_store_urls_name_their_backend(url: str, backend: Backend, shown: str) -> None:
    where = parse_store_url(url)
    assert where.backend is backend
    assert str(where) == shown
    if backend is Backend.POSTGRESQL:
        assert where.url.drivername == "postgresql+psycopg"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("postgresql://sitless:secret@db/office", "must not carry a password"),
        ("postgresql://sitless@db/office?password=secret", "must not carry a password"),
        ("postgresql://sitless@db/office?sslmode=require&sslpassword=secret", "must not carry a password"),
        ("postgresql://sitless@db", "names no database"),
        ("mysql://sitless@db/office", "unsupported store URL scheme"),
    ],
)
def test_bad_store_urls_are_refused(url: str, reason: str) -> None:
    with pytest.raises(StoreError, match=reason):
        parse_store_url(url)


def test_a_dropped_postgresql_connection_fails_one_call_and_the_next_reconnects(postgres_url: str) -> None:
    """A database restart or failover cuts the connection: that write is a StoreError (the
    service holds its data and tries again), and the store connects afresh for the next."""
    import psycopg

    with Store(postgres_url) as store:
        store.add_batches([batch(0)])
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        with pytest.raises(StoreError, match="write to"):
            store.add_batches([batch(1)])
        assert store.add_batches([batch(1)]) == [True]
        assert store.seqs("d1") == [0, 1]


def test_services_opening_a_fresh_postgresql_store_together_all_succeed(postgres_server: PostgresServer) -> None:
    """Four services create the same new database's tables at once, ten times over: they
    take turns (an advisory lock) and none fails on a table another is creating."""
    for _ in range(10):
        url = postgres_server.new_database()
        start = threading.Barrier(4)
        outcomes: list[str] = []

        def open_store(url: str = url, start: threading.Barrier = start, outcomes: list[str] = outcomes) -> None:
            start.wait()
            try:
                Store(url).close()
                outcomes.append("ok")
            except StoreError as err:
                outcomes.append(str(err))

        threads = [threading.Thread(target=open_store) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert outcomes == ["ok"] * 4


def test_a_postgresql_write_blocked_by_another_gives_up_after_the_busy_timeout(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another session holding the counters' rows (a long transaction, a migration) makes a
    write fail as a locked SQLite file does, with nothing half written; once free, it goes through."""
    import psycopg

    monkeypatch.setattr("ingest.store.base.BUSY_TIMEOUT_MS", 200)
    with Store(postgres_url) as store:
        store.add_counts(tally("worker", {("d1", "packets"): 1}))
        with psycopg.connect(postgres_url) as other:
            other.execute("LOCK TABLE counters IN EXCLUSIVE MODE")
            with pytest.raises(StoreError, match="lock timeout"):
                store.save_states([StateRow("d1", 1, {"v": 1}, {})], counts=tally("worker", {("d1", "packets"): 1}))
            other.rollback()
        assert store.load_state("d1") is None
        store.save_states([StateRow("d1", 1, {"v": 1}, {})], counts=tally("worker", {("d1", "packets"): 1}))
        assert store.counters() == {("worker", "d1", "packets"): 2}


def test_a_postgresql_store_of_schema_3_gains_the_device_leases(postgres_url: str) -> None:
    """A PostgreSQL store from before device leases is migrated to schema 4 and keeps its data."""
    import psycopg

    with Store(postgres_url) as store:
        store.add_batches([batch(0)])
    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute("DROP TABLE device_leases")
        db.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    with Store(postgres_url) as store:
        assert store.seqs("d1") == [0]
        assert store.claim_leases("w1", ["d1"], 10.0) == {"d1"}
    with psycopg.connect(postgres_url, autocommit=True) as db:
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert row is not None
    assert int(row[0]) == SCHEMA_VERSION
