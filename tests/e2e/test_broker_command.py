"""``sitless broker --tls-cert --tls-key --tls-ca`` as a user starts it, on each engine.

The real command in its own process, with the test CA (``test_tls``): a client that
trusts the CA logs in over ``mqtts://`` and what one service publishes another receives;
a client without the CA, and one speaking plain MQTT to the TLS port, get nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import queue
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.broker import LOGINS_DIR, BrokerEngine
from ingest.broker_setup import Logins, TlsFiles
from ingest.mosquitto import find_mosquitto
from ingest.mqtt import BrokerAddress, connect, make_client
from ingest.topics import Kind, subscription, topic
from tests.support import free_port, missing

pytestmark = pytest.mark.e2e

DEVICE = "desk-07"


@dataclasses.dataclass(frozen=True, slots=True)
class Running:
    """A ``sitless broker`` process, where it listens (as it printed it) and its logins."""

    process: subprocess.Popen[str]
    address: BrokerAddress
    logins: Logins


@pytest.fixture(params=[BrokerEngine.AMQTT, BrokerEngine.MOSQUITTO])
def tls_command(request: pytest.FixtureRequest, tmp_path: Path, test_tls: TlsFiles) -> Iterator[Running]:
    """``sitless broker --engine ENGINE --tls-cert --tls-key --tls-ca`` on a free port, stopped with SIGTERM."""
    engine: BrokerEngine = request.param
    if engine is BrokerEngine.MOSQUITTO and find_mosquitto() is None:
        missing("mosquitto", "SITLESS_REQUIRE_MOSQUITTO", "apt-get install mosquitto")
    port = free_port()
    cmd = [sys.executable, "-m", "ingest.cli", "broker", "--engine", str(engine), "--port", str(port)]
    cmd += ["--data-dir", str(tmp_path / "broker")]
    cmd += ["--tls-cert", str(test_tls.certfile), "--tls-key", str(test_tls.keyfile), "--tls-ca", str(test_tls.cafile)]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            first = process.stdout.readline()  # printed once the broker answers
            found = re.search(rf"sitless broker: {engine} on (mqtts://\S+?)[,;]", first)
            assert found, f"no mqtts:// address in {first!r}"
            address = dataclasses.replace(BrokerAddress.parse(found[1]), ca_file=str(test_tls.cafile))
            assert (address.host, address.port, address.tls) == ("127.0.0.1", port, True)
            yield Running(process, address, Logins(tmp_path / "broker" / LOGINS_DIR))
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(30) == 0


class Listener:
    """A client logged in as ``reader``, subscribed to every device's events."""

    def __init__(self, address: BrokerAddress) -> None:
        self.heard: queue.Queue[dict[str, object]] = queue.Queue()
        self.granted: queue.Queue[object] = queue.Queue()
        self.client = make_client("e2e-reader", clean_session=True, mqtt5=address.mqtt5)
        self.client.on_connect = lambda c, u, f, r, p: c.subscribe(subscription(Kind.EVENT), qos=1)
        self.client.on_subscribe = lambda c, u, mid, reasons, p: self.granted.put(reasons)
        self.client.on_message = lambda c, u, msg: self.heard.put(json.loads(msg.payload))
        connect(self.client, address)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_a_client_with_the_ca_and_a_login_publishes_and_receives_over_mqtts(tls_command: Running) -> None:
    """The worker's login publishes an event over TLS; the reader's login receives it."""
    listener = Listener(tls_command.logins.address(tls_command.address, "reader"))
    worker = make_client("e2e-worker-tls", mqtt5=tls_command.address.mqtt5)
    try:
        listener.granted.get(timeout=30)  # subscribed: what is published from here on reaches it
        connect(worker, tls_command.logins.address(tls_command.address, "worker"))
        event = {"kind": "alert", "t_s": 1.7e9, "alert": "sit_too_long"}
        worker.publish(topic(DEVICE, Kind.EVENT), json.dumps(event), qos=1).wait_for_publish(30)
        assert listener.heard.get(timeout=30) == event
    finally:
        worker.disconnect()
        worker.loop_stop()
        listener.close()


