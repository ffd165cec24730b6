"""What every MQTT service shares: reading the device and kind from each message's topic."""

from __future__ import annotations

import logging

import pytest

from ingest.service import Message, by_device
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
