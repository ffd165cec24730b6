"""MQTT plumbing shared by every service: broker addresses and paho clients.

The services (recorder, worker, and the device side of simulated and BLE wearables)
speak MQTT 5, except to a broker whose address says ``?protocol=3.1.1``: the embedded
broker's amqtt fallback refuses MQTT 5 (STACK.md), and its address says so. Other clients
(command-line tools, tests) speak 3.1.1, which every broker takes. Clients reconnect by
themselves with a capped backoff; QoS 1 messages published while disconnected stay in
paho's queue and go out on reconnect, and a service that sets ``clean_session=False``
with a stable client id has the broker keep its subscriptions and queue its QoS 1
messages while it is away (in MQTT 5: ``clean_start`` off and a session that never
expires, as a 3.1.1 persistent session).

A broker that asks for a login and TLS is named ``mqtts://USER@host[:port]`` (port 8883
by default; ``mqtt://USER@host`` logs in without TLS). The password is never part of
the URL or the command line: it is read from the file named by
``SITLESS_MQTT_PASSWORD_FILE``, else from ``SITLESS_MQTT_PASSWORD``; a private CA that
signed the broker's certificate is named by ``SITLESS_MQTT_CA_FILE`` (default: the
system's CAs).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ingest.errors import IngestError

__all__ = [
    "CA_FILE_ENV",
    "DEFAULT_BROKER_URL",
    "DEFAULT_PORT",
    "DEFAULT_TLS_PORT",
    "PASSWORD_ENV",
    "PASSWORD_FILE_ENV",
    "BrokerAddress",
    "BrokerUrlError",
    "LoginRefusedError",
    "check_share_group",
    "connect",
    "log_in",
    "make_client",
    "start_network_thread",
    "stop_network_thread",
    "url_host",
]

log = logging.getLogger(__name__)

DEFAULT_PORT = 1883
DEFAULT_TLS_PORT = 8883
#: Where a service finds the broker password: a file (preferred) or the variable itself.
PASSWORD_FILE_ENV = "SITLESS_MQTT_PASSWORD_FILE"
PASSWORD_ENV = "SITLESS_MQTT_PASSWORD"
#: A CA certificate (PEM) to verify the broker's TLS certificate with.
CA_FILE_ENV = "SITLESS_MQTT_CA_FILE"
DEFAULT_BROKER_URL = f"mqtt://127.0.0.1:{DEFAULT_PORT}"
# Reconnect backoff, seconds: quick enough for a broker restart, gentle on a dead one.
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 10
#: MQTT 5 session expiry of a persistent session: the largest value, which never expires.
SESSION_NEVER_EXPIRES = 0xFFFFFFFF


class BrokerUrlError(IngestError, ValueError):
    """A broker URL is not ``mqtt[s]://[USER@]host[:port]``; a ``ValueError`` too, as it always was."""


