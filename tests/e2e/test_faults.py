"""Faults a deployment meets, through real brokers: a client that takes a service's
session over, a worker stopped between storing and publishing its events, a flood that
fills the worker's queue, and hostile messages on a live pipeline."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator

import numpy as np
import pytest

from firmware_sim.device import DeviceSettings, iter_packets
from firmware_sim.params import MotionParams
from firmware_sim.scenarios import scenario
from ingest.codec import Batch, decode, encode
from ingest.mqtt import BrokerAddress, connect, make_client
from ingest.recorder import Recorder, RecorderSettings
from ingest.service import Inbox, Message
from ingest.store import Store
from ingest.topics import Kind, subscription, topic
from ingest.worker import Worker, WorkerSettings
from tests.e2e.helpers import ALERT_DUE_S, DEVICE, SNAPSHOT_EVERY_S, device, events, streaming
from tests.support import EventLog, free_port, wait_until

pytestmark = pytest.mark.e2e

T0 = 1.7e9
#: The device lease of the worker that is gone lapses after this (10 s in service): the
#: next worker, not the same one restarted, takes the device over once it has.
LEASE_S = 1.0


def quick_packets(minutes: float) -> list[Message]:
    """The quick scenario's packets (walk 2 min, then sit) as the worker receives them."""
    settings = DeviceSettings(device_id=DEVICE, seed=7, params=MotionParams(drop_prob=0.0))
    script = scenario("quick").truncated(minutes * 60)
    return [
        Message(topic(DEVICE, Kind.IMU), p.payload, 0, 1, 0.0)
        for p in iter_packets(script, settings, T0)
        if p.payload is not None
    ]


@pytest.fixture
def commands(broker: BrokerAddress) -> Iterator[queue.Queue[dict[str, object]]]:
    """Every command sent to the wearable, as a subscriber on its ``cmd`` topic sees it."""
    got: queue.Queue[dict[str, object]] = queue.Queue()
    client = make_client("e2e-cmd-listener")
    client.on_connect = lambda c, u, f, r, p: c.subscribe(subscription(Kind.CMD), qos=1)
    client.on_message = lambda c, u, m: got.put(json.loads(m.payload))
    connect(client, broker)
    yield got
    client.disconnect()
    client.loop_stop()


def worker_without_broker(store_url: str) -> Worker:
    """A worker whose broker never answers: what it publishes is never acknowledged,
    as for a worker killed right after storing its events."""
    nowhere = BrokerAddress("127.0.0.1", free_port())
    return Worker(WorkerSettings(nowhere, store_url, client_id="e2e-lost-worker", lease_s=LEASE_S))


def test_events_stored_but_never_published_go_out_after_a_restart(
    broker: BrokerAddress, store_url: str, event_log: EventLog, commands: queue.Queue[dict[str, object]]
) -> None:
    """The first worker stores the alert and is gone before the broker has it; the next
    worker publishes it on start and, the bout still running and the alert fresh, buzzes."""
    first = worker_without_broker(store_url)
    first.handle(quick_packets(ALERT_DUE_S / 60 + 1.5))
    assert len(events(store_url, "alert")) == 1
    # killed here: never connected, nothing was acknowledged
    second = Worker(WorkerSettings(broker, store_url, client_id="e2e-worker", lease_s=LEASE_S))
    second.start()
    try:
        wait_until(lambda: len(event_log.of_kind("alert")) == 1, what="the stored alert on the event topic")
        assert event_log.of_kind("alert")[0] == events(store_url, "alert")[0]
        buzz = commands.get(timeout=60)
        assert buzz["cmd"] == "buzz"
        wait_until(lambda: not unpublished(store_url), what="every stored event marked published")
    finally:
        second.close()


def test_a_stale_alert_is_published_but_not_buzzed(
    broker: BrokerAddress, store_url: str, event_log: EventLog, commands: queue.Queue[dict[str, object]]
) -> None:
    """An alert stored long ago (its bout since ended) still reaches the event topic, but
    the wearable gets no buzz for a reminder it can no longer act on."""
    first = worker_without_broker(store_url)
    messages = quick_packets(ALERT_DUE_S / 60 + 1.5)
    # then 3 minutes walking: the bout ends
    walk = quick_packets(2.0)
    n_sitting = len(messages)
    t_end = T0 + n_sitting * 0.5
    for i, m in enumerate(walk):
        batch = decode(m.payload)
        again = Batch(n_sitting + i, t_end + i * 0.5, batch.rate_hz, batch.acc_scale_g, batch.acc)
        messages.append(Message(m.topic, encode(again), 0, 1, 0.0))
    first.handle(messages)
    second = Worker(WorkerSettings(broker, store_url, client_id="e2e-worker", lease_s=LEASE_S))
    second.start()
    try:
        wait_until(lambda: len(event_log.of_kind("alert")) == 1, what="the stored alert on the event topic")
        wait_until(lambda: not unpublished(store_url), what="every stored event marked published")
        second.flush()
    finally:
        second.close()
    assert commands.empty()
    with Store(store_url) as store:
        assert store.counters("worker")[("worker", DEVICE, "stale_buzzes")] >= 1


def unpublished(store_url: str) -> list[object]:
    with Store(store_url) as store:
        return list(store.unpublished_events())


