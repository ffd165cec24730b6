"""What every MQTT service shares: each message's device and kind, the unusable counted, and the loop."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from typing import Any

import numpy as np
import pytest

from ingest.codec import MAX_PACKET_BYTES, MAX_SAMPLES, Batch, encode
from ingest.mqtt import BrokerAddress
from ingest.payloads import MAX_PAYLOAD_BYTES
from ingest.service import Message, MqttService
from ingest.topics import Kind, topic


def message(topic_name: str) -> Message:
    return Message(topic_name, b"{}", 0, 1, 0.0)


class _Taker(MqttService):
    """A service that only takes batches in (its loop is driven by the test), and keeps its counts."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.counted: Counter[tuple[str, str]] = Counter()

    def absorb(self, messages: list[Message]) -> None:
        pass

    def count(self, device_id: str, name: str) -> None:
        self.counted[(device_id, name)] += 1


def test_each_device_message_reaches_the_handler_and_the_unusable_are_counted_instead(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Device messages reach the handler in order with their device and kind. A topic
    that names no valid device and a payload larger than any valid one of its kind are
    counted (the first as the service's own), logged and skipped."""
    caplog.set_level(logging.WARNING, logger="ingest.service")
    service = _Taker(BrokerAddress("127.0.0.1", 1), "test-handle-each", [])
    imu, status = message(topic("desk-07", Kind.IMU)), message(topic("desk-08", Kind.STATUS))
    unusable = [
        message("other/v1/desk-07/imu"),
        message("sitless/v1/desk-07/unknown"),
        message("sitless/v1/bad id/action"),
        Message(topic("desk-07", Kind.IMU), bytes(MAX_PACKET_BYTES + 1), 0, 1, 0.0),
        Message(topic("desk-07", Kind.ACTION), bytes(MAX_PAYLOAD_BYTES + 1), 0, 1, 0.0),
    ]
    handled: list[tuple[str, Kind, Message]] = []
    service.handle_each([unusable[0], imu, *unusable[1:], status], lambda *a: handled.append(a))
    assert handled == [("desk-07", Kind.IMU, imu), ("desk-08", Kind.STATUS, status)]
    assert service.counted == {("*", "bad_topics"): 3, ("desk-07", "bad_packets"): 1, ("desk-07", "bad_actions"): 1}
    assert caplog.records  # logged, rate-limited per kind of trouble


def test_the_largest_valid_packet_is_not_refused_for_its_size() -> None:
    """A packet of MAX_SAMPLES samples with gyro is exactly MAX_PACKET_BYTES long, and reaches the handler."""
    gyro = np.zeros((MAX_SAMPLES, 3), dtype=np.int16)
    batch = Batch(0, 1.7e9, 50.0, 1 / 4096, gyro, 1 / 16, gyro)
    payload = encode(batch)
    assert len(payload) == MAX_PACKET_BYTES
    service = _Taker(BrokerAddress("127.0.0.1", 1), "test-largest", [])
    handled: list[tuple[str, Kind, Message]] = []
    service.handle_each([Message(topic("desk-07", Kind.IMU), payload, 0, 1, 0.0)], lambda *a: handled.append(a))
    assert len(handled) == 1
    assert not service.counted


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
    old = Message(topic("desk-07", Kind.IMU), b"", 9, 1, time.time() - 3600.0, time.monotonic() - 3600.0)
    service._inbox.put(old)
    thread, out = _drained_in_thread(service)
    thread.join(60)  # without lingering: the hour is long over
    assert out == [[old]]


def test_a_wall_clock_stepped_back_does_not_stretch_the_linger() -> None:
    """A message stamped before the wall clock stepped back an hour (NTP, a resumed
    virtual machine) lingers ``linger_s`` on the monotonic clock, not the hour."""
    service = _Taker(BrokerAddress("127.0.0.1", 1), "test-clock-step", [], linger_s=0.02)
    stepped = Message(topic("desk-07", Kind.IMU), b"", 1, 1, time.time() + 3600.0)
    service._inbox.put(stepped)
    thread, out = _drained_in_thread(service)
    thread.join(60)
    assert not thread.is_alive()
    assert out == [[stepped]]
