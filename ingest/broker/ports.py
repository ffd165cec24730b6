"""Ports for the embedded broker: a free one to listen on, one taken, and waiting until a broker answers on one."""

from __future__ import annotations

import contextlib
import os
import random
import socket
import time
from collections.abc import Callable
from pathlib import Path

from ingest.mqtt import BrokerAddress, connect, make_client

__all__ = ["free_port", "port_in_use", "wait_for_broker", "wait_for_port"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now, outside the system's ephemeral range.

    Ports the system hands out itself (``bind`` to port 0, and every outgoing connection)
    come from its ephemeral range (``/proc/sys/net/ipv4/ip_local_port_range``), so one of
    those could be taken by a connection before the caller binds it; a random port below
    that range is not, unless another caller picks the same one.
    """
    low, _high = _ephemeral_ports()
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(10_000, low) if low > 10_000 else rng.randrange(1024, 65536)
        with socket.socket(_family(host)) as s, contextlib.suppress(OSError):
            s.bind((host, port))
            return port
    with socket.socket(_family(host)) as s:  # every try taken: let the system choose
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _family(host: str) -> socket.AddressFamily:
    """The socket family of a listening address: IPv6 for an IPv6 address, else IPv4."""
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _ephemeral_ports() -> tuple[int, int]:
    """The system's range of ports for outgoing connections (Linux; the IANA range elsewhere)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 49152, 65535


def wait_for_port(address: BrokerAddress, timeout_s: float = 10.0, *, alive: Callable[[], bool] | None = None) -> bool:
    """Wait until a TCP port accepts connections; return whether it did in time.

    ``alive``, asked between tries, ends the wait at once (False) when it says the
    broker is gone: a broker process that exited will never open the port.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and (alive is None or alive()):
        with contextlib.suppress(OSError), socket.create_connection((address.host, address.port), timeout=0.5):
            return True
        time.sleep(0.05)
    return False


def wait_for_broker(
    address: BrokerAddress, timeout_s: float = 10.0, *, alive: Callable[[], bool] | None = None
) -> bool:
    """Wait until an MQTT broker accepts a connection; return whether it did in time.

    A real MQTT handshake rather than a bare TCP probe, which amqtt logs as an error. A
    refused TCP connection (nothing listens yet) is tried again every 50 ms here rather
    than after paho's reconnect delay of 1 s, then 2 s, which made every start take 3 s.
    ``alive`` (:func:`wait_for_port`) is asked while waiting too: a broker that exited
    because another program holds its port fails at once, not after the timeout that
    program's silence would take.
    """
    deadline = time.monotonic() + timeout_s
    gone = None if alive is None else (lambda: not alive())
    while True:
        client = make_client(f"sitless-probe-{os.getpid()}")
        try:
            connect(
                client, address, timeout_s=max(0.1, deadline - time.monotonic()), fail_if_refused=True, abandon=gone
            )
        except ConnectionError as err:
            if not isinstance(err.__cause__, OSError) or time.monotonic() >= deadline or (gone and gone()):
                return False  # a login turned down, a broker that never answered or exited, or out of time
            time.sleep(0.05)
            continue
        client.disconnect()
        client.loop_stop()
        return True


def port_in_use(address: BrokerAddress) -> bool:
    """Whether something already listens on the address's port.

    A port left in TIME_WAIT by a broker that just stopped is free: the broker binds
    with ``SO_REUSEADDR`` (mosquitto, and asyncio's servers under amqtt), as this probe does.
    """
    with socket.socket(_family(address.host)) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address.host, address.port))
        except OSError:
            return True
    return False
