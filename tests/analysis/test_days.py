"""Simulated office days against their ground truth: sitting time and sit-too-long alerts.

A fast version of ``python -m bench.days`` (``bench/days.py``, ``docs/validation.md``):
two seeded days of ~2.5 h per placement, random mounting. These are simulator-only
figures; the real recordings remain the arbiter (``test_real_data.py``).
"""

from __future__ import annotations

import pytest

from analysis import Placement
from bench.days import ALERT_TOLERANCE_S, SITTING_TOLERANCE, evaluate_day, office_day, truth_alerts

SEEDS = (2, 5)
WORK_H = 2.0


def test_short_days_hold_prolonged_sitting() -> None:
    """Each short test day has sitting bouts past 30 min, so there are alerts to check."""
    for seed in SEEDS:
        assert len(truth_alerts(office_day(seed, WORK_H))) >= 3, seed


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("placement", [p for p in Placement if p is not Placement.WRIST])
def test_day_sitting_time_and_alerts(placement: Placement, seed: int) -> None:
    """Sitting time within 3% and every alert within 2 min of the truth's, none false or missed."""
    day = evaluate_day(placement, seed, WORK_H)
    assert abs(day.sitting_error) <= SITTING_TOLERANCE, day
    assert day.false_alerts == 0, day
    assert day.missed == 0, day
    assert day.worst_offset_s <= ALERT_TOLERANCE_S, day


@pytest.mark.parametrize("seed", SEEDS)
def test_wrist_day_raises_no_alert(seed: int) -> None:
    """The wrist reports activity vs inactivity only: no sitting, so never an alert."""
    day = evaluate_day(Placement.WRIST, seed, WORK_H)
    assert day.sitting_s == 0.0
    assert day.false_alerts == 0
    assert day.matched == 0