# paho 2.2 leaves the socket of a TLS handshake that fails to the garbage collector
# (paho/mqtt/client.py, Client._ssl_wrap_socket): a ResourceWarning.
@pytest.mark.filterwarnings("ignore:Exception ignored in. <ssl.SSLSocket:pytest.PytestUnraisableExceptionWarning")
def test_a_client_without_the_ca_is_refused(tls_command: Running) -> None:
    """A client that does not trust the test CA (the system's CAs only) fails the TLS handshake."""
    untrusting = dataclasses.replace(tls_command.address, ca_file=None)
    client = make_client("e2e-no-ca", mqtt5=untrusting.mqtt5)
    with pytest.raises(ConnectionError, match="certificate verify failed"):
        connect(client, tls_command.logins.address(untrusting, "worker"), fail_if_refused=True)


def _plain_connect(client_id: str) -> bytes:
    """An MQTT 3.1.1 CONNECT packet (clean session, 60-s keep-alive), as a client without TLS sends it."""
    ident = client_id.encode()
    body = b"\x00\x04MQTT\x04\x02\x00\x3c" + len(ident).to_bytes(2, "big") + ident
    return bytes([0x10, len(body)]) + body


def test_plain_mqtt_to_the_tls_port_gets_no_connack(tls_command: Running) -> None:
    """A CONNECT in clear text to the TLS listener is never answered with a CONNACK: the
    broker ends the connection (closes or resets it, at most after a TLS alert)."""
    answer = b""
    with socket.create_connection((tls_command.address.host, tls_command.address.port), timeout=30) as sock:
        sock.sendall(_plain_connect("e2e-plain"))
        with contextlib.suppress(ConnectionResetError):  # mosquitto resets it
            while chunk := sock.recv(4096):  # until the broker hangs up (the timeout fails the test)
                answer += chunk
    assert not answer.startswith(b"\x20"), f"a CONNACK in clear text: {answer!r}"
    assert answer == b"" or answer[0] == 0x15, f"neither nothing nor a TLS alert: {answer!r}"


def test_a_login_with_a_wrong_password_is_refused_over_mqtts(tls_command: Running) -> None:
    """TLS does not stand in for the login: the right CA with a wrong password is refused."""
    address = dataclasses.replace(tls_command.address, username="worker", password="not-the-password")
    client = make_client("e2e-wrong-password", mqtt5=address.mqtt5)
    with pytest.raises(ConnectionError):
        connect(client, address, fail_if_refused=True)
    assert not client.is_connected()


def _command(port: int, data_dir: Path, *more: str) -> list[str]:
    return [sys.executable, "-m", "ingest.cli", "broker", "--port", str(port), "--data-dir", str(data_dir), *more]


@pytest.mark.parametrize("engine", [BrokerEngine.AMQTT, BrokerEngine.MOSQUITTO])
def test_the_command_on_ipv6_prints_urls_that_work(tmp_path: Path, engine: BrokerEngine) -> None:
    """``sitless broker --host ::1`` prints ``[::1]`` URLs; the worker's, with its password file, logs in."""
    if engine is BrokerEngine.MOSQUITTO and find_mosquitto() is None:
        missing("mosquitto", "SITLESS_REQUIRE_MOSQUITTO", "apt-get install mosquitto")
    with socket.socket(socket.AF_INET6) as s:
        try:
            s.bind(("::1", 0))
        except OSError:
            pytest.skip("this machine has no IPv6 loopback (::1)")
    port = free_port("::1")
    cmd = _command(port, tmp_path / "broker", "--host", "::1", "--engine", str(engine))
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            lines = [process.stdout.readline() for _ in range(3)]  # the address, the logins, a service's line
            found = re.search(r"SITLESS_MQTT_PASSWORD_FILE=(\S+) sitless worker --broker '?(mqtt://\S+?)'?\s", lines[2])
            assert found, f"no worker line in {lines!r}"
            address = BrokerAddress.parse(found[2], {"SITLESS_MQTT_PASSWORD_FILE": found[1]})
            assert (address.host, address.port, address.username) == ("::1", port, "worker")
            client = make_client("e2e-worker-ipv6", mqtt5=address.mqtt5, username="worker")
            connect(client, address, fail_if_refused=True)
            client.disconnect()
            client.loop_stop()
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(30) == 0


def test_the_command_on_a_port_another_program_holds_fails_in_one_line(tmp_path: Path) -> None:
    """The broker exits on the taken port; the command says so on one line, exits 1 and leaves no broker behind."""
    port = free_port()
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        command = _command(port, tmp_path / "broker")
        done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("sitless broker: embedded MQTT broker")
    assert "exited with status" in done.stderr
    with socket.socket() as again:  # no broker of this run holds the port now
        again.bind(("127.0.0.1", port))
