"""The embedded broker's logins and per-device ACLs, on both engines (amqtt and mosquitto: ``secure_broker``).

Each test waits for a marker message sent after the ones that must not arrive: the
broker hands a subscriber its messages in order, so once the marker is in, a forbidden
message that got through would be in too.
"""

from __future__ import annotations

import queue
import shutil
import socket
import subprocess
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from ingest.broker import BrokerEngine, BrokerProcess
from ingest.broker.cmd import register
from ingest.broker.ports import _ephemeral_ports
from ingest.broker_setup import SERVICE_USERS, Logins, add_login, write_logins
from ingest.cli import main
from ingest.errors import BrokerFolderError
from ingest.mosquitto import MAX_PACKET_SIZE, find_mosquitto
from ingest.mqtt import BrokerAddress, BrokerUrlError, LoginRefusedError, connect, make_client
from ingest.recorder import Recorder, RecorderSettings
from ingest.topics import Kind, topic
from tests.support import free_port, missing

WAIT_S = 30.0  # only ends a test that would otherwise hang


class Client:
    """A logged-in paho client that records what it receives, in order."""

    def __init__(self, address: BrokerAddress, client_id: str, *subscriptions: str, clean_session: bool = True) -> None:
        self.got: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self._acked: queue.Queue[list[bool]] = queue.Queue()
        self.client = make_client(client_id, clean_session=clean_session)
        self.client.on_message = lambda _c, _u, msg: self.got.put((msg.topic, bytes(msg.payload)))
        self.client.on_subscribe = lambda _c, _u, _mid, codes, _p: self._acked.put([c.is_failure for c in codes])
        connect(self.client, address, timeout_s=WAIT_S, fail_if_refused=True)
        self.refused: list[bool] = []
        for sub in subscriptions:
            self.client.subscribe(sub, qos=1)
            self.refused += self._acked.get(timeout=WAIT_S)

    def publish(self, to_topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Publish with QoS 1 and wait for the broker's acknowledgement."""
        self.client.publish(to_topic, payload, qos=1, retain=retain).wait_for_publish(timeout=WAIT_S)

    def until(self, marker: tuple[str, bytes]) -> list[tuple[str, bytes]]:
        """Everything received up to and including ``marker``."""
        seen = []
        while not seen or seen[-1] != marker:
            seen.append(self.got.get(timeout=WAIT_S))
        return seen

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _refused(address: BrokerAddress, client: paho.Client | None = None) -> bool:
    client = make_client("refused-probe") if client is None else client
    try:
        connect(client, address, timeout_s=5, fail_if_refused=True)
    except ConnectionError:
        return True
    client.disconnect()
    client.loop_stop()
    return False


def test_anonymous_clients_and_wrong_passwords_are_refused(secure_broker: BrokerProcess) -> None:
    """No user name, a user name alone, a wrong password or an unknown user: no connection."""
    address = secure_broker.address
    nameless = paho.Client(CallbackAPIVersion.VERSION2, client_id="nameless", protocol=MQTTProtocolVersion.MQTTv311)
    assert _refused(address, nameless)
    assert _refused(address)  # the client id as user name, no password
    assert _refused(BrokerAddress(address.host, address.port, "worker", "wrong"))
    assert _refused(BrokerAddress(address.host, address.port, "desk-09", "any"))
    assert not _refused(secure_broker.login("worker"))


def test_a_service_whose_login_is_refused_fails_at_once(
    secure_broker: BrokerProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A wrong password is a configuration error no retry mends: the service says so and
    stops, rather than trying again for ever."""
    address = secure_broker.address
    wrong = BrokerAddress(address.host, address.port, "recorder", "not its password", mqtt5=address.mqtt5)
    recorder = Recorder(RecorderSettings(wrong, f"sqlite:///{tmp_path / 'store.sqlite'}", client_id="t-refused"))
    try:
        with pytest.raises(LoginRefusedError, match="refused the login"):
            recorder.start()
    finally:
        recorder.close()
    secret = tmp_path / "recorder.password"
    secret.write_text("not its password\n", encoding="utf-8")
    url = f"mqtt://recorder@{address.host}:{address.port}" + ("" if address.mqtt5 else "?protocol=3.1.1")
    store = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SITLESS_MQTT_PASSWORD_FILE", str(secret))
        assert main(["recorder", "--broker", url, "--store", store]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()[-1:]
    assert line.startswith("sitless recorder: the MQTT broker at")
    assert "refused the login" in line


def test_a_device_publishes_only_its_own_samples_and_status(secure_broker: BrokerProcess) -> None:
    """desk-08 cannot post samples as desk-07, nor events, actions, settings or commands."""
    b = secure_broker
    worker = Client(b.login("worker"), "t-worker", "sitless/v1/+/imu", "sitless/v1/+/action", "sitless/v1/+/status")
    reader = Client(b.login("reader"), "t-reader", "sitless/v1/+/event")
    desk07 = Client(b.login("desk-07"), "t-desk-07", topic("desk-07", Kind.CMD))
    desk08 = Client(b.login("desk-08"), "t-desk-08")
    try:
        for kind in (Kind.IMU, Kind.STATUS, Kind.CMD):
            desk08.publish(topic("desk-07", kind), b"forged")
        for kind in (Kind.EVENT, Kind.ACTION, Kind.SETTINGS, Kind.CMD):
            desk08.publish(topic("desk-08", kind), b"forged")
        desk08.publish(topic("desk-08", Kind.STATUS), b"own")
        desk08.publish(topic("desk-08", Kind.IMU), b"own")
        assert worker.until((topic("desk-08", Kind.IMU), b"own")) == [
            (topic("desk-08", Kind.STATUS), b"own"),
            (topic("desk-08", Kind.IMU), b"own"),
        ]
        worker.publish(topic("desk-08", Kind.EVENT), b"marker")
        assert reader.until((topic("desk-08", Kind.EVENT), b"marker")) == [(topic("desk-08", Kind.EVENT), b"marker")]
        worker.publish(topic("desk-07", Kind.CMD), b"marker")
        assert desk07.until((topic("desk-07", Kind.CMD), b"marker")) == [(topic("desk-07", Kind.CMD), b"marker")]
    finally:
        for c in (worker, reader, desk07, desk08):
            c.close()


def test_a_device_reads_only_its_own_commands(secure_broker: BrokerProcess) -> None:
    """desk-07 never gets desk-08's commands, whether it asks for them by name or by wildcard."""
    b = secure_broker
    snoop = ("sitless/v1/+/cmd", topic("desk-08", Kind.CMD), "sitless/v1/#", topic("desk-07", Kind.CMD))
    desk07 = Client(b.login("desk-07"), "t-desk-07", *snoop)
    worker = Client(b.login("worker"), "t-worker")
    try:
        assert desk07.refused[-1] is False  # its own commands
        worker.publish(topic("desk-08", Kind.CMD), b"buzz desk-08")
        worker.publish(topic("desk-07", Kind.CMD), b"buzz desk-07")
        assert desk07.until((topic("desk-07", Kind.CMD), b"buzz desk-07")) == [
            (topic("desk-07", Kind.CMD), b"buzz desk-07")
        ]
    finally:
        desk07.close()
        worker.close()


def test_a_device_cannot_send_as_another_through_its_last_will(secure_broker: BrokerProcess) -> None:
    """desk-07 connects with its last will on desk-08's status, commands or actions, then
    drops the connection: the will reaches no one. amqtt refuses such a connection (it
    published a will without asking the ACL); mosquitto takes it and drops the will. Each
    time a client of the same id then takes the session over, which ends the first
    connection (and sends or drops its will) before it is accepted; its marker comes after."""
    b = secure_broker
    watcher = Client(b.login("worker"), "t-worker", "sitless/v1/+/status", "sitless/v1/+/action")
    desk08 = Client(b.login("desk-08"), "t-desk-08", topic("desk-08", Kind.CMD))
    try:
        for kind in (Kind.STATUS, Kind.CMD, Kind.ACTION):
            client_id = f"t-will-{kind.value}"
            evil = make_client(client_id, will=(topic("desk-08", kind), b"forged", 1, True))
            try:
                connect(evil, b.login("desk-07"), timeout_s=WAIT_S, fail_if_refused=True)
            except ConnectionError:
                assert b.engine is BrokerEngine.AMQTT
            else:
                assert b.engine is BrokerEngine.MOSQUITTO
                sock = evil.socket()
                assert sock is not None
                sock.shutdown(socket.SHUT_RDWR)  # gone without a DISCONNECT: the will is due
            evil.loop_stop()
            again = Client(b.login("desk-07"), client_id)
            again.publish(topic("desk-07", Kind.STATUS), kind.value.encode())
            again.close()
            marker = (topic("desk-07", Kind.STATUS), kind.value.encode())
            assert watcher.until(marker) == [marker]
        watcher.publish(topic("desk-08", Kind.CMD), b"marker")
        assert desk08.until((topic("desk-08", Kind.CMD), b"marker")) == [(topic("desk-08", Kind.CMD), b"marker")]
    finally:
        watcher.close()
        desk08.close()


def test_a_device_cannot_take_over_the_recorders_session(secure_broker: BrokerProcess) -> None:
    """desk-07 connects with the recorder's client id while the recorder is away, its
    session kept with packets queued for it: desk-07 reads none of them, and amqtt refuses
    it, so that the recorder finds every packet when it comes back; so does a clean
    session with the recorder's user name and a wrong password. amqtt handed the session
    (subscriptions, queued packets) to whichever login named its client id, and deleted
    it for a clean session before checking the password;
    mosquitto lets the login in without the packets, which the recorder then misses
    (docs/operations.md, *Broker logins*)."""
    b = secure_broker
    Client(b.login("recorder"), "t-recorder", "sitless/v1/+/imu", clean_session=False).close()  # its session kept
    desk08 = Client(b.login("desk-08"), "t-desk-08")
    worker = Client(b.login("worker"), "t-worker")
    queued = [(topic("desk-08", Kind.IMU), f"queued-{i}".encode()) for i in range(2)]
    try:
        for name, payload in queued:
            desk08.publish(name, payload)
        address = b.address
        wrong = BrokerAddress(address.host, address.port, "recorder", "wrong", mqtt5=address.mqtt5)
        assert _refused(wrong, make_client("t-recorder"))  # a clean session, refused: the kept one stays
        try:
            evil = Client(b.login("desk-07"), "t-recorder", topic("desk-07", Kind.CMD), clean_session=False)
        except ConnectionError:
            assert b.engine is BrokerEngine.AMQTT
        else:
            assert b.engine is BrokerEngine.MOSQUITTO
            worker.publish(topic("desk-07", Kind.CMD), b"marker")  # after anything the session held
            assert evil.until((topic("desk-07", Kind.CMD), b"marker")) == [(topic("desk-07", Kind.CMD), b"marker")]
            evil.close()
            return
        recorder = Client(b.login("recorder"), "t-recorder", clean_session=False)
        desk08.publish(topic("desk-08", Kind.IMU), b"marker")
        assert recorder.until((topic("desk-08", Kind.IMU), b"marker")) == [
            *queued,
            (topic("desk-08", Kind.IMU), b"marker"),
        ]
        recorder.close()
    finally:
        desk08.close()
        worker.close()


def test_the_read_only_login_reads_events_and_publishes_nothing(secure_broker: BrokerProcess) -> None:
    """``reader`` subscribes to every wearable's events; what it publishes reaches no one."""
    b = secure_broker
    reader = Client(b.login("reader"), "t-reader", "sitless/v1/+/event")
    worker = Client(b.login("worker"), "t-worker", "sitless/v1/+/imu", "sitless/v1/+/action")
    desk07 = Client(b.login("desk-07"), "t-desk-07", topic("desk-07", Kind.CMD))
    try:
        assert reader.refused == [False]
        for kind in Kind:
            reader.publish(topic("desk-07", kind), b"forged")
        desk07.publish(topic("desk-07", Kind.IMU), b"marker")
        assert worker.until((topic("desk-07", Kind.IMU), b"marker")) == [(topic("desk-07", Kind.IMU), b"marker")]
        worker.publish(topic("desk-07", Kind.CMD), b"marker")
        assert desk07.until((topic("desk-07", Kind.CMD), b"marker")) == [(topic("desk-07", Kind.CMD), b"marker")]
        worker.publish(topic("desk-07", Kind.EVENT), b"marker")
        assert reader.until((topic("desk-07", Kind.EVENT), b"marker")) == [(topic("desk-07", Kind.EVENT), b"marker")]
    finally:
        for c in (reader, worker, desk07):
            c.close()


def test_only_the_dashboard_sends_actions_and_settings(secure_broker: BrokerProcess) -> None:
    """The worker hears the dashboard's actions and settings; the same from the worker or a device reach nobody."""
    b = secure_broker
    worker = Client(b.login("worker"), "t-worker", "sitless/v1/+/action", "sitless/v1/+/settings")
    dashboard = Client(b.login("dashboard"), "t-dashboard")
    desk07 = Client(b.login("desk-07"), "t-desk-07")
    try:
        for sender in (worker, desk07):
            sender.publish(topic("desk-07", Kind.ACTION), b"forged")
            sender.publish(topic("desk-07", Kind.SETTINGS), b"forged")
        dashboard.publish(topic("desk-07", Kind.SETTINGS), b"settings")
        dashboard.publish(topic("desk-07", Kind.ACTION), b"done")
        assert worker.until((topic("desk-07", Kind.ACTION), b"done")) == [
            (topic("desk-07", Kind.SETTINGS), b"settings"),
            (topic("desk-07", Kind.ACTION), b"done"),
        ]
    finally:
        for c in (worker, dashboard, desk07):
            c.close()


def _listening_addresses(port: int) -> set[str]:
    """The local addresses of the TCP sockets listening on ``port`` (Linux's /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text(encoding="ascii").splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def test_the_broker_listens_on_localhost_only_by_default(secure_broker: BrokerProcess) -> None:
    """``sitless broker`` binds 127.0.0.1 unless told otherwise, and so does the broker it starts."""
    import argparse

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    assert parser.parse_args(["broker"]).host == "127.0.0.1"
    if not Path("/proc/net/tcp").exists():
        pytest.skip("no /proc/net/tcp to read the listening sockets from")
    assert _listening_addresses(secure_broker.address.port) == {"0100007F"}  # 127.0.0.1, little-endian hex


def test_a_wearable_added_with_mosquitto_passwd_logs_in(tmp_path: Path) -> None:
    """A login added with ``mosquitto_passwd -b`` works on the amqtt engine at once, without a restart."""
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        missing("mosquitto_passwd", "SITLESS_REQUIRE_MOSQUITTO", "apt-get install mosquitto")
    assert tool is not None
    address = BrokerAddress("127.0.0.1", free_port())
    with BrokerProcess(address, engine=BrokerEngine.AMQTT, data_dir=tmp_path / "b") as broker:
        assert broker.logins is not None
        wearable = BrokerAddress(address.host, address.port, "desk-11", "its password")
        assert _refused(wearable)
        # -b takes the password on the command line: fine for a test, not for a real one.
        subprocess.run([tool, "-b", str(broker.logins.passwd), "desk-11", "its password"], check=True)
        assert not _refused(wearable)


def test_mosquitto_disconnects_a_client_sending_a_message_larger_than_any_sitless_one(tmp_path: Path) -> None:
    """One message past ``MAX_PACKET_SIZE`` (it could fill a slow subscriber's whole queue
    and push out the other wearers' packets) ends its sender's connection and reaches no one."""
    if shutil.which("mosquitto") is None:
        missing("mosquitto", "SITLESS_REQUIRE_MOSQUITTO", "apt-get install mosquitto")
    broker = BrokerProcess(BrokerAddress("127.0.0.1", free_port()), engine=BrokerEngine.MOSQUITTO, data_dir=tmp_path)
    assert broker.logins is not None
    for device in ("desk-07", "desk-08"):
        add_login(broker.logins, device)
    with broker:
        worker = Client(broker.login("worker"), "t-worker", "sitless/v1/+/imu")
        gone: queue.Queue[object] = queue.Queue()
        sender = Client(broker.login("desk-07"), "t-desk-07")
        sender.client.on_disconnect = lambda *args: gone.put(args)
        other = Client(broker.login("desk-08"), "t-desk-08")
        try:
            sender.client.publish(topic("desk-07", Kind.IMU), bytes(MAX_PACKET_SIZE), qos=1)
            gone.get(timeout=WAIT_S)
            other.publish(topic("desk-08", Kind.IMU), b"marker")
            assert worker.until((topic("desk-08", Kind.IMU), b"marker")) == [(topic("desk-08", Kind.IMU), b"marker")]
        finally:
            for c in (worker, sender, other):
                c.close()


def test_the_logins_are_kept_across_starts_and_private(tmp_path: Path) -> None:
    """A second start keeps every password (services started earlier go on); ``fresh`` replaces them."""
    first = write_logins(tmp_path / "logins")
    worker = first.secret("worker").read_text(encoding="utf-8")
    device = add_login(first, "desk-07").read_text(encoding="utf-8")
    again = write_logins(tmp_path / "logins")
    assert again.secret("worker").read_text(encoding="utf-8") == worker
    assert add_login(again, "desk-07").read_text(encoding="utf-8") == device
    assert set(again.users()) == {*SERVICE_USERS, "desk-07"}
    assert all(p.stat().st_mode & 0o077 == 0 for p in [again.passwd, again.folder, *again.folder.glob("secrets/*")])
    fresh = write_logins(tmp_path / "logins", fresh=True)
    assert fresh.secret("worker").read_text(encoding="utf-8") != worker
    assert "desk-07" not in fresh.users()


def test_a_free_port_lies_below_the_ports_outgoing_connections_take() -> None:
    """A port the system could hand to an outgoing connection before the broker binds it is never chosen."""
    low, _high = _ephemeral_ports()
    for port in {free_port() for _ in range(20)}:
        assert 10_000 <= port < low
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))  # free


# --- a broker that cannot start: one clear line, nothing left running --------------------------


def _engine(engine: BrokerEngine) -> BrokerEngine:
    """The engine, or a skip (or failure, where required) when it is mosquitto and that is not installed."""
    if engine is BrokerEngine.MOSQUITTO and find_mosquitto() is None:
        missing("mosquitto", "SITLESS_REQUIRE_MOSQUITTO", "apt-get install mosquitto")
    return engine


def _break_folder(data_dir: Path, how: str) -> None:
    """Make a broker data folder unusable in one of the ways a user's mistake does."""
    logins = data_dir / "logins"
    if how == "data-dir-is-a-file":
        data_dir.write_text("not a folder\n", encoding="utf-8")
        return
    if how == "logins-is-a-file":
        data_dir.mkdir()
        logins.write_text("not a folder\n", encoding="utf-8")
        return
    logins.mkdir(parents=True)
    if how == "passwd-is-a-folder":
        (logins / "passwd").mkdir()
    elif how == "passwd-not-utf8":
        (logins / "passwd").write_bytes(b"worker:\xff\xfe\n")
    elif how == "secrets-is-a-file":
        (logins / "secrets").write_text("not a folder\n", encoding="utf-8")
    elif how == "acl-is-a-folder":
        (logins / "acl").mkdir()


@pytest.mark.parametrize(
    "how",
    [
        "data-dir-is-a-file",
        "logins-is-a-file",
        "passwd-is-a-folder",
        "passwd-not-utf8",
        "secrets-is-a-file",
        "acl-is-a-folder",
    ],
)
def test_a_broken_data_folder_is_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    """``sitless broker --data-dir`` on a folder it cannot use says which, on one line, with status 1."""
    data_dir = tmp_path / "broker"
    _break_folder(data_dir, how)
    assert main(["broker", "--port", str(free_port()), "--data-dir", str(data_dir)]) == 1
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    (line,) = out.err.strip().splitlines()
    assert line.startswith("sitless broker: the broker's")
    assert str(data_dir) in line


def test_a_broken_logins_folder_is_a_broker_folder_error(tmp_path: Path) -> None:
    """The library names the folder too: ``write_logins``, ``Logins.users`` and ``add_login``."""
    _break_folder(tmp_path / "a", "passwd-is-a-folder")
    with pytest.raises(BrokerFolderError, match="is a folder where a file belongs"):
        write_logins(tmp_path / "a" / "logins")
    _break_folder(tmp_path / "b", "passwd-not-utf8")
    with pytest.raises(BrokerFolderError, match="not UTF-8"):
        Logins(tmp_path / "b" / "logins").users()
    logins = write_logins(tmp_path / "c" / "logins")
    shutil.rmtree(logins.folder / "secrets")
    (logins.folder / "secrets").write_text("", encoding="utf-8")
    with pytest.raises(BrokerFolderError, match="a file stands where a folder belongs"):
        add_login(logins, "desk-07")


@pytest.mark.parametrize("engine", [BrokerEngine.AMQTT, BrokerEngine.MOSQUITTO])
def test_a_broker_whose_port_another_program_holds_fails_with_its_own_error(
    tmp_path: Path, engine: BrokerEngine
) -> None:
    """A program that listens on the port and never answers MQTT: the broker exits, and the start
    fails on that at once (it says the broker exited, not that it did not answer in time)."""
    port = free_port()
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        broker = BrokerProcess(
            BrokerAddress("127.0.0.1", port), engine=_engine(engine), data_dir=tmp_path, startup_timeout_s=120
        )
        with pytest.raises(RuntimeError, match="exited with status") as err:
            broker.start()
    if engine is BrokerEngine.MOSQUITTO:
        assert "Address already in use" in str(err.value)
    assert not broker.running


@pytest.mark.parametrize("engine", [BrokerEngine.AMQTT, BrokerEngine.MOSQUITTO])
def test_a_start_that_fails_after_the_broker_process_began_stops_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: BrokerEngine
) -> None:
    """Whatever fails while the start waits (here: the probe's login cannot be read), the broker does not outlive it."""
    broker = BrokerProcess(
        BrokerAddress("127.0.0.1", free_port()),
        engine=_engine(engine),
        data_dir=tmp_path,
    )
    started: list[subprocess.Popen[bytes]] = []

    def unreadable_login(user: str) -> BrokerAddress:
        assert broker._proc is not None
        started.append(broker._proc)
        raise BrokerUrlError(f"cannot read the broker password file for {user}")

    monkeypatch.setattr(broker, "login", unreadable_login)
    with pytest.raises(BrokerUrlError):
        broker.start()
    (process,) = started
    assert process.poll() is not None
    assert not broker.running


def _has_ipv6_loopback() -> bool:
    with socket.socket(socket.AF_INET6) as s:
        try:
            s.bind(("::1", 0))
        except OSError:
            return False
    return True


@pytest.mark.parametrize("engine", [BrokerEngine.AMQTT, BrokerEngine.MOSQUITTO])
def test_the_broker_serves_on_the_ipv6_loopback(tmp_path: Path, engine: BrokerEngine) -> None:
    """``--host ::1``: the broker listens there, its URL says ``[::1]`` and parses back, and its logins work."""
    if not _has_ipv6_loopback():
        pytest.skip("this machine has no IPv6 loopback (::1)")
    port = free_port("::1")
    with BrokerProcess(BrokerAddress("::1", port), engine=_engine(engine), data_dir=tmp_path) as broker:
        assert broker.address.url.startswith(f"mqtt://[::1]:{port}")
        assert BrokerAddress.parse(broker.address.url).host == "::1"
        reader = Client(broker.login("reader"), "t-reader-ipv6", "sitless/v1/+/event")
        worker = Client(broker.login("worker"), "t-worker-ipv6")
        try:
            worker.publish(topic("desk-07", Kind.EVENT), b"over IPv6")
            assert reader.until((topic("desk-07", Kind.EVENT), b"over IPv6"))
        finally:
            worker.close()
            reader.close()
