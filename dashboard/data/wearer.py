"""What the store holds about each wearable: its status and settings, and its data to export or delete.

The wearables and the status each last published (:func:`devices`), the settings the
wearer chose (:func:`wearer_settings`) and the reminder hours the worker honours
(:func:`status_policy`), for the sidebar and the Now, Session and Settings pages; how
much of the wearer's data the store holds (:func:`stored_size`) and that data as the
Settings page exports it (:func:`events_export`, :func:`full_export`) or deletes it
(:func:`delete_wearer`), the one write the dashboard makes to the store.
"""

from __future__ import annotations

import io
import logging
from typing import Any

import streamlit as st

from analysis import AlertPolicy
from dashboard.data.base import LIVE_TTL_S, TODAY_TTL_S, read_only, store_exists
from ingest.actions import delete_device
from ingest.errors import PayloadError
from ingest.export import event_line, write_export
from ingest.mqtt import BrokerAddress
from ingest.payloads import WearerSettings

__all__ = [
    "EXPORT_MAX_SAMPLES",
    "delete_wearer",
    "device_info",
    "devices",
    "events_export",
    "full_export",
    "status_policy",
    "stored_size",
    "wearer_settings",
]

log = logging.getLogger(__name__)

#: Most samples the Settings page puts in a ZIP for the browser: the archive is built in
#: the dashboard's memory, at about 9 bytes a sample of a simulated office day
#: (``python -m bench.export``; docs/performance.md), so 28 h at 50 Hz make some 45 MB.
#: Past it the page gives the ``sitless export`` command, which writes to a file as it reads.
EXPORT_MAX_SAMPLES = 5_000_000


@st.cache_data(ttl=LIVE_TTL_S, show_spinner=False)
def devices(store_url: str) -> dict[str, dict[str, Any]]:
    """Every wearable the store knows, with the status it last published.

    Args:
        store_url: The store, ``sqlite:///PATH`` or ``postgresql://USER@HOST/DB``.

    Returns:
        ``{device_id: status}``, sorted by id; empty when the store file does not exist yet.
        A status has ``online``, ``battery_pct``, ``rate_hz``, ``placement``, ``firmware``
        and ``t_s`` when the device has published one, else it is empty.

    Raises:
        StoreError: The store cannot be read.
    """
    if not store_exists(store_url):
        return {}
    with read_only(store_url) as store:
        return store.devices()


def device_info(store_url: str, device_id: str) -> dict[str, Any]:
    """The status a wearable last published (online, battery, rate), or ``{}``.

    Raises:
        StoreError: The store cannot be read.
    """
    return devices(store_url).get(device_id, {})


@st.cache_data(ttl=LIVE_TTL_S, show_spinner=False)
def wearer_settings(store_url: str, device_id: str) -> WearerSettings | None:
    """The settings the wearer chose last, as the worker stored them; None before any (or unreadable).

    Raises:
        StoreError: The store cannot be read.
    """
    if not store_exists(store_url):
        return None
    with read_only(store_url) as store:
        body = store.wearer_settings(device_id)
    try:
        return None if body is None else WearerSettings.from_dict(body)
    except PayloadError:
        log.warning("%s: stored settings not readable; showing the defaults", device_id)
        return None


def status_policy(status: dict[str, Any]) -> AlertPolicy | None:
    """The reminder hours in force, from the worker's live status; None when it reports none to honour.

    >>> status_policy({"weekly_hours": [[9, 17]] * 5 + [None, None], "quiet_hours": [[12, 13]]}).quiet_hours
    ((12.0, 13.0),)
    >>> status_policy({"max_sitting_s": 1800.0}) is None
    True
    """
    hours, weekly, quiet = status.get("working_hours"), status.get("weekly_hours"), status.get("quiet_hours") or []
    if not hours and weekly is None and not quiet:
        return None
    try:
        return AlertPolicy(
            working_hours=None if not hours else (float(hours[0]), float(hours[1])),
            weekly_hours=None
            if weekly is None
            else tuple(None if h is None else (float(h[0]), float(h[1])) for h in weekly),
            quiet_hours=tuple((float(a), float(b)) for a, b in quiet),
            utc_offset_h=float(status.get("utc_offset_h") or 0.0),
        )
    except (TypeError, ValueError, IndexError):
        return None


def events_export(store_url: str, device_id: str) -> bytes:
    """Every stored event of a wearable as JSON Lines, oldest first.

    Each line is the event's JSON object with its ``kind`` and the time it is stored
    under, ``t_s`` (a bout's start).

    Raises:
        StoreError: The store cannot be read.
    """
    if not store_exists(store_url):
        return b""
    with read_only(store_url) as store:
        rows = store.events(device_id)
    return "".join(map(event_line, rows)).encode()


@st.cache_data(ttl=TODAY_TTL_S, show_spinner=False)
def stored_size(store_url: str, device_id: str) -> tuple[int, int]:
    """How much of a wearable's stream the store holds: ``(packets, samples)``.

    Raises:
        StoreError: The store cannot be read.
    """
    if not store_exists(store_url):
        return 0, 0
    with read_only(store_url) as store:
        return store.stored_size(device_id)


def full_export(store_url: str, device_id: str) -> bytes:
    """Everything the store holds about a wearable as one ZIP archive (:mod:`ingest.export`).

    Raises:
        StoreError: The store cannot be read.
    """
    buffer = io.BytesIO()
    with read_only(store_url) as store:
        write_export(store, device_id, buffer)
    return buffer.getvalue()


def delete_wearer(store_url: str, device_id: str, broker: BrokerAddress | None) -> int:
    """Delete everything of a wearable as ``sitless delete`` does (``ingest.actions.delete_device``); the rows deleted.

    The broker's retained messages first (``broker`` None: left), then the store's rows:
    the one write the dashboard makes to the store, asked for on the Settings page.
    Every cached read is cleared, so that the pages show the deletion at once.

    Raises:
        TopicError, ConnectionError: The broker could not be cleared; nothing is deleted.
        StoreError: The store cannot be written (the broker's retained messages are cleared).
    """
    deleted = delete_device(store_url, device_id, broker)
    st.cache_data.clear()
    return deleted
