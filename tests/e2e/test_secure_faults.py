"""The faults of issue #17 with security on: logins, per-device ACLs and TLS, on both engines.

Each service and the wearable log in with their own login through ``mqtts://`` and the
test CA (``tls_broker``): the broker restarted mid-stream, the worker and the recorder
killed with SIGKILL and started again, the store locked or its disk full, and the BLE
gateway without its broker for a while. What each asserts per engine follows the
open-broker tests (``test_durability.py``, ``test_pipeline.py``, ``test_gateway.py``):
both engines keep a service's session while it is dead, and only mosquitto keeps
sessions across a broker restart.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from firmware_sim.ble import SimSensor
from firmware_sim.device import Device
from ingest.broker import BrokerEngine, BrokerProcess
from ingest.gateway import safe_device_id
from ingest.mqtt import BrokerAddress, connect, make_client
from ingest.recorder import Recorder, RecorderSettings
from ingest.store import Store
from ingest.topics import Kind, topic
from ingest.worker import Worker, WorkerSettings
from tests.e2e.gateway_helpers import Heard, gateway_settings, running
from tests.e2e.helpers import (
    DEVICE,
    SNAPSHOT_EVERY_S,
    StoreOutage,
    device,
    events,
    ride_out,
    sent_all,
    service_env,
    streaming,
    via,
)
from tests.support import TcpProxy, free_port, wait_until

pytestmark = pytest.mark.e2e


def stored(store_url: str) -> list[int]:
    with Store(store_url) as store:
        return store.seqs(DEVICE)


def saved_seq(store_url: str) -> int:
    with Store(store_url) as store:
        state = store.load_state(DEVICE)
    return -1 if state is None else state.seq


def acked(wearable: Device) -> int:
    """Packets the broker has acknowledged to the wearable (at least)."""
    return wearable.stats.packets_sent - wearable.stats.unacked


@contextmanager
def recording(broker: BrokerProcess, store_url: str) -> Iterator[Recorder]:
    """The recorder in this process with its own login."""
    recorder = Recorder(RecorderSettings(broker.login("recorder"), store_url, client_id="e2e-recorder"))
    recorder.start()
    try:
        yield recorder
    finally:
        recorder.close()


@contextmanager
def services(broker: BrokerProcess, store_url: str) -> Iterator[tuple[Recorder, Worker]]:
    """The recorder and the worker in this process, each with its own login."""
    recorder = Recorder(RecorderSettings(broker.login("recorder"), store_url, client_id="e2e-recorder"))
    worker = Worker(
        WorkerSettings(broker.login("worker"), store_url, client_id="e2e-worker", snapshot_every_s=SNAPSHOT_EVERY_S)
    )
    recorder.start()
    worker.start()
    try:
        yield recorder, worker
    finally:
        worker.close()
        recorder.close()


def service_process(broker: BrokerProcess, user: str, store_url: str, *options: str) -> subprocess.Popen[bytes]:
    """``sitless recorder`` or ``sitless worker`` logging in as ``user`` (password file and CA from the environment)."""
    url = broker.login(user).url
    cmd = [sys.executable, "-m", "ingest.cli", user, "--broker", url, "--store", store_url]
    return subprocess.Popen([*cmd, "--client-id", f"e2e-{user}-proc", *options], env=service_env(broker, user))


def healthy(port: int) -> bool:
    """Whether a service's ``/healthz`` answers 200: it is subscribed and its loop runs (ingest.metrics)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


