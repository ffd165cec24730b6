"""JSON payloads of the status, action, settings, cmd and event topics: built and parsed in one place.

Every JSON payload on the wire (docs/protocol.md) has one typed home here: a device's
:class:`DeviceStatus`, a wearer's :class:`Action` and :class:`WearerSettings`, a
:class:`Command` to the device, and an analysis event (:func:`parse_event`). Each type
checks its fields where it is built, ``parse`` reads it from the bytes of a message, and ``to_json`` writes it, so every
publisher and subscriber (simulator, gateway, recorder, worker, dashboard, CLI) agrees.

A payload comes from any client on the broker, so it is parsed as hostile: bounded in
size and nesting before anything looks inside. A payload that is not a small, shallow
JSON object, or whose fields are of the wrong type or out of range, raises
:class:`PayloadError`, which the services count and skip; no payload can raise anything
else (deeply nested JSON makes the standard parser raise ``RecursionError``, which is
caught here). Fields a type does not know are ignored, so that an older service reads
a newer sender.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any, ClassVar

from analysis.settings import WEEKDAYS, AlertPolicy, Placement, SlouchPolicy, UserAction
from ingest.codec import MAX_T_S
from ingest.errors import PayloadError

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

#: Largest JSON payload accepted, bytes. A device status or a user action is well under
#: 1 kB (docs/protocol.md); 64 kB leaves room for fields added later.
MAX_PAYLOAD_BYTES = 64 * 1024
#: Deepest nesting accepted: sitless payloads are flat objects with at most a list or an
#: object inside.
MAX_DEPTH = 8
#: Longest action id, exercise id, firmware version, command name or reason accepted
#: (``ingest.actions.send_action`` sends 32 hex digits).
MAX_ID_LEN = 64


def parse_object(payload: bytes, *, max_bytes: int = MAX_PAYLOAD_BYTES, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """Parse a JSON object payload, refusing anything too large or too deeply nested.

    Args:
        payload: The raw MQTT payload.
        max_bytes: Largest payload accepted, bytes.
        max_depth: Deepest nesting of lists and objects accepted (the top object is 1).

    Returns:
        The object.

    Raises:
        PayloadError: Too large, not UTF-8 JSON, not an object, or nested too deeply;
            the message says which.

    >>> parse_object(b'{"action": "done"}')
    {'action': 'done'}
    >>> parse_object(b"[" * 5000 + b"]" * 5000)
    Traceback (most recent call last):
    ...
    ingest.errors.PayloadError: JSON nested too deeply
    """
    if len(payload) > max_bytes:
        raise PayloadError(f"payload of {len(payload)} bytes is over the {max_bytes}-byte limit")
    try:
        body = json.loads(payload)
    except RecursionError:
        raise PayloadError("JSON nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as err:
        raise PayloadError(f"not JSON: {err}") from None
    if not isinstance(body, dict):
        raise PayloadError(f"expected a JSON object, got {type(body).__name__}")
    if _depth(body) > max_depth:
        raise PayloadError("JSON nested too deeply")
    return body


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON, without recursion (the top container is 1).

    >>> _depth({"a": [1, {"b": 2}]}), _depth(3)
    (3, 0)
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


def _text(body: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    """A string field of 1 to :data:`MAX_ID_LEN` characters, or None when absent and not required."""
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_LEN:
        raise PayloadError(f"{name} must be a string of 1 to {MAX_ID_LEN} characters, got {value!r:.80}")
    return value


def _number(body: dict[str, Any], name: str, lo: float = -math.inf, hi: float = math.inf) -> float | None:
    """A finite number field within ``[lo, hi]``, or None when absent (bools are not numbers)."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise PayloadError(f"{name} must be a number within [{lo}, {hi}], got {value!r:.80}")
    return float(value)


def _placement(body: dict[str, Any]) -> Placement | None:
    """The ``placement`` field: a known placement, or None when absent."""
    value = body.get("placement")
    if value is None:
        return None
    try:
        return Placement(value)
    except (ValueError, TypeError):
        raise PayloadError(f"unknown placement {value!r:.80}") from None


