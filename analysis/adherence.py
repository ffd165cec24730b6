"""How well the wearer keeps the exercise plan (``analysis.plan``): adherence by day and week.

When an item counts as done:

- Its dose is the item's own, or else the exercise's programme dose. The dose sets a
  target in each measure it prescribes: repetitions ``reps x sets x sides`` (a per-side
  dose counts both sides: the knee roll's 3 each side is 6); seconds held
  ``shortest hold x (reps or 1) x sets x sides`` (knee roll 60 s, plank 10 s); seconds of
  activity ``shortest duration x sets`` (the walk's 10 minutes).
- The ``Done`` records of that exercise on that day are added up per measure. The item's
  fraction is the best ``amount / target`` over the measures the dose prescribes, capped
  at 1, and the item is done when that reaches 1. Amounts of a measure the dose does not
  prescribe (repetitions of a walk) count nothing.
- A record with no amount at all (the wearer ticked the exercise off) stands for the
  full dose. A dose that prescribes nothing ("as comfortable") is done by any record.
- Records of exercises not due that day, or outside the range, are ignored.

What is reported:

- a day's fraction is the mean of its items' fractions (None when nothing is due), and
  the day is complete when every item due is done;
- a week is a plan week (7 days from ``start``, numbered from 1), limited to the days of
  the range; its fraction is the sum of its items' fractions over the number of items
  due, so every item weighs the same;
- a streak is a run of complete days. Days with nothing due are passed over: they
  neither extend nor break a streak. The current streak ends on the range's last day,
  except that a last day not complete yet is taken as still in progress, so the streak
  then ends on the day before.

Fractions are summed exactly (``fractions.Fraction``) and reported as the nearest float.

>>> from analysis.plan import default_plan
>>> plan = default_plan(date(2025, 1, 6))
>>> done = [Done("walk", date(2025, 1, 7), duration_s=300.0)]
>>> result = adherence(plan, done, date(2025, 1, 7), date(2025, 1, 7))
>>> [(i.exercise_id, i.fraction) for i in result.days[0].items if i.fraction]
[('walk', 0.5)]
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from itertools import groupby
from typing import Any

from analysis.plan import Plan, check_day, check_known_id, checked_mapping, checked_number, parse_date, shortened
from analysis.programme import Dose

__all__ = ["Adherence", "DayAdherence", "Done", "ItemAdherence", "WeekAdherence", "adherence"]


@dataclass(frozen=True, slots=True)
class Done:
    """A record that the wearer did an exercise on a day (ticked off, or measured).

    Attributes:
        exercise_id: An id of ``analysis.programme.EXERCISES``.
        day: Local calendar date it was done.
        reps: Repetitions done, both sides together, or ``None``.
        held_s: Seconds held in all, or ``None``.
        duration_s: Seconds of a timed activity, or ``None``.

    Raises:
        ValueError: Unknown exercise, a ``datetime`` for ``day``, or a negative,
            non-finite or non-numeric amount; the message names the field.
    """

    exercise_id: str
    day: date
    reps: int | None = None
    held_s: float | None = None
    duration_s: float | None = None

    def __post_init__(self) -> None:
        check_known_id("exercise_id", self.exercise_id)
        check_day("day", self.day)
        if self.reps is not None and (isinstance(self.reps, bool) or not isinstance(self.reps, int) or self.reps < 0):
            raise ValueError(f"reps must be a whole number >= 0 or None, got {shortened(self.reps)}")
        for name in ("held_s", "duration_s"):
            value = getattr(self, name)
            if value is not None and checked_number(name, value) < 0:
                raise ValueError(f"{name} must be >= 0 or None, got {value!r}")
            if value is not None:
                object.__setattr__(self, name, float(value))

    @property
    def ticked(self) -> bool:
        """Whether the record gives no amount (it stands for the full dose)."""
        return self.reps is None and self.held_s is None and self.duration_s is None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form that ``from_dict`` reads back."""
        return {
            "exercise": self.exercise_id,
            "day": self.day.isoformat(),
            "reps": self.reps,
            "held_s": self.held_s,
            "duration_s": self.duration_s,
        }

    @classmethod
    def from_dict(cls, data: object) -> Done:
        """Read a record from its JSON form; amounts may be left out.

        Args:
            data: A mapping as ``to_dict`` returns.

        Returns:
            The record.

        Raises:
            ValueError: A field is missing, unknown, of the wrong type or out of range.
        """
        raw = checked_mapping("done", data, required=("exercise", "day"), optional=("reps", "held_s", "duration_s"))
        check_known_id("done.exercise", raw["exercise"])
        day = parse_date("done.day", raw["day"])
        try:
            return cls(raw["exercise"], day, raw.get("reps"), raw.get("held_s"), raw.get("duration_s"))
        except ValueError as err:
            raise ValueError(f"done.{err}") from None