class LoginRefusedError(ConnectionError):
    """The broker turned the login down (bad user name or password, not authorised): trying again changes nothing."""


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where the MQTT broker listens, and how to log in to it.

    Attributes:
        host: Host name or address.
        port: TCP port.
        username: User name to log in with; None: the client id stands in (a broker
            without passwords, such as the embedded one).
        password: Its password (never shown in ``repr`` or ``url``).
        tls: Whether to speak TLS and verify the broker's certificate.
        ca_file: CA certificate (PEM) to verify it with; None: the system's CAs.
        mqtt5: Whether the services speak MQTT 5 to it (``?protocol=3.1.1`` in the URL:
            not, for a broker that refuses it, such as amqtt).

    >>> BrokerAddress.parse("mqtt://broker.local:1884")
    BrokerAddress(host='broker.local', port=1884, username=None, tls=False, ca_file=None, mqtt5=True)
    >>> BrokerAddress.parse("mqtts://worker@broker.local").url
    'mqtts://worker@broker.local:8883'
    >>> BrokerAddress.parse("mqtt://127.0.0.1:1883?protocol=3.1.1").url
    'mqtt://127.0.0.1:1883?protocol=3.1.1'
    """

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    username: str | None = None
    password: str | None = field(default=None, repr=False, compare=False)
    tls: bool = False
    ca_file: str | None = None
    mqtt5: bool = True

    def __post_init__(self) -> None:
        if not self.host:
            raise ValueError("broker host must not be empty")
        if not 0 < self.port < 65536:
            raise ValueError(f"broker port must be 1..65535, got {self.port}")

    @classmethod
    def parse(cls, url: str, environ: dict[str, str] | None = None) -> BrokerAddress:
        """Parse ``mqtt[s]://[USER@]host[:port][?protocol=3.1.1|5]`` (or bare ``host[:port]``).

        With a user name the password comes from ``environ`` (default ``os.environ``):
        the file named by :data:`PASSWORD_FILE_ENV`, else :data:`PASSWORD_ENV`.

        Raises:
            BrokerUrlError: Another scheme, a bad port, a password in the URL, or a
                password file that cannot be read.
        """
        env = os.environ if environ is None else environ
        try:
            parts = urlsplit(url if "://" in url else f"mqtt://{url}")
        except ValueError as err:  # an unclosed [ of an IPv6 address
            raise BrokerUrlError(f"broker URL {_shown_safely(url)!r}: {err} (write an IPv6 host as [::1])") from err
        if parts.scheme not in ("mqtt", "mqtts"):
            raise BrokerUrlError(f"broker URL must start with mqtt:// or mqtts://, got {_shown(url)!r}")
        if parts.password is not None:
            raise BrokerUrlError(
                f"no password in the broker URL, please: put it in a file named by {PASSWORD_FILE_ENV} "
                f"(or in {PASSWORD_ENV}), where other users of this machine cannot read it"
            )
        host_port = parts.netloc.rpartition("@")[2]
        if host_port.count(":") > 1 and not host_port.startswith("["):  # ::1 or fe80::1: the port's colon is a guess
            raise BrokerUrlError(f"broker URL {_shown(url)!r}: write an IPv6 host in brackets, as mqtt://[::1]:1883")
        if not parts.hostname:
            raise BrokerUrlError(
                f"broker URL {_shown(url)!r} names no host: write mqtt://HOST[:PORT], e.g. {DEFAULT_BROKER_URL}"
            )
        if parts.path.strip("/") or parts.fragment:
            raise BrokerUrlError(
                f"broker URL {_shown(url)!r} has a path: write only mqtt[s]://[USER@]HOST[:PORT][?protocol=3.1.1]"
            )
        tls = parts.scheme == "mqtts"
        try:
            port = parts.port
        except ValueError as err:
            raise BrokerUrlError(f"bad port in broker URL {_shown(url)!r}: use 1..65535") from err
        if port == 0:
            raise BrokerUrlError(f"bad port in broker URL {_shown(url)!r}: use 1..65535")
        username = unquote(parts.username) if parts.username else None
        password = None if username is None else _password(env)
        ca_file = env.get(CA_FILE_ENV) or None
        query = dict(q.partition("=")[::2] for q in parts.query.split("&") if q)
        protocol = query.pop("protocol", "5")
        if protocol not in ("5", "3.1.1") or query:
            raise BrokerUrlError(f"broker URL {_shown(url)!r}: the only option is ?protocol=3.1.1 or ?protocol=5")
        port = port or (DEFAULT_TLS_PORT if tls else DEFAULT_PORT)
        return cls(parts.hostname, port, username, password, tls, ca_file, protocol == "5")

    @property
    def url(self) -> str:
        """The address as a URL, with the user name and without the password."""
        user = "" if self.username is None else f"{self.username}@"
        query = "" if self.mqtt5 else "?protocol=3.1.1"
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.netloc}{query}"

    @property
    def netloc(self) -> str:
        """``host:port``, an IPv6 host in brackets as URLs write it.

        >>> BrokerAddress("::1", 1884).netloc
        '[::1]:1884'
        """
        return f"{url_host(self.host)}:{self.port}"

    def speaking_3_1_1(self) -> BrokerAddress:
        """The same broker, spoken to in MQTT 3.1.1 (a broker that refuses MQTT 5)."""
        return dataclasses.replace(self, mqtt5=False)


def check_share_group(broker: BrokerAddress, share_group: str | None) -> None:
    """Refuse a shared-subscription group on a broker address that speaks MQTT 3.1.1.

    amqtt, the 3.1.1 broker sitless falls back to, grants ``$share/...`` subscriptions
    and delivers nothing on them (STACK.md): a recorder or worker in a group there would
    miss every message.

    Raises:
        ValueError: ``share_group`` is set and ``broker`` speaks MQTT 3.1.1.
    """
    if share_group is not None and not broker.mqtt5:
        raise ValueError(
            f"--share-group needs MQTT 5; {broker.url} speaks 3.1.1, whose brokers (amqtt) grant shared"
            " subscriptions and deliver nothing"
        )


def url_host(host: str) -> str:
    """A host as a URL or ``host:port`` writes it: an IPv6 address in brackets.

    >>> url_host("::1"), url_host("broker.local")
    ('[::1]', 'broker.local')
    """
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _password(env: os._Environ[str] | dict[str, str]) -> str | None:
    """The broker password from the environment's file or variable (None: neither is set)."""
    path = env.get(PASSWORD_FILE_ENV)
    if path:
        where = f"the broker password file {path} ({PASSWORD_FILE_ENV})"
        try:
            password = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
        except UnicodeDecodeError as err:
            raise BrokerUrlError(f"{where} is not UTF-8 text: write the password in it as plain text") from err
        except OSError as err:
            raise BrokerUrlError(f"cannot read {where}: {err.strerror or err}") from err
        if not password:
            raise BrokerUrlError(f"{where} is empty: write the login's password in it")
        return password
    return env.get(PASSWORD_ENV) or None


