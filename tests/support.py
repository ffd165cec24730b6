"""Helpers for tests in every folder: polling, a cuttable TCP proxy, an MQTT listener, a test CA."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
import sqlalchemy as sa

from ingest.broker import free_port
from ingest.broker_setup import TlsFiles
from ingest.mqtt import BrokerAddress, connect, make_client
from ingest.tally import Tally, writer_id
from ingest.topics import Kind, subscription

__all__ = ["EventLog", "FullDisk", "TcpProxy", "free_port", "make_test_ca", "missing", "tally", "wait_until"]


class TcpProxy:
    """A localhost TCP forwarder whose connections can be cut, to drop an MQTT link for real.

    While cut, open connections are closed and new ones are refused (accepted and closed
    at once), as when a Wi-Fi or mobile link goes away. It listens on ``port``, else on a
    free one: a broker that appears on a port where nothing listened before.
    """

    def __init__(self, target: BrokerAddress, port: int | None = None) -> None:
        self.target = target
        self.address = BrokerAddress("127.0.0.1", port or free_port(), mqtt5=target.mqtt5)
        self._server = socket.create_server((self.address.host, self.address.port))
        self._server.settimeout(0.2)
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._cut = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self._cut.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection((self.target.host, self.target.port), timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Drop every open connection and refuse new ones."""
        self._cut.set()
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def restore(self) -> None:
        """Accept connections again."""
        self._cut.clear()

    def close(self) -> None:
        """Stop the proxy."""
        self._stop.set()
        self.cut()
        self._server.close()
        self._thread.join(2)


@contextlib.contextmanager
def mqtt_client(client_id: str, broker: BrokerAddress) -> Iterator[paho.Client]:
    """A paho client connected to ``broker`` (its network thread running), disconnected afterwards."""
    client = make_client(client_id)
    connect(client, broker)
    try:
        yield client
    finally:
        client.disconnect()
        client.loop_stop()


def tally(service: str, counts: dict[tuple[str, str], int]) -> Tally:
    """Counts to add once, as one batch of a writer of their own."""
    held = Tally(service, writer_id("test"))
    held.hold(counts)
    return held


def wait_until(condition: Callable[[], bool], timeout_s: float = 120.0, what: str = "condition") -> None:
    """Poll ``condition`` until it holds; fail the test naming ``what`` after ``timeout_s``.

    The timeout only bounds a test that is going to fail anyway: tests wait for the
    event they need, and a busy machine may take many times longer than an idle one.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")


class EventLog:
    """Every JSON message on ``sitless/v1/+/<kind>``, collected by a real subscriber."""

    def __init__(self, broker: BrokerAddress, kind: Kind) -> None:
        self.messages: list[dict[str, object]] = []
        self._lock = threading.Lock()
        self.client = make_client(f"e2e-{kind}-listener")
        self.client.on_connect = lambda c, u, f, r, p: c.subscribe(subscription(kind), qos=1)
        self.client.on_message = self._on_message
        connect(self.client, broker)

    def _on_message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(json.loads(msg.payload))

    def of_kind(self, kind: str) -> list[dict[str, object]]:
        """The messages whose ``kind`` field is ``kind``."""
        with self._lock:
            return [m for m in self.messages if m.get("kind") == kind]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def missing(what: str, require_env: str, hint: str) -> None:
    """A part a test needs is absent: fail where ``require_env=1`` (CI), otherwise skip.

    Args:
        what: What is missing, for the message.
        require_env: The environment variable that makes the part required.
        hint: How to get it.
    """
    if os.environ.get(require_env) == "1":
        pytest.fail(f"{what} is required here ({require_env}=1) but missing: {hint}")
    pytest.skip(f"{what} not available: {hint}")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_test_ca(folder: Path) -> TlsFiles:
    """A throwaway CA and a certificate it signed for 127.0.0.1 (valid 2 days), made with openssl in ``folder``.

    Skips where openssl is absent, unless ``SITLESS_REQUIRE_MOSQUITTO=1`` (which needs it
    for the TLS tests) turns the skip into a failure.

    Returns:
        The certificate, its key and the CA, as a broker's listener takes them.
    """
    if shutil.which("openssl") is None:
        missing("openssl", "SITLESS_REQUIRE_MOSQUITTO", "apt-get install openssl")
    d = folder
    d.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
             "-days", "2", "-subj", "/CN=sitless test CA", cwd=d)  # fmt: skip
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
             "-subj", "/CN=127.0.0.1", cwd=d)  # fmt: skip
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n", encoding="utf-8")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "server.pem", "-days", "2", "-extfile", "san.ext", cwd=d)  # fmt: skip
    return TlsFiles(d / "server.pem", d / "server.key", d / "ca.pem")


class FullDisk:
    """Makes every SQLite store this process writes report "database or disk is full", as a full disk does.

    While :attr:`full`, each statement on a SQLite connection first sets the connection's
    ``PRAGMA max_page_count`` to the pages the database has (SQLite does not let it go
    lower): a write that needs no new page succeeds, as it does on a real full disk, and
    one that needs a page fails with SQLITE_FULL. :meth:`free` gives the space back; each
    connection's limit is raised again before its next statement. No root and no small
    file system needed, and the services run their real code on their own connections.
    """

    #: SQLite's largest page count (the limit with space to spare).
    ROOMY = 4294967294

    def __init__(self) -> None:
        self.full = False
        sa.event.listen(sa.Engine, "before_cursor_execute", self._limit)

    def _limit(self, conn: sa.Connection, *_: object) -> None:
        if conn.dialect.name != "sqlite":
            return
        pages = 1 if self.full else self.ROOMY
        conn.connection.driver_connection.execute(f"PRAGMA max_page_count = {pages}")  # type: ignore[union-attr]

    def fill(self) -> None:
        """The disk is full from the next statement on."""
        self.full = True

    def free(self) -> None:
        """Space is back from the next statement on."""
        self.full = False

    def close(self) -> None:
        """Stop limiting the stores."""
        sa.event.remove(sa.Engine, "before_cursor_execute", self._limit)