@dataclass(frozen=True, slots=True)
class ItemAdherence:
    """How much of one item due on a day was done.

    Attributes:
        exercise_id: The exercise.
        fraction: Share of the dose done, within [0, 1].
        done: Whether the dose was met (``fraction`` is then 1).
    """

    exercise_id: str
    fraction: float
    done: bool

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form."""
        return {"exercise": self.exercise_id, "fraction": self.fraction, "done": self.done}


@dataclass(frozen=True, slots=True)
class DayAdherence:
    """One day of the plan: what was due and how much of it was done.

    Attributes:
        day: The local calendar date.
        week: Its plan week (1 for the first 7 days).
        items: Each item due, in plan order.
        fraction: Mean of the items' fractions, or ``None`` when nothing was due.
        complete: Whether something was due and every item was done.
    """

    day: date
    week: int
    items: tuple[ItemAdherence, ...]
    fraction: float | None
    complete: bool

    @property
    def prescribed(self) -> int:
        """Number of items due."""
        return len(self.items)

    @property
    def done(self) -> int:
        """Number of items whose dose was met."""
        return sum(item.done for item in self.items)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form."""
        return {
            "day": self.day.isoformat(),
            "week": self.week,
            "prescribed": self.prescribed,
            "done": self.done,
            "fraction": self.fraction,
            "complete": self.complete,
            "items": [item.to_dict() for item in self.items],
        }


