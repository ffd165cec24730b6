"""The loop every MQTT service shares: receive into a queue, handle in batches, ack.

paho's network thread only enqueues; one handler thread drains the queue in batches
so that a slow disk never stalls the MQTT keepalive. Each batch is taken in once
(:meth:`MqttService.absorb`: decode, count, analyse, in memory) and then written
(:meth:`MqttService.flush`). A store that fails (locked, unreachable, full) makes the
loop wait and try the write again, with a capped backoff, until it succeeds: what was
taken in stays held meanwhile, so nothing is lost and nothing is counted twice. With
``manual_ack`` a QoS 1 message is acknowledged only after its batch was written, so a
crash before the store commit makes the broker deliver it again.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import logging
import queue
import signal
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import paho.mqtt.client as paho

from ingest.errors import StoreError, TopicError
from ingest.mqtt import DEFAULT_BROKER_URL, BrokerAddress, connect, make_client
from ingest.store import DEFAULT_STORE_URL
from ingest.topics import Kind, parse

__all__ = ["Message", "MqttService", "add_service_arguments", "by_device", "serve"]

log = logging.getLogger(__name__)

# Backoff while the broker is unreachable at start-up (reconnects later are paho's).
CONNECT_RETRY_MIN_S = 0.5
CONNECT_RETRY_MAX_S = 10.0


def add_service_arguments(parser: argparse.ArgumentParser, client_id: str) -> None:
    """Add the options every MQTT service takes: ``--broker``, ``--store``, ``--client-id``."""
    parser.add_argument("--broker", default=DEFAULT_BROKER_URL, help=f"MQTT broker URL (default {DEFAULT_BROKER_URL})")
    parser.add_argument("--store", default=DEFAULT_STORE_URL, help=f"store URL (default {DEFAULT_STORE_URL})")
    parser.add_argument(
        "--client-id", default=client_id, help=f"MQTT client id; the broker keeps the session under it ({client_id})"
    )


@dataclass(frozen=True, slots=True)
class Message:
    """One received MQTT message with what is needed to acknowledge it."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    received_s: float


def by_device(messages: Iterable[Message]) -> Iterator[tuple[str, Kind, Message]]:
    """Each message with the device id and kind its topic names.

    A message whose topic is not a sitless device topic is logged and skipped.

    Args:
        messages: Received messages.

    Yields:
        ``(device_id, kind, message)`` in the order received.
    """
    for m in messages:
        try:
            device_id, kind = parse(m.topic)
        except TopicError as err:
            log.warning("ignoring message: %s", err)
            continue
        yield device_id, kind, m