def test_a_client_taking_the_recorders_session_over_is_noticed_and_recovered(
    broker: BrokerAddress, store_url: str
) -> None:
    """Another client connects as the recorder for a few seconds: the recorder takes its
    session back (amqtt leaves it connected but silent, mosquitto drops it), and every
    packet sent after the intruder left is stored (the wearable streams on for 2 min of
    packets after that, however long the take-over took)."""
    recorder = Recorder(RecorderSettings(broker, store_url, client_id="e2e-recorder"))
    recorder.probe_every_s = 0.5
    recorder.start()
    try:
        wearable = device(broker, minutes=10.0, speed=60.0, loop=True)  # until stopped
        with streaming(wearable):
            wait_until(lambda: recorder.stats.stored > 50, what="the stream to start")
            intruder = make_client("e2e-recorder", clean_session=False)
            intruder.reconnect_delay_set(30, 60)  # it does not fight back once kicked out
            connect(intruder, broker, timeout_s=60.0)  # amqtt on a loaded machine can take a while
            wait_until(lambda: recorder.disconnects > 0, what="the intruder to take the session over")
            intruder.disconnect()
            intruder.loop_stop()
            left_at = wearable.stats.packets_sent
            wait_until(lambda: wearable.stats.packets_sent > left_at + 240, what="2 min of packets after it left")
        sent = wearable.stats.packets_sent
        wait_until(lambda: set(range(left_at + 1, sent)) <= stored_seqs(store_url), what="the packets after it left")
        assert recorder.running
    finally:
        recorder.close()


def stored_seqs(store_url: str) -> set[int]:
    with Store(store_url) as store:
        return set(store.seqs(DEVICE))


def test_a_flood_through_a_small_queue_loses_nothing(broker: BrokerAddress, store_url: str) -> None:
    """With a 20-message queue the services make the broker hold the backlog: a burst of
    one device's packets is stored and analysed once each, and the lag is reported."""
    recorder = Recorder(RecorderSettings(broker, store_url, client_id="e2e-recorder"))
    worker = Worker(WorkerSettings(broker, store_url, client_id="e2e-worker", snapshot_every_s=SNAPSHOT_EVERY_S))
    for service in (recorder, worker):
        service._inbox = Inbox(maxsize=20)
    recorder.start()
    worker.start()
    try:
        sender = make_client("e2e-flood")
        connect(sender, broker)
        messages = quick_packets(12.0)
        infos = [sender.publish(m.topic, m.payload, qos=1) for m in messages]
        for info in infos:
            info.wait_for_publish(120)
        sender.disconnect()
        sender.loop_stop()
        wait_until(lambda: recorder.stats.stored == len(messages), timeout_s=180, what="every packet stored")
        wait_until(lambda: saved_state_seq(store_url) == len(messages) - 1, timeout_s=180, what="every packet analysed")
    finally:
        worker.close()
        recorder.close()
    with Store(store_url) as store:
        assert store.seqs(DEVICE) == list(range(len(messages)))
        assert store.counters("worker")[("worker", DEVICE, "packets")] == len(messages)
        state = store.load_state(DEVICE)
    assert state is not None
    assert state.status["worker_lag_s"] >= 0.0


def saved_state_seq(store_url: str) -> int:
    with Store(store_url) as store:
        state = store.load_state(DEVICE)
    return -1 if state is None else state.seq


def test_hostile_messages_do_not_stop_the_live_pipeline(
    broker: BrokerAddress, store_url: str, services: tuple[Recorder, Worker]
) -> None:
    """Retained deeply nested JSON on status and action, an action for an unknown device, a
    packet far in the past and one with a forged sequence number: both services keep
    serving the real wearer, and a worker restarted on the same store does too."""
    recorder, worker = services
    attacker = make_client("e2e-attacker")
    connect(attacker, broker)
    nested = b'{"a": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    old = np.tile(np.array([0, 0, 4096], dtype=np.int16), (25, 1))
    hostile = [
        (topic("victim-01", Kind.STATUS), nested, True),
        (topic("victim-01", Kind.ACTION), nested, True),
        (topic("never-seen", Kind.ACTION), b'{"action": "done"}', False),
        (topic(DEVICE, Kind.IMU), encode(Batch(3, T0 - 86400.0, 50.0, 1 / 4096, old)), False),
        (topic(DEVICE, Kind.IMU), encode(Batch(4_000_000_000, T0 + 1e9, 50.0, 1 / 4096, old)), False),
    ]
    for name, payload, retain in hostile:
        attacker.publish(name, payload, qos=1, retain=retain).wait_for_publish(10)
    wearable = device(broker, minutes=34.0, speed=300.0)
    runner = threading.Thread(target=wearable.run)
    runner.start()
    runner.join(120)
    wait_until(lambda: len(events(store_url, "alert")) == 1, timeout_s=120, what="the real wearer's alert")
    assert recorder.running
    assert worker.running
    for name, _, retain in hostile:
        if retain:
            attacker.publish(name, b"", qos=1, retain=True).wait_for_publish(10)  # clear it
    attacker.disconnect()
    attacker.loop_stop()


def test_every_malformed_kind_is_counted_not_fatal(store_url: str) -> None:
    """The worker's counters name what it skipped, one counter per kind of trouble."""
    worker = worker_without_broker(store_url)
    good = quick_packets(1.0)
    worker.handle([*good[:10], Message(topic(DEVICE, Kind.ACTION), b"{", 0, 1, 0.0), *good[10:20]])
    worker.close()
    with Store(store_url) as store:
        counts = store.counters("worker")
    assert counts[("worker", DEVICE, "bad_actions")] == 1
    assert counts[("worker", DEVICE, "packets")] == 20
