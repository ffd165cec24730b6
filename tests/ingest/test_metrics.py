"""Metrics and health over HTTP from a real worker and recorder on a real broker."""

from __future__ import annotations

import asyncio
import json
import re
import select
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import paho.mqtt.client as paho
import pytest
from prometheus_client.parser import text_string_to_metric_families

from analysis import Placement
from firmware_sim.ble import SimClient, SimScanner, SimSensor, new_address, register, unregister
from firmware_sim.device import DeviceSettings
from firmware_sim.scenarios import scenario
from ingest import cli
from ingest.broker import BrokerEngine, BrokerProcess
from ingest.codec import Batch, encode
from ingest.gateway import Gateway, GatewaySettings, SensorSpec
from ingest.metrics import (
    METRICS,
    Health,
    MetricsEndpoint,
    MetricsServer,
    ServiceMetrics,
    ThreadCpu,
    metrics_endpoint,
)
from ingest.mqtt import BrokerAddress
from ingest.recorder import Recorder, RecorderSettings
from ingest.service import MqttService
from ingest.topics import Kind, topic
from ingest.worker import Worker, WorkerSettings
from tests.support import free_port, mqtt_client, wait_until

pytestmark = pytest.mark.e2e

DEVICE = "metrics-01"
T0_S = 1.7e9
SAMPLES = 25  # per packet
# Sent in this order: seq 0, 1, 1 again (a redelivery), 3 (after a gap), then a malformed packet.
SEQS = (0, 1, 1, 3)


def packet(seq: int) -> bytes:
    acc = np.tile(np.array([0, 0, 4096], dtype=np.int16), (SAMPLES, 1))
    return encode(Batch(seq=seq, t0_s=T0_S + seq * SAMPLES / 50.0, rate_hz=50.0, acc_scale_g=1 / 4096, acc=acc))


def scrape(server: MetricsServer) -> dict[str, float]:
    """Every ``service``-labelled sample of ``/metrics``, by sample name."""
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples if "service" in s.labels}