def _compact(number: float) -> int | float:
    """A whole number as an int in JSON (``50`` rather than ``50.0``)."""
    value = float(number)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


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
        _number(body, "battery_pct", 0.0, 100.0)
        rate = _number(body, "rate_hz", 0.0, 1e6)
        if rate == 0.0:
            raise PayloadError("rate_hz must be > 0, got 0")
        _number(body, "t_s", 0.0, MAX_T_S)
        _number(body, "rssi_dbm", -200.0, 50.0)
        _number(body, "clock_drift_ppm", -1e6, 1e6)
        _text(body, "firmware")

    @classmethod
    def parse(cls, payload: bytes) -> DeviceStatus:
        """Read a status payload.

        Raises:
            PayloadError: Not a small JSON object, or a field of the wrong type or out of range.
        """
        body = parse_object(payload)
        cls._check(body)
        placement = _placement(body)
        return cls(
            online=body.get("online"),
            battery_pct=_number(body, "battery_pct", 0.0, 100.0),
            rate_hz=_number(body, "rate_hz", 0.0, 1e6),
            placement=placement,
            firmware=_text(body, "firmware"),
            t_s=_number(body, "t_s"),
            rssi_dbm=_number(body, "rssi_dbm"),
            clock_drift_ppm=_number(body, "clock_drift_ppm"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object: the fields that are set."""
        out: dict[str, Any] = {}
        if self.online is not None:
            out["online"] = self.online
        if self.battery_pct is not None:
            out["battery_pct"] = _compact(self.battery_pct)
        if self.rate_hz is not None:
            out["rate_hz"] = _compact(self.rate_hz)
        if self.placement is not None:
            out["placement"] = str(self.placement)
        if self.firmware is not None:
            out["firmware"] = self.firmware
        if self.t_s is not None:
            out["t_s"] = self.t_s
        if self.rssi_dbm is not None:
            out["rssi_dbm"] = _compact(self.rssi_dbm)
        if self.clock_drift_ppm is not None:
            out["clock_drift_ppm"] = self.clock_drift_ppm
        return out

    def to_json(self) -> str:
        """The payload."""
        return json.dumps(self.to_dict())


@dataclass(frozen=True, slots=True)
class Action:
    """A wearer's action (docs/protocol.md, ``action``).

    Attributes:
        action: What the wearer did.
        id: Names this one action (1 to :data:`MAX_ID_LEN` characters), so that a
            redelivered message is applied once; None from a sender that gives none.
        exercise: The programme exercise id (or ``any``) of ``exercise_start``, and only of it.

    >>> Action.parse(b'{"action": "exercise_start", "exercise": "squat", "id": "7f3a"}')
    Action(action=<UserAction.EXERCISE_START: 'exercise_start'>, id='7f3a', exercise='squat')
    >>> Action.parse(b'{"action": "exercise_start"}')
    Traceback (most recent call last):
    ...
    ingest.errors.PayloadError: exercise_start needs an exercise, and only it takes one
    """

    action: UserAction
    id: str | None = None
    exercise: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.action, UserAction):
            raise PayloadError(f"unknown action {self.action!r:.80}")
        _text(self.to_dict(), "id")
        if (self.exercise is None) == (self.action is UserAction.EXERCISE_START):
            raise PayloadError(f"{UserAction.EXERCISE_START} needs an exercise, and only it takes one")
        _text(self.to_dict(), "exercise")

    @classmethod
    def parse(cls, payload: bytes) -> Action:
        """Read an action payload.

        Raises:
            PayloadError: Not a small JSON object, an unknown action, a bad id, or an
                exercise missing from ``exercise_start`` (or given to another action).
        """
        body = parse_object(payload)
        try:
            action = UserAction(str(body.get("action")))
        except ValueError:
            raise PayloadError(f"unknown action {body.get('action')!r:.80}") from None
        return cls(action, _text(body, "id"), _text(body, "exercise"))

    def to_dict(self) -> dict[str, Any]:
        """The JSON object."""
        out: dict[str, Any] = {"action": str(self.action)}
        if self.exercise is not None:
            out["exercise"] = self.exercise
        if self.id is not None:
            out["id"] = self.id
        return out

    def to_json(self) -> str:
        """The payload."""
        return json.dumps(self.to_dict())


Hours = tuple[float, float]


def _hours(value: Any, name: str) -> Hours:
    """A ``[start, end]`` pair of local clock hours within [0, 24], start != end."""
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not all(isinstance(h, int | float) and not isinstance(h, bool) for h in value)
        or not (0 <= value[0] < 24 and 0 <= value[1] <= 24 and value[0] != value[1])
    ):
        raise PayloadError(f"{name} must be [start, end] hours within [0, 24], start != end, got {value!r:.80}")
    return float(value[0]), float(value[1])


@dataclass(frozen=True, slots=True)
class WearerSettings:
    """What the wearer chose on the dashboard's Settings page (docs/protocol.md, ``settings``).

    Attributes:
        max_sitting_min: Sitting this long without a break raises a reminder, min (5 to 240).
        weekly_hours: Hours with reminders per weekday, Monday first (7 entries, each
            ``(start, end)`` in local hours or None for a day without reminders); None:
            every hour of every day.
        quiet_hours: Local spans without reminders on every day (at most 4).
        slouch_nudge: Whether a chest or upper-back sensor nudges a slouch.
        slouch_deg: Inclination from upright counted as slouching, deg (5 to 60).
        placement: Where the wearer wears the sensor, in place of what its status says
            (a sensor that does not know); None: as the status says.

    >>> s = WearerSettings.parse(b'{"max_sitting_min": 45, "quiet_hours": [[12, 13]]}')
    >>> s.max_sitting_min, s.quiet_hours, s.policy(AlertPolicy()).max_sitting_s
    (45.0, ((12.0, 13.0),), 2700.0)
    >>> WearerSettings.parse(b'{"weekly_hours": {"monday": [9, 17]}}')
    Traceback (most recent call last):
    ...
    ingest.errors.PayloadError: weekly_hours needs all 7 days, monday to sunday (null for a day off)
    """

    max_sitting_min: float = 30.0
    weekly_hours: tuple[Hours | None, ...] | None = None
    quiet_hours: tuple[Hours, ...] = ()
    slouch_nudge: bool = False
    slouch_deg: float = 20.0
    placement: Placement | None = None

    MAX_QUIET: ClassVar[int] = 4

    def __post_init__(self) -> None:
        body = self.to_dict()
        _number(body, "max_sitting_min", 5.0, 240.0)
        _number(body, "slouch_deg", 5.0, 60.0)
        if self.placement is not None and not isinstance(self.placement, Placement):
            raise PayloadError(f"unknown placement {self.placement!r:.80}")
        if not isinstance(self.slouch_nudge, bool):
            raise PayloadError(f"slouch_nudge must be true or false, got {self.slouch_nudge!r:.80}")
        if len(self.quiet_hours) > self.MAX_QUIET:
            raise PayloadError(f"at most {self.MAX_QUIET} quiet spans, got {len(self.quiet_hours)}")
        for quiet in self.quiet_hours:
            _hours(quiet, "quiet_hours")
        if self.weekly_hours is not None:
            if len(self.weekly_hours) != len(WEEKDAYS):
                raise PayloadError("weekly_hours needs all 7 days, monday to sunday (null for a day off)")
            for day, hours in zip(WEEKDAYS, self.weekly_hours, strict=True):
                if hours is not None:
                    _hours(hours, f"weekly_hours.{day}")

    @classmethod
    def parse(cls, payload: bytes) -> WearerSettings:
        """Read a settings payload; absent fields take their defaults.

        Raises:
            PayloadError: Not a small JSON object, or a field of the wrong type or out of range.
        """
        return cls.from_dict(parse_object(payload))

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> WearerSettings:
        """Read the JSON object of :meth:`to_dict` (as stored).

        Raises:
            PayloadError: A field of the wrong type or out of range.
        """
        weekly = body.get("weekly_hours")
        if weekly is not None:
            if not isinstance(weekly, dict) or set(weekly) != set(WEEKDAYS):
                raise PayloadError("weekly_hours needs all 7 days, monday to sunday (null for a day off)")
            weekly = tuple(None if weekly[d] is None else _hours(weekly[d], f"weekly_hours.{d}") for d in WEEKDAYS)
        quiet = body.get("quiet_hours", [])
        if not isinstance(quiet, list):
            raise PayloadError(f"quiet_hours must be a list of [start, end] hours, got {quiet!r:.80}")
        nudge = body.get("slouch_nudge", False)
        max_sitting = _number(body, "max_sitting_min", 5.0, 240.0)
        slouch_deg = _number(body, "slouch_deg", 5.0, 60.0)
        placement = _placement(body)
        return cls(
            max_sitting_min=30.0 if max_sitting is None else max_sitting,
            weekly_hours=weekly,
            quiet_hours=tuple(_hours(q, "quiet_hours") for q in quiet[: cls.MAX_QUIET + 1]),
            slouch_nudge=nudge,
            slouch_deg=20.0 if slouch_deg is None else slouch_deg,
            placement=placement,
        )

    def policy(self, base: AlertPolicy) -> AlertPolicy:
        """``base`` with the wearer's limit, hours and quiet spans (its own working hours give way to them)."""
        return dataclasses.replace(
            base,
            max_sitting_s=self.max_sitting_min * 60.0,
            weekly_hours=self.weekly_hours,
            working_hours=None if self.weekly_hours is not None else base.working_hours,
            quiet_hours=self.quiet_hours,
        )

    def slouch(self, base: SlouchPolicy) -> SlouchPolicy:
        """``base`` with the wearer's slouch angle and nudge."""
        return dataclasses.replace(base, slouch_deg=self.slouch_deg, nudge=self.slouch_nudge)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object, every field given."""

        def pair(hours: Hours) -> list[int | float]:
            return [_compact(hours[0]), _compact(hours[1])]

        weekly = self.weekly_hours
        return {
            "max_sitting_min": _compact(self.max_sitting_min),
            "weekly_hours": None
            if weekly is None
            else {d: None if h is None else pair(h) for d, h in zip(WEEKDAYS, weekly, strict=True)},
            "quiet_hours": [pair(q) for q in self.quiet_hours],
            "slouch_nudge": self.slouch_nudge,
            "slouch_deg": _compact(self.slouch_deg),
            "placement": None if self.placement is None else str(self.placement),
        }

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
            _text(body, name, required=name == "cmd")
        if self.cmd == "rate" and not (self.rate_hz is not None and self.rate_hz > 0):
            raise PayloadError(f"rate needs rate_hz > 0, got {self.rate_hz!r}")
        _number(body, "rate_hz", 0.0, 1e6)

    @classmethod
    def parse(cls, payload: bytes) -> Command:
        """Read a command payload.

        Raises:
            PayloadError: Not a small JSON object, or a field of the wrong type.
        """
        body = parse_object(payload)
        return cls(
            str(_text(body, "cmd", required=True)),
            _text(body, "pattern"),
            _text(body, "reason"),
            _text(body, "stretch_id"),
            _number(body, "rate_hz", 0.0, 1e6),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object: ``cmd`` and the fields that are set."""
        out: dict[str, Any] = {"cmd": self.cmd}
        for name in ("pattern", "reason", "stretch_id"):
            if (value := getattr(self, name)) is not None:
                out[name] = value
        if self.rate_hz is not None:
            out["rate_hz"] = _compact(self.rate_hz)
        return out

    def to_json(self) -> str:
        """The payload."""
        return json.dumps(self.to_dict())


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
    _text(body, "kind", required=True)
    return body
