"""User actions through a real broker: every action is applied, stored and published once."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import paho.mqtt.client as paho
import pytest

from ingest.actions import send_action
from ingest.codec import Batch, encode
from ingest.mqtt import BrokerAddress
from ingest.store import Store
from ingest.topics import Kind, topic
from ingest.worker import Worker, WorkerSettings
from tests.support import EventLog, mqtt_client, wait_until

pytestmark = pytest.mark.e2e

DEVICE = "act-01"
T0_S = 1.7e9


@pytest.fixture
def worker(broker: BrokerAddress, store_url: str) -> Iterator[Worker]:
    service = Worker(WorkerSettings(broker, store_url, client_id="test-actions-worker"))
    service.start()
    yield service
    service.close()


@pytest.fixture
def publisher(broker: BrokerAddress) -> Iterator[paho.Client]:
    with mqtt_client("test-actions-publisher", broker) as client:
        yield client


def publish(client: paho.Client, kind: Kind, payload: bytes) -> None:
    """Publish with QoS 1 and wait until the broker has it."""
    client.publish(topic(DEVICE, kind), payload, qos=1).wait_for_publish(timeout=30)


def one_packet(client: paho.Client, store_url: str) -> float:
    """Send 0.5 s of a still sensor and wait until the worker analysed it; its last sample time."""
    acc = np.tile(np.array([0, 0, 4096], dtype=np.int16), (25, 1))
    publish(client, Kind.IMU, encode(Batch(seq=0, t0_s=T0_S, rate_hz=50.0, acc_scale_g=1 / 4096, acc=acc)))

    def analysed() -> bool:
        with Store(store_url) as store:
            state = store.load_state(DEVICE)
        return state is not None and state.status.get("t_s") is not None

    wait_until(analysed, what="the worker to analyse the packet")
    return T0_S + 24 / 50.0


def stored_actions(store_url: str) -> list[dict[str, object]]:
    with Store(store_url) as store:
        return [e.body for e in store.events(DEVICE, kinds=["action"])]


def unpublished(store_url: str) -> list[object]:
    with Store(store_url) as store:
        return list(store.unpublished_events())


def duplicates(store_url: str) -> int:
    with Store(store_url) as store:
        return store.counters("worker").get(("worker", DEVICE, "duplicate_actions"), 0)


def test_two_actions_before_the_next_packet_are_both_kept(
    broker: BrokerAddress, store_url: str, worker: Worker, event_log: EventLog, publisher: paho.Client
) -> None:
    """Done, then snooze, before another packet: both take the last sample's time, and both
    are stored once and published once (their key includes the action's id)."""
    last_s = one_packet(publisher, store_url)
    ids = [send_action(broker, DEVICE, "done"), send_action(broker, DEVICE, "snooze")]
    ids.append(send_action(broker, DEVICE, "meeting_end"))  # published after the two: all are in once it is
    wait_until(lambda: len(event_log.of_kind("action")) >= 3, what="three action events")
    published = event_log.of_kind("action")
    assert [(e["action"], e["id"]) for e in published] == list(zip(["done", "snooze", "meeting_end"], ids, strict=True))
    # One instant for all three (the last sample's): a key of device, kind and time kept only the first.
    assert [e["t_s"] for e in published] == pytest.approx([last_s] * 3)
    assert stored_actions(store_url) == published
    wait_until(lambda: not unpublished(store_url), what="the broker's acknowledgements in the store")


def test_an_action_delivered_again_is_applied_once(
    store_url: str, worker: Worker, event_log: EventLog, publisher: paho.Client
) -> None:
    """The same action message twice (QoS 1 delivers at least once): one event, stored and
    published once, and the second counted as a duplicate."""
    one_packet(publisher, store_url)
    snooze = json.dumps({"action": "snooze", "id": "a1b2c3"}).encode()
    publish(publisher, Kind.ACTION, snooze)
    publish(publisher, Kind.ACTION, snooze)
    publish(publisher, Kind.ACTION, json.dumps({"action": "done", "id": "d4e5f6"}).encode())
    wait_until(lambda: len(event_log.of_kind("action")) >= 2, what="two action events")
    assert [(e["action"], e["id"]) for e in event_log.of_kind("action")] == [("snooze", "a1b2c3"), ("done", "d4e5f6")]
    assert [(e["action"], e["id"]) for e in stored_actions(store_url)] == [("snooze", "a1b2c3"), ("done", "d4e5f6")]
    wait_until(lambda: duplicates(store_url) == 1, what="the duplicate to be counted")
