"""One look at a window of frames: is it a programme exercise, and which (``analysis.recognition``).

:func:`classify_window` labels the last 30 s of 0.1-s frame sums with a programme
exercise or with nothing, from the body's geometry (the rules and the measurements
behind their thresholds: the ``analysis.recognition`` module docstring,
``docs/recognition.md``). :class:`RecognitionTuning` holds the thresholds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from analysis.settings import Placement

__all__ = [
    "SMOOTH_FRAMES",
    "RecognitionTuning",
    "WindowLook",
    "_label",
    "classify_window",
    "is_gait",
    "unit",
]

#: How far below the hook-lying (or lying) inclination a lying window's frames may dip
#: (the thigh sinks towards the floor as the knees drop to the side), deg.
_HOOK_SLACK_DEG = 15.0
SMOOTH_FRAMES = 5  # 0.5-s moving mean of 0.1-s frames: frame noise (~0.01 g) would give ~2 deg of false range
#: Largest pelvis roll of a knee roll, deg: ~30 deg each way; turning onto the side is ~90.
_TRUNK_ROLL_MAX_DEG = 75.0


@dataclass(frozen=True, slots=True)
class RecognitionTuning:
    """Thresholds of the window rules (provenance in docs/recognition.md, ``python -m bench.recognise``).

    Attributes:
        min_valid: Share of a window's frames that must hold samples.
        max_shake_g: Median spread of |a| over 2-s blocks above which a window at a
            walking cadence is gait, g.
        min_crossings: Passes between the two ends of the movement a window needs
            (2: out and back once).
        hook_min_deg: Thigh inclination from the walking upright above which the femur
            points up (hook lying).
        upright_max_deg: Inclination below which the segment is upright (squat start).
        lying_band_deg: Trunk within this of horizontal is lying (lower back, waist).
        hook_axis_deg: Without a long axis (thigh): gravity at least this far from both
            face axes (and within the face plane) is hook lying.
        roll_min_deg: Roll range of a knee roll, deg.
        tilt_min_deg: Smallest range of a pelvic tilt along its main direction, deg
            (and the least travel of any label).
        tilt_max_deg: Largest range of a pelvic tilt, deg (larger: bridging, knee hug).
        hug_min_deg: Smallest pitch range of a knee hug, deg.
        squat_min_deg: Smallest pitch range of a squat, deg (thigh; half of it at the trunk).
        squat_min_crossings: Passes a squat window needs (3 quick repetitions); fewer,
            held ones from an upright thigh are the back stabiliser (bird dog).
    """

    min_valid: float = 0.8
    max_shake_g: float = 0.12
    min_crossings: int = 2
    hook_min_deg: float = 110.0
    upright_max_deg: float = 35.0
    lying_band_deg: float = 35.0
    hook_axis_deg: float = 22.0
    roll_min_deg: float = 25.0
    tilt_min_deg: float = 2.5
    tilt_max_deg: float = 14.0
    hug_min_deg: float = 35.0
    squat_min_deg: float = 40.0
    squat_min_crossings: int = 6

    def __post_init__(self) -> None:
        if not 0 < self.min_valid <= 1:
            raise ValueError(f"min_valid must be in (0, 1], got {self.min_valid}")
        if not 0 < self.tilt_min_deg < self.tilt_max_deg:
            raise ValueError(f"need 0 < tilt_min_deg < tilt_max_deg, got {self.tilt_min_deg}, {self.tilt_max_deg}")


@dataclass(frozen=True, slots=True)
class WindowLook:
    """What one look measured (for the benchmark and the docs).

    Attributes:
        label: Exercise id, or ``""`` for none.
        reason: Why, in a word (``gap``, ``gait``, ``still``, ``posture``, ``movement`` or the label).
        inclination_deg: Resting inclination from the long axis (NaN without one).
        pitch_deg: Pitch range, deg.
        roll_deg: Roll range, deg.
        motion_deg: Range along the main direction of travel, deg.
        excursions: Passes between the two ends of the movement.
    """

    label: str
    reason: str
    inclination_deg: float = math.nan
    pitch_deg: float = 0.0
    roll_deg: float = 0.0
    motion_deg: float = 0.0
    excursions: int = 0


def unit(v: NDArray[np.float64]) -> NDArray[np.float64]:
    """Vectors (..., 3) scaled to unit length; zero vectors stay zero."""
    norm = np.sqrt(np.einsum("...i,...i->...", v, v))[..., None]
    out: NDArray[np.float64] = v / np.where(norm > 0, norm, 1.0)
    return out


def _quantiles(x: NDArray[np.float64]) -> tuple[float, float]:
    """The 5th and 95th percentiles of ``x`` (n,), as order statistics (no interpolation)."""
    n = x.shape[0]
    lo, hi = int(0.05 * (n - 1)), math.ceil(0.95 * (n - 1))
    part = np.partition(x, (lo, hi))
    return float(part[lo]), float(part[hi])


def _range(x: NDArray[np.float64]) -> float:
    """Spread of ``x`` between its 5th and 95th percentiles (robust to a stray frame)."""
    lo, hi = _quantiles(x)
    return hi - lo


def _crossings(x: NDArray[np.float64]) -> int:
    """Count passes of ``x`` from under 30% to over 70% of its 5-95th percentile range, or back.

    One repetition out and back is two crossings; the hysteresis keeps noise about one
    level from counting.

    >>> _crossings(np.array([0, 5, 10, 1, 0, 9, 10, 2, 0, 10.0]))
    5
    """
    lo, hi = _quantiles(x)
    if hi <= lo:
        return 0
    state = np.where(x > lo + 0.7 * (hi - lo), 1, np.where(x < lo + 0.3 * (hi - lo), -1, 0))
    marks = state[state != 0]
    return int(np.count_nonzero(marks[1:] != marks[:-1]))


def is_gait(stats: NDArray[np.float64], frame_s: float, tuning: RecognitionTuning) -> bool:
    """Whether any 2-s block of frames (m, >= 6 columns, all with samples) looks like gait.

    Gait shakes |a| (its spread over the block over ``tuning.max_shake_g``) at a walking
    cadence (the block's frame means of |a| cross their mean at least 2 x 1.4 times a
    second, as ``analysis.reference.gait_like``); the squat shakes as hard but at
    0.3-0.7 repetitions/s. Two blocks (4 s) are enough: a window that ends a walk
    would otherwise show the swinging thigh as a repeated movement.
    """
    block = max(2, round(2.0 / frame_s))
    m = stats.shape[0] // block * block
    if m == 0:
        return False
    cols = stats[:m, [0, 4, 5]].reshape(-1, block, 3)
    sums = cols.sum(axis=1)
    mean = sums[:, 1] / sums[:, 0]
    shake = np.sqrt(np.maximum(sums[:, 2] / sums[:, 0] - mean * mean, 0.0))
    mag = cols[:, :, 1] / cols[:, :, 0]
    above = mag > mag.mean(axis=1, keepdims=True)
    crossings = np.count_nonzero(above[:, 1:] != above[:, :-1], axis=1)
    gait = (shake > tuning.max_shake_g) & (crossings >= 2 * 1.4 * block * frame_s)
    return bool(np.count_nonzero(gait) >= min(2, gait.size))


def _travel(
    u: NDArray[np.float64], rest: NDArray[np.float64]
) -> tuple[NDArray[np.float64], float, NDArray[np.float64]]:
    """Main direction of travel of the gravity directions ``u`` (n, 3) from ``rest``.

    Returns:
        ``(direction, range_deg, along_deg)``: unit tangent at ``rest``, shape (3,), the
        spread (5th to 95th percentile) of the angle travelled along it, deg, and that
        angle per frame, shape (n,).
    """
    dev = u - rest
    dev -= np.outer(dev @ rest, rest)  # tangent to the sphere at rest
    centred = dev - dev.mean(axis=0)
    _, vectors = np.linalg.eigh(centred.T @ centred)
    direction = vectors[:, -1]
    along = np.degrees(np.arcsin(np.clip(dev @ direction, -1.0, 1.0)))
    return direction, _range(along), along


def _hook_without_axis(rest: NDArray[np.float64], tuning: RecognitionTuning) -> bool:
    """Hook lying for a thigh sensor flat on the side of the thigh, femur along x or y."""
    in_plane = math.degrees(math.asin(min(1.0, abs(float(rest[2])))))
    azimuth = math.degrees(math.atan2(abs(float(rest[1])), abs(float(rest[0]))))  # 0..90 deg from x
    return in_plane < 30.0 and tuning.hook_axis_deg <= azimuth <= 90.0 - tuning.hook_axis_deg


@dataclass(frozen=True, slots=True)
class _Moved:
    """The measurements of one window that the label rules read (see :class:`WindowLook`)."""

    lying: bool  # thigh: hook lying; trunk: lying
    upright: bool
    pitch: float
    roll: float
    motion: float
    crossings: int
    toward_chest: bool  # thigh only: the knee moved towards the chest


def _lying_label(m: _Moved, thigh: bool, tuning: RecognitionTuning) -> str:
    """Label of a window while lying on the back (thigh: hook lying)."""
    hug_min_deg = tuning.hug_min_deg if thigh else tuning.hug_min_deg / 2
    # The pelvis turns ~30 deg each way in a knee roll; turning onto the side once is 90.
    trunk_roll = m.crossings >= 2 and m.roll <= _TRUNK_ROLL_MAX_DEG
    rules = (
        ("knee_roll", m.roll >= tuning.roll_min_deg and m.roll >= 1.5 * m.pitch and (thigh or trunk_roll)),
        (
            "knee_hug",
            m.toward_chest and hug_min_deg <= m.pitch <= 3 * hug_min_deg and m.roll < m.pitch and m.crossings >= 2,
        ),
        ("pelvic_tilt", tuning.tilt_min_deg <= m.motion <= tuning.tilt_max_deg and m.crossings >= 3),
    )
    return next((label for label, hit in rules if hit), "")


def _label(m: _Moved, thigh: bool, tuning: RecognitionTuning) -> tuple[str, str]:
    """Label and reason of a window from its measurements (rules: module docstring)."""
    if m.lying:
        label = _lying_label(m, thigh, tuning)
        return label, label or "movement"
    squat_min_deg = tuning.squat_min_deg if thigh else tuning.squat_min_deg / 2
    if not (m.upright and m.pitch >= squat_min_deg and m.roll < m.pitch):
        return "", "posture"
    if m.crossings >= tuning.squat_min_crossings:
        return "squat", "squat"
    # Held lifts from an upright thigh, out, back and out again (not one sit-down and
    # stand-up): the leg of the bird dog.
    if thigh and m.crossings >= 3:
        return "back_stabiliser", "back_stabiliser"
    return "", "movement"


def _inclination(rest: NDArray[np.float64], axis: NDArray[np.float64]) -> float:
    """Angle between the resting direction and the long axis, deg."""
    return math.degrees(math.acos(max(-1.0, min(1.0, float(rest @ axis)))))


def _may_be_labelled(
    rest: NDArray[np.float64], axis: NDArray[np.float64] | None, thigh: bool, tuning: RecognitionTuning
) -> bool:
    """Whether a window resting in ``rest`` is in a posture some label allows (the first tests of :func:`_posture`).

    With the long axis every label needs lying or upright; a thigh without it, hook
    lying as seen without an axis.
    """
    if axis is None:
        return _hook_without_axis(rest, tuning)
    incl = _inclination(rest, axis)
    return incl <= tuning.upright_max_deg or _rests_lying(incl, thigh, tuning)


def _rests_lying(incl: float, thigh: bool, tuning: RecognitionTuning) -> bool:
    """Whether a resting inclination is lying (thigh: hook lying), before the window's other directions are read."""
    return incl >= tuning.hook_min_deg if thigh else abs(incl - 90.0) <= tuning.lying_band_deg


