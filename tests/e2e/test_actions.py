"""User actions from the dashboard reach the analysis worker through the broker."""

from __future__ import annotations

import threading

import pytest

from ingest.actions import send_action
from ingest.mqtt import BrokerAddress
from ingest.recorder import Recorder
from ingest.store import Store
from ingest.worker import Worker
from tests.e2e.helpers import DEVICE, device, events
from tests.support import wait_until

pytestmark = pytest.mark.e2e


def status(store_url: str) -> dict[str, object]:
    with Store(store_url) as store:
        state = store.load_state(DEVICE)
    return {} if state is None else state.status


def test_snooze_from_the_dashboard_silences_the_open_alert(
    broker: BrokerAddress, store_url: str, services: tuple[Recorder, Worker]
) -> None:
    """Snooze, sent as the dashboard sends it, closes the open alert for 10 minutes."""
    wearable = device(broker, minutes=36.0, speed=60.0)
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
    assert float(action["until_s"]) == pytest.approx(float(action["t_s"]) + 600)  # type: ignore[arg-type]
    wait_until(lambda: status(store_url).get("open_alert") is None, what="the prompt to close")
    assert status(store_url)["snoozed_until_s"] == action["until_s"]
