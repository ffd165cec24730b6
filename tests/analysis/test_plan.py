"""The exercise plan: the default schedule, its JSON form and checks, and adherence."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import EXERCISES, Plan, PlanItem, Schedule, Weekday, adherence, default_plan
from analysis.adherence import Done, ItemAdherence
from analysis.plan import MAX_HORIZON_WEEKS
from analysis.programme import MAX_DURATION_S, MAX_HOLD_S, MAX_REPS, MAX_SETS, Category, Dose, exercises_in

# Derandomised and without the example database, so every run tries the same inputs.
PROPERTY = settings(max_examples=40, deadline=None, derandomize=True, database=None)

START = date(2025, 1, 6)  # a Monday
STRETCHES = [e.id for e in exercises_in(Category.STRETCH)]
STRENGTHENING = [e.id for e in exercises_in(Category.STRENGTHENING)]


def day(n: int) -> date:
    """The plan's day number ``n`` (0 is START)."""
    return START + timedelta(days=n)


def ids(items: tuple[PlanItem, ...]) -> list[str]:
    return [item.exercise_id for item in items]


# -- the default plan ------------------------------------------------------------------


@pytest.mark.parametrize("n", range(14))
def test_default_plan_over_a_fortnight(n: int) -> None:
    """Stretches every day, strengthening every other day from the first, a walk every day."""
    due = ids(default_plan(START).due_on(day(n)))
    expected = STRETCHES + (STRENGTHENING if n % 2 == 0 else []) + ["walk"]
    assert due == expected


def test_default_plan_runs_twelve_weeks_and_nothing_outside() -> None:
    """Nothing is due before the start or after the 84th day."""
    plan = default_plan(START)
    assert plan.horizon_weeks == 12
    assert plan.end == day(83) == date(2025, 3, 30)
    assert plan.due_on(day(83))
    assert plan.due_on(day(84)) == ()
    assert plan.due_on(day(-1)) == ()
    assert plan.due_on(date(2030, 1, 1)) == ()


def test_default_plan_uses_the_programme_doses() -> None:
    """No item overrides its dose; the walk is the programme's 10-30 min."""
    plan = default_plan(START)
    assert all(item.dose is None for item in plan.items)
    walk = next(item for item in plan.items if item.exercise_id == "walk")
    assert walk.prescribed.duration_s == (600.0, 1800.0)


def test_weekday_items_are_due_on_those_weekdays_only() -> None:
    """A swim on Wednesdays and Saturdays; weekdays given in any order are kept Monday first."""
    item = PlanItem("swim", ("sat", "wed"))  # type: ignore[arg-type]  # text, as from JSON
    assert item.days == (Weekday.WED, Weekday.SAT)
    plan = Plan((item,), START, horizon_weeks=2)
    due_days = [n for n in range(14) if plan.due_on(day(n))]
    assert due_days == [2, 5, 9, 12]  # START is a Monday


def test_due_on_refuses_a_datetime() -> None:
    """A time of day is a programmer error: days are calendar dates."""
    with pytest.raises(ValueError, match=r"day must be a datetime\.date"):
        default_plan(START).due_on(datetime(2025, 1, 7, 9, 0))


def test_week_numbers_count_from_the_start() -> None:
    plan = default_plan(START)
    assert [plan.week_of(day(n)) for n in (0, 6, 7, 13, 83)] == [1, 1, 2, 2, 12]


# -- JSON form -------------------------------------------------------------------------


def test_to_dict_is_plain_json() -> None:
    """Dates as ISO text, schedules as words or weekday lists, doses as plain numbers."""
    plan = Plan(
        (
            PlanItem("knee_roll"),
            PlanItem("squat", Schedule.ALTERNATE, Dose(reps=8, sets=2)),
            PlanItem("walk", (Weekday.MON, Weekday.FRI), Dose(duration_s=(900, 1200))),
        ),
        START,
        horizon_weeks=6,
    )
    assert plan.to_dict() == {
        "version": 1,
        "start": "2025-01-06",
        "horizon_weeks": 6,
        "items": [
            {"exercise": "knee_roll", "days": "daily", "dose": None},
            {
                "exercise": "squat",
                "days": "alternate",
                "dose": {"hold_s": None, "reps": 8, "per_side": False, "sets": 2, "duration_s": None},
            },
            {
                "exercise": "walk",
                "days": ["mon", "fri"],
                "dose": {"hold_s": None, "reps": None, "per_side": False, "sets": 1, "duration_s": [900.0, 1200.0]},
            },
        ],
    }
    assert Plan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan


