"""MQTT topic names: ``sitless/v1/<device_id>/<kind>``, and device id validation.

Kinds (DESIGN.md, Topics; payloads in docs/protocol.md):

* ``imu``: binary packets (:mod:`ingest.codec`), device to broker, QoS 1.
* ``status``: retained JSON from the device; the last will sets ``online`` false.
* ``event``: JSON from the analysis worker (posture changes, bouts, alerts).
* ``cmd``: JSON to the device (buzz pattern, sample rate).
* ``action``: JSON from the user (dashboard) to the worker: done, snooze, meeting.
* ``settings``: retained JSON from the user (dashboard) to the worker: the wearer's
  reminder limit, hours and slouch nudge.
"""

from __future__ import annotations

import re
from enum import StrEnum

from ingest.errors import TopicError

__all__ = ["PREFIX", "RETAINED_KINDS", "Kind", "parse", "subscription", "topic", "validate_device_id"]

PREFIX = "sitless/v1"
_DEVICE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


class Kind(StrEnum):
    """The kinds of topic under a device."""

    IMU = "imu"
    STATUS = "status"
    EVENT = "event"
    CMD = "cmd"
    ACTION = "action"
    SETTINGS = "settings"


#: The kinds the broker keeps the last message of (retained), and so holds about a device until cleared.
RETAINED_KINDS = (Kind.STATUS, Kind.SETTINGS)


def validate_device_id(device_id: str) -> str:
    """Return ``device_id`` if it is safe to put in a topic.

    Ids are 1-64 characters of letters, digits and ``_ . : -``, starting with a letter or
    digit: no wildcards (``+ #``), slashes, spaces or ``$``.

    Raises:
        TopicError: The id is not valid; the message names it.

    >>> validate_device_id("desk-07")
    'desk-07'
    """
    if not _DEVICE_ID.fullmatch(device_id):
        raise TopicError(f"invalid device id {device_id!r}: use 1-64 of A-Z a-z 0-9 _ . : -")
    return device_id


def topic(device_id: str, kind: Kind) -> str:
    """The topic of one kind for one device.

    >>> topic("desk-07", Kind.IMU)
    'sitless/v1/desk-07/imu'
    """
    return f"{PREFIX}/{validate_device_id(device_id)}/{kind}"


def subscription(kind: Kind, device_id: str = "+", share_group: str | None = None) -> str:
    """A subscription filter for one kind, for one device or all (``+``).

    ``share_group`` makes it an MQTT 5 shared subscription (``$share/<group>/...``) that
    spreads devices over several workers on brokers that support it.

    >>> subscription(Kind.IMU)
    'sitless/v1/+/imu'
    """
    if device_id != "+":
        validate_device_id(device_id)
    if share_group is not None and not _DEVICE_ID.fullmatch(share_group):
        raise TopicError(f"invalid share group {share_group!r}: use 1-64 of A-Z a-z 0-9 _ . : -")
    base = f"{PREFIX}/{device_id}/{kind}"
    return f"$share/{share_group}/{base}" if share_group else base


def parse(topic_name: str) -> tuple[str, Kind]:
    """Split a concrete topic into ``(device_id, kind)``.

    Raises:
        TopicError: The topic is not ``sitless/v1/<device>/<kind>`` with a known kind.

    >>> parse("sitless/v1/desk-07/imu")
    ('desk-07', <Kind.IMU: 'imu'>)
    """
    parts = topic_name.split("/")
    if len(parts) != 4 or f"{parts[0]}/{parts[1]}" != PREFIX:
        raise TopicError(f"not a sitless topic: {topic_name!r}")
    try:
        kind = Kind(parts[3])
    except ValueError as err:
        raise TopicError(f"unknown topic kind {parts[3]!r} in {topic_name!r}") from err
    return validate_device_id(parts[2]), kind
