"""A service following topics that change while it runs (``ServiceConnection.follow``), on each real broker.

A worker subscribed only to the devices it holds (``sitless worker --subscribe held``)
follows each one's packets and stops following those it lets go of. Whether a message
of a topic not followed arrives is told by a marker on a followed topic published after
it by the same client: a broker forwards one client's messages in order, so had the
first been followed it would have come before the marker.
"""

from __future__ import annotations

import itertools
import queue
from collections.abc import Callable, Iterator

import pytest

from ingest.mqtt import BrokerAddress
from ingest.service import Message, MqttService
from ingest.service.connection import SUBSCRIBE_CHUNK
from ingest.topics import Kind, subscription, topic
from tests.support import TcpProxy, mqtt_client, wait_until

pytestmark = pytest.mark.e2e

FIXED = topic("follow-fixed", Kind.STATUS)


class _Topics(MqttService):
    """Keeps the topic and payload of every message it takes in; follows topics from its loop, as a worker does."""

    def __init__(self, broker: BrokerAddress) -> None:
        super().__init__(broker, "test-follow", [(FIXED, 1)], tick_s=0.05)
        self.got: list[tuple[str, bytes]] = []
        self._changes: queue.Queue[tuple[dict[str, int], list[str]]] = queue.Queue()
        self._changed = 0

    def change(self, topics: dict[str, int], unfollow: list[str] | None = None) -> None:
        """Have the loop call ``follow`` (the connection is the loop's), and wait until it has."""
        self._changes.put((topics, unfollow or []))
        wanted = self._changed + 1
        wait_until(lambda: self._changed >= wanted, what="the loop to follow the topics")

    def tick(self) -> None:
        while not self._changes.empty():
            self.follow(*self._changes.get())
            self._changed += 1

    def absorb(self, messages: list[Message]) -> None:
        self.got += [(m.topic, m.payload) for m in messages]

    def count(self, device_id: str, name: str) -> None:
        pass


@pytest.fixture
def send(broker: BrokerAddress) -> Iterator[Callable[[str, bytes], None]]:
    with mqtt_client("test-follow-publisher", broker) as client:
        yield lambda t, payload: client.publish(t, payload, qos=1).wait_for_publish(timeout=60)


def imu(device_id: str) -> str:
    return topic(device_id, Kind.IMU)


def _heard(service: _Topics, send: Callable[[str, bytes], None], t: str) -> None:
    """Wait until the service hears ``t`` (its subscription takes effect at the broker a little later)."""
    marks = itertools.count()

    def arrived() -> bool:
        send(t, f"probe {next(marks)}".encode())
        return any(got == t for got, _ in service.got)

    wait_until(arrived, what=f"{t} to be followed")


def _not_followed(service: _Topics, send: Callable[[str, bytes], None], t: str, marker_topic: str) -> None:
    """Send on ``t``, then a marker on a followed topic: once the marker is in, ``t``'s message is not."""
    send(t, b"unwanted")
    send(marker_topic, b"marker")
    wait_until(lambda: (marker_topic, b"marker") in service.got, what="the marker")
    assert (t, b"unwanted") not in service.got
    service.got.remove((marker_topic, b"marker"))


def test_the_topics_followed_change_while_it_runs(broker: BrokerAddress, send: Callable[[str, bytes], None]) -> None:
    """More topics than one SUBSCRIBE carries are followed; a topic left out is no longer heard."""
    devices = [f"f-{i:04d}" for i in range(SUBSCRIBE_CHUNK * 2 + 200)]
    service = _Topics(broker)
    service.start()
    try:
        service.change({imu(d): 1 for d in devices})
        _heard(service, send, imu(devices[-1]))  # in the third SUBSCRIBE
        _heard(service, send, imu(devices[0]))
        _not_followed(service, send, imu("f-other"), imu(devices[-1]))
        service.change({imu("f-other"): 1}, [imu(d) for d in devices])
        _heard(service, send, imu("f-other"))
        for left in (devices[0], devices[SUBSCRIBE_CHUNK], devices[-1]):
            _not_followed(service, send, imu(left), imu("f-other"))
        _not_followed(service, send, imu("f-never"), FIXED)  # the fixed subscription stays
    finally:
        service.close()


def test_a_new_connection_follows_the_topics_again(
    broker: BrokerAddress, send: Callable[[str, bytes], None], proxy_factory: Callable[[BrokerAddress], TcpProxy]
) -> None:
    """The topics followed are subscribed on every connection: one added while the connection
    was down is heard once it is made again."""
    proxy = proxy_factory(broker)
    service = _Topics(proxy.address)
    service.start()
    try:
        service.change({imu("f-kept"): 1})
        _heard(service, send, imu("f-kept"))
        proxy.cut()
        wait_until(lambda: not service.client.is_connected(), what="the cut")
        service.change({imu("f-added"): 1})  # while away: on the next connection
        proxy.restore()
        _heard(service, send, imu("f-added"))
        _heard(service, send, imu("f-kept"))
    finally:
        service.close()


def test_a_filter_its_session_kept_from_an_earlier_run_is_dropped(
    broker: BrokerAddress, send: Callable[[str, bytes], None]
) -> None:
    """A worker that subscribed to every device and runs again subscribed only to those it
    holds, under the same client id: the every-device filter its session kept is dropped."""
    every = subscription(Kind.IMU)
    before = _Topics(broker)
    before.follow({every: 1})  # not connected yet: subscribed as it connects
    before.start()
    _heard(before, send, imu("f-any"))
    before.close()
    after = _Topics(broker)
    after.stale_subscriptions = [every]
    after.start()
    try:
        after.change({imu("f-held"): 1})
        _heard(after, send, imu("f-held"))
        _not_followed(after, send, imu("f-other"), imu("f-held"))
    finally:
        after.close()
