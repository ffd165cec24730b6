"""JSON payloads of the status, action, settings, cmd and event topics: built and parsed in one place.

Every JSON payload on the wire (docs/protocol.md) has one typed home: a device's
:class:`DeviceStatus` and a :class:`Command` to the device
(:mod:`ingest.device_payloads`), a wearer's :class:`Action` and :class:`WearerSettings`
(:mod:`ingest.wearer_payloads`), and an analysis event (:func:`parse_event`). Each type
checks its fields where it is built, ``parse`` reads it from the bytes of a message, and
``to_json`` writes it, so every publisher and subscriber (simulator, gateway, recorder,
worker, dashboard, CLI) agrees; all of them import the types from here.

A payload comes from any client on the broker, so it is parsed as hostile: bounded in
size and nesting before anything looks inside (:mod:`ingest.payload_fields`). A payload
that is not a small, shallow JSON object, or whose fields are of the wrong type or out
of range, raises :class:`~ingest.errors.PayloadError`, which the services count and
skip; no payload can raise anything else (deeply nested JSON makes the standard parser
raise ``RecursionError``, which is caught there). Fields a type does not know are
ignored, so that an older service reads a newer sender.
"""

from __future__ import annotations

from typing import Any

from ingest.device_payloads import Command, DeviceStatus
from ingest.payload_fields import MAX_DEPTH, MAX_ID_LEN, MAX_PAYLOAD_BYTES, parse_object, text_field
from ingest.wearer_payloads import Action, WearerSettings

__all__ = [
    "MAX_DEPTH",
    "MAX_ID_LEN",
    "MAX_PAYLOAD_BYTES",
    "Action",
    "Command",
    "DeviceStatus",
    "WearerSettings",
    "parse_event",
    "parse_object",
]


def parse_event(payload: bytes) -> dict[str, Any]:
    """Read an analysis event (docs/protocol.md, ``event``): a JSON object with a string ``kind``.

    The fields of each kind are those of the analysis event's ``to_dict``; the event is
    returned as that object.

    Raises:
        PayloadError: Not a small JSON object, or without a ``kind``.

    >>> parse_event(b'{"kind": "rep", "t_s": 3.0, "rep": 1}')["rep"]
    1
    """
    body = parse_object(payload)
    text_field(body, "kind", required=True)
    return body
