"""``sitless demo`` as a newcomer runs it: one command, an alert on the console, a clean stop."""

from __future__ import annotations

import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from ingest.broker import free_port
from ingest.broker_setup import Logins, write_logins
from ingest.mqtt import BrokerAddress, connect, make_client
from ingest.topics import Kind, subscription, topic

pytestmark = pytest.mark.e2e
ALERT_WAIT_S = 300.0


def test_demo_serves_the_dashboard_logs_an_alert_and_stops_cleanly(tmp_path: Path) -> None:
    """At 600x the first sit-too-long alert comes within seconds; Ctrl-C stops every part.

    Every part logs in with its own login: a client without one is refused, and the
    read-only login the demo points to reads the events and can publish nothing. A
    second demo started in the same folder is refused at once and leaves the first's
    store alone.
    """
    port, broker = free_port(), BrokerAddress("127.0.0.1", free_port())
    cmd = [sys.executable, "-m", "ingest.cli", "demo", "--no-browser", "--speed", "600", "--port", str(port)]
    cmd += ["--broker-port", str(broker.port)]  # and the demo's own store, var/demo.sqlite

    def while_running(lines: list[str]) -> None:
        _logins_hold(broker, tmp_path, lines)
        _a_second_demo_is_refused(proc.pid, tmp_path)

    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path) as proc:
        status = _run_until_alert(proc, port, while_running)
    assert status == 0
    time.sleep(0.5)
    with pytest.raises(urllib.error.URLError):  # the dashboard went away with the demo
        urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)


def _a_second_demo_is_refused(first_pid: int, cwd: Path) -> None:
    """A second demo in the folder of a running one fails at once, naming it, and leaves its store as it is."""
    store = cwd / "var" / "demo.sqlite"
    before = store.stat().st_ino
    cmd = [sys.executable, "-m", "ingest.cli", "demo", "--no-browser", "--port", str(free_port())]
    cmd += ["--broker-port", str(free_port())]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=60, check=False)
    assert done.returncode == 1
    assert done.stderr == (
        f"sitless demo: another sitless demo (pid {first_pid}) runs in this folder; stop it or run this one elsewhere\n"
    )
    assert done.stdout == ""
    assert store.stat().st_ino == before


def _logins_hold(broker: BrokerAddress, cwd: Path, lines: list[str]) -> None:
    """The demo's broker refuses a client without a login; its reader login reads events and publishes nothing."""
    logins = Logins(cwd / "var" / "broker" / "logins")
    reader_line = next(line for line in lines if "mosquitto_sub" in line)
    assert f'-u reader -P "$(cat {logins.secret("reader")})"' in reader_line
    assert all(path.stat().st_mode & 0o077 == 0 for path in [logins.passwd, *logins.folder.glob("secrets/*")])
    intruder = make_client("intruder")  # its client id as user name, no password
    with pytest.raises(ConnectionError, match="refused the login"):
        connect(intruder, broker, timeout_s=10, fail_if_refused=True)
    got: queue.Queue[bytes] = queue.Queue()
    subscribed = threading.Event()
    reader = make_client("test-reader")
    reader.on_subscribe = lambda *_: subscribed.set()
    reader.on_message = lambda _c, _u, msg: got.put(bytes(msg.payload))
    connect(reader, logins.address(broker, "reader"), timeout_s=10, fail_if_refused=True)
    worker = make_client("test-worker")
    connect(worker, logins.address(broker, "worker"), timeout_s=10, fail_if_refused=True)
    try:
        reader.subscribe(subscription(Kind.EVENT), qos=1)
        assert subscribed.wait(10)
        reader.publish(topic("sim-01", Kind.EVENT), b"forged", qos=1).wait_for_publish(timeout=10)
        # A later event from the worker's login marks the point by which a forged one would have come.
        worker.publish(topic("test-marker", Kind.EVENT), b"marker", qos=1).wait_for_publish(timeout=10)
        seen = [got.get(timeout=10)]
        while seen[-1] != b"marker":
            seen.append(got.get(timeout=10))
        assert b"forged" not in seen
    finally:
        for client in (reader, worker):
            client.disconnect()
            client.loop_stop()


