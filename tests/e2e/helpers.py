"""Shared pieces of the end-to-end tests: the simulated wearable and store look-ups."""

from __future__ import annotations

import dataclasses
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

import paho.mqtt.client as paho
import pytest

from analysis import Placement
from firmware_sim.device import Device, DeviceSettings
from firmware_sim.params import MotionParams
from firmware_sim.scenarios import Activity, Script, Step, scenario
from ingest.broker import BrokerProcess
from ingest.mqtt import CA_FILE_ENV, PASSWORD_FILE_ENV, BrokerAddress, connect, make_client
from ingest.recorder import Recorder
from ingest.store import Store, parse_store_url
from ingest.worker import Worker
from tests.postgres import PostgresServer
from tests.support import FullDisk, wait_until

DEVICE = "e2e-01"
# The quick scenario: 2 min walking, then 35 min seated with fidgets; the alert is due
# 30 min after the sitting bout starts, i.e. at 32 min.
ALERT_DUE_S = 120.0 + 30 * 60.0
# 600x plays the 33-minute script in ~3.5 s of wall time: fast, yet a rate (1,200 packets/s)
# both brokers and the in-process services keep up with.
SPEED = 600.0
#: Walk 2 min, then sit until the wearable is stopped (4 h at most): the sitting bout
#: runs on, and so its alert stays due, however far behind a busy machine leaves the worker.
#: The wearer shifts in the chair every 5 min, as people awake do: a thigh perfectly
#: still for 20 min reads as asleep and its alert is held (``analysis.stillness``).
SIT_ON = Script(
    "sit_on",
    (
        Step(Activity.WALKING, 120.0),
        *(step for _ in range(48) for step in (Step(Activity.SITTING, 296.0), Step(Activity.FIDGET, 4.0))),
    ),
)


#: The in-process workers save each device's snapshot at least this often (10 s in
#: service): a test waits for the snapshot that records the last packet analysed and its
#: count, which then comes within a second of the last packet.
SNAPSHOT_EVERY_S = 1.0

#: Each broker on a SQLite store, and mosquitto (what a deployment runs) on a PostgreSQL
#: database: for the tests that matter on both stores, without running all four pairs.
ON_EACH_BROKER_AND_POSTGRESQL = pytest.mark.parametrize(
    ("broker", "store_url"),
    [("embedded", "sqlite"), ("mosquitto", "sqlite"), ("mosquitto", "postgresql")],
    indirect=True,
)


def device(
    broker: BrokerAddress,
    minutes: float,
    *,
    drop_prob: float = 0.0,
    speed: float = SPEED,
    loop: bool = False,
    script: Script | None = None,
) -> Device:
    """The simulated wearable playing the quick scenario's first ``minutes`` (again and again with ``loop``),
    or the first ``minutes`` of another ``script``."""
    script = (scenario("quick") if script is None else script).truncated(minutes * 60)
    params = dataclasses.replace(MotionParams(), drop_prob=drop_prob)
    settings = DeviceSettings(
        device_id=DEVICE,
        broker=broker,
        placement=Placement.THIGH,
        speed=speed,
        seed=7,
        params=params,
        start_s=1.7e9,
        loop=loop,
    )
    return Device(script, settings)


def events(store_url: str, kind: str) -> list[dict[str, object]]:
    with Store(store_url) as store:
        return [e.body for e in store.events(DEVICE, kinds=[kind])]


def service_env(broker: BrokerProcess, user: str) -> dict[str, str]:
    """The environment a service process logs in to ``broker`` with: its password file and the broker's CA."""
    assert broker.logins is not None
    env = dict(os.environ) | {PASSWORD_FILE_ENV: str(broker.logins.secret(user))}
    return env if broker.address.ca_file is None else env | {CA_FILE_ENV: broker.address.ca_file}


def via(broker: BrokerProcess, proxy: BrokerAddress, user: str) -> BrokerAddress:
    """``user``'s login to ``broker`` through a TCP proxy in front of it (TLS and CA as the broker's)."""
    assert broker.logins is not None
    target = BrokerAddress(
        proxy.host, proxy.port, tls=broker.address.tls, ca_file=broker.address.ca_file, mqtt5=broker.address.mqtt5
    )
    return broker.logins.address(target, user)


@contextmanager
def streaming(wearable: Device) -> Iterator[threading.Thread]:
    """The wearable sampling and publishing in a thread; stopped (and drained) on the way out."""
    runner = threading.Thread(target=wearable.run, name="wearable")
    runner.start()
    try:
        yield runner
    finally:
        wearable.stop()
        runner.join(60)


