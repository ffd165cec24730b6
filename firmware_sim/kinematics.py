"""Body kinematics: the orientation and linear acceleration of the sensor's body segment.

For each activity and placement this module gives, as pure functions of time, the
direction of "up" in the segment frame (what a still accelerometer reads, in g) and the
linear acceleration of the segment (in g, segment frame). The frame and angle
conventions are those of :mod:`firmware_sim.params`. Every random choice (cadence,
phases, which side the wearer lies on, how a lying position sits) is drawn once per
step into a :class:`StepDraw`, so signals are deterministic functions of time and
chunking cannot change them.

Lying positions (:func:`lying_angles`) put the trunk horizontal, turned about its long
axis by the position (back 0°, side ±90°, front 180°), the thorax raised by the step's
incline; the thigh lies horizontal and turns with the pelvis, except on the back, where
the relaxed leg rolls outward, and in hook lying, where the knee is above the hip; the
forearm rests anyhow near horizontal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from numpy.typing import NDArray

from analysis.settings import Placement
from firmware_sim.params import MotionParams
from firmware_sim.scenarios import LYING_POSITIONS, Activity

__all__ = [
    "SEATED",
    "UPRIGHT",
    "StepDraw",
    "chair_transition",
    "draw_step",
    "flex_forward",
    "lying_angles",
    "minimum_jerk",
    "segment_signal",
    "sway_sines",
    "up_vector",
]

G_MS2 = 9.80665  # standard gravity (ISO 80000-3)
_TRUNK = frozenset({Placement.WAIST, Placement.LOWER_BACK, Placement.CHEST, Placement.UPPER_BACK})
_THORAX = frozenset({Placement.CHEST, Placement.UPPER_BACK})
#: Activities done on a chair, and on the feet: a change between them is a sit-to-stand
#: or a stand-to-sit, which moves the body up or down (:func:`chair_transition`).
SEATED = frozenset({Activity.SITTING, Activity.FIDGET})
UPRIGHT = frozenset({Activity.STANDING, Activity.WALKING, Activity.STRETCH, Activity.SQUAT})
_N_PHASES = 8
_N_SWAY = 3
_N_POSE = 4
#: Which side a side-lying position is on: +1 right side down (the left side up), -1 left.
_SIDE = MappingProxyType({Activity.SIDE_RIGHT: 1.0, Activity.SIDE_LEFT: -1.0})


@dataclass(frozen=True, slots=True)
class StepDraw:
    """The random choices of one script step.

    Attributes:
        cadence_hz: Walking step frequency.
        rep_s: Squat repetition duration.
        side: +1 or -1: which side the wearer lies on.
        offsets_deg: Per-step offsets of (pitch, lateral, roll) from the nominal posture.
        phases: Random phases, radians, for the periodic components.
        sway_hz: Frequencies of the slow sway components.
        desk_up: "Up" in the segment frame while the sensor lies on the desk, unit (3,).
        pose: Uniform draws in [-1, 1] that shape a lying position (:func:`lying_angles`).
    """

    cadence_hz: float
    rep_s: float
    side: float
    offsets_deg: tuple[float, float, float]
    phases: tuple[float, ...]
    sway_hz: tuple[float, ...]
    desk_up: tuple[float, float, float]
    pose: tuple[float, ...] = (0.0,) * _N_POSE


def draw_step(
    rng: np.random.Generator,
    params: MotionParams,
    desk_up: NDArray[np.float64],
    pose_rng: np.random.Generator | None = None,
) -> StepDraw:
    """Draw the random choices of one step (a fixed number of draws per step).

    Args:
        rng: The session's setup generator.
        params: Motion parameters.
        desk_up: "Up" in the segment frame when the sensor lies on the desk, shape (3,).
        pose_rng: Source of the lying-position draws, a stream of its own so that
            adding it left every other draw as it was; None: all zero.

    Returns:
        The draws.
    """
    cadence = rng.uniform(params.cadence_min_hz, params.cadence_max_hz)
    rep_s = params.squat_rep_s * rng.uniform(0.9, 1.1)
    side = 1.0 if rng.random() < 0.5 else -1.0
    offsets = rng.normal(0.0, params.posture_spread_deg, size=3)
    phases = rng.uniform(0.0, 2 * math.pi, size=_N_PHASES)
    sway_hz = rng.uniform(0.05, 0.4, size=_N_SWAY)
    return StepDraw(
        cadence_hz=float(cadence),
        rep_s=float(rep_s),
        side=side,
        offsets_deg=(float(offsets[0]), float(offsets[1]), float(offsets[2])),
        phases=tuple(float(p) for p in phases),
        sway_hz=tuple(float(f) for f in sway_hz),
        desk_up=(float(desk_up[0]), float(desk_up[1]), float(desk_up[2])),
        pose=(0.0,) * _N_POSE if pose_rng is None else tuple(float(v) for v in pose_rng.uniform(-1, 1, _N_POSE)),
    )


def up_vector(
    pitch_rad: NDArray[np.float64], lateral_rad: NDArray[np.float64], roll_rad: NDArray[np.float64]
) -> NDArray[np.float64]:
    """World "up" in the segment frame for a segment at the given angles.

    Args:
        pitch_rad: Forward tilt of the segment's top, shape (n,).
        lateral_rad: Sideways tilt, shape (n,).
        roll_rad: Turn about the segment's long axis, shape (n,).

    Returns:
        Unit vectors, shape (n, 3).

    >>> up_vector(np.array([-np.pi / 2]), np.zeros(1), np.zeros(1)).round(6) + 0.0
    array([[0., 0., 1.]])
    """
    cos_lat = np.cos(lateral_rad)
    x = np.cos(pitch_rad) * cos_lat
    y0 = -np.sin(lateral_rad)
    z0 = -np.sin(pitch_rad) * cos_lat
    cos_r, sin_r = np.cos(roll_rad), np.sin(roll_rad)
    return np.stack([x, cos_r * y0 + sin_r * z0, -sin_r * y0 + cos_r * z0], axis=1)


def _sitting_pitch_deg(placement: Placement, params: MotionParams) -> float:
    if placement is Placement.THIGH:
        return params.thigh_sitting_pitch_deg
    if placement in (Placement.WAIST, Placement.LOWER_BACK):
        return params.pelvis_sitting_pitch_deg
    if placement in (Placement.CHEST, Placement.UPPER_BACK):
        return params.thorax_sitting_pitch_deg
    return params.forearm_sitting_pitch_deg


def lying_angles(
    activity: Activity, placement: Placement, draw: StepDraw, params: MotionParams, incline_deg: float = 0.0
) -> tuple[float, float, float]:
    """The ``(pitch, lateral, roll)`` of a segment in one lying position, degrees.

    Args:
        activity: A lying position (:data:`firmware_sim.scenarios.LYING_POSITIONS`) or
            ``LONG_SITTING``.
        placement: Where the sensor is worn.
        draw: The step's random choices (``side`` for ``LYING``, ``pose``).
        params: Motion parameters.
        incline_deg: How far the head end is raised (:attr:`~firmware_sim.scenarios.Step.incline_deg`).

    Returns:
        The angles, before the step's ``posture_spread_deg`` offsets and sway.

    >>> draw = draw_step(np.random.default_rng(0), MotionParams(), np.zeros(3))
    >>> lying_angles(Activity.HOOK_LYING, Placement.THIGH, draw, MotionParams())  # knee above hip
    (-135.0, 0.0, 0.0)
    >>> lying_angles(Activity.SIDE_LEFT, Placement.CHEST, draw, MotionParams(), incline_deg=10.0)
    (-80.0, 0.0, -90.0)
    """
    lean, knee, fore_pitch, fore_roll = draw.pose
    lean_deg = params.lying_lean_deg * lean
    if activity is Activity.LONG_SITTING:
        return _long_sitting_angles(placement, params, lean_deg)
    if placement is Placement.WRIST:
        return -90.0 + params.wrist_lying_spread_deg * fore_pitch, 0.0, 180.0 * fore_roll
    side = draw.side if activity is Activity.LYING else _SIDE.get(activity, 0.0)
    roll = lean_deg  # on the back
    if side:
        roll += side * params.lying_roll_deg
    elif activity is Activity.PRONE:
        roll += 180.0
    pitch = -90.0
    if placement in _THORAX:  # the pillow or armrest raises the head and shoulders; the pelvis lies flat
        pitch += incline_deg
    elif placement is Placement.THIGH:
        if activity is Activity.SUPINE:
            roll = params.supine_thigh_roll_deg + lean_deg
        elif activity is Activity.HOOK_LYING:
            pitch -= (params.hook_knee_flex_deg + params.lying_lean_deg * knee) / 2
        elif side < 0:  # the sensor's thigh is the upper one: its knee rests lower than the hip
            pitch += params.top_thigh_drop_deg
    return pitch, 0.0, roll


def _long_sitting_angles(placement: Placement, params: MotionParams, lean_deg: float) -> tuple[float, float, float]:
    """Sitting up with the legs out: the trunk reclined, the thigh horizontal and rolled outward."""
    if placement in _TRUNK:
        return _sitting_pitch_deg(placement, params) - params.long_sitting_recline_deg, 0.0, 0.0
    if placement is Placement.THIGH:
        return -90.0, 0.0, params.supine_thigh_roll_deg + lean_deg
    return params.forearm_sitting_pitch_deg, 0.0, 0.0


def sway_sines(t_s: NDArray[np.float64], draw: StepDraw, first: int = 0) -> NDArray[np.float64]:
    """A smooth random wander in [-1, 1]: the mean of the step's slow sway sinusoids."""
    out = np.zeros_like(t_s)
    for i, freq in enumerate(draw.sway_hz):
        out += np.sin(2 * math.pi * freq * t_s + draw.phases[(first + i) % _N_PHASES])
    return out / len(draw.sway_hz)