# A paho client given up on while the broker restarts (ingest.broker.wait_for_broker's
# probes, the services' reconnections) may leave the socket pair of its loop_start to the
# garbage collector, which warns when it collects it during this test.
@pytest.mark.filterwarnings("ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning")
def test_broker_restart_mid_stream_with_tls_and_logins(tls_broker: BrokerProcess, store_url: str) -> None:
    """The broker stops mid-stream and starts again on its port and data folder; the wearable,
    recorder and worker log in again by themselves. mosquitto: every packet stored and
    analysed once. amqtt keeps no session, so what was sent while the services were away
    is lost, and amqtt 0.12.1 drops a message it is delivering while a subscription
    changes (``Broker._run_broadcast``): the services are back, storing and analysing
    packets sent after the restart, and nothing is stored twice."""
    with ExitStack() as cleanup, services(tls_broker, store_url) as (recorder, worker):
        wearable = device(tls_broker.login(DEVICE), minutes=37.0, speed=120.0, loop=True)  # until stopped
        with streaming(wearable):
            wait_until(lambda: recorder.stats.stored > 200, what="the stream to start")
            tls_broker.stop()  # SIGTERM: mosquitto saves its sessions and exits
            wait_until(lambda: wearable.stats.unacked > 20, what="the wearable to queue while the broker is down")
            down_at = wearable.stats.packets_sent
            again = BrokerProcess(
                tls_broker.address, engine=tls_broker.engine, data_dir=tls_broker.data_dir, tls=tls_broker.tls
            )
            cleanup.enter_context(again)
            wait_until(lambda: recorder.client.is_connected() and worker.client.is_connected(), what="the services")
            wait_until(lambda: acked(wearable) > down_at + 100, what="the wearable to publish into the restart")
            wait_until(lambda: max(stored(store_url)) > down_at + 100, what="the recorder to store again")
        sent = wearable.stats.packets_sent
        assert wearable.stats.unacked == 0
        if tls_broker.engine is BrokerEngine.MOSQUITTO:
            wait_until(lambda: len(stored(store_url)) == sent, what="every packet stored")
            wait_until(lambda: saved_seq(store_url) == sent - 1, what="the worker to analyse every packet")
            assert stored(store_url) == list(range(sent))
        else:
            wait_until(lambda: saved_seq(store_url) > down_at, what="the worker to analyse again")
        # QoS 1 in flight at the stop may come twice (recorder.stats.duplicates); the store keeps one.
        seqs = stored(store_url)  # read once: the recorder may still be storing
        assert len(set(seqs)) == len(seqs)
        assert recorder.running
        assert worker.running


@pytest.mark.parametrize("subscribe", ["all", "held"])
def test_worker_killed_with_sigkill_resumes_the_bout_with_tls_and_logins(
    tls_broker: BrokerProcess, store_url: str, subscribe: str
) -> None:
    """The worker process, logged in as ``worker`` over TLS, is killed mid-bout and started
    again: the alert comes 10 min after the wearer sat down, and every packet is stored once.
    Subscribed to the devices it holds (``held``), it finds the wearable by its status, and
    its session keeps the wearable's subscription while it is dead."""
    limit = ("--max-sitting-min", "10", "--subscribe", subscribe)
    Store(store_url).close()  # created before the processes and the test's readers open it
    with recording(tls_broker, store_url) as recorder:
        metrics_port = free_port()
        worker = service_process(tls_broker, "worker", store_url, *limit, "--metrics-port", str(metrics_port))
        try:
            # Its session exists from here on: the broker queues what it is sent while it is dead.
            wait_until(lambda: healthy(metrics_port), what="the worker to subscribe")
            wearable = device(tls_broker.login(DEVICE), minutes=14.0, speed=120.0)
            runner = threading.Thread(target=wearable.run)
            runner.start()
            wait_until(lambda: len(events(store_url, "sitting_started")) == 1, what="sitting to start")
            wait_until(lambda: recorder.stats.stored > (20 + 120 + 240) * 2, what="4 min of sitting")
            worker.send_signal(signal.SIGKILL)  # a crash: no goodbye, no final save
            worker.wait(10)
            wait_until(lambda: recorder.stats.stored > (20 + 120 + 420) * 2, what="3 more minutes")
            worker = service_process(tls_broker, "worker", store_url, *limit)
            runner.join(120)
            sent = wearable.stats.packets_sent
            wait_until(lambda: len(events(store_url, "alert")) >= 1, what="the alert after the restart")
            wait_until(lambda: len(stored(store_url)) == sent, what="every packet stored")
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(20)
    assert stored(store_url) == list(range(sent))
    (started,) = events(store_url, "sitting_started")
    (alert,) = events(store_url, "alert")
    assert alert["sitting_since_s"] == started["t_s"]
    bout_s = float(alert["t_s"]) - float(started["t_s"])  # type: ignore[arg-type]
    assert 10 * 60 <= bout_s <= 10 * 60 + 60  # the alert is checked once per 60-s window


def announce_status(broker: BrokerProcess) -> None:
    """The wearable's retained status, published with its login: a recorder stores it once subscribed."""
    client = make_client("e2e-announce")
    connect(client, broker.login(DEVICE))
    client.publish(topic(DEVICE, Kind.STATUS), '{"online": true}', qos=1, retain=True).wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


def status_stored(store_url: str) -> bool:
    with Store(store_url) as store:
        return DEVICE in store.devices()


