"""What the gateway is told: the sensors to stream, its broker, where it keeps its state, its waits.

Device ids must be valid topic levels: a sensor without a device id is named from
its address (``AA:BB:CC:DD:EE:FF`` becomes ``ble-aabbccddeeff``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bleak.backends.scanner import BaseBleakScanner

from analysis.settings import Placement
from ingest.mqtt import BrokerAddress
from ingest.profiles import PROFILES
from ingest.topics import validate_device_id

__all__ = ["GatewaySettings", "SensorSpec", "safe_device_id"]


def safe_device_id(address: str) -> str:
    """A topic-safe device id from a Bluetooth address (a MAC, or the UUID macOS gives).

    >>> safe_device_id("AA:BB:CC:DD:EE:FF")
    'ble-aabbccddeeff'
    >>> safe_device_id("7E2B9A4C-1D2E-4F3A-8B9C-0D1E2F3A4B5C")
    'ble-7e2b9a4c1d2e4f3a8b9c0d1e2f3a4b5c'
    """
    return "ble-" + re.sub(r"[^0-9a-z]", "", address.lower())


@dataclass(frozen=True, slots=True)
class SensorSpec:
    """One sensor to stream.

    Attributes:
        address: Its Bluetooth address.
        profile: The profile's name, or None to pick one from its services.
        device_id: Its device id in the topics; None to name it from the address.
        placement: Where it is worn (published in its status); None to say nothing.
        rate_hz: The sample rate wanted (the nearest the sensor offers); None for the profile's choice.
    """

    address: str
    profile: str | None = None
    device_id: str | None = None
    placement: Placement | None = None
    rate_hz: float | None = None

    def __post_init__(self) -> None:
        if self.profile is not None and self.profile not in PROFILES:
            raise ValueError(f"unknown profile {self.profile!r}: use one of {', '.join(sorted(PROFILES))}")
        if self.device_id is not None:
            validate_device_id(self.device_id)

    @property
    def id(self) -> str:
        """The device id in the topics."""
        return self.device_id or safe_device_id(self.address)


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    """How the gateway runs.

    Attributes:
        broker: The MQTT broker.
        sensors: The sensors to stream.
        data_dir: Where the outbox and the sequence numbers are kept.
        status_every_s: Seconds between statuses while a sensor streams.
        backoff_s: First and longest wait before connecting again, s.
        scan_timeout_s: How long to listen for the sensor's advertisement before an
            attempt gives up, s.
        connect_timeout_s: How long one connection attempt may take, ``establish_connection``'s
            tries included (each of which it gives 20 s), s; it aims to finish within 60 s
            (``bleak_retry_connector``, comment on ``MAX_CONNECT_ATTEMPTS``).
        connect_attempts: Tries per connection attempt that ``establish_connection`` makes
            on errors it does not know to be transient (it retries those known ones up to
            9 times, waiting 0.1-4 s between; ``bleak_retry_connector.establish_connection``).
        drain_timeout_s: At the end, how long to wait for the broker to acknowledge what
            was published (what it did not stays in the outbox for the next run), s.
        publish_window: How many of a sensor's packets may be handed to the MQTT client
            and not yet acknowledged. Past it, and whenever the broker is away, new
            packets stay in the outbox only and are published from it in sequence order
            once the broker takes them (``ingest.gateway.publisher``). 500 packets are
            250 s of a 50 Hz sensor's half-second packets and some 0.9 MB of the client's
            memory (1.8 kB a packet, docs/sensors.md); refilled whenever half of it is
            acknowledged, the window never holds fewer than the 100 messages the client
            keeps in flight itself (``ingest.mqtt.make_client``), so it does not slow the
            catching up.
        silence_timeout_s: A sensor connected but sending no samples for this long
            (counted from when its stream started) is disconnected and connected again,
            s. 10 s are ten notifications of the slowest streams sitless knows
            (WitMotion at 1 Hz, the sitless board's 1-s packets at 25 Hz, a micro:bit at
            640 ms).
        backend: A bleak client backend class (tests and the simulator); None for the platform's.
        scanner_backend: A bleak scanner backend class to find the sensor with; None for
            the platform's.
    """

    broker: BrokerAddress
    sensors: tuple[SensorSpec, ...]
    data_dir: Path = Path("var/gateway")
    status_every_s: float = 60.0
    backoff_s: tuple[float, float] = (1.0, 60.0)
    scan_timeout_s: float = 10.0
    connect_timeout_s: float = 60.0
    connect_attempts: int = 2
    drain_timeout_s: float = 10.0
    publish_window: int = 500
    silence_timeout_s: float = 10.0
    backend: type[Any] | None = field(default=None, compare=False)
    scanner_backend: type[BaseBleakScanner] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.connect_attempts < 1:
            raise ValueError(f"connect_attempts must be >= 1, got {self.connect_attempts}")
        if self.publish_window < 1:
            raise ValueError(f"publish_window must be >= 1, got {self.publish_window}")
        for name in ("status_every_s", "scan_timeout_s", "connect_timeout_s", "drain_timeout_s", "silence_timeout_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
