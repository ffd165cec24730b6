"""Shared pieces of the gateway tests: a listener on one device's topics, a running gateway, its settings."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import paho.mqtt.client as paho

from analysis import Placement
from firmware_sim.ble import SimClient, SimScanner, SimSensor
from ingest.codec import decode
from ingest.gateway import Gateway, GatewaySettings, SensorSpec
from ingest.mqtt import BrokerAddress, connect, make_client
from ingest.payloads import DeviceStatus
from ingest.topics import Kind, topic


class Heard:
    """Everything published about one device: packets by seq, statuses in order (with ``broker``'s login)."""

    def __init__(self, broker: BrokerAddress, device_id: str) -> None:
        self.device_id = device_id
        self.packets: dict[int, float] = {}  # seq -> t0_s
        self.spans: dict[int, tuple[float, float]] = {}  # seq -> (t0_s, t0_s + samples / rate_hz)
        self.rates: set[float] = set()  # every packet's rate_hz
        self.duplicates = 0
        self.redelivered: list[int] = []  # seqs heard again, in order
        self.order: list[int] = []  # every packet's seq, in the order heard
        self.statuses: queue.Queue[DeviceStatus] = queue.Queue()
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self.client = make_client(f"test-heard-{device_id}")
        wanted = [(topic(device_id, Kind.IMU), 1), (topic(device_id, Kind.STATUS), 1)]  # what a worker may read
        self.client.on_connect = lambda c, *_: c.subscribe(wanted)
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_message = self._on_message
        connect(self.client, broker)
        assert subscribed.wait(60)

    def _on_message(self, _c: paho.Client, _u: object, msg: paho.MQTTMessage) -> None:
        if msg.topic == topic(self.device_id, Kind.IMU):
            batch = decode(bytes(msg.payload))
            with self._lock:
                if batch.seq in self.packets:
                    self.duplicates += 1
                    self.redelivered.append(batch.seq)
                self.packets[batch.seq] = batch.t0_s
                self.order.append(batch.seq)
                self.spans[batch.seq] = (batch.t0_s, batch.t0_s + batch.acc.shape[0] / batch.rate_hz)
                self.rates.add(batch.rate_hz)
        elif msg.topic == topic(self.device_id, Kind.STATUS) and msg.payload:
            self.statuses.put(DeviceStatus.parse(bytes(msg.payload)))

    def count(self) -> int:
        with self._lock:
            return len(self.packets)

    def status(self, predicate: Callable[[DeviceStatus], bool]) -> DeviceStatus:
        """The next status that matches (earlier ones are skipped)."""
        while True:
            status = self.statuses.get(timeout=120)
            if predicate(status):
                return status

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@contextmanager
def running(settings: GatewaySettings | Gateway) -> Iterator[Gateway]:
    """A gateway (or one of these settings) running in a thread of its own; stopped at the end."""
    gateway = settings if isinstance(settings, Gateway) else Gateway(settings)
    thread = threading.Thread(target=lambda: asyncio.run(gateway.run()), daemon=True)
    thread.start()
    try:
        yield gateway
    finally:
        gateway.stop()
        thread.join(120)
        assert not thread.is_alive()


def gateway_settings(broker: BrokerAddress, sensor: SimSensor, data_dir: Path) -> GatewaySettings:
    spec = SensorSpec(sensor.address, placement=Placement.THIGH)
    return GatewaySettings(
        broker,
        (spec,),
        data_dir,
        status_every_s=0.5,
        backoff_s=(0.1, 0.5),
        scan_timeout_s=0.3,
        drain_timeout_s=2.0,
        backend=SimClient,
        scanner_backend=SimScanner,
    )