def test_default_plan_round_trips_through_json() -> None:
    plan = default_plan(START)
    text = json.dumps(plan.to_dict())
    assert Plan.from_dict(json.loads(text)) == plan
    assert json.dumps(Plan.from_dict(json.loads(text)).to_dict()) == text


def test_optional_keys_take_their_defaults() -> None:
    """Version, horizon, days, dose and dose keys may be left out of hand-written JSON."""
    plan = Plan.from_dict({"start": "2025-01-06", "items": [{"exercise": "walk"}, {"exercise": "squat", "dose": {}}]})
    assert plan == Plan((PlanItem("walk"), PlanItem("squat", dose=Dose())), START, 12)


def _ranges(limit: float) -> st.SearchStrategy[tuple[float, float]]:
    seconds = st.floats(min_value=0.0, max_value=limit, exclude_min=True, allow_nan=False)
    return st.tuples(seconds, seconds).map(lambda pair: (min(pair), max(pair)))


_DOSES = st.builds(
    Dose,
    hold_s=st.none() | _ranges(MAX_HOLD_S),
    reps=st.none() | st.integers(1, MAX_REPS),
    per_side=st.booleans(),
    sets=st.integers(1, MAX_SETS),
    duration_s=st.none() | _ranges(MAX_DURATION_S),
)
_DAYS = st.sampled_from(list(Schedule)) | st.lists(st.sampled_from(list(Weekday)), min_size=1, unique=True).map(tuple)


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    chosen = draw(st.lists(st.sampled_from([e.id for e in EXERCISES]), unique=True))
    items = tuple(PlanItem(exercise_id, draw(_DAYS), draw(st.none() | _DOSES)) for exercise_id in chosen)
    start = draw(st.dates(min_value=date(1990, 1, 1), max_value=date(2200, 12, 31)))
    return Plan(items, start, draw(st.integers(1, MAX_HORIZON_WEEKS)))


@PROPERTY
@given(plans())
def test_from_dict_of_to_dict_is_the_same_plan(plan: Plan) -> None:
    """Any valid plan survives to_dict, JSON text and from_dict exactly."""
    assert Plan.from_dict(plan.to_dict()) == plan
    assert Plan.from_dict(json.loads(json.dumps(plan.to_dict(), allow_nan=False))) == plan


# -- validation ------------------------------------------------------------------------


def _base() -> dict[str, Any]:
    return {
        "version": 1,
        "start": "2025-01-06",
        "horizon_weeks": 12,
        "items": [
            {"exercise": "knee_roll", "days": "daily", "dose": {"hold_s": [10, 10], "reps": 3, "per_side": True}},
            {"exercise": "walk", "days": ["mon", "thu"], "dose": None},
        ],
    }


