"""Rows a hand edit, an import or an older version left unreadable, on each backend.

The services store only JSON objects they checked, so a status, event body, snapshot or
settings that is not one comes from outside them: each such row reads as absent, the
other rows as before, and it is logged once per column rather than on every read.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import sqlalchemy as sa

import ingest.store.rows as store_rows
from ingest.errors import StoreError
from ingest.store import StateRow, Store, parse_store_url
from ingest.troubles import RateLimitedLog

#: What a hand edit may leave where a JSON object belongs.
NOT_OBJECTS = ["{not json", "[1, 2, 3]", "null", '"text"', "[" * 5000]


def edit(url: str, statement: str, **params: object) -> None:
    """Run one statement on the store behind its back, as a hand edit does."""
    engine = sa.create_engine(parse_store_url(url).url)
    with engine.begin() as db:
        db.execute(sa.text(statement), params)
    engine.dispose()


@pytest.fixture
def filled(any_store_url: str) -> str:
    """Two devices, each with a status, a live status with its snapshot, settings and two events."""
    with Store(any_store_url) as store:
        for device_id in ("d1", "d2"):
            store.set_device_status(device_id, {"online": True, "t_s": 5.0})
            store.save_states([StateRow(device_id, 7, {"v": 1}, {"posture": "sitting", "t_s": 5.0})])
            store.set_wearer_settings(device_id, {"max_sitting_min": 30})
            store.add_events(device_id, [{"kind": "alert", "t_s": 1.0}, {"kind": "break", "start_s": 2.0}])
    return any_store_url


@pytest.fixture
def warnings(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """The store's warnings about bad rows, counted afresh for this test."""
    logger = logging.getLogger(store_rows.__name__)
    monkeypatch.setattr(store_rows, "_bad_rows", RateLimitedLog(logger, every_s=3600.0))
    caplog.set_level(logging.WARNING, logger=logger.name)
    return caplog


@pytest.mark.parametrize("bad", NOT_OBJECTS)
def test_a_device_status_that_is_no_object_reads_as_none_published(
    filled: str, bad: str, warnings: pytest.LogCaptureFixture
) -> None:
    """The device is still listed, with an empty status; the other device's reads as before."""
    edit(filled, "UPDATE devices SET status = :bad WHERE device_id = 'd1'", bad=bad)
    with Store(filled, read_only=True) as store:
        assert store.devices() == {"d1": {}, "d2": {"online": True, "t_s": 5.0}}
        assert store.device_status("d1") is None
        assert store.device_status("d2") == {"online": True, "t_s": 5.0}
        store.devices()
    assert [r.getMessage().split(" (")[0] for r in warnings.records] == ["devices.status of d1 is not a JSON object"]


@pytest.mark.parametrize("bad", NOT_OBJECTS[:3])
def test_a_live_status_that_is_no_object_reads_as_none_saved(filled: str, bad: str) -> None:
    """The live status reads as None and the saved state keeps its snapshot with an empty status."""
    edit(filled, "UPDATE worker_status SET status = :bad WHERE device_id = 'd1'", bad=bad)
    with Store(filled, read_only=True) as store:
        assert store.load_status("d1") is None
        state = store.load_state("d1")
        assert state is not None
        assert (state.seq, state.snapshot, state.status) == (7, {"v": 1}, {})
        assert store.load_status("d2") is not None
        assert list(store.devices()) == ["d1", "d2"]


@pytest.mark.parametrize("bad", NOT_OBJECTS[:3])
def test_a_snapshot_that_is_no_object_reads_as_none_saved(filled: str, bad: str) -> None:
    """The worker finds no snapshot to resume (``seq`` -1) and the live status as saved."""
    edit(filled, "UPDATE worker_state SET snapshot = :bad WHERE device_id = 'd1'", bad=bad)
    with Store(filled) as store:
        state = store.load_state("d1")
        assert state is not None
        assert (state.seq, state.snapshot, state.status) == (-1, {}, {"posture": "sitting", "t_s": 5.0})


@pytest.mark.parametrize("bad", NOT_OBJECTS[:3])
def test_settings_that_are_no_object_read_as_none_chosen(filled: str, bad: str) -> None:
    edit(filled, "UPDATE wearer_settings SET body = :bad WHERE device_id = 'd1'", bad=bad)
    with Store(filled, read_only=True) as store:
        assert store.wearer_settings("d1") is None
        assert store.wearer_settings("d2") == {"max_sitting_min": 30}


@pytest.mark.parametrize("bad", NOT_OBJECTS)
def test_an_event_body_that_is_no_object_is_left_out(filled: str, bad: str) -> None:
    """The device's other events are read, and the bad one is not published again."""
    edit(filled, "UPDATE events SET body = :bad WHERE device_id = 'd1' AND kind = 'alert'", bad=bad)
    with Store(filled) as store:
        assert [e.kind for e in store.events("d1")] == ["break"]
        assert [e.kind for e in store.events("d2")] == ["alert", "break"]
        assert [(e.device_id, e.kind) for e in store.unpublished_events()] == [
            ("d2", "alert"),
            ("d1", "break"),
            ("d2", "break"),
        ]


def test_an_event_time_that_is_text_is_left_out(tmp_path: Path) -> None:
    """SQLite keeps text in a REAL column: such an event is left out, the others read."""
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    with Store(url) as store:
        store.add_events("d1", [{"kind": "alert", "t_s": 1.0}, {"kind": "break", "start_s": 2.0}])
    edit(url, "UPDATE events SET t_s = 'soon' WHERE kind = 'alert'")
    with Store(url) as store:
        assert [e.kind for e in store.events("d1")] == ["break"]
        assert [e.kind for e in store.unpublished_events()] == ["break"]


@pytest.mark.parametrize("read_only", [False, True])
def test_a_schema_version_that_is_no_number_is_a_store_error(any_store_url: str, read_only: bool) -> None:
    """A writer cannot open the store, and a reader cannot read it: both say why, as a StoreError."""
    with Store(any_store_url) as store:
        store.set_device_status("d1", {"online": True})
    edit(any_store_url, "UPDATE meta SET value = 'seven' WHERE key = 'schema_version'")
    with (
        pytest.raises(StoreError, match="store schema version 'seven' in its meta table is not a number"),
        Store(any_store_url, read_only=read_only) as store,
    ):
        store.devices()