def _shown(url: str) -> str:
    """A URL as it may be shown in a message: any password in it replaced."""
    try:
        password = urlsplit(url).password
    except ValueError:  # not splittable (an unclosed [): :func:`_shown_safely`
        return _shown_safely(url)
    if password is None:
        return url
    return url.replace(f":{password}@", ":***@", 1)


def _shown_safely(url: str) -> str:
    """A URL that does not split, as it may be shown: a password before its ``@`` replaced.

    >>> _shown_safely("mqtt://u:pw@[::1")
    'mqtt://u:***@[::1'
    """
    scheme, sep, rest = url.rpartition("://")
    userinfo, at, host = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}{sep}{userinfo.split(':', 1)[0]}:***@{host}"


def log_in(client: paho.Client, address: BrokerAddress) -> None:
    """Set the address's user name, password and TLS on a client, before it connects.

    Without a user name in the address the client keeps the one it was made with.
    TLS verifies the broker's certificate and host name against ``ca_file`` or the
    system's CAs. Setting TLS on a client that has it already changes nothing.
    """
    if address.username is not None:
        client.username_pw_set(address.username, address.password)
    if address.tls:
        with contextlib.suppress(ValueError):  # paho: TLS is set already (a reconnection through connect())
            client.tls_set(ca_certs=address.ca_file)


def make_client(
    client_id: str,
    *,
    clean_session: bool = True,
    will: tuple[str, bytes | str, int, bool] | None = None,
    manual_ack: bool = False,
    username: str | None = None,
    mqtt5: bool = False,
) -> paho.Client:
    """A paho client set up the sitless way (MQTT 3.1.1 or 5, callback API 2, unlimited queue).

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
        mqtt5: Speak MQTT 5 (the services, to a broker whose address allows it:
            ``BrokerAddress.mqtt5``); else 3.1.1.

    Returns:
        The client, not yet connected.
    """
    client: paho.Client
    if mqtt5:
        client = _Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5, manual_ack=manual_ack
        )
        client.session_expiry_s = 0 if clean_session else SESSION_NEVER_EXPIRES
    else:
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


class _Client(paho.Client):
    """A paho MQTT 5 client that remembers how long the broker is to keep its session."""

    session_expiry_s: int = 0


def _connect_options(client: paho.Client) -> dict[str, Any]:
    """The MQTT 5 session options of a connection (none in 3.1.1, where the client has them)."""
    if not isinstance(client, _Client):
        return {}
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho leaves it unannotated
    properties.SessionExpiryInterval = client.session_expiry_s
    return {"clean_start": client.session_expiry_s == 0, "properties": properties}


