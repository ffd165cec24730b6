"""``sitless demo``: the whole pipeline for one simulated wearer, in one command.

Starts the embedded broker (unless ``--broker`` names one: mosquitto when it is
installed, keeping its sessions in ``var/broker/``, amqtt otherwise), the recorder and the
analysis worker, the dashboard, and a simulated wearable playing an office day; prints
the dashboard's address and a line for each sit-too-long alert; stops everything on
Ctrl-C. The demo keeps its own store in ``var/demo.sqlite`` and starts it afresh each
time; a store named with ``--store`` (a URL, as every command takes) is used as it is and
never emptied. One demo runs in a folder at a time (:mod:`ingest.demo_folder`): a second
one started there is refused at once.

The dashboard serves on port 8501, or on a free port if another program holds 8501 (as
the embedded broker takes another port if 1883 is busy); a port given with ``--port``
is used or the demo refuses to start, saying that port is taken.

The embedded broker lets in only its logins (:mod:`ingest.broker`): each part of the
demo logs in as itself, the recorder as ``recorder``, the worker as ``worker``, the
dashboard as ``dashboard`` (its password through ``SITLESS_MQTT_PASSWORD_FILE``, never on
its command line) and the simulated wearable with its device id, each with a random
password kept in ``var/broker/logins/secrets/`` (mode 0600) and reused at the next start.
The demo prints the ``mosquitto_sub`` line that reads the events with the read-only
login ``reader``; a client without a login cannot publish into the demo.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import webbrowser
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import paho.mqtt.client as paho

from analysis import Placement
from ingest.broker import DEFAULT_DATA_DIR, BrokerEngine, BrokerProcess, free_port, port_in_use
from ingest.broker_setup import Logins, add_login, reader_command
from ingest.dashboard_cmd import DEFAULT_PORT as DASHBOARD_PORT
from ingest.dashboard_cmd import HOST as DASHBOARD_HOST
from ingest.dashboard_cmd import dashboard_command, dashboard_url, wait_for_health
from ingest.demo_folder import DEMO_STORE_URL, fresh_store, hold_demo_folder
from ingest.errors import IngestError
from ingest.mqtt import DEFAULT_PORT, PASSWORD_FILE_ENV, BrokerAddress, LoginRefusedError, connect, make_client
from ingest.payloads import parse_event
from ingest.recorder import Recorder, RecorderSettings
from ingest.signals import stop_on_signals
from ingest.store import parse_store_url
from ingest.topics import Kind, parse, subscription
from ingest.worker import Worker, WorkerSettings

__all__ = ["DashboardPortError", "DemoSettings", "register", "run"]

log = logging.getLogger(__name__)


class DashboardPortError(IngestError):
    """The dashboard's port, given with ``--port``, is taken by another program."""


@dataclass(frozen=True, slots=True)
class DemoSettings:
    """What the demo runs.

    Attributes:
        speed: Simulated seconds per wall-clock second (60 plays an hour in a minute).
        placement: Where the simulated sensor is worn.
        scenario: The simulated wearer's script (firmware_sim scenarios).
        device_id: The simulated wearable's id.
        seed: Seed of the simulated motion.
        port: The dashboard's HTTP port, or None for 8501, or a free port if 8501 is taken.
        broker: An external broker to use instead of starting the embedded one.
        broker_port: Port of the embedded broker (a free one is taken if it is busy).
        broker_dir: The embedded broker's data folder (mosquitto's sessions file).
        store_url: The store; the demo's own (:data:`DEMO_STORE_URL`) is emptied at start,
            any other is used as it is.
        open_browser: Open the dashboard in a browser once it answers.
    """

    speed: float = 60.0
    placement: Placement = Placement.THIGH
    scenario: str = "office_morning"
    device_id: str = "sim-01"
    seed: int = 1
    port: int | None = None
    broker: BrokerAddress | None = None
    broker_port: int = DEFAULT_PORT
    broker_dir: Path = DEFAULT_DATA_DIR
    store_url: str = DEMO_STORE_URL
    open_browser: bool = True

    def __post_init__(self) -> None:
        from firmware_sim.scenarios import scenario_names  # the simulator, loaded only by a demo

        if not self.speed > 0:
            raise ValueError(f"speed must be > 0, got {self.speed}")
        if self.scenario not in scenario_names():
            raise ValueError(f"unknown scenario {self.scenario!r}; choose one of {', '.join(scenario_names())}")
        for name, port in (("port", self.port), ("broker_port", self.broker_port)):
            if port is not None and not 0 < port < 65536:
                raise ValueError(f"{name} must be 1..65535, got {port}")


