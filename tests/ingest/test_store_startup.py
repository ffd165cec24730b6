"""Opening the store: services starting together, and a store made by an older sitless."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import threading
from pathlib import Path

from ingest.store import SCHEMA_VERSION, Store


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
    assert int(version) == SCHEMA_VERSION == 3
    assert {"events_time", "events_unpublished"} <= indexes
    with Store(f"sqlite:///{path}") as store:  # opening a migrated store changes nothing
        assert len(store.events("d1")) == 5
