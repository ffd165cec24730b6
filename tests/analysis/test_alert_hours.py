"""Working hours per weekday and quiet hours: when alerts are allowed (``analysis.alerts.next_working_time``)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import AlertPolicy, next_working_time

H = 3600.0
DAY = 86400.0
MONDAY = 4 * DAY  # 5 Jan 1970, a Monday, 00:00 UTC


def allowed_at(t_s: float, policy: AlertPolicy) -> bool:
    """Whether alerts are allowed at ``t_s``, read off the clock directly (the test's own reading)."""
    local = t_s + policy.utc_offset_h * H
    days = math.floor(local / DAY)
    hour = (local - days * DAY) / H
    weekday = (days + 3) % 7

    def inside(hours: tuple[float, float], h: float) -> bool:
        start, end = hours
        return start <= h < end if start < end else (h >= start or h < end)

    for quiet in policy.quiet_hours:
        if inside(quiet, hour):
            return False
    today = policy.hours_of(weekday)
    yesterday = policy.hours_of((weekday - 1) % 7)
    if today is not None and today[0] < today[1] and inside(today, hour):
        return True
    if today is not None and today[0] > today[1] and hour >= today[0]:
        return True
    return yesterday is not None and yesterday[0] > yesterday[1] and hour < yesterday[1]


def test_weekly_hours_skip_the_weekend_and_quiet_hours_the_lunch() -> None:
    policy = AlertPolicy(weekly_hours=((9.0, 17.0),) * 5 + (None, None), quiet_hours=((12.0, 13.0),))
    friday_evening = MONDAY + 4 * DAY + 18 * H
    assert next_working_time(friday_evening, policy) == MONDAY + 7 * DAY + 9 * H
    assert next_working_time(MONDAY + 12.25 * H, policy) == MONDAY + 13 * H
    assert next_working_time(MONDAY + 10 * H, policy) == MONDAY + 10 * H


def test_a_shift_past_midnight_runs_into_the_next_day() -> None:
    night_shift = AlertPolicy(weekly_hours=((22.0, 6.0),) + (None,) * 6)  # Monday night only
    assert next_working_time(MONDAY + DAY + 3 * H, night_shift) == MONDAY + DAY + 3 * H  # Tuesday 03:00
    assert next_working_time(MONDAY + DAY + 7 * H, night_shift) == MONDAY + 7 * DAY + 22 * H


def test_no_hours_at_all_means_no_alert() -> None:
    assert next_working_time(MONDAY, AlertPolicy(weekly_hours=(None,) * 7)) == math.inf
    assert next_working_time(MONDAY, AlertPolicy(quiet_hours=((0.0, 24.0),))) == math.inf


def test_the_local_offset_moves_the_hours() -> None:
    policy = AlertPolicy(working_hours=(9.0, 17.0), utc_offset_h=2.0)
    assert next_working_time(MONDAY + 8 * H, policy) == MONDAY + 8 * H  # 10:00 local
    assert next_working_time(MONDAY + 16 * H, policy) == MONDAY + DAY + 7 * H  # 18:00 local: 09:00 local next day


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("weekly_hours", ((9.0, 17.0),) * 6),
        ("weekly_hours", ((9.0, 9.0),) * 7),
        ("quiet_hours", ((25.0, 1.0),)),
        ("quiet_hours", ((-1.0, 3.0),)),
    ],
)
def test_bad_hours_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        AlertPolicy(**{field: value})  # type: ignore[arg-type]


quarter_hours = st.integers(0, 95).map(lambda q: q / 4)
spans = st.tuples(quarter_hours, quarter_hours).filter(lambda s: s[0] != s[1])


@settings(max_examples=60, deadline=None)
@given(
    weekly=st.one_of(st.none(), st.lists(st.one_of(st.none(), spans), min_size=7, max_size=7).map(tuple)),
    quiet=st.lists(spans, max_size=2).map(tuple),
    offset=st.sampled_from([0.0, 1.0, -5.5, 9.0]),
    start_min=st.integers(0, 7 * 24 * 60),
)
def test_the_next_allowed_time_is_the_first_allowed_minute(
    weekly: tuple[tuple[float, float] | None, ...] | None,
    quiet: tuple[tuple[float, float], ...],
    offset: float,
    start_min: int,
) -> None:
    policy = AlertPolicy(weekly_hours=weekly, quiet_hours=quiet, utc_offset_h=offset)
    t = MONDAY + start_min * 60.0
    got = next_working_time(t, policy)
    # Every hour boundary is on a quarter hour, so stepping by minutes finds the first allowed one.
    first = next((t + m * 60.0 for m in range(9 * 24 * 60) if allowed_at(t + m * 60.0, policy)), math.inf)
    if got == math.inf:
        assert first == math.inf
    else:
        assert allowed_at(got, policy)
        assert got == first
