"""Fixtures for end-to-end tests: the whole pipeline through a real broker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.mqtt import BrokerAddress
from ingest.recorder import Recorder, RecorderSettings
from ingest.topics import Kind
from ingest.worker import Worker, WorkerSettings
from tests.support import EventLog


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.sqlite'}"


@pytest.fixture
def event_log(broker: BrokerAddress) -> Iterator[EventLog]:
    log = EventLog(broker, Kind.EVENT)
    yield log
    log.close()


@pytest.fixture
def services(broker: BrokerAddress, store_url: str) -> Iterator[tuple[Recorder, Worker]]:
    recorder = Recorder(RecorderSettings(broker, store_url, client_id="e2e-recorder"))
    worker = Worker(WorkerSettings(broker, store_url, client_id="e2e-worker"))
    recorder.start()
    worker.start()
    yield recorder, worker
    worker.close()
    recorder.close()