def _set(path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(_base())
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


def _without(key: str) -> dict[str, Any]:
    data = _base()
    del data[key]
    return data


BAD_PLANS = [
    pytest.param(_set(("items", 0, "exercise"), "burpee"), r"items\[0\]\.exercise: unknown exercise", id="unknown-id"),
    pytest.param(_set(("items", 0, "exercise"), 7), r"items\[0\]\.exercise must be", id="id-not-text"),
    pytest.param(_set(("items", 1, "days"), ["mon", "funday"]), r"items\[1\]\.days\[1\] must be", id="weekday"),
    pytest.param(_set(("items", 1, "days"), ["Monday"]), r"items\[1\]\.days\[0\]", id="weekday-long"),
    pytest.param(_set(("items", 1, "days"), ["mon", "mon"]), r"items\[1\]\.days\[1\].*twice", id="weekday-twice"),
    pytest.param(_set(("items", 1, "days"), []), r"items\[1\]\.days must be", id="no-weekdays"),
    pytest.param(_set(("items", 1, "days"), "weekly"), r"items\[1\]\.days must be", id="schedule"),
    pytest.param(_set(("items", 0, "dose", "reps"), -3), r"items\[0\]\.dose\.reps must be", id="negative-reps"),
    pytest.param(_set(("items", 0, "dose", "reps"), "3"), r"items\[0\]\.dose\.reps must be", id="reps-text"),
    pytest.param(_set(("items", 0, "dose", "reps"), 3.0), r"items\[0\]\.dose\.reps must be", id="reps-float"),
    pytest.param(_set(("items", 0, "dose", "reps"), 10**9), r"items\[0\]\.dose\.reps must be", id="reps-absurd"),
    pytest.param(_set(("items", 0, "dose", "sets"), 0), r"items\[0\]\.dose\.sets must be", id="zero-sets"),
    pytest.param(_set(("items", 0, "dose", "sets"), None), r"items\[0\]\.dose\.sets must be", id="null-sets"),
    pytest.param(_set(("items", 0, "dose", "hold_s"), [-10, 10]), r"items\[0\]\.dose\.hold_s must", id="negative-hold"),
    pytest.param(_set(("items", 0, "dose", "hold_s"), [15, 10]), r"items\[0\]\.dose\.hold_s must", id="hold-inverted"),
    pytest.param(_set(("items", 0, "dose", "hold_s"), [10]), r"items\[0\]\.dose\.hold_s must", id="hold-one"),
    pytest.param(_set(("items", 0, "dose", "hold_s"), 10), r"items\[0\]\.dose\.hold_s must", id="hold-number"),
    pytest.param(_set(("items", 0, "dose", "hold_s"), [10, 1e6]), r"items\[0\]\.dose\.hold_s must", id="hold-absurd"),
    pytest.param(_set(("items", 0, "dose", "hold_s"), [10, float("nan")]), r"dose\.hold_s must", id="hold-nan"),
    pytest.param(_set(("items", 0, "dose", "per_side"), "yes"), r"items\[0\]\.dose\.per_side must", id="per-side"),
    pytest.param(_set(("items", 1, "dose"), {"duration_s": [600, 1e9]}), r"dose\.duration_s must", id="duration"),
    pytest.param(
        _set(("items", 1, "dose"), {"minutes": 10}), r"items\[1\]\.dose: unknown key 'minutes'", id="dose-key"
    ),
    pytest.param(_set(("items", 1, "dose"), [10, 20]), r"items\[1\]\.dose must be an object", id="dose-list"),
    pytest.param(
        _set(("items", 1, "exercise"), "knee_roll"), r"items\[1\]: exercise 'knee_roll' is listed twice", id="dup"
    ),
    pytest.param(_set(("items", 0), "knee_roll"), r"items\[0\] must be an object", id="item-text"),
    pytest.param(_set(("items",), {"exercise": "walk"}), r"items must be a list", id="items-object"),
    pytest.param(_set(("items",), [{"exercise": "walk"}] * 1000), r"items: at most 12", id="items-absurd"),
    pytest.param(_set(("start",), "2025-13-01"), r"start must be a real date", id="start-month"),
    pytest.param(_set(("start",), "06/01/2025"), r"start must be a date as 'YYYY-MM-DD'", id="start-format"),
    pytest.param(_set(("start",), 20250106), r"start must be a date", id="start-number"),
    pytest.param(_set(("horizon_weeks",), 0), r"horizon_weeks must be", id="horizon-zero"),
    pytest.param(_set(("horizon_weeks",), -4), r"horizon_weeks must be", id="horizon-negative"),
    pytest.param(_set(("horizon_weeks",), 10_000), r"horizon_weeks must be", id="horizon-absurd"),
    pytest.param(_set(("horizon_weeks",), "12"), r"horizon_weeks must be", id="horizon-text"),
    pytest.param(_set(("horizon_weeks",), True), r"horizon_weeks must be", id="horizon-bool"),
    pytest.param(_set(("version",), 2), r"version must be 1", id="version"),
    pytest.param(_set(("owner",), "me"), r"plan: unknown key 'owner'", id="plan-key"),
    pytest.param(_without("items"), r"plan: missing 'items'", id="no-items"),
    pytest.param(_without("start"), r"plan: missing 'start'", id="no-start"),
    pytest.param([1, 2], r"plan must be an object", id="not-a-dict"),
]


@pytest.mark.parametrize(("data", "message"), BAD_PLANS)
def test_from_dict_refuses_bad_plans_naming_the_field(data: Any, message: str) -> None:
    """Every mistake in stored, user-edited JSON is a ValueError that says where it is."""
    with pytest.raises(ValueError, match=message):
        Plan.from_dict(data)


def test_the_base_of_the_bad_plans_is_good() -> None:
    """The plans above differ from a valid one by their mistake only."""
    plan = Plan.from_dict(_base())
    assert ids(plan.items) == ["knee_roll", "walk"]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Plan((PlanItem("walk"), PlanItem("walk")), START), r"items\[1\]: exercise 'walk' is listed twice"),
        (lambda: Plan(("walk",), START), r"items\[0\] must be a PlanItem"),  # type: ignore[arg-type]
        (lambda: Plan((), datetime(2025, 1, 6, 8, 0)), "start must be a datetime.date"),
        (lambda: Plan((), START, MAX_HORIZON_WEEKS + 1), "horizon_weeks must be"),
        (lambda: Plan((), date(9999, 12, 1)), "too late"),
        (lambda: PlanItem("burpee"), "exercise_id: unknown exercise"),
        (lambda: PlanItem("walk", "sometimes"), "days must be"),  # type: ignore[arg-type]
        (lambda: PlanItem("walk", dose={"reps": 3}), "dose must be a Dose"),  # type: ignore[arg-type]
    ],
)
def test_constructors_check_their_fields(build: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"exercise_id": "burpee"}, "exercise_id: unknown exercise"),
        ({"day": datetime(2025, 1, 6, 12, 0)}, "day must be a datetime.date"),
        ({"reps": -1}, "reps must be"),
        ({"reps": 2.5}, "reps must be"),
        ({"held_s": -5.0}, "held_s must be >= 0"),
        ({"held_s": float("inf")}, "held_s must be a finite number"),
        ({"duration_s": "600"}, "duration_s must be a finite number"),
    ],
)
def test_done_checks_itself(kwargs: dict[str, Any], message: str) -> None:
    fields: dict[str, Any] = {"exercise_id": "walk", "day": START, **kwargs}
    with pytest.raises(ValueError, match=message):
        Done(**fields)


