"""The dashboard's settings: where the store and the broker are, and which wearable to show.

``dashboard/app.py`` builds one :class:`DashboardSettings` from the arguments that follow
``--`` on the ``streamlit run`` command line and keeps it in ``st.session_state`` under
:data:`SETTINGS_KEY`; a test puts its own settings there before the first run instead.
Pages read the settings and the wearable picked in the sidebar through
:func:`current_settings` and :func:`selected_device`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass

import streamlit as st

from dashboard import data
from ingest.errors import StoreError, TopicError
from ingest.mqtt import DEFAULT_BROKER_URL, BrokerAddress
from ingest.store import DEFAULT_STORE_URL, parse_store_url
from ingest.topics import validate_device_id

__all__ = [
    "DEFAULT_BROKER_URL",
    "DEFAULT_STORE_URL",
    "DEVICE_KEY",
    "SETTINGS_KEY",
    "DashboardSettings",
    "current_settings",
    "live_device",
    "parse_args",
    "selected_device",
]

SETTINGS_KEY = "settings"
DEVICE_KEY = "device_id"


@dataclass(frozen=True, slots=True)
class DashboardSettings:
    """Everything the dashboard needs to know at start.

    Attributes:
        store_url: The store to read, ``sqlite:///PATH`` or ``postgresql://USER@HOST/DB``.
        broker_url: The MQTT broker that user actions go to, ``mqtt://host:port``.
        device_id: The wearable to show first; None shows the first one in the store.

    Raises:
        ValueError: The broker URL or the device id is malformed.
        StoreError: The store URL names an unsupported database or carries a password.
    """

    store_url: str = DEFAULT_STORE_URL
    broker_url: str = DEFAULT_BROKER_URL
    device_id: str | None = None

    def __post_init__(self) -> None:
        parse_store_url(self.store_url)
        BrokerAddress.parse(self.broker_url)
        if self.device_id is not None:
            try:
                validate_device_id(self.device_id)
            except TopicError as err:
                raise ValueError(str(err)) from err

    @property
    def broker(self) -> BrokerAddress:
        """The broker as an address for :mod:`ingest.mqtt`."""
        return BrokerAddress.parse(self.broker_url)


def parse_args(argv: Sequence[str]) -> DashboardSettings:
    """Build the settings from the app's own arguments (those after ``--``).

    Args:
        argv: The arguments, without the script name.

    Returns:
        The settings.

    Raises:
        SystemExit: An argument is unknown or malformed (argparse prints why).

    >>> parse_args(["--store", "sqlite:///x.sqlite", "--device", "desk-07"]).device_id
    'desk-07'
    """
    parser = argparse.ArgumentParser(prog="sitless dashboard app", add_help=False)
    parser.add_argument("--store", default=DEFAULT_STORE_URL)
    parser.add_argument("--broker", default=DEFAULT_BROKER_URL)
    parser.add_argument("--device", default=None)
    args = parser.parse_args(list(argv))
    try:
        return DashboardSettings(store_url=args.store, broker_url=args.broker, device_id=args.device)
    except (ValueError, StoreError) as err:  # a malformed broker or device, a store URL refused
        parser.error(str(err))


def current_settings() -> DashboardSettings:
    """The settings kept in this session by ``dashboard/app.py``.

    Raises:
        RuntimeError: A page ran before the entrypoint stored the settings.
    """
    settings = st.session_state.get(SETTINGS_KEY)
    if not isinstance(settings, DashboardSettings):
        raise RuntimeError("dashboard settings missing: start the app through dashboard/app.py")
    return settings


def selected_device() -> str | None:
    """The wearable picked in the sidebar, or None when the store has none yet."""
    device = st.session_state.get(DEVICE_KEY)
    return device if isinstance(device, str) else None


def live_device(store_url: str) -> str | None:
    """:func:`selected_device`, for a live fragment.

    With none picked, the whole app redraws as soon as the store knows a wearable, so
    that the sidebar lists it.
    """
    device = selected_device()
    if device is None and data.devices(store_url):
        st.rerun()
    return device
