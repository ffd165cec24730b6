"""Lying positions of the motion model: what each segment reads on the back, the side, the front."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from analysis.settings import Placement
from firmware_sim.motion import generate
from firmware_sim.params import MotionParams
from firmware_sim.recording import Recording
from firmware_sim.scenarios import Activity, Script, Step

A = Activity
#: Standing first: the upright each lying reading is compared with.
POSITIONS = (A.SUPINE, A.SIDE_LEFT, A.SIDE_RIGHT, A.PRONE, A.HOOK_LYING, A.LONG_SITTING)
EYE = np.eye(3)  # the sensor axes are the segment's: x along it to the head, y left, z front


def _script(incline_deg: float = 0.0) -> Script:
    steps = [Step(A.STANDING, 60.0)]
    for position in POSITIONS:
        steps += [Step(position, 60.0, incline_deg=incline_deg if position is not A.LONG_SITTING else 0.0)]
    return Script("lying", tuple(steps))


def _gravity(rec: Recording, index: int) -> NDArray[np.float64]:
    """Mean reading over the middle 40 s of step ``index`` (60 s each), unit vector."""
    inside = (rec.t_s > 60 * index + 10) & (rec.t_s < 60 * index + 50)
    g = rec.acc_g[inside].mean(axis=0)
    return np.asarray(g / np.linalg.norm(g), dtype=np.float64)


def _deg(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    return float(np.degrees(np.arccos(np.clip(a @ b, -1.0, 1.0))))


def _roll_deg(g: NDArray[np.float64]) -> float:
    """Turn of a horizontal segment about its long axis: 0 front up, +90 left side up."""
    return float(np.degrees(np.arctan2(g[1], g[2])))


@pytest.mark.parametrize("seed", range(4))
def test_thigh_rolls_out_on_the_back_and_turns_on_the_side(seed: int) -> None:
    """Supine legs out: the thigh rolls 5-35 deg outward; side-lying ~90 deg; front down prone."""
    rec = generate(_script(), Placement.THIGH, seed, mounting=EYE)
    supine, left, right, prone = (_gravity(rec, i) for i in (1, 2, 3, 4))
    spread = 3 * MotionParams().posture_spread_deg  # the per-step posture offsets, 3 SD
    assert 5 - spread <= _roll_deg(supine) <= 35 + spread
    assert abs(supine[0]) < 0.1  # the thigh is horizontal
    assert 75 - spread <= abs(_roll_deg(right)) <= 105 + spread
    assert _roll_deg(right) > 0  # on the right side the thigh's left (inner) side faces up
    assert _roll_deg(left) < 0
    assert 0.1 < left[0] < 0.25  # the upper thigh slopes down to its knee by ~10 deg
    assert prone[2] < -0.85  # its front faces the mattress


@pytest.mark.parametrize("seed", range(4))
def test_hook_lying_puts_the_knee_above_the_hip(seed: int) -> None:
    """Knees bent, feet flat: the thigh rises 30-60 deg from hip to knee, so "up" points from knee to hip."""
    rec = generate(_script(), Placement.THIGH, seed, mounting=EYE)
    hook = _gravity(rec, 5)
    rise_deg = float(np.degrees(np.arcsin(-hook[0])))
    assert 30 <= rise_deg <= 60


@pytest.mark.parametrize("placement", [Placement.WAIST, Placement.LOWER_BACK, Placement.CHEST, Placement.UPPER_BACK])
def test_trunk_lies_flat_in_every_position(placement: Placement) -> None:
    """Back, sides, front, knees up: the trunk is 75-105 deg from standing; sitting up in bed reclines."""
    rec = generate(_script(), placement, 2, mounting=EYE)
    standing = _gravity(rec, 0)
    for index in range(1, 6):
        assert 75 <= _deg(standing, _gravity(rec, index)) <= 105, POSITIONS[index - 1]
    # Sitting up with the legs out leans back 20 deg more than at a desk: 20-40 deg from standing.
    assert 15 <= _deg(standing, _gravity(rec, 6)) <= 45
    assert _gravity(rec, 4)[2] < -0.85  # prone: the front faces down
    assert abs(_gravity(rec, 2)[1]) > 0.85  # on the side: a side faces up


@pytest.mark.parametrize("placement", [Placement.CHEST, Placement.UPPER_BACK])
def test_sofa_armrest_raises_the_thorax_only(placement: Placement) -> None:
    """With the head on a 15-deg incline the thorax is ~75 deg from standing; the pelvis stays flat."""
    raised = generate(_script(15.0), placement, 2, mounting=EYE)
    pelvis = generate(_script(15.0), Placement.WAIST, 2, mounting=EYE)
    assert 65 <= _deg(_gravity(raised, 0), _gravity(raised, 1)) <= 82
    assert 82 <= _deg(_gravity(pelvis, 0), _gravity(pelvis, 1)) <= 98


def test_wrist_rests_still_at_night() -> None:
    """Lying, the forearm hardly moves: |a| varies by a few mg only."""
    rec = generate(_script(), Placement.WRIST, 1)
    for index in range(1, 6):
        inside = (rec.t_s > 60 * index + 10) & (rec.t_s < 60 * index + 50)
        assert np.linalg.norm(rec.acc_g[inside], axis=1).std() < 0.01
