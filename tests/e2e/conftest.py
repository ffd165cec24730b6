"""Fixtures for end-to-end tests: the whole pipeline through a real broker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ingest.mqtt import BrokerAddress
from ingest.recorder import Recorder, RecorderSettings
from ingest.worker import Worker, WorkerSettings


@pytest.fixture
def services(broker: BrokerAddress, store_url: str) -> Iterator[tuple[Recorder, Worker]]:
    recorder = Recorder(RecorderSettings(broker, store_url, client_id="e2e-recorder"))
    worker = Worker(WorkerSettings(broker, store_url, client_id="e2e-worker"))
    recorder.start()
    worker.start()
    yield recorder, worker
    worker.close()
    recorder.close()
