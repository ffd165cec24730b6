"""A service's broker connection: who reads it, and the probes that notice a session taken over.

While the connection is up, the service's loop (:class:`ingest.service.MqttService`)
reads it itself: each batch, it takes from the connection what has arrived, through
paho's calls for a program that runs its own loop (``loop_read``, ``loop_write``,
``loop_misc``).
paho's network thread holds the connection while it is being made or made again, and
while the loop waits out a failing store, so that a slow disk never stalls the MQTT
keepalive: then the thread only enqueues, and the loop takes the connection back once
it is up and the queue is empty. Reading in the loop's own thread spares a live fleet's
messages, which arrive one at a time, a wake-up of another thread and a hand-over of
Python's interpreter lock each (docs/performance.md, *One thread for the connection*).

A client that connects with the same client id takes the session over, and the broker
either drops this service's connection or (amqtt) leaves it connected but sends it
nothing. To notice, each service publishes a small probe on its own topic every few
seconds: a service that hears nothing at all for several probes reconnects and takes
its session back, and one that hears another instance's probe logs the conflict.
"""

from __future__ import annotations

import logging
import math
import queue
import select
import ssl
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode

from ingest.metrics import ThreadCpu
from ingest.mqtt import (
    BrokerAddress,
    LoginRefusedError,
    connect,
    make_client,
    start_network_thread,
    stop_network_thread,
)
from ingest.service.message import Inbox, Message
from ingest.troubles import RateLimitedLog

__all__ = [
    "CONNECT_RETRY_MAX_S",
    "CONNECT_RETRY_MIN_S",
    "FLAPPING_DROPS",
    "FLAPPING_WINDOW_S",
    "PROBES_BEFORE_RECONNECT",
    "PROBE_EVERY_S",
    "SUBSCRIBE_CHUNK",
    "ServiceConnection",
    "probe_topic",
]

log = logging.getLogger(__name__)

# Backoff while the broker is unreachable at start-up (reconnects later are paho's).
CONNECT_RETRY_MIN_S = 0.5
CONNECT_RETRY_MAX_S = 10.0
#: Seconds between two probes on the service's own topic.
PROBE_EVERY_S = 5.0
#: Probes sent without any message arriving before the service takes its session back.
PROBES_BEFORE_RECONNECT = 3
#: Connection drops within FLAPPING_WINDOW_S that suggest two clients fighting over one id.
FLAPPING_DROPS = 3
FLAPPING_WINDOW_S = 30.0
#: Most topic filters in one SUBSCRIBE or UNSUBSCRIBE (a worker following thousands of devices).
SUBSCRIBE_CHUNK = 500


def _in_chunks(send: Callable[[Any], object], items: list[Any]) -> None:
    """Send a SUBSCRIBE or UNSUBSCRIBE for ``items`` in messages of at most :data:`SUBSCRIBE_CHUNK` filters."""
    for i in range(0, len(items), SUBSCRIBE_CHUNK):
        send(items[i : i + SUBSCRIBE_CHUNK])


def probe_topic(client_id: str) -> str:
    """The topic a service probes its own connection on (outside the device topics).

    >>> probe_topic("sitless-worker")
    'sitless/svc/sitless-worker/probe'
    """
    safe = "".join("_" if c in "+#/" else c for c in client_id)
    return f"sitless/svc/{safe}/probe"


class ServiceConnection(ABC):
    """The broker connection of a long-running MQTT consumer, and what arrives on it (module docstring).

    :class:`ingest.service.MqttService` builds on it: its loop handles what the
    connection queues, and reads the connection itself while it is up.

    Args:
        broker: Where the broker listens.
        client_id: Stable client id (the broker keeps the session under it).
        subscriptions: ``(topic filter, qos)`` pairs, subscribed on every connection.
        manual_ack: Ack QoS 1 messages once their batch was written (``MqttService.flush``), not on arrival.
        inbox_max: Most messages received and not yet handled (back-pressure past it).
        probe_every_s: Seconds between two probes of the service's own connection.
        troubles: The service's rate-limited log of troubles.
    """

    def __init__(
        self,
        broker: BrokerAddress,
        client_id: str,
        subscriptions: list[tuple[str, int]],
        *,
        manual_ack: bool,
        inbox_max: int,
        probe_every_s: float,
        troubles: RateLimitedLog,
    ) -> None:
        self.broker = broker
        self.client_id = client_id
        self._probe_topic = probe_topic(client_id)
        self._fixed = [*subscriptions, (self._probe_topic, 0)]
        #: Every ``(topic filter, qos)`` subscribed on each connection: the fixed ones and
        #: those :meth:`follow` sets (a new list at each change: the network thread reads it).
        self.subscriptions = list(self._fixed)
        self._followed: dict[str, int] = {}
        #: Topic filters unsubscribed on each connection: those a persistent session may
        #: keep from an earlier run that subscribed otherwise (a worker's every-device
        #: filter, for one now subscribed only to the devices it holds).
        self.stale_subscriptions: list[str] = []
        self.manual_ack = manual_ack
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
        self.troubles = troubles
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
        #: CPU time of the MQTT client: its network thread, and the loop's own reads (_read).
        self.mqtt_cpu = ThreadCpu()
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
        _in_chunks(client.subscribe, self.subscriptions)
        _in_chunks(client.unsubscribe, self.stale_subscriptions)

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

    def follow(self, topics: dict[str, int], unfollow: Iterable[str] = ()) -> None:
        """Subscribe to more topic filters beside the fixed ones (by their QoS), and unsubscribe from ``unfollow``.

        Both happen at once when connected, in messages of at most
        :data:`SUBSCRIBE_CHUNK` filters; every (re)connection subscribes all the
        filters followed again. Messages of a filter unsubscribed may still arrive for a
        moment (the broker had them in flight). Call it from the service's loop
        (``absorb``, ``flush``, ``tick``), which holds the connection.
        """
        added = [(t, q) for t, q in topics.items() if self._followed.get(t) != q]
        gone = [t for t in unfollow if t in self._followed and t not in topics]
        if not added and not gone:
            return
        followed = {**self._followed, **topics}
        for t in gone:
            del followed[t]
        self._followed = followed
        self.subscriptions = [*self._fixed, *followed.items()]
        if self.client.is_connected():  # else the next connection subscribes them all
            _in_chunks(self.client.subscribe, added)
            self.unsubscribe(gone)

    def unsubscribe(self, topics: list[str]) -> None:
        """Unsubscribe from topic filters now, if connected (messages in flight may still come).

        Call it from the service's loop. A filter :meth:`follow` set is subscribed again
        on the next connection: leave it out with :meth:`follow` instead.
        """
        if self.client.is_connected():
            _in_chunks(self.client.unsubscribe, topics)

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
        """Connect, retrying with a capped backoff until the broker answers or ``MqttService.stop``.

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

    @property
    def running(self) -> bool:
        """Whether the handler thread started by ``MqttService.start`` is alive."""
        return self._thread is not None and self._thread.is_alive()

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

    def on_error(self, what: str) -> None:
        """An unexpected error in ``what``: count it and log it (rate-limited, with the traceback)."""
        self.count("*", "errors")
        self.troubles.warning(
            f"error:{what}", "%s: unexpected error in %s; going on", self.client_id, what, exc_info=True
        )

    @abstractmethod
    def count(self, device_id: str, name: str) -> None:
        """Add one to the service's counter ``name`` of a device (``"*"``: the service itself)."""