def test_done_round_trips_through_json() -> None:
    record = Done("knee_roll", START, reps=6, held_s=60)
    assert record.held_s == 60.0
    assert Done.from_dict(json.loads(json.dumps(record.to_dict()))) == record
    assert Done.from_dict({"exercise": "walk", "day": "2025-01-06"}) == Done("walk", START)
    with pytest.raises(ValueError, match="done: unknown key 'minutes'"):
        Done.from_dict({"exercise": "walk", "day": "2025-01-06", "minutes": 10})
    with pytest.raises(ValueError, match=r"done\.reps must be"):
        Done.from_dict({"exercise": "walk", "day": "2025-01-06", "reps": -2})
    with pytest.raises(ValueError, match=r"done\.exercise: unknown exercise"):
        Done.from_dict({"exercise": "run", "day": "2025-01-06"})


# -- adherence -------------------------------------------------------------------------


def ticked(plan: Plan, n: int, *, skip: tuple[str, ...] = ()) -> Iterator[Done]:
    """A tick for every item due on day ``n`` except ``skip``."""
    for item in plan.due_on(day(n)):
        if item.exercise_id not in skip:
            yield Done(item.exercise_id, day(n))


def fortnight() -> tuple[Plan, list[Done]]:
    """The default plan's first two weeks as a wearer kept it.

    Even days have 9 items due (5 stretches, 3 strengthening, the walk), odd days 6.
    Complete: days 0, 2, 3, 5 and 7-10, 12. Partial: day 1 (knee roll 3 of 6 reps, so
    5.5 of 6), day 4 (walk 5 of 10 min: 8.5 of 9), day 6 (nothing: 0 of 9), day 11 (back
    stabiliser 100 of 200 s held: 5.5 of 6), day 13 (today, the walk still to do: 5 of 6).
    """
    plan = default_plan(START)
    done: list[Done] = []
    for n in (0, 2, 3, 7, 8, 12):
        done += ticked(plan, n)
    done += ticked(plan, 1, skip=("knee_roll",))
    done.append(Done("knee_roll", day(1), reps=3))  # 3 of 3 x 2 sides
    done += ticked(plan, 4, skip=("walk", "plank"))
    done += [Done("walk", day(4), duration_s=300.0), Done("plank", day(4), held_s=10.0)]
    done += ticked(plan, 5, skip=("knee_roll", "back_stabiliser", "walk"))
    done += [
        Done("knee_roll", day(5), reps=6),
        Done("back_stabiliser", day(5), reps=10),  # one side ...
        Done("back_stabiliser", day(5), reps=10),  # ... and the other
        Done("walk", day(5), duration_s=300.0),
        Done("walk", day(5), duration_s=300.0),
    ]
    done += ticked(plan, 9)
    done.append(Done("crunch", day(9), reps=12))  # not due on an odd day: ignored
    done += ticked(plan, 10, skip=("squat", "plank"))
    done += [Done("squat", day(10), reps=4), Done("squat", day(10), reps=6), Done("plank", day(10), held_s=30.0)]
    done += ticked(plan, 11, skip=("back_stabiliser",))
    done.append(Done("back_stabiliser", day(11), held_s=100.0))  # of 10 s x 10 x 2 sides
    done += ticked(plan, 13, skip=("walk",))
    done += [Done("walk", day(-1)), Done("walk", day(14), duration_s=1800.0)]  # outside the range
    return plan, done


