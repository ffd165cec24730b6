"""The BLE gateway with a simulated sitless sensor behind bleak's backend seam, through each real broker."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import struct
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from bleak import BleakClient

from analysis import Placement
from firmware_sim.ble import SimClient, SimScanner, SimSensor, new_address, register, unregister
from firmware_sim.device import DeviceSettings
from firmware_sim.scenarios import scenario
from ingest.gateway import GatewaySettings, SensorSpec, safe_device_id, scan, write_all
from ingest.mqtt import BrokerAddress, connect, make_client
from ingest.payloads import Command
from ingest.profiles import Write, witmotion
from ingest.profiles.sitless import CLOCK_UUID
from ingest.topics import Kind, topic
from tests.e2e.gateway_helpers import Heard, gateway_settings, running
from tests.support import TcpProxy, wait_until

pytestmark = pytest.mark.e2e


def test_scan_lists_the_sensor_with_its_profile(sensor: SimSensor) -> None:
    rows = asyncio.run(scan(0.1, backend=SimScanner))
    assert (sensor.address, "sitless-sim", -60, "sitless") in rows


def test_a_sensor_streams_drops_out_comes_back_and_buzzes(
    broker: BrokerAddress, sensor: SimSensor, tmp_path: Path
) -> None:
    """Packets with contiguous sequence numbers and rising times; offline while out of range; the buzz reaches it."""
    device_id = safe_device_id(sensor.address)
    heard = Heard(broker, device_id)
    try:
        with running(gateway_settings(broker, sensor, tmp_path)) as gateway:
            online = heard.status(lambda s: bool(s.online))
            assert (online.placement, online.rate_hz, online.battery_pct) == (Placement.THIGH, 50.0, 97)
            wait_until(lambda: heard.count() >= 6, what="6 packets")
            sensor.power(False)
            heard.status(lambda s: s.online is False)
            before = heard.count()
            sensor.power(True)
            heard.status(lambda s: bool(s.online))
            wait_until(lambda: heard.count() >= before + 6, what="6 more packets after the reconnection")
            sender = make_client("test-gateway-worker")
            connect(sender, broker)
            sender.publish(topic(device_id, Kind.CMD), Command("buzz", pattern="long").to_json(), qos=1)
            wait_until(lambda: Command("buzz", pattern="long") in sensor.commands, what="the buzz")
            sender.disconnect()
            sender.loop_stop()
        assert gateway.counts["bad_notifications"] == 0
        assert sensor.commands[0] == Command("rate", rate_hz=50.0)
        seqs = sorted(heard.packets)
        assert seqs == list(range(len(seqs)))
        times = [heard.packets[s] for s in seqs]
        assert all(b > a for a, b in itertools.pairwise(times)), [
            (i, round(b - a, 3)) for i, (a, b) in enumerate(itertools.pairwise(times)) if b <= a
        ]
        assert heard.duplicates == 0
    finally:
        heard.close()


def test_a_board_streaming_another_rate_than_asked_is_timed_at_its_own(broker: BrokerAddress, tmp_path: Path) -> None:
    """Asked for 50 Hz, the board streams 25 Hz: packets say 25 Hz and cover as long as the board streamed."""
    sim = SimSensor(
        new_address(), scenario("quick"), DeviceSettings(placement=Placement.THIGH, loop=True, rate_hz=25.0)
    )
    register(sim)
    heard = Heard(broker, safe_device_id(sim.address))
    try:
        with running(gateway_settings(broker, sim, tmp_path)):
            heard.status(lambda s: bool(s.online))
            wait_until(lambda: heard.count() >= 8, what="8 packets")
            now = time.time()
            assert heard.status(lambda s: bool(s.online) and (s.t_s or 0.0) > now).rate_hz == 25.0
            sim.power(False)
            heard.status(lambda s: s.online is False)
        assert sim.commands[0] == Command("rate", rate_hz=50.0)
        assert heard.rates == {25.0}
        spans = [heard.spans[s] for s in sorted(heard.spans)]
        # Within half a period (20 ms): a better latency seen moves the device clock's mapping back a little.
        assert all(b[0] >= a[1] - 0.02 for a, b in itertools.pairwise(spans)), spans
        covered = sum(end - start for start, end in spans)
        # The board's 25-sample packets of 1 s each, all heard: as many seconds of samples.
        assert covered == pytest.approx(sim.packets_sent * 25 / 25.0, abs=0.1)
    finally:
        unregister(sim)
        heard.close()


def test_packets_wait_on_disk_while_the_broker_is_away_and_across_a_restart(
    broker: BrokerAddress, sensor: SimSensor, tmp_path: Path, proxy_factory: Callable[[BrokerAddress], TcpProxy]
) -> None:
    """Broker unreachable: the outbox fills; the gateway is restarted; every packet arrives once the broker is back."""
    proxy = proxy_factory(broker)
    device_id = safe_device_id(sensor.address)
    heard = Heard(broker, device_id)
    try:
        settings = gateway_settings(proxy.address, sensor, tmp_path)
        with running(settings) as first:
            wait_until(lambda: heard.count() >= 4, what="4 packets")
            proxy.cut()
            wait_until(lambda: first.outbox.count() >= 6, what="6 packets kept while the broker is away")
        sent_first = first.counts["packets"]
        kept = sensor.packets_sent
        assert first.outbox.path.exists()
        with running(settings) as second:  # still no broker: replayed into the client, kept on disk
            wait_until(lambda: sensor.packets_sent >= kept + 4, what="the second run streaming")
            proxy.restore()
            wait_until(lambda: heard.count() >= 14, what="the kept packets published")
            sensor.power(False)  # no new packets: the outbox empties as the broker acknowledges
            wait_until(lambda: second.outbox.count() == 0, what="the outbox emptied")
        seqs = sorted(heard.packets)
        assert seqs == list(range(len(seqs))), "no sequence number lost or reused across the restart"
        assert len(seqs) >= sent_first
    finally:
        heard.close()


def test_repeated_bursting_and_late_notifications(broker: BrokerAddress, tmp_path: Path) -> None:
    """Repeats are refused and counted, bursts lose nothing, a late packet is refused: times never go back."""
    settings = DeviceSettings(placement=Placement.THIGH, loop=True)
    sim = SimSensor(new_address(), scenario("quick"), settings, duplicate_every=3, burst_every=4)
    late = SimSensor(new_address(), scenario("quick"), settings, swap_every=5)
    for s in (sim, late):
        register(s)
    heard = [Heard(broker, safe_device_id(s.address)) for s in (sim, late)]
    specs = tuple(SensorSpec(s.address) for s in (sim, late))
    try:
        gw = GatewaySettings(
            broker,
            specs,
            tmp_path,
            status_every_s=0.5,
            scan_timeout_s=0.3,
            drain_timeout_s=2.0,
            backend=SimClient,
            scanner_backend=SimScanner,
        )
        with running(gw) as gateway:
            wait_until(lambda: sim.packets_sent >= 16 and late.packets_sent >= 16, what="16 packets from each")
            for s in (sim, late):
                s.power(False)
            for h in heard:
                h.status(lambda s: s.online is False)
        samples = [sum(25 for _ in h.packets) for h in heard]
        repeats = len([k for k in range(1, sim.packets_sent + 1) if k % 3 == 0])
        late_ones = late.packets_sent // 5
        assert gateway.counts["bad_notifications"] == repeats + late_ones
        assert samples[0] == 25 * sim.packets_sent  # every distinct packet of the bursts, once
        assert samples[1] == 25 * (late.packets_sent - late_ones)
        for h in heard:
            seqs = sorted(h.packets)
            assert seqs == list(range(len(seqs)))
            times = [h.packets[s] for s in seqs]
            assert all(b > a for a, b in itertools.pairwise(times))
            assert h.duplicates == 0
    finally:
        for s in (sim, late):
            unregister(s)
        for h in heard:
            h.close()


def test_a_refused_connection_is_retried_within_one_attempt(broker: BrokerAddress, tmp_path: Path) -> None:
    """BlueZ's le-connection-abort-by-local twice: establish_connection tries again; no failed attempt, packets flow."""
    sim = SimSensor(
        new_address(), scenario("quick"), DeviceSettings(placement=Placement.THIGH, loop=True), failed_connects=2
    )
    register(sim)
    heard = Heard(broker, safe_device_id(sim.address))
    try:
        with running(gateway_settings(broker, sim, tmp_path)) as gateway:
            heard.status(lambda s: bool(s.online))
            wait_until(lambda: heard.count() >= 2, what="2 packets")
        assert sim.connect_calls == 3
        assert gateway.counts["connect_failures"] == 0
    finally:
        unregister(sim)
        heard.close()


