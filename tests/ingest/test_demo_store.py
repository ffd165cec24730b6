"""The demo's store: its own starts afresh, one the user names is never emptied."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.demo import DEMO_STORE_URL, _store


def test_the_demo_empties_only_its_own_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    own = tmp_path / "var" / "demo.sqlite"
    own.parent.mkdir()
    own.write_bytes(b"yesterday's demo")
    mine = tmp_path / "mine.sqlite"
    mine.write_bytes(b"a user's data")
    assert _store(DEMO_STORE_URL) == DEMO_STORE_URL
    assert not own.exists()
    url = f"sqlite:///{mine}"
    assert _store(url) == url
    assert mine.read_bytes() == b"a user's data"
