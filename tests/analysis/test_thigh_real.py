"""Lying from the thigh on the real ``mex_thigh`` floor exercises and ``spsw_pocket_tug`` sitting.

The figures for the whole development split come from ``python -m bench.thigh_lying``
(``docs/validation.md``); these tests pin what they rest on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from analysis.settings import ThighTuning
from bench.thigh_lying import exercise_inclinations, floor_shares, seated_inclinations

pytestmark = pytest.mark.data


def _dataset(recordings: Path, name: str) -> Path:
    path = recordings / name
    if not path.is_dir():
        pytest.fail(f"the dataset {name!r} is missing from {recordings}")
    return recordings


def test_no_seated_thigh_points_upward(recordings: Path) -> None:
    """Every seated pocket phone stays well below the knee-above-hip cut-point."""
    seated = seated_inclinations(_dataset(recordings, "spsw_pocket_tug"))
    assert seated.size > 100
    assert seated.max() < ThighTuning().knee_up_deg - 5.0


def test_hook_lying_exercises_point_the_femur_upward(recordings: Path) -> None:
    """Knee rolling, bridging and pelvic tilt: the femur past the cut-point most of the time."""
    incl = exercise_inclinations(_dataset(recordings, "mex_thigh"))
    for ex in ("ex01", "ex02", "ex03"):
        assert np.mean(incl[ex] >= ThighTuning().knee_up_deg) >= 0.85, ex


def test_hook_lying_reads_as_lying_against_the_wearers_own_upright(recordings: Path) -> None:
    """With the subject's thigh-vertical posture as the upright, hook lying is lying, not sitting."""
    _, per = floor_shares(_dataset(recordings, "mex_thigh"), own_reference=True)
    for ex in ("ex01", "ex02", "ex03"):
        total = sum(per[ex].values())
        assert per[ex]["lying"] / total >= 0.9, (ex, per[ex])
        assert per[ex]["sitting"] / total <= 0.05, (ex, per[ex])