def test_a_sensor_connected_but_silent_is_reconnected(broker: BrokerAddress, tmp_path: Path) -> None:
    """A hung firmware: the link holds and nothing comes. The watchdog counts it, shows it offline and
    connects again, and again; once the firmware goes on, the packets flow."""
    sim = SimSensor(new_address(), scenario("quick"), DeviceSettings(placement=Placement.THIGH, loop=True))
    sim.hang(True)  # from the start: a stream that never starts
    register(sim)
    heard = Heard(broker, safe_device_id(sim.address))
    try:
        settings = dataclasses.replace(gateway_settings(broker, sim, tmp_path), silence_timeout_s=1.0)
        with running(settings) as gateway:
            heard.status(lambda s: bool(s.online))
            heard.status(lambda s: s.online is False)
            wait_until(lambda: gateway.counts["silent_sensor"] >= 2, what="the silence noticed twice")
            assert sim.connect_calls >= 2
            assert heard.count() == 0
            sim.hang(False)
            wait_until(lambda: heard.count() >= 4, what="4 packets once the firmware goes on")
        assert gateway.counts["reconnects"] >= 2
        assert gateway.counts["connect_failures"] == 0
    finally:
        unregister(sim)
        heard.close()


def test_a_streaming_sensor_is_never_taken_for_a_silent_one(
    broker: BrokerAddress, sensor: SimSensor, tmp_path: Path
) -> None:
    """Notifications every 0.5 s with the watchdog at 1.5 s (the first ones included): one connection throughout."""
    heard = Heard(broker, safe_device_id(sensor.address))
    try:
        settings = dataclasses.replace(gateway_settings(broker, sensor, tmp_path), silence_timeout_s=1.5)
        with running(settings) as gateway:
            wait_until(lambda: heard.count() >= 6, what="6 packets")
        assert gateway.counts["silent_sensor"] == 0
        assert gateway.counts["reconnects"] == 0
        assert sensor.connect_calls == 1
    finally:
        heard.close()


def test_writes_wait_the_pause_each_asks_for(sensor: SimSensor) -> None:
    """WitMotion's unlock, rate and save pauses: each write reaches the sensor at least 0.1 s after the one before."""
    pauses = [w.pause_s for w in witmotion.PROFILE.start(50.0)]
    assert pauses == [0.1, 0.1, 0.0]
    # The same pauses on writes the simulated sensor takes (it speaks the sitless profile).
    writes = [Write(CLOCK_UUID, struct.pack("<d", k), pause_s=pause) for k, pause in enumerate(pauses)]

    async def perform() -> None:
        async with BleakClient(sensor.address, backend=SimClient) as client:
            await write_all(client, writes)

    asyncio.run(perform())
    times = [t for t, uuid, _ in sensor.writes if uuid == CLOCK_UUID]
    assert [data for _, _, data in sensor.writes] == [w.data for w in writes]  # in order
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # A lower bound only; 1 ms below 0.1 s because asyncio may run a timer up to its clock's resolution early.
    assert all(gap >= 0.099 for gap in gaps), gaps
