"""The whole live pipeline through real brokers: simulated wearable -> MQTT -> recorder,
worker -> store and event topic, with the faults a deployment meets.

The store is a SQLite file; the alert and the restarted worker also run on a PostgreSQL
database behind mosquitto, and a PostgreSQL server crashing mid-stream is ridden out."""

from __future__ import annotations

import itertools
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable

import pytest

from ingest.mqtt import BrokerAddress, connect, make_client
from ingest.recorder import Recorder, RecorderSettings
from ingest.store import Store
from ingest.topics import Kind, topic
from ingest.worker import Worker, WorkerSettings
from tests.e2e.helpers import (
    ALERT_DUE_S,
    DEVICE,
    ON_EACH_BROKER_AND_POSTGRESQL,
    SIT_ON,
    SNAPSHOT_EVERY_S,
    Outage,
    ServerDown,
    StoreOutage,
    device,
    events,
    ride_out,
    sent_all,
    streaming,
)
from tests.postgres import PostgresServer
from tests.support import EventLog, TcpProxy, wait_until

pytestmark = pytest.mark.e2e


@ON_EACH_BROKER_AND_POSTGRESQL
def test_alert_reaches_store_event_topic_and_wearable(
    broker: BrokerAddress, store_url: str, services: tuple[Recorder, Worker], event_log: EventLog
) -> None:
    """A 35-min sitting bout raises one sit-too-long alert ~30 min in: stored, published, buzzed."""
    # The wearer sits on until the wearable has felt the buzz, however slow a busy
    # machine makes the worker (an alert whose bout has ended is not buzzed).
    wearable = device(broker, minutes=240.0, drop_prob=0.01, speed=300.0, script=SIT_ON)
    runner = threading.Thread(target=wearable.run)
    runner.start()
    try:
        wait_until(lambda: len(events(store_url, "alert")) >= 1, what="the alert in the store")
        alert = events(store_url, "alert")[0]
        assert alert["alert"] == "sit_too_long"
        bout_s = float(alert["t_s"]) - float(alert["sitting_since_s"])  # type: ignore[arg-type]
        # The analysis settles within seconds of sitting down; the alert is due at 30 min.
        assert 30 * 60 <= bout_s <= 30 * 60 + 60
        assert abs(float(alert["t_s"]) - (1.7e9 + ALERT_DUE_S)) <= 60  # type: ignore[arg-type]
        wait_until(lambda: len(event_log.of_kind("alert")) >= 1, what="the alert on the event topic")
        assert event_log.of_kind("alert")[0] == alert
        wait_until(lambda: wearable.stats.buzzes >= 1, what="the buzz at the wearable")
    finally:
        wearable.stop()
        runner.join(120)
    stats = wearable.stats
    # Every packet the wearable sent is stored once; deliberately dropped ones are gaps.
    recorder, _ = services
    wait_until(lambda: recorder.stats.stored == stats.packets_sent, what="every packet stored")
    assert recorder.stats.duplicates == 0
    with Store(store_url) as store:
        missing = sum(b - a + 1 for a, b in store.gaps(DEVICE))
    assert missing == stats.packets_dropped > 0


def test_malformed_packet_is_counted_and_skipped(
    broker: BrokerAddress, store_url: str, services: tuple[Recorder, Worker]
) -> None:
    """Garbage on the imu topic is counted by both services while the stream goes on."""
    intruder = make_client("e2e-intruder")
    connect(intruder, broker)
    wearable = device(broker, minutes=33.0, speed=300.0)
    runner = threading.Thread(target=wearable.run)
    runner.start()
    wait_until(lambda: services[0].stats.stored > 100, what="the stream to start")
    intruder.publish(topic(DEVICE, Kind.IMU), b"\x01\x00garbage", qos=1).wait_for_publish(5)
    sent_all(runner)
    intruder.disconnect()
    intruder.loop_stop()
    wait_until(lambda: len(events(store_url, "alert")) == 1, what="the alert despite the bad packet")
    recorder = services[0]
    wait_until(lambda: recorder.stats.stored == wearable.stats.packets_sent, what="every good packet stored")
    assert recorder.stats.bad_packets == 1
    with Store(store_url) as store:
        wait_until(
            lambda: store.counters("worker").get(("worker", DEVICE, "bad_packets")) == 1,
            what="the worker's bad-packet count",
        )


def test_dropped_wearable_link_loses_and_duplicates_no_sample(
    broker: BrokerAddress,
    store_url: str,
    services: tuple[Recorder, Worker],
    proxy_factory: Callable[[BrokerAddress], TcpProxy],
) -> None:
    """The wearable's connection is cut mid-stream: every packet is stored exactly once."""
    proxy = proxy_factory(broker)
    wearable = device(proxy.address, minutes=12.0, speed=120.0)
    runner = threading.Thread(target=wearable.run)
    runner.start()
    recorder, worker = services
    wait_until(lambda: recorder.stats.stored > 200, what="the stream to start")
    proxy.cut()  # mid-stream; the wearable keeps sampling and queues its packets
    wait_until(lambda: wearable.stats.unacked > 20, what="packets to queue up while offline")
    proxy.restore()
    sent_all(runner)
    sent = wearable.stats.packets_sent
    wait_until(lambda: recorder.stats.stored == sent, what="the queued packets")
    with Store(store_url) as store:
        assert store.seqs(DEVICE) == list(range(sent))
        assert store.gaps(DEVICE) == []
    # The worker analysed each packet once, in order, up to the last sample.
    wait_until(lambda: saved_seq(store_url) == sent - 1, what="the worker to save its state")
    worker.close()
    assert packets_counted(store_url) == sent
    bouts = events(store_url, "posture_bout")
    for before, after in itertools.pairwise(bouts):
        assert after["start_s"] == before["end_s"]
    with Store(store_url) as store:
        state = store.load_state(DEVICE)
    assert state is not None
    assert state.status["posture_since_s"] == bouts[-1]["end_s"]


