"""Vertical hip displacement over postural transitions (``analysis.transitions``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from analysis.transitions import hip_displacement_m
from tests.analysis.test_real_data import UCI_FIRST

FRAME_S = 0.1


def frames(t: np.ndarray, acc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean |a| and gravity direction per 0.1-s frame."""
    k = np.floor(t / FRAME_S).astype(int)
    n = k[-1] + 1
    count = np.maximum(np.bincount(k, minlength=n), 1)
    mag = np.bincount(k, weights=np.linalg.norm(acc, axis=1), minlength=n) / count
    mean = np.stack([np.bincount(k, weights=acc[:, i], minlength=n) for i in range(3)], axis=1) / count[:, None]
    return mag, mean / np.linalg.norm(mean, axis=1)[:, None]


def test_sit_down_and_stand_up_have_opposite_signs() -> None:
    """A synthetic drop of 0.4 m reads negative, the rise back positive, whatever the axis."""
    t = np.arange(30) * FRAME_S
    drop = 0.4 * (2 * np.pi / 3.0) ** 2 / 9.80665 / 2  # hips travel 0.4 m in 3 s
    down = 1.0 - drop * np.sin(2 * np.pi * t / 3.0)
    g = np.tile(np.array([0.0, 0.6, 0.8]), (30, 1))
    z_down = hip_displacement_m(down, g, (1.0, g[0]), (1.0, g[0]), FRAME_S)
    z_up = hip_displacement_m(2.0 - down, g, (1.0, g[0]), (1.0, g[0]), FRAME_S)
    assert z_down < -0.1
    assert z_up > 0.1
    assert z_down == pytest.approx(-z_up)


def test_orientation_dependent_offset_is_not_a_displacement() -> None:
    """|a| reading 20 mg more after a 30-deg turn, with no movement, gives ~0 m."""
    n = 40
    turn = np.clip((np.arange(n) - 10) / 20, 0, 1) * np.radians(30)
    g = np.stack([np.cos(turn), np.sin(turn), np.zeros(n)], axis=1)
    mag = 1.0 + 0.02 * np.clip((np.arange(n) - 10) / 20, 0, 1)
    assert abs(hip_displacement_m(mag, g, (1.0, g[0]), (1.02, g[-1]), FRAME_S, active_g=0.005)) < 0.02


@pytest.mark.data
def test_uci_sit_stand_transitions_have_opposite_displacement(dataset: Any) -> None:
    """Real waist transitions: stand-to-sit goes down, sit-to-stand up (six recordings)."""
    z: dict[str, list[float]] = {"STAND_TO_SIT": [], "SIT_TO_STAND": []}
    for rec in UCI_FIRST:
        t, acc, meta = dataset("uci_hapt", rec)
        mag, unit = frames(t, acc)
        for seg in meta["labels"]:
            if seg["source_label"] not in z:
                continue
            a0, a1 = int((seg["start_s"] - 0.5) / FRAME_S), int((seg["end_s"] + 0.5) / FRAME_S)
            before = (float(mag[a0 - 10 : a0].mean()), unit[a0 - 10 : a0].mean(axis=0))
            after = (float(mag[a1 : a1 + 10].mean()), unit[a1 : a1 + 10].mean(axis=0))
            before = (before[0], before[1] / np.linalg.norm(before[1]))
            after = (after[0], after[1] / np.linalg.norm(after[1]))
            z[seg["source_label"]].append(hip_displacement_m(mag[a0:a1], unit[a0:a1], before, after, FRAME_S))
    assert np.median(z["STAND_TO_SIT"]) < -0.1
    assert np.median(z["SIT_TO_STAND"]) > 0.2
    assert min(z["SIT_TO_STAND"]) > 0.05