def sent_all(runner: threading.Thread) -> None:
    """Wait for a wearable's thread to send its last packet and end (a busy machine may take long)."""
    wait_until(lambda: not runner.is_alive(), what="the wearable to send its last packet")
    runner.join()


class Outage(Protocol):
    """The store failing writes from :meth:`begin` until :meth:`end`."""

    def begin(self) -> None: ...
    def end(self) -> None: ...


class ServerDown:
    """The PostgreSQL server of the store crashing mid-stream and, once :meth:`end` is
    called, starting again on the same port with every database it had (a restart or a
    fail-over to a standby at the same address)."""

    def __init__(self, server: PostgresServer) -> None:
        self.server = server

    def begin(self) -> None:
        """Crash the server: open connections are cut, new ones refused."""
        self.server.crash()

    def end(self) -> None:
        """Start the server again; it returns once the server takes connections."""
        self.server.start()


class StoreOutage:
    """The store failing writes mid-stream: ``locked`` by another writer past the busy
    timeout (a migration, a backup), or its disk ``full`` (:class:`tests.support.FullDisk`).

    Args:
        kind: ``locked`` or ``full``.
        store_url: The SQLite store.
        disk: The test's full-disk switch.
    """

    def __init__(self, kind: str, store_url: str, disk: FullDisk) -> None:
        if kind not in ("locked", "full"):
            raise ValueError(f"no such store outage: {kind!r}")
        self.kind = kind
        self.path = str(parse_store_url(store_url).path)
        self.disk = disk
        self._blocker: sqlite3.Connection | None = None

    def begin(self) -> None:
        """From now on, writes fail (those that need no new page still succeed on a full disk)."""
        if self.kind == "full":
            self.disk.fill()
            return
        self._blocker = sqlite3.connect(self.path, isolation_level=None)
        self._blocker.execute("BEGIN EXCLUSIVE")

    def end(self) -> None:
        """The store takes writes again."""
        if self._blocker is None:
            self.disk.free()
            return
        self._blocker.execute("ROLLBACK")
        self._blocker.close()
        self._blocker = None


def retries(records: list[logging.LogRecord], client_id: str) -> int:
    """How many times the service ``client_id`` logged a failed store step it retries (``ingest.service``)."""
    return sum(1 for r in records if r.getMessage().startswith(f"{client_id}:") and "retrying" in r.getMessage())


#: amqtt 0.12.1 on its own gives up on a QoS 1 delivery that is not acknowledged within
#: 5 s (``ProtocolHandler._handle_qos1_message_flow``), which the embedded broker no
#: longer does (:class:`ingest.amqtt_auth.PatientProtocolHandler`); the recorder
#: acknowledges a packet only once stored, so the outage is held past that on both
#: engines: 4 retries of the services' backoff (0.5 + 1 + 2 + 4 s).
RETRIES_PAST_AMQTT_PUBACK_TIMEOUT = 4


def ride_out(outage: Outage, records: list[logging.LogRecord], recorder: Recorder, worker: Worker) -> None:
    """Begin a store outage mid-stream, check that nothing is stored meanwhile, end it once the services met it.

    Args:
        outage: The outage.
        records: The test's captured log records.
        recorder: The recorder (in this process).
        worker: The worker (in this process).
    """
    outage.begin()
    # Counted once the recorder has met the outage: a write that committed just before
    # it is counted only after its commit returns.
    wait_until(lambda: retries(records, recorder.client_id) >= 1, what="the recorder to meet the outage")
    stored = recorder.stats.stored
    wait_until(lambda: retries(records, worker.client_id) >= 1, what="the worker to meet the outage")
    wanted = RETRIES_PAST_AMQTT_PUBACK_TIMEOUT
    wait_until(lambda: retries(records, recorder.client_id) >= wanted, what="the recorder to retry")
    assert recorder.stats.stored == stored, "nothing can be stored during the outage"
    assert recorder.store_failures >= wanted
    outage.end()


class ProbeLog:
    """The client ids of the services heard probing their connection (they are subscribed by then)."""

    def __init__(self, broker: BrokerAddress) -> None:
        self.heard: set[str] = set()
        self.client = make_client("e2e-probe-listener")
        self.client.on_connect = lambda c, u, f, r, p: c.subscribe("sitless/svc/+/probe", qos=0)
        self.client.on_message = self._on_message
        connect(self.client, broker)

    def _on_message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        self.heard.add(msg.topic)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
