"""QoS 1 on both engines: a delivery waits for its acknowledgement as long as it takes, and
a message the broker has acknowledged reaches its subscribers even when its publisher leaves at once.

The recorder acknowledges a packet only once it is stored, so during a store outage it
holds its acknowledgements for as long as the outage lasts. amqtt 0.12.1 on its own
gave a delivery 5 s, then forgot it, and forgot it too when the subscriber left before
acknowledging: it was never delivered again (:class:`ingest.amqtt_auth.PatientProtocolHandler`).
"""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass

from ingest.broker import BrokerProcess
from ingest.mqtt import BrokerAddress, connect, make_client
from ingest.topics import Kind, topic
from tests.conftest import SECURE_DEVICES
from tests.support import wait_until

WAIT_S = 30.0  # only ends a test that would otherwise hang
#: How long the subscriber holds its acknowledgements: past amqtt's own 5-s limit.
HOLD_S = 6.5
TOPIC = "sitless-test/held"


@dataclass(frozen=True, slots=True)
class Got:
    payload: bytes
    mid: int
    dup: bool
    at_s: float


class Subscriber:
    """A paho client with a persistent session that records what it receives."""

    def __init__(self, address: BrokerAddress, *, manual_ack: bool) -> None:
        self.got: queue.Queue[Got] = queue.Queue()
        self.client = make_client("held-acks", clean_session=False, manual_ack=manual_ack)
        self.client.on_message = lambda _c, _u, m: self.got.put(
            Got(bytes(m.payload), m.mid, bool(m.dup), time.monotonic())
        )
        connect(self.client, address, timeout_s=WAIT_S)

    def take(self, n: int) -> list[Got]:
        return [self.got.get(timeout=WAIT_S) for _ in range(n)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_unacknowledged_messages_outlast_the_wait_and_a_reconnection(broker: BrokerAddress) -> None:
    """Three messages held unacknowledged past 5 s: the first acknowledged late is delivered
    once, the other two are delivered again (DUP) once the subscriber comes back with its
    session, with what was published while it was away; nothing is lost or doubled."""
    first = Subscriber(broker, manual_ack=True)
    subscribed: queue.Queue[int] = queue.Queue()
    first.client.on_subscribe = lambda _c, _u, mid, _codes, _p: subscribed.put(mid)
    _, mid = first.client.subscribe(TOPIC, qos=1)
    assert subscribed.get(timeout=WAIT_S) == mid

    publisher = make_client("held-acks-publisher")
    connect(publisher, broker, timeout_s=WAIT_S)

    def publish(payload: bytes) -> None:
        publisher.publish(TOPIC, payload, qos=1).wait_for_publish(timeout=WAIT_S)

    try:
        for payload in (b"1", b"2", b"3"):
            publish(payload)
        held = first.take(3)
        assert [g.payload for g in held] == [b"1", b"2", b"3"]
        last_s = max(g.at_s for g in held)
        wait_until(lambda: time.monotonic() >= last_s + HOLD_S, timeout_s=WAIT_S, what="the hold to pass 5 s")
        first.client.ack(held[0].mid, 1)  # acknowledged late: delivered for good
        first.close()  # 2 and 3 never acknowledged: the broker keeps them in the session

        publish(b"4")  # while the subscriber is away: queued in its session
        second = Subscriber(broker, manual_ack=False)
        try:
            publish(b"end")
            seen: list[Got] = []
            wait_until(
                lambda: _drain(second.got, seen) and b"end" in {g.payload for g in seen},
                timeout_s=WAIT_S,
                what="the marker after the redeliveries",
            )
            wait_until(lambda: _drain(second.got, seen) and len(seen) >= 4, timeout_s=WAIT_S, what="every message")
        finally:
            second.close()
    finally:
        publisher.disconnect()
        publisher.loop_stop()

    _drain(second.got, seen)
    assert sorted(g.payload for g in seen) == [b"2", b"3", b"4", b"end"], "nothing lost, nothing doubled"
    assert all(g.dup for g in seen if g.payload in (b"2", b"3")), "sent again, as a duplicate"


def _drain(got: queue.Queue[Got], into: list[Got]) -> bool:
    """Move what ``got`` holds into ``into``; always true (for use inside a condition)."""
    while not got.empty():
        into.append(got.get_nowait())
    return True


#: A burst long enough that the broker acknowledges the last packets before it has passed them on.
BURST = 1500


def test_a_publisher_that_leaves_after_its_last_acknowledgement_loses_nothing(secure_broker: BrokerProcess) -> None:
    """A wearable sends a burst of QoS 1 packets, has every one acknowledged, and disconnects
    at once (a gateway ending its upload, a wearable out of range): the recorder gets every
    packet, in order. amqtt 0.12.1 acknowledges a packet when it reads it, and passes it on later
    from a per-client queue that it dropped when the client left, losing the burst's tail
    (:meth:`ingest.amqtt_auth.PatientProtocolHandler.wait_disconnect`)."""
    device = SECURE_DEVICES[0]
    imu = topic(device, Kind.IMU)
    got: queue.Queue[bytes] = queue.Queue()
    subscribed: queue.Queue[int] = queue.Queue()
    recorder = make_client("burst-recorder")
    recorder.on_message = lambda _c, _u, m: got.put(bytes(m.payload))
    recorder.on_subscribe = lambda _c, _u, mid, _codes, _p: subscribed.put(mid)
    connect(recorder, secure_broker.login("recorder"), timeout_s=WAIT_S, fail_if_refused=True)
    try:
        _, mid = recorder.subscribe(imu, qos=1)
        assert subscribed.get(timeout=WAIT_S) == mid
        wearable = make_client(f"burst-{device}")
        wearable.max_inflight_messages_set(BURST)  # the whole burst on the wire at once
        connect(wearable, secure_broker.login(device), timeout_s=WAIT_S, fail_if_refused=True)
        sent = [wearable.publish(imu, b"%d" % i, qos=1) for i in range(BURST)]
        for info in sent:
            info.wait_for_publish(timeout=WAIT_S)
        wearable.disconnect()  # at once: the broker has acknowledged every packet
        wearable.loop_stop()
        received = [got.get(timeout=WAIT_S) for _ in range(BURST)]
    finally:
        recorder.disconnect()
        recorder.loop_stop()
    assert [int(p) for p in received] == list(range(BURST)), "every packet, in order"
