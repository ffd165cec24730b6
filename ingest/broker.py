"""The embedded MQTT broker: mosquitto when it is installed, amqtt otherwise.

:class:`BrokerProcess` runs the broker as a child process, which ``sitless demo`` and
``sitless broker`` use. With ``engine="auto"`` it runs mosquitto when it is installed,
with a configuration sitless writes itself (:mod:`ingest.mosquitto`): sessions and
their queued QoS 1 messages are written to a file in the data folder and survive a
broker restart, and messages in flight to a client whose connection drops are
delivered again when it comes back. Without mosquitto it falls back to amqtt 0.12, in
a process of its own with a minimal plugin list (STACK.md: ~4.5k QoS 1 messages/s,
a third of that in the same process as its clients). amqtt keeps sessions in memory
only, so they do not survive a broker restart; the fallback says so once, as a warning.
Within a broker's run it keeps a QoS 1 message in flight until the client acknowledges
it, and sends it again when the client comes back with its session
(:class:`ingest.amqtt_auth.PatientProtocolHandler`). For many
wearers and shared subscriptions point the services at mosquitto or another MQTT 5
broker with ``--broker mqtt://host:port`` instead.

Either engine lets in only the logins kept in ``<data folder>/logins``
(:class:`ingest.broker_setup.Logins`, made at the first start and kept afterwards) and
holds each to its topics: mosquitto through its password and ACL files, amqtt through
the plugins of :mod:`ingest.amqtt_auth`. A wearable logs in with its device id. Only
tests that need an open broker ask for one (``open_access=True``, or ``sitless broker
--anonymous``). Given a certificate, its key and their CA (``tls=TlsFiles(...)``, or
``sitless broker --tls-cert --tls-key --tls-ca``) either engine speaks TLS on its
listener, and the clients connect with ``mqtts://`` and the CA file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import random
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from ingest.broker_setup import (
    SERVICE_USERS,
    Logins,
    TlsFiles,
    folder_error,
    reader_command,
    write_broker_setup,
    write_logins,
)
from ingest.errors import BrokerFolderError, IngestError
from ingest.mosquitto import config_path, find_mosquitto, log_path, mosquitto_config
from ingest.mqtt import DEFAULT_PORT, BrokerAddress, connect, make_client, url_host

__all__ = [
    "DEFAULT_DATA_DIR",
    "LOGINS_DIR",
    "BrokerEngine",
    "BrokerProcess",
    "broker_config",
    "free_port",
    "port_in_use",
    "register",
    "resolve_engine",
    "run",
    "serve",
    "wait_for_broker",
    "wait_for_port",
]

log = logging.getLogger(__name__)

DEFAULT_DATA_DIR = Path("var/broker")
#: The folder of the embedded broker's logins, inside its data folder.
LOGINS_DIR = "logins"
#: The login the embedded broker is probed with: the one that may do least.
_PROBE_USER = "reader"


class BrokerEngine(StrEnum):
    """Which MQTT broker the embedded broker runs.

    Attributes:
        AUTO: mosquitto when it is installed, amqtt otherwise.
        MOSQUITTO: mosquitto, with sessions kept in the data folder.
        AMQTT: amqtt, with sessions kept in memory only.
    """

    AUTO = "auto"
    MOSQUITTO = "mosquitto"
    AMQTT = "amqtt"


def resolve_engine(engine: BrokerEngine | str) -> BrokerEngine:
    """The engine that runs for a requested one: ``auto`` becomes mosquitto or amqtt.

    Falling back to amqtt is logged as a warning, saying what the fallback does not keep.

    Args:
        engine: The requested engine.

    Returns:
        :attr:`BrokerEngine.MOSQUITTO` or :attr:`BrokerEngine.AMQTT`.

    Raises:
        ValueError: ``engine`` names no engine.
        RuntimeError: mosquitto was asked for and is not installed.
    """
    engine = BrokerEngine(engine)
    installed = find_mosquitto() is not None
    if engine is BrokerEngine.MOSQUITTO and not installed:
        raise RuntimeError("mosquitto is not installed (apt-get install mosquitto)")
    if engine is BrokerEngine.AUTO:
        if installed:
            return BrokerEngine.MOSQUITTO
        log.warning(
            "mosquitto is not installed: the embedded broker falls back to amqtt, whose sessions do not"
            " survive a broker restart; install mosquitto (apt-get install mosquitto) to keep them"
        )
        return BrokerEngine.AMQTT
    return engine


def broker_config(host: str, port: int, logins: Path | None = None, tls: TlsFiles | None = None) -> dict[str, Any]:
    """Amqtt configuration: one TCP listener (TLS with ``tls``), logins and ACLs, no logging or $SYS plugins.

    With ``logins`` (a :class:`ingest.broker_setup.Logins` folder) only its logins get in,
    each held to its topics (:mod:`ingest.amqtt_auth`). Without, any client that gives a
    user name (and any password) gets in: amqtt keeps the session of a
    ``clean_session=False`` client across reconnects, with its subscriptions and queued
    QoS 1 messages, only when the client is not anonymous (amqtt 0.12.1,
    ``Broker._session_monitor``), and that session is what lets a recorder or worker
    restart without losing a packet.
    """
    plugins: dict[str, dict[str, Any]] = (
        {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": False}}
        if logins is None
        else {
            "ingest.amqtt_auth.PasswordFilePlugin": {"logins": str(logins)},
            "ingest.amqtt_auth.AclPlugin": {},
        }
    )
    listener: dict[str, Any] = {"type": "tcp", "bind": f"{host}:{port}", "max_connections": 1000}
    if tls is not None:  # amqtt 0.12.1: ListenerConfig's ssl, certfile, keyfile and cafile
        listener |= {"ssl": True, "certfile": str(tls.certfile), "keyfile": str(tls.keyfile), "cafile": str(tls.cafile)}
    return {"listeners": {"default": listener}, "plugins": plugins}


def serve(address: BrokerAddress, logins: Path | None = None, tls: TlsFiles | None = None) -> None:
    """Run amqtt in this process until SIGINT or SIGTERM (``logins`` and ``tls``: :func:`broker_config`)."""
    from ingest.amqtt_auth import SitlessBroker  # imported here: only the broker process needs amqtt

    for noisy in ("transitions", "amqtt"):  # per-connection chatter at INFO
        logging.getLogger(noisy).setLevel(logging.WARNING)

    async def _main() -> None:
        broker = SitlessBroker(broker_config(address.host, address.port, logins, tls))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        quiet_start = logging.getLogger("amqtt.broker")
        quiet_start.setLevel(logging.CRITICAL)  # a failed start logs a traceback; its error is said once, by the caller
        try:
            await broker.start()
        finally:
            quiet_start.setLevel(logging.NOTSET)
        log.info("MQTT broker listening on %s", address.url)
        await stop.wait()
        await broker.shutdown()

    asyncio.run(_main())


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
    """Whether something already listens on the address's port."""
    with socket.socket(_family(address.host)) as s:
        try:
            s.bind((address.host, address.port))
        except OSError:
            return True
    return False


