"""A device flooding a real broker: the worker defers it past its budget, and still analyses every packet."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from ingest.codec import Batch, encode
from ingest.mqtt import BrokerAddress, connect, make_client
from ingest.recorder import Recorder, RecorderSettings
from ingest.store import Store
from ingest.topics import Kind, topic
from ingest.worker import Worker, WorkerSettings
from tests.support import wait_until

pytestmark = pytest.mark.e2e

GOOD, FLOOD = "good-e2e", "flood-e2e"
T0_S = 1.7e9
N = 25
#: 10x real time at 50 Hz after a minute's burst, at most 2 minutes deferred in memory.
TIGHT = {"flood_samples_per_s": 500.0, "flood_burst_samples": 3000, "flood_max_deferred_samples": 6000}


def payload(seq: int) -> bytes:
    """0.5 s of a sensor lying still, packet ``seq``."""
    acc = np.tile(np.array([0, 0, 4096], dtype=np.int16), (N, 1))
    return encode(Batch(seq=seq, t0_s=T0_S + seq * 0.5, rate_hz=50.0, acc_scale_g=1 / 4096, acc=acc))


@pytest.fixture
def services(mosquitto_broker: BrokerAddress, store_url: str) -> Iterator[tuple[Recorder, Worker]]:
    recorder = Recorder(RecorderSettings(mosquitto_broker, store_url, client_id="flood-recorder"))
    worker = Worker(WorkerSettings(mosquitto_broker, store_url, client_id="flood-worker", **TIGHT))  # type: ignore[arg-type]
    recorder.start()
    worker.start()
    yield recorder, worker
    worker.close()
    recorder.close()


def test_a_flood_through_the_broker_is_deferred_and_analysed_in_full(
    mosquitto_broker: BrokerAddress, store_url: str, services: tuple[Recorder, Worker]
) -> None:
    """4,000 packets at once (100,000 samples, 33 times the burst) beside a wearer's 50: the
    flood is deferred, the wearer is not, and every packet of both is analysed and counted once."""
    recorder, worker = services
    client = make_client("flood-publisher")
    connect(client, mosquitto_broker)
    sent = {FLOOD: 4000, GOOD: 50}  # the wearer's 1,250 samples are within its burst
    try:
        last = []
        for seq in range(sent[FLOOD]):
            client.publish(topic(FLOOD, Kind.IMU), payload(seq), qos=1)
            if seq % (sent[FLOOD] // sent[GOOD]) == 0:
                last.append(client.publish(topic(GOOD, Kind.IMU), payload(seq // 80), qos=1))
        last.append(client.publish(topic(FLOOD, Kind.IMU), payload(sent[FLOOD] - 1), qos=1))  # a redelivery
        for info in last[-3:]:
            info.wait_for_publish(timeout=60)
    finally:
        client.disconnect()
        client.loop_stop()
    wait_until(lambda: recorder.stats.stored == sum(sent.values()), what="every packet stored")

    def caught_up() -> bool:
        wearers = dict(worker._wearers)
        return all(
            d in wearers and wearers[d].seq == n - 1 and not wearers[d].deferred and not wearers[d].queued
            for d, n in sent.items()
        )

    wait_until(caught_up, what="the worker to catch up on the flood")
    worker.close()
    with Store(store_url) as store:
        counters = store.counters("worker")
    assert counters[("worker", FLOOD, "packets")] == sent[FLOOD]
    assert counters[("worker", GOOD, "packets")] == sent[GOOD]
    assert counters[("worker", FLOOD, "flood_deferred")] > 0
    assert ("worker", GOOD, "flood_deferred") not in counters
    assert ("worker", FLOOD, "gaps_skipped") not in counters
