"""Broker logins and TLS: URLs, secrets kept off the command line, and a mosquitto with passwords, ACLs and TLS."""

from __future__ import annotations

import gc
import queue
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import paho.mqtt.client as paho
import pytest

from ingest.broker_setup import SERVICE_USERS, acl_rules, password_line, write_broker_setup
from ingest.cli import main
from ingest.codec import Batch, encode
from ingest.device_link import DeviceLink
from ingest.mqtt import (
    CA_FILE_ENV,
    PASSWORD_ENV,
    PASSWORD_FILE_ENV,
    BrokerAddress,
    BrokerUrlError,
    connect,
    make_client,
)
from ingest.topics import Kind, topic
from tests.support import free_port, make_test_ca, missing

#: The wearables' logins, added to the generated password file as an administrator would.
DEVICES = {"desk-07": "desk-secret", "desk-08": "other-secret"}
#: Every login's password: the devices', and the services' once the broker set-up wrote them.
PASSWORDS = dict(DEVICES)


# --- URLs and secrets ------------------------------------------------------------------


def test_urls_name_the_user_and_tls_never_the_password(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret\n", encoding="utf-8")
    env = {PASSWORD_FILE_ENV: str(secret), PASSWORD_ENV: "ignored", CA_FILE_ENV: "/etc/ca.pem"}
    address = BrokerAddress.parse("mqtts://worker@broker.example", env)
    assert (address.host, address.port, address.tls, address.username) == ("broker.example", 8883, True, "worker")
    assert address.password == "s3cret"  # the file wins, without its line break
    assert address.ca_file == "/etc/ca.pem"
    assert "s3cret" not in repr(address)
    assert address.url == "mqtts://worker@broker.example:8883"
    plain = BrokerAddress.parse("mqtt://worker@broker.example:1884", {PASSWORD_ENV: "from-env"})
    assert (plain.tls, plain.port, plain.password) == (False, 1884, "from-env")
    assert BrokerAddress.parse("mqtt://127.0.0.1", {PASSWORD_ENV: "x"}).password is None  # no user, no login


def test_a_password_in_the_url_is_refused_without_repeating_it() -> None:
    with pytest.raises(BrokerUrlError, match=PASSWORD_FILE_ENV) as err:
        BrokerAddress.parse("mqtts://worker:hunter2@broker.example", {})
    assert "hunter2" not in str(err.value)
    with pytest.raises(BrokerUrlError, match="mqtts://") as bad:
        BrokerAddress.parse("http://worker:hunter2@broker.example", {})
    assert "hunter2" not in str(bad.value)


def test_an_unreadable_password_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BrokerUrlError, match="cannot read the broker password file"):
        BrokerAddress.parse("mqtts://worker@h", {PASSWORD_FILE_ENV: str(tmp_path / "missing")})


@pytest.mark.parametrize(
    ("content", "says"),
    [(b"\xff\xfesecret\n", "is not UTF-8 text"), (b"", "is empty"), (b"\n", "is empty")],
    ids=["not-utf8", "empty", "only-a-line-break"],
)
def test_a_password_file_that_is_not_a_password_is_named(tmp_path: Path, content: bytes, says: str) -> None:
    """A password file in another encoding, or empty, is refused naming it; an empty password is never sent."""
    secret = tmp_path / "worker.password"
    secret.write_bytes(content)
    with pytest.raises(BrokerUrlError, match=says) as err:
        BrokerAddress.parse("mqtt://worker@h", {PASSWORD_FILE_ENV: str(secret)})
    assert str(secret) in str(err.value)


@pytest.mark.parametrize(
    "address",
    [
        BrokerAddress("::1", 21061),
        BrokerAddress("fe80::1%eth0", 1883, "worker", tls=True),
        BrokerAddress("::1", 21061, mqtt5=False),
        BrokerAddress("broker.local", 1884),
    ],
    ids=["ipv6", "ipv6-login-tls", "ipv6-3.1.1", "name"],
)
def test_an_address_url_parses_back_to_the_same_address(address: BrokerAddress) -> None:
    """An IPv6 host is written in brackets, so that the URL given to services and printed parses back."""
    assert BrokerAddress.parse(address.url, {PASSWORD_ENV: "x"}) == address
    assert ("[" in address.url) == (":" in address.host)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mqtt://[::1", "Invalid IPv6 URL"),
        ("mqtt://worker:hunter2@[::1", "Invalid IPv6 URL"),
        ("mqtt://broker.local/sitless", "has a path"),
        ("mqtt://broker.local#x", "has a path"),
        ("mqtt://", "names no host"),
        ("mqtt://:1884", "names no host"),
        ("mqtt://broker.local:0", "bad port"),
        ("mqtt://broker.local:70000", "bad port"),
        ("mqtt://::1:1883", r"in brackets, as mqtt://\[::1\]:1883"),
        ("fe80::1", "in brackets"),
        ("mqtt://worker@::1", "in brackets"),
    ],
)
def test_a_malformed_broker_url_is_refused_saying_why(url: str, says: str) -> None:
    """Nothing is guessed: no host is not 127.0.0.1, a path is not ignored; a password is never repeated."""
    with pytest.raises(BrokerUrlError, match=says) as err:
        BrokerAddress.parse(url, {})
    assert "hunter2" not in str(err.value)


