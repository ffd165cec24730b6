"""Per calendar day results: splits at local midnight, DST days, in-bed time, relative times."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.days import DaySummary, day_summaries, noon_boundaries
from analysis.events import Alert, BreakTaken, PostureBout, SittingBout
from analysis.inbed import InBedWindow, NightWindow
from analysis.settings import Posture

LONDON = ZoneInfo("Europe/London")
H = 3600.0


@dataclass(frozen=True, slots=True)
class Bout:
    """A posture bout with any posture name (``gap`` and names yet unknown)."""

    start_s: float
    end_s: float
    posture: str


@dataclass(frozen=True, slots=True)
class Gap:
    start_s: float
    end_s: float


def unix(year: int, month: int, day: int, hour: float = 0.0) -> float:
    """Unix time of a London wall-clock time."""
    whole = int(hour)
    return dt.datetime(year, month, day, whole, round((hour - whole) * 60), tzinfo=LONDON).timestamp()


def chain(start_s: float, *steps: tuple[str, float]) -> list[Bout]:
    """Consecutive bouts from ``start_s``, each ``(posture, hours)``."""
    out = []
    for posture, hours in steps:
        out.append(Bout(start_s, start_s + hours * H, posture))
        start_s += hours * H
    return out


def test_bouts_across_midnight_are_split_exactly_at_midnight() -> None:
    """A sitting bout from 23:00 to 01:00 gives an hour to each day, and counts on the day it starts."""
    epoch = unix(2026, 11, 23, 20.0)  # the recording's time 0, winter time (UTC)
    bouts = chain(0.0, ("standing", 3.0), ("sitting", 2.0), ("walking", 0.5))
    sitting = [SittingBout(3 * H, 5 * H)]
    days = day_summaries(bouts, sitting, epoch_s=epoch, tz=LONDON)
    assert [d.date for d in days] == ["2026-11-23", "2026-11-24"]
    first, second = days
    assert first.seconds_of("sitting") == pytest.approx(H)
    assert second.seconds_of("sitting") == pytest.approx(H)
    assert (first.start_s, first.end_s) == (-20 * H, 4 * H)
    assert (first.span_s, second.span_s) == (4 * H, 1.5 * H)
    assert first.sitting_bouts == (0, 0, 1)  # two hours: 60 min or more, on the day it started
    assert second.sitting_bouts == (0, 0, 0)


def test_dst_days_last_23_and_25_hours() -> None:
    """In London the last Sundays of March and October 2026 have 23 h and 25 h, fully counted."""
    for (y, m, d), hours in (((2026, 3, 29), 23.0), ((2026, 10, 25), 25.0)):
        start = unix(y, m, d - 1, 12.0)
        end = unix(y, m, d + 1, 12.0)
        bouts = chain(0.0, ("sitting", 6.0), ("other", (end - start) / H - 6.0))
        days = day_summaries(bouts, epoch_s=start, tz=LONDON)
        assert len(days) == 3
        middle = days[1]
        assert middle.date == dt.date(y, m, d).isoformat()
        assert middle.end_s - middle.start_s == hours * H
        assert middle.span_s == pytest.approx(hours * H)
        assert sum(v for _, v in middle.seconds) == pytest.approx(hours * H)
        assert days[0].span_s == pytest.approx(12 * H)
        assert days[2].span_s == pytest.approx(12 * H)
        noons = noon_boundaries(0.0, end - start, epoch_s=start, tz=LONDON)
        assert [b - a for a, b in pairwise(noons)] == [hours * H, 24 * H]


def test_in_bed_window_crossing_midnight() -> None:
    """In bed 23:00-07:00: its lying and sitting are in bed, split at midnight; other lying stays waking."""
    epoch = unix(2026, 11, 23, 12.0)  # time 0 is noon of day 1
    bouts = chain(
        0.0,
        ("sitting", 10.0),  # 12:00-22:00
        ("lying", 1.0),  # 22:00-23:00 on the sofa: waking lying
        ("lying", 3.0),  # in bed
        ("sitting", 1 / 6),  # 02:00-02:10 reading in bed
        ("lying", 29 / 6),  # to 07:00
        ("standing", 11.0),  # to 18:00 of day 2
    )
    night = NightWindow(0.0, 24 * H, judged=True, worn_s=24 * H, threshold_deg=0.5, in_bed=InBedWindow(11 * H, 19 * H))
    unjudged = NightWindow(24 * H, 48 * H, judged=False, worn_s=6 * H)
    day1, day2 = day_summaries(bouts, nights=[night, unjudged], epoch_s=epoch, tz=LONDON)
    assert day1.in_bed_s == pytest.approx(H)
    assert day1.seconds_of("lying") == pytest.approx(H)
    assert day1.seconds_of("sitting") == pytest.approx(10 * H)
    assert day1.unjudged_s == 0.0
    assert day2.in_bed_s == pytest.approx(7 * H)
    assert day2.seconds_of("lying") == 0.0
    assert day2.seconds_of("sitting") == 0.0
    assert day2.seconds_of("standing") == pytest.approx(11 * H)
    assert day2.unjudged_s == pytest.approx(6 * H)  # noon to 18:00 of day 2 was not judged


def test_day_outside_judged_windows_has_no_in_bed_time() -> None:
    """In-bed time of a day no judged window reaches is None ("not measured"), not 0."""
    bouts = chain(0.0, ("sitting", 8.0), ("lying", 12.0))  # 08:00 day 1 to 04:00 day 2
    epoch = unix(2026, 6, 1, 8.0)
    not_judged = [NightWindow(-20 * H, 4 * H, judged=False, worn_s=4 * H), NightWindow(4 * H, 28 * H, False, 16 * H)]
    days = day_summaries(bouts, nights=not_judged, epoch_s=epoch, tz=LONDON)
    assert [d.in_bed_s for d in days] == [None, None]
    assert [d.unjudged_s for d in days] == [pytest.approx(16 * H), pytest.approx(4 * H)]
    assert days[0].to_dict()["in_bed_s"] is None
    without = day_summaries(bouts, epoch_s=epoch, tz=LONDON)
    assert [d.in_bed_s for d in without] == [None, None]
    assert without[1].seconds_of("lying") == pytest.approx(4 * H)


def test_relative_times_count_days_from_the_first_sample() -> None:
    """Without a clock, the first sample is midnight of day 1: days are 24 h and undated."""
    bouts = chain(1000.0, ("sitting", 20.0), ("standing", 30.0))
    days = day_summaries(bouts, epoch_s=None)
    assert [(d.day, d.date) for d in days] == [(1, None), (2, None), (3, None)]
    assert [d.start_s for d in days] == [1000.0, 1000.0 + 24 * H, 1000.0 + 48 * H]
    assert [d.span_s for d in days] == [pytest.approx(24 * H), pytest.approx(24 * H), pytest.approx(2 * H)]
    assert days[0].seconds_of("sitting") == pytest.approx(20 * H)
    assert days[0].seconds_of("standing") == pytest.approx(4 * H)
    assert noon_boundaries(1000.0, 1000.0 + 50 * H, epoch_s=None) == (
        1000.0 - 12 * H,
        1000.0 + 12 * H,
        1000.0 + 36 * H,
        1000.0 + 60 * H,
    )


def test_alert_at_exactly_midnight_belongs_to_the_new_day() -> None:
    """Events at midnight count for the day that begins there; a recording ending at midnight stays in its day."""
    epoch = unix(2026, 11, 23, 22.0)
    midnight = 2 * H
    bouts = chain(0.0, ("sitting", 3.0))  # 22:00 to 01:00
    alerts = [Alert(midnight - 1.0, 0.0, 0, "neck_roll"), Alert(midnight, 0.0, 1, "neck_roll")]
    breaks = [BreakTaken(midnight, midnight + 60.0)]
    day1, day2 = day_summaries(bouts, alerts=alerts, breaks=breaks, epoch_s=epoch, tz=LONDON)
    assert (day1.alerts, day2.alerts) == (1, 1)
    assert (day1.breaks, day2.breaks) == (0, 1)
    (only,) = day_summaries(chain(0.0, ("sitting", 2.0)), epoch_s=epoch, tz=LONDON)
    assert only.date == "2026-11-23"
    assert only.span_s == pytest.approx(2 * H)


def test_sitting_bouts_are_classed_by_length() -> None:
    """Under 30 min, 30 to 60 min, 60 min or more: exactly 30 and 60 min go up a class."""
    lengths_min = [5, 29.9, 30, 45, 59.9, 60, 120]
    sitting = []
    t = 0.0
    for minutes in lengths_min:
        sitting.append(SittingBout(t, t + minutes * 60))
        t += minutes * 60 + 600
    (day,) = day_summaries(chain(0.0, ("sitting", t / H)), sitting, epoch_s=None)
    assert day.sitting_bouts == (2, 3, 2)
    assert day.to_dict()["sitting_bouts"] == {"under_30min": 2, "30_to_60min": 3, "60min_or_more": 2}


def test_gap_and_unknown_posture_names_are_summed_generically() -> None:
    """Bouts named ``gap``, a gap list and time no bout covers are all ``gap_s``; new names get their own key."""
    bouts = [
        Bout(0.0, 2 * H, "sitting"),
        Bout(2 * H, 3 * H, "gap"),
        Bout(3 * H, 5 * H, "cycling"),
        Bout(6 * H, 8 * H, "other"),  # 5-6 h: nothing
        Bout(8 * H, 9 * H, "nonwear"),
    ]
    (day,) = day_summaries(bouts, gaps=[Gap(6.5 * H, 7 * H)], epoch_s=None)
    assert day.seconds_of("gap") == pytest.approx(2.5 * H)
    assert day.seconds_of("other") == pytest.approx(1.5 * H)
    assert day.seconds_of("cycling") == pytest.approx(2 * H)
    assert day.seconds_of("nonwear") == pytest.approx(H)
    assert day.covered_s == pytest.approx(6.5 * H)
    data = json.loads(json.dumps(day.to_dict()))
    for key in ("date", "sitting_s", "standing_s", "walking_s", "lying_s", "in_bed_s", "nonwear_s", "gap_s"):
        assert key in data
    for key in ("other_s", "covered_s", "cycling_s", "sitting_bouts", "breaks", "alerts"):
        assert key in data


def test_real_event_types_are_accepted() -> None:
    """``PostureBout``, ``SittingBout``, ``BreakTaken`` and ``Alert`` from the analyser go straight in."""
    bouts = [PostureBout(0.0, 600.0, Posture.SITTING), PostureBout(600.0, 700.0, Posture.WALKING)]
    (day,) = day_summaries(
        bouts,
        [SittingBout(0.0, 600.0)],
        [BreakTaken(600.0, 660.0)],
        [Alert(500.0, 0.0, 0, "neck_roll")],
        epoch_s=None,
    )
    assert (day.seconds_of("sitting"), day.seconds_of("walking")) == (600.0, 100.0)
    assert (day.sitting_bouts, day.breaks, day.alerts) == ((1, 0, 0), 1, 1)


def test_nothing_gives_no_days() -> None:
    """An empty recording has no days."""
    assert day_summaries([], epoch_s=None) == ()


POSTURES = ["sitting", "standing", "walking", "lying", "other", "nonwear", "gap", "cycling"]


@settings(max_examples=60, deadline=None, database=None)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from([*POSTURES, "hole"]), st.floats(min_value=1.0, max_value=20 * H)),
        min_size=1,
        max_size=25,
    ),
    start_h=st.floats(min_value=0.0, max_value=24 * 400),
    in_bed=st.tuples(st.floats(min_value=0.0, max_value=60 * H), st.floats(min_value=0.0, max_value=12 * H)),
)
def test_days_add_up_to_the_recording(
    steps: list[tuple[str, float]], start_h: float, in_bed: tuple[float, float]
) -> None:
    """Per day the names and in-bed time fill the day's span; over days every total is the recording's."""
    epoch = unix(2026, 1, 1) + start_h * H  # any time of 2026, both DST changes included
    bouts: list[Bout] = []
    t = 0.0
    for posture, seconds in steps:
        if posture != "hole":  # a stretch no bout covers
            bouts.append(Bout(t, t + seconds, posture))
        t += seconds
    if not bouts:
        return
    window = InBedWindow(in_bed[0], in_bed[0] + in_bed[1])
    nights = [NightWindow(-12 * H, 200 * H, judged=True, worn_s=0.0, in_bed=window)]
    days = day_summaries(bouts, nights=nights, epoch_s=epoch, tz=LONDON)
    start, end = bouts[0].start_s, bouts[-1].end_s
    for day in days:
        assert sum(v for _, v in day.seconds) + (day.in_bed_s or 0.0) == pytest.approx(day.span_s, abs=1e-6)
        assert day.start_s < day.end_s
    assert [d.day for d in days] == list(range(1, len(days) + 1))
    assert sum(d.span_s for d in days) == pytest.approx(end - start, abs=1e-6)
    totals = {name: sum(d.seconds_of(name) for d in days) for name in POSTURES}
    for name in ("gap", "nonwear"):
        expected = sum(b.end_s - b.start_s for b in bouts if b.posture == name)
        if name == "gap":
            expected += (end - start) - sum(b.end_s - b.start_s for b in bouts)
        assert totals[name] == pytest.approx(expected, abs=1e-6)
    awake_and_in_bed = sum(totals[n] for n in POSTURES if n not in ("gap", "nonwear"))
    in_bed_total = sum(d.in_bed_s or 0.0 for d in days)
    worn = sum(b.end_s - b.start_s for b in bouts if b.posture not in ("gap", "nonwear"))
    assert awake_and_in_bed + in_bed_total == pytest.approx(worn, abs=1e-6)
    json.dumps([d.to_dict() for d in days])
    assert all(isinstance(d, DaySummary) for d in days)
