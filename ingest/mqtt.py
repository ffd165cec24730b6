"""MQTT plumbing shared by every service: broker addresses and paho clients.

All services speak MQTT 3.1.1 so that both engines of the embedded broker work:
mosquitto, and the amqtt fallback (3.1.1 only, see STACK.md). Clients reconnect by themselves with a capped
backoff; QoS 1 messages published while disconnected stay in paho's queue and go out
on reconnect, and a service that sets ``clean_session=False`` with a stable client id
has the broker keep its subscriptions and queue its QoS 1 messages while it is away.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from ingest.errors import IngestError

__all__ = [
    "DEFAULT_BROKER_URL",
    "DEFAULT_PORT",
    "BrokerAddress",
    "BrokerUrlError",
    "connect",
    "make_client",
]

log = logging.getLogger(__name__)

DEFAULT_PORT = 1883
DEFAULT_BROKER_URL = f"mqtt://127.0.0.1:{DEFAULT_PORT}"
# Reconnect backoff, seconds: quick enough for a broker restart, gentle on a dead one.
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 10


class BrokerUrlError(IngestError, ValueError):
    """A broker URL is not ``mqtt://host[:port]``; a ``ValueError`` too, as it always was."""


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where the MQTT broker listens.

    >>> BrokerAddress.parse("mqtt://broker.local:1884")
    BrokerAddress(host='broker.local', port=1884)
    """

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT

    def __post_init__(self) -> None:
        if not self.host:
            raise ValueError("broker host must not be empty")
        if not 0 < self.port < 65536:
            raise ValueError(f"broker port must be 1..65535, got {self.port}")

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """Parse ``mqtt://host[:port]`` (or bare ``host[:port]``).

        Raises:
            BrokerUrlError: The URL has another scheme or a bad port.
        """
        parts = urlsplit(url if "://" in url else f"mqtt://{url}")
        if parts.scheme != "mqtt":
            raise BrokerUrlError(f"broker URL must start with mqtt://, got {url!r}")
        try:
            port = parts.port or DEFAULT_PORT
        except ValueError as err:
            raise BrokerUrlError(f"bad port in broker URL {url!r}") from err
        return cls(parts.hostname or "127.0.0.1", port)

    @property
    def url(self) -> str:
        """The address as an ``mqtt://`` URL."""
        return f"mqtt://{self.host}:{self.port}"


def make_client(
    client_id: str,
    *,
    clean_session: bool = True,
    will: tuple[str, bytes | str, int, bool] | None = None,
    manual_ack: bool = False,
    username: str | None = None,
) -> paho.Client:
    """A paho client set up the sitless way (MQTT 3.1.1, callback API 2, unlimited queue).

    Args:
        client_id: Stable id; with ``clean_session=False`` the broker keeps the session
            (subscriptions and queued QoS 1 messages) under it across reconnects.
        clean_session: False for services that must not miss messages while away.
        will: ``(topic, payload, qos, retain)`` the broker publishes if the client vanishes.
        manual_ack: Acknowledge QoS 1 messages only when ``client.ack(mid, qos)`` is called,
            so that a message is acked after it is safely stored.
        username: User name to log in with (default: the client id). The embedded
            broker's amqtt fallback keeps sessions only for named clients (see
            :func:`ingest.broker.broker_config`).

    Returns:
        The client, not yet connected.
    """
    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean_session,
        protocol=MQTTProtocolVersion.MQTTv311,
        manual_ack=manual_ack,
    )
    client.username_pw_set(username or client_id)
    client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
    client.max_queued_messages_set(0)  # 0 = unlimited: never drop QoS 1 messages while offline
    client.max_inflight_messages_set(100)
    if will is not None:
        topic, payload, qos, retain = will
        client.will_set(topic, payload, qos=qos, retain=retain)
    return client


def connect(
    client: paho.Client,
    address: BrokerAddress,
    *,
    timeout_s: float = 10.0,
    keepalive_s: int = 15,
    fail_if_refused: bool = False,
) -> None:
    """Start the client's network thread and wait for the first connection.

    The client keeps reconnecting by itself afterwards. ``on_connect`` callbacks set
    before this call run on every (re)connection, so subscribe there. By default a
    refused connection is tried again until ``timeout_s``, as a broker that is still
    starting refuses (``ingest.broker.wait_for_broker`` relies on it); with
    ``fail_if_refused`` the first attempt is made in this thread and a refusal, an
    unknown host or an unreachable network fails at once.

    Raises:
        ConnectionError: No connection within ``timeout_s``, or (``fail_if_refused``)
            the first attempt failed.
    """
    if fail_if_refused:
        try:  # paho's connect_async would retry a refusal quietly in its thread until the timeout
            client.connect(address.host, address.port, keepalive=keepalive_s)
        except OSError as err:
            raise ConnectionError(f"no MQTT broker at {address.url}: {err.strerror or err}") from err
    else:
        client.connect_async(address.host, address.port, keepalive=keepalive_s)
    client.loop_start()
    deadline = time.monotonic() + timeout_s
    while not client.is_connected():
        if time.monotonic() > deadline:
            client.loop_stop()
            raise ConnectionError(f"no MQTT broker answered at {address.url} within {timeout_s:.0f} s")
        time.sleep(0.02)
    log.info("connected to %s", address.url)
