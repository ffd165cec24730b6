"""A wearable deleted while the worker runs: nothing of it comes back to the store.

The delete takes the device's lease with its other rows; the worker's saves write only
the devices whose lease it holds, in the same transaction (``Store.save_states``), and at
its next renewal it finds the lease gone and drops the device's analysis unsaved.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import paho.mqtt.client as paho
import pytest

from ingest.actions import clear_retained
from ingest.codec import Batch, encode
from ingest.mqtt import BrokerAddress
from ingest.store import Store
from ingest.topics import Kind, topic
from ingest.worker import Worker, WorkerSettings
from tests.support import mqtt_client, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.both_stores]

DEVICE = "forget-01"
OTHER = "forget-02"
T0_S = 1.7e9


@pytest.fixture
def wearable(broker: BrokerAddress) -> Iterator[paho.Client]:
    with mqtt_client("test-forget-wearable", broker) as client:
        yield client


def send(client: paho.Client, device_id: str, seqs: range) -> None:
    """Half-second packets of a still sensor, each acknowledged by the broker."""
    acc = np.tile(np.array([0, 0, 4096], dtype=np.int16), (25, 1))
    for seq in seqs:
        packet = encode(Batch(seq=seq, t0_s=T0_S + seq * 0.5, rate_hz=50.0, acc_scale_g=1 / 4096, acc=acc))
        client.publish(topic(device_id, Kind.IMU), packet, qos=1).wait_for_publish(timeout=30)


def held(store_url: str, device_id: str) -> dict[str, object]:
    """What the store holds of a device besides its raw packets."""
    with Store(store_url, read_only=True) as store:
        return {
            "state": store.load_state(device_id),
            "status": store.load_status(device_id),
            "device": device_id in store.devices(),
            "counts": [k for k in store.counters() if k[1] == device_id],
        }


def test_a_wearable_deleted_while_the_worker_runs_is_let_go_not_saved_again(
    broker: BrokerAddress, store_url: str, wearable: paho.Client
) -> None:
    """The dashboard's delete (retained messages cleared, then the store's rows) while
    the worker holds an analysis it has not saved: the worker drops it, and its last save
    at a stop brings none of it back. Another wearable's analysis goes on untouched."""
    settings = WorkerSettings(broker, store_url, client_id="test-forget-worker", snapshot_every_s=3600.0)
    worker = Worker(settings)
    worker.start()
    try:
        send(wearable, DEVICE, range(10))
        send(wearable, OTHER, range(10))
        wait_until(lambda: held(store_url, DEVICE)["status"] is not None, what="the first save")
        send(wearable, DEVICE, range(10, 20))  # analysed, its snapshot not saved for an hour
        wait_until(lambda: DEVICE in worker._wearers and worker._wearers[DEVICE].seq == 19, what="the analysis")

        clear_retained(broker, DEVICE)
        with Store(store_url) as store:
            store.delete_device(DEVICE)
        wait_until(lambda: DEVICE not in worker._wearers, what="the worker to let it go")
    finally:
        worker.close()  # saves every wearer it holds
    assert held(store_url, DEVICE) == {"state": None, "status": None, "device": False, "counts": []}
    other = held(store_url, OTHER)
    assert other["state"] is not None
    assert other["counts"]