def health(server: MetricsServer) -> tuple[int, dict[str, object]]:
    """The status and JSON body of ``/healthz``."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.fixture
def broker() -> Iterator[BrokerProcess]:
    """The embedded broker, stoppable within a test."""
    with BrokerProcess(BrokerAddress("127.0.0.1", free_port()), engine=BrokerEngine.AMQTT, open_access=True) as process:
        yield process


@pytest.fixture
def services(broker: BrokerProcess, store_url: str) -> Iterator[dict[str, tuple[MqttService, MetricsServer]]]:
    """A worker and a recorder, started, each serving its metrics on a port the system picked."""
    worker = Worker(WorkerSettings(broker.address, store_url, client_id="test-metrics-worker", reorder_wait_s=0.2))
    recorder = Recorder(RecorderSettings(broker.address, store_url, client_id="test-metrics-recorder"))
    running: dict[str, tuple[MqttService, MetricsServer]] = {}
    try:
        for name, service in (("worker", worker), ("recorder", recorder)):
            service.start()
            running[name] = (service, MetricsServer(service.metrics, MetricsEndpoint(0)))
        yield running
    finally:
        for service, server in running.values():
            service.close()
            server.close()


@pytest.fixture
def publisher(broker: BrokerProcess) -> Iterator[paho.Client]:
    with mqtt_client("test-metrics-publisher", broker.address) as client:
        yield client


def send_packets(client: paho.Client) -> None:
    for payload in [*(packet(seq) for seq in SEQS), b"\x01\x02 not a packet"]:
        client.publish(topic(DEVICE, Kind.IMU), payload, qos=1).wait_for_publish(timeout=30)


def test_counts_on_metrics_equal_what_was_sent(
    services: dict[str, tuple[MqttService, MetricsServer]], publisher: paho.Client
) -> None:
    """Five packets in (one redelivered, one malformed, one after a gap): each service's counters say so."""
    send_packets(publisher)
    expected = {
        "sitless_packets_received_total": 5.0,
        "sitless_bad_packets_total": 1.0,
        "sitless_duplicate_packets_total": 1.0,
        "sitless_samples_received_total": 3.0 * SAMPLES,
        "sitless_sequence_gaps_total": 1.0,
    }
    recorder_expected = {**expected, "sitless_packets_stored_total": 3.0}
    for name, want in (("worker", expected), ("recorder", recorder_expected)):
        server = services[name][1]

        def counted(server: MetricsServer = server, want: dict[str, float] = want) -> bool:
            got = scrape(server)
            return all(got.get(k) == v for k, v in want.items())

        wait_until(counted, timeout_s=30, what=f"the {name}'s counters to reach {want}")
        got = scrape(server)
        exported = {re.sub(r"_(total|bucket|count|sum)$", "", n) for n in got if not n.endswith("_created")}
        assert exported == {spec.name for spec in METRICS if name in spec.services}  # each its own, all from start
        assert got["sitless_mqtt_connected"] == 1.0
        assert got["sitless_store_write_failures_total"] == 0.0
        assert got["sitless_mqtt_reconnects_total"] == 0.0
        assert got["sitless_inbox_messages"] >= 0.0
        assert got["sitless_lag_seconds"] >= 0.0
        assert got["sitless_mqtt_client_cpu_seconds_total"] >= 0.0
    worker = scrape(services["worker"][1])
    assert worker["sitless_wearers"] == 1.0
    assert worker["sitless_held_packets"] == 0.0  # the gap was given up on, the rest analysed
    assert worker["sitless_sample_age_seconds_count"] == 3.0  # each packet analysed has its age observed
    with pytest.raises(urllib.error.HTTPError) as caught:  # only /metrics and /healthz are served
        urllib.request.urlopen(f"http://127.0.0.1:{server.port}/", timeout=10)
    assert caught.value.code == 404
    caught.value.close()


def test_every_metric_has_help_and_a_conventional_name() -> None:
    """Names follow the Prometheus conventions: sitless_ prefix, no _total in the spec, base units."""
    names = [spec.name for spec in METRICS]
    assert len(names) == len(set(names))
    for spec in METRICS:
        assert spec.name.startswith("sitless_"), spec.name
        assert not spec.name.endswith("_total"), spec.name  # the client library appends it to counters
        assert spec.help.endswith("."), spec.name


def test_healthz_is_503_once_the_service_closed_or_the_broker_is_gone(
    services: dict[str, tuple[MqttService, MetricsServer]], broker: BrokerProcess
) -> None:
    """/healthz answers 200 while connected; 503 for a closed service at once, and once the broker stops."""
    for service, server in services.values():
        status, body = health(server)
        assert status == 200
        assert body == {"status": "ok", "connected": True, "running": True, "lag_s": round(service.lag_s, 3)}
    worker, worker_server = services["worker"]
    worker.close()
    status, body = health(worker_server)
    assert (status, body["status"], body["running"]) == (503, "unavailable", False)
    recorder_server = services["recorder"][1]
    assert health(recorder_server)[0] == 200  # the other service is not affected
    broker.stop()
    wait_until(lambda: health(recorder_server)[0] == 503, timeout_s=30, what="the recorder to report the lost broker")
    assert health(recorder_server)[1]["connected"] is False


