"""The wearer's exercise plan: which programme exercises are due on which days.

A ``Plan`` lists programme exercises (``analysis.programme``) with the days each is due,
from a start date over a horizon of whole weeks (12 by default: programme.md, improvement
can take up to 12 weeks). ``default_plan`` is the programme's own: every stretch daily,
every strengthening exercise on alternate days, and a brisk walk daily. The wearer edits
it; ``Plan.to_dict`` and ``Plan.from_dict`` are its JSON form, checked field by field
because the dashboard stores what the wearer typed.

When an item is due:

- the plan runs from ``start`` to ``end = start + 7 * horizon_weeks - 1`` days; nothing
  is due outside it;
- ``Schedule.DAILY`` items are due every day; ``Schedule.ALTERNATE`` items on the plan's
  1st, 3rd, 5th, ... day (day numbers 0, 2, 4, ... counted from ``start``); items with
  weekdays on those weekdays.

How well a plan is kept is ``analysis.adherence``.

>>> plan = default_plan(date(2025, 1, 6))
>>> [item.exercise_id for item in plan.due_on(date(2025, 1, 7))]
['knee_roll', 'knee_hug', 'back_stabiliser', 'pelvic_tilt', 'deep_stomach', 'walk']
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from analysis.programme import EXERCISES, Category, Dose, exercise_by_id, exercises_in

__all__ = [
    "DEFAULT_HORIZON_WEEKS",
    "MAX_HORIZON_WEEKS",
    "PLAN_VERSION",
    "Plan",
    "PlanItem",
    "Schedule",
    "Weekday",
    "default_plan",
]

#: Weeks a plan runs unless the wearer changes it (programme.md: up to 12 weeks to improve).
DEFAULT_HORIZON_WEEKS = 12
#: Longest plan, weeks (two years): beyond it a horizon is taken for a typing error.
MAX_HORIZON_WEEKS = 104
#: Version of the JSON form of ``Plan.to_dict``.
PLAN_VERSION = 1

_DOSE_KEYS = ("hold_s", "reps", "per_side", "sets", "duration_s")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class Schedule(StrEnum):
    """Days an item is due, other than given weekdays."""

    DAILY = "daily"
    ALTERNATE = "alternate"


class Weekday(StrEnum):
    """A day of the week, in ``date.weekday()`` order (Monday first)."""

    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"

    @property
    def number(self) -> int:
        """Its ``date.weekday()`` number: 0 for Monday to 6 for Sunday."""
        return _WEEKDAYS.index(self)


_WEEKDAYS: tuple[Weekday, ...] = tuple(Weekday)


def shortened(value: object) -> str:
    """``repr`` of a value, cut to a length an error message can carry."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_day(name: str, value: object) -> None:
    # datetime is a date subclass; a time of day would make day arithmetic silently wrong.
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ValueError(f"{name} must be a datetime.date, got {shortened(value)}")


