"""A guided exercise end to end: actions, live repetition counts, a restarted worker, ``sitless session``."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from analysis import UserAction
from firmware_sim.exercises import exercise_truth, guided_session
from ingest.mqtt import BrokerAddress
from ingest.session_cmd import SessionResult, follow_exercise
from ingest.store import Store
from ingest.topics import Kind, topic
from ingest.worker import Worker, WorkerSettings
from tests.ingest.guided import DEVICE, SQUATS, action, message, set_packets, warm_up
from tests.support import EventLog, mqtt_client, wait_until


def test_the_truth_of_the_set_is_ten_squats() -> None:
    assert len(exercise_truth(guided_session([SQUATS], rest_s=5.0))) == 10


def test_a_worker_restarted_mid_set_goes_on_counting(tmp_path: Path) -> None:
    """Killed after the fourth squat and restarted, the worker resumes the set: reps 1..10, one set of 10."""
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    warm = warm_up()
    squats = set_packets(len(warm))
    imu = [message(Kind.IMU, p, i) for i, p in enumerate(warm + squats)]
    start, end = action(UserAction.EXERCISE_START, 90001, "squat"), action(UserAction.EXERCISE_END, 90002)
    half = len(warm) + len(squats) // 2
    first = Worker(WorkerSettings(store_url=url, reorder_wait_s=3600.0))
    first.handle(imu[: len(warm)])
    first.handle([start])
    first.handle(imu[len(warm) : half])
    first.close()
    second = Worker(WorkerSettings(store_url=url, reorder_wait_s=3600.0))
    second.handle(imu[half:])
    second.handle([end])
    second.close()
    with Store(url) as store:
        events = list(store.events(DEVICE))
        status = store.load_state(DEVICE)
    reps = [e.body["rep"] for e in events if e.kind == "rep"]
    assert reps == list(range(1, 11))
    sets = [e.body for e in events if e.kind == "exercise"]
    assert [(s["exercise"], s["reps"]) for s in sets] == [("squat", 10)]
    kinds = [e.kind for e in events if e.kind in ("exercise_started", "exercise_ended")]
    assert kinds == ["exercise_started", "exercise_ended"]
    assert status is not None
    assert status.status["exercise"] is None


def test_an_exercise_the_placement_cannot_follow_is_a_badaction(tmp_path: Path) -> None:
    """A crunch from the thigh, or an unknown id, changes nothing and is counted; the wearer is not quarantined."""
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    worker = Worker(WorkerSettings(store_url=url, reorder_wait_s=3600.0))
    warm = warm_up()
    worker.handle([message(Kind.IMU, p, i) for i, p in enumerate(warm[:10])])
    bad = [action(UserAction.EXERCISE_START, 1 + i, name) for i, name in enumerate(["crunch", "cartwheel", "x" * 90])]
    bad.append(message(Kind.ACTION, b'{"action": "exercise_start"}', 9))
    worker.handle(bad * 2)
    worker.handle([action(UserAction.EXERCISE_START, 20, "squat")])
    worker.close()
    with Store(url) as store:
        counters = store.counters("worker")
        kinds = [e.kind for e in store.events(DEVICE)]
    assert counters[("worker", DEVICE, "bad_actions")] == 8
    assert kinds.count("exercise_started") == 1


@pytest.fixture
def worker(broker: BrokerAddress, store_url: str) -> Iterator[Worker]:
    service = Worker(WorkerSettings(broker, store_url, client_id="test-session-worker"))
    service.start()
    yield service
    service.close()


@pytest.fixture
def device(broker: BrokerAddress) -> Iterator[paho.Client]:
    with mqtt_client("test-session-device", broker) as client:
        yield client


@pytest.mark.e2e
def test_sitless_session_follows_a_set_of_squats_live(
    broker: BrokerAddress, worker: Worker, device: paho.Client, event_log: EventLog
) -> None:
    """The wearable streams through a real broker; the session prints each squat as it completes and ends the set."""
    warm = warm_up()
    for payload in warm:
        device.publish(topic(DEVICE, Kind.IMU), payload, qos=1)
    out = io.StringIO()
    found: list[SessionResult] = []
    session = threading.Thread(
        target=lambda: found.append(follow_exercise(broker, DEVICE, "squat", out=out, confirm_timeout_s=120.0))
    )
    session.start()
    wait_until(lambda: bool(event_log.of_kind("exercise_started")), what="the worker to start the exercise")
    for payload in set_packets(len(warm)):
        device.publish(topic(DEVICE, Kind.IMU), payload, qos=1)
    session.join(timeout=300.0)
    assert not session.is_alive()
    (result,) = found
    assert result.reps == 10
    assert [s["reps"] for s in result.sets] == [10]
    text = out.getvalue()
    assert "squat: started (10 reps)" in text
    assert "  rep 10\n" in text
    assert text.rstrip().endswith("squat: 10 reps")
