"""Opening the store: services starting together, and a store made by an older sitless."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ingest.errors import StoreError
from ingest.store import SCHEMA_VERSION, BatchRow, Store
from ingest.store.base import CONNECT_TIMEOUT_S, READ_CONNECT_TIMEOUT_S
from tests.support import tally


def _open(path: str, start: threading.Barrier, results: multiprocessing.SimpleQueue[str]) -> None:
    start.wait()
    try:
        Store(f"sqlite:///{path}").close()
        results.put("ok")
    except Exception as err:  # reported to the test, which names it
        results.put(repr(err))


def test_services_opening_a_fresh_store_together_all_succeed(tmp_path: Path) -> None:
    """Four processes create the same new store at the same moment, forty times over: none
    fails with "database is locked" (3 of 160 opens failed so before set-up waited its turn,
    as when a recorder and a worker started together)."""
    context = multiprocessing.get_context("fork")
    outcomes: list[str] = []
    for i in range(40):
        path = str(tmp_path / f"store-{i}.sqlite")
        results: multiprocessing.SimpleQueue[str] = context.SimpleQueue()
        start = context.Barrier(4)
        procs = [context.Process(target=_open, args=(path, start, results)) for _ in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        outcomes += [results.get() for _ in procs]
    assert outcomes == ["ok"] * 160


_SCHEMA_1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE events (
    device_id TEXT NOT NULL, kind TEXT NOT NULL, t_s REAL NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (device_id, kind, t_s)
);
INSERT INTO meta VALUES ('schema_version', '1');
"""


def test_a_store_of_schema_1_is_migrated_and_its_events_count_as_published(tmp_path: Path) -> None:
    """Events stored before publishing was tracked were published as they were stored."""
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(_SCHEMA_1)
        body = {"kind": "alert", "t_s": 5.0}
        db.execute("INSERT INTO events VALUES ('d1', 'alert', 5.0, ?)", (json.dumps(body),))
    with Store(f"sqlite:///{path}") as store:
        assert store.unpublished_events() == []
        assert [e.body for e in store.events("d1")] == [body]
        store.add_events("d1", [{"kind": "alert", "t_s": 6.0}])
        assert [e.t_s for e in store.unpublished_events()] == [6.0]
        store.mark_published([("d1", "alert", 6.0, "")])
        assert store.unpublished_events() == []
    with sqlite3.connect(path) as db:
        (version,) = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert int(version) == SCHEMA_VERSION


_SCHEMA_2 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE events (
    device_id TEXT NOT NULL, kind TEXT NOT NULL, t_s REAL NOT NULL, body TEXT NOT NULL,
    published INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (device_id, kind, t_s)
);
CREATE INDEX events_time ON events (device_id, t_s);
CREATE INDEX events_unpublished ON events (device_id) WHERE published = 0;
INSERT INTO meta VALUES ('schema_version', '2');
"""


def test_a_store_of_schema_2_is_migrated_and_keeps_two_actions_of_one_instant(tmp_path: Path) -> None:
    """Schema 3 keys events on their id too: the events of schema 2 are kept, with their
    published flags and order, and two actions at the same time are now two events."""
    path = tmp_path / "v2.sqlite"
    old = [
        ("d1", "alert", 5.0, {"kind": "alert", "t_s": 5.0}, 1),
        ("d1", "action", 5.0, {"kind": "action", "t_s": 5.0, "action": "done", "until_s": None}, 0),
        ("d1", "posture_bout", 1.0, {"kind": "posture_bout", "start_s": 1.0, "end_s": 5.0}, 1),
    ]
    with sqlite3.connect(path) as db:
        db.executescript(_SCHEMA_2)
        db.executemany(
            "INSERT INTO events VALUES (?, ?, ?, ?, ?)", [(d, k, t, json.dumps(b), p) for d, k, t, b, p in old]
        )
    with Store(f"sqlite:///{path}") as store:
        assert [e.body for e in store.events("d1")] == [old[2][3], old[1][3], old[0][3]]  # time, kind
        assert [e.body for e in store.unpublished_events()] == [old[1][3]]
        assert store.add_events("d1", [old[0][3]]) == [False]  # still stored once
        snooze = {"kind": "action", "t_s": 5.0, "action": "snooze", "until_s": 605.0}
        assert store.add_events("d1", [{**snooze, "id": "a"}, {**snooze, "id": "b"}, {**snooze, "id": "a"}]) == [
            True,
            True,
            False,
        ]
        assert [e.body.get("id") for e in store.events("d1", kinds=["action"])] == [None, "a", "b"]
        assert store.has_event("d1", "action", "b")
        assert not store.has_event("d1", "action", "c")
        store.mark_published([("d1", "action", 5.0, ""), ("d1", "action", 5.0, "a")])
        assert [e.body.get("id") for e in store.unpublished_events()] == ["b"]
    with sqlite3.connect(path) as db:
        (version,) = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        indexes = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert int(version) == SCHEMA_VERSION
    assert {"events_time", "events_unpublished"} <= indexes
    with Store(f"sqlite:///{path}") as store:  # opening a migrated store changes nothing
        assert len(store.events("d1")) == 5


_SCHEMA_3 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE batches (
    device_id TEXT NOT NULL, seq INTEGER NOT NULL, t0_s REAL NOT NULL, n INTEGER NOT NULL,
    rate_hz REAL NOT NULL, payload BLOB NOT NULL, received_s REAL NOT NULL, PRIMARY KEY (device_id, seq)
);
CREATE INDEX batches_time ON batches (device_id, t0_s);
CREATE TABLE counters (
    service TEXT NOT NULL, device_id TEXT NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL,
    PRIMARY KEY (service, device_id, name)
);
CREATE TABLE devices (device_id TEXT PRIMARY KEY, status TEXT NOT NULL, updated_s REAL NOT NULL);
CREATE TABLE events (
    device_id TEXT NOT NULL, kind TEXT NOT NULL, event_id TEXT NOT NULL DEFAULT '', t_s REAL NOT NULL,
    body TEXT NOT NULL, published INTEGER NOT NULL DEFAULT 1, PRIMARY KEY (device_id, kind, event_id, t_s)
);
CREATE INDEX events_time ON events (device_id, t_s);
CREATE INDEX events_unpublished ON events (device_id) WHERE published = 0;
CREATE TABLE wearer_settings (device_id TEXT PRIMARY KEY, body TEXT NOT NULL, updated_s REAL NOT NULL);
CREATE TABLE worker_state (
    device_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, snapshot TEXT NOT NULL, status TEXT NOT NULL,
    updated_s REAL NOT NULL
);
INSERT INTO meta VALUES ('schema_version', '3');
INSERT INTO batches VALUES ('d1', 0, 1.7e9, 25, 50.0, x'0102', 1.7e9), ('d1', 2, 1.7e9, 25, 50.0, x'0304', 1.7e9);
INSERT INTO counters VALUES ('recorder', 'd1', 'packets', 2);
INSERT INTO devices VALUES ('d1', '{"battery": 0.8}', 1.7e9);
INSERT INTO events VALUES ('d1', 'action', 'a', 5.0, '{"kind": "action", "t_s": 5.0, "id": "a"}', 0);
INSERT INTO events VALUES ('d1', 'alert', '', 4.0, '{"kind": "alert", "t_s": 4.0}', 1);
INSERT INTO wearer_settings VALUES ('d1', '{"max_sitting_min": 40}', 1.7e9);
INSERT INTO worker_state VALUES ('d1', 2, '{"version": 1}', '{"posture": "sitting"}', 1.7e9);
"""