def check_known_id(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be an exercise id (text), got {shortened(value)}")
    try:
        exercise_by_id(value)
    except KeyError:
        known = ", ".join(e.id for e in EXERCISES)
        raise ValueError(f"{name}: unknown exercise {shortened(value)}; known ids: {known}") from None


@dataclass(frozen=True, slots=True)
class PlanItem:
    """One exercise of a plan and the days it is due.

    Attributes:
        exercise_id: An id of ``analysis.programme.EXERCISES``.
        days: ``Schedule.DAILY``, ``Schedule.ALTERNATE``, or the weekdays it is due
            (kept sorted, Monday first; strings are accepted and converted).
        dose: The wearer's own dose, or ``None`` for the programme dose.

    Raises:
        ValueError: Unknown exercise, bad or repeated weekdays, or a dose that is not a
            ``Dose``; the message names the field.

    >>> PlanItem("walk", ("fri", "mon")).days
    (<Weekday.MON: 'mon'>, <Weekday.FRI: 'fri'>)
    """

    exercise_id: str
    days: Schedule | tuple[Weekday, ...] = Schedule.DAILY
    dose: Dose | None = None

    def __post_init__(self) -> None:
        check_known_id("exercise_id", self.exercise_id)
        object.__setattr__(self, "days", _parse_days("days", self.days))
        if self.dose is not None and not isinstance(self.dose, Dose):
            raise ValueError(f"dose must be a Dose or None, got {shortened(self.dose)}")

    @property
    def prescribed(self) -> Dose:
        """The dose asked for: the item's own, or else the programme dose."""
        return self.dose if self.dose is not None else exercise_by_id(self.exercise_id).dose

    def is_due(self, day_number: int, weekday: int) -> bool:
        """Whether the item is due on a day of the plan.

        Args:
            day_number: Days since the plan's start (0 on the start day).
            weekday: ``date.weekday()`` of that day (0 Monday to 6 Sunday).

        Returns:
            True when its schedule includes that day.
        """
        if self.days == Schedule.DAILY:
            return True
        if self.days == Schedule.ALTERNATE:
            return day_number % 2 == 0
        return any(day.number == weekday for day in self.days)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form (``{"exercise", "days", "dose"}``)."""
        days: str | list[str] = str(self.days) if isinstance(self.days, Schedule) else [str(d) for d in self.days]
        return {
            "exercise": self.exercise_id,
            "days": days,
            "dose": None if self.dose is None else _dose_to_dict(self.dose),
        }


def _parse_days(name: str, value: object) -> Schedule | tuple[Weekday, ...]:
    if isinstance(value, str):
        if value in tuple(Schedule):
            return Schedule(value)
        raise ValueError(f"{name} must be 'daily', 'alternate' or a list of weekdays, got {shortened(value)}")
    if not isinstance(value, tuple | list) or not 0 < len(value) <= len(_WEEKDAYS):
        raise ValueError(f"{name} must be 'daily', 'alternate' or 1 to 7 weekdays, got {shortened(value)}")
    days: list[Weekday] = []
    for i, day in enumerate(value):
        if not (isinstance(day, str) and day in tuple(Weekday)):
            raise ValueError(f"{name}[{i}] must be one of {', '.join(Weekday)}, got {shortened(day)}")
        if Weekday(day) in days:
            raise ValueError(f"{name}[{i}]: {day!r} is listed twice")
        days.append(Weekday(day))
    return tuple(sorted(days, key=lambda d: d.number))


@dataclass(frozen=True, slots=True)
class Plan:
    """Which exercises to do on which days, from a start date over whole weeks.

    Attributes:
        items: The exercises, each at most once, in the order to show.
        start: First day of the plan (a local calendar date).
        horizon_weeks: How many weeks it runs (1 to ``MAX_HORIZON_WEEKS``).

    Raises:
        ValueError: A field is of the wrong type or out of range, or an exercise is
            listed twice; the message names the field.
    """

    items: tuple[PlanItem, ...]
    start: date
    horizon_weeks: int = DEFAULT_HORIZON_WEEKS

    def __post_init__(self) -> None:
        if not isinstance(self.items, tuple | list):
            raise ValueError(f"items must be a tuple of PlanItem, got {shortened(self.items)}")
        object.__setattr__(self, "items", tuple(self.items))
        seen: set[str] = set()
        for i, item in enumerate(self.items):
            if not isinstance(item, PlanItem):
                raise ValueError(f"items[{i}] must be a PlanItem, got {shortened(item)}")
            if item.exercise_id in seen:
                raise ValueError(f"items[{i}]: exercise {item.exercise_id!r} is listed twice")
            seen.add(item.exercise_id)
        check_day("start", self.start)
        weeks = self.horizon_weeks
        if isinstance(weeks, bool) or not isinstance(weeks, int) or not 0 < weeks <= MAX_HORIZON_WEEKS:
            raise ValueError(
                f"horizon_weeks must be a whole number from 1 to {MAX_HORIZON_WEEKS}, got {shortened(weeks)}"
            )
        try:
            self.start + timedelta(weeks=weeks)
        except OverflowError:
            raise ValueError(f"start {self.start} is too late for a {weeks}-week plan") from None

    @property
    def end(self) -> date:
        """Last day of the plan."""
        return self.start + timedelta(days=7 * self.horizon_weeks - 1)

    def due_on(self, day: date) -> tuple[PlanItem, ...]:
        """What is prescribed on one day.

        Args:
            day: A local calendar date.

        Returns:
            The items due that day, in plan order; none before ``start`` or after ``end``.

        Raises:
            ValueError: ``day`` is not a ``datetime.date`` (a ``datetime`` is refused).
        """
        check_day("day", day)
        if not self.start <= day <= self.end:
            return ()
        number = (day - self.start).days
        return tuple(item for item in self.items if item.is_due(number, day.weekday()))

    def week_of(self, day: date) -> int:
        """The plan week of a day: 1 for the first 7 days from ``start``, 2 for the next, ...

        Args:
            day: A local calendar date (not necessarily within the plan).

        Returns:
            The week number (0 or less before the start).
        """
        return (day - self.start).days // 7 + 1

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form that ``from_dict`` reads back to an equal plan.

        >>> Plan((PlanItem("walk", ("mon", "thu")),), date(2025, 1, 6), 4).to_dict()["items"]
        [{'exercise': 'walk', 'days': ['mon', 'thu'], 'dose': None}]
        """
        return {
            "version": PLAN_VERSION,
            "start": self.start.isoformat(),
            "horizon_weeks": self.horizon_weeks,
            "items": [item.to_dict() for item in self.items],
        }

    @classmethod
    def from_dict(cls, data: object) -> Plan:
        """Read a plan from its JSON form, checking every field.

        ``version`` and ``horizon_weeks`` may be left out (1 and 12), as may an item's
        ``days`` (daily) and ``dose`` (the programme's), and any key of a dose
        (``Dose`` defaults). Unknown keys are refused.

        Args:
            data: A mapping as ``to_dict`` returns (after ``json.loads``).

        Returns:
            The plan.

        Raises:
            ValueError: A field is missing, unknown, of the wrong type or out of range;
                the message names it (``items[2].dose.reps``).
        """
        plan = checked_mapping("plan", data, required=("start", "items"), optional=("version", "horizon_weeks"))
        version = plan.get("version", PLAN_VERSION)
        if isinstance(version, bool) or not isinstance(version, int) or version != PLAN_VERSION:
            raise ValueError(f"version must be {PLAN_VERSION}, got {shortened(version)}")
        start = parse_date("start", plan["start"])
        raw_items = plan["items"]
        if not isinstance(raw_items, list | tuple):
            raise ValueError(f"items must be a list, got {shortened(raw_items)}")
        if len(raw_items) > len(EXERCISES):
            raise ValueError(f"items: at most {len(EXERCISES)} (one per exercise), got {len(raw_items)}")
        items = tuple(_item_from_dict(f"items[{i}]", raw) for i, raw in enumerate(raw_items))
        try:
            return cls(items, start, plan.get("horizon_weeks", DEFAULT_HORIZON_WEEKS))
        except ValueError as err:
            raise ValueError(f"plan: {err}") from None


def checked_mapping(name: str, data: object, *, required: Sequence[str], optional: Sequence[str]) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ValueError(f"{name} must be an object (a dict), got {shortened(data)}")
    unknown = [key for key in data if key not in required and key not in optional]
    if unknown:
        raise ValueError(f"{name}: unknown key {shortened(unknown[0])}; keys are {', '.join((*required, *optional))}")
    missing = [key for key in required if key not in data]
    if missing:
        raise ValueError(f"{name}: missing {missing[0]!r}")
    return data


def parse_date(name: str, value: object) -> date:
    if not (isinstance(value, str) and _ISO_DATE.fullmatch(value)):
        raise ValueError(f"{name} must be a date as 'YYYY-MM-DD', got {shortened(value)}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} must be a real date as 'YYYY-MM-DD', got {value!r}") from None


def _item_from_dict(name: str, data: object) -> PlanItem:
    item = checked_mapping(name, data, required=("exercise",), optional=("days", "dose"))
    check_known_id(f"{name}.exercise", item["exercise"])
    days = _parse_days(f"{name}.days", item.get("days", str(Schedule.DAILY)))
    raw_dose = item.get("dose")
    dose = None if raw_dose is None else _dose_from_dict(f"{name}.dose", raw_dose)
    return PlanItem(item["exercise"], days, dose)


def _dose_to_dict(dose: Dose) -> dict[str, Any]:
    return {
        "hold_s": None if dose.hold_s is None else list(dose.hold_s),
        "reps": dose.reps,
        "per_side": dose.per_side,
        "sets": dose.sets,
        "duration_s": None if dose.duration_s is None else list(dose.duration_s),
    }


def checked_number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {shortened(value)}")
    return float(value)


def _dose_from_dict(name: str, data: object) -> Dose:
    raw = dict(checked_mapping(name, data, required=(), optional=_DOSE_KEYS))
    for key in ("hold_s", "duration_s"):
        value = raw.get(key)
        if value is not None and not (isinstance(value, list | tuple) and len(value) == 2):
            raise ValueError(f"{name}.{key} must be [min, max] in seconds or null, got {shortened(value)}")
        if value is not None:
            raw[key] = tuple(value)
    try:
        return Dose(**raw)  # Dose checks every type and range, naming the field
    except ValueError as err:
        raise ValueError(f"{name}.{err}") from None


def default_plan(start: date) -> Plan:
    """The programme's own plan: stretches daily, strengthening on alternate days, a daily walk.

    Args:
        start: First day of the plan.

    Returns:
        A ``DEFAULT_HORIZON_WEEKS``-week plan with the programme doses.

    Raises:
        ValueError: ``start`` is not a ``datetime.date``.

    >>> plan = default_plan(date(2025, 1, 6))
    >>> plan.end, [i.exercise_id for i in plan.due_on(plan.start) if i.days == Schedule.ALTERNATE]
    (datetime.date(2025, 3, 30), ['plank', 'squat', 'crunch'])
    """
    items = [PlanItem(e.id, Schedule.DAILY) for e in exercises_in(Category.STRETCH)]
    items += [PlanItem(e.id, Schedule.ALTERNATE) for e in exercises_in(Category.STRENGTHENING)]
    items.append(PlanItem("walk", Schedule.DAILY))
    return Plan(tuple(items), start, DEFAULT_HORIZON_WEEKS)