def test_recorder_killed_with_sigkill_loses_and_doubles_nothing_with_tls_and_logins(
    tls_broker: BrokerProcess, store_url: str
) -> None:
    """The recorder process, logged in as ``recorder`` over TLS, is killed twice mid-stream
    and started again: every packet the wearable sent is stored exactly once."""
    Store(store_url).close()
    recorder = service_process(tls_broker, "recorder", store_url)
    try:
        announce_status(tls_broker)
        # Its session exists from here on: the broker queues what it is sent while it is dead.
        wait_until(lambda: status_stored(store_url), what="the recorder to subscribe")
        wearable = device(tls_broker.login(DEVICE), minutes=37.0, speed=120.0, loop=True)  # until stopped
        with streaming(wearable) as runner:
            for _ in range(2):
                goal = len(stored(store_url)) + 100
                wait_until(lambda: len(stored(store_url)) >= goal, what="the recorder to store")  # noqa: B023
                assert runner.is_alive(), "the wearable stopped streaming"
                recorder.kill()
                recorder.wait(10)
                recorder = service_process(tls_broker, "recorder", store_url)
            goal = len(stored(store_url)) + 100
            wait_until(lambda: len(stored(store_url)) >= goal, what="the last recorder to store")
        sent = wearable.stats.packets_sent
        assert wearable.stats.unacked == 0
        wait_until(lambda: len(stored(store_url)) == sent, what="every packet stored")
    finally:
        recorder.terminate()
        recorder.wait(20)
    assert stored(store_url) == list(range(sent))


def test_store_outage_is_waited_out_with_tls_and_logins(
    tls_broker: BrokerProcess,
    store_url: str,
    store_outage: StoreOutage,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Another writer holds the store past the busy timeout, or its disk is full,
    mid-stream: both services keep their TLS sessions, retry, and once the store takes
    writes again every packet is stored once and analysed once. On both engines the
    outage outlasts the worker's first failure and 5 s of deliveries left unacknowledged
    (``tests.e2e.helpers.RETRIES_PAST_AMQTT_PUBACK_TIMEOUT``)."""
    with services(tls_broker, store_url) as (recorder, worker):
        wearable = device(tls_broker.login(DEVICE), minutes=12.0, speed=60.0)
        with streaming(wearable) as runner:
            wait_until(lambda: recorder.stats.stored > 200, what="the stream to start")
            ride_out(store_outage, caplog.records, recorder, worker)
            sent_all(runner)
        sent = wearable.stats.packets_sent
        assert wearable.stats.unacked == 0
        wait_until(lambda: recorder.stats.stored == sent, what="the held packets")
        wait_until(lambda: saved_seq(store_url) == sent - 1, what="the worker to save its state")
        assert worker.running
        assert recorder.running
    assert stored(store_url) == list(range(sent))
    assert recorder.stats.duplicates == 0


# paho 2.2 leaves the socket of a TLS handshake that fails (the cut proxy hangs up) to the
# garbage collector (paho/mqtt/client.py, Client._ssl_wrap_socket): a ResourceWarning.
@pytest.mark.filterwarnings("ignore:Exception ignored in. <ssl.SSLSocket:pytest.PytestUnraisableExceptionWarning")
def test_gateway_without_its_broker_for_a_while_with_tls_and_logins(
    tls_broker: BrokerProcess,
    sensor: SimSensor,
    tmp_path: Path,
    proxy_factory: Callable[[BrokerAddress], TcpProxy],
) -> None:
    """The gateway, logged in as ``gateway`` over TLS, loses its broker: the simulated
    sensor's packets wait on disk, and once the broker is reachable again the gateway
    reconnects by itself and publishes each of them, in order. A packet whose
    acknowledgement the cut lost is sent again, as QoS 1 must (the recorder stores it
    once): only those, from before the broker came back, may be heard twice."""
    proxy = proxy_factory(tls_broker.address)
    heard = Heard(tls_broker.login("worker"), safe_device_id(sensor.address))  # the worker may read samples
    try:
        settings = gateway_settings(via(tls_broker, proxy.address, "gateway"), sensor, tmp_path)
        with running(settings) as gateway:
            wait_until(lambda: heard.count() >= 4, what="4 packets")
            proxy.cut()
            wait_until(lambda: gateway.outbox.count() >= 6, what="6 packets kept while the broker is away")
            kept = gateway.counts["packets"]
            proxy.restore()
            wait_until(lambda: heard.count() >= kept, what="the kept packets published")
            sensor.power(False)  # no new packets: the outbox empties as the broker acknowledges
            wait_until(lambda: gateway.outbox.count() == 0, what="the outbox emptied")
        seqs = sorted(heard.packets)
        assert seqs == list(range(len(seqs))), "no sequence number lost or reused"
        assert len(seqs) == gateway.counts["packets"]
        assert all(seq < kept for seq in heard.redelivered), heard.redelivered  # in flight at the cut
    finally:
        heard.close()
