"""Fixtures for end-to-end tests: the whole pipeline through a real broker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from analysis import Placement
from firmware_sim.ble import SimSensor, new_address, register, unregister
from firmware_sim.device import DeviceSettings
from firmware_sim.scenarios import scenario
from ingest.broker import BrokerEngine, BrokerProcess
from ingest.broker_setup import TlsFiles, add_login
from ingest.mosquitto import find_mosquitto
from ingest.mqtt import BrokerAddress
from ingest.recorder import Recorder, RecorderSettings
from ingest.worker import Worker, WorkerSettings
from tests.conftest import require_pg_bin
from tests.e2e.helpers import DEVICE, SNAPSHOT_EVERY_S, StoreOutage
from tests.postgres import PostgresServer
from tests.support import FullDisk, free_port, make_test_ca, missing


@pytest.fixture
def services(broker: BrokerAddress, store_url: str) -> Iterator[tuple[Recorder, Worker]]:
    recorder = Recorder(RecorderSettings(broker, store_url, client_id="e2e-recorder"))
    worker = Worker(WorkerSettings(broker, store_url, client_id="e2e-worker", snapshot_every_s=SNAPSHOT_EVERY_S))
    recorder.start()
    worker.start()
    yield recorder, worker
    worker.close()
    recorder.close()


@pytest.fixture(params=["locked", "full"])
def store_outage(
    request: pytest.FixtureRequest, store_url: str, full_disk: FullDisk, monkeypatch: pytest.MonkeyPatch
) -> StoreOutage:
    """The store failing writes when the test says: locked by another writer, or its disk full.

    The services give up on a locked store after 100 ms instead of 10 s.
    """
    monkeypatch.setattr("ingest.store.base.BUSY_TIMEOUT_MS", 100)
    return StoreOutage(request.param, store_url, full_disk)


@pytest.fixture
def own_postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of the test's own, which it may crash and start again without
    touching the session's (``postgres_server``); skipped as that one is."""
    server = PostgresServer(require_pg_bin())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def test_tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A test CA and a certificate it signed for 127.0.0.1, made once per session."""
    return make_test_ca(tmp_path_factory.mktemp("tls"))


@pytest.fixture(params=[BrokerEngine.AMQTT, BrokerEngine.MOSQUITTO])
def tls_broker(request: pytest.FixtureRequest, tmp_path: Path, test_tls: TlsFiles) -> Iterator[BrokerProcess]:
    """The embedded broker as ``sitless broker --tls-cert --tls-key --tls-ca`` runs it, on each engine.

    Logins and per-device ACLs on, TLS only, and a login for the simulated wearable
    :data:`DEVICE`; ``tls_broker.login(user)`` is an ``mqtts://`` address with a
    service's or the wearable's login and the test CA.
    """
    if request.param is BrokerEngine.MOSQUITTO and find_mosquitto() is None:
        missing("mosquitto", "SITLESS_REQUIRE_MOSQUITTO", "apt-get install mosquitto")
    address = BrokerAddress("127.0.0.1", free_port())
    broker = BrokerProcess(address, engine=request.param, data_dir=tmp_path / "secure", tls=test_tls)
    assert broker.logins is not None
    add_login(broker.logins, DEVICE)  # before the start: mosquitto reads its logins then
    with broker:
        yield broker


@pytest.fixture
def sensor() -> Iterator[SimSensor]:
    """A thigh sensor playing the quick scenario in real time (a 25-sample packet every 0.5 s)."""
    sim = SimSensor(new_address(), scenario("quick"), DeviceSettings(placement=Placement.THIGH, loop=True))
    register(sim)
    yield sim
    unregister(sim)