def test_fortnight_days() -> None:
    """Each day's items due, items done, fraction and completeness, by hand."""
    plan, done = fortnight()
    result = adherence(plan, done, day(0), day(13))
    got = [(d.prescribed, d.done, d.fraction, d.complete) for d in result.days]
    assert got == [
        (9, 9, 1.0, True),
        (6, 5, 11 / 12, False),
        (9, 9, 1.0, True),
        (6, 6, 1.0, True),
        (9, 8, 17 / 18, False),
        (6, 6, 1.0, True),
        (9, 0, 0.0, False),
        (6, 6, 1.0, True),
        (9, 9, 1.0, True),
        (6, 6, 1.0, True),
        (9, 9, 1.0, True),
        (6, 5, 11 / 12, False),
        (9, 9, 1.0, True),
        (6, 5, 5 / 6, False),
    ]
    assert [d.day for d in result.days] == [day(n) for n in range(14)]
    assert [d.week for d in result.days] == [1] * 7 + [2] * 7


def test_fortnight_partial_items() -> None:
    """Partial reps, holds and durations are reported as fractions of the dose."""
    plan, done = fortnight()
    days = adherence(plan, done, day(0), day(13)).days

    def item(n: int, exercise_id: str) -> ItemAdherence:
        return next(i for i in days[n].items if i.exercise_id == exercise_id)

    assert item(1, "knee_roll") == ItemAdherence("knee_roll", 0.5, False)
    assert item(4, "walk") == ItemAdherence("walk", 0.5, False)
    assert item(4, "plank") == ItemAdherence("plank", 1.0, True)
    assert item(5, "back_stabiliser") == ItemAdherence("back_stabiliser", 1.0, True)
    assert item(10, "squat") == ItemAdherence("squat", 1.0, True)
    assert item(11, "back_stabiliser") == ItemAdherence("back_stabiliser", 0.5, False)
    assert item(13, "walk") == ItemAdherence("walk", 0.0, False)
    assert "crunch" not in ids(plan.due_on(day(9)))


