"""The movement of the sensor's body segment during an exercise set.

:func:`exercise_signal` turns the plan of a set (:func:`firmware_sim.exercise_plan.plan`)
into the orientation (and, for the squat, the vertical acceleration) of the sensor's
body segment with the conventions of :mod:`firmware_sim.params`;
:mod:`firmware_sim.motion` adds mounting, noise and timing as for every other activity.

Each exercise starts from its programme position (lying on the back with the knees bent,
on all fours, lying face down before a plank, standing) and moves every segment by a
fixed angle at full range (:data:`~firmware_sim.poses.MOVES`), scaled by a minimum-jerk
profile (Flash & Hogan 1985, J Neurosci 5(7):1688-1703) that rises to the repetition's
depth, stays there for the hold and comes back. The sensor is on the right thigh and the
left wrist, as a watch. Movements are slow, so apart from the squat's hip travel the
linear acceleration is left out (a 30° move in 1.5 s accelerates a mid-thigh sensor by
under 0.05 g).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from analysis.settings import Placement
from firmware_sim.exercise_plan import ExercisePlan, plan
from firmware_sim.exercise_set import ExerciseSet
from firmware_sim.kinematics import G_MS2, StepDraw, minimum_jerk, segment_signal, sway_sines, up_vector
from firmware_sim.params import MotionParams
from firmware_sim.poses import (
    ARM_ONLY_THIGH,
    GROUP_OF,
    MOVES,
    UPRIGHT,
    ExerciseId,
    Group,
    Move,
    Side,
    StartPosition,
)
from firmware_sim.scenarios import Activity

__all__ = ["exercise_signal"]


def _profile(
    p: ExercisePlan, t_s: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Depth (fraction of full range), its second derivative (1/s²) and side (-1 left, +1 right, 0) at ``t_s``."""
    n = t_s.shape[0]
    depth = np.zeros(n)
    accel = np.zeros(n)
    side = np.zeros(n)
    if not p.reps:
        return depth, accel, side
    starts = np.array([r.start_s for r in p.reps])
    k = np.searchsorted(starts, t_s, side="right") - 1
    for i in np.unique(k[k >= 0]):
        rep = p.reps[int(i)]
        m = k == i
        t = t_s[m]
        move_in_s = rep.hold_start_s - rep.start_s
        move_out_s = rep.end_s - rep.hold_end_s
        pos_in, acc_in = minimum_jerk((t - rep.start_s) / move_in_s)
        pos_out, acc_out = minimum_jerk((t - rep.hold_end_s) / move_out_s)
        d = rep.depth * (pos_in - pos_out)
        a = rep.depth * (acc_in / move_in_s**2 - acc_out / move_out_s**2)
        if rep.bounce:
            holding = (t >= rep.hold_start_s) & (t < rep.hold_end_s)
            w = 2 * math.pi * p.exercise_set.bounce_hz
            tau = t - rep.hold_start_s
            amp = 0.5 * p.exercise_set.bounce_range * rep.depth
            d = np.where(holding, d + amp * (1 - np.cos(w * tau)), d)
            a = np.where(holding, a + amp * w * w * np.cos(w * tau), a)
        depth[m] = d
        accel[m] = a
        side[m] = 0.0 if rep.side is None else (-1.0 if rep.side is Side.LEFT else 1.0)
    return depth, accel, side


def exercise_signal(
    exercise_set: ExerciseSet,
    placement: Placement,
    t_s: NDArray[np.float64],
    draw: StepDraw,
    params: MotionParams,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Gravity direction and linear acceleration of the sensor's segment during a set.

    Args:
        exercise_set: The set.
        placement: Where the sensor is worn.
        t_s: Times from the start of the set, seconds, shape (n,); before the first
            repetition and after the last the wearer is still in the starting position.
        draw: The step's random choices (posture offsets, sway; cadence for a walk).
        params: Motion parameters.

    Returns:
        ``(up, lin_g)`` in the segment frame, shape (n, 3) each, as
        :func:`firmware_sim.kinematics.segment_signal`.
    """
    ex = exercise_set
    if ex.exercise is ExerciseId.WALK:
        return segment_signal(Activity.WALKING, placement, t_s, draw, params)
    group = GROUP_OF[Placement(placement)]
    p = plan(ex)
    depth, accel, side = _profile(p, t_s)
    move = _moves_of(ex, group, params)
    left, right = np.array(move.towards(-1.0)), np.array(move.towards(1.0))
    change = np.where(side[:, None] > 0, right, left) * depth[:, None]
    sway_deg = params.standing_sway_deg if ex.position is StartPosition.STANDING else params.lying_sway_deg
    angles = np.array(move.start) + np.array(draw.offsets_deg) + change
    pitch = angles[:, 0] + sway_deg * sway_sines(t_s, draw, 0)
    lateral = angles[:, 1] + sway_deg * sway_sines(t_s, draw, 3)
    up = up_vector(np.radians(pitch), np.radians(lateral), np.radians(angles[:, 2]))
    # The hips go down by ``squat_hip_drop_m`` at full depth: vertical acceleration -H·d''.
    hip_drop_m = params.squat_hip_drop_m if ex.exercise is ExerciseId.SQUAT else 0.0
    vertical_g = -hip_drop_m * accel / G_MS2
    return up, vertical_g[:, None] * up


def _moves_of(ex: ExerciseSet, group: Group, params: MotionParams) -> Move:
    if ex.exercise is ExerciseId.SQUAT:
        # The simulator's squat (``MotionParams.squat_thigh_deg``, ``squat_trunk_deg``):
        # thigh back, trunk forward, arms reaching forward as a counterweight.
        full = {
            Group.THIGH: (-params.squat_thigh_deg, 0.0, 0.0),
            Group.PELVIS: (params.squat_trunk_deg, 0.0, 0.0),
            Group.THORAX: (params.squat_trunk_deg, 0.0, 0.0),
            Group.FOREARM: (-90.0, 0.0, 0.0),
        }
        return Move(UPRIGHT[group], full[group])
    if ex.exercise is ExerciseId.BACK_STABILISER and group is Group.THIGH and not ex.bird_dog:
        return ARM_ONLY_THIGH
    return MOVES[ex.exercise][group]
