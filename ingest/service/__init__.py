"""The loop every MQTT service shares: receive into a queue, handle in batches, ack.

While the connection is up, the loop reads it itself; paho's network thread holds it
while it is being made or made again, and while the loop waits out a failing store
(:mod:`ingest.service.connection`).
A batch's first message waits a moment (``LINGER_S``, 20 ms) for the ones that follow,
so that they are handled many to a batch. Each batch is taken in once
(:meth:`MqttService.absorb`: decode, count, analyse, in memory) and then written
(:meth:`MqttService.flush`). A store that fails (locked, unreachable, full) makes the
loop wait and try the write again, with a capped backoff, until it succeeds: what was
taken in stays held meanwhile, so nothing is lost and nothing is counted twice. With
``manual_ack`` a QoS 1 message is acknowledged only after its batch was written, so a
crash before the store commit makes the broker deliver it again.

Nothing a message holds can end the loop: the services check each message where they
handle it, and the loop itself counts, logs (rate-limited) and skips any other error.
The queue is bounded: when the handler falls behind, paho's network thread waits for
room, and the loop reads no more than a batch, so the broker holds the backlog
(back-pressure) instead of this process's memory.

The package's parts: :class:`MqttService` here; its broker connection, who reads it and
the probes that notice a session taken over (``connection``); a received message and
the queue it waits in (``message``); the options every service takes and
:func:`serve`, which runs one (``cmd``). The rate-limited log of troubles that it
shares with the gateway and the metrics endpoint is :mod:`ingest.troubles`.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import queue
import threading
import time
from abc import abstractmethod
from collections.abc import Callable, Iterable

from ingest.codec import MAX_PACKET_BYTES
from ingest.errors import StoreError, TopicError
from ingest.metrics import Health, ServiceMetrics
from ingest.mqtt import BrokerAddress
from ingest.payloads import MAX_PAYLOAD_BYTES
from ingest.service.cmd import add_service_arguments, serve
from ingest.service.connection import (
    CONNECT_RETRY_MAX_S,
    CONNECT_RETRY_MIN_S,
    PROBE_EVERY_S,
    ServiceConnection,
    probe_topic,
)
from ingest.service.message import Inbox, Message
from ingest.topics import Kind, parse
from ingest.troubles import RateLimitedLog

__all__ = [
    "Inbox",
    "Message",
    "MqttService",
    "RateLimitedLog",
    "add_service_arguments",
    "probe_topic",
    "serve",
]

log = logging.getLogger(__name__)

#: Messages taken from the broker and not yet handled, at most (about 5 s of 400 wearers
#: at 50 Hz in 25-sample packets); past it the network thread waits (back-pressure).
INBOX_MAX = 10_000
#: Seconds the first message of a batch may wait for more (``MqttService.linger_s``).
LINGER_S = 0.02

#: The largest payload a message of each kind can validly have: a packet of
#: ``MAX_SAMPLES`` samples with gyro, or a JSON object the payload parser accepts.
_MAX_BYTES = {Kind.IMU: MAX_PACKET_BYTES}
#: The count a refused message of each kind goes under.
#: (The services take no events or commands: such a message is on a topic they do not read.)
_BAD_COUNT = {
    Kind.IMU: "bad_packets",
    Kind.STATUS: "bad_status",
    Kind.SETTINGS: "bad_settings",
    Kind.ACTION: "bad_actions",
    Kind.EVENT: "bad_topics",
    Kind.CMD: "bad_topics",
}


def _refused(kind: Kind, m: Message) -> str | None:
    """Why a device message is refused before its handler sees it, or None: larger than any valid one of its kind."""
    if len(m.payload) > _MAX_BYTES.get(kind, MAX_PAYLOAD_BYTES):
        return f"{len(m.payload)} bytes, more than any valid {kind} message"
    return None


class MqttService(ServiceConnection):
    """A long-running MQTT consumer: subclasses implement :meth:`absorb` and :meth:`flush`.

    Args:
        broker: Where the broker listens.
        client_id: Stable client id (the broker keeps the session under it).
        subscriptions: ``(topic filter, qos)`` pairs, subscribed on every connection.
        manual_ack: Ack QoS 1 messages once their batch was written (:meth:`flush`).
        max_batch: Most messages handled in one call.
        tick_s: How often :meth:`tick` runs when no message arrives.
        linger_s: How long the first message of a batch may wait for more to come with
            it: a live fleet's messages arrive one at a time, and each batch costs the
            loop a tick and a flush (a transaction or more) however few it holds, so a
            short wait makes batches of many messages for a little latency. A message
            that already waited as long is handled at once.
        inbox_max: Most messages received and not yet handled (back-pressure past it).
        probe_every_s: Seconds between two probes of the service's own connection.
        service: The ``service`` label of its metrics (:mod:`ingest.metrics`).
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
        linger_s: float = LINGER_S,
        inbox_max: int = INBOX_MAX,
        probe_every_s: float = PROBE_EVERY_S,
        service: str = "mqtt",
    ) -> None:
        super().__init__(
            broker,
            client_id,
            subscriptions,
            manual_ack=manual_ack,
            inbox_max=inbox_max,
            probe_every_s=probe_every_s,
            troubles=RateLimitedLog(log),
        )
        self.max_batch = max_batch
        self.tick_s = tick_s
        self.linger_s = linger_s
        #: Wall-clock seconds the newest handled message waited between arrival and handling.
        self.lag_s = 0.0
        #: Store reads or writes that failed and were retried.
        self.store_failures = 0
        self.metrics = ServiceMetrics(service, self.health)
        self.metrics.read("sitless_mqtt_reconnects", lambda: self.disconnects + self.takeovers)
        self.metrics.read("sitless_client_id_conflicts", lambda: self.conflicts)
        self.metrics.read("sitless_store_write_failures", lambda: self.store_failures)
        self.metrics.read("sitless_mqtt_connected", lambda: bool(self.client.is_connected()))
        self.metrics.read("sitless_lag_seconds", lambda: self.lag_s)
        self.metrics.read("sitless_inbox_messages", self._inbox.qsize)
        self.metrics.read("sitless_mqtt_client_cpu_seconds", self.mqtt_cpu.seconds)

    def health(self) -> Health:
        """Whether the service works: connected to the broker, and its loop running (``/healthz``)."""
        return Health(bool(self.client.is_connected()), self._looping and not self._stop.is_set(), self.lag_s)

    @property
    def looping(self) -> bool:
        """Whether the message loop runs (:meth:`run`, :meth:`start`), not a caller calling :meth:`handle`."""
        return self._looping

    def start(self, *, timeout_s: float = 10.0) -> None:
        """Connect, wait until subscribed and handle messages in a background thread.

        A :meth:`stop` while it connects ends its tries, and it returns with nothing started.

        Raises:
            ConnectionError: The broker did not confirm the subscriptions in time, or
                turned the login down (:class:`LoginRefusedError`, at once).
        """
        self.connect()
        if self._stop.is_set():
            return  # stopped while it connected: nothing to start
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
        """Stop taking messages in, let the loop finish the ones it holds, then return.

        The broker connection closes first, so that a wearer still streaming cannot keep
        the inbox from ever emptying: what arrives later waits at the broker (persistent
        session, QoS 1). The loop then drains the inbox, and only after it has ended may
        the caller touch what the loop works on (a worker's wearers, the store): closing
        the store under a loop still writing crashed SQLite.
        """
        self._stop.set()
        loop = self._thread if self._thread is not threading.current_thread() else None
        if self._reading and loop is not None:
            loop.join()  # it reads no more once stopping; the connection is then this thread's
        self.mqtt_cpu.retire()
        with contextlib.suppress(OSError):  # a socket pair closed by a take-over under way (_own_network)
            self.client.disconnect()
        self.client.loop_stop()
        if loop is not None:
            loop.join()

    def _read_batch(self) -> list[Message]:
        """``_drain`` while the loop reads the connection: wait up to ``tick_s`` for a message, linger, take a batch.

        Once stopping it reads no more: what arrives later waits at the broker.
        """
        most = min(self.max_batch, self._inbox.maxsize or self.max_batch)  # a batch, within the queue's bound
        start = time.monotonic()
        while self._inbox.empty() and self._reading and not self._stop.is_set():
            left = start + self.tick_s - time.monotonic()
            self._read(left, most)
            if left <= 0:
                break
        try:
            first = self._inbox.get_nowait()
        except queue.Empty:
            return []
        linger_until_s = first.received_mono_s + self.linger_s
        while self._reading and not self._stop.is_set() and (room := most - 1 - self._inbox.qsize()) > 0:
            left = linger_until_s - time.monotonic()
            if left <= 0:
                break
            self._read(left, room)
        return self._batch(first)

    def _batch(self, first: Message) -> list[Message]:
        items = [first]
        while len(items) < self.max_batch:
            try:
                items.append(self._inbox.get_nowait())
            except queue.Empty:
                break
        return items

    def _drain(self) -> list[Message]:
        if self._own_network():
            return self._read_batch()
        try:
            first = self._inbox.get(timeout=self.tick_s)
        except queue.Empty:
            return []
        wait_s = first.received_mono_s + self.linger_s - time.monotonic()
        if wait_s > 0 and self._inbox.qsize() < self.max_batch - 1:
            self._stop.wait(wait_s)  # let the messages that follow come with it
        return self._batch(first)

    def _loop(self) -> None:
        self._looping = True
        try:
            self._loop_batches()
        finally:
            self._looping = False

    def _loop_batches(self) -> None:
        while not (self._stop.is_set() and self._inbox.empty()):
            items = self._drain()
            if items:
                self.lag_s = max(0.0, time.monotonic() - items[-1].received_mono_s)
            absorb = functools.partial(self.absorb, items)
            if items and not self._until_done(absorb, f"taking in {len(items)} messages"):
                continue  # stopping, and the store is down: the broker keeps the unacked messages
            self._guarded(self.tick, "periodic work")
            if self._until_done(self.flush, "saving") and self.manual_ack:
                for m in items:
                    if m.qos > 0:
                        self.client.ack(m.mid, m.qos)
            if not self._stop.is_set():
                self._guarded(self._probe, "probing the connection")

    def _guarded(self, step: Callable[[], None], what: str) -> bool:
        """Run ``step``; any error but a store failure is counted, logged (rate-limited) and skipped.

        The services check each message where they handle it, so this is the last net:
        whatever slips through must not end the loop for every wearer.
        """
        try:
            step()
        except StoreError:
            raise
        except Exception:
            self.on_error(what)
            return False
        return True

    def handle_each(self, messages: Iterable[Message], handle: Callable[[str, Kind, Message], None]) -> None:
        """Call ``handle(device_id, kind, message)`` for each device message, each under a guard.

        A message that ``handle`` cannot take is counted (``errors``), logged
        (rate-limited) and skipped; only a store failure leaves the batch, so that the
        loop takes it in again. Before ``handle``, a message on a topic that names no
        valid device is counted (``bad_topics``, the service's own), and one that no
        handler could use (:func:`_refused`) under its kind's bad count: neither reaches
        ``handle``, which a standby worker would otherwise keep undecoded.
        """
        for m in messages:
            try:
                device_id, kind = parse(m.topic)
            except TopicError as err:
                self.count("*", "bad_topics")
                self.troubles.warning("topic", "ignoring a message: %s", err)
                continue
            if refused := _refused(kind, m):
                self.count(device_id, _BAD_COUNT[kind])
                self.troubles.warning(
                    f"refused:{device_id}", "%s: message on %s refused: %s", device_id, m.topic, refused
                )
                continue
            try:
                handle(device_id, kind, m)
            except StoreError:
                raise
            except Exception:
                self.count(device_id, "errors")
                self.troubles.warning(
                    f"message:{device_id}",
                    "%s: could not handle a message on %s; skipped",
                    device_id,
                    m.topic,
                    exc_info=True,
                )

    def _until_done(self, step: Callable[[], None], what: str) -> bool:
        """Run ``step``; while the store fails, wait (capped backoff) and run it again.

        Any other error is logged and counted (:meth:`on_error`) and the step is over:
        what the services could not handle they skip, so that the loop goes on.

        Returns:
            True once it ran, False if the store failed after :meth:`stop` was asked.
        """
        delay = CONNECT_RETRY_MIN_S
        while True:
            try:
                self._guarded(step, what)
                return True
            except StoreError:
                self.store_failures += 1
                if self._stop.is_set():
                    log.exception("%s: %s failed; giving up at shutdown", self.client_id, what)
                    return False
                log.exception("%s: %s failed; retrying in %.1f s", self.client_id, what, delay)
                self._lend_network()  # paho's thread keeps the connection alive meanwhile
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

    def flush(self) -> None:  # optional hook, deliberately empty
        """Write what :meth:`absorb` and :meth:`tick` hold; default nothing.

        Raising :class:`StoreError` must leave unwritten what is still held, so that
        the loop's next call writes it (and nothing twice).
        """

    def tick(self) -> None:  # optional hook, deliberately empty
        """Periodic work in memory between batches (give up waiting for late packets); default nothing."""