class BrokerProcess:
    """The embedded broker in a child process, started and stopped as a context manager.

    A second :class:`BrokerProcess` on the same port and data folder after a
    :meth:`stop` goes on with the sessions the first one kept (mosquitto only): the
    subscriptions and queued QoS 1 messages of ``clean_session=False`` clients, and
    retained messages.

    Args:
        address: Where it listens.
        engine: Which broker runs (:func:`resolve_engine`; the resolved one is in
            :attr:`engine`).
        data_dir: The broker's folder: its logins (:data:`LOGINS_DIR`), and mosquitto's
            configuration, log and sessions file, one of each per port
            (:mod:`ingest.mosquitto`). amqtt keeps nothing else there.
        startup_timeout_s: How long to wait for the broker to answer.
        stop_timeout_s: How long :meth:`stop` waits for the broker to save and exit
            before killing it.
        open_access: Let any client in, with no ACLs (tests that need an open broker);
            by default only the logins of :attr:`logins` get in.
        tls: The listener's certificate, key and CA: the broker then speaks only TLS,
            and :attr:`address` (and every :meth:`login`) says ``mqtts`` with that CA.

    Raises:
        RuntimeError: mosquitto was asked for and is not installed.
        BrokerFolderError: ``data_dir`` is a file, or its logins cannot be read or written.
    """

    def __init__(
        self,
        address: BrokerAddress,
        *,
        engine: BrokerEngine | str = BrokerEngine.AUTO,
        data_dir: Path = DEFAULT_DATA_DIR,
        startup_timeout_s: float = 15.0,
        stop_timeout_s: float = 30.0,
        open_access: bool = False,
        tls: TlsFiles | None = None,
    ) -> None:
        if tls is not None:
            address = BrokerAddress(address.host, address.port, tls=True, ca_file=str(tls.cafile.resolve()))
        self.tls = tls
        self.engine = resolve_engine(engine)
        # amqtt refuses MQTT 5: its address tells the services to speak 3.1.1 to it.
        self.address = address if self.engine is BrokerEngine.MOSQUITTO else address.speaking_3_1_1()
        self.data_dir = data_dir
        if data_dir.exists() and not data_dir.is_dir():
            raise BrokerFolderError(f"the broker's data folder {data_dir} is a file: name a folder (made if missing)")
        #: The logins it lets in (made in the data folder if missing); None: anyone.
        self.logins: Logins | None = None if open_access else write_logins(data_dir / LOGINS_DIR)
        self._timeout_s = startup_timeout_s
        self._stop_timeout_s = stop_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the broker and wait until it answers an MQTT connection.

        Raises:
            RuntimeError: It is running already, or it exited or did not answer in time.
            BrokerFolderError: Its data folder cannot be written.
        """
        if self.running:
            raise RuntimeError(f"the embedded MQTT broker on {self.address.url} is running already")
        # Its own session: a Ctrl-C meant for the parent must not stop the broker first.
        try:
            if self.engine is BrokerEngine.MOSQUITTO:
                cmd = self._write_mosquitto_config()
                with log_path(self.data_dir, self.address.port).open("wb") as out:
                    self._proc = subprocess.Popen(cmd, stdout=out, stderr=out, start_new_session=True)
            else:
                host, port = self.address.host, str(self.address.port)
                cmd = [sys.executable, "-m", "ingest.broker", "--host", host, "--port", port]
                if self.logins is not None:
                    cmd += ["--logins", str(self.logins.folder)]
                if self.tls is not None:
                    cmd += ["--tls-cert", str(self.tls.certfile), "--tls-key", str(self.tls.keyfile)]
                    cmd += ["--tls-ca", str(self.tls.cafile)]
                self._proc = subprocess.Popen(cmd, start_new_session=True)
        except OSError as err:
            raise folder_error(self.data_dir, err, "data folder") from err
        try:  # whatever fails from here on, the broker must not outlive this call
            self._wait_until_it_answers()
        except BaseException:
            self.stop()
            raise
        log.info("%s listening on %s", self.engine, self.address.url)

    def _wait_until_it_answers(self) -> None:
        """Wait for the started broker to answer an MQTT connection; stop waiting as soon as it exits.

        Raises:
            RuntimeError: It exited, or did not answer within the start-up timeout.
        """
        proc = self._proc
        assert proc is not None

        def alive() -> bool:
            return proc.poll() is None

        deadline = time.monotonic() + self._timeout_s
        # A bare TCP probe first spares paho's 1-s reconnect delay; amqtt would log it as an error.
        port_open = self.engine is BrokerEngine.AMQTT or wait_for_port(self.address, self._timeout_s, alive=alive)
        probe = self.login(_PROBE_USER)
        answered = port_open and wait_for_broker(probe, max(1.0, deadline - time.monotonic()), alive=alive)
        if not answered or not alive():
            status = proc.poll()
            if status is None:
                self.stop()
                why = "did not answer in time"
            else:
                self._proc = None  # exited already: nothing to stop, and its log is quoted below
                why = f"exited with status {status}"
            said = self._log_errors()
            raise RuntimeError(
                f"embedded MQTT broker ({self.engine}) did not start on {self.address.url}: it {why}"
                + (f": {said}" if said else self._log_tail())
            )

    def _write_mosquitto_config(self) -> list[str]:
        """Write mosquitto's configuration into the data folder; return its command line."""
        mosquitto = find_mosquitto()
        if mosquitto is None:
            raise RuntimeError("mosquitto is not installed (apt-get install mosquitto)")
        data_dir = self.data_dir.resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        conf = config_path(data_dir, self.address.port)
        text = mosquitto_config(self.address, data_dir, run_as_root=os.geteuid() == 0, logins=self.logins, tls=self.tls)
        conf.write_text(text)
        return [str(mosquitto), "-c", str(conf)]

    def login(self, user: str) -> BrokerAddress:
        """The broker's address with ``user``'s login; an open broker's address as it is.

        ``user`` is a service (:data:`ingest.broker_setup.SERVICE_USERS`) or a device id
        given a login with :func:`ingest.broker_setup.add_login`.
        """
        return self.address if self.logins is None else self.logins.address(self.address, user)

    def _log_errors(self) -> str:
        """The ``Error:`` lines of mosquitto's log, on one line with the log's path; empty when it has none.

        ``Error: Address already in use`` says at once that another program holds the port.
        """
        if self.engine is not BrokerEngine.MOSQUITTO:
            return ""  # amqtt logs to the parent's stderr
        path = log_path(self.data_dir, self.address.port)
        with contextlib.suppress(OSError):
            lines = path.read_text(errors="replace").splitlines()
            said = [line.partition("Error: ")[2].strip() for line in lines if "Error: " in line]
            if said:
                return f"{'; '.join(said[-3:])} (its log: {path})"
        return ""

    def _log_tail(self, lines: int = 5) -> str:
        if self.engine is not BrokerEngine.MOSQUITTO:
            return ""  # amqtt logs to the parent's stderr
        path = log_path(self.data_dir, self.address.port)
        with contextlib.suppress(OSError):
            tail = path.read_text(errors="replace").strip().splitlines()[-lines:]
            if tail:
                return f"; its log ({path}) ends:\n" + "\n".join(tail)
        return ""

    @property
    def running(self) -> bool:
        """Whether the broker process started by :meth:`start` is alive."""
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> None:
        """Stop the broker with SIGTERM, which makes mosquitto save its sessions first.

        A broker still running after ``stop_timeout_s`` is killed (SIGKILL).
        """
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(self._stop_timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("the embedded MQTT broker did not exit within %.0f s: killing it", self._stop_timeout_s)
                self._proc.kill()
                self._proc.wait()
        if self._proc.returncode not in (0, -signal.SIGTERM, -signal.SIGKILL):
            log.warning("the embedded MQTT broker exited with status %d%s", self._proc.returncode, self._log_tail())
        self._proc = None

    def kill(self) -> None:
        """Kill the broker outright (SIGKILL), as a crash or power cut would.

        mosquitto then saves nothing: a broker started again on the same data folder
        goes on from its last autosave (:data:`ingest.mosquitto.AUTOSAVE_INTERVAL_S`).
        """
        if self._proc is None:
            return
        if self._proc.poll() is None:
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
    p = sub.add_parser("broker", help="run the embedded MQTT broker (mosquitto when installed, else amqtt)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    p.add_argument(
        "--engine",
        choices=[str(e) for e in BrokerEngine],
        default=str(BrokerEngine.AUTO),
        help="broker to run: mosquitto when installed, else amqtt (auto, the default), or either",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help=f"folder of the broker's logins ({LOGINS_DIR}/) and of mosquitto's sessions (default {DEFAULT_DATA_DIR})",
    )
    p.add_argument(
        "--anonymous",
        action="store_true",
        help="let any client in, with no logins or ACLs (only on a machine no one else uses)",
    )
    tls = p.add_argument_group(
        "TLS", "Speak TLS (mqtts://) with this certificate: all three are needed, here and with --mosquitto-config."
    )
    tls.add_argument("--tls-cert", type=Path, metavar="PEM", help="the broker's certificate (with --tls-key)")
    tls.add_argument("--tls-key", type=Path, metavar="PEM", help="its private key")
    tls.add_argument("--tls-ca", type=Path, metavar="PEM", help="the CA that signed it (clients verify with it)")
    setup = p.add_argument_group(
        "a mosquitto of your own",
        "Write a mosquitto configuration with logins, per-device ACLs and TLS into DIR, "
        "print how to use it, and exit (ingest/broker_setup.py).",
    )
    setup.add_argument("--mosquitto-config", type=Path, metavar="DIR", help="write the configuration into DIR")
    setup.add_argument("--force", action="store_true", help="replace a configuration already in DIR")
    p.set_defaults(func=run)


def _tls_files(args: argparse.Namespace) -> TlsFiles | None:
    """The TLS files given on the command line; None when none is.

    Raises:
        ValueError: Only some of the three are given.
    """
    given = [args.tls_cert, args.tls_key, args.tls_ca]
    if any(given) and not all(given):
        raise ValueError("TLS needs all three of --tls-cert, --tls-key and --tls-ca")
    return TlsFiles(args.tls_cert, args.tls_key, args.tls_ca) if all(given) else None


def _write_setup(args: argparse.Namespace, tls: TlsFiles | None) -> int:
    """``--mosquitto-config DIR``: write the secured configuration and say how to use it."""
    port = args.port if args.port != DEFAULT_PORT or tls is None else None
    try:
        setup = write_broker_setup(args.mosquitto_config, host=args.host, port=port, tls=tls, force=args.force)
    except BrokerFolderError as err:
        print(f"sitless broker: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # FileExistsError: a configuration is there already, and its message says so
        why = str(err) if err.strerror is None else f"{err.filename}: {err.strerror}"
        print(f"sitless broker: cannot write the configuration into {args.mosquitto_config}: {why}", file=sys.stderr)
        return 1
    scheme, port_used = ("mqtts", port or 8883) if tls else ("mqtt", port or DEFAULT_PORT)
    folder = args.mosquitto_config.resolve()
    ca = f" SITLESS_MQTT_CA_FILE={args.tls_ca.resolve()}" if tls else ""
    print(f"sitless broker: wrote {setup.config}, {setup.acl} and {setup.passwd}")
    print(f"  start it:     mosquitto -c {setup.config}")
    print(
        f"  each service: SITLESS_MQTT_PASSWORD_FILE={folder}/secrets/worker.password{ca} "
        f"sitless worker --broker {scheme}://worker@{url_host(args.host)}:{port_used}"
        "   (likewise recorder, gateway, dashboard)"
    )
    print(f"  a wearable:   mosquitto_passwd {setup.passwd} DEVICE_ID   (it logs in with its device id)")
    print(f"  read events:  {reader_command(args.host, port_used, setup.secrets['reader'], cafile=args.tls_ca)}")
    if tls is None:
        print("  (no TLS: passwords travel in clear text; give --tls-cert, --tls-key and --tls-ca beyond this machine)")
    return 0


def _print_logins(broker: BrokerProcess) -> None:
    """Say where the services, the wearables and a user's own MQTT client find their logins."""
    assert broker.logins is not None
    secrets, host, port = broker.logins.folder / "secrets", broker.address.host, broker.address.port
    cafile = None if broker.tls is None else broker.tls.cafile
    worker = BrokerAddress(host, port, "worker", tls=broker.address.tls, mqtt5=broker.address.mqtt5)
    ca = "" if cafile is None else f" SITLESS_MQTT_CA_FILE={cafile.resolve()}"
    print(f"  logins:       {broker.logins.folder} (no anonymous clients; {', '.join(SERVICE_USERS)})")
    print(
        f"  each service: SITLESS_MQTT_PASSWORD_FILE={secrets}/worker.password{ca} "
        f"sitless worker --broker {shlex.quote(worker.url)}   (likewise recorder, gateway, dashboard)"
    )
    print(f"  a wearable:   mosquitto_passwd {broker.logins.passwd} DEVICE_ID, then restart the broker")
    print(f"  read events:  {reader_command(host, port, broker.logins.secret('reader'), cafile=cafile)}", flush=True)


def run(args: argparse.Namespace) -> int:
    """Run the broker until SIGINT or SIGTERM (or write a configuration); return the exit status."""
    try:
        tls = _tls_files(args)
    except ValueError as err:
        print(f"sitless broker: {err}", file=sys.stderr)
        return 2
    args.host = args.host.removeprefix("[").removesuffix("]")  # [::1] as in a URL: the address ::1
    if args.mosquitto_config is not None:
        return _write_setup(args, tls)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    before = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        broker = BrokerProcess(
            BrokerAddress(args.host, args.port),
            engine=args.engine,
            data_dir=args.data_dir,
            open_access=args.anonymous,
            tls=tls,
        )
        with broker:
            kept = (
                f", sessions kept in {broker.data_dir}"
                if broker.engine is BrokerEngine.MOSQUITTO
                else ", sessions in memory only (lost when it stops)"
            )
            print(f"sitless broker: {broker.engine} on {broker.address.url}{kept}; Ctrl-C stops", flush=True)
            if broker.logins is None:
                print("sitless broker: anyone may log in and publish anything (--anonymous)", flush=True)
            else:
                _print_logins(broker)
            while not stop.wait(0.5):
                if not broker.running:
                    print("sitless broker: the broker exited", file=sys.stderr)  # stop() logs why
                    return 1
    except (RuntimeError, IngestError, ValueError) as err:  # no mosquitto, a broken data folder, a bad address
        print(f"sitless broker: {err}", file=sys.stderr)
        return 1
    finally:
        for sig, handler in before.items():
            if handler is not None:  # None: a handler not set from Python, which cannot be put back
                signal.signal(sig, handler)
    return 0


if __name__ == "__main__":  # `python -m ingest.broker --host H --port P`: how BrokerProcess runs amqtt
    _parser = argparse.ArgumentParser(prog="python -m ingest.broker", description="run amqtt in this process")
    _parser.add_argument("--host", default="127.0.0.1")
    _parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    _parser.add_argument("--logins", type=Path, help="the Logins folder to enforce (default: anyone gets in)")
    _parser.add_argument("--tls-cert", type=Path, help="speak TLS with this certificate (with --tls-key, --tls-ca)")
    _parser.add_argument("--tls-key", type=Path)
    _parser.add_argument("--tls-ca", type=Path)
    _args = _parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    from amqtt.errors import BrokerError

    try:
        serve(BrokerAddress(_args.host, _args.port), _args.logins, _tls_files(_args))
    except (BrokerError, OSError) as _err:  # its port taken, its certificate unreadable: said once, on one line
        print(f"amqtt: {_err}", file=sys.stderr)
        sys.exit(1)