def test_gateway_counts_notifications_and_packets_and_is_healthy_while_streaming(
    broker: BrokerProcess, tmp_path: Path
) -> None:
    """A simulated sensor streams through the gateway: its counters move, /healthz is 200, then 503 once stopped."""
    sensor = SimSensor(new_address(), scenario("quick"), DeviceSettings(placement=Placement.THIGH, loop=True))
    register(sensor)
    settings = GatewaySettings(
        broker.address,
        (SensorSpec(sensor.address, placement=Placement.THIGH),),
        tmp_path,
        backoff_s=(0.1, 0.5),
        scan_timeout_s=0.3,
        drain_timeout_s=2.0,
        backend=SimClient,
        scanner_backend=SimScanner,
    )
    gateway = Gateway(settings)
    thread = threading.Thread(target=lambda: asyncio.run(gateway.run()), daemon=True)
    try:
        with MetricsServer(gateway.metrics, MetricsEndpoint(0)) as server:
            assert health(server)[0] == 503  # not running yet
            thread.start()

            def streaming() -> bool:
                got = scrape(server)
                return got.get("sitless_packets_published_total", 0) >= 2 and health(server)[0] == 200

            wait_until(streaming, timeout_s=60, what="the gateway to publish packets")
            got = scrape(server)
            assert {n.removesuffix("_total") for n in got} == {s.name for s in METRICS if "gateway" in s.services}
            assert got["sitless_ble_notifications_total"] >= 1
            assert got["sitless_bad_notifications_total"] == 0
            assert got["sitless_sensor_reconnects_total"] == 0
            assert got["sitless_mqtt_connected"] == 1.0
            assert got["sitless_outbox_packets"] >= 0  # acknowledged packets leave it
            gateway.stop()
            thread.join(120)
            assert health(server)[0] == 503
    finally:
        if thread.is_alive():
            gateway.stop()
            thread.join(120)
        unregister(sensor)


def test_metrics_options_default_off_and_local() -> None:
    """Without --metrics-port nothing is served; with it the host defaults to this machine."""
    from ingest.cli import _build_parser

    parser = _build_parser()
    assert metrics_endpoint(parser.parse_args(["worker"])) is None
    assert metrics_endpoint(parser.parse_args(["recorder", "--metrics-port", "9101"])) == MetricsEndpoint(9101)
    gateway = parser.parse_args(["gateway", "--metrics-port", "9103", "--metrics-host", "0.0.0.0"])
    assert metrics_endpoint(gateway) == MetricsEndpoint(9103, "0.0.0.0")
    with pytest.raises(ValueError, match=r"0\.\.65535"):
        MetricsEndpoint(70000)
    with pytest.raises(SystemExit) as stopped:  # argparse's one-line error, not a traceback
        parser.parse_args(["recorder", "--metrics-port", "70000"])
    assert stopped.value.code == 2


def test_health_body() -> None:
    assert Health(connected=False, running=True).to_dict()["status"] == "unavailable"


def healthy() -> Health:
    return Health(connected=True, running=True, lag_s=0.0)


def silent_client(server: MetricsServer) -> socket.socket:
    """A connection that sends the first line of a request and then nothing, as a slow-loris client does."""
    client = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    client.sendall(b"GET /metrics HTTP/1.1\r\n")
    return client


def closed_by_server(client: socket.socket) -> bool:
    """Wait for the server to end the connection: the end of the stream, or a reset (it left a request unread)."""
    try:
        return client.recv(1) == b""  # the socket's timeout bounds a test that is going to fail
    except ConnectionResetError:
        return True


def still_open(client: socket.socket) -> bool:
    """Whether nothing has come from the server yet: neither data nor the end of the stream."""
    return not select.select([client], [], [], 0)[0]


def test_a_silent_client_is_disconnected_after_the_timeout() -> None:
    """A client that sends one line and then nothing is disconnected; the server goes on serving."""
    with MetricsServer(ServiceMetrics("worker", healthy), MetricsEndpoint(0), timeout_s=0.2) as server:
        with silent_client(server) as client:
            assert closed_by_server(client)
        assert health(server)[0] == 200


