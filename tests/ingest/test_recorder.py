"""The recorder through real brokers: every packet stored once, faults counted, nothing lost."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import numpy as np
import paho.mqtt.client as paho
import pytest

from ingest.codec import Batch, encode
from ingest.mqtt import BrokerAddress, connect, make_client
from ingest.recorder import Recorder, RecorderSettings
from ingest.store import Store
from ingest.topics import Kind, topic
from tests.support import TcpProxy, wait_until

pytestmark = pytest.mark.e2e

DEVICE = "rec-test"


def packet(seq: int, n: int = 25) -> bytes:
    """A valid packet: 0.5 s of a still sensor at 50 Hz."""
    acc = np.tile(np.array([0, 0, 4096], dtype=np.int16), (n, 1))
    return encode(Batch(seq=seq, t0_s=1.7e9 + seq * n / 50, rate_hz=50.0, acc_scale_g=1 / 4096, acc=acc))


@pytest.fixture
def publisher() -> Iterator[Callable[[BrokerAddress], paho.Client]]:
    clients: list[paho.Client] = []

    def make(address: BrokerAddress) -> paho.Client:
        client = make_client(f"pub-{len(clients)}")
        connect(client, address)
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.disconnect()
        c.loop_stop()


def start_recorder(broker: BrokerAddress, store_url: str) -> Recorder:
    recorder = Recorder(RecorderSettings(broker, store_url, client_id="recorder-under-test"))
    recorder.start()
    return recorder


def stored_seqs(store_url: str) -> list[int]:
    with Store(store_url) as store:
        return store.seqs(DEVICE)


def test_stores_each_packet_once_and_counts_duplicates_gaps_and_bad_packets(
    broker: BrokerAddress, any_store_url: str, publisher: Callable[[BrokerAddress], paho.Client]
) -> None:
    """A redelivered packet is stored once, a skipped seq is a gap, garbage is counted and skipped
    (through each broker into each store backend)."""
    store_url = any_store_url
    recorder = start_recorder(broker, store_url)
    pub = publisher(broker)
    imu = topic(DEVICE, Kind.IMU)
    sent = [*range(20), 5, *range(23, 30)]  # 5 twice; 20..22 never sent
    for seq in sent:
        pub.publish(imu, packet(seq), qos=1)
        if seq == 10:
            pub.publish(imu, b"\x01garbage", qos=1)
    pub.publish(topic(DEVICE, Kind.STATUS), json.dumps({"online": True, "placement": "thigh"}), qos=1, retain=True)
    expected = sorted(set(sent))
    wait_until(lambda: stored_seqs(store_url) == expected, what="all packets stored")
    wait_until(lambda: recorder.stats.statuses == 1, what="the status")
    recorder.close()
    assert recorder.stats.duplicates == 1
    assert recorder.stats.bad_packets == 1
    with Store(store_url) as store:
        assert store.gaps(DEVICE) == [(20, 22)]
        assert store.devices()[DEVICE]["placement"] == "thigh"
        counters = store.counters("recorder")
        assert counters[("recorder", DEVICE, "bad_packets")] == 1
        assert counters[("recorder", DEVICE, "duplicates")] == 1
        # the stored bytes are the bytes sent
        assert next(store.batches(DEVICE, after_seq=6, limit=1)).payload == packet(7)


def test_recorder_restart_loses_nothing(
    broker: BrokerAddress, store_url: str, publisher: Callable[[BrokerAddress], paho.Client]
) -> None:
    """Packets sent while the recorder is down wait in its broker session and are stored after."""
    recorder = start_recorder(broker, store_url)
    pub = publisher(broker)
    imu = topic(DEVICE, Kind.IMU)
    for seq in range(50):
        pub.publish(imu, packet(seq), qos=1)
    wait_until(lambda: len(stored_seqs(store_url)) == 50, what="the first 50 packets")
    recorder.close()
    infos = [pub.publish(imu, packet(seq), qos=1) for seq in range(50, 100)]
    for info in infos:
        info.wait_for_publish(10)
    recorder = start_recorder(broker, store_url)
    wait_until(lambda: len(stored_seqs(store_url)) == 100, what="the packets sent while away")
    recorder.close()
    assert stored_seqs(store_url) == list(range(100))


def test_dropped_device_link_loses_and_duplicates_nothing(
    broker: BrokerAddress,
    store_url: str,
    publisher: Callable[[BrokerAddress], paho.Client],
    proxy_factory: Callable[[BrokerAddress], TcpProxy],
) -> None:
    """The wearable's link drops mid-stream: queued QoS 1 packets arrive once it is back."""
    recorder = start_recorder(broker, store_url)
    proxy = proxy_factory(broker)
    pub = publisher(proxy.address)
    imu = topic(DEVICE, Kind.IMU)
    for seq in range(30):
        pub.publish(imu, packet(seq), qos=1)
    wait_until(lambda: len(stored_seqs(store_url)) == 30, what="packets before the drop")
    proxy.cut()
    wait_until(lambda: not pub.is_connected(), what="the publisher to notice the drop")
    for seq in range(30, 60):
        pub.publish(imu, packet(seq), qos=1)  # queued by paho while offline
    proxy.restore()
    wait_until(lambda: len(stored_seqs(store_url)) == 60, timeout_s=30, what="packets queued during the drop")
    recorder.close()
    assert stored_seqs(store_url) == list(range(60))
    assert recorder.stats.gaps == 0