def _run_until_alert(
    proc: subprocess.Popen[str], port: int, while_running: Callable[[list[str]], None] | None = None
) -> int:
    """Wait for the alert line and the dashboard, check ``while_running``, then press Ctrl-C; return the exit status."""
    lines: list[str] = []
    alert = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "sit-too-long" in line:
                alert.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        # The first alert is 3.5 simulated hours in: 21 s at 600x on an idle machine, over
        # a minute when other jobs share the two cores (the wearer then runs behind its
        # clock). The bound only ends a run that will never see it.
        assert alert.wait(ALERT_WAIT_S), "no sit-too-long alert on the console:\n" + "".join(lines)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=5) as response:
            assert response.read() == b"ok"
        assert any(f"http://127.0.0.1:{port}" in line for line in lines)
        if while_running is not None:
            while_running(lines)
    finally:
        proc.send_signal(signal.SIGINT)
        status = proc.wait(60)
        reader.join(5)
    assert status == 0, "".join(lines)
    return status


def test_a_demo_whose_logins_no_longer_match_fails_at_once_with_what_to_do(tmp_path: Path) -> None:
    """A logins folder whose worker password no longer matches the broker's (edited or
    damaged) ends the demo at once with one line saying what to do, not endless retries."""
    folder = tmp_path / "var" / "broker"
    write_logins(folder / "logins")
    Logins(folder / "logins").secret("worker").write_text("not the password\n", encoding="utf-8")
    port, broker_port = free_port(), free_port()
    cmd = [sys.executable, "-m", "ingest.cli", "demo", "--no-browser", "--port", str(port)]
    cmd += ["--broker-port", str(broker_port), "--store", f"sqlite:///{tmp_path / 'demo.sqlite'}"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False)
    assert done.returncode == 1
    assert "refused the login" in done.stderr
    assert "delete that folder" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_a_stop_while_a_service_still_connects_ends_the_demo(tmp_path: Path) -> None:
    """Ctrl-C while the services try to reach a broker that does not answer stops the demo."""
    silent = free_port()  # nothing listens there
    cmd = [sys.executable, "-m", "ingest.cli", "demo", "--no-browser", "--port", str(free_port())]
    cmd += ["--broker", f"mqtt://127.0.0.1:{silent}", "--store", f"sqlite:///{tmp_path / 'demo.sqlite'}"]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "retrying in" in line:  # the recorder is trying to connect
                break
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0


def _demo(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``sitless demo`` in ``cwd`` on free ports (unless ``args`` give ``--port``) to its end: a refusal."""
    cmd = [sys.executable, "-m", "ingest.cli", "demo", "--no-browser", "--broker-port", str(free_port())]
    cmd += args if "--port" in args else [*args, "--port", str(free_port())]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=120, check=False)


def test_a_dashboard_port_another_program_holds_is_refused_at_once(tmp_path: Path) -> None:
    """A silent listener on ``--port`` (Streamlit would exit on it) is named before anything starts."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        done = _demo(tmp_path, "--port", str(port))
    assert done.returncode == 1
    assert done.stderr == (
        f"sitless demo: port {port} (--port) is taken by another program on 127.0.0.1;"
        " stop that program or give the dashboard another --port\n"
    )
    assert "MQTT broker" not in done.stdout  # refused before the broker started
    assert not (tmp_path / "var" / "demo.sqlite").exists()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda cwd: (cwd / "var" / "demo.sqlite").mkdir(parents=True),
            "cannot empty the demo's store: var/demo.sqlite is a folder, not a file",
        ),
        (
            lambda cwd: (cwd / "var").write_text("a file"),
            "cannot make the demo's folder (var): var is a file, not a folder",
        ),
    ],
    ids=["store-is-a-folder", "var-is-a-file"],
)
def test_a_demo_folder_that_cannot_be_used_is_one_line_naming_the_path(
    tmp_path: Path, make: Callable[[Path], None], message: str
) -> None:
    """A folder where the demo's store belongs, or a file where ``var`` belongs: one line, exit 1, no traceback."""
    make(tmp_path)
    done = _demo(tmp_path)
    assert done.returncode == 1
    assert done.stderr == f"sitless demo: {message}\n"
    assert "MQTT broker" not in done.stdout