def test_a_malformed_broker_url_is_one_line_from_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    """``--broker 'mqtt://[::1'`` ends the command with status 1 and one line, no traceback."""
    assert main(["worker", "--broker", "mqtt://[::1", "--store", "sqlite:///:memory:"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines() == [err.strip()]
    assert "Invalid IPv6 URL" in err


# --- a mosquitto with passwords, ACLs and TLS ------------------------------------------------


@pytest.fixture
def secure_mosquitto(tmp_path: Path) -> Iterator[tuple[BrokerAddress, Path]]:
    """mosquitto as ``sitless broker --mosquitto-config`` sets it up, with TLS from a test CA; address and CA file."""
    if shutil.which("mosquitto") is None:
        missing("mosquitto", "SITLESS_REQUIRE_MOSQUITTO", "apt-get install mosquitto")
    d = tmp_path / "secure"
    tls = make_test_ca(d)
    port = free_port()
    setup = write_broker_setup(d / "broker", port=port, tls=tls)
    with setup.passwd.open("a", encoding="utf-8") as f:
        f.writelines(password_line(device, password) + "\n" for device, password in DEVICES.items())
    for user, path in setup.secrets.items():
        PASSWORDS[user] = path.read_text(encoding="utf-8").strip()
    log = (d / "mosquitto.log").open("wb")
    proc = subprocess.Popen(["mosquitto", "-c", str(setup.config)], stderr=log)
    address = BrokerAddress("127.0.0.1", port, tls=True, ca_file=str(d / "ca.pem"))
    try:
        # Up once a logged-in client connects (a bare TCP probe would not say TLS works).
        probe = make_client("probe")
        connect(probe, _as(address, "worker"), timeout_s=30)
        probe.disconnect()
        probe.loop_stop()
        yield address, d / "ca.pem"
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def _as(address: BrokerAddress, user: str, password: str | None = None) -> BrokerAddress:
    pw = PASSWORDS[user] if password is None else password
    return BrokerAddress(address.host, address.port, user, pw, address.tls, address.ca_file)


def _refused(address: BrokerAddress) -> bool:
    client = make_client("refused-probe")
    try:
        connect(client, address, timeout_s=3, fail_if_refused=True)
    except ConnectionError:
        return True
    client.disconnect()
    client.loop_stop()
    return False


def test_anonymous_clients_wrong_passwords_and_plain_tcp_are_refused(
    secure_mosquitto: tuple[BrokerAddress, Path],
) -> None:
    address, _ = secure_mosquitto
    anonymous = BrokerAddress(address.host, address.port, tls=True, ca_file=address.ca_file)
    assert _refused(anonymous)  # the client id alone is no login
    assert _refused(_as(address, "worker", "wrong"))
    no_tls = _as(address, "worker")
    assert _refused(BrokerAddress(no_tls.host, no_tls.port, no_tls.username, no_tls.password))
    untrusted = BrokerAddress(address.host, address.port, "worker", PASSWORDS["worker"], tls=True)
    # paho-mqtt 2.x leaves the socket of a failed TLS handshake to the garbage collector
    # (``Client._ssl_wrap_socket``): collect it here, where its warning is expected.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        assert _refused(untrusted)  # the system's CAs do not vouch for the test CA
        gc.collect()


def test_a_device_publishes_only_as_itself(secure_mosquitto: tuple[BrokerAddress, Path]) -> None:
    """Through TLS with logins, desk-07's packets reach the worker; desk-08 posing as desk-07 is dropped."""
    address, _ = secure_mosquitto
    got: queue.Queue[str] = queue.Queue()
    listener = make_client("acl-worker")
    listener.on_connect = lambda c, *_: c.subscribe("sitless/v1/+/imu", qos=1)
    listener.on_message = lambda _c, _u, msg: got.put(msg.topic)
    subscribed: queue.Queue[int] = queue.Queue()
    listener.on_subscribe = lambda *_: subscribed.put(1)
    connect(listener, _as(address, "worker"))
    subscribed.get(timeout=30)
    acc = np.zeros((25, 3), dtype=np.int16)
    packet = encode(Batch(seq=0, t0_s=1.7e9, rate_hz=50.0, acc_scale_g=1 / 4096, acc=acc))
    try:
        impostor = make_client("desk-08")
        connect(impostor, _as(address, "desk-08"))
        impostor.publish(topic("desk-07", Kind.IMU), packet, qos=1).wait_for_publish(timeout=30)
        impostor.publish(topic("desk-08", Kind.IMU), packet, qos=1).wait_for_publish(timeout=30)
        impostor.disconnect()
        impostor.loop_stop()
        link = DeviceLink("desk-07", _as(address, "desk-07"))
        link.connect()
        link.publish_packet(packet)
        received = {got.get(timeout=30), got.get(timeout=30)}
        link.close()
    finally:
        listener.disconnect()
        listener.loop_stop()
    # desk-08's own packet and desk-07's real one; the forged one never came (the broker
    # drops it: MQTT 3.1.1 has no way to refuse a publish).
    assert received == {topic("desk-07", Kind.IMU), topic("desk-08", Kind.IMU)}
    assert got.empty()


def test_services_take_the_login_from_the_url_and_the_environment(
    secure_mosquitto: tuple[BrokerAddress, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``mqtts://worker@...`` URL with the password in a file and the CA in the environment connects."""
    address, ca = secure_mosquitto
    secret = tmp_path / "worker.password"
    secret.write_text(PASSWORDS["worker"] + "\n", encoding="utf-8")
    secret.chmod(0o600)
    monkeypatch.setenv(PASSWORD_FILE_ENV, str(secret))
    monkeypatch.setenv(CA_FILE_ENV, str(ca))
    parsed = BrokerAddress.parse(f"mqtts://worker@127.0.0.1:{address.port}")
    client: paho.Client = make_client("sitless-worker")
    connect(client, parsed, timeout_s=30, fail_if_refused=True)
    assert client.is_connected()
    client.disconnect()
    client.loop_stop()


def test_the_setup_keeps_its_secrets_private_and_refuses_to_overwrite(tmp_path: Path) -> None:
    setup = write_broker_setup(tmp_path / "b")
    assert set(setup.secrets) == set(SERVICE_USERS)
    for path in [*setup.secrets.values(), setup.passwd]:
        assert path.stat().st_mode & 0o077 == 0  # the owner's alone
    config = setup.config.read_text(encoding="utf-8")
    assert "allow_anonymous false" in config
    assert "listener 1883 127.0.0.1" in config
    assert "max_queued_messages 1000000" in config  # not mosquitto's 1,000
    assert setup.acl.read_text(encoding="utf-8") == acl_rules()
    secret = setup.secrets["worker"].read_text(encoding="utf-8").strip()
    assert secret not in setup.passwd.read_text(encoding="utf-8")  # hashed
    with pytest.raises(FileExistsError, match="--force"):
        write_broker_setup(tmp_path / "b")
    again = write_broker_setup(tmp_path / "b", force=True)
    assert again.secrets["worker"].read_text(encoding="utf-8").strip() != secret


def test_sitless_broker_writes_the_setup_and_says_how_to_use_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ingest.cli import main

    folder = tmp_path / "mine"
    assert main(["broker", "--mosquitto-config", str(folder), "--port", "1884"]) == 0
    out = capsys.readouterr().out
    assert f"mosquitto -c {folder.resolve() / 'mosquitto.conf'}" in out
    assert "--broker mqtt://worker@127.0.0.1:1884" in out
    assert "no TLS" in out
    assert main(["broker", "--mosquitto-config", str(folder)]) == 1  # not over the one just written
    assert "--force" in capsys.readouterr().err
    assert main(["broker", "--mosquitto-config", str(folder), "--tls-cert", "c.pem"]) == 2


def test_tls_to_a_broker_without_it_says_what_the_first_try_met(mosquitto_broker: BrokerAddress) -> None:
    """``mqtts://`` to a plain listener: the error names the failed handshake, not only the wait."""
    address = BrokerAddress(mosquitto_broker.host, mosquitto_broker.port, tls=True)
    client = make_client("test-tls-to-plain")
    with warnings.catch_warnings():  # paho leaves a failed handshake's socket to the garbage collector
        warnings.simplefilter("ignore", ResourceWarning)
        with pytest.raises(ConnectionError, match=r"within 2 s \(the first try: .*does the broker speak TLS"):
            connect(client, address, timeout_s=2)
        gc.collect()
