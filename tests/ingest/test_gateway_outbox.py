"""The gateway's publish window: packets wait on disk, not in the MQTT client, and reach the broker in order."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np
import pytest

from analysis import Placement
from firmware_sim.ble import SimSensor, new_address, register, unregister
from firmware_sim.device import DeviceSettings
from firmware_sim.scenarios import scenario
from ingest.codec import decode
from ingest.gateway import Gateway, safe_device_id
from ingest.gateway.sensor import Sensor
from ingest.mqtt import BrokerAddress
from ingest.outbox import Outbox
from ingest.packetizer import Packetizer
from ingest.profiles.base import Samples
from tests.e2e.gateway_helpers import Heard, gateway_settings, running
from tests.support import TcpProxy, free_port, wait_until

#: A small window, so that a few seconds of a fast sensor fill it many times over.
WINDOW = 8


@pytest.fixture(autouse=True)
def _quick_reconnections(monkeypatch: pytest.MonkeyPatch) -> None:
    """The MQTT clients try again every second, so that a broker that appears is found at once."""
    monkeypatch.setattr("ingest.mqtt.RECONNECT_MAX_S", 1)


@contextmanager
def _sensor(speed: float = 1.0) -> Iterator[SimSensor]:
    """A thigh sensor playing the quick scenario ``speed`` times faster than real time."""
    sim = SimSensor(new_address(), scenario("quick"), DeviceSettings(placement=Placement.THIGH, loop=True, speed=speed))
    register(sim)
    try:
        yield sim
    finally:
        unregister(sim)


class _Handed:
    """Records each packet's seq as the gateway hands it to the MQTT client, and the most in flight then."""

    def __init__(self, sensor: Sensor, monkeypatch: pytest.MonkeyPatch) -> None:
        self.seqs: list[int] = []
        self.peak = 0
        publish = sensor.link.publish_packet

        def recorded(payload: bytes, on_acked: Callable[[], None] | None = None) -> None:
            self.seqs.append(decode(payload).seq)
            self.peak = max(self.peak, sensor.packets_in_flight)  # this packet counted already
            publish(payload, on_acked)

        monkeypatch.setattr(sensor.link, "publish_packet", recorded)


def _gateway(broker: BrokerAddress, sim: SimSensor, data_dir: Path, status_every_s: float = 0.5) -> Gateway:
    """A gateway of :data:`WINDOW` for the simulated sensor, through ``broker``."""
    settings = gateway_settings(broker, sim, data_dir)
    return Gateway(dataclasses.replace(settings, publish_window=WINDOW, status_every_s=status_every_s))


def test_the_outbox_reads_a_device_s_packets_page_by_page_in_sequence_order(tmp_path: Path) -> None:
    """Pages after a sequence number, in order, of one device; the highest kept; all of them as before."""
    outbox = Outbox(tmp_path / "outbox.sqlite")
    for seq in (7, 3, 12, 5, 9):
        outbox.put("dev-a", seq, bytes([seq]))
    outbox.put("dev-b", 4, b"other")
    assert outbox.pending("dev-a", limit=2) == [(3, b"\x03"), (5, b"\x05")]
    assert outbox.pending("dev-a", after_seq=5, limit=2) == [(7, b"\x07"), (9, b"\x09")]
    assert outbox.pending("dev-a", after_seq=9, limit=2) == [(12, b"\x0c")]
    assert outbox.pending("dev-a", after_seq=12) == []
    assert [seq for seq, _ in outbox.pending("dev-a")] == [3, 5, 7, 9, 12]
    assert (outbox.last_seq("dev-a"), outbox.last_seq("dev-b"), outbox.last_seq("dev-c")) == (12, 4, None)
    outbox.close()


def test_the_count_of_all_packets_follows_every_put_and_ack_and_a_reopening(tmp_path: Path) -> None:
    """Kept as packets come and go (a scrape reads it without counting rows): a packet kept
    again is not counted twice, nor an acknowledgement that finds nothing to forget."""
    path = tmp_path / "outbox.sqlite"
    outbox = Outbox(path)
    for seq in range(5):
        outbox.put("dev-a", seq, b"first")
    outbox.put("dev-b", 0, b"other")
    outbox.put("dev-a", 2, b"again")  # kept again, replacing the payload
    assert outbox.count() == 6
    assert outbox.pending("dev-a", after_seq=1, limit=1) == [(2, b"again")]
    outbox.ack("dev-a", 0)
    outbox.ack("dev-a", 0)  # acknowledged twice: one packet fewer
    outbox.ack("dev-c", 9)  # never kept
    assert (outbox.count(), outbox.count("dev-a"), outbox.count("dev-b")) == (5, 4, 1)
    outbox.close()
    reopened = Outbox(path)
    assert reopened.count() == 5
    reopened.close()


