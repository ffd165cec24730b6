"""Who reads a service's broker connection: its loop while the connection is up, paho's thread to make it again.

Real brokers (the embedded one and mosquitto), a real TCP cut (``TcpProxy``), a store
failure raised by the service itself: the loop takes the connection over from paho's
network thread, hands it back to reconnect or to wait out the store, and takes it back
again, with every message handled once and no descriptor left open on the way.
"""

from __future__ import annotations

import contextlib
import select
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest

from ingest.errors import StoreError
from ingest.mqtt import BrokerAddress, connect, make_client
from ingest.service import Message, MqttService
from ingest.service import connection as connection_module
from tests.support import TcpProxy, wait_until

pytestmark = pytest.mark.e2e

TOPIC = "sitless/v1/net-01/status"


class _Collector(MqttService):
    """Keeps every payload it takes in; fails like a store that is down while ``failing`` is set."""

    def __init__(self, broker: BrokerAddress, client_id: str) -> None:
        super().__init__(broker, client_id, [(TOPIC, 1)], tick_s=0.1)
        self.payloads: list[bytes] = []
        self.failing = threading.Event()
        self.failures = 0

    def absorb(self, messages: list[Message]) -> None:
        if self.failing.is_set():
            self.failures += 1
            raise StoreError("the store is down (test)")
        self.payloads += [m.payload for m in messages]

    def count(self, device_id: str, name: str) -> None:
        pass


def _network_thread(client_id: str) -> bool:
    """Whether paho's network thread of this client runs."""
    return any(t.name == f"paho-mqtt-client-{client_id}" and t.is_alive() for t in threading.enumerate())


def _open_descriptors() -> int:
    return sum(1 for _ in Path("/proc/self/fd").iterdir())


@pytest.fixture
def publisher(broker: BrokerAddress) -> Iterator[Callable[[range], None]]:
    client = make_client("test-net-publisher")
    connect(client, broker)

    def send(numbers: range) -> None:
        for n in numbers:
            client.publish(TOPIC, str(n), qos=1).wait_for_publish(timeout=60)

    yield send
    client.disconnect()
    client.loop_stop()


def _received(service: _Collector, numbers: range) -> Callable[[], bool]:
    return lambda: sorted(int(p) for p in service.payloads) == list(numbers)


def _received_at_least_once(service: _Collector, numbers: range) -> Callable[[], bool]:
    """Every message of ``numbers`` and no other, some perhaps twice: QoS 1 delivers a
    message whose acknowledgement a cut connection lost again after the reconnection."""
    return lambda: {int(p) for p in service.payloads} == set(numbers)


@contextlib.contextmanager
def _looping(service: _Collector) -> Iterator[_Collector]:
    """The service started, once its loop reads the connection itself; closed after."""
    service.start()
    try:
        wait_until(lambda: service._reading, what="the loop to take the connection over")
        yield service
    finally:
        service.close()


def test_the_loop_reads_the_connection_itself_once_it_is_up(
    broker: BrokerAddress, publisher: Callable[[range], None]
) -> None:
    with _looping(_Collector(broker, "test-net-own")) as service:
        assert not _network_thread("test-net-own")
        publisher(range(50))
        wait_until(_received(service, range(50)), what="every message, once")
        assert service.health().ok
        assert service.mqtt_cpu.seconds() > 0.0  # reading in the loop is counted as the client's
    assert not _network_thread("test-net-own")


