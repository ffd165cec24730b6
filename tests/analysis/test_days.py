"""Simulated days against their ground truth: sitting time, sit-too-long alerts, nights in bed.

A fast version of ``python -m bench.days`` (``bench/days.py``, ``docs/validation.md``):
two seeded office days of ~2.5 h per placement, random mounting, and an hour of sleep
positions with turns; the 24-hour days (``--full-day``) are left to the bench. These are
simulator-only figures; the real recordings remain the arbiter (``test_real_data.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import Placement
from bench.days import (
    ALERT_TOLERANCE_S,
    MIN_BALANCED_ACCURACY,
    SITTING_TOLERANCE,
    alerts_within,
    evaluate_day,
    office_day,
    score_script,
    truth_alerts,
)
from bench.stretched import NIGHT, stretch_day
from firmware_sim import Activity, Script, Step, truth
from firmware_sim.days import full_day
from firmware_sim.scenarios import in_bed_windows

SEEDS = (2, 5)
WORK_H = 2.0
TRUNK = (Placement.WAIST, Placement.LOWER_BACK, Placement.CHEST, Placement.UPPER_BACK)


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
    assert day.sitting_s <= 120.0  # at most the minute on the edge of the bed at each end
    assert day.false_alerts == 0
    assert day.matched == 0


def test_full_day_truth_calls_for_no_alert_in_bed() -> None:
    """Sitting in bed (on its edge, sitting up to read) never lasts 30 min: the truth has no alert at night."""
    for seed in range(1, 11):
        script = full_day(seed)
        assert truth_alerts(script), seed  # the day itself has prolonged sitting
        assert alerts_within(truth_alerts(script), in_bed_windows(truth(script))) == 0, seed


def _short_night() -> Script:
    """A walk (the analysis learns the upright), into bed, the first hour of ``full_day(1)``, out again.

    That hour turns from the back onto the right side, the front, the back again (over
    the right side), the left side and the front.
    """
    night = full_day(1).truncated(3600.0).steps
    return Script(
        "short_night",
        (
            Step(Activity.WALKING, 120.0),
            Step(Activity.STANDING, 30.0),
            Step(Activity.SITTING, 30.0, in_bed=True),
            *night,
            Step(Activity.SITTING, 30.0, in_bed=True),
            Step(Activity.STANDING, 30.0),
            Step(Activity.WALKING, 60.0),
        ),
    )


def _check_night(placement: Placement) -> None:
    day = score_script(_short_night(), placement, seed=7)
    assert day.truth_alerts == 0
    assert day.false_alerts == 0, day
    assert day.in_bed_alerts == 0, day
    assert day.posture is not None
    assert dict(day.posture.recalls)["lying"] >= MIN_BALANCED_ACCURACY, day.posture


@pytest.mark.parametrize("placement", TRUNK)
def test_an_hour_asleep_raises_no_alert(placement: Placement) -> None:
    """An hour of sleep positions with turns reads as lying (97%) and raises no alert."""
    _check_night(placement)


@pytest.mark.xfail(
    strict=False,
    reason="the thigh on the back with the legs out is horizontal and rolled only 5-35 deg, as when seated",
)
def test_an_hour_asleep_raises_no_alert_at_the_thigh() -> None:
    """The same hour at the thigh."""
    _check_night(Placement.THIGH)


@pytest.mark.data
def test_real_night_is_the_wearers_own_lying_without_jumps(recordings: Path) -> None:
    """``bench.stretched --full-day``: a 6.5-8.5 h night between the recorded lying down and getting up, turns faded."""
    csv = recordings / "uci_hapt" / "exp05_user03.csv"
    meta = json.loads(csv.with_suffix(".json").read_text())
    frame = pd.read_csv(csv)
    t_s, acc = frame["t"].to_numpy(np.float64), frame[["ax", "ay", "az"]].to_numpy(np.float64)
    stretched, labels, in_bed = stretch_day(t_s, acc, meta["labels"], 50.0, np.random.default_rng(1))
    night = np.flatnonzero(in_bed)
    assert NIGHT[0] <= night.size / 50.0 <= NIGHT[1]
    assert np.all(labels[night] == "lying")
    assert night.size == night[-1] - night[0] + 1  # one night
    assert labels[night[0] - 1] == labels[night[-1] + 1] == "transition"  # the wearer's own
    own_steps = [
        np.linalg.norm(np.diff(acc[(t_s >= seg["start_s"]) & (t_s < seg["end_s"])], axis=0), axis=1).max()
        for seg in meta["labels"]
        if seg["label"] == "lying"
    ]
    steps = np.linalg.norm(np.diff(stretched[night[0] : night[-1] + 1], axis=0), axis=1)
    assert steps.max() <= max(own_steps)  # no jump larger than the recording's own lying has


def _thigh_night() -> Script:
    """Into bed, 45 min on the back with the legs out (a thigh reads it as sitting), then turns."""
    return Script(
        "thigh_night",
        (
            Step(Activity.WALKING, 180.0),
            Step(Activity.STANDING, 30.0),
            Step(Activity.SITTING, 60.0, in_bed=True),
            Step(Activity.SUPINE, 45 * 60.0, in_bed=True),
            Step(Activity.SIDE_LEFT, 3 * 3600.0, in_bed=True),
            Step(Activity.PRONE, 2.5 * 3600.0, in_bed=True),
            Step(Activity.SITTING, 60.0, in_bed=True),
            Step(Activity.STANDING, 30.0),
            Step(Activity.WALKING, 120.0),
        ),
    )


def test_a_night_on_the_back_raises_no_alert_and_reads_as_lying_seen_whole() -> None:
    """45 min on the back before the first turn raise no alert, live or set aside (the stream holds them back).

    Seen whole, the night's horizontal thigh is lying, and no sitting bout starts in bed.
    """
    day = score_script(_thigh_night(), Placement.THIGH, seed=3)
    assert day.truth_alerts == 0
    assert day.live_in_bed_alerts == 0, "the stream holds back its alerts on the still back (analysis.stillness)"
    assert day.in_bed_alerts == 0
    assert day.false_alerts == 0, day
    assert day.posture is not None
    assert dict(day.posture.recalls)["lying"] >= MIN_BALANCED_ACCURACY, day.posture
    assert day.sitting_s <= 120.0  # at most the minute on the edge of the bed at each end