def segment_signal(
    activity: Activity,
    placement: Placement,
    t_s: NDArray[np.float64],
    draw: StepDraw,
    params: MotionParams,
    *,
    incline_deg: float = 0.0,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Gravity direction and linear acceleration of the sensor's segment during one activity.

    Args:
        activity: What the wearer does.
        placement: Where the sensor is worn.
        t_s: Times, seconds (any origin: the signals are periodic or stationary), shape (n,).
        draw: The step's random choices.
        params: Motion parameters.
        incline_deg: How far the head end of a lying trunk is raised, deg.

    Returns:
        ``(up, lin_g)``: unit "up" vectors and linear acceleration in g, both in the
        segment frame, shape (n, 3) each. A still sensor reads ``up``; a moving one
        reads ``up + lin_g``.
    """
    n = t_s.shape[0]
    lin = np.zeros((n, 3))
    vertical = np.zeros(n)  # linear acceleration along world vertical, g
    if activity is Activity.NONWEAR:
        return np.tile(np.asarray(draw.desk_up), (n, 1)), lin
    d_pitch, d_lat, d_roll = draw.offsets_deg
    pitch = np.full(n, d_pitch)
    lateral = np.full(n, d_lat)
    roll = np.full(n, d_roll)
    ph = draw.phases
    trunk = placement in _TRUNK
    sitting_pitch = _sitting_pitch_deg(placement, params)

    if activity in (Activity.SITTING, Activity.FIDGET):
        pitch += sitting_pitch + params.sitting_sway_deg * sway_sines(t_s, draw)
        lateral += params.sitting_sway_deg * sway_sines(t_s, draw, first=3)
        if activity is Activity.FIDGET:
            # A few seconds of faster, larger movement: shifting in the chair, reaching.
            wobble = np.sin(2 * math.pi * 0.8 * t_s + ph[0]) + 0.5 * np.sin(2 * math.pi * 1.7 * t_s + ph[1])
            pitch += params.fidget_deg * wobble / 1.5
            lateral += 0.5 * params.fidget_deg * np.sin(2 * math.pi * 1.1 * t_s + ph[2])
            lin[:, 2] += params.fidget_g * np.sin(2 * math.pi * 1.3 * t_s + ph[3])
            lin[:, 1] += 0.5 * params.fidget_g * np.sin(2 * math.pi * 0.9 * t_s + ph[4])
    elif activity in LYING_POSITIONS:
        p, lat, r = lying_angles(activity, placement, draw, params, incline_deg)
        pitch += p + params.lying_sway_deg * sway_sines(t_s, draw)
        lateral += lat
        roll += r
    elif activity is Activity.LONG_SITTING:
        p, lat, r = lying_angles(activity, placement, draw, params)
        pitch += p + params.sitting_sway_deg * sway_sines(t_s, draw)
        lateral += lat + params.sitting_sway_deg * sway_sines(t_s, draw, first=3)
        roll += r
    elif activity is Activity.STANDING:
        pitch += params.standing_sway_deg * sway_sines(t_s, draw)
        lateral += params.standing_sway_deg * sway_sines(t_s, draw, first=3)
    elif activity is Activity.WALKING:
        _walk(placement, t_s, draw, params, pitch=pitch, lateral=lateral, lin=lin, vertical=vertical)
    elif activity is Activity.STRETCH:
        # Slow forward bends with the arms overhead, and side bends.
        bend = 0.5 * (1 - np.cos(2 * math.pi * params.stretch_hz * t_s + ph[0]))
        side = np.sin(math.pi * params.stretch_hz * t_s + ph[1])
        if trunk:
            pitch += params.stretch_bend_deg * bend
            lateral += params.stretch_side_deg * side
        elif placement is Placement.THIGH:
            pitch += 0.1 * params.stretch_bend_deg * bend
        else:  # wrist: arms raised overhead and lowered again
            pitch += 180.0 * bend
            lateral += params.stretch_side_deg * side
    elif activity is Activity.SQUAT:
        _squat(placement, t_s, draw, params, pitch=pitch, vertical=vertical)
    up = up_vector(np.radians(pitch), np.radians(lateral), np.radians(roll))
    return up, lin + vertical[:, None] * up


def _walk(
    placement: Placement,
    t_s: NDArray[np.float64],
    draw: StepDraw,
    params: MotionParams,
    *,
    pitch: NDArray[np.float64],
    lateral: NDArray[np.float64],
    lin: NDArray[np.float64],
    vertical: NDArray[np.float64],
) -> None:
    """Add gait to the angles (deg), segment-frame and vertical acceleration (g), in place."""
    ph = draw.phases
    step = 2 * math.pi * draw.cadence_hz * t_s + ph[0]
    stride = 0.5 * step  # one stride is two steps
    if placement is Placement.THIGH:
        swing = math.radians(params.thigh_swing_deg)
        omega = math.pi * draw.cadence_hz  # stride angular frequency, rad/s
        pitch += params.walking_thigh_pitch_deg + params.thigh_swing_deg * np.sin(stride)
        # Tangential acceleration of a point at radius r on a swinging segment: r·θ''.
        lin[:, 2] += -params.thigh_sensor_radius_m * swing * omega**2 * np.sin(stride) / G_MS2
        vertical += params.thigh_vertical_g * (np.sin(step) + 0.3 * np.sin(2 * step + ph[1]))
    elif placement is Placement.WRIST:
        pitch += params.arm_swing_deg * np.sin(stride + ph[2])
        lin[:, 2] += 0.5 * params.trunk_ap_g * np.sin(stride + ph[2])
        vertical += params.trunk_vertical_g * np.sin(step)
    else:
        pitch += params.walking_trunk_pitch_deg + 0.5 * params.trunk_roll_deg * np.sin(step + ph[3])
        lateral += params.trunk_roll_deg * np.sin(stride + ph[4])
        vertical += params.trunk_vertical_g * (np.sin(step) + 0.25 * np.sin(2 * step + ph[1]))
        lin[:, 2] += params.trunk_ap_g * np.sin(step + ph[5])
        lin[:, 1] += params.trunk_ml_g * np.sin(stride + ph[6])


def _squat(
    placement: Placement,
    t_s: NDArray[np.float64],
    draw: StepDraw,
    params: MotionParams,
    *,
    pitch: NDArray[np.float64],
    vertical: NDArray[np.float64],
) -> None:
    """Add squat repetitions to the pitch (deg) and vertical acceleration (g), in place."""
    omega = 2 * math.pi / draw.rep_s
    phase = omega * t_s + draw.phases[0]
    depth = 0.5 * (1 - np.cos(phase))  # 0 standing, 1 at the bottom
    # Hips at height -H·depth: vertical acceleration -H/2·ω²·cos(phase).
    vertical_g = -0.5 * params.squat_hip_drop_m * omega**2 * np.cos(phase) / G_MS2
    if placement is Placement.THIGH:
        pitch -= params.squat_thigh_deg * depth
    elif placement is Placement.WRIST:
        pitch -= 90.0 * depth  # arms reach forward as a counterweight
    else:
        pitch += params.squat_trunk_deg * depth
    vertical += vertical_g


def minimum_jerk(s: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Position and second derivative of a unit minimum-jerk move (Flash & Hogan 1985).

    The smoothest point-to-point movement, ``10s^3 - 15s^4 + 6s^5`` (J Neurosci
    5(7):1688-1703), at rest at both ends.

    Args:
        s: Normalised time, clipped to [0, 1], shape (n,).

    Returns:
        ``(position, acceleration)`` for a unit move over unit time, shape (n,) each;
        the acceleration is zero outside (0, 1).

    >>> [round(float(v), 3) for v in minimum_jerk(np.array([0.0, 0.5, 1.0]))[0]]
    [0.0, 0.5, 1.0]
    """
    inside = (s > 0) & (s < 1)
    s = np.clip(s, 0.0, 1.0)
    position = s**3 * (10 - 15 * s + 6 * s * s)
    acceleration = np.where(inside, 60 * s - 180 * s * s + 120 * s**3, 0.0)
    return position, acceleration


def chair_transition(
    tau: NDArray[np.float64], duration_s: float, rising: bool, placement: Placement, params: MotionParams
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Trunk flexion and vertical acceleration of a sit-to-stand or stand-to-sit.

    Sit-to-stand (Schenkman et al. 1990, Phys Ther 70(10):638-648): the trunk flexes
    forward while the hips stay on the seat, is flexed most at seat-off
    (``seat_off_fraction``), then extends while the hips rise by the placement's
    drop height along a minimum-jerk path. Stand-to-sit is the same movement reversed
    in time: the hips go down first with the trunk flexing, the trunk straightens on
    the seat.

    Args:
        tau: Progress through the transition, 0 to 1, shape (n,).
        duration_s: Duration of the whole transition, s.
        rising: True for sit-to-stand, False for stand-to-sit.
        placement: Where the sensor is worn.
        params: Motion parameters.

    Returns:
        ``(flex_deg, vertical_g)``: forward flexion of the segment (added to its
        pitch) and its vertical linear acceleration in g (positive up), shape (n,) each.

    >>> tau = np.linspace(0.0, 1.0, 201)
    >>> flex, acc = chair_transition(tau, 2.0, True, Placement.WAIST, MotionParams())
    >>> round(float(flex.max()), 1), bool(acc[:80].any())  # no rise before seat-off
    (20.0, False)
    """
    tau = np.clip(tau, 0.0, 1.0)
    if not rising:
        tau = 1.0 - tau
    p = params.seat_off_fraction
    bump = np.where(tau <= p, 0.5 * (1 - np.cos(math.pi * tau / p)), 0.5 * (1 + np.cos(math.pi * (tau - p) / (1 - p))))
    if placement in _THORAX:
        flex_deg, drop_m = params.chair_trunk_flex_deg, params.hip_drop_m
    elif placement in _TRUNK:
        flex_deg, drop_m = params.chair_pelvis_flex_deg, params.hip_drop_m
    elif placement is Placement.THIGH:
        flex_deg, drop_m = 0.0, params.thigh_drop_m  # the thigh's own turn is the posture blend
    else:
        flex_deg, drop_m = 0.0, 0.0  # the hands move with the arms, not with the hips
    rise_s = (1 - p) * duration_s
    _, unit_acc = minimum_jerk((tau - p) / (1 - p))
    # A path played backwards has the same second derivative at mirrored times, so the
    # reversed ``tau`` alone turns the rise into the descent (down first, then braking).
    return flex_deg * bump, drop_m / rise_s**2 * unit_acc / G_MS2


def flex_forward(up: NDArray[np.float64], flex_deg: NDArray[np.float64]) -> NDArray[np.float64]:
    """Tilt a segment's top forward: turn its "up" vectors about the segment's left axis.

    Adding ``flex`` to the pitch of :func:`up_vector` (roll and lateral tilt aside).

    Args:
        up: "Up" in the segment frame, shape (n, 3).
        flex_deg: Forward flexion, deg, shape (n,).

    Returns:
        The turned vectors, shape (n, 3).

    >>> flex_forward(np.array([[1.0, 0.0, 0.0]]), np.array([90.0])).round(6) + 0.0
    array([[ 0.,  0., -1.]])
    """
    a = np.radians(flex_deg)
    c, s = np.cos(a), np.sin(a)
    return np.stack([up[:, 0] * c + up[:, 2] * s, up[:, 1], -up[:, 0] * s + up[:, 2] * c], axis=1)