class MqttService(ABC):
    """A long-running MQTT consumer: subclasses implement :meth:`absorb` and :meth:`flush`.

    Args:
        broker: Where the broker listens.
        client_id: Stable client id (the broker keeps the session under it).
        subscriptions: ``(topic filter, qos)`` pairs, subscribed on every connection.
        manual_ack: Ack QoS 1 messages once their batch was written (:meth:`flush`).
        max_batch: Most messages handled in one call.
        tick_s: How often :meth:`tick` runs when no message arrives.
    """

    def __init__(
        self,
        broker: BrokerAddress,
        client_id: str,
        subscriptions: list[tuple[str, int]],
        *,
        manual_ack: bool = False,
        max_batch: int = 500,
        tick_s: float = 0.5,
    ) -> None:
        self.broker = broker
        self.client_id = client_id
        self.subscriptions = subscriptions
        self.manual_ack = manual_ack
        self.max_batch = max_batch
        self.tick_s = tick_s
        self.client: paho.Client = make_client(client_id, clean_session=False, manual_ack=manual_ack)
        self._inbox: queue.Queue[Message] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.subscribed = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    def _on_connect(self, client: paho.Client, userdata: object, flags: object, reason: object, props: object) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("%s: broker refused the connection: %s", self.client_id, reason)
            return
        client.subscribe(self.subscriptions)

    def _on_subscribe(self, client: paho.Client, userdata: object, mid: int, reasons: object, props: object) -> None:
        self.subscribed.set()

    def _on_message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        self._inbox.put(Message(msg.topic, bytes(msg.payload), msg.mid, msg.qos, time.time()))

    def connect(self) -> None:
        """Connect, retrying with a capped backoff until the broker answers or :meth:`stop`."""
        delay = CONNECT_RETRY_MIN_S
        while not self._stop.is_set():
            try:
                connect(self.client, self.broker)
                return
            except ConnectionError as err:
                log.warning("%s; retrying in %.1f s", err, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, CONNECT_RETRY_MAX_S)

    def start(self, *, timeout_s: float = 10.0) -> None:
        """Connect, wait until subscribed and handle messages in a background thread.

        Raises:
            ConnectionError: The broker did not confirm the subscriptions in time.
        """
        self.connect()
        if not self.subscribed.wait(timeout_s):
            raise ConnectionError(f"{self.client_id}: subscriptions not confirmed within {timeout_s:.0f} s")
        self._thread = threading.Thread(target=self._loop, name=self.client_id, daemon=True)
        self._thread.start()

    def run(self) -> None:
        """Connect and handle messages in this thread until :meth:`stop` (or Ctrl-C)."""
        self.connect()
        try:
            self._loop()
        finally:
            self.close()

    def stop(self) -> None:
        """Ask the loop to finish what it holds and return."""
        self._stop.set()

    def close(self) -> None:
        """Stop the loop, wait for it and disconnect from the broker."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(10)
        self.client.disconnect()
        self.client.loop_stop()

    def _drain(self) -> list[Message]:
        try:
            first = self._inbox.get(timeout=self.tick_s)
        except queue.Empty:
            return []
        items = [first]
        while len(items) < self.max_batch:
            try:
                items.append(self._inbox.get_nowait())
            except queue.Empty:
                break
        return items

    @property
    def running(self) -> bool:
        """Whether the handler thread started by :meth:`start` is alive."""
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not (self._stop.is_set() and self._inbox.empty()):
            items = self._drain()
            absorb = functools.partial(self.absorb, items)
            if items and not self._until_done(absorb, f"taking in {len(items)} messages"):
                continue  # stopping, and the store is down: the broker keeps the unacked messages
            self.tick()
            if self._until_done(self.flush, "saving") and self.manual_ack:
                for m in items:
                    if m.qos > 0:
                        self.client.ack(m.mid, m.qos)

    def _until_done(self, step: Callable[[], None], what: str) -> bool:
        """Run ``step``; while the store fails, wait (capped backoff) and run it again.

        Returns:
            True once it succeeded, False if it failed after :meth:`stop` was asked.
        """
        delay = CONNECT_RETRY_MIN_S
        while True:
            try:
                step()
                return True
            except StoreError:
                if self._stop.is_set():
                    log.exception("%s: %s failed; giving up at shutdown", self.client_id, what)
                    return False
                log.exception("%s: %s failed; retrying in %.1f s", self.client_id, what, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, CONNECT_RETRY_MAX_S)

    def handle(self, messages: list[Message]) -> None:
        """Take a batch in and write it: :meth:`absorb`, then :meth:`flush`, once each."""
        self.absorb(messages)
        self.flush()

    @abstractmethod
    def absorb(self, messages: list[Message]) -> None:
        """Take a batch of messages in, in memory: what is to be written is held for :meth:`flush`.

        Bad messages are counted and skipped inside. Reading the store may raise
        :class:`StoreError`; the loop then takes the same batch in again after a backoff.
        """

    def flush(self) -> None:  # noqa: B027 - optional hook, deliberately empty
        """Write what :meth:`absorb` and :meth:`tick` hold; default nothing.

        Raising :class:`StoreError` must leave unwritten what is still held, so that
        the loop's next call writes it (and nothing twice).
        """

    def tick(self) -> None:  # noqa: B027 - optional hook, deliberately empty
        """Periodic work in memory between batches (give up waiting for late packets); default nothing."""


def serve(service: MqttService) -> int:
    """Run a service in this thread until SIGINT or SIGTERM; it closes itself on the way out.

    Args:
        service: The service to run.

    Returns:
        The exit status, 0.
    """
    signal.signal(signal.SIGTERM, lambda *_: service.stop())
    with contextlib.suppress(KeyboardInterrupt):
        service.run()
    return 0