def test_fortnight_weeks_total_and_streaks() -> None:
    """Week 1: 44 of 54 items, week 2: 49.5 of 51; streaks: 4 the longest, 1 the current."""
    plan, done = fortnight()
    result = adherence(plan, done, day(0), day(13))
    weeks = [(w.week, w.start, w.end, w.prescribed, w.done, w.fraction, w.complete_days) for w in result.weeks]
    assert weeks == [
        (1, day(0), day(6), 54, 43, 44 / 54, 4),  # 9 + 5.5 + 9 + 6 + 8.5 + 6 + 0
        (2, day(7), day(13), 51, 49, 49.5 / 51, 5),  # 6 + 9 + 6 + 9 + 5.5 + 9 + 5
    ]
    assert result.fraction == 187 / 210  # 93.5 of 105
    assert result.longest_streak_days == 4  # days 7-10
    assert result.current_streak_days == 1  # day 12; day 13 is still in progress


def test_an_unfinished_last_day_does_not_break_the_current_streak() -> None:
    """Up to day 11 (not complete, taken as today) the streak is days 7-10; up to 12 it restarts."""
    plan, done = fortnight()
    assert adherence(plan, done, day(0), day(11)).current_streak_days == 4
    assert adherence(plan, done, day(0), day(12)).current_streak_days == 1
    assert adherence(plan, done, day(0), day(6)).current_streak_days == 1  # day 5; day 6 in progress


def test_a_missed_day_before_the_last_breaks_the_streak() -> None:
    """Day 6 (nothing done) is not the last day of a range to day 7: the streak is day 7 alone."""
    plan, done = fortnight()
    result = adherence(plan, done, day(0), day(7))
    assert (result.current_streak_days, result.longest_streak_days) == (1, 2)  # days 2-3


def test_days_with_nothing_due_neither_extend_nor_break_a_streak() -> None:
    """A Monday-and-Thursday swim: four complete swims in a row across the empty days."""
    plan = Plan((PlanItem("swim", (Weekday.MON, Weekday.THU)),), START, horizon_weeks=2)
    done = [Done("swim", d) for d in (day(0), day(3), day(7), day(10))]
    result = adherence(plan, done, day(0), day(13))
    assert (result.current_streak_days, result.longest_streak_days) == (4, 4)
    assert [d.fraction for d in result.days[:4]] == [1.0, None, None, 1.0]
    assert result.weeks[0].prescribed == 2


def test_the_range_is_limited_to_the_plan() -> None:
    """Days before the start or after the end are left out; no overlap gives an empty result."""
    plan = Plan((PlanItem("walk"),), START, horizon_weeks=1)
    result = adherence(plan, [Done("walk", day(n)) for n in range(-3, 10)], day(-3), day(9))
    assert [d.day for d in result.days] == [day(n) for n in range(7)]
    assert (result.start, result.end) == (day(-3), day(9))
    assert (result.fraction, result.current_streak_days, result.longest_streak_days) == (1.0, 7, 7)
    empty = adherence(plan, [], day(20), day(30))
    assert (empty.days, empty.weeks, empty.fraction, empty.current_streak_days) == ((), (), None, 0)


def test_a_range_that_starts_mid_week_reports_that_week_from_its_first_day() -> None:
    plan, done = fortnight()
    result = adherence(plan, done, day(5), day(8))
    assert [(w.week, w.start, w.end, w.prescribed) for w in result.weeks] == [
        (1, day(5), day(6), 15),
        (2, day(7), day(8), 15),
    ]


