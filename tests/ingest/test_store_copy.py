"""``sitless store-copy``: a whole store into another, SQLite to PostgreSQL and back."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from ingest.cli import main
from ingest.store import BatchRow, Store, parse_store_url
from ingest.store.copier import COPIED_TABLES
from tests.postgres import PostgresServer
from tests.support import tally

T0_S = 1_765_000_000.0
ACTIONS = [{"kind": "action", "t_s": T0_S + 60.0, "action": a, "id": f"id-{i}"} for i, a in enumerate("zyx")]


@pytest.fixture(params=["sqlite to postgresql", "postgresql to sqlite"])
def stores(request: pytest.FixtureRequest, tmp_path: Path, postgres_server: PostgresServer) -> tuple[str, str]:
    """The URLs of a store to copy from and of one to copy into, on the two engines."""
    sqlite_url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    postgresql_url = postgres_server.new_database()
    return (sqlite_url, postgresql_url) if request.param.startswith("sqlite") else (postgresql_url, sqlite_url)


def fill(url: str) -> None:
    """Two wearables' packets (more than a page), events, states, statuses, settings and counts."""
    with Store(url) as store:
        for device_id, packets in (("desk-07", 2500), ("desk-08", 30)):
            store.add_batches(
                [
                    BatchRow(device_id, seq, T0_S + seq / 2, 25, 50.0, bytes([seq % 251, 0, 255]) * 60)
                    for seq in range(packets)
                ]
            )
        # Three actions at one instant: the events' order among them is the order stored.
        store.add_events("desk-07", [{"kind": "alert", "t_s": T0_S + 30.0, "alert": "sit_too_long"}, *ACTIONS])
        store.save_state("desk-07", 2499, snapshot={"posture": {"k": 1}}, status={"t_s": T0_S + 1250.0})
        store.save_state("desk-08", 29, snapshot={"posture": {"k": 2}}, status={"t_s": T0_S + 15.0})
        store.set_device_status("desk-07", {"online": True, "battery_pct": 64})
        store.set_wearer_settings("desk-07", {"max_sitting_min": 45})
        store.add_counts(tally("recorder", {("desk-07", "stored"): 2500, ("desk-08", "stored"): 30}))


def table_rows(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every copied table's rows, in key order, without PostgreSQL's own event order."""
    engine = sa.create_engine(parse_store_url(url).url)
    out = {}
    with engine.connect() as db:
        for table in COPIED_TABLES:
            columns = [c for c in table.columns if c.name != "stored"]
            rows = db.execute(sa.select(*columns).order_by(*table.primary_key.columns))
            out[table.name] = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in rows]
    engine.dispose()
    return out


def test_a_copy_holds_every_row_and_the_events_order_and_a_second_run_adds_nothing(
    stores: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    source, target = stores
    fill(source)
    assert main(["store-copy", "--from", source, "--to", target]) == 0
    out = capsys.readouterr().out
    assert "batches: 2,530 of 2,530 rows copied" in out
    assert "events: 4 of 4 rows copied" in out
    assert table_rows(target) == table_rows(source)
    with Store(source, read_only=True) as a, Store(target, read_only=True) as b:
        assert [e.body for e in b.events("desk-07")] == [e.body for e in a.events("desk-07")]
        assert [e.body.get("action") for e in b.events("desk-07", kinds=["action"])] == ["z", "y", "x"]
        assert list(b.batches("desk-07")) == list(a.batches("desk-07"))
        assert b.load_state("desk-07") == a.load_state("desk-07")
        assert b.load_status("desk-08") is not None

    assert main(["store-copy", "--from", source, "--to", target]) == 0  # again: nothing new
    again = capsys.readouterr().out
    assert "batches: 0 of 2,530 rows copied (2,530 held already)" in again
    assert table_rows(target) == table_rows(source)


def test_a_copy_into_a_store_that_holds_rows_keeps_them(stores: tuple[str, str]) -> None:
    """A row whose key the target holds is left as the target has it; the rest come."""
    source, target = stores
    fill(source)
    with Store(target) as store:
        store.set_wearer_settings("desk-07", {"max_sitting_min": 20})
        store.add_batches([BatchRow("desk-07", 0, T0_S, 25, 50.0, b"theirs")])
    assert main(["store-copy", "--from", source, "--to", target]) == 0
    with Store(target, read_only=True) as store:
        assert store.wearer_settings("desk-07") == {"max_sitting_min": 20}
        assert next(store.batches("desk-07")).payload == b"theirs"
        assert len(store.seqs("desk-07")) == 2500


def test_a_copy_onto_itself_or_from_nowhere_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    fill(url)
    assert main(["store-copy", "--from", url, "--to", str(tmp_path / "." / "store.sqlite")]) == 1
    assert "name the same store" in capsys.readouterr().err
    nowhere = f"sqlite:///{tmp_path / 'none.sqlite'}"
    assert main(["store-copy", "--from", nowhere, "--to", f"sqlite:///{tmp_path / 'new.sqlite'}"]) == 1
    assert "nothing to copy" in capsys.readouterr().err
    assert not (tmp_path / "new.sqlite").exists()


def test_a_source_at_an_older_schema_is_refused_untouched(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    fill(url)
    engine = sa.create_engine(parse_store_url(url).url)
    with engine.begin() as db:
        db.execute(sa.text("UPDATE meta SET value = '5' WHERE key = 'schema_version'"))
    engine.dispose()
    assert main(["store-copy", "--from", url, "--to", f"sqlite:///{tmp_path / 'new.sqlite'}"]) == 1
    assert "is at schema 5" in capsys.readouterr().err
    assert not (tmp_path / "new.sqlite").exists()