def _posture(
    u: NDArray[np.float64],
    rest: NDArray[np.float64],
    axis: NDArray[np.float64] | None,
    thigh: bool,
    tuning: RecognitionTuning,
) -> tuple[float, bool, bool, NDArray[np.float64]]:
    """Resting inclination, lying, upright, and the tangent at rest along which pitch turns.

    Args:
        u: Smoothed gravity directions of the window, shape (n, 3).
        rest: Resting direction, shape (3,).
        axis: Long axis, shape (3,), or None (thigh only: see the module docstring).
        thigh: Whether the sensor is on the thigh (else the trunk).
        tuning: Thresholds.

    Returns:
        ``(inclination_deg, lying, upright, towards)``; the inclination is NaN without an axis.
    """
    if axis is None:
        # Flat on the side of the thigh: the face normal (z) is the lateral axis, and
        # pitch turns gravity within the face plane.
        # z x rest, np.cross's products written out (np.cross costs more than the rest of this).
        r0, r1, r2 = (float(x) for x in rest)
        towards = unit(np.array([0.0 * r2 - 1.0 * r1, 1.0 * r0 - 0.0 * r2, 0.0 * r1 - 0.0 * r0]))
        return math.nan, _hook_without_axis(rest, tuning), False, towards
    towards = unit(axis - float(rest @ axis) * rest)  # along the sphere from rest to the axis
    incl = _inclination(rest, axis)
    # Lying must hold through the window (every smoothed frame): a window with a
    # lying-down or getting-up in it is a posture change, not an exercise.
    incl_t = np.degrees(np.arccos(np.clip(u @ axis, -1.0, 1.0)))
    incl_lo, incl_hi = float(incl_t.min()), float(incl_t.max())
    if thigh:
        held = incl_lo >= tuning.hook_min_deg - _HOOK_SLACK_DEG
    else:
        band = tuning.lying_band_deg
        held = 90.0 - band - _HOOK_SLACK_DEG <= incl_lo <= incl_hi <= 90.0 + band
    lying = _rests_lying(incl, thigh, tuning) and held
    return incl, lying, incl <= tuning.upright_max_deg, towards


