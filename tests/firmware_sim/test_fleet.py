"""The simulated fleet's packets: the real codec, each wearer's own numbers, times and motion."""

from __future__ import annotations

import threading
from collections import defaultdict

import numpy as np
import paho.mqtt.client as paho
import pytest

from firmware_sim.fleet import Fleet, FleetSettings, StreamBank, device_ids
from firmware_sim.scenarios import scenario
from ingest.codec import decode
from ingest.mqtt import BrokerAddress, connect, make_client
from ingest.payloads import DeviceStatus
from ingest.topics import Kind, parse, subscription
from tests.support import wait_until

T0_S = 1.7e9


@pytest.fixture(scope="module")
def bank() -> StreamBank:
    return StreamBank(scenario("all_postures"), FleetSettings(wearers=10, streams=3))


def test_packets_decode_with_the_wearers_seq_and_time(bank: StreamBank) -> None:
    """A wearer's packet k carries the seq and first-sample time it was given, and 25 samples at 50 Hz."""
    for k in range(5):
        batch = decode(bank.packet(4, k, 100 + k, T0_S + 0.5 * k))
        assert (batch.seq, batch.t0_s, batch.n, batch.rate_hz) == (100 + k, T0_S + 0.5 * k, 25, 50.0)


def test_wearers_on_one_stream_are_not_in_step(bank: StreamBank) -> None:
    """Wearers 0 and 3 share stream 0 but play it from other points, so their samples differ."""
    a = decode(bank.packet(0, 0, 0, T0_S)).acc
    b = decode(bank.packet(3, 0, 0, T0_S)).acc
    assert not np.array_equal(a, b)


def test_a_stream_plays_on_a_loop(bank: StreamBank) -> None:
    """After one play of the script a wearer's packets start again from where it began."""
    length = bank.packets_per_stream[1]
    assert np.array_equal(decode(bank.packet(1, 0, 0, T0_S)).acc, decode(bank.packet(1, length, 0, T0_S)).acc)


def test_device_ids_are_numbered_from_one() -> None:
    """Ids run fleet-00001.. fleet-0000N."""
    assert device_ids(3) == ["fleet-00001", "fleet-00002", "fleet-00003"]


def test_settings_refuse_an_empty_fleet() -> None:
    """A fleet needs at least one wearer."""
    with pytest.raises(ValueError, match="wearers"):
        FleetSettings(wearers=0)


def test_a_fleet_publishes_each_wearers_packets_in_order_and_retains_its_status(
    mosquitto_broker: BrokerAddress,
) -> None:
    """3 wearers x 5 s at 50x: 10 packets each with consecutive seqs, and a retained offline status each."""
    received: dict[str, list[int]] = defaultdict(list)
    lock = threading.Lock()

    def on_message(_c: object, _u: object, msg: paho.MQTTMessage) -> None:
        device_id, kind = parse(msg.topic)
        if kind is Kind.IMU:
            with lock:
                received[device_id].append(decode(msg.payload).seq)

    subscribed = threading.Event()
    listener = make_client("fleet-listener")
    listener.on_message = on_message
    listener.on_connect = lambda c, *_: c.subscribe(subscription(Kind.IMU), qos=1)
    listener.on_subscribe = lambda *_: subscribed.set()
    connect(listener, mosquitto_broker)
    wait_until(subscribed.is_set, 10, "the listener's subscription")
    settings = FleetSettings(wearers=3, broker=mosquitto_broker, speed=50, duration_s=5.0, streams=2)
    stats = Fleet(scenario("all_postures"), settings).run()
    assert (stats.packets_sent, stats.samples_sent, stats.unacked) == (30, 750, 0)
    wait_until(lambda: sum(map(len, received.values())) == 30, 10, "30 packets")
    listener.disconnect()
    listener.loop_stop()
    assert dict(received) == {d: list(range(stats.first_seq, stats.first_seq + 10)) for d in device_ids(3)}
    statuses: dict[str, bytes] = {}
    reader = make_client("fleet-status-reader")
    reader.on_message = lambda _c, _u, msg: statuses.__setitem__(parse(msg.topic)[0], msg.payload)
    reader.on_connect = lambda c, *_: c.subscribe(subscription(Kind.STATUS), qos=1)
    connect(reader, mosquitto_broker)
    wait_until(lambda: len(statuses) == 3, 10, "3 retained statuses")
    reader.disconnect()
    reader.loop_stop()
    assert all(DeviceStatus.parse(body).online is False for body in statuses.values())