def test_store_outage_is_waited_out_and_loses_nothing(
    broker: BrokerAddress,
    store_url: str,
    store_outage: StoreOutage,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Another writer holds the database past the busy timeout, or its disk is full,
    mid-stream: both services retry the same messages, keep running, and once the store
    takes writes again every packet is stored once and analysed once, with the worker's
    counts and state saved. On both engines the outage outlasts the worker's first
    failure and 5 s of deliveries left unacknowledged."""
    recorder = wait_out(broker, store_url, store_outage, caplog.records)
    assert recorder.stats.duplicates == 0  # no write failed after it was made


def test_a_postgresql_server_crash_is_waited_out_and_loses_nothing(
    mosquitto_broker: BrokerAddress, own_postgres_server: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The store's PostgreSQL server crashes mid-stream, every connection cut, and starts
    again on the same address: the services retry until it is back, and every packet is
    stored once and analysed once, with the worker's counts and state saved.

    A commit the crash cut short of its reply is unknown to the service, which writes
    the batch again: the store keeps it once, the recorder counts it as a duplicate."""
    store_url = own_postgres_server.new_database()
    wait_out(mosquitto_broker, store_url, ServerDown(own_postgres_server), caplog.records)


def wait_out(broker: BrokerAddress, store_url: str, outage: Outage, records: list[logging.LogRecord]) -> Recorder:
    """A recorder and a worker ride out ``outage`` mid-stream; check that nothing was lost or doubled.

    Returns:
        The recorder, closed, with its counts.
    """
    recorder = Recorder(RecorderSettings(broker, store_url, client_id="e2e-recorder"))
    worker = Worker(WorkerSettings(broker, store_url, client_id="e2e-worker", snapshot_every_s=SNAPSHOT_EVERY_S))
    recorder.start()
    worker.start()
    try:
        wearable = device(broker, minutes=12.0, speed=60.0)
        with streaming(wearable) as runner:
            wait_until(lambda: recorder.stats.stored > 200, what="the stream to start")
            ride_out(outage, records, recorder, worker)
            sent_all(runner)
        sent = wearable.stats.packets_sent
        assert wearable.stats.unacked == 0
        wait_until(lambda: stored_count(store_url) == sent, what="the held packets")
        wait_until(lambda: saved_seq(store_url) == sent - 1, what="the worker to save its state")
        wait_until(lambda: packets_counted(store_url) == sent, what="the worker's packet count")
        assert worker.running  # ...and no service thread died of it
        assert recorder.running
    finally:
        worker.close()
        recorder.close()
    with Store(store_url) as store:
        assert store.seqs(DEVICE) == list(range(sent))
    assert packets_counted(store_url) == sent
    return recorder


def stored_count(store_url: str) -> int:
    with Store(store_url) as store:
        return len(store.seqs(DEVICE))


def saved_seq(store_url: str) -> int:
    with Store(store_url) as store:
        state = store.load_state(DEVICE)
    return -1 if state is None else state.seq


def packets_counted(store_url: str) -> int:
    with Store(store_url) as store:
        return store.counters("worker").get(("worker", DEVICE, "packets"), 0)


def worker_process(broker: BrokerAddress, store_url: str, *options: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "ingest.cli", "worker", "--broker", broker.url, "--store", store_url]
    return subprocess.Popen([*cmd, "--client-id", "e2e-worker-proc", *options])


@ON_EACH_BROKER_AND_POSTGRESQL
def test_restarted_worker_resumes_the_running_sitting_bout(
    broker: BrokerAddress, store_url: str, event_log: EventLog
) -> None:
    """A worker killed mid-bout and restarted goes on with the same bout: the alert still
    comes 10 min (its limit here) after the wearer sat down, not 10 min after the restart."""
    limit = ("--max-sitting-min", "10")
    recorder = Recorder(RecorderSettings(broker, store_url, client_id="e2e-recorder"))
    recorder.start()
    worker = worker_process(broker, store_url, *limit)
    try:
        wearable = device(broker, minutes=14.0, speed=120.0)
        runner = threading.Thread(target=wearable.run)
        runner.start()
        wait_until(lambda: len(event_log.of_kind("sitting_started")) == 1, what="sitting to start")
        wait_until(lambda: recorder.stats.stored > (20 + 120 + 240) * 2, what="4 min of sitting")
        worker.send_signal(signal.SIGKILL)  # a crash: no goodbye, no final save
        worker.wait(10)
        wait_until(lambda: recorder.stats.stored > (20 + 120 + 420) * 2, what="3 more minutes")
        worker = worker_process(broker, store_url, *limit)
        runner.join(120)
        wait_until(lambda: len(events(store_url, "alert")) >= 1, what="the alert after the restart")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(20)
        recorder.close()
    (started,) = events(store_url, "sitting_started")
    (alert,) = events(store_url, "alert")
    assert alert["sitting_since_s"] == started["t_s"]
    bout_s = float(alert["t_s"]) - float(started["t_s"])  # type: ignore[arg-type]
    assert 10 * 60 <= bout_s <= 10 * 60 + 60


if os.environ.get("SITLESS_E2E_DEBUG"):  # pragma: no cover - a switch for investigating a failure by hand
    logging.basicConfig(level=logging.DEBUG)