def _say(message: str) -> None:
    print(f"[sitless demo] {message}", flush=True)


def _port_taken(port: int) -> bool:
    """Whether a program listens on ``port`` of the dashboard's host.

    Tried as the dashboard's server binds, with ``SO_REUSEADDR``: a port whose last
    connections still wait out TIME_WAIT (a demo just stopped) is free to it.
    """
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((DASHBOARD_HOST, port))
        except OSError:
            return True
    return False


def _dashboard_port(port: int | None, default: int = DASHBOARD_PORT) -> int:
    """The dashboard's port: ``port`` (given with ``--port``), else ``default``, or a free one if ``default`` is taken.

    Raises:
        DashboardPortError: ``port`` (given with ``--port``) is taken.
    """
    if port is not None:
        if _port_taken(port):
            raise DashboardPortError(
                f"port {port} (--port) is taken by another program on {DASHBOARD_HOST};"
                " stop that program or give the dashboard another --port"
            )
        return port
    if not _port_taken(default):
        return default
    chosen = free_port()
    _say(f"port {default} is busy; the dashboard uses {chosen}")
    return chosen


def _seq_memory(store_url: str, settings: DemoSettings) -> Path:
    """Where the simulated wearer keeps its next sequence number: beside a SQLite store, else in the broker's folder."""
    path = parse_store_url(store_url).path
    folder = settings.broker_dir if path is None else path.parent
    return folder / f"{settings.device_id}.seq.json"


@dataclass(frozen=True, slots=True)
class _Broker:
    """The broker the demo's parts use, and the login of each: the embedded broker's, or none for a given one."""

    address: BrokerAddress
    logins: Logins | None = None

    def login(self, user: str) -> BrokerAddress:
        """Where ``user`` (a service or the wearable's device id) connects, with its login."""
        return self.address if self.logins is None else self.logins.address(self.address, user)

    def environment(self, user: str) -> dict[str, str]:
        """The environment of a child process that logs in as ``user``: its password file."""
        return (
            dict(os.environ)
            if self.logins is None
            else {**os.environ, PASSWORD_FILE_ENV: str(self.logins.secret(user))}
        )


@contextlib.contextmanager
def _broker(settings: DemoSettings) -> Iterator[_Broker]:
    if settings.broker is not None:
        _say(f"MQTT broker: {settings.broker.url}")
        yield _Broker(settings.broker)
        return
    port = settings.broker_port
    if port_in_use(BrokerAddress("127.0.0.1", port)):
        port = free_port()
        _say(f"port {settings.broker_port} is busy; the embedded broker uses {port}")
    broker = BrokerProcess(BrokerAddress("127.0.0.1", port), data_dir=settings.broker_dir)
    assert broker.logins is not None  # the embedded broker is never open here
    add_login(broker.logins, settings.device_id)  # before the start: mosquitto reads the logins once
    with broker:
        if broker.engine is BrokerEngine.MOSQUITTO:
            kept = f"mosquitto, sessions kept in {broker.data_dir}"
        else:
            kept = "amqtt, sessions in memory only: mosquitto is not installed"
        _say(f"MQTT broker: {broker.address.url} (embedded {kept})")
        _say(f"logins: {broker.logins.folder}, one per part of the demo; no anonymous clients")
        secret = broker.logins.secret("reader")
        _say(f"read the events with your own MQTT client: {reader_command('127.0.0.1', port, secret)}")
        yield _Broker(broker.address, broker.logins)