@pytest.mark.parametrize(
    ("item", "records", "fraction"),
    [
        pytest.param(PlanItem("knee_roll"), [Done("knee_roll", START, reps=3)], 0.5, id="per-side-reps-half"),
        pytest.param(PlanItem("knee_roll"), [Done("knee_roll", START, reps=5)], 5 / 6, id="per-side-reps-5-of-6"),
        pytest.param(PlanItem("knee_roll"), [Done("knee_roll", START, reps=6)], 1.0, id="per-side-reps-both"),
        pytest.param(PlanItem("knee_roll"), [Done("knee_roll", START, held_s=30.0)], 0.5, id="hold-30-of-60"),
        pytest.param(PlanItem("knee_roll"), [Done("knee_roll", START, reps=2, held_s=45.0)], 0.75, id="best-measure"),
        pytest.param(PlanItem("knee_hug"), [Done("knee_hug", START, held_s=15.0)], 1.0, id="hold-shortest-x-reps"),
        pytest.param(PlanItem("plank"), [Done("plank", START, held_s=5.0)], 0.5, id="plank-5-of-10"),
        pytest.param(PlanItem("plank"), [Done("plank", START, reps=3)], 0.0, id="measure-not-prescribed"),
        pytest.param(PlanItem("walk"), [Done("walk", START, duration_s=450.0)], 0.75, id="walk-450-of-600"),
        pytest.param(PlanItem("walk"), [Done("walk", START, duration_s=3600.0)], 1.0, id="capped"),
        pytest.param(PlanItem("walk"), [Done("walk", START)], 1.0, id="ticked"),
        pytest.param(
            PlanItem("walk"), [Done("walk", START, duration_s=60.0), Done("walk", START)], 1.0, id="tick-wins"
        ),
        pytest.param(PlanItem("walk"), [], 0.0, id="nothing"),
        pytest.param(PlanItem("walk"), [Done("walk", day(1))], 0.0, id="other-day"),
        pytest.param(PlanItem("walk"), [Done("swim", START)], 0.0, id="other-exercise"),
        pytest.param(PlanItem("squat", dose=Dose(reps=10, sets=3)), [Done("squat", START, reps=15)], 0.5, id="sets"),
        pytest.param(
            PlanItem("squat", dose=Dose(reps=5, per_side=True, sets=2)),
            [Done("squat", START, reps=10)],
            0.5,
            id="sets-and-sides",
        ),
        pytest.param(
            PlanItem("walk", dose=Dose(duration_s=(300.0, 600.0), sets=2)),
            [Done("walk", START, duration_s=300.0)],
            0.5,
            id="timed-sets",
        ),
        pytest.param(PlanItem("yoga", dose=Dose()), [Done("yoga", START, duration_s=0.0)], 1.0, id="as-comfortable"),
    ],
)
def test_item_fraction(item: PlanItem, records: list[Done], fraction: float) -> None:
    """What a day's records are worth against one item's dose (rules: analysis.plan)."""
    result = adherence(Plan((item,), START), records, START, START)
    (got,) = result.days[0].items
    assert got == ItemAdherence(item.exercise_id, fraction, fraction == 1.0)


def test_adherence_to_dict_is_plain_json() -> None:
    plan, done = fortnight()
    data = json.loads(json.dumps(adherence(plan, done, day(0), day(13)).to_dict()))
    assert data["current_streak_days"] == 1
    assert data["weeks"][0] == {
        "week": 1,
        "start": "2025-01-06",
        "end": "2025-01-12",
        "prescribed": 54,
        "done": 43,
        "fraction": 44 / 54,
        "complete_days": 4,
    }
    assert data["days"][1]["items"][0] == {"exercise": "knee_roll", "fraction": 0.5, "done": False}
    assert {k: data["days"][1][k] for k in ("day", "week", "prescribed", "done", "complete")} == {
        "day": "2025-01-07",
        "week": 1,
        "prescribed": 6,
        "done": 5,
        "complete": False,
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((day(5), day(4)), "must not be before start"),
        ((datetime(2025, 1, 6, 9, 0), day(4)), "start must be a datetime.date"),
        ((day(0), "2025-01-10"), "end must be a datetime.date"),
    ],
)
def test_adherence_refuses_bad_ranges(args: tuple[Any, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        adherence(default_plan(START), [], *args)


def test_adherence_refuses_records_that_are_not_done() -> None:
    with pytest.raises(ValueError, match="done must hold Done records"):
        adherence(default_plan(START), [{"exercise": "walk"}], day(0), day(1))  # type: ignore[list-item]
