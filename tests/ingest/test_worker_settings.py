"""The wearer's settings through a real broker: stored, in force at once, and kept across a worker restart."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import paho.mqtt.client as paho
import pytest

from analysis import Placement
from ingest.actions import send_settings
from ingest.codec import Batch, encode
from ingest.mqtt import BrokerAddress, connect, make_client
from ingest.payloads import WearerSettings
from ingest.store import Store
from ingest.topics import Kind, topic
from ingest.worker import Worker, WorkerSettings
from tests.support import wait_until

pytestmark = pytest.mark.e2e

DEVICE = "settings-01"
T0_S = 1.7e9
CHOSEN = WearerSettings(
    max_sitting_min=15.0,
    weekly_hours=((9.0, 17.0),) * 5 + (None, None),
    quiet_hours=((12.0, 13.0),),
    slouch_deg=25.0,
)


@pytest.fixture
def publisher(broker: BrokerAddress) -> Iterator[paho.Client]:
    """A client for packets and raw settings; the retained settings are cleared afterwards."""
    client = make_client("test-settings-publisher")
    connect(client, broker)
    yield client
    client.publish(topic(DEVICE, Kind.SETTINGS), b"", qos=1, retain=True).wait_for_publish(timeout=30)
    client.disconnect()
    client.loop_stop()


def start_worker(broker: BrokerAddress, store_url: str) -> Worker:
    """A worker that saves each device's snapshot within 0.5 s (not at its own point of 10 s)."""
    worker = Worker(WorkerSettings(broker, store_url, client_id="test-settings-worker", snapshot_every_s=0.5))
    worker.start()
    return worker


def send_packet(client: paho.Client, seq: int) -> None:
    """0.5 s of a still sensor, packet ``seq``, with QoS 1."""
    acc = np.tile(np.array([0, 0, 4096], dtype=np.int16), (25, 1))
    batch = Batch(seq=seq, t0_s=T0_S + 0.5 * seq, rate_hz=50.0, acc_scale_g=1 / 4096, acc=acc)
    client.publish(topic(DEVICE, Kind.IMU), encode(batch), qos=1).wait_for_publish(timeout=30)


def status(store_url: str) -> dict[str, Any]:
    with Store(store_url) as store:
        state = store.load_state(DEVICE)
    return {} if state is None else state.status


def analysed(store_url: str, seq: int) -> bool:
    with Store(store_url) as store:
        state = store.load_state(DEVICE)
    return state is not None and state.seq >= seq


def in_force(store_url: str) -> bool:
    s = status(store_url)
    return (
        s.get("max_sitting_s") == 900.0
        and s.get("quiet_hours") == [[12.0, 13.0]]
        and s.get("weekly_hours") == [[9.0, 17.0]] * 5 + [None, None]
        and s.get("slouch_deg") == 25.0
    )


def test_settings_are_stored_followed_and_kept_across_a_restart(
    broker: BrokerAddress, store_url: str, publisher: paho.Client
) -> None:
    worker = start_worker(broker, store_url)
    try:
        send_packet(publisher, 0)
        wait_until(lambda: analysed(store_url, 0), what="the first packet analysed")
        assert status(store_url)["max_sitting_s"] == 1800.0  # the worker's own until the wearer chooses
        send_settings(broker, DEVICE, CHOSEN)
        wait_until(lambda: in_force(store_url), what="the worker to follow the settings")
        with Store(store_url) as store:
            assert store.wearer_settings(DEVICE) == CHOSEN.to_dict()
    finally:
        worker.close()
    # Without the retained message, a restarted worker takes the settings from the store.
    publisher.publish(topic(DEVICE, Kind.SETTINGS), b"", qos=1, retain=True).wait_for_publish(timeout=30)
    with Store(store_url) as store:
        store.save_state(DEVICE, 0, {}, {"placement": "thigh"})  # a status without the settings in it
    assert not in_force(store_url)
    restarted = start_worker(broker, store_url)
    try:
        send_packet(publisher, 1)
        wait_until(lambda: analysed(store_url, 1), what="the packet after the restart analysed")
        wait_until(lambda: in_force(store_url), what="the restarted worker to follow the stored settings")
    finally:
        restarted.close()


@pytest.fixture
def worker_after_a_packet(broker: BrokerAddress, store_url: str, publisher: paho.Client) -> Iterator[Worker]:
    """A running worker that has analysed the device's first packet."""
    worker = start_worker(broker, store_url)
    try:
        send_packet(publisher, 0)
        wait_until(lambda: analysed(store_url, 0), what="the first packet analysed")
        yield worker
    finally:
        worker.close()


@pytest.mark.usefixtures("worker_after_a_packet")
def test_bad_settings_are_counted_and_change_nothing(
    broker: BrokerAddress, store_url: str, publisher: paho.Client
) -> None:
    nested = b'{"weekly_hours": ' + b"[" * 50 + b"]" * 50 + b"}"
    bad_ones = (b'{"max_sitting_min": 1}', nested, b"\xff", b'{"action": "x"}')
    for bad in bad_ones:
        publisher.publish(topic(DEVICE, Kind.SETTINGS), bad, qos=1).wait_for_publish(timeout=30)
    send_settings(broker, DEVICE, CHOSEN)  # after the bad ones: the worker is still there
    wait_until(lambda: in_force(store_url), what="the good settings after the bad ones")

    def bad_counted() -> bool:
        with Store(store_url) as store:
            return store.counters("worker").get(("worker", DEVICE, "bad_settings"), 0) == len(bad_ones)

    wait_until(bad_counted, what="the bad settings counted")


@pytest.mark.usefixtures("worker_after_a_packet")
def test_a_chosen_placement_starts_the_analysis_afresh_there(
    broker: BrokerAddress, store_url: str, publisher: paho.Client
) -> None:
    """A sensor whose status names no placement is analysed where the wearer says they wear it."""
    assert status(store_url)["placement"] == "thigh"  # the worker's default
    send_settings(broker, DEVICE, WearerSettings(placement=Placement.LOWER_BACK))
    send_packet(publisher, 1)
    wait_until(
        lambda: analysed(store_url, 1) and status(store_url).get("placement") == "lower_back",
        what="the analysis at the lower back",
    )
