"""Fixtures for end-to-end tests: the whole pipeline through a real broker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.mqtt import BrokerAddress
from ingest.topics import Kind
from tests.support import EventLog


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.sqlite'}"


@pytest.fixture
def event_log(broker: BrokerAddress) -> Iterator[EventLog]:
    log = EventLog(broker, Kind.EVENT)
    yield log
    log.close()
