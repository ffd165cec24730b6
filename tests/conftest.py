"""Fixtures shared by every test folder: real MQTT brokers on free localhost ports, stores.

``embedded_broker`` is the embedded broker's amqtt fallback (always available);
``mosquitto_broker`` is Debian's mosquitto as the embedded broker configures it, skipped
where it is not installed unless ``SITLESS_REQUIRE_MOSQUITTO=1`` (set by ``.ci/run``)
turns the skip into a failure. ``broker`` runs a test against each of them.
``demo_broker`` is the embedded broker as ``sitless demo`` starts it (mosquitto).
All three let any client in (``open_access``), for tests about other things than logins;
``tests/ingest/test_broker_auth.py`` tests the logins and ACLs of both engines.

``store_url`` is a SQLite file; a test module marked ``both_stores`` runs each of its
tests that takes it on a SQLite file and on a fresh PostgreSQL database of the session's
server, and a test may ask for one backend with ``parametrize("store_url", ["postgresql"],
indirect=True)``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ingest.broker import BrokerEngine, BrokerProcess
from ingest.broker_setup import add_login
from ingest.mosquitto import find_mosquitto
from ingest.mqtt import BrokerAddress
from ingest.topics import Kind
from tests.postgres import PostgresServer, find_pg_bin
from tests.support import EventLog, FullDisk, TcpProxy, free_port, missing

REPO = Path(__file__).resolve().parents[1]

#: The store backends, by the name a ``store_url`` parameter takes.
STORE_BACKENDS = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "both_stores: run the tests taking store_url on SQLite and on PostgreSQL")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Give the tests of a ``both_stores`` module that take ``store_url`` each backend in turn."""
    if "store_url" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_stores") is not None:
        metafunc.parametrize("store_url", STORE_BACKENDS, indirect=True)


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
    """The embedded broker's amqtt fallback in its own process."""
    with BrokerProcess(BrokerAddress("127.0.0.1", free_port()), engine=BrokerEngine.AMQTT, open_access=True) as broker:
        yield broker.address


def _require_mosquitto() -> None:
    if find_mosquitto() is None:
        missing("mosquitto", "SITLESS_REQUIRE_MOSQUITTO", "apt-get install mosquitto")


@pytest.fixture
def mosquitto_broker(tmp_path: Path) -> Iterator[BrokerAddress]:
    """mosquitto as the embedded broker runs it: queue limits set for QoS 1 bursts (STACK.md)."""
    _require_mosquitto()
    address = BrokerAddress("127.0.0.1", free_port())
    with BrokerProcess(
        address, engine=BrokerEngine.MOSQUITTO, data_dir=tmp_path / "mosquitto", open_access=True
    ) as broker:
        yield broker.address


@pytest.fixture
def demo_broker(tmp_path: Path) -> Iterator[BrokerProcess]:
    """The broker ``sitless demo`` starts (engine auto), with its data folder in ``tmp_path``.

    That is mosquitto where it is installed. Without it the demo falls back to amqtt,
    which keeps no session across a broker restart: the test skips, or fails where
    ``SITLESS_REQUIRE_MOSQUITTO=1``.
    """
    _require_mosquitto()
    address = BrokerAddress("127.0.0.1", free_port())
    with BrokerProcess(address, data_dir=tmp_path / "broker", open_access=True) as broker:
        yield broker


#: The wearables that have a login on ``secure_broker``.
SECURE_DEVICES = ("desk-07", "desk-08")


@pytest.fixture(params=[BrokerEngine.AMQTT, BrokerEngine.MOSQUITTO])
def secure_broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BrokerProcess]:
    """The embedded broker as ``sitless broker`` runs it, on each engine, with logins for :data:`SECURE_DEVICES`.

    ``secure_broker.login(user)`` is the address with a service's or a device's login.
    """
    if request.param is BrokerEngine.MOSQUITTO:
        _require_mosquitto()
    broker = BrokerProcess(BrokerAddress("127.0.0.1", free_port()), engine=request.param, data_dir=tmp_path / "secure")
    assert broker.logins is not None  # secure unless asked otherwise
    for device in SECURE_DEVICES:
        add_login(broker.logins, device)  # before the start: mosquitto reads its logins then
    with broker:
        yield broker


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


@pytest.fixture
def chromium() -> Path:
    """The system's Chromium, found on PATH: skipped when absent unless SITLESS_REQUIRE_BROWSER=1."""
    from bench.screenshots import find_chromium  # only the browser tests need it

    found = find_chromium()
    if found is None:
        missing("chromium on PATH", "SITLESS_REQUIRE_BROWSER", "apt-get install chromium")
    assert found is not None
    return found


def backend_url(request: pytest.FixtureRequest, sqlite_path: Path) -> str:
    """The store URL of the backend a ``store_url`` fixture was given (SQLite if none)."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        return f"sqlite:///{sqlite_path}"
    if backend != "postgresql":
        raise ValueError(f"no such store backend: {backend!r} (one of {STORE_BACKENDS})")
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A SQLite store in ``tmp_path``, or a fresh PostgreSQL database where the test asks for one."""
    return backend_url(request, tmp_path / "store.sqlite")


@pytest.fixture
def full_disk() -> Iterator[FullDisk]:
    """A switch that makes the SQLite stores of this test report a full disk (:class:`FullDisk`)."""
    disk = FullDisk()
    yield disk
    disk.close()


def require_pg_bin() -> Path:
    """PostgreSQL's binaries; skips where it is not installed, unless ``SITLESS_REQUIRE_POSTGRES=1``."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        missing("PostgreSQL (initdb, pg_ctl)", "SITLESS_REQUIRE_POSTGRES", "apt-get install postgresql")
    assert bin_dir is not None
    return bin_dir


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL server for the whole session (initdb and pg_ctl, a free port).

    Skipped where PostgreSQL is not installed, unless ``SITLESS_REQUIRE_POSTGRES=1``
    (set by ``.ci/run``) turns the skip into a failure.
    """
    server = PostgresServer(require_pg_bin())
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty PostgreSQL database of the session's server."""
    return postgres_server.new_database()


@pytest.fixture(params=STORE_BACKENDS)
def any_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store backend in turn: a SQLite file in ``tmp_path`` and a fresh PostgreSQL database."""
    return backend_url(request, tmp_path / "store.sqlite")


@pytest.fixture
def event_log(broker: BrokerAddress) -> Iterator[EventLog]:
    """Every event the worker publishes, through each real broker in turn."""
    log = EventLog(broker, Kind.EVENT)
    yield log
    log.close()
