"""User actions from the dashboard reach the analysis worker through the broker."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from analysis.settings import AlertPolicy
from ingest.actions import send_action
from ingest.mqtt import BrokerAddress
from ingest.recorder import Recorder, RecorderSettings
from ingest.store import Store
from ingest.worker import Worker, WorkerSettings
from tests.e2e.helpers import DEVICE, device, events
from tests.support import wait_until

pytestmark = pytest.mark.e2e

#: A 5-minute limit: the quick scenario's alert is then due 7 min in, 7 s of wall time
#: at the 60x this test plays it (a 30-minute limit would cost half a minute per broker).
POLICY = AlertPolicy(max_sitting_s=300.0)


@pytest.fixture
def services(broker: BrokerAddress, store_url: str) -> Iterator[tuple[Recorder, Worker]]:
    recorder = Recorder(RecorderSettings(broker, store_url, client_id="e2e-recorder"))
    worker = Worker(WorkerSettings(broker, store_url, client_id="e2e-worker", policy=POLICY))
    recorder.start()
    worker.start()
    yield recorder, worker
    worker.close()
    recorder.close()


def status(store_url: str) -> dict[str, object]:
    with Store(store_url) as store:
        state = store.load_state(DEVICE)
    return {} if state is None else state.status


def test_snooze_from_the_dashboard_silences_the_open_alert(
    broker: BrokerAddress, store_url: str, services: tuple[Recorder, Worker]
) -> None:
    """Snooze, sent as the dashboard sends it, closes the open alert for 10 minutes."""
    wearable = device(broker, minutes=17.0, speed=60.0)  # ends before any snooze does
    runner = threading.Thread(target=wearable.run)
    runner.start()
    try:
        wait_until(lambda: status(store_url).get("open_alert") is not None, what="an open alert")
        send_action(broker, DEVICE, "snooze")
        wait_until(lambda: len(events(store_url, "action")) == 1, what="the action in the store")
    finally:
        wearable.stop()
        runner.join(30)
    (action,) = events(store_url, "action")
    assert action["action"] == "snooze"
    assert float(action["until_s"]) == pytest.approx(float(action["t_s"]) + POLICY.snooze_s)  # type: ignore[arg-type]
    wait_until(lambda: status(store_url).get("open_alert") is None, what="the prompt to close")
    assert status(store_url)["snoozed_until_s"] == action["until_s"]
