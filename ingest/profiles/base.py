"""What every BLE sensor profile of the gateway provides: one small interface.

A profile knows one family of sensors (docs: ``../shared/ble_devices.md`` and the
vendor sources cited in each module): how to recognise it in a scan, which GATT
characteristic notifies its samples, which writes set its sample rate and start the
stream, how to decode a notification into samples in g, and how to buzz it where it
has a motor, LED or buzzer. Profiles do no I/O: they return the bytes to write
(:class:`Write`) and decode the bytes received, so that each is tested against byte
sequences built from the vendor's documentation, and the gateway (``bleak``) does the
radio.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from ingest.errors import ProfileError
from ingest.payloads import Command

__all__ = ["BATTERY_LEVEL_UUID", "BATTERY_SERVICE_UUID", "Decoder", "Profile", "Samples", "Write", "nearest_rate"]

#: The Battery Service and its level characteristic (uint8 percent), Bluetooth SIG
#: assigned numbers 0x180F and 0x2A19, which any sensor may offer beside its profile.
BATTERY_SERVICE_UUID = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"


@dataclass(frozen=True, slots=True)
class Write:
    """One GATT write the gateway performs for a profile.

    Attributes:
        char_uuid: The characteristic, 128-bit UUID in lower case.
        data: The bytes to write.
        response: Write with response (a request the device acknowledges).
        pause_s: How long the gateway waits after this write before the next one, s
            (a sensor that needs time to take a command in).
    """

    char_uuid: str
    data: bytes
    response: bool = True
    pause_s: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.pause_s) and self.pause_s >= 0):
            raise ValueError(f"pause_s must be a finite number >= 0, got {self.pause_s!r}")


@dataclass(frozen=True, slots=True, eq=False)
class Samples:
    """The samples of one notification, in sitless units.

    Attributes:
        acc_g: Acceleration in g, shape (n, 3), device axes.
        gyro_dps: Angular rate in deg/s, shape (n, 3), or None without a gyroscope.
        t_s: Device time of each sample, Unix epoch seconds, shape (n,), when the
            notification carries time stamps; None when the gateway times the samples
            itself (by arrival and the sample rate).
        rate_hz: The rate the samples were taken at, when the notification says it (the
            sitless packet); None for the rate the gateway asked or read back.
        skipped_bytes: Bytes a stream decoder skipped to find the start of a packet (a
            byte lost or added on the way): the samples of the packets around them are
            kept, and the gateway counts the notification as a bad one.
    """

    acc_g: NDArray[np.float64]
    gyro_dps: NDArray[np.float64] | None = None
    t_s: NDArray[np.float64] | None = None
    rate_hz: float | None = None
    skipped_bytes: int = 0

    def __post_init__(self) -> None:
        n = self.acc_g.shape[0]
        if self.acc_g.shape != (n, 3):
            raise ProfileError(f"acceleration must have shape (n, 3), got {self.acc_g.shape}")
        if self.gyro_dps is not None and self.gyro_dps.shape != (n, 3):
            raise ProfileError(f"gyro must have shape ({n}, 3), got {self.gyro_dps.shape}")
        if self.t_s is not None and self.t_s.shape != (n,):
            raise ProfileError(f"times must have shape ({n},), got {self.t_s.shape}")
        if self.rate_hz is not None and not (math.isfinite(self.rate_hz) and self.rate_hz > 0):
            raise ProfileError(f"rate_hz must be a finite number > 0, got {self.rate_hz!r}")

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(self.acc_g.shape[0])


class Decoder(Protocol):
    """Turns one sensor's notifications into samples; may keep state between them (delta frames)."""

    def decode(self, data: bytes) -> Samples:
        """Decode one notification.

        Raises:
            ProfileError: The bytes are not a notification of this profile (too short,
                wrong header, an unknown frame type); the message names what is wrong.
        """
        ...

    def reply(self, data: bytes) -> None:
        """Take an indication of one of the profile's ``indicate_uuids`` (a control point's answer).

        A decoder whose scaling the answer sets (Polar's factor) keeps it; the others ignore it.

        Raises:
            ProfileError: The answer refuses the command or does not read; the message says why.
        """
        ...


class Profile(Protocol):
    """One family of BLE sensors (module docstring).

    The gateway subscribes to ``indicate_uuids`` and ``notify_uuid`` first, then
    performs the ``start`` writes (a Polar sensor takes no command before both are on).

    Attributes:
        name: The profile's name on the command line (``--profile``).
        service_uuid: The GATT service that identifies the sensor, lower case.
        notify_uuid: The characteristic whose notifications carry the samples.
        indicate_uuids: Characteristics whose indications must be on before the start
            writes (a control point's replies), lower case; usually none.
        rates_hz: The sample rates the sensor can be set to, ascending (one: fixed).
        rate_uuid: A characteristic the gateway reads after the ``start`` writes to learn
            the rate the sensor settled on (:meth:`settled_rate`); None when it cannot tell.
    """

    name: str
    service_uuid: str
    notify_uuid: str
    indicate_uuids: tuple[str, ...]
    rates_hz: tuple[float, ...]
    rate_uuid: str | None

    def for_name(self, local_name: str | None) -> Profile:
        """The profile of the model a device's name shows (itself, for a one-model family)."""
        ...

    def matches(self, local_name: str | None, service_uuids: Sequence[str]) -> bool:
        """Whether a scanned device (its advertised name and service UUIDs) is one of these sensors."""
        ...

    def start(self, rate_hz: float) -> list[Write]:
        """The writes that set the sample rate (one of ``rates_hz``) and start the stream."""
        ...

    def stop(self) -> list[Write]:
        """The writes that stop the stream (none where unsubscribing is enough)."""
        ...

    def decoder(self, rate_hz: float) -> Decoder:
        """A fresh decoder for a stream at ``rate_hz``."""
        ...

    def buzz(self, command: Command) -> list[Write]:
        """The writes that make the sensor buzz, light or beep for ``command``; none where it cannot."""
        ...

    def settled_rate(self, data: bytes) -> float:
        """The sample rate, Hz, that a read of ``rate_uuid`` shows the sensor settled on.

        Raises:
            ProfileError: The bytes do not read as a rate, or the profile has no ``rate_uuid``.
        """
        ...


def nearest_rate(rates_hz: Sequence[float], wanted_hz: float | None) -> float:
    """The supported rate closest to ``wanted_hz`` (on a log scale); the highest under 60 Hz when None.

    sitless analyses 0.1-s frames: 25-50 Hz is plenty, and more only costs battery.

    >>> nearest_rate((10.0, 25.0, 50.0, 100.0), 60.0)
    50.0
    >>> nearest_rate((12.5, 25.0, 52.0, 104.0), None)
    52.0

    Raises:
        ValueError: No rates, or a wanted rate that is not a finite number > 0.
    """
    if not rates_hz:
        raise ValueError("a profile needs at least one sample rate")
    if wanted_hz is None:
        under = [r for r in rates_hz if r <= 60.0]
        return max(under) if under else min(rates_hz)
    if not (math.isfinite(wanted_hz) and wanted_hz > 0):
        raise ValueError(f"a sample rate must be a finite number > 0, got {wanted_hz!r}")
    return min(rates_hz, key=lambda r: abs(math.log(r / wanted_hz)))
