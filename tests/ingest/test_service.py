"""What every MQTT service shares: reading the device and kind from each message's topic."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from ingest.mqtt import BrokerAddress
from ingest.service import Message, MqttService, by_device
from ingest.topics import Kind, topic


def message(topic_name: str) -> Message:
    return Message(topic_name, b"{}", 0, 1, 0.0)


def test_by_device_names_device_and_kind_and_skips_foreign_topics(caplog: pytest.LogCaptureFixture) -> None:
    """Sitless topics come out in order with their device and kind; any other topic is logged and skipped."""
    caplog.set_level(logging.WARNING, logger="ingest.service")
    imu, status = message(topic("desk-07", Kind.IMU)), message(topic("desk-08", Kind.STATUS))
    foreign = [message("other/v1/desk-07/imu"), message("sitless/v1/desk-07/unknown")]
    assert list(by_device([foreign[0], imu, foreign[1], status])) == [
        ("desk-07", Kind.IMU, imu),
        ("desk-08", Kind.STATUS, status),
    ]
    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["ignoring message"] * 2


class _Taker(MqttService):
    """A service that only takes batches in (its loop is driven by the test)."""

    def absorb(self, messages: list[Message]) -> None:
        pass

    def count(self, device_id: str, name: str) -> None:
        pass


def _drained_in_thread(service: MqttService) -> tuple[threading.Thread, list[list[Message]]]:
    out: list[list[Message]] = []
    thread = threading.Thread(target=lambda: out.append(service._drain()), daemon=True)
    thread.start()
    return thread, out


def test_a_fresh_message_waits_for_the_ones_that_follow_and_an_old_one_does_not() -> None:
    """A batch's first message, just received, lingers (``linger_s``) for those that come
    after it, which join its batch; one that already waited that long goes at once."""
    service = _Taker(BrokerAddress("127.0.0.1", 1), "test-linger", [], linger_s=3600.0)
    fresh = [Message(topic("desk-07", Kind.IMU), b"", i, 1, time.time()) for i in range(5)]
    service._inbox.put(fresh[0])
    thread, out = _drained_in_thread(service)
    for m in fresh[1:]:
        service._inbox.put(m)
    service._stop.set()  # ends the linger (as at shutdown), whose hour would outlast the test
    thread.join(60)
    assert out == [fresh]
    service._stop.clear()
    old = Message(topic("desk-07", Kind.IMU), b"", 9, 1, time.time() - 3600.0)
    service._inbox.put(old)
    thread, out = _drained_in_thread(service)
    thread.join(60)  # without lingering: the hour is long over
    assert out == [[old]]
