"""Seeded whole days: the office day unchanged, and the 24-hour day's truth."""

from __future__ import annotations

import hashlib
import itertools

import pytest

from analysis.settings import Posture
from firmware_sim.days import DAY_S, SHIFTS_PER_H, SLEEP_SHARE, after_evening, full_day, office_day, until_first_walk
from firmware_sim.scenarios import LYING_POSITIONS, Activity, Script, in_bed_windows, truth

SEEDS = range(1, 21)


def _nights(script: Script) -> list[list[tuple[Activity, float]]]:
    """The sleep positions of each in-bed period, a roll over a side (< 1 min) left out of the turn it is part of."""
    nights: list[list[tuple[Activity, float]]] = []
    in_bed = False
    for step in script.steps:
        if step.in_bed and not in_bed:
            nights.append([])
        in_bed = step.in_bed
        if in_bed and step.activity in SLEEP_SHARE and step.duration_s >= 60:
            nights[-1].append((step.activity, step.duration_s))
    return nights


def test_office_days_are_unchanged() -> None:
    """The office days of ``bench.days`` are the ones its published figures were measured on."""
    digest = hashlib.sha256()
    for seed in range(1, 11):
        for work_h in (8.0, 2.0):
            steps = office_day(seed, work_h).steps
            digest.update(repr([(str(s.activity), s.duration_s) for s in steps]).encode())
    assert digest.hexdigest() == "2cc5685d92ff54329fef6d56cddeea6ae136d02a74d0eaf8d4db7cd0e42297a4"


def test_full_day_runs_midnight_to_midnight() -> None:
    """A day lasts 24 h exactly and its truth tiles it; the same seed gives the same day."""
    for seed in (1, 2, 3):
        script = full_day(seed)
        segments = truth(script)
        assert script.duration_s == pytest.approx(DAY_S)
        assert segments[0].start_s == 0.0
        assert all(a.end_s == b.start_s for a, b in itertools.pairwise(segments))
        assert segments[-1].end_s == pytest.approx(DAY_S)
    assert full_day(4) == full_day(4)
    assert full_day(4) != full_day(5)


@pytest.mark.parametrize("seed", SEEDS)
def test_in_bed_windows_open_and_close_the_day(seed: int) -> None:
    """Asleep until about 06:15-07:45, in bed again from about 22:15-23:45 to midnight, only lying or sitting there."""
    segments = truth(full_day(seed))
    (start1, end1), (start2, end2) = in_bed_windows(segments)
    assert start1 == 0.0
    assert 6.0 * 3600 <= end1 <= 8.0 * 3600
    assert 21.5 * 3600 <= start2 <= 23.9 * 3600
    assert end2 == pytest.approx(DAY_S)
    in_bed = {seg.posture for seg in segments if seg.in_bed}
    assert in_bed <= {Posture.LYING, Posture.SITTING}
    # Getting up and going to bed are over the edge of the bed: seated just inside the window.
    bed = [seg for seg in segments if seg.in_bed]
    assert next(seg for seg in bed if seg.end_s == end1).activity is Activity.SITTING
    assert next(seg for seg in bed if seg.start_s == start2).activity is Activity.SITTING


def test_nights_follow_the_sleep_position_distribution() -> None:
    """Over 20 nights: Skarpsno et al. 2017 shares (side 54%, back 37.5%, front 7%) and ~1.6 shifts an hour."""
    time_in = dict.fromkeys(SLEEP_SHARE, 0.0)
    shifts, hours = 0, 0.0
    for seed in SEEDS:
        for night in _nights(full_day(seed)):
            for activity, duration_s in night:
                time_in[activity] += duration_s
            shifts += sum(a[0] is not b[0] for a, b in itertools.pairwise(night))
            hours += sum(d for _, d in night) / 3600
    total = sum(time_in.values())
    side = (time_in[Activity.SIDE_LEFT] + time_in[Activity.SIDE_RIGHT]) / total
    # 20 nights of ~15 positions each: shares within a few points, as an SD of 18% per
    # person (Skarpsno et al.) averages down over ~300 holds.
    assert side == pytest.approx(0.547, abs=0.08)
    assert time_in[Activity.SUPINE] / total == pytest.approx(0.379, abs=0.08)
    assert time_in[Activity.PRONE] / total == pytest.approx(0.074, abs=0.05)
    # About 230 shifts over the 20 days: a Poisson count's SD is ~7%.
    assert shifts / hours == pytest.approx(SHIFTS_PER_H, rel=0.2)


def test_evenings_lie_on_the_sofa_and_sit_with_the_feet_up() -> None:
    """Over 10 days every lying position and sitting with the legs out appear; a sofa raises the head."""
    activities: set[Activity] = set()
    sofa_inclines: list[float] = []
    for seed in range(1, 11):
        for step in full_day(seed).steps:
            activities.add(step.activity)
            if step.activity in LYING_POSITIONS and not step.in_bed:
                sofa_inclines.append(step.incline_deg)
    assert LYING_POSITIONS - {Activity.LYING} <= activities
    assert Activity.LONG_SITTING in activities
    assert sofa_inclines
    assert all(5.0 <= incline <= 20.0 for incline in sofa_inclines)


def test_after_evening_walks_to_bed_and_ends_at_midnight() -> None:
    """The lead-in before a day starts with the walk to bed and ends asleep at midnight."""
    before = after_evening(0)
    day = full_day(0)
    assert before.steps[0].activity is Activity.WALKING
    assert before.steps == day.steps[-len(before.steps) :]
    assert before.steps[-1].in_bed
    assert before.steps[-1].activity in LYING_POSITIONS


def test_until_first_walk_is_the_night_and_getting_up() -> None:
    """The lead-out after a day starts asleep at midnight and stops before the first walk."""
    after = until_first_walk(3)
    day = full_day(3)
    assert after.steps == day.steps[: len(after.steps)]
    assert after.steps[0].in_bed
    assert day.steps[len(after.steps)].activity is Activity.WALKING
    assert Activity.WALKING not in {step.activity for step in after.steps}
