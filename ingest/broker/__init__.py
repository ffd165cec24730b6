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

The package's parts: :class:`BrokerProcess` and the choice of engine here; a free
port, one taken, and waiting until a broker answers on one (``ports``); amqtt's
configuration, and amqtt served in the calling process (``amqtt_engine``), which is
how the child process ``python -m ingest.broker`` (``__main__``) runs it; ``sitless
broker`` (:mod:`ingest.broker.cmd`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from enum import StrEnum
from pathlib import Path
from types import TracebackType

from ingest.broker.amqtt_engine import broker_config, serve
from ingest.broker.ports import free_port, port_in_use, wait_for_broker, wait_for_port
from ingest.broker_setup import Logins, TlsFiles, folder_error, write_logins
from ingest.errors import BrokerFolderError
from ingest.mosquitto import config_path, find_mosquitto, log_path, mosquitto_config
from ingest.mqtt import BrokerAddress

__all__ = [
    "DEFAULT_DATA_DIR",
    "LOGINS_DIR",
    "BrokerEngine",
    "BrokerProcess",
    "broker_config",
    "free_port",
    "port_in_use",
    "resolve_engine",
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