def test_while_no_broker_listens_packets_wait_on_disk_only_then_arrive_in_order_once(
    broker: BrokerAddress, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing listens on the gateway's port: the outbox takes every packet, the MQTT client none.
    A broker then appears on that port: every packet arrives once, in sequence order, and the outbox empties."""
    port = free_port()
    with _sensor(speed=10.0) as sim, ExitStack() as stack:
        heard = Heard(broker, safe_device_id(sim.address))
        stack.callback(heard.close)
        # One status a minute: the client's queue then holds one status, and no packet.
        gateway = _gateway(BrokerAddress("127.0.0.1", port, mqtt5=broker.mqtt5), sim, tmp_path, status_every_s=60.0)
        (sensor,) = gateway.sensors
        handed = _Handed(sensor, monkeypatch)
        queued: list[int] = []
        with running(gateway):

            def kept_on_disk() -> bool:
                queued.append(sensor.link.unacked)
                return gateway.outbox.count() >= 40

            wait_until(kept_on_disk, timeout_s=60, what="40 packets kept while no broker listens")
            assert handed.seqs == []
            assert max(queued) <= 2  # the statuses (online, and offline if the sensor dropped); no packet
            assert gateway.counts["kept_behind"] >= 40
            stack.callback(TcpProxy(broker, port=port).close)  # a broker on the port, until the gateway stopped
            wait_until(lambda: not sensor.behind, timeout_s=60, what="the gateway to catch up")
            made = sensor.next_seq
            wait_until(lambda: heard.count() >= made + 10, timeout_s=60, what="10 packets live")
            sim.power(False)
            wait_until(
                lambda: heard.count() == sensor.next_seq and gateway.outbox.count() == 0,
                timeout_s=60,
                what="every packet heard and the outbox empty",
            )
        assert sensor.link.unacked == 0  # the statuses too, at the close
    assert handed.seqs == list(range(sensor.next_seq))  # handed over in sequence order, each once
    assert handed.peak <= WINDOW
    assert heard.order == handed.seqs
    assert heard.duplicates == 0


def _keep(outbox: Outbox, device_id: str, n: int) -> None:
    """Leave ``n`` packets of ``device_id`` in the outbox, as a gateway stopped while its broker was away."""
    packetizer, t_s = Packetizer(50.0, 25, 0), 1.8e9
    for _ in range(n):
        t_s += 0.5
        for packet in packetizer.add(Samples(np.zeros((25, 3))), t_s):
            outbox.put(device_id, packet.seq, packet.payload)


def test_a_start_with_many_packets_kept_hands_the_window_at_a_time_in_order(
    broker: BrokerAddress, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """400 packets left from before, no sensor: at most the window in the MQTT client at once; all arrive in order."""
    sim = SimSensor(new_address(), scenario("quick"), DeviceSettings())  # never registered: not advertising
    device_id = safe_device_id(sim.address)
    outbox = Outbox(tmp_path / "outbox.sqlite")
    _keep(outbox, device_id, 400)
    outbox.close()
    heard = Heard(broker, device_id)
    gateway = _gateway(broker, sim, tmp_path)
    (sensor,) = gateway.sensors
    handed = _Handed(sensor, monkeypatch)
    try:
        with running(gateway):
            wait_until(
                lambda: heard.count() == 400 and gateway.outbox.count() == 0,
                timeout_s=60,
                what="the kept packets published and acknowledged",
            )
            assert not sensor.behind
    finally:
        heard.close()
    assert handed.seqs == list(range(400))
    assert handed.peak <= WINDOW
    assert heard.order == handed.seqs
    assert sensor.next_seq == 400  # new packets go on past the kept ones


def test_packets_a_full_disk_refuses_are_still_published(
    broker: BrokerAddress, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The outbox's disk is full while no broker listens: the packets it refuses go to the MQTT client at
    once (they cannot wait on disk); the broker appears, and every packet, kept or not, arrives once."""
    port = free_port()
    with _sensor(speed=10.0) as sim, ExitStack() as stack:
        heard = Heard(broker, safe_device_id(sim.address))
        stack.callback(heard.close)
        gateway = _gateway(BrokerAddress("127.0.0.1", port, mqtt5=broker.mqtt5), sim, tmp_path)
        # SQLite's own "database or disk is full" for every write that needs a page more than the file has.
        gateway.outbox._db.execute("PRAGMA max_page_count = 1")  # it does not go below the pages in use
        (sensor,) = gateway.sensors
        handed = _Handed(sensor, monkeypatch)
        with running(gateway):
            wait_until(lambda: gateway.counts["outbox_failures"] >= 10, timeout_s=60, what="10 packets refused")
            assert len(handed.seqs) >= 10  # handed over although the link is down
            stack.callback(TcpProxy(broker, port=port).close)  # a broker on the port, until the gateway stopped
            sim.power(False)
            wait_until(
                lambda: heard.count() == sensor.next_seq and gateway.outbox.count() == 0,
                timeout_s=60,
                what="every packet heard and the outbox empty",
            )
    assert gateway.counts["kept_behind"] > 0  # the first ones fitted in the file's last page
    assert sorted(handed.seqs) == list(range(sensor.next_seq))  # kept ones and refused ones, each once
    assert heard.duplicates == 0
