"""The device side of MQTT shared by the simulator and the gateway, through each real broker."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

import paho.mqtt.client as paho
import pytest

from analysis import Placement
from ingest.device_link import DeviceLink
from ingest.mqtt import BrokerAddress, connect, make_client
from ingest.payloads import Command, DeviceStatus
from ingest.topics import Kind, topic
from tests.support import TcpProxy, wait_until

pytestmark = pytest.mark.e2e

DEVICE = "link-01"


def _subscriber(broker: BrokerAddress) -> tuple[paho.Client, queue.Queue[tuple[str, bytes, bool]]]:
    got: queue.Queue[tuple[str, bytes, bool]] = queue.Queue()
    subscribed = threading.Event()
    client = make_client("test-link-listener")
    client.on_connect = lambda c, *_: c.subscribe(f"sitless/v1/{DEVICE}/#", qos=1)
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = lambda _c, _u, m: got.put((m.topic, bytes(m.payload), bool(m.retain)))
    connect(client, broker)
    assert subscribed.wait(60)
    return client, got


def _next(got: queue.Queue[tuple[str, bytes, bool]], kind: Kind) -> bytes:
    while True:
        name, payload, _ = got.get(timeout=60)
        if name == topic(DEVICE, kind):
            return payload


def test_packets_statuses_and_commands(broker: BrokerAddress) -> None:
    """Packets and statuses go out and are acknowledged; valid commands reach the device, bad ones are counted."""
    commands: list[Command] = []
    link = DeviceLink(DEVICE, broker, on_command=commands.append, drain_timeout_s=30.0)
    listener, got = _subscriber(broker)
    link.connect()
    try:
        link.publish_status(DeviceStatus(online=True, placement=Placement.THIGH))
        link.publish_packet(b"\x01\x02")
        assert DeviceStatus.parse(_next(got, Kind.STATUS)).online is True
        assert _next(got, Kind.IMU) == b"\x01\x02"
        assert link.drain()
        sender = make_client("test-link-worker")
        connect(sender, broker)
        for payload in (Command("buzz", pattern="long").to_json(), '{"cmd": 5}', "[" * 100):
            sender.publish(topic(DEVICE, Kind.CMD), payload, qos=1).wait_for_publish(60)
        wait_until(lambda: len(commands) == 1 and link.bad_commands == 2, 60, "the commands handled")
        assert commands == [Command("buzz", pattern="long")]
        sender.disconnect()
        sender.loop_stop()
    finally:
        link.close()
        assert DeviceStatus.parse(_next(got, Kind.STATUS)) == DeviceStatus(online=False)
        listener.disconnect()
        listener.loop_stop()


def test_a_packet_sent_while_the_link_is_down_is_acknowledged_after_it_is_back(
    broker: BrokerAddress, proxy_factory: Callable[[BrokerAddress], TcpProxy]
) -> None:
    """The link drops; what is published meanwhile waits in the client and arrives, acknowledged, once back."""
    proxy = proxy_factory(broker)
    link = DeviceLink(DEVICE, proxy.address, drain_timeout_s=60.0)
    listener, got = _subscriber(broker)
    link.connect()
    try:
        proxy.cut()
        wait_until(lambda: not link.connected, 60, "the link noticed the cut")
        link.publish_packet(b"\x07")
        assert link.unacked == 1
        proxy.restore()
        assert _next(got, Kind.IMU) == b"\x07"
        assert link.drain()
        assert link.unacked == 0
    finally:
        link.close()
        listener.disconnect()
        listener.loop_stop()
