"""Nothing lost on the default broker: the recorder and the broker die mid-stream, and
every packet the simulated wearable sent is stored exactly once.

These run on the broker ``sitless demo`` starts (engine auto), which is mosquitto with
its sessions kept in a data folder; the amqtt fallback keeps no session across a broker
restart and may lose QoS 1 messages in flight to a recorder that dies, so they skip
(or fail, with ``SITLESS_REQUIRE_MOSQUITTO=1``) where mosquitto is not installed.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from firmware_sim.device import Device
from ingest.broker import LOGINS_DIR, BrokerEngine, BrokerProcess, free_port, wait_for_broker
from ingest.broker_setup import Logins
from ingest.mosquitto import find_mosquitto, persistence_path
from ingest.mqtt import BrokerAddress, connect, make_client
from ingest.recorder import Recorder, RecorderSettings
from ingest.store import Store
from ingest.topics import Kind, topic
from tests.e2e.helpers import DEVICE, device, streaming
from tests.support import missing, wait_until

pytestmark = pytest.mark.e2e

RECORDER_ID = "e2e-durable-recorder"
PROBE = "e2e-probe"  # a device whose retained status shows that a recorder has subscribed
KILLS = 5


def stored(store_url: str) -> list[int]:
    with Store(store_url) as store:
        return store.seqs(DEVICE)


def wait_for_progress(store_url: str, what: str, packets: int = 100) -> None:
    """Wait until ``packets`` more packets are stored than now."""
    goal = len(stored(store_url)) + packets
    wait_until(lambda: len(stored(store_url)) >= goal, what=what)


def acked(wearable: Device) -> int:
    """Packets the broker has acknowledged to the wearable (at least)."""
    stats = wearable.stats
    return stats.packets_sent - stats.unacked


def recorder_process(broker: BrokerAddress, store_url: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "ingest.cli", "recorder", "--broker", broker.url, "--store", store_url]
    return subprocess.Popen([*cmd, "--client-id", RECORDER_ID])


def announce_probe(broker: BrokerAddress) -> None:
    client = make_client("e2e-probe")
    connect(client, broker)
    client.publish(topic(PROBE, Kind.STATUS), '{"online": true}', qos=1, retain=True).wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


def probe_stored(store_url: str) -> bool:
    with Store(store_url) as store:
        return PROBE in store.devices()


def test_recorder_killed_mid_stream_again_and_again_loses_and_doubles_nothing(
    demo_broker: BrokerProcess, store_url: str
) -> None:
    """The recorder process is killed with SIGKILL five times while the wearable streams,
    and started again each time: every packet the wearable sent is stored exactly once."""
    broker = demo_broker.address
    Store(store_url).close()  # created before the recorders and the test's readers open it
    announce_probe(broker)
    recorder = recorder_process(broker, store_url)
    try:
        # Its session exists from here on: the broker queues what it is sent while it is dead.
        wait_until(lambda: probe_stored(store_url), what="the recorder to subscribe")
        wearable = device(broker, minutes=37.0, speed=120.0, loop=True)  # until stopped
        with streaming(wearable) as runner:
            for _ in range(KILLS):
                wait_for_progress(store_url, "the restarted recorder to store")
                assert runner.is_alive(), "the wearable stopped streaming"
                recorder.kill()
                recorder.wait(10)
                recorder = recorder_process(broker, store_url)
            wait_for_progress(store_url, "the last recorder to store")
        sent = wearable.stats.packets_sent
        assert wearable.stats.unacked == 0
        wait_until(lambda: len(stored(store_url)) == sent, what="every packet stored")
    finally:
        recorder.terminate()
        recorder.wait(20)
    assert stored(store_url) == list(range(sent))


def test_broker_restart_keeps_the_absent_recorders_session_and_queue(
    demo_broker: BrokerProcess, store_url: str
) -> None:
    """The broker is stopped mid-stream and started again on its port and data folder while
    the wearable keeps sampling; the recorder, away from before the stop until after the
    restart, then gets every packet: none lost, none stored twice."""
    address = demo_broker.address
    settings = RecorderSettings(address, store_url, client_id=RECORDER_ID)
    first = Recorder(settings)
    first.start()
    wearable = device(address, minutes=37.0, speed=300.0, loop=True)  # until stopped
    with ExitStack() as cleanup:
        cleanup.callback(first.close)
        with streaming(wearable):
            wait_until(lambda: first.stats.stored > 200, what="the stream to start")
            first.close()
            away_from = wearable.stats.packets_sent
            # More than mosquitto's default queue limit of 1,000 (STACK.md) waits for it.
            wait_until(lambda: acked(wearable) > away_from + 1200, what="packets queued for the absent recorder")
            demo_broker.stop()  # SIGTERM: mosquitto saves its sessions and exits
            wait_until(lambda: wearable.stats.unacked > 20, what="the wearable to queue while the broker is down")
            down_at = wearable.stats.packets_sent
            again = BrokerProcess(address, engine=demo_broker.engine, data_dir=demo_broker.data_dir, open_access=True)
            cleanup.enter_context(again)
            wait_until(lambda: acked(wearable) > down_at + 200, what="the wearable to publish into the restart")
            back = Recorder(settings)
            back.start()
            cleanup.callback(back.close)
            wait_for_progress(store_url, "the recorder to come back")
        sent = wearable.stats.packets_sent
        assert wearable.stats.unacked == 0
        wait_until(lambda: len(stored(store_url)) == sent, what="every packet stored")
    assert stored(store_url) == list(range(sent))


def saved_since(path: Path, t_ns: int) -> bool:
    """Whether the broker wrote its sessions file after ``t_ns`` (epoch ns)."""
    return path.exists() and path.stat().st_mtime_ns > t_ns


def test_broker_killed_outright_comes_back_with_the_sessions_it_saved(
    demo_broker: BrokerProcess, store_url: str
) -> None:
    """A broker killed with SIGKILL restarts from its last autosave: the recorder's session,
    saved before the kill, queues what the wearable sends while the recorder is away."""
    address = demo_broker.address
    settings = RecorderSettings(address, store_url, client_id=RECORDER_ID)
    recorder = Recorder(settings)
    recorder.start()
    subscribed_ns = time.time_ns()
    recorder.close()
    sessions = persistence_path(demo_broker.data_dir, address.port)
    wait_until(lambda: saved_since(sessions, subscribed_ns), what="an autosave")
    demo_broker.kill()
    with BrokerProcess(address, engine=demo_broker.engine, data_dir=demo_broker.data_dir, open_access=True):
        wearable = device(address, minutes=3.0, speed=300.0)
        stats = wearable.run()  # returns once the broker acknowledged every packet
        assert stats.unacked == 0
        recorder = Recorder(settings)
        recorder.start()
        try:
            wait_until(lambda: len(stored(store_url)) == stats.packets_sent, what="every packet stored")
        finally:
            recorder.close()
    assert stored(store_url) == list(range(stats.packets_sent))


def test_sitless_broker_saves_its_sessions_when_stopped_with_ctrl_c(tmp_path: Path) -> None:
    """``sitless broker`` runs mosquitto with its sessions file in ``--data-dir``; Ctrl-C
    stops it cleanly, and mosquitto writes the file on the way out."""
    if find_mosquitto() is None:
        missing("mosquitto", "SITLESS_REQUIRE_MOSQUITTO", "apt-get install mosquitto")
    address = BrokerAddress("127.0.0.1", free_port())
    cmd = [sys.executable, "-m", "ingest.cli", "broker", "--port", str(address.port), "--data-dir", str(tmp_path)]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        assert f"mosquitto on {address.url}" in proc.stdout.readline()
        assert wait_for_broker(Logins(tmp_path / LOGINS_DIR).address(address, "reader"))
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    assert persistence_path(tmp_path, address.port).exists()


def test_without_mosquitto_the_embedded_broker_is_amqtt_and_says_what_it_does_not_keep(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """Where mosquitto is not installed the demo's broker falls back to amqtt, with one
    warning that its sessions do not survive a restart."""
    monkeypatch.setattr("ingest.broker.find_mosquitto", lambda: None)
    with BrokerProcess(BrokerAddress("127.0.0.1", free_port()), data_dir=tmp_path / "broker") as broker:
        assert broker.engine is BrokerEngine.AMQTT
        assert wait_for_broker(broker.login("reader"))
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "do not survive a broker restart" in warning
    assert [p.name for p in (tmp_path / "broker").iterdir()] == [LOGINS_DIR]  # amqtt keeps no sessions on disk
    with pytest.raises(RuntimeError, match="mosquitto is not installed"):
        BrokerProcess(broker.address, engine=BrokerEngine.MOSQUITTO)