def _sampled(stats: NDArray[np.float64], tuning: RecognitionTuning) -> NDArray[np.bool_] | None:
    """Which frames of a window (m, >= 1) have samples, or None when too few do (a gap)."""
    counts = stats[:, 0]
    valid = counts > 0
    if np.count_nonzero(valid) < max(tuning.min_valid * counts.size, 2 * SMOOTH_FRAMES):
        return None
    return valid


def _smoothed(stats: NDArray[np.float64], valid: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Moving means over :data:`SMOOTH_FRAMES` frames with samples of their mean acceleration, shape (k, 3)."""
    acc = stats[valid, 1:4] / stats[valid, :1]
    csum = np.cumsum(acc, axis=0)
    smooth = csum[SMOOTH_FRAMES - 1 :].copy()
    smooth[1:] -= csum[:-SMOOTH_FRAMES]
    smooth /= SMOOTH_FRAMES
    return smooth


def _rest(u: NDArray[np.float64]) -> NDArray[np.float64]:
    """Resting direction of the unit directions ``u`` (k, 3): their median per component, as a unit vector."""
    return unit(np.sort(u, axis=0)[u.shape[0] // 2])


def classify_window(
    stats: NDArray[np.float64],
    axis: NDArray[np.float64] | None,
    placement: Placement,
    tuning: RecognitionTuning | None = None,
    frame_s: float = 0.1,
    *,
    label_only: bool = False,
) -> WindowLook:
    """Label one window of frames with a programme exercise, or with nothing.

    Args:
        stats: Frame sums, shape (m, >= N_ACC_STATS) (``FrameBatch.stats`` columns).
        axis: The segment's long axis (walking gravity direction, unit, shape (3,)),
            or None when the wearer has not walked yet.
        placement: A placement of :data:`SERVED`.
        tuning: Thresholds (defaults when None).
        frame_s: Frame length, s.
        label_only: Only the label is wanted: a window whose resting direction allows
            no labelled posture (with a long axis: neither lying nor upright; a thigh
            without one: not hook lying) is labelled nothing at once, with the reason
            ``posture`` rather than the first test it fails (the live recogniser: most
            such looks end there).

    Returns:
        The look: label (``""`` for none), the reason and the measurements.
    """
    tuning = tuning or RecognitionTuning()
    valid = _sampled(stats, tuning)
    if valid is None:
        return WindowLook("", "gap")
    smooth = _smoothed(stats, valid)
    u: NDArray[np.float64] | None = None
    thigh = placement is Placement.THIGH
    if label_only and (axis is not None or thigh):
        u = unit(smooth)
        rest = _rest(u)
        if not _may_be_labelled(rest, axis, thigh, tuning):
            return WindowLook("", "posture")
    # Every label needs at least tilt_min_deg of travel: a window whose smoothed means
    # span less (in g, about radians) is still, whatever else it holds.
    still = float(np.linalg.norm(smooth.max(axis=0) - smooth.min(axis=0))) < math.radians(tuning.tilt_min_deg)
    if still or is_gait(stats[valid], frame_s, tuning):
        return WindowLook("", "still" if still else "gait")
    if u is None:
        u = unit(smooth)
        rest = _rest(u)
    direction, motion, along = _travel(u, rest)
    moves = _crossings(along)
    # A large movement from one end to the other (a knee roll with 10-s holds on each
    # side) may pass only once in a window; a small one must come back.
    if moves < 1 or (moves < tuning.min_crossings and motion < tuning.roll_min_deg):
        return WindowLook("", "still", motion_deg=motion, excursions=moves)
    if axis is None and not thigh:
        return WindowLook("", "posture", excursions=moves)
    incl, lying, upright, towards = _posture(u, rest, axis, thigh, tuning)
    share = min(1.0, abs(float(direction @ towards)))
    pitch = motion * share
    roll = motion * math.sqrt(1.0 - share * share)
    if axis is not None and upright:
        # Near the upright the way to the axis is ill-defined: pitch is the range of the
        # inclination itself (a squat bends the trunk or thigh away from upright).
        pitch = _range(np.degrees(np.arccos(np.clip(u @ axis, -1.0, 1.0))))
        roll = math.sqrt(max(motion * motion - pitch * pitch, 0.0))
    toward_chest = not thigh
    if thigh and axis is not None:
        # Knee to the chest lifts the knee over the hip: away from the walking upright.
        theta = np.degrees(np.arccos(np.clip(u @ rest, -1.0, 1.0)))
        far = theta > 0.6 * _quantiles(theta)[1]
        toward_chest = bool(np.any(far)) and float(np.mean((u[far] - rest) @ towards)) < 0
    moved = _Moved(lying, upright, pitch, roll, motion, moves, toward_chest)
    label, reason = _label(moved, thigh, tuning)
    return WindowLook(label, reason, incl, pitch, roll, motion, moves)