def connect(
    client: paho.Client,
    address: BrokerAddress,
    *,
    timeout_s: float = 10.0,
    keepalive_s: int = 15,
    fail_if_refused: bool = False,
    abandon: Callable[[], bool] | None = None,
) -> None:
    """Log in (:func:`log_in`), start the client's network thread and wait for the first connection.

    It returns once the broker has accepted a connection, even one lost again before this
    thread looked (another client with the same id taking the session over at once, on a
    busy machine). The client keeps reconnecting by itself afterwards. ``on_connect`` callbacks set
    before this call run on every (re)connection, so subscribe there. By default a
    refused connection is tried again until ``timeout_s``, as a broker that is still
    starting refuses (``ingest.broker.wait_for_broker`` relies on it), and the error at
    the timeout says what the first attempt met (a refused port, a TLS handshake cut
    short); with ``fail_if_refused`` a refusal, an unknown host or an unreachable network
    fails at once. A broker that turns the login
    down (bad user name or password, not authorised) fails at once either way: trying
    again would not change its answer. ``abandon``, asked every 20 ms while waiting,
    stops the wait early when it returns true (a broker process that exited meanwhile).

    Raises:
        ConnectionError: No connection within ``timeout_s``, the login was refused,
            (``fail_if_refused``) the first attempt failed, or ``abandon`` said to stop.
    """
    log_in(client, address)
    refusals: list[str] = []
    connected = threading.Event()  # once: a connection taken over at once by another client still counts
    previous = client.on_connect

    def watch(c: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if getattr(reason, "is_failure", False):
            refusals.append(str(reason))
        else:
            connected.set()
        if previous is not None:
            previous(c, userdata, flags, reason, props)  # type: ignore[call-arg]

    client.on_connect = watch
    deadline = time.monotonic() + timeout_s
    first_error = ""
    try:
        # The first attempt is made in this thread, so that its error can be told: paho's
        # thread retries a failed one quietly (a refused port, a TLS handshake that fails).
        try:
            client.connect(address.host, address.port, keepalive=keepalive_s, **_connect_options(client))
        except OSError as err:
            if fail_if_refused:
                _give_up(client)
                raise ConnectionError(f"no MQTT broker at {address.url}: {err.strerror or err}") from err
            hint = "; does the broker speak TLS on this port?" if address.tls else ""
            first_error = f" (the first try: {err.strerror or err}{hint})"  # paho's thread tries again
        start_network_thread(client)
        while not (connected.is_set() or client.is_connected()):
            if refusals and refusals[-1] in _LOGIN_REFUSED:
                _give_up(client)
                raise LoginRefusedError(f"the MQTT broker at {address.url} refused the login: {refusals[-1]}")
            if time.monotonic() > deadline:
                _give_up(client)
                raise ConnectionError(f"no MQTT broker answered at {address.url} within {timeout_s:.0f} s{first_error}")
            if abandon is not None and abandon():
                _give_up(client)
                raise ConnectionError(f"stopped waiting for the MQTT broker at {address.url}")
            time.sleep(0.02)
    finally:
        client.on_connect = previous
    log.info("connected to %s", address.url)


#: CONNACK answers that mean the login itself is wrong (MQTT 3.1.1 return codes 4 and 5
#: as paho names them, and their MQTT 5 counterparts).
_LOGIN_REFUSED = frozenset({"Bad user name or password", "Not authorized"})


def start_network_thread(client: paho.Client) -> None:
    """Start paho's network thread (``loop_start``), closing the socket pair the last one left.

    paho 2.2's ``loop_start`` opens a new socket pair, its thread's wake-up channel, and
    never closes the one before (client.py, ``loop_start``): a client whose thread is
    stopped and started again, as a service's is when its loop takes the connection
    over and hands it back (``ingest.service``), would leak two descriptors each time.
    A client whose thread runs is left as it is.
    """
    if client._thread is None:
        client._reset_sockets(sockpair_only=True)  # the pair only: the connection stays
    client.loop_start()


def stop_network_thread(client: paho.Client) -> None:
    """Stop paho's network thread (``loop_stop``) and close its wake-up socket pair: the caller reads the connection.

    paho writes a byte to that pair for every packet it queues, to wake its thread; a
    caller that reads the connection itself (``loop_read``, ``loop_write``,
    ``loop_misc``) has no thread to wake, and without the pair paho sends what it
    queues at once instead (client.py, ``_packet_queue``).
    """
    client.loop_stop()
    client._reset_sockets(sockpair_only=True)  # the pair only: the connection stays


def _give_up(client: paho.Client) -> None:
    """Stop a client that never connected, closing its socket."""
    client.disconnect()
    client.loop_stop()
    sock = client.socket()
    if sock is not None:
        sock.close()
