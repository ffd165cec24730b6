"""The loop every MQTT service shares: receive into a queue, handle in batches, ack.

While the connection is up, the loop reads it itself: each batch, it takes from the
connection what has arrived, through paho's calls for a program that runs its own loop
(``loop_read``, ``loop_write``, ``loop_misc``).
paho's network thread holds the connection while it is being made or made again, and
while the loop waits out a failing store, so that a slow disk never stalls the MQTT
keepalive: then the thread only enqueues, and the loop takes the connection back once
it is up and the queue is empty. Reading in the loop's own thread spares a live fleet's
messages, which arrive one at a time, a wake-up of another thread and a hand-over of
Python's interpreter lock each (docs/performance.md, *One thread for the connection*).
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

A client that connects with the same client id takes the session over, and the broker
either drops this service's connection or (amqtt) leaves it connected but sends it
nothing. To notice, each service publishes a small probe on its own topic every few
seconds: a service that hears nothing at all for several probes reconnects and takes
its session back, and one that hears another instance's probe logs the conflict.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import logging
import math
import queue
import select
import signal
import ssl
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode

from ingest.codec import MAX_PACKET_BYTES
from ingest.errors import StoreError, TopicError
from ingest.metrics import Health, MetricsEndpoint, MetricsServer, ServiceMetrics, ThreadCpu, add_metrics_arguments
from ingest.mqtt import (
    DEFAULT_BROKER_URL,
    BrokerAddress,
    LoginRefusedError,
    connect,
    make_client,
    start_network_thread,
    stop_network_thread,
)
from ingest.payloads import MAX_PAYLOAD_BYTES
from ingest.store import add_store_argument
from ingest.topics import Kind, parse

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

# Backoff while the broker is unreachable at start-up (reconnects later are paho's).
CONNECT_RETRY_MIN_S = 0.5
CONNECT_RETRY_MAX_S = 10.0
#: Messages taken from the broker and not yet handled, at most (about 5 s of 400 wearers
#: at 50 Hz in 25-sample packets); past it the network thread waits (back-pressure).
INBOX_MAX = 10_000
#: Seconds the first message of a batch may wait for more (``MqttService.linger_s``).
LINGER_S = 0.02
#: Seconds between two probes on the service's own topic.
PROBE_EVERY_S = 5.0
#: Probes sent without any message arriving before the service takes its session back.
PROBES_BEFORE_RECONNECT = 3
#: Connection drops within FLAPPING_WINDOW_S that suggest two clients fighting over one id.
FLAPPING_DROPS = 3
FLAPPING_WINDOW_S = 30.0
#: Seconds between two log lines of one kind of trouble (the rest are counted).
LOG_EVERY_S = 10.0


def probe_topic(client_id: str) -> str:
    """The topic a service probes its own connection on (outside the device topics).

    >>> probe_topic("sitless-worker")
    'sitless/svc/sitless-worker/probe'
    """
    safe = "".join("_" if c in "+#/" else c for c in client_id)
    return f"sitless/svc/{safe}/probe"


class Inbox(queue.Queue["Message"]):
    """The messages received and not yet handled: bounded for paho's network thread, not for the loop's own reads."""

    def put_past_bound(self, item: Message) -> None:
        """Add a message whatever the bound: the loop, reading the connection itself, must never wait for itself.

        It reads no more than a batch's worth while messages wait (``MqttService._read_batch``).
        """
        with self.mutex:  # the queue module's own lock and hooks, as its subclasses use them
            self._put(item)
            self.unfinished_tasks += 1
            self.not_empty.notify()


class RateLimitedLog:
    """Logs one line per kind of trouble every ``every_s`` seconds and counts the rest.

    Args:
        logger: Where to log.
        every_s: Least wall-clock seconds between two lines of one key.
        clock: Monotonic seconds.
    """

    def __init__(
        self, logger: logging.Logger, every_s: float = LOG_EVERY_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._log = logger
        self._every_s = every_s
        self._clock = clock
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warning(self, key: str, msg: str, *args: object, exc_info: bool = False) -> None:
        """Log ``msg % args`` at WARNING unless a line of ``key`` went out within ``every_s``."""
        now = self._clock()
        if now - self._last.get(key, -math.inf) < self._every_s:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return
        if len(self._last) > 1000:  # keys come from devices: keep the memory bounded
            self._last.clear()
            self._suppressed.clear()
        self._last[key] = now
        skipped = self._suppressed.pop(key, 0)
        suffix = f" ({skipped} more like it not logged)" if skipped else ""
        self._log.warning(msg + suffix, *args, exc_info=exc_info)


def add_service_arguments(parser: argparse.ArgumentParser, client_id: str) -> None:
    """Add the options every MQTT service takes: ``--broker``, ``--store``, ``--client-id``, ``--metrics-port``."""
    parser.add_argument("--broker", default=DEFAULT_BROKER_URL, help=f"MQTT broker URL (default {DEFAULT_BROKER_URL})")
    add_store_argument(parser)
    parser.add_argument(
        "--client-id", default=client_id, help=f"MQTT client id; the broker keeps the session under it ({client_id})"
    )
    add_metrics_arguments(parser)


@dataclass(frozen=True, slots=True)
class Message:
    """One received MQTT message with what is needed to acknowledge it."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    #: When it arrived, Unix time: what is stored and what names an action.
    received_s: float
    #: When it arrived, on the monotonic clock: what the loop's waits are measured from,
    #: which a step of the wall clock (NTP, a resumed virtual machine) must not stretch.
    received_mono_s: float = field(default_factory=time.monotonic)


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


