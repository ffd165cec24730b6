"""The simulated device through real brokers (the embedded amqtt and mosquitto)."""

from __future__ import annotations

import json
import logging
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from firmware_sim.device import Device, DeviceSettings, iter_packets
from firmware_sim.params import MotionParams
from firmware_sim.scenarios import scenario
from ingest.codec import decode
from ingest.mqtt import BrokerAddress, connect, make_client
from ingest.topics import Kind, topic

pytestmark = pytest.mark.e2e

START_S = 1_750_000_000.0
WAIT_S = 60.0  # generous upper bound for anything to arrive on a loaded machine


@dataclass
class Listener:
    """A paho subscriber collecting ``(topic, payload, retain)`` of one device."""

    client: paho.Client
    messages: queue.Queue[tuple[str, bytes, bool]] = field(default_factory=queue.Queue)

    def drain(self) -> list[tuple[str, bytes, bool]]:
        out = []
        while True:
            try:
                out.append(self.messages.get_nowait())
            except queue.Empty:
                return out

    def wait_for(self, kind: Kind, predicate: object = None) -> dict[str, object]:
        """The next JSON message of ``kind`` (optionally matching ``predicate``), skipping others."""
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            try:
                name, payload, _ = self.messages.get(timeout=0.1)
            except queue.Empty:
                continue
            if name.endswith(f"/{kind}"):
                body = json.loads(payload)
                if predicate is None or predicate(body):  # type: ignore[operator]
                    return dict(body)
        raise AssertionError(f"no {kind} message within {WAIT_S} s")


@contextmanager
def _listen(url: str, device_id: str, name: str) -> Iterator[Listener]:
    client = make_client(name)
    listener = Listener(client)

    def on_connect(c: paho.Client, *_: object) -> None:
        c.subscribe(f"sitless/v1/{device_id}/#", qos=1)

    def on_message(_c: paho.Client, _u: object, msg: paho.MQTTMessage) -> None:
        listener.messages.put((msg.topic, bytes(msg.payload), bool(msg.retain)))

    subscribed = threading.Event()
    client.on_connect = on_connect
    client.on_message = on_message
    client.on_subscribe = lambda *_: subscribed.set()
    connect(client, BrokerAddress.parse(url))
    assert subscribed.wait(WAIT_S)
    try:
        yield listener
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.fixture
def listener(broker_url: str) -> Iterator[Listener]:
    with _listen(broker_url, "sim-e2e", "test-listener") as listener:
        yield listener


def test_every_packet_arrives_once_and_status_goes_offline(broker_url: str, listener: Listener) -> None:
    """Two minutes at speed 600: each seq arrives once except the dropped ones; status ends offline."""
    script = scenario("quick").truncated(120.0)
    settings = DeviceSettings(
        device_id="sim-e2e",
        broker=BrokerAddress.parse(broker_url),
        speed=600.0,
        start_s=START_S,
        params=MotionParams(drop_prob=0.02),
    )
    stats = Device(script, settings).run()
    expected = [p.seq for p in iter_packets(script, settings, START_S) if p.payload is not None]
    dropped = [p.seq for p in iter_packets(script, settings, START_S) if p.payload is None]
    assert dropped  # 240 packets at 2%
    assert stats.packets_sent == len(expected)
    assert stats.packets_dropped == len(dropped)
    assert stats.unacked == 0

    # Every QoS 1 message was acknowledged before run() returned; allow delivery to the listener.
    deadline = time.monotonic() + WAIT_S
    received: list[tuple[str, bytes, bool]] = []
    while time.monotonic() < deadline:
        received += listener.drain()
        if any(name.endswith("/status") and not json.loads(body)["online"] for name, body, _ in received):
            break
        time.sleep(0.05)
    seqs = [decode(body).seq for name, body, _ in received if name == topic("sim-e2e", Kind.IMU)]
    assert sorted(seqs) == expected  # exactly once each, none of the dropped ones
    statuses = [json.loads(body) for name, body, _ in received if name.endswith("/status")]
    assert statuses[0]["online"] is True
    assert statuses[0]["placement"] == "thigh"
    assert statuses[0]["rate_hz"] == 50
    assert statuses[0]["firmware"] == "sim-0.1.0"
    assert statuses[0]["t_s"] == START_S
    assert statuses[-1]["online"] is False
    assert statuses[-1]["t_s"] == pytest.approx(START_S + 120.0, abs=1.0)

    # The offline status is retained: a newcomer sees it at once.
    with _listen(broker_url, "sim-e2e", "late-listener") as late:
        assert late.wait_for(Kind.STATUS)["online"] is False