def test_a_client_that_keeps_sending_a_little_is_disconnected_after_the_timeout() -> None:
    """A byte every 50 ms never lets the socket time out; the connection still ends once it is timeout_s old."""
    server = MetricsServer(ServiceMetrics("worker", healthy), MetricsEndpoint(0), timeout_s=0.3)
    with server, socket.create_connection(("127.0.0.1", server.port), timeout=30) as client:
        client.sendall(b"GET /metrics HTTP/1.1\r\nX-Drip: ")  # a header line that never ends
        ended = False
        deadline = time.monotonic() + 30  # bounds a test that is going to fail
        while not ended and time.monotonic() < deadline:
            try:
                client.sendall(b"a")
                ended = not still_open(client) and closed_by_server(client)
            except (BrokenPipeError, ConnectionResetError):
                ended = True
            time.sleep(0.05)
        assert ended


def test_past_the_cap_a_connection_is_closed_at_once_and_scrapes_go_on() -> None:
    """With max_connections silent clients held one more is closed; with one fewer a scrape is served.

    Closing the server ends the connections still held, without waiting for their timeout.
    """
    cap = 4
    with MetricsServer(
        ServiceMetrics("worker", healthy), MetricsEndpoint(0), timeout_s=60, max_connections=cap
    ) as server:
        held = [silent_client(server) for _ in range(cap)]
        with silent_client(server) as extra:
            assert closed_by_server(extra)
        assert all(still_open(client) for client in held)  # the newcomer was turned away, not one already in
        held.pop().close()  # its thread sees the end and frees its place

        def scraped() -> bool:
            try:
                return bool(scrape(server))
            except OSError:  # turned away while the closed one's thread was still finishing
                return False

        wait_until(scraped, timeout_s=30, what="a scrape beside cap - 1 silent clients")
        assert all(still_open(client) for client in held)
    assert all(closed_by_server(client) for client in held)
    for client in held:
        client.close()


def test_a_health_check_that_raises_is_a_503_and_a_log_line(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """The service's own bug in health() gives 503 and one line in its log, not a traceback on stderr."""

    def broken() -> Health:
        raise RuntimeError("health check bug")

    with MetricsServer(ServiceMetrics("worker", broken), MetricsEndpoint(0)) as server:
        assert health(server) == (503, {"status": "error"})
        assert scrape(server)  # the metrics do not depend on it
    assert any("/healthz failed" in r.getMessage() and r.exc_info for r in caplog.records)
    assert "health check bug" not in capsys.readouterr().err


@pytest.mark.parametrize(
    "command", [["recorder"], ["worker"], ["gateway", "--device", "AA:BB:CC:DD:EE:FF", "--data-dir", "{tmp}"]]
)
def test_a_busy_metrics_port_is_a_one_line_error(
    command: list[str], store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A port another program listens on: exit status 1 and one line naming host and port, no traceback."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        argv = [part.replace("{tmp}", str(tmp_path)) for part in command]
        if command[0] != "gateway":
            argv += ["--store", store_url, "--broker", "mqtt://127.0.0.1:1"]  # never reached: the port fails first
        status = cli.main([*argv, "--metrics-port", str(port)])
    err = capsys.readouterr().err
    assert status == 1
    assert err == f"sitless {command[0]}: cannot serve metrics on 127.0.0.1:{port}: Address already in use\n"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a thread's CPU time is read from /proc (Linux)")
def test_thread_cpu_sums_the_threads_that_did_the_work_in_turn() -> None:
    """Two threads in turn, as the MQTT client's after a take-back: the first retired, the second read while alive."""
    cpu = ThreadCpu()
    spent: list[float] = []

    def work(last: bool) -> None:
        cpu.enter()
        start = time.thread_time()
        while time.thread_time() - start < 0.2:
            pass
        if last:
            cpu.seconds()  # a scrape while the thread runs: its time stays after it ended
        spent.append(time.thread_time())
        if not last:
            cpu.retire()

    for last in (False, True):
        thread = threading.Thread(target=work, args=(last,))
        thread.start()
        thread.join()
    total = cpu.seconds()
    assert sum(spent) - 0.05 <= total <= sum(spent) + 0.05  # /proc counts in 10-ms ticks
    assert total <= time.process_time()