class MqttService(ABC):
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
        self.broker = broker
        self.client_id = client_id
        self._probe_topic = probe_topic(client_id)
        self.subscriptions = [*subscriptions, (self._probe_topic, 0)]
        self.manual_ack = manual_ack
        self.max_batch = max_batch
        self.tick_s = tick_s
        self.linger_s = linger_s
        self.probe_every_s = probe_every_s
        self.instance = uuid.uuid4().hex[:12]
        self.client: paho.Client = make_client(
            client_id, clean_session=False, manual_ack=manual_ack, mqtt5=broker.mqtt5
        )
        self._inbox = Inbox(maxsize=inbox_max)
        self._reading = False  # the loop reads the connection itself (module docstring)
        self._read_in = 0  # messages its reads took in
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.subscribed = threading.Event()
        self.troubles = RateLimitedLog(log)
        #: Wall-clock seconds the newest handled message waited between arrival and handling.
        self.lag_s = 0.0
        #: Times this service found its session taken over (no message for several probes).
        self.takeovers = 0
        #: Probes heard from another instance with the same client id.
        self.conflicts = 0
        #: Connections the broker dropped (a take-over drops the older one on most brokers);
        #: attempts the broker never accepted while it was out of reach are not drops.
        self.disconnects = 0
        self._up = False  # a connection was accepted since the last drop (_on_connect)
        self._recent_drops: list[float] = []
        self._reconnecting = False
        self._heard_s = time.monotonic()  # when the last message of any kind arrived
        self._probe_sent_s = -math.inf
        self._probes_unheard = 0
        self._probe_n = 0
        self._looping = False
        #: Store reads or writes that failed and were retried.
        self.store_failures = 0
        self.metrics = ServiceMetrics(service, self.health)
        self.metrics.read("sitless_mqtt_reconnects", lambda: self.disconnects + self.takeovers)
        self.metrics.read("sitless_client_id_conflicts", lambda: self.conflicts)
        self.metrics.read("sitless_store_write_failures", lambda: self.store_failures)
        self.metrics.read("sitless_mqtt_connected", lambda: bool(self.client.is_connected()))
        self.metrics.read("sitless_lag_seconds", lambda: self.lag_s)
        self.metrics.read("sitless_inbox_messages", self._inbox.qsize)
        #: CPU time of the MQTT client: its network thread, and the loop's own reads (_read).
        self.mqtt_cpu = ThreadCpu()
        self.metrics.read("sitless_mqtt_client_cpu_seconds", self.mqtt_cpu.seconds)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    def _on_connect(self, client: paho.Client, userdata: object, flags: object, reason: object, props: object) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("%s: broker refused the connection: %s", self.client_id, reason)
            return
        self.mqtt_cpu.enter()  # the network thread: a new one after a take-back (_probe)
        self._heard_s = time.monotonic()
        self._up = True
        client.subscribe(self.subscriptions)

    def _on_disconnect(
        self, client: paho.Client, userdata: object, flags: object, reason: object, props: object
    ) -> None:
        if self._stop.is_set() or self._reconnecting:
            return
        if not self._up:  # an attempt while the broker is out of reach: paho tries again
            self.troubles.warning(
                "unreachable", "%s: the broker is still out of reach (%s); trying again", self.client_id, reason
            )
            return
        self._up = False
        self.disconnects += 1
        now = time.monotonic()
        self._recent_drops = [t for t in self._recent_drops if now - t < FLAPPING_WINDOW_S] + [now]
        if len(self._recent_drops) >= FLAPPING_DROPS:
            self.troubles.warning(
                "flapping",
                "%s: the broker dropped the connection %d times in %.0f s: is another client using this client id?"
                " Give each service its own --client-id",
                self.client_id,
                len(self._recent_drops),
                FLAPPING_WINDOW_S,
            )
        else:
            self.troubles.warning(
                "disconnect", "%s: lost the broker connection (%s); reconnecting", self.client_id, reason
            )

    def _on_subscribe(self, client: paho.Client, userdata: object, mid: int, reasons: object, props: object) -> None:
        self.subscribed.set()

    def _on_message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        self._heard_s = time.monotonic()
        self._probes_unheard = 0
        if msg.topic == self._probe_topic:
            self._on_probe(bytes(msg.payload))
            return
        message = Message(msg.topic, bytes(msg.payload), msg.mid, msg.qos, time.time(), time.monotonic())
        if self._reading:  # in the loop's own thread (_read)
            self._inbox.put_past_bound(message)
            self._read_in += 1
            return
        self.mqtt_cpu.enter()
        while True:  # a full inbox makes the network thread wait: the broker keeps the backlog
            try:
                self._inbox.put(message, timeout=0.5)
                return
            except queue.Full:
                if self._stop.is_set() and not self.running:
                    return  # shutting down: unacknowledged, so the broker delivers it again

    def _on_probe(self, payload: bytes) -> None:
        instance = payload.decode("ascii", "replace").partition(" ")[0]
        if instance != self.instance:
            self.conflicts += 1
            self.troubles.warning(
                "conflict",
                "%s: another client uses this client id (instance %r): give each service its own --client-id",
                self.client_id,
                instance[:40],
            )

    def _probe(self) -> None:
        """Probe the connection; take the session back if nothing arrived for several probes."""
        now = time.monotonic()
        if now - self._probe_sent_s < self.probe_every_s or not self.client.is_connected():
            return
        if self._heard_s < self._probe_sent_s:  # nothing at all arrived since the last probe
            self._probes_unheard += 1
        self._probe_sent_s = now
        if self._probes_unheard >= PROBES_BEFORE_RECONNECT:
            self.takeovers += 1
            self._probes_unheard = 0
            log.error(
                "%s: connected but nothing arrives, not even its own probes: another client with this client id"
                " took the session over; reconnecting to take it back",
                self.client_id,
            )
            self._reconnecting = True
            try:
                self.mqtt_cpu.retire()
                self._up = False  # dropped on purpose: not counted, and the next attempt must be accepted first
                self._reading = False  # connect() starts paho's thread, which holds the new connection
                self.client.disconnect()
                self.client.loop_stop()
                self.subscribed.clear()
                self._heard_s = now
            finally:
                self._reconnecting = False
            self.connect()
            return
        self._probe_n += 1
        self.client.publish(self._probe_topic, f"{self.instance} {self._probe_n}", qos=0)

    def connect(self) -> None:
        """Connect, retrying with a capped backoff until the broker answers or :meth:`stop`.

        Raises:
            LoginRefusedError: The broker turned the login down: a wrong password file or a
                login missing from the broker's, which no retry mends.
        """
        delay = CONNECT_RETRY_MIN_S
        while not self._stop.is_set():
            try:
                connect(self.client, self.broker)
                return
            except LoginRefusedError:
                raise
            except ConnectionError as err:
                log.warning("%s; retrying in %.1f s", err, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, CONNECT_RETRY_MAX_S)

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

    def _own_network(self) -> bool:
        """Whether the loop reads the connection itself; it takes it from paho's thread when it can.

        That is when the loop runs, is not stopping, the connection is up and every
        message paho's thread took in was handled (so that thread waits for no room in
        the queue as it ends).
        """
        if self._reading:
            return True
        if not self._looping or self._stop.is_set() or not self.client.is_connected() or not self._inbox.empty():
            return False
        self.mqtt_cpu.retire()
        stop_network_thread(self.client)  # returns once paho's thread has finished its pass (at most a second)
        self._reading = True
        return True

    def _lend_network(self) -> None:
        """Hand the connection back to paho's thread: to make it again, or while the loop waits for the store."""
        if self._reading:
            self._reading = False
            start_network_thread(self.client)

    def _read(self, timeout_s: float, most: int = 1) -> None:
        """Take in what arrives on the connection within ``timeout_s``: up to ``most`` messages.

        paho's calls for a program that runs its own loop (``loop_read``,
        ``loop_write``, ``loop_misc``) on its socket, as its own ``loop`` makes them but
        without the wake-up pair of a network thread, and with the messages that arrived
        together read one after the other without a ``select`` between them. A lost
        connection is handed to paho's thread, which makes it again.
        """
        start = time.thread_time()
        try:
            rc = self._read_once(max(0.0, timeout_s), most)
        except Exception:
            rc = paho.MQTT_ERR_UNKNOWN
            self.on_error("reading the broker connection")
        self.mqtt_cpu.add(time.thread_time() - start)
        if rc != paho.MQTT_ERR_SUCCESS:
            self._lend_network()

    def _read_once(self, timeout_s: float, most: int) -> MQTTErrorCode:
        client = self.client
        sock = client.socket()
        if sock is None:
            return paho.MQTT_ERR_NO_CONN
        # Bytes TLS has decrypted already are not seen by select (paho's own loop does the same).
        pending = sock.pending() if isinstance(sock, ssl.SSLSocket) else 0
        try:
            readable, _, _ = select.select([sock], [], [], 0.0 if pending else timeout_s)
        except (OSError, ValueError):  # the socket was closed under it
            return paho.MQTT_ERR_CONN_LOST
        rc = paho.MQTT_ERR_SUCCESS
        if readable or pending:
            # loop_read reads one MQTT packet a call, and a call with nothing to read
            # returns at once (the socket does not block): read on while each call
            # brings a message, as many as arrived together (a message costs a select less).
            until = self._read_in + max(1, most)
            while True:
                before = self._read_in
                rc = client.loop_read()
                if rc != paho.MQTT_ERR_SUCCESS or self._read_in == before or self._read_in >= until:
                    break
        if rc == paho.MQTT_ERR_SUCCESS and client.want_write():  # what could not all be sent at once
            rc = client.loop_write()
        return client.loop_misc() if rc == paho.MQTT_ERR_SUCCESS else rc

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

    def health(self) -> Health:
        """Whether the service works: connected to the broker, and its loop running (``/healthz``)."""
        return Health(bool(self.client.is_connected()), self._looping and not self._stop.is_set(), self.lag_s)

    @property
    def looping(self) -> bool:
        """Whether the message loop runs (:meth:`run`, :meth:`start`), not a caller calling :meth:`handle`."""
        return self._looping

    @property
    def running(self) -> bool:
        """Whether the handler thread started by :meth:`start` is alive."""
        return self._thread is not None and self._thread.is_alive()

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

    def on_error(self, what: str) -> None:
        """An unexpected error in ``what``: count it and log it (rate-limited, with the traceback)."""
        self.count("*", "errors")
        self.troubles.warning(
            f"error:{what}", "%s: unexpected error in %s; going on", self.client_id, what, exc_info=True
        )

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

    @abstractmethod
    def count(self, device_id: str, name: str) -> None:
        """Add one to the service's counter ``name`` of a device (``"*"``: the service itself)."""

    def flush(self) -> None:  # noqa: B027 - optional hook, deliberately empty
        """Write what :meth:`absorb` and :meth:`tick` hold; default nothing.

        Raising :class:`StoreError` must leave unwritten what is still held, so that
        the loop's next call writes it (and nothing twice).
        """

    def tick(self) -> None:  # noqa: B027 - optional hook, deliberately empty
        """Periodic work in memory between batches (give up waiting for late packets); default nothing."""


def serve(service: MqttService, metrics: MetricsEndpoint | None = None) -> int:
    """Run a service in this thread until SIGINT or SIGTERM; it closes itself on the way out.

    Args:
        service: The service to run.
        metrics: Where to serve its metrics and health check (:mod:`ingest.metrics`); None for nowhere.

    Returns:
        The exit status, 0.
    """
    signal.signal(signal.SIGTERM, lambda *_: service.stop())
    with contextlib.ExitStack() as stack:
        if metrics is not None:
            stack.enter_context(MetricsServer(service.metrics, metrics))
        with contextlib.suppress(KeyboardInterrupt):
            service.run()
    return 0
