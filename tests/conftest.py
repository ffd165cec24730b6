"""Fixtures shared by every test folder: real MQTT brokers on free localhost ports.

``embedded_broker`` is the amqtt broker sitless ships (always available);
``mosquitto_broker`` is Debian's mosquitto, skipped where it is not installed unless
``SITLESS_REQUIRE_MOSQUITTO=1`` (set by ``.ci/run``) turns the skip into a failure.
``broker`` runs a test against each of them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ingest.broker import BrokerProcess, wait_for_port
from ingest.mqtt import BrokerAddress
from tests.support import TcpProxy, free_port, missing

REPO = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """The labelled recordings: ``SITLESS_DATA`` or ``../shared/data`` beside the repository."""
    return Path(os.environ.get("SITLESS_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def recordings() -> Path:
    """The folder of labelled recordings; skips (with the reason) when it is absent."""
    path = data_dir()
    if not path.is_dir():
        missing(f"the labelled recordings at {path}", "SITLESS_REQUIRE_DATA", "set SITLESS_DATA")
    return path


@pytest.fixture
def embedded_broker() -> Iterator[BrokerAddress]:
    """The embedded amqtt broker in its own process."""
    with BrokerProcess(BrokerAddress("127.0.0.1", free_port())) as broker:
        yield broker.address


MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)


@pytest.fixture
def mosquitto_broker(tmp_path: Path) -> Iterator[BrokerAddress]:
    """A mosquitto broker with queue limits set for QoS 1 bursts (STACK.md)."""
    if MOSQUITTO is None:
        missing("mosquitto", "SITLESS_REQUIRE_MOSQUITTO", "apt-get install mosquitto")
    address = BrokerAddress("127.0.0.1", free_port())
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(
        f"listener {address.port} 127.0.0.1\n"
        "allow_anonymous true\n"
        "persistence false\n"
        "max_queued_messages 100000\n"
        "max_inflight_messages 100\n" + ("user root\n" if os.geteuid() == 0 else "")
    )
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stderr=subprocess.DEVNULL)
    try:
        if not wait_for_port(address, 10):
            pytest.fail("mosquitto did not open its port")
        yield address
    finally:
        proc.terminate()
        proc.wait(5)


@pytest.fixture(params=["embedded", "mosquitto"])
def broker(request: pytest.FixtureRequest) -> BrokerAddress:
    """Each real broker in turn: the embedded amqtt one and mosquitto."""
    name = "embedded_broker" if request.param == "embedded" else "mosquitto_broker"
    address: BrokerAddress = request.getfixturevalue(name)
    return address


@pytest.fixture
def proxy_factory() -> Iterator[Callable[[BrokerAddress], TcpProxy]]:
    """Make cuttable TCP proxies in front of a broker; all are closed after the test."""
    proxies: list[TcpProxy] = []

    def make(target: BrokerAddress) -> TcpProxy:
        proxies.append(TcpProxy(target))
        return proxies[-1]

    yield make
    for p in proxies:
        p.close()