@dataclass(frozen=True, slots=True)
class WeekAdherence:
    """One plan week, limited to the days of the range asked for.

    Attributes:
        week: Plan week number (1 for the first 7 days).
        start: First day of the week within the range.
        end: Last day of the week within the range.
        prescribed: Items due over those days.
        done: Items whose dose was met.
        fraction: Sum of the items' fractions over ``prescribed``, or ``None`` when
            nothing was due.
        complete_days: Days on which every item due was done.
    """

    week: int
    start: date
    end: date
    prescribed: int
    done: int
    fraction: float | None
    complete_days: int

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form."""
        return {
            "week": self.week,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "prescribed": self.prescribed,
            "done": self.done,
            "fraction": self.fraction,
            "complete_days": self.complete_days,
        }


@dataclass(frozen=True, slots=True)
class Adherence:
    """How well a plan was kept over a range of days (rules: the module docstring).

    Attributes:
        start: First day asked for.
        end: Last day asked for.
        days: Each day of the range that lies within the plan, in order.
        weeks: Each plan week that has a day in ``days``, in order.
        fraction: Sum of all item fractions over the items due, or ``None`` when
            nothing was due.
        current_streak_days: Complete days in a row up to the end of the range.
        longest_streak_days: Longest run of complete days within the range.
    """

    start: date
    end: date
    days: tuple[DayAdherence, ...]
    weeks: tuple[WeekAdherence, ...]
    fraction: float | None
    current_streak_days: int
    longest_streak_days: int

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "fraction": self.fraction,
            "current_streak_days": self.current_streak_days,
            "longest_streak_days": self.longest_streak_days,
            "weeks": [week.to_dict() for week in self.weeks],
            "days": [day.to_dict() for day in self.days],
        }


def _credit(dose: Dose, records: Sequence[Done]) -> Fraction:
    """Share of ``dose`` that ``records`` (one exercise, one day) cover, capped at 1."""
    if not records:
        return Fraction(0)
    if any(record.ticked for record in records):
        return Fraction(1)
    measures: list[tuple[Fraction, Fraction]] = []  # (amount done, target)
    if dose.reps is not None:
        reps = sum(record.reps for record in records if record.reps is not None)
        measures.append((Fraction(reps), Fraction(dose.reps * dose.sets * dose.sides)))
    if dose.hold_s is not None:
        held = sum((Fraction(record.held_s) for record in records if record.held_s is not None), Fraction(0))
        holds = (dose.reps or 1) * dose.sets * dose.sides
        measures.append((held, Fraction(dose.hold_s[0]) * holds))
    if dose.duration_s is not None:
        active = sum((Fraction(record.duration_s) for record in records if record.duration_s is not None), Fraction(0))
        measures.append((active, Fraction(dose.duration_s[0]) * dose.sets))
    if not measures:  # "as comfortable": any record will do
        return Fraction(1)
    return min(Fraction(1), max(amount / target for amount, target in measures))


def _mean(total: Fraction, count: int) -> float | None:
    return float(total / count) if count else None


def _week(week: int, scored: Sequence[tuple[DayAdherence, Fraction]]) -> WeekAdherence:
    """Sum up the consecutive days of one plan week."""
    due = sum(day.prescribed for day, _ in scored)
    total = sum((day_sum for _, day_sum in scored), Fraction(0))
    return WeekAdherence(
        week=week,
        start=scored[0][0].day,
        end=scored[-1][0].day,
        prescribed=due,
        done=sum(day.done for day, _ in scored),
        fraction=_mean(total, due),
        complete_days=sum(day.complete for day, _ in scored),
    )


def _streaks(days: Sequence[DayAdherence], end: date) -> tuple[int, int]:
    """``(current, longest)`` runs of complete days, passing over days with nothing due."""
    flags = [day.complete for day in days if day.items]
    if days and days[-1].day == end and days[-1].items and not days[-1].complete:
        flags.pop()  # today, still in progress
    longest = run = 0
    for complete in flags:
        run = run + 1 if complete else 0
        longest = max(longest, run)
    return run, longest


def adherence(plan: Plan, done: Iterable[Done], start: date, end: date) -> Adherence:
    """How well a plan was kept from ``start`` to ``end`` (both included).

    Days outside the plan are left out of the result. The rules for what counts as
    done, for fractions and for streaks are in the module docstring.

    Args:
        plan: The plan.
        done: Records of exercises done, in any order; those of other days or of
            exercises not due are ignored.
        start: First day to report.
        end: Last day to report (typically today).

    Returns:
        Per-day and per-week results, the overall fraction and the streaks.

    Raises:
        ValueError: ``start`` or ``end`` is not a ``datetime.date``, ``end`` is before
            ``start``, or a record is not a ``Done``.
    """
    check_day("start", start)
    check_day("end", end)
    if end < start:
        raise ValueError(f"end ({end}) must not be before start ({start})")
    first, last = max(start, plan.start), min(end, plan.end)
    records: defaultdict[tuple[date, str], list[Done]] = defaultdict(list)
    for record in done:
        if not isinstance(record, Done):
            raise ValueError(f"done must hold Done records, got {shortened(record)}")
        if first <= record.day <= last:
            records[record.day, record.exercise_id].append(record)

    scored: list[tuple[DayAdherence, Fraction]] = []  # each day with its exact sum of fractions
    for offset in range(max(0, (last - first).days + 1)):
        day = first + timedelta(days=offset)
        credits = [
            (item.exercise_id, _credit(item.prescribed, records[day, item.exercise_id])) for item in plan.due_on(day)
        ]
        items = tuple(ItemAdherence(exercise_id, float(credit), credit == 1) for exercise_id, credit in credits)
        day_sum = sum((credit for _, credit in credits), Fraction(0))
        complete = bool(items) and all(item.done for item in items)
        scored.append((DayAdherence(day, plan.week_of(day), items, _mean(day_sum, len(items)), complete), day_sum))

    days = tuple(day for day, _ in scored)
    weeks = tuple(_week(week, list(group)) for week, group in groupby(scored, key=lambda pair: pair[0].week))
    total = sum((day_sum for _, day_sum in scored), Fraction(0))
    current, longest = _streaks(days, end)
    return Adherence(start, end, days, weeks, _mean(total, sum(d.prescribed for d in days)), current, longest)
