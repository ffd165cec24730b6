"""The payloads the wearer sends from the dashboard: actions and the reminder settings.

A wearer's :class:`Action` (docs/protocol.md, ``action``) answers an alert or starts
and ends an exercise; :class:`WearerSettings` (``settings``) holds what the wearer chose
on the Settings page and turns it into the analysis policies. Each type checks its
fields where it is built (:mod:`ingest.payload_fields`), ``parse`` reads it from the
bytes of a message and ``to_json`` writes it.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, ClassVar

from analysis.settings import WEEKDAYS, AlertPolicy, Placement, SlouchPolicy, UserAction
from ingest.errors import PayloadError
from ingest.payload_fields import compact_number, number_field, parse_object, placement_field, text_field

__all__ = ["SETTINGS_FIELDS", "Action", "Hours", "WearerSettings"]


@dataclass(frozen=True, slots=True)
class Action:
    """A wearer's action (docs/protocol.md, ``action``).

    Attributes:
        action: What the wearer did.
        id: Names this one action (1 to :data:`~ingest.payload_fields.MAX_ID_LEN` characters), so that a
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
        text_field(self.to_dict(), "id")
        if (self.exercise is None) == (self.action is UserAction.EXERCISE_START):
            raise PayloadError(f"{UserAction.EXERCISE_START} needs an exercise, and only it takes one")
        text_field(self.to_dict(), "exercise")

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
        return cls(action, text_field(body, "id"), text_field(body, "exercise"))

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
        number_field(body, "max_sitting_min", 5.0, 240.0)
        number_field(body, "slouch_deg", 5.0, 60.0)
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
        """Read a settings payload; absent fields take their defaults (``{}``: every default).

        An object of fields none of which is a setting (an action sent to the wrong
        topic, a newer sender's new field alone) is refused rather than read as every
        default, which would undo what the wearer chose.

        Raises:
            PayloadError: Not a small JSON object, no setting among its fields, or a
                field of the wrong type or out of range.
        """
        body = parse_object(payload)
        if body and SETTINGS_FIELDS.isdisjoint(body):
            named = ", ".join(sorted(map(str, body))[:5])
            raise PayloadError(
                f"no setting among its fields ({named:.80}); expected some of {', '.join(sorted(SETTINGS_FIELDS))}"
            )
        return cls.from_dict(body)

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
        max_sitting = number_field(body, "max_sitting_min", 5.0, 240.0)
        slouch_deg = number_field(body, "slouch_deg", 5.0, 60.0)
        placement = placement_field(body)
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
            return [compact_number(hours[0]), compact_number(hours[1])]

        weekly = self.weekly_hours
        return {
            "max_sitting_min": compact_number(self.max_sitting_min),
            "weekly_hours": None
            if weekly is None
            else {d: None if h is None else pair(h) for d, h in zip(WEEKDAYS, weekly, strict=True)},
            "quiet_hours": [pair(q) for q in self.quiet_hours],
            "slouch_nudge": self.slouch_nudge,
            "slouch_deg": compact_number(self.slouch_deg),
            "placement": None if self.placement is None else str(self.placement),
        }

    def to_json(self) -> str:
        """The payload."""
        return json.dumps(self.to_dict())


#: The fields of a settings payload: the dataclass's own, each of which ``to_dict`` writes.
SETTINGS_FIELDS = frozenset(field.name for field in dataclasses.fields(WearerSettings))