def test_messages_that_arrived_together_are_read_without_a_select_each_and_within_a_batch(
    broker: BrokerAddress, publisher: Callable[[range], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """While its handler is held up, messages wait in the socket; the loop then reads them
    one after the other without a select between them, and never more than a batch at once."""
    selects = 0
    real_select = select.select

    def counted(*args: Any) -> Any:
        nonlocal selects
        selects += 1
        return real_select(*args)

    monkeypatch.setattr(connection_module.select, "select", counted)
    service = _Collector(broker, "test-net-ahead")
    service.max_batch = 8
    held = threading.Event()
    release = threading.Event()
    batches: list[int] = []
    absorb = service.absorb

    def slow_absorb(messages: list[Message]) -> None:
        batches.append(len(messages))
        if not held.is_set():
            held.set()
            release.wait(60)
        absorb(messages)

    service.absorb = slow_absorb  # type: ignore[method-assign]
    with _looping(service):
        try:
            publisher(range(1))
            wait_until(held.is_set, what="the first message to hold the handler up")
            publisher(range(1, 201))  # the broker sends them on while the loop is held up
            before = selects
            release.set()
            wait_until(_received(service, range(201)), what="every message, once")
            assert max(batches) <= 8
            assert selects - before < 100  # one select a message would be 200
        finally:
            release.set()  # before the close, which waits for the loop


def test_a_cut_connection_is_made_again_by_paho_and_read_by_the_loop_again(
    broker: BrokerAddress,
    proxy_factory: Callable[[BrokerAddress], TcpProxy],
    publisher: Callable[[range], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The cut is one drop; paho's attempts while the link is down are not drops, and no
    warning blames another client with the same id for them."""
    proxy = proxy_factory(broker)
    with _looping(_Collector(proxy.address, "test-net-cut")) as service:
        publisher(range(10))
        wait_until(_received(service, range(10)), what="the messages before the cut")
        proxy.cut()
        wait_until(lambda: not service._reading and _network_thread("test-net-cut"), what="paho's thread to reconnect")
        wait_until(lambda: "still out of reach" in caplog.text, what="an attempt while the link is down")
        publisher(range(10, 20))  # kept for the service's session while it is away
        proxy.restore()
        wait_until(lambda: service._reading and service.client.is_connected(), what="the loop to read it again")
        wait_until(_received_at_least_once(service, range(20)), what="the messages sent while it was away")
        assert service.disconnects == 1  # the cut; the attempts refused while it lasted are not drops
    assert "another client" not in caplog.text


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="open descriptors are counted in /proc (Linux)")
def test_paho_holds_the_connection_while_the_store_fails_and_no_descriptor_leaks(
    broker: BrokerAddress, publisher: Callable[[range], None]
) -> None:
    """Each failing store hands the connection to paho's thread and back: the same descriptors after every round."""
    with _looping(_Collector(broker, "test-net-store")) as service:
        counts = []
        for round_ in range(3):
            service.failing.set()
            failures = service.failures

            def failed(before: int = failures) -> bool:
                return service.failures > before

            publisher(range(round_, round_ + 1))
            wait_until(failed, what="the store to fail")
            wait_until(lambda: _network_thread("test-net-store"), what="paho's thread to hold the connection")
            service.failing.clear()
            wait_until(_received(service, range(round_ + 1)), what="the message once the store is back")
            wait_until(lambda: service._reading, what="the loop to take the connection back")
            counts.append(_open_descriptors())
        assert counts[0] == counts[-1]
        assert service.disconnects == 0


def test_a_service_that_never_loops_leaves_the_connection_to_paho(broker: BrokerAddress) -> None:
    """A caller driving ``handle`` itself (no loop) keeps paho's thread, as before."""
    service = _Collector(broker, "test-net-none")
    service.connect()
    try:
        wait_until(service.client.is_connected, what="the connection")
        assert service._drain() == []  # drained from the queue: the loop is not running
        assert _network_thread("test-net-none")
        assert not service._reading
    finally:
        service.close()
    assert isinstance(service.client, paho.Client)


def test_connect_returns_once_the_broker_accepted_even_if_the_connection_is_gone_when_it_looks(
    broker: BrokerAddress, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a busy machine another client with the same id may take the session over before
    the waiting thread looks: the connection was made, and paho makes it again by itself.
    (The waiting thread that never sees the connection up is played by ``is_connected``.)"""
    client = make_client("test-net-taken-at-once")
    monkeypatch.setattr(client, "is_connected", lambda: False)
    try:
        connect(client, broker, timeout_s=60.0)
    finally:
        client.disconnect()
        client.loop_stop()