def test_buzz_is_logged_and_stop_ends_a_looped_run(
    broker_url: str, listener: Listener, caplog: pytest.LogCaptureFixture
) -> None:
    """A buzz on cmd is logged and counted; stop() from another thread ends a looped run cleanly."""
    caplog.set_level(logging.INFO, logger="firmware_sim.device")
    settings = DeviceSettings(device_id="sim-e2e", broker=BrokerAddress.parse(broker_url), speed=60.0, loop=True)
    device = Device(scenario("quick").truncated(30.0), settings)
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(device.run()))
    thread.start()
    try:
        assert listener.wait_for(Kind.STATUS, lambda s: s["online"])["battery_pct"] == 100
        command = {"cmd": "buzz", "pattern": "long", "reason": "sit_too_long"}
        listener.client.publish(topic("sim-e2e", Kind.CMD), json.dumps(command), qos=1)
        listener.client.publish(topic("sim-e2e", Kind.CMD), b"not json", qos=1)
        nested = b'{"cmd": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"  # RecursionError for a plain parser
        listener.client.publish(topic("sim-e2e", Kind.CMD), nested, qos=1)
        listener.client.publish(topic("sim-e2e", Kind.CMD), json.dumps(command), qos=1)
        deadline = time.monotonic() + WAIT_S
        while (device.stats.buzzes < 2 or device.stats.bad_commands < 2) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        device.stop()
        thread.join(WAIT_S)
    assert not thread.is_alive()
    assert device.stats.buzzes == 2  # the device still listens after the nested JSON
    assert device.stats.bad_commands == 2
    assert any("buzz long" in r.getMessage() and "sit_too_long" in r.getMessage() for r in caplog.records)
    assert listener.wait_for(Kind.STATUS, lambda s: not s["online"])["online"] is False


def test_last_will_marks_a_vanished_device_offline(broker_url: str, listener: Listener, tmp_path: Path) -> None:
    """When the device process dies without a goodbye, the broker publishes its offline will."""
    memory = tmp_path / "sim-e2e.seq.json"  # not the default var/sim/ of the folder it runs in
    cmd = [sys.executable, "-m", "ingest.cli", "sim", "--broker", broker_url, "--device", "sim-e2e"]
    cmd += ["--scenario", "quick", "--speed", "1", "--seq-memory", str(memory)]
    proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL, cwd=tmp_path)
    try:
        assert listener.wait_for(Kind.STATUS, lambda s: s["online"])["online"] is True
        assert memory.exists()  # the device reserved its first sequence numbers before going online
        proc.send_signal(signal.SIGKILL)
        proc.wait(WAIT_S)
        assert listener.wait_for(Kind.STATUS, lambda s: not s["online"]) == {"online": False}
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sequence_numbers_go_on_across_runs(broker_url: str, listener: Listener, tmp_path: Path) -> None:
    """Two runs of the same device with its sequence memory never reuse a number."""
    settings = DeviceSettings(
        device_id="sim-e2e",
        broker=BrokerAddress.parse(broker_url),
        speed=600.0,
        start_s=START_S,
        params=MotionParams(drop_prob=0.0),
        seq_memory=tmp_path / "sim-e2e.seq.json",
    )
    script = scenario("quick").truncated(20.0)
    first = Device(script, settings).run()
    second = Device(script, settings).run()
    deadline = time.monotonic() + WAIT_S
    seqs: list[int] = []
    while time.monotonic() < deadline and len(seqs) < first.packets_sent + second.packets_sent:
        seqs += [decode(body).seq for name, body, _ in listener.drain() if name.endswith("/imu")]
        time.sleep(0.05)
    assert sorted(seqs) == list(range(first.packets_sent + second.packets_sent))