def _alert_line(device_id: str, body: dict[str, object]) -> str:
    from analysis import exercise_by_id

    t_s = float(body["t_s"])  # type: ignore[arg-type]
    since_s = float(body["sitting_since_s"])  # type: ignore[arg-type]
    stretch = exercise_by_id(str(body["stretch_id"]))
    clock = datetime.fromtimestamp(t_s).strftime("%H:%M")
    return (
        f"{clock} sit-too-long: {device_id} has been sitting for {(t_s - since_s) / 60:.0f} min;"
        f" suggested: {stretch.name}"
    )


def _watch_alerts(broker: BrokerAddress) -> paho.Client:
    """Print a console line for each alert the worker publishes."""
    client = make_client(f"sitless-demo-console-{int(time.time())}")

    def on_connect(c: paho.Client, userdata: object, flags: object, reason: object, props: object) -> None:
        c.subscribe(subscription(Kind.EVENT), qos=1)

    def on_message(c: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        try:
            body = parse_event(bytes(msg.payload))
            if body.get("kind") == "alert":
                device_id, _ = parse(msg.topic)
                _say(_alert_line(device_id, body))
        except (IngestError, KeyError, ValueError, TypeError) as err:  # any client can publish events
            log.warning("ignoring an event on %s: %s", msg.topic, err)

    client.on_connect = on_connect
    client.on_message = on_message
    connect(client, broker)
    return client


def _check_logins(broker: _Broker, users: list[str]) -> None:
    """Log in once as each part of the demo, so that a login the broker refuses fails the demo at once.

    The recorder and the worker would fail on it too (``MqttService.connect``), but not
    the dashboard or the simulated wearable, and none of them would say that the demo's
    logins folder no longer matches the broker's (a password file edited or damaged).

    Raises:
        LoginRefusedError: The broker refused a login, saying which and what to do.
        ConnectionError: The broker did not answer (as it says).
    """
    if broker.logins is None:
        return
    for user in users:
        client = make_client(f"sitless-demo-check-{user}-{os.getpid()}")
        try:
            connect(client, broker.login(user), fail_if_refused=True)
        except LoginRefusedError as err:  # a broker that does not answer is not the logins' fault
            raise LoginRefusedError(
                f"{err} (as {user!r}): the logins in {broker.logins.folder} do not work;"
                " delete that folder and start the demo again, which makes new ones"
            ) from err
        client.disconnect()
        client.loop_stop()


def run_demo(settings: DemoSettings, stop: threading.Event) -> int:
    """Run every part of the pipeline until ``stop`` is set; return the exit status.

    Raises:
        DemoFolderError: Another demo runs in this folder, or ``var`` cannot be used.
        DashboardPortError: The dashboard's port, given in ``settings``, is taken.
        StoreError: The store cannot be made ready.
    """
    with hold_demo_folder():
        port = _dashboard_port(settings.port)
        return _run_parts(settings, port, fresh_store(settings.store_url), stop)


def _run_parts(settings: DemoSettings, port: int, store_url: str, stop: threading.Event) -> int:
    """Start the broker, the services, the dashboard on ``port`` and the wearer; run until ``stop`` is set."""
    from firmware_sim.device import Device, DeviceSettings
    from firmware_sim.scenarios import scenario

    with _broker(settings) as broker:
        recorder = Recorder(RecorderSettings(broker.login("recorder"), store_url, client_id="sitless-demo-recorder"))
        worker = Worker(
            WorkerSettings(
                broker.login("worker"), store_url, client_id="sitless-demo-worker", placement=settings.placement
            )
        )
        _check_logins(broker, ["recorder", "worker", "dashboard", "reader", settings.device_id])

        def stop_services() -> None:  # a stop asked while a service still connects ends its tries
            stop.wait()
            recorder.stop()
            worker.stop()

        threading.Thread(target=stop_services, name="demo-stop", daemon=True).start()
        recorder.start()
        worker.start()
        if stop.is_set():
            worker.close()
            recorder.close()
            return 0
        device = Device(  # before the dashboard: a failure here leaves no process behind
            scenario(settings.scenario),
            DeviceSettings(
                device_id=settings.device_id,
                broker=broker.login(settings.device_id),
                placement=settings.placement,
                speed=settings.speed,
                seed=settings.seed,
                loop=True,
                seq_memory=_seq_memory(store_url, settings),
            ),
        )
        console = _watch_alerts(broker.login("reader"))
        # Children get their own session: Ctrl-C reaches the demo alone, which stops them in order.
        dashboard = subprocess.Popen(
            dashboard_command(store_url, broker.login("dashboard").url, port, settings.device_id),
            start_new_session=True,
            env=broker.environment("dashboard"),
        )
        wearer = threading.Thread(target=device.run, name="simulated-wearer", daemon=True)
        try:
            url = dashboard_url(port)
            if wait_for_health(url, timeout_s=30, proc=dashboard):
                _say(f"dashboard: {url}")
                if settings.open_browser:
                    webbrowser.open(url)
            elif dashboard.poll() is not None:  # its reason is in its log, above
                _say(f"the dashboard exited with status {dashboard.returncode}; see its log above")
                return 1
            else:
                _say(f"the dashboard did not answer at {url}; see its log above")
            wearer.start()
            _say(
                f"simulated wearer {settings.device_id} ({settings.placement}) plays '{settings.scenario}'"
                f" at {settings.speed:g}x; Ctrl-C stops"
            )
            while not stop.wait(0.5):
                if dashboard.poll() is not None:
                    _say(f"the dashboard exited with status {dashboard.returncode}")
                    return 1
            return 0
        finally:
            _say("stopping")
            device.stop()
            if wearer.is_alive():
                wearer.join(10)
            dashboard.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                dashboard.wait(10)
            worker.close()
            recorder.close()
            console.disconnect()
            console.loop_stop()


def _port(text: str) -> int:
    """The type of ``--port`` and ``--broker-port``: a TCP port, 1..65535.

    Raises:
        argparse.ArgumentTypeError: Not a whole number, or outside 1..65535.
    """
    with contextlib.suppress(ValueError):
        if 0 < (port := int(text)) < 65536:
            return port
    raise argparse.ArgumentTypeError(f"not a port: {text!r} (use 1..65535)")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``demo`` subcommand."""
    p = sub.add_parser("demo", help="run everything for one simulated wearer: broker, analysis, dashboard")
    p.add_argument("--speed", type=float, default=60.0, help="simulated seconds per second (default 60)")
    p.add_argument("--placement", choices=[str(p) for p in Placement], default="thigh", help="sensor placement")
    p.add_argument("--scenario", default="office_morning", help="simulated day (office_morning, quick, ...)")
    p.add_argument("--device", default="sim-01", help="simulated wearable id")
    p.add_argument("--seed", type=int, default=1, help="seed of the simulated motion")
    p.add_argument(
        "--port", type=_port, help=f"dashboard HTTP port (default {DASHBOARD_PORT}, or a free one if that is busy)"
    )
    p.add_argument("--broker", help="use this MQTT broker (mqtt://host:port) instead of the embedded one")
    p.add_argument(
        "--broker-port", type=_port, default=DEFAULT_PORT, help="embedded broker port (default 1883, or a free one)"
    )
    p.add_argument(
        "--broker-dir", type=Path, default=DEFAULT_DATA_DIR, help=f"embedded broker's data folder ({DEFAULT_DATA_DIR})"
    )
    p.add_argument(
        "--store",
        default=DEMO_STORE_URL,
        help=f"store URL (default {DEMO_STORE_URL}, the demo's own, emptied at start; another is kept as it is)",
    )
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo until Ctrl-C or SIGTERM; settings it cannot run with are one line and exit status 2."""
    try:
        settings = DemoSettings(
            speed=args.speed,
            placement=Placement(args.placement),
            scenario=args.scenario,
            device_id=args.device,
            seed=args.seed,
            port=args.port,
            broker=BrokerAddress.parse(args.broker) if args.broker else None,
            broker_port=args.broker_port,
            broker_dir=args.broker_dir,
            store_url=args.store,
            open_browser=not args.no_browser,
        )
    except ValueError as err:
        print(f"sitless demo: {err}", file=sys.stderr)
        return 2
    stop = threading.Event()
    with stop_on_signals(stop.set):
        return run_demo(settings, stop)
