"""Frame kinds of a chunk (``analysis.steady``): non-wear needs stillness as well as steady means."""

from __future__ import annotations

import numpy as np

from analysis import AnalysisSettings, Placement, Posture, analyze
from analysis.steady import QUIET, STILL, WALKLIKE, ChunkFrames

RATE_HZ = 50.0


def test_quiet_frames_that_move_are_not_motionless() -> None:
    """Steady 1-s means make a frame QUIET only if its movement intensity is that of stillness."""
    n = 4
    frames = ChunkFrames.build(
        np.zeros(0),
        np.zeros((0, 3)),
        has_data=np.ones(n, dtype=np.bool_),
        unit=np.tile([0.0, 1.0, 0.0], (n, 1)),
        sd=np.array([0.002, 0.002, 0.25, 0.25]),
        mag=np.ones(n),
        quiet=np.array([True, False, True, False]),
        walk_sd_g=0.1,
        still_sd_g=0.03,
        move_deg=5.0,
        move_lag=5,
    )
    assert frames.kind.tolist() == [QUIET, STILL, WALKLIKE, WALKLIKE]


def test_a_walk_whose_stride_fills_the_gravity_window_is_walking_not_nonwear() -> None:
    """Two steps per 1.1-s gravity window average out of its means; the walk is still a walk.

    At 1.82 steps/s (109 steps/min, a common office pace) the 1.1-s means of |a| stay
    within the 4 mg non-wear range, as on a desk, while |a| varies by 0.2 g.
    """
    rng = np.random.default_rng(0)
    t = np.arange(int(300 * RATE_HZ)) / RATE_HZ
    t[1:] += 0.004  # off the frame edges: five samples in every 0.1-s frame
    up = np.array([0.0, 1.0, 0.0])
    steps_hz = 2 / 1.1
    acc = np.tile(up, (t.size, 1)) + np.outer(0.3 * np.sin(2 * np.pi * steps_hz * t), up)
    acc += rng.normal(0.0, 0.002, acc.shape)
    result = analyze(t, acc, AnalysisSettings(Placement.THIGH))
    assert [b.posture for b in result.bouts] == [Posture.WALKING]
