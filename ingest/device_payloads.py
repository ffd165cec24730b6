"""The payloads of the device's own topics: its retained status and the commands it takes.

A device publishes a :class:`DeviceStatus` (docs/protocol.md, ``status``), retained,
and the worker or the gateway sends it a :class:`Command` (``cmd``). Each type checks
its fields where it is built (:mod:`ingest.payload_fields`), ``parse`` reads it from the
bytes of a message and ``to_json`` writes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from analysis.settings import Placement
from ingest.codec import MAX_T_S
from ingest.errors import PayloadError
from ingest.payload_fields import compact_number, number_field, parse_object, placement_field, text_field

__all__ = ["Command", "DeviceStatus"]


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """A device's retained status (docs/protocol.md, ``status``); every field may be missing.

    Attributes:
        online: Whether the device is connected (the last will says ``False``).
        battery_pct: Battery charge, 0 to 100.
        rate_hz: Current sample rate, Hz (> 0).
        placement: Where the sensor is worn.
        firmware: Firmware version.
        t_s: Device time of this status, Unix epoch seconds (0 to ``codec.MAX_T_S``).
        rssi_dbm: Signal strength of a BLE sensor as its gateway last heard it, dBm.
        clock_drift_ppm: How fast the sensor's clock falls behind the gateway's, parts
            per million (sensors that time-stamp their samples).

    >>> DeviceStatus.parse(b'{"online": true, "placement": "thigh", "rate_hz": 50}').to_json()
    '{"online": true, "rate_hz": 50, "placement": "thigh"}'
    >>> DeviceStatus.parse(b'{"battery_pct": 140}')
    Traceback (most recent call last):
    ...
    ingest.errors.PayloadError: battery_pct must be a number within [0.0, 100.0], got 140
    """

    online: bool | None = None
    battery_pct: float | None = None
    rate_hz: float | None = None
    placement: Placement | None = None
    firmware: str | None = None
    t_s: float | None = None
    rssi_dbm: float | None = None
    clock_drift_ppm: float | None = None

    def __post_init__(self) -> None:
        self._check(self.to_dict())

    @staticmethod
    def _check(body: dict[str, Any]) -> None:
        online = body.get("online")
        if online is not None and not isinstance(online, bool):
            raise PayloadError(f"online must be true or false, got {online!r:.80}")
        number_field(body, "battery_pct", 0.0, 100.0)
        rate = number_field(body, "rate_hz", 0.0, 1e6)
        if rate == 0.0:
            raise PayloadError("rate_hz must be > 0, got 0")
        number_field(body, "t_s", 0.0, MAX_T_S)
        number_field(body, "rssi_dbm", -200.0, 50.0)
        number_field(body, "clock_drift_ppm", -1e6, 1e6)
        text_field(body, "firmware")

    @classmethod
    def parse(cls, payload: bytes) -> DeviceStatus:
        """Read a status payload.

        Raises:
            PayloadError: Not a small JSON object, or a field of the wrong type or out of range.
        """
        body = parse_object(payload)
        cls._check(body)
        placement = placement_field(body)
        return cls(
            online=body.get("online"),
            battery_pct=number_field(body, "battery_pct", 0.0, 100.0),
            rate_hz=number_field(body, "rate_hz", 0.0, 1e6),
            placement=placement,
            firmware=text_field(body, "firmware"),
            t_s=number_field(body, "t_s"),
            rssi_dbm=number_field(body, "rssi_dbm"),
            clock_drift_ppm=number_field(body, "clock_drift_ppm"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object: the fields that are set."""
        out: dict[str, Any] = {}
        if self.online is not None:
            out["online"] = self.online
        if self.battery_pct is not None:
            out["battery_pct"] = compact_number(self.battery_pct)
        if self.rate_hz is not None:
            out["rate_hz"] = compact_number(self.rate_hz)
        if self.placement is not None:
            out["placement"] = str(self.placement)
        if self.firmware is not None:
            out["firmware"] = self.firmware
        if self.t_s is not None:
            out["t_s"] = self.t_s
        if self.rssi_dbm is not None:
            out["rssi_dbm"] = compact_number(self.rssi_dbm)
        if self.clock_drift_ppm is not None:
            out["clock_drift_ppm"] = self.clock_drift_ppm
        return out

    def to_json(self) -> str:
        """The payload."""
        return json.dumps(self.to_dict())


@dataclass(frozen=True, slots=True)
class Command:
    """A command to the device (docs/protocol.md, ``cmd``).

    Attributes:
        cmd: ``buzz`` or ``rate``; a device ignores a command it does not know.
        pattern: The buzz's vibration (``long``, ``short``); None for the default.
        reason: Why it buzzes (``sit_too_long``, ``slouch``).
        stretch_id: The stretch an alert's buzz suggests.
        rate_hz: The sample rate ``rate`` asks for, Hz.

    >>> Command.parse(Command("buzz", pattern="long", reason="sit_too_long").to_json().encode())
    Command(cmd='buzz', pattern='long', reason='sit_too_long', stretch_id=None, rate_hz=None)
    """

    cmd: str
    pattern: str | None = None
    reason: str | None = None
    stretch_id: str | None = None
    rate_hz: float | None = None

    def __post_init__(self) -> None:
        body = self.to_dict()
        for name in ("cmd", "pattern", "reason", "stretch_id"):
            text_field(body, name, required=name == "cmd")
        if self.cmd == "rate" and not (self.rate_hz is not None and self.rate_hz > 0):
            raise PayloadError(f"rate needs rate_hz > 0, got {self.rate_hz!r}")
        number_field(body, "rate_hz", 0.0, 1e6)

    @classmethod
    def parse(cls, payload: bytes) -> Command:
        """Read a command payload.

        Raises:
            PayloadError: Not a small JSON object, or a field of the wrong type.
        """
        body = parse_object(payload)
        return cls(
            str(text_field(body, "cmd", required=True)),
            text_field(body, "pattern"),
            text_field(body, "reason"),
            text_field(body, "stretch_id"),
            number_field(body, "rate_hz", 0.0, 1e6),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object: ``cmd`` and the fields that are set."""
        out: dict[str, Any] = {"cmd": self.cmd}
        for name in ("pattern", "reason", "stretch_id"):
            if (value := getattr(self, name)) is not None:
                out[name] = value
        if self.rate_hz is not None:
            out["rate_hz"] = compact_number(self.rate_hz)
        return out

    def to_json(self) -> str:
        """The payload."""
        return json.dumps(self.to_dict())
