"""JSON payloads of the status, action, cmd and event topics: built and parsed in one place.

Every JSON payload on the wire (docs/protocol.md) has one typed home here: a device's
:class:`DeviceStatus`, a wearer's :class:`Action`, a :class:`Command` to the device, and
an analysis event (:func:`parse_event`). Each type checks its fields where it is built,
``parse`` reads it from the bytes of a message, and ``to_json`` writes it, so every
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

import json
import math
from dataclasses import dataclass
from typing import Any

from analysis.settings import Placement, UserAction
from ingest.errors import PayloadError

__all__ = [
    "MAX_DEPTH",
    "MAX_ID_LEN",
    "MAX_PAYLOAD_BYTES",
    "Action",
    "Command",
    "DeviceStatus",
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
        t_s: Device time of this status, Unix epoch seconds.
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
        _number(body, "t_s", -1e13, 1e13)
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
        placement = body.get("placement")
        if placement is not None:
            try:
                placement = Placement(placement)
            except (ValueError, TypeError):
                raise PayloadError(f"unknown placement {placement!r:.80}") from None
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
