"""Several recorders sharing a fleet's packets through an MQTT 5 shared subscription, on mosquitto:
each packet stored once, a recorder killed and restarted loses nothing, and a share group the
broker cannot serve is refused."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator

import paho.mqtt.client as paho
import pytest

from ingest.mqtt import BrokerAddress
from ingest.recorder import Recorder, RecorderSettings
from ingest.service import probe_topic
from ingest.store import Store
from ingest.topics import Kind, topic
from tests.e2e.helpers import ProbeLog
from tests.ingest.test_recorder import packet
from tests.support import mqtt_client, wait_until

pytestmark = pytest.mark.e2e

DEVICES = [f"shared-{i}" for i in range(3)]  # odd: the broker, taking turns, gives each device's packets to both
GROUP = "recorders"


@pytest.fixture
def publisher(mosquitto_broker: BrokerAddress) -> Iterator[paho.Client]:
    with mqtt_client("share-test-publisher", mosquitto_broker) as client:
        yield client


def recorder(broker: BrokerAddress, store_url: str, name: str, share_group: str | None = GROUP) -> Recorder:
    started = Recorder(RecorderSettings(broker, store_url, client_id=f"share-test-{name}", share_group=share_group))
    started.start()
    return started


def sending(client: paho.Client, seqs: range) -> list[paho.MQTTMessageInfo]:
    """Publish each device's packets ``seqs``, the devices in turn, at QoS 1; their delivery handles."""
    return [client.publish(topic(d, Kind.IMU), packet(seq), qos=1) for seq in seqs for d in DEVICES]


def publish(client: paho.Client, seqs: range) -> None:
    """:func:`sending`, then wait for the broker to acknowledge every packet."""
    for info in sending(client, seqs):
        info.wait_for_publish(60)


def stored(store_url: str) -> dict[str, list[int]]:
    with Store(store_url) as store:
        return {d: store.seqs(d) for d in DEVICES}


def test_recorders_in_a_share_group_store_each_packet_once_between_them(
    mosquitto_broker: BrokerAddress, any_store_url: str, publisher: paho.Client
) -> None:
    """Two recorders in one group: every packet stored once, each stores a part, no false gaps;
    each takes every status (a shared subscription would not deliver retained ones)."""
    a = recorder(mosquitto_broker, any_store_url, "a")
    b = recorder(mosquitto_broker, any_store_url, "b")
    try:
        publish(publisher, range(50))
        for d in DEVICES:
            body = json.dumps({"online": True, "placement": "thigh"})
            publisher.publish(topic(d, Kind.STATUS), body, qos=1, retain=True).wait_for_publish(60)
        wait_until(lambda: stored(any_store_url) == {d: list(range(50)) for d in DEVICES}, what="every packet")
        wait_until(lambda: a.stats.statuses == b.stats.statuses == len(DEVICES), what="every status by each")
    finally:
        a.close()
        b.close()
    assert a.stats.stored + b.stats.stored == 50 * len(DEVICES)
    assert min(a.stats.stored, b.stats.stored) > 0  # the broker shared them out
    assert (a.stats.duplicates, b.stats.duplicates) == (0, 0)
    assert (a.stats.gaps, a.stats.late, b.stats.gaps, b.stats.late) == (0, 0, 0, 0)  # none seen, none counted
    with Store(any_store_url) as store:
        assert all(store.gaps(d) == [] for d in DEVICES)


def test_a_recorder_joining_a_group_drops_the_every_device_filter_its_session_kept(
    mosquitto_broker: BrokerAddress, store_url: str, publisher: paho.Client
) -> None:
    """A recorder that ran alone keeps ``sitless/v1/+/imu`` in its persistent session; started
    again in a group it unsubscribes it, so it no longer takes every packet."""
    recorder(mosquitto_broker, store_url, "a", share_group=None).close()
    a = recorder(mosquitto_broker, store_url, "a")
    b = recorder(mosquitto_broker, store_url, "b")
    try:
        publish(publisher, range(40))
        wait_until(lambda: a.stats.stored + b.stats.stored == 40 * len(DEVICES), what="every packet")
    finally:
        a.close()
        b.close()
    assert a.stats.duplicates == 0  # with the old filter kept it would take every packet once more
    assert 0 < a.stats.stored < 40 * len(DEVICES)


def recorder_process(broker: BrokerAddress, store_url: str, name: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "ingest.cli", "recorder", "--broker", broker.url, "--store", store_url]
    return subprocess.Popen([*cmd, "--client-id", f"share-test-{name}", "--share-group", GROUP])


def test_a_recorder_killed_in_a_share_group_loses_nothing(
    mosquitto_broker: BrokerAddress, store_url: str, publisher: paho.Client
) -> None:
    """SIGKILL one of two recorders while packets flow, then start it again: what the broker
    gave it and it had not acknowledged, and what came meanwhile, wait in its session, and every
    packet is stored."""
    probes = ProbeLog(mosquitto_broker)
    procs = {n: recorder_process(mosquitto_broker, store_url, n) for n in ("a", "b")}
    try:
        wait_until(lambda: probes.heard >= {probe_topic(f"share-test-{n}") for n in procs}, what="both subscribed")
        publish(publisher, range(30))
        flowing = sending(publisher, range(30, 90))
        wait_until(lambda: sum(map(len, stored(store_url).values())) > 40 * len(DEVICES), what="packets flowing")
        procs["a"].send_signal(signal.SIGKILL)
        procs["a"].wait(30)
        for info in flowing:  # some of them to the dead recorder's session
            info.wait_for_publish(60)
        procs["a"] = recorder_process(mosquitto_broker, store_url, "a")
        publish(publisher, range(90, 120))
        wait_until(lambda: stored(store_url) == {d: list(range(120)) for d in DEVICES}, what="every packet stored")
    finally:
        probes.close()
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            proc.wait(30)


def test_a_share_group_is_refused_where_the_broker_speaks_mqtt_3() -> None:
    """amqtt (3.1.1) grants shared subscriptions and delivers nothing: the settings refuse, and so
    does a bad group name."""
    with pytest.raises(ValueError, match="needs MQTT 5"):
        RecorderSettings(BrokerAddress("127.0.0.1", 1883, mqtt5=False), share_group=GROUP)
    with pytest.raises(ValueError, match="share group"):
        RecorderSettings(share_group="no/slashes")
    RecorderSettings(share_group=GROUP)  # MQTT 5 by default


def test_the_recorder_command_says_why_it_refuses_a_share_group(capsys: pytest.CaptureFixture[str]) -> None:
    from ingest.cli import main

    status = main(["recorder", "--broker", "mqtt://127.0.0.1:1?protocol=3.1.1", "--share-group", GROUP])
    assert status == 2
    assert capsys.readouterr().err.startswith("sitless recorder: --share-group needs MQTT 5")
