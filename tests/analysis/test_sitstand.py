"""Sit-down or not: squats, forward bends and stretches are no stand-to-sit (``analysis.sitstand``)."""

from __future__ import annotations

import numpy as np
import pytest

from analysis import AnalysisResult, AnalysisSettings, Placement, Posture, analyze
from analysis.reference import gait_like
from analysis.settings import PostureTuning
from analysis.sitstand import SIT, STAND, WALK, Evidence, seated_after
from firmware_sim.motion import generate
from firmware_sim.scenarios import Activity, Script, Step

TRUNK = (Placement.WAIST, Placement.LOWER_BACK, Placement.CHEST, Placement.UPPER_BACK)
TUNING = PostureTuning()


def _sitting_s(result: AnalysisResult) -> float:
    return sum(b.end_s - b.start_s for b in result.bouts if b.posture is Posture.SITTING)


def _run(steps: tuple[Step, ...], placement: Placement, seed: int) -> AnalysisResult:
    rec = generate(Script("t", steps), placement, seed=seed, rate_hz=25.0)
    return analyze(rec.t_s, rec.acc_g, AnalysisSettings(placement))


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("placement", TRUNK)
def test_squats_and_stretches_are_not_sitting(placement: Placement, seed: int) -> None:
    """A stretch break (forward and side bends, then squats) after a walk and a stand is never seated."""
    steps = (
        Step(Activity.WALKING, 30.0),
        Step(Activity.STANDING, 30.0),
        Step(Activity.STRETCH, 120.0),
        Step(Activity.SQUAT, 20.0),
        Step(Activity.STANDING, 60.0),
    )
    assert _sitting_s(_run(steps, placement, seed)) == 0.0


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("placement", TRUNK)
def test_sit_down_after_standing_is_sitting(placement: Placement, seed: int) -> None:
    """The same wearer sitting down from standing is seated within the look-ahead of the sit-down."""
    steps = (
        Step(Activity.WALKING, 30.0),
        Step(Activity.STANDING, 30.0),
        Step(Activity.SITTING, 120.0),
        Step(Activity.STANDING, 30.0),
    )
    result = _run(steps, placement, seed)
    # The posture after a transition is decided once it settled (1.5 s): up to ~2 s late.
    assert _sitting_s(result) == pytest.approx(120.0, abs=3.0)


def test_a_turn_without_vertical_acceleration_is_a_bend() -> None:
    """Standing, a 40 deg turn with no jolt stays standing; with a sit-down's jolt it is sitting."""
    bend = Evidence(
        prev=STAND, before=STAND, firm=True, z_m=0.0, jolt_g=0.01, turn_deg=40.0, seated_angle=True, sit_deg=11.6
    )
    assert seated_after(bend, TUNING) == (STAND, True)
    sit = Evidence(
        prev=STAND, before=STAND, firm=True, z_m=0.0, jolt_g=0.15, turn_deg=40.0, seated_angle=True, sit_deg=11.6
    )
    assert seated_after(sit, TUNING) == (SIT, True)


def test_measured_descent_or_rise_decides() -> None:
    """A measured descent from standing is a sit-down, a rise from sitting a stand-up."""
    down = Evidence(
        prev=STAND, before=STAND, firm=True, z_m=-0.3, jolt_g=0.2, turn_deg=2.0, seated_angle=False, sit_deg=15.0
    )
    assert seated_after(down, TUNING) == (SIT, True)
    up = Evidence(prev=SIT, before=SIT, firm=True, z_m=0.35, jolt_g=0.2, turn_deg=2.0, seated_angle=False, sit_deg=15.0)
    assert seated_after(up, TUNING) == (STAND, True)


def test_a_seated_shift_without_jolt_stays_seated() -> None:
    """Seated, a 12 deg turn that the angle would call standing stays sitting without a jolt."""
    shift = Evidence(
        prev=SIT, before=SIT, firm=True, z_m=0.0, jolt_g=0.02, turn_deg=12.0, seated_angle=False, sit_deg=15.0
    )
    assert seated_after(shift, TUNING) == (SIT, True)


def test_from_walking_the_angle_decides() -> None:
    """After walking the angle against the walking upright decides, displacement aside."""
    ev = Evidence(
        prev=WALK, before=STAND, firm=False, z_m=-0.5, jolt_g=0.3, turn_deg=5.0, seated_angle=False, sit_deg=15.0
    )
    assert seated_after(ev, TUNING) == (STAND, False)


def test_only_gait_cadence_teaches_the_upright() -> None:
    """|a| at 1.8 steps/s is gait; squats at 0.5/s and a single jolt are not."""
    t = np.arange(30) * 0.1
    assert gait_like(1 + 0.3 * np.sin(2 * np.pi * 1.8 * t), 0.1, TUNING.min_cadence_hz)
    assert gait_like(1 + 0.2 * np.sin(2 * np.pi * 1.3 * t + 0.3), 0.1, TUNING.min_cadence_hz)
    assert not gait_like(1 + 0.2 * np.sin(2 * np.pi * 0.5 * t), 0.1, TUNING.min_cadence_hz)
    assert not gait_like(np.r_[np.ones(10), 1.4 * np.ones(5), np.ones(15)], 0.1, TUNING.min_cadence_hz)