def test_a_store_of_schema_3_written_by_the_sqlite_only_store_opens_with_all_its_data(tmp_path: Path) -> None:
    """A sitless store file from before the PostgreSQL backend (schema 3, its own DDL) is read
    and written by today's store, with every table's rows as they were."""
    path = tmp_path / "v3.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(_SCHEMA_3)
    with Store(f"sqlite:///{path}") as store:
        assert [(b.seq, b.payload) for b in store.batches("d1")] == [(0, b"\x01\x02"), (2, b"\x03\x04")]
        assert store.gaps("d1") == [(1, 1)]
        assert store.counters() == {("recorder", "d1", "packets"): 2}
        assert store.devices() == {"d1": {"battery": 0.8}}
        assert [e.body["kind"] for e in store.events("d1")] == ["alert", "action"]
        assert [e.body["id"] for e in store.unpublished_events()] == ["a"]
        assert store.wearer_settings("d1") == {"max_sitting_min": 40}
        state = store.load_state("d1")
        assert state is not None
        assert (state.seq, state.snapshot, state.status) == (2, {"version": 1}, {"posture": "sitting"})
        assert store.add_events("d1", [{"kind": "action", "t_s": 5.0, "id": "a"}]) == [False]
        assert store.add_batches([BatchRow("d1", 1, 1.7e9, 25, 50.0, b"\x05")]) == [True]
        store.add_counts(tally("recorder", {("d1", "packets"): 1}))
        assert store.counters() == {("recorder", "d1", "packets"): 3}
        assert store.leases() == {}  # schema 4's device leases, none held yet
        assert store.claim_leases("w1", ["d1"], 10.0) == {"d1"}
    with sqlite3.connect(path) as db:
        (version,) = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert int(version) == SCHEMA_VERSION


@pytest.fixture
def connect_timeouts() -> Iterator[list[Any]]:
    """The ``connect_timeout`` of every database connection made while the test runs."""
    seen: list[Any] = []

    def note(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
        seen.append(cparams.get("connect_timeout"))

    sa.event.listen(sa.Engine, "do_connect", note)
    yield seen
    sa.event.remove(sa.Engine, "do_connect", note)


def test_a_reader_gives_up_on_a_postgresql_server_sooner_than_a_service(connect_timeouts: list[Any]) -> None:
    """The dashboard's every page run waits out its connect timeout while a server takes
    connections and never answers (10 s each): a reader waits 3 s, a service 10 s."""
    url = "postgresql://nobody@127.0.0.1:1/sitless"  # nothing listens: refused at once
    for open_store in (lambda: Store.exists(url), lambda: Store(url, read_only=True), lambda: Store(url)):
        with pytest.raises(StoreError):
            open_store()
    assert connect_timeouts == [READ_CONNECT_TIMEOUT_S, READ_CONNECT_TIMEOUT_S, CONNECT_TIMEOUT_S]
    assert READ_CONNECT_TIMEOUT_S == 3


@pytest.mark.parametrize("read_only", [False, True])
def test_a_folder_named_as_the_store_is_said_to_be_one(tmp_path: Path, read_only: bool) -> None:
    """Not SQLite's "unable to open database file"."""
    with pytest.raises(StoreError, match=f"{tmp_path} is a folder, not a store file"):
        Store(f"sqlite:///{tmp_path}", read_only=read_only)
