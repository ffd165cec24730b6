"""The store's rows as Python sees them: raw packets, events and their keys, saved states and leases.

The JSON a row holds (a status, an event body, a snapshot, settings) is read back through
:func:`stored_object`, the one place that parses it: the services store only what they
checked, but a hand edit, an import or an older version may have left a row that is not
a JSON object, and one such row must not stop every read of the others.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ingest.codec import Batch
from ingest.errors import PayloadError
from ingest.payload_fields import load_json
from ingest.troubles import RateLimitedLog

__all__ = [
    "BatchRow",
    "DeviceState",
    "EventKey",
    "EventRow",
    "Lease",
    "StateRow",
    "event_id",
    "event_key",
    "event_time",
    "stored_object",
]

log = logging.getLogger(__name__)

# One line per column every few seconds: the dashboard reads the same bad row every second.
# Kept for the process, not per Store: a dashboard opens a Store for each read.
_bad_rows = RateLimitedLog(log)


@dataclass(frozen=True, slots=True)
class BatchRow:
    """One raw packet as stored: its key, timing and the exact bytes received."""

    device_id: str
    seq: int
    t0_s: float
    n: int
    rate_hz: float
    payload: bytes

    @classmethod
    def of_packet(cls, device_id: str, batch: Batch, payload: bytes) -> BatchRow:
        """The row of a received packet: ``payload``, which decoded to ``batch``."""
        return cls(device_id, batch.seq, batch.t0_s, batch.n, batch.rate_hz, payload)


#: What an event is stored under: ``(device_id, kind, t_s, event_id)``.
EventKey = tuple[str, str, float, str]


@dataclass(frozen=True, slots=True)
class EventRow:
    """One analysis event: ``body`` is the event's JSON object (it includes ``kind``)."""

    device_id: str
    kind: str
    t_s: float
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StateRow:
    """A save of the worker's state for one device.

    Attributes:
        device_id: The device.
        seq: The last packet sequence number the snapshot includes.
        snapshot: The analyzer's JSON-ready snapshot, or None to save only the status.
        status: The analyzer's live status.
    """

    device_id: str
    seq: int
    snapshot: dict[str, Any] | None
    status: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Lease:
    """Who analyses a device (:mod:`ingest.store.leases`).

    Attributes:
        owner: The worker id holding it.
        expires_in_s: Seconds until it expires, by the database's clock (negative: expired).
    """

    owner: str
    expires_in_s: float


@dataclass(frozen=True, slots=True)
class DeviceState:
    """The analysis worker's saved state for one device.

    Attributes:
        seq: The last packet sequence number the snapshot includes (-1 without one).
        snapshot: The analyzer's JSON-ready snapshot (empty: only a status was saved).
        status: The analyzer's live status (what the dashboard shows; empty without one).
        updated_s: Wall-clock time of the last save of the status, Unix epoch seconds.
    """

    seq: int
    snapshot: dict[str, Any]
    status: dict[str, Any]
    updated_s: float


def event_time(event: dict[str, Any]) -> float:
    """The time an event is keyed on: its ``t_s``, else its ``start_s``.

    >>> event_time({"kind": "posture_bout", "start_s": 3.0, "end_s": 9.0})
    3.0
    """
    return float(event["t_s"] if "t_s" in event else event["start_s"])


def event_id(event: dict[str, Any]) -> str:
    """The id an event is keyed on besides its kind and time: its ``id``, else ``''``.

    User actions carry the id of the message that asked for them, so two actions in
    the same instant are two events:

    >>> event_id({"kind": "action", "t_s": 3.0, "action": "done", "id": "7f3a"})
    '7f3a'
    >>> event_id({"kind": "alert", "t_s": 3.0})
    ''
    """
    return str(event.get("id", ""))


def event_key(device_id: str, event: dict[str, Any]) -> EventKey:
    """The key an event of a device is stored under (:data:`EventKey`).

    >>> event_key("desk-07", {"kind": "break", "start_s": 3.0, "end_s": 70.0})
    ('desk-07', 'break', 3.0, '')
    """
    return (device_id, str(event["kind"]), event_time(event), event_id(event))


def stored_object(text: str | bytes, column: str, device_id: str) -> dict[str, Any] | None:
    """The JSON object a stored column holds, or None for one that holds anything else.

    A row that is not a JSON object is logged (once every few seconds per column) and
    read as absent, so that the other rows are still read.

    Args:
        text: The column's value.
        column: The table and column, for the log (``"devices.status"``).
        device_id: The row's device, for the log.

    >>> stored_object('{"online": true}', "devices.status", "desk-07")
    {'online': True}
    >>> [stored_object(t, "devices.status", "desk-07") for t in ("{oops", "[1, 2]", "null")]
    [None, None, None]
    """
    try:
        value = load_json(text)
    except PayloadError as err:
        value, why = None, str(err)
    else:
        why = repr(text[:40])
    if isinstance(value, dict):
        return value
    _bad_rows.warning(column, "%s of %s is not a JSON object (%s): read as absent", column, device_id, why)
    return None
