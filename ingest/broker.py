"""The embedded MQTT broker (amqtt), run as its own process.

amqtt 0.12 speaks MQTT 3.1.1 with retained messages, last wills and persistent
sessions, which is all one wearer's pipeline needs. STACK.md measured it at ~4.5k QoS 1
messages/s when it runs in its own process with a minimal plugin list, and at a third
of that when it shares a process with its clients, hence :class:`BrokerProcess`. For many
wearers and shared subscriptions point the services at mosquitto or another MQTT 5
broker with ``--broker mqtt://host:port`` instead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from types import TracebackType
from typing import Any

from ingest.mqtt import DEFAULT_PORT, BrokerAddress, connect, make_client

__all__ = [
    "BrokerProcess",
    "broker_config",
    "free_port",
    "port_in_use",
    "register",
    "run",
    "serve",
    "wait_for_broker",
    "wait_for_port",
]

log = logging.getLogger(__name__)


def broker_config(host: str, port: int) -> dict[str, Any]:
    """Amqtt configuration: one TCP listener, no logging or $SYS plugins.

    Clients must give a user name (any, no password). amqtt keeps the session of a
    ``clean_session=False`` client across reconnects, with its subscriptions and queued
    QoS 1 messages, only when the client is not anonymous (amqtt 0.12.1,
    ``Broker._session_monitor``), and that session is what lets a recorder or worker
    restart without losing a packet. Password-less access suits a broker bound to
    localhost; one reachable by other machines should be mosquitto with passwords and ACLs.
    """
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}", "max_connections": 1000}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": False}},
    }


def serve(address: BrokerAddress) -> None:
    """Run the broker in this process until SIGINT or SIGTERM."""
    from amqtt.broker import Broker  # imported here: only the broker process needs it

    for noisy in ("transitions", "amqtt"):  # per-connection chatter at INFO
        logging.getLogger(noisy).setLevel(logging.WARNING)

    async def _main() -> None:
        broker = Broker(broker_config(address.host, address.port))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await broker.start()
        log.info("MQTT broker listening on %s", address.url)
        await stop.wait()
        await broker.shutdown()

    asyncio.run(_main())


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_for_port(address: BrokerAddress, timeout_s: float = 10.0) -> bool:
    """Wait until a TCP port accepts connections; return whether it did in time."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((address.host, address.port), timeout=0.5):
            return True
        time.sleep(0.05)
    return False


def wait_for_broker(address: BrokerAddress, timeout_s: float = 10.0) -> bool:
    """Wait until an MQTT broker accepts a connection; return whether it did in time.

    A real MQTT handshake rather than a bare TCP probe, which amqtt logs as an error.
    """
    client = make_client(f"sitless-probe-{os.getpid()}")
    try:
        connect(client, address, timeout_s=timeout_s)
    except ConnectionError:
        return False
    client.disconnect()
    client.loop_stop()
    return True


def port_in_use(address: BrokerAddress) -> bool:
    """Whether something already listens on the address's port."""
    with socket.socket() as s:
        try:
            s.bind((address.host, address.port))
        except OSError:
            return True
    return False


class BrokerProcess:
    """The embedded broker in a child process, started and stopped as a context manager.

    Args:
        address: Where it listens.
        startup_timeout_s: How long to wait for the port to open.
    """

    def __init__(self, address: BrokerAddress, *, startup_timeout_s: float = 15.0) -> None:
        self.address = address
        self._timeout_s = startup_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the broker and wait for its port.

        Raises:
            RuntimeError: The broker exited or did not open its port in time.
        """
        cmd = [sys.executable, "-m", "ingest.broker", "--host", self.address.host]
        # its own session: a Ctrl-C meant for the parent must not stop the broker first
        self._proc = subprocess.Popen([*cmd, "--port", str(self.address.port)], start_new_session=True)
        if not wait_for_broker(self.address, self._timeout_s) or self._proc.poll() is not None:
            self.stop()
            raise RuntimeError(f"embedded MQTT broker did not start on {self.address.url}")

    def stop(self) -> None:
        """Stop the broker (SIGTERM, then SIGKILL after 5 s)."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def __enter__(self) -> BrokerProcess:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``broker`` subcommand."""
    p = sub.add_parser("broker", help="run the embedded MQTT broker (amqtt, MQTT 3.1.1)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the broker until interrupted."""
    serve(BrokerAddress(args.host, args.port))
    return 0


if __name__ == "__main__":  # `python -m ingest.broker`: how BrokerProcess starts it
    _parser = argparse.ArgumentParser(prog="python -m ingest.broker")
    register(_parser.add_subparsers(dest="command", required=True))
    _args = _parser.parse_args(["broker", *sys.argv[1:]])
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    sys.exit(run(_args))
