"""Programme exercises found in a stream without being told which one is done.

:class:`ExerciseRecognizer` looks at the last :data:`WINDOW_S` seconds of 0.1-s frames
every :data:`HOP_S` seconds. Each look (a *window*) is labelled with a programme exercise or
with nothing, in two stages, as in the segment-then-classify pipelines of physiotherapy
exercise recognition (Burns et al. 2018, Physiol Meas 39(7):075007,
doi:10.1088/1361-6579/aacfd9; Wijekoon et al. 2019, MEx, arXiv:1908.08992), but with
rules from the body's geometry instead of a trained model (thresholds and the
measurements behind them: ``docs/recognition.md``, ``python -m bench.recognise``):

1. **Is it exercise-like?** Enough frames with samples; the smoothed (0.5-s) gravity
   direction travels at least :attr:`RecognitionTuning.tilt_min_deg`; no gait (two 2-s
   blocks whose |a| spreads over :attr:`RecognitionTuning.max_shake_g` at a walking
   cadence); and the movement goes from one end of its range to the other and back
   (:attr:`RecognitionTuning.min_crossings` passes along its main direction of travel,
   one pass enough for a movement over :attr:`RecognitionTuning.roll_min_deg`, as a
   knee roll held 10 s on each side).
2. **Which exercise?** The resting orientation (the window's median direction) and the
   movement are measured against the wearer: the *long axis* of the segment (femur,
   trunk) is the gravity direction seen while walking (Skotte et al. 2014, Med Sci
   Sports Exerc 46(9):1839-1846, doi:10.1249/MSS.0000000000000308). Its angle to the
   resting direction is the *inclination*; the movement's range along its main
   direction splits into *pitch* (towards or away from the axis) and *roll* (about it).

   Thigh: lying on the back with the knees bent (hook lying) tips the femur past
   horizontal (inclination over :attr:`RecognitionTuning.hook_min_deg` throughout the
   window, which no seated thigh reaches: ``analysis.thigh``). In hook lying, a large
   roll is a **knee roll**, a large pitch towards the chest a **knee hug**, a small
   repeated movement a **pelvic tilt** (the thigh follows the pelvis by a few degrees;
   the **crunch** moves the thigh the same way and is reported as a pelvic tilt).
   Upright, a large pitch repeated quickly is a **squat**, held lifts (out, back and
   out again) the leg of the **back stabiliser** (bird dog). Anything else (bridging,
   the clam, the prone and all-fours work of MEx, sitting, standing, walking, a
   single lying down or getting up) gives nothing.

   Lower back and waist: lying (the trunk within :attr:`RecognitionTuning.lying_band_deg`
   of horizontal throughout), a pelvis roll of 25-75 deg passing both ways is a knee
   roll, a pitch of half the thigh's is a knee hug, a small repeated movement a pelvic
   tilt; upright, a quickly repeated forward bend of half the thigh's is a squat. The
   trunk sensor cannot tell lying on the back from lying face down or kneeling on all
   fours (it does not know which of its faces is the back), so the deep stomach
   exercise and the back stabiliser may be reported as pelvic tilts there.

   Before the wearer has walked (no long axis yet, as in every MEx file, which starts
   on the mat), a thigh sensor is taken to lie flat on the side of the thigh with the
   femur along one of its face axes (x or y, either sign), as the MEx Axivity is
   worn: hook lying is then gravity within 30 deg of the face plane and at least
   :attr:`RecognitionTuning.hook_axis_deg` from both face axes, pitch the rotation
   within the face plane and roll the tilt out of it. The squat, the knee hug and the
   back stabiliser need the long axis; the lower back and waist recognise nothing
   before it.

Looks no more than :data:`GAP_S` apart form a bout; a bout with at least
:data:`MIN_WINDOWS` labelled looks is reported as :class:`ExerciseFound` when
:data:`GAP_S` passes without one (or at ``flush``), so it comes at most ``GAP_S`` plus
a hop after the bout's last labelled look. Its exercise is the most frequent label; a
run of :data:`SWITCH_LOOKS` looks of another label closes it and starts the next.
``confidence`` is the share of the bout's looks (one every ``HOP_S``, from its first labelled look
to its last) that carry its label. :class:`ExerciseRecognised` goes out live as soon as a
bout has ``MIN_WINDOWS`` labelled looks. A bout starts at the start of its first
labelled window (not before the end of the previous bout), so it may begin up to a
window early.

The wrist, chest and upper back are not served: a watch follows the hand, not the
segment whose posture defines each exercise, and there are no thorax recordings to
check against; the constructor raises ``ValueError`` for them.

Every decision is made at fixed frame indices from a rolling buffer of the last
:data:`WINDOW_S` seconds, so chunked input gives exactly the events of one chunk.

Most looks (a still, sitting or walking wearer) cannot get a label, and finding that
does not need :func:`classify_window`: each 2-s block of frames is summarised once when
it closes (its frames with samples, the extremes of its smoothed means, whether it is
gait), and a look reads the summaries of its window's blocks to rule out a gap, a still
window, gait and a posture that no label allows (neither lying nor upright, from a box
that holds its resting direction). Each rule-out holds with a margin far above the
rounding of the sums, so :func:`classify_window` sees every look that it could label
and the events are those of classifying every look (``docs/recognition.md``, cost).

>>> rec = ExerciseRecognizer(Placement.THIGH, 0.1)
>>> rec.name, rec.version
('recognition', 1)
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from analysis.events import Event
from analysis.frames import N_ACC_STATS, FrameBatch
from analysis.packing import packed, unpacked
from analysis.settings import Placement

__all__ = [
    "GAP_S",
    "HOP_S",
    "MIN_WINDOWS",
    "SERVED",
    "SWITCH_LOOKS",
    "WINDOW_S",
    "ExerciseFound",
    "ExerciseRecognised",
    "ExerciseRecognizer",
    "RecognitionTuning",
    "WindowLook",
    "classify_window",
]

#: Length of each look, s: it holds at least one repetition of every programme
#: exercise (a knee roll with its 10-s hold is ~15 s per side).
WINDOW_S = 30.0
#: Shortest look, s, used while a segment is younger than a window.
MIN_WINDOW_S = 12.0
#: Time between looks, s.
HOP_S = 2.0
#: A bout ends when this long passes without a labelled look, s.
GAP_S = 15.0
#: Labelled looks a bout needs to be reported.
MIN_WINDOWS = 2
#: Consecutive labelled looks of another exercise that end a bout and start the next.
SWITCH_LOOKS = 5
#: Placements the recogniser serves.
SERVED: frozenset[Placement] = frozenset({Placement.THIGH, Placement.LOWER_BACK, Placement.WAIST})
#: Order of the labels when two have as many looks in a bout.
_ORDER = ("knee_roll", "pelvic_tilt", "knee_hug", "squat", "back_stabiliser")
#: How far below the hook-lying (or lying) inclination a lying window's frames may dip
#: (the thigh sinks towards the floor as the knees drop to the side), deg.
_HOOK_SLACK_DEG = 15.0
_SMOOTH_FRAMES = 5  # 0.5-s moving mean of 0.1-s frames: frame noise (~0.01 g) would give ~2 deg of false range
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
class ExerciseFound:
    """A bout of one programme exercise, found without being told.

    Attributes:
        start_s: Start time in s (the start of its first labelled look).
        end_s: End time in s (the end of its last labelled look).
        exercise: Programme id (``analysis.programme``).
        confidence: Share, 0..1, of the bout's once-a-second looks labelled with it.
    """

    kind: ClassVar[str] = "exercise_found"
    start_s: float
    end_s: float
    exercise: str
    confidence: float

    @property
    def duration_s(self) -> float:
        """Length in s."""
        return self.end_s - self.start_s

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form, including ``kind``."""
        return {
            "kind": self.kind,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "exercise": self.exercise,
            "confidence": self.confidence,
        }


@dataclass(frozen=True, slots=True)
class ExerciseRecognised:
    """A bout of ``exercise`` is under way since ``t_s`` (sent once per bout, live)."""

    kind: ClassVar[str] = "exercise_recognised"
    t_s: float
    exercise: str

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form, including ``kind``."""
        return {"kind": self.kind, "t_s": self.t_s, "exercise": self.exercise}


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


def _unit(v: NDArray[np.float64]) -> NDArray[np.float64]:
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


def _gait(stats: NDArray[np.float64], frame_s: float, tuning: RecognitionTuning) -> bool:
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
        towards = _unit(np.cross(np.array([0.0, 0.0, 1.0]), rest))
        return math.nan, _hook_without_axis(rest, tuning), False, towards
    towards = _unit(axis - float(rest @ axis) * rest)  # along the sphere from rest to the axis
    incl = math.degrees(math.acos(max(-1.0, min(1.0, float(rest @ axis)))))
    # Lying must hold through the window (every smoothed frame): a window with a
    # lying-down or getting-up in it is a posture change, not an exercise.
    incl_t = np.degrees(np.arccos(np.clip(u @ axis, -1.0, 1.0)))
    incl_lo, incl_hi = float(incl_t.min()), float(incl_t.max())
    if thigh:
        lying = incl >= tuning.hook_min_deg and incl_lo >= tuning.hook_min_deg - _HOOK_SLACK_DEG
    else:
        band = tuning.lying_band_deg
        lying = abs(incl - 90.0) <= band and 90.0 - band - _HOOK_SLACK_DEG <= incl_lo <= incl_hi <= 90.0 + band
    return incl, lying, incl <= tuning.upright_max_deg, towards


def classify_window(
    stats: NDArray[np.float64],
    axis: NDArray[np.float64] | None,
    placement: Placement,
    tuning: RecognitionTuning | None = None,
    frame_s: float = 0.1,
) -> WindowLook:
    """Label one window of frames with a programme exercise, or with nothing.

    Args:
        stats: Frame sums, shape (m, >= N_ACC_STATS) (``FrameBatch.stats`` columns).
        axis: The segment's long axis (walking gravity direction, unit, shape (3,)),
            or None when the wearer has not walked yet.
        placement: A placement of :data:`SERVED`.
        tuning: Thresholds (defaults when None).
        frame_s: Frame length, s.

    Returns:
        The look: label (``""`` for none), the reason and the measurements.
    """
    tuning = tuning or RecognitionTuning()
    counts = stats[:, 0]
    valid = counts > 0
    if np.count_nonzero(valid) < max(tuning.min_valid * counts.size, 2 * _SMOOTH_FRAMES):
        return WindowLook("", "gap")
    n = counts[valid]
    acc = stats[valid, 1:4] / n[:, None]
    csum = np.cumsum(acc, axis=0)
    smooth = csum[_SMOOTH_FRAMES - 1 :].copy()
    smooth[1:] -= csum[:-_SMOOTH_FRAMES]
    smooth /= _SMOOTH_FRAMES
    # Every label needs at least tilt_min_deg of travel: a window whose smoothed means
    # span less (in g, about radians) is still, whatever else it holds.
    if float(np.linalg.norm(smooth.max(axis=0) - smooth.min(axis=0))) < math.radians(tuning.tilt_min_deg):
        return WindowLook("", "still")
    if _gait(stats[valid], frame_s, tuning):
        return WindowLook("", "gait")
    u = _unit(smooth)
    rest = _unit(np.sort(u, axis=0)[u.shape[0] // 2])
    direction, motion, along = _travel(u, rest)
    moves = _crossings(along)
    # A large movement from one end to the other (a knee roll with 10-s holds on each
    # side) may pass only once in a window; a small one must come back.
    if moves < 1 or (moves < tuning.min_crossings and motion < tuning.roll_min_deg):
        return WindowLook("", "still", motion_deg=motion, excursions=moves)
    if axis is None and placement is not Placement.THIGH:
        return WindowLook("", "posture", excursions=moves)
    thigh = placement is Placement.THIGH
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


# -- screening: the looks that surely get no label, found for many looks at once ----------
#
# Most looks end at the first tests of ``classify_window`` (a gap, a still window, gait) or
# in a posture that no label allows. ``_BlockScreen`` finds those from summaries of the
# 2-s blocks of frames, each found once (5-frame sums and block sums over the frames
# with samples), and ``ExerciseRecognizer`` calls ``classify_window`` only for the others. The screen's
# sums are not the ones ``classify_window`` rounds (it sums each window from its own
# start), so each test rejects only with a margin far above the rounding error (below
# 1e-10 of the values: 300 additions), and a look near a threshold goes to
# ``classify_window``: the events are those of ``classify_window`` on every look.

#: Relative margin of the screen's tests over the rounding of the sums they compare.
_SCREEN_MARGIN = 1e-8


def _gait_blocks(
    blocks: NDArray[np.float64], frame_s: float, tuning: RecognitionTuning
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Whether each block of frames is surely gait and whether it may be (``_gait``'s test of one block).

    Args:
        blocks: Count, sum |a| and sum |a|^2 of each frame (all with samples), shape (b, block, 3).
        frame_s: Frame length, s.
        tuning: Thresholds.

    Returns:
        ``(sure, maybe)``, each shape (b,): a block near the shake threshold, or whose
        frame |a| lies at its mean, is not sure but maybe.
    """
    sums = blocks.sum(axis=1)
    mean = sums[:, 1] / sums[:, 0]
    second = sums[:, 2] / sums[:, 0]
    var = second - mean * mean
    slack = _SCREEN_MARGIN * second + 1e-15
    mag = blocks[:, :, 1] / blocks[:, :, 0]
    centre = mag.mean(axis=1, keepdims=True)
    off = mag - centre
    unsure = np.any(np.abs(off) <= _SCREEN_MARGIN * np.abs(centre) + 1e-15, axis=1)
    above = off > 0
    crossings = np.count_nonzero(above[:, 1:] != above[:, :-1], axis=1)
    cadence = crossings >= 2 * 1.4 * blocks.shape[1] * frame_s
    limit = tuning.max_shake_g**2
    return (var > limit + slack) & cadence & ~unsure, (var > limit - slack) & (cadence | unsure)


class _AxisAt:
    """The long axis as it stood at a look: its running sum and weight, read when needed.

    Args:
        total: Running sum of gait directions, shape (3,) (not changed afterwards: learning replaces it).
        weight: Its weight.
    """

    __slots__ = ("_axis", "total", "weight")

    def __init__(self, total: NDArray[np.float64], weight: float) -> None:
        self.total = total
        self.weight = weight
        self._axis: tuple[NDArray[np.float64] | None, tuple[float, float, float] | None] | None = None

    def _read(self) -> tuple[NDArray[np.float64] | None, tuple[float, float, float] | None]:
        if self._axis is None:
            axis = None
            if self.weight >= 3.0:  # three looks ending in 2 s of gait
                norm = float(np.linalg.norm(self.total))
                axis = None if norm == 0 else self.total / norm
            self._axis = (axis, None if axis is None else (float(axis[0]), float(axis[1]), float(axis[2])))
        return self._axis

    @property
    def axis(self) -> NDArray[np.float64] | None:
        """The unit long axis, shape (3,), or None before it is learned."""
        return self._read()[0]

    @property
    def floats(self) -> tuple[float, float, float] | None:
        """The same as floats."""
        return self._read()[1]


@dataclass(frozen=True, slots=True)
class _Screen:
    """What the screen found for the looks of an update.

    Attributes:
        empty: Per look, whether it surely gets no label (a gap, still, gait).
        boxes: For the other looks (by position), a box ``(high, low)`` holding every
            smoothed gravity direction of the window, so its resting direction.
        learn: Per look, what its last block teaches about the long axis: 0 nothing, 1
            gait (``units`` holds its direction), 2 unsure (``_learn_gait`` decides).
        units: Unit mean acceleration of the last block of each look that learns, by position.
        box_array: The boxes of all looks in rows ``(high, low)``, shape (h, 6), when
            many looks were screened at once (then ``boxes`` is empty).
        gappy: Positions of the looks not empty whose windows have frames without samples
            (gait is not screened there: ``_gait`` reads its blocks from the first frame with samples).
    """

    empty: list[bool]
    boxes: dict[int, tuple[list[float], list[float]]]
    learn: list[int]
    units: dict[int, NDArray[np.float64]]
    gappy: set[int]
    box_array: NDArray[np.float64] | None = None


class _BlockScreen:
    """Summaries of the hop-long blocks of frames that the looks of a window read.

    A window is ``per_window`` consecutive blocks (or fewer at the start of a segment).
    Each block is summarised once, when it closes, in one row of :data:`_COLUMNS`: the
    extremes of the smoothed means (5 consecutive frames with samples, as
    ``classify_window`` smooths) that end in it, the largest |component| of their
    frames, its frames with samples, whether it is surely or maybe gait, and its sums.
    A window's smoothed means all end in its blocks, so the extremes over its blocks
    bound them (those that begin before the window widen the bounds a little: the
    screen stays sound). Many blocks at once (batch) go through numpy, one or two (a
    live packet) through plain floats, whose cost does not grow with the window.
    Nothing here goes into a snapshot: it is found again from the buffer after ``load``.

    Args:
        hop: Frames per block (the hop, also ``_gait``'s block).
        per_window: Blocks per window.
        frame_s: Frame length, s.
        tuning: Thresholds.
    """

    def __init__(self, hop: int, per_window: int, frame_s: float, tuning: RecognitionTuning) -> None:
        self.hop = hop
        self.per_window = per_window
        self.frame_s = frame_s
        self.tuning = tuning
        self.next_i: int | None = None  # index of the next block to summarise (from the segment start)
        self.last: list[list[float]] = []  # the latest blocks, up to a window of them
        self.lines: NDArray[np.float64] | None = None  # all blocks of the last update, if many

    def extend(self, rows: NDArray[np.float64], k_first: int, k_start: int) -> None:
        """Summarise the blocks closed in ``rows`` (frame sums from frame ``k_first``; segment from ``k_start``)."""
        hop = self.hop
        self.lines = None
        if self.next_i is None:  # a fresh segment, or after load: from the first whole block in the buffer
            self.next_i = -(-(k_first - k_start) // hop)
            self.last = [_NEUTRAL] * (self.per_window - 1)
        first_row = k_start + self.next_i * hop - k_first
        nb = (rows.shape[0] - first_row) // hop
        if nb <= 0:
            return
        del self.last[: len(self.last) - (self.per_window - 1)]  # the blocks earlier than the next window's
        line = self._one(rows, first_row) if nb == 1 else None
        if line is not None:
            self.last.append(line)
        else:
            new = _summarise(rows, first_row, nb, hop, frame_s=self.frame_s, tuning=self.tuning)
            self.lines = np.concatenate((np.array(self.last).reshape(-1, _COLUMNS), new))
            self.last.extend(new[-self.per_window :].tolist())
            del self.last[: len(self.last) - self.per_window]
        self.next_i += nb

    def _one(self, rows: NDArray[np.float64], first_row: int) -> list[float] | None:
        """The summary of the block at ``rows[first_row:]`` in plain floats, or None to leave it to numpy."""
        hop = self.hop
        before = min(first_row, _SMOOTH_FRAMES - 1)
        cols = list(zip(*rows[first_row - before : first_row + hop].tolist(), strict=True))
        counts = cols[0]
        count = sum(1 for c in counts[before:] if c > 0)
        if min(counts) <= 0:  # frames without samples: keep the others
            keep = [i for i, c in enumerate(counts) if c > 0]
            if first_row > before and len(keep) - count < _SMOOTH_FRAMES - 1:
                return None  # the smoothed means may reach further back
            cols = [tuple(col[i] for i in keep) for col in cols]
            counts = cols[0]
        # Sums of 5 consecutive sampled frames (within the margin of classify_window's),
        # of those that end in the block.
        ending = min(count, len(counts) - _SMOOTH_FRAMES + 1)
        high, low, amax = [-math.inf] * 3, [math.inf] * 3, 0.0
        if ending > 0:
            for c in range(3):
                v = [x / n for x, n in zip(cols[c + 1], counts, strict=True)]
                tail = [
                    f0 + f1 + f2 + f3 + f4 for f0, f1, f2, f3, f4 in zip(v, v[1:], v[2:], v[3:], v[4:], strict=False)
                ][-ending:]
                high[c], low[c] = max(tail) / _SMOOTH_FRAMES, min(tail) / _SMOOTH_FRAMES
            # A frame's mean |a| bounds each component of its mean.
            amax = max([x / n for x, n in zip(cols[4], counts, strict=True)])
        sure = maybe = False
        sums = [0.0] * N_ACC_STATS
        if count == hop:
            s0, s4, s5 = sum(counts[-hop:]), sum(cols[4][-hop:]), sum(cols[5][-hop:])
            mean, second = s4 / s0, s5 / s0
            slack = _SCREEN_MARGIN * second + 1e-15
            mag = [x / n for x, n in zip(cols[4][-hop:], counts[-hop:], strict=True)]
            centre = sum(mag) / hop
            unsure = min([abs(v - centre) for v in mag]) <= _SCREEN_MARGIN * abs(centre) + 1e-15
            above = [v > centre for v in mag]
            crossings = sum([u != v for u, v in itertools.pairwise(above)])
            cadence = crossings >= 2 * 1.4 * hop * self.frame_s
            limit = self.tuning.max_shake_g**2
            var = second - mean * mean
            sure = var > limit + slack and cadence and not unsure
            maybe = var > limit - slack and (cadence or unsure)
            if sure:  # the sums _learn_gait would take
                sums = rows[first_row : first_row + hop].sum(axis=0).tolist()
        return [*high, *low, amax, float(count), float(sure), float(maybe), *sums]

    def looks(self, ends_k: list[int], lengths: list[int], k_start: int) -> _Screen:
        """Screen the looks whose windows end at frames ``ends_k`` and hold ``lengths`` frames."""
        size = len(self.last) if self.lines is None else self.lines.shape[0]
        first_i = (self.next_i or 0) - size
        last = [(k - k_start) // self.hop - 1 - first_i for k in ends_k]  # each window's last block
        if self.lines is None and len(last) == 1 and last[0] == size - 1:
            return self._look_one(lengths[0])
        lines = np.array(self.last) if self.lines is None else self.lines
        t = self.tuning
        at = np.asarray(last)[:, None] - np.arange(self.per_window)
        length = np.asarray(lengths)
        have = lines[at, _C_COUNT].sum(axis=1)
        empty = have < np.maximum(t.min_valid * length, 2 * _SMOOTH_FRAMES)
        # Every smoothed mean of a window lies in its blocks' extremes, each within err of classify_window's.
        err = _SCREEN_MARGIN * (1.0 + lines[at, _C_AMAX].max(axis=1))
        high = lines[at, :3].max(axis=1) + err[:, None]
        low = lines[at, 3:6].min(axis=1) - err[:, None]
        span = np.sqrt(np.square(high - low).sum(axis=1))
        empty |= span < math.radians(t.tilt_min_deg) - 4 * err
        walked = np.count_nonzero(lines[at, _C_SURE] > 0, axis=1)
        empty |= (have == length) & (walked >= np.minimum(2, length // self.hop))
        tail = lines[last]
        full = tail[:, _C_COUNT] == self.hop
        learn = np.where(full & (tail[:, _C_SURE] > 0), 1, np.where(full & (tail[:, _C_MAYBE] > 0), 2, 0))
        walk = np.flatnonzero(learn == 1)
        units = dict(zip(walk.tolist(), _unit(tail[walk, _C_SUMS + 1 : _C_SUMS + 4]), strict=True)) if walk.size else {}
        keep = np.flatnonzero(~empty)
        gappy = set(keep[have[keep] < length[keep]].tolist())
        return _Screen(empty.tolist(), {}, learn.tolist(), units, gappy, np.hstack(_direction_boxes(high, low)))

    def _look_one(self, length: int) -> _Screen:
        """``looks`` for one look whose last block is the latest, in plain floats."""
        t = self.tuning
        cols = list(zip(*self.last, strict=True))
        have = sum(cols[_C_COUNT])
        sure = sum(cols[_C_SURE])
        err = _SCREEN_MARGIN * (1.0 + max(cols[_C_AMAX]))
        high = [max(cols[c]) + err for c in range(3)]
        low = [min(cols[c]) - err for c in range(3, 6)]
        span = math.sqrt(sum((h - lo) ** 2 for h, lo in zip(high, low, strict=True)))
        empty = (
            have < max(t.min_valid * length, 2 * _SMOOTH_FRAMES)
            or span < math.radians(t.tilt_min_deg) - 4 * err
            or (have == length and sure >= min(2, length // self.hop))
        )
        tail = self.last[-1]
        learn = 0
        if tail[_C_COUNT] == self.hop:
            learn = 1 if tail[_C_SURE] > 0 else 2 if tail[_C_MAYBE] > 0 else 0
        units = {0: _unit(np.array(tail[_C_SUMS + 1 : _C_SUMS + 4]))} if learn == 1 else {}
        boxes = {} if empty else {0: _direction_box(high, low)}
        gappy = {0} if not empty and have < length else set()
        return _Screen([empty], boxes, [learn], units, gappy)


#: Columns of a block summary: smoothed-mean maxima (3) and minima (3), largest
#: |component|, frames with samples, surely gait, maybe gait, sums (N_ACC_STATS).
_COLUMNS = 10 + N_ACC_STATS
_C_AMAX, _C_COUNT, _C_SURE, _C_MAYBE, _C_SUMS = 6, 7, 8, 9, 10
#: The summary of a block before the segment: no frames, bounds that widen nothing.
_NEUTRAL = [-math.inf] * 3 + [math.inf] * 3 + [0.0] * (_COLUMNS - 6)


def _summarise(
    rows: NDArray[np.float64], first_row: int, nb: int, hop: int, *, frame_s: float, tuning: RecognitionTuning
) -> NDArray[np.float64]:
    """Summaries of the ``nb`` blocks of ``hop`` rows from ``first_row``, shape (nb, _COLUMNS)."""
    end = first_row + nb * hop
    blocks = rows[first_row:end].reshape(nb, hop, N_ACC_STATS)
    out = np.zeros((nb, _COLUMNS))
    out[:, :3], out[:, 3:6] = -np.inf, np.inf
    count = np.count_nonzero(blocks[:, :, 0] > 0, axis=1)
    out[:, _C_COUNT] = count
    out[:, _C_SUMS:] = blocks.sum(axis=1)
    full = np.flatnonzero(count == hop)
    if full.size:
        sure, maybe = _gait_blocks(blocks[full][:, :, [0, 4, 5]], frame_s, tuning)
        out[full, _C_SURE], out[full, _C_MAYBE] = sure, maybe
    # Smoothed means ending in the blocks, from the frames with samples before them.
    sampled = np.flatnonzero(rows[:end, 0] > 0)
    p0 = max(int(np.searchsorted(sampled, first_row)), _SMOOTH_FRAMES - 1)
    if p0 >= sampled.size:
        return out
    take = sampled[p0 - _SMOOTH_FRAMES + 1 :]
    acc = rows[take, 1:4] / rows[take, :1]
    n = acc.shape[0] - _SMOOTH_FRAMES + 1
    smooth = acc[:n].copy()
    for k in range(1, _SMOOTH_FRAMES):
        smooth += acc[k : k + n]
    smooth /= _SMOOTH_FRAMES
    size = np.maximum(np.maximum(np.abs(acc[:, 0]), np.abs(acc[:, 1])), np.abs(acc[:, 2]))
    group = size[:n].copy()  # largest |component| over each smoothed mean's frames
    for k in range(1, _SMOOTH_FRAMES):
        np.maximum(group, size[k : k + n], out=group)
    owner = (sampled[p0:] - first_row) // hop
    cuts = np.searchsorted(owner, np.arange(nb))
    has = np.flatnonzero(cuts < np.append(cuts[1:], n))
    out[has, :3] = np.maximum.reduceat(smooth, cuts[has], axis=0)
    out[has, 3:6] = np.minimum.reduceat(smooth, cuts[has], axis=0)
    out[has, _C_AMAX] = np.maximum.reduceat(group, cuts[has])
    return out


def _direction_boxes(
    high: NDArray[np.float64], low: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """:func:`_direction_box` of many boxes, rows of ``high`` and ``low``, shape (h, 3) each."""
    inside = (low <= 0) & (high >= 0)
    near = np.sqrt(np.square(np.where(inside, 0.0, np.minimum(np.abs(low), np.abs(high)))).sum(axis=1))[:, None]
    far = np.sqrt(np.square(np.maximum(np.abs(low), np.abs(high))).sum(axis=1))[:, None]
    known = (near > 0) & np.isfinite(far)
    near, far = np.where(known, near, 1.0), np.where(known, far, 1.0)
    slack = 1e-12
    up = np.where(known, high / np.where(high < 0, far, near) + slack, np.inf)
    down = np.where(known, low / np.where(low < 0, near, far) - slack, -np.inf)
    return up, down


def _off_postures(
    high: NDArray[np.float64],
    low: NDArray[np.float64],
    axis: NDArray[np.float64],
    thigh: bool,
    tuning: RecognitionTuning,
) -> list[bool]:
    """:func:`_off_posture` of many boxes and axes, rows of shape (h, 3) each."""
    with np.errstate(invalid="ignore"):  # inf * 0 in an unbounded box: not known
        top = np.maximum(axis * low, axis * high).sum(axis=1)
        bottom = np.minimum(axis * low, axis * high).sum(axis=1)
    inside = (low <= 0) & (high >= 0)
    near = np.sqrt(np.square(np.where(inside, 0.0, np.minimum(np.abs(low), np.abs(high)))).sum(axis=1))
    far = np.sqrt(np.square(np.maximum(np.abs(low), np.abs(high))).sum(axis=1))
    known = np.isfinite(high).all(axis=1) & np.isfinite(low).all(axis=1) & (near > 0)
    near, far = np.where(known, near, 1.0), np.where(known, far, 1.0)
    hi = np.where(top < 0, top / far, top / near)  # bounds of rest @ axis
    lo = np.where(bottom < 0, bottom / near, bottom / far)
    slack = 1e-9
    chord = np.sqrt(np.square(np.where(known[:, None], high - low, 0.0)).sum(axis=1))
    widest = 2.0 * np.degrees(np.arcsin(np.minimum(1.0, chord / 2.0)))
    squat_min_deg = tuning.squat_min_deg if thigh else tuning.squat_min_deg / 2
    upright = (hi >= math.cos(math.radians(tuning.upright_max_deg)) - slack) & (widest >= squat_min_deg - slack)
    if thigh:
        lying = lo <= math.cos(math.radians(tuning.hook_min_deg)) + slack
    else:
        band = math.radians(tuning.lying_band_deg)
        lying = (lo <= math.cos(math.pi / 2 - band) + slack) & (hi >= math.cos(math.pi / 2 + band) - slack)
    away: list[bool] = (known & ~upright & ~lying).tolist()
    return away


def _direction_box(high: list[float], low: list[float]) -> tuple[list[float], list[float]]:
    """A box ``(high, low)`` holding ``v / |v|`` for every ``v`` of the box ``low..high`` (3 each).

    Unbounded when the box holds 0.
    """
    near = math.sqrt(sum(0.0 if lo <= 0 <= hi else min(lo * lo, hi * hi) for lo, hi in zip(low, high, strict=True)))
    far = math.sqrt(sum(max(lo * lo, hi * hi) for lo, hi in zip(low, high, strict=True)))
    if not (near > 0 and math.isfinite(far)):
        return [math.inf] * 3, [-math.inf] * 3
    slack = 1e-12
    return (
        [hi / (far if hi < 0 else near) + slack for hi in high],
        [lo / (near if lo < 0 else far) - slack for lo in low],
    )


def _off_posture(
    box: tuple[list[float], list[float]], axis: tuple[float, float, float], thigh: bool, tuning: RecognitionTuning
) -> bool:
    """Whether a window whose smoothed directions lie in ``box`` (high, low) is surely in no labelled posture.

    Every label needs the window lying (thigh: hook lying) or upright (``_label``), both
    read from its resting direction, which lies in the box; upright, it also needs a
    pitch (the range of the inclination) of ``squat_min_deg``, which two directions in
    the box can differ by only if its diagonal (a chord) spans that angle.

    Args:
        box: Upper and lower corners, 3 each.
        axis: Long axis, unit.
        thigh: Whether the sensor is on the thigh (else the trunk).
        tuning: Thresholds.
    """
    high, low = box
    if not all(math.isfinite(v) for v in (*high, *low)):
        return False
    (a, b, c), (h0, h1, h2), (l0, l1, l2) = axis, high, low
    top = max(a * l0, a * h0) + max(b * l1, b * h1) + max(c * l2, c * h2)
    bottom = min(a * l0, a * h0) + min(b * l1, b * h1) + min(c * l2, c * h2)
    near = math.sqrt(sum(0.0 if lo <= 0 <= hi else min(lo * lo, hi * hi) for lo, hi in ((l0, h0), (l1, h1), (l2, h2))))
    far = math.sqrt(max(l0 * l0, h0 * h0) + max(l1 * l1, h1 * h1) + max(l2 * l2, h2 * h2))
    if not near > 0:
        return False
    hi = top / (far if top < 0 else near)  # bounds of rest @ axis
    lo = bottom / (near if bottom < 0 else far)
    slack = 1e-9
    chord = math.sqrt((h0 - l0) ** 2 + (h1 - l1) ** 2 + (h2 - l2) ** 2)
    widest = 2.0 * math.degrees(math.asin(min(1.0, chord / 2.0)))
    squat_min_deg = tuning.squat_min_deg if thigh else tuning.squat_min_deg / 2
    upright = hi >= math.cos(math.radians(tuning.upright_max_deg)) - slack and widest >= squat_min_deg - slack
    if thigh:
        lying = lo <= math.cos(math.radians(tuning.hook_min_deg)) + slack
    else:
        band = math.radians(tuning.lying_band_deg)
        lying = lo <= math.cos(math.pi / 2 - band) + slack and hi >= math.cos(math.pi / 2 + band) - slack
    return not (upright or lying)


@dataclass(slots=True)
class _Bout:
    """The bout under way.

    Attributes:
        first_k: Its start (frame index).
        last_k: End of its last labelled look.
        looks_first_k: End of its first labelled look.
        votes: Labelled looks per label.
        last_k_of: End of the last look of each label.
        run: Label of the latest run of same-labelled looks, its length, the start of
            its first look's window and that look's end.
        started: Whether ``ExerciseRecognised`` went out.
    """

    first_k: int
    last_k: int
    looks_first_k: int
    votes: dict[str, int] = field(default_factory=dict)
    last_k_of: dict[str, int] = field(default_factory=dict)
    run: tuple[str, int, int, int] = ("", 0, 0, 0)
    started: bool = False

    def best(self) -> str:
        return max(_ORDER, key=lambda label: (self.votes.get(label, 0), -_ORDER.index(label)))

    def add(self, label: str, window_k: int, k_end: int) -> None:
        """Count a look labelled ``label`` whose window starts at ``window_k`` and ends at ``k_end``."""
        run_label, run_len, run_k, run_end = self.run
        self.run = (label, run_len + 1, run_k, run_end) if label == run_label else (label, 1, window_k, k_end)
        self.votes[label] = self.votes.get(label, 0) + 1
        self.last_k_of[label] = k_end
        self.last_k = k_end

    def to_json(self) -> dict[str, Any]:
        return {
            "first_k": self.first_k,
            "last_k": self.last_k,
            "looks_first_k": self.looks_first_k,
            "votes": dict(self.votes),
            "last_k_of": dict(self.last_k_of),
            "run": list(self.run),
            "started": self.started,
        }

    @staticmethod
    def from_json(state: dict[str, Any]) -> _Bout:
        label, length, window_k, k_end = state["run"]
        return _Bout(
            int(state["first_k"]),
            int(state["last_k"]),
            int(state["looks_first_k"]),
            {str(k): int(v) for k, v in state["votes"].items()},
            {str(k): int(v) for k, v in state["last_k_of"].items()},
            (str(label), int(length), int(window_k), int(k_end)),
            bool(state["started"]),
        )


class ExerciseRecognizer:
    """Finds programme exercises in a stream of frames (see the module docstring).

    Args:
        placement: Where the sensor is worn (:data:`SERVED`).
        frame_s: Frame length, s (> 0).
        tuning: Thresholds (defaults when None).

    Raises:
        ValueError: A placement that is not served, or a bad frame length.
    """

    name: ClassVar[str] = "recognition"
    version: ClassVar[int] = 1

    def __init__(self, placement: Placement, frame_s: float, tuning: RecognitionTuning | None = None) -> None:
        placement = Placement(placement)
        if placement not in SERVED:
            raise ValueError(
                f"exercise recognition serves the thigh, lower back and waist, not {placement}: "
                "a wrist sensor follows the hand rather than the segment that defines each exercise"
            )
        if not (math.isfinite(frame_s) and frame_s > 0):
            raise ValueError(f"frame_s must be a finite number > 0, got {frame_s!r}")
        self.placement = placement
        self.frame_s = frame_s
        self.tuning = tuning or RecognitionTuning()
        self._window = max(1, round(WINDOW_S / frame_s))
        self._min_window = max(1, round(MIN_WINDOW_S / frame_s))
        self._hop = max(1, round(HOP_S / frame_s))
        self._gap = max(1, round(GAP_S / frame_s))
        self._gait = max(2, round(2.0 / frame_s))
        self._blocks = self._block_screen()
        self._store = np.zeros((0, N_ACC_STATS))  # the buffer is its last rows, up to a window
        self._n = 0  # rows of the store in use
        self._k_end: int | None = None  # index after the last frame taken
        self._k_start: int | None = None  # first frame of the segment
        self._t0_s = 0.0
        self._axis_sum = np.zeros(3)
        self._axis_weight = 0.0
        self._bout: _Bout | None = None
        self._last_end_k = -(2**62)  # end of the last reported bout: the next starts after it

    def _block_screen(self) -> _BlockScreen | None:
        """The screen, when windows are whole blocks of one hop that are also ``_gait``'s blocks."""
        if self._window % self._hop or self._gait != self._hop:
            return None
        return _BlockScreen(self._hop, self._window // self._hop, self.frame_s, self.tuning)

    # -- the long axis, learned from gait ------------------------------------------------

    def _learn_gait(self, window: NDArray[np.float64]) -> None:
        sums = window.sum(axis=0)
        if sums[0] == 0 or np.any(window[:, 0] == 0):
            return
        mean = sums[4] / sums[0]
        if sums[5] / sums[0] - mean * mean <= self.tuning.max_shake_g**2 or not _gait(
            window, self.frame_s, self.tuning
        ):
            return
        self._learn_axis(_unit(sums[1:4]))

    def _learn_axis(self, unit: NDArray[np.float64]) -> None:
        """Take a block of gait whose mean acceleration points along ``unit`` (3,) into the long axis."""
        self._axis_sum = self._axis_sum * 0.9 + unit  # about 10 gait looks of memory: follows a re-clip
        self._axis_weight = self._axis_weight * 0.9 + 1.0

    # -- streaming ---------------------------------------------------------------------------

    def _time(self, k: int) -> float:
        return self._t0_s + k * self.frame_s

    @property
    def _buf(self) -> NDArray[np.float64]:
        """The last frames of the segment, up to a window, shape (<= window, N_ACC_STATS)."""
        return self._store[max(0, self._n - self._window) : self._n]

    def _append(self, stats: NDArray[np.float64]) -> NDArray[np.float64]:
        """Add frame rows to the store; return the buffer before them followed by them."""
        keep = min(self._n, self._window)
        m = stats.shape[0]
        if self._n + m > self._store.shape[0]:
            # Room for ~100 s of packets beyond the window: the buffer moves once every ~1000 frames.
            store = np.empty((keep + max(m, 1024) + self._window, N_ACC_STATS))
            store[:keep] = self._store[self._n - keep : self._n]
            self._store, self._n = store, keep
        self._store[self._n : self._n + m] = stats
        self._n += m
        return self._store[self._n - m - keep : self._n]

    def update(self, frames: FrameBatch) -> list[Event]:
        """Take the next closed frames; return the bouts completed (and started)."""
        if frames.m == 0:
            return []
        if self._k_start is None:
            self._k_start = frames.k_first
            self._k_end = frames.k_first
        assert self._k_end is not None
        self._t0_s = frames.t0_s
        m, hop, since = frames.m, self._hop, self._k_end - self._k_start
        if since % hop + m < hop:  # no look ends in these frames (most live packets)
            self._append(frames.stats[:, :N_ACC_STATS])
            self._k_end += m
            return []
        rows = self._append(frames.stats[:, :N_ACC_STATS])
        k_first = self._k_end + m - rows.shape[0]  # frame index of rows[0]
        # Looks end at every hop-th frame of the segment; rows[0] is the segment's first
        # frame or a full window before the old end.
        done = self._k_end - k_first
        first = done + 1 + (-(done + 1 + k_first - self._k_start)) % hop
        ends = list(range(first, rows.shape[0] + 1, hop))
        starts = [max(end - self._window, 0) for end in ends]
        if self._blocks is not None:
            self._blocks.extend(rows, k_first, self._k_start)
        events: list[Event] = []
        if ends:
            lengths = [end - start for end, start in zip(ends, starts, strict=True)]
            if self._blocks is not None:
                screen = self._blocks.looks([k_first + end for end in ends], lengths, self._k_start)
            else:
                screen = _Screen([False] * len(ends), {}, [2] * len(ends), {}, set())
            if len(ends) == 1 and screen.empty[0] and not screen.learn[0]:  # a live look ruled out
                events.extend(self._closed(k_first + ends[0]))
                self._k_end = k_first + rows.shape[0]
                return events
            # The long axis changes only with gait, whatever the looks find: learn it first.
            axes = self._learn(rows, starts, ends, screen)
            for j in self._candidates(screen, axes, lengths):
                start, end = starts[j], ends[j]
                events.extend(self._look(rows, start, end, k_first + end, axes[j].axis, gappy=j in screen.gappy))
            events.extend(self._closed(k_first + ends[-1]))
        self._k_end = k_first + rows.shape[0]
        return events

    def _learn(self, rows: NDArray[np.float64], starts: list[int], ends: list[int], screen: _Screen) -> list[_AxisAt]:
        """Learn the long axis from each look's last block in turn; return the axis each look sees."""
        at = _AxisAt(self._axis_sum, self._axis_weight)
        axes: list[_AxisAt] = []
        for j in [j for j, learn in enumerate(screen.learn) if learn]:
            axes.extend([at] * (j - len(axes)))
            if screen.learn[j] == 1:
                self._learn_axis(screen.units[j])
            else:
                self._learn_gait(rows[max(starts[j], ends[j] - self._gait) : ends[j]])
            at = _AxisAt(self._axis_sum, self._axis_weight)
            axes.append(at)
        axes.extend([at] * (len(screen.learn) - len(axes)))
        return axes

    def _candidates(self, screen: _Screen, axes: list[_AxisAt], lengths: list[int]) -> list[int]:
        """The looks that may get a label: not screened out, long enough, in a posture that allows one."""
        keep = [j for j, empty in enumerate(screen.empty) if not empty and lengths[j] >= self._min_window]
        thigh = self.placement is Placement.THIGH
        off: set[int] = set() if thigh else {j for j in keep if axes[j].floats is None}
        if screen.box_array is not None:
            known = [j for j in keep if axes[j].floats is not None]
            if known:
                boxes, axis = screen.box_array[known], np.array([axes[j].floats for j in known])
                away = _off_postures(boxes[:, :3], boxes[:, 3:], axis, thigh, self.tuning)
                off.update(j for j, out in zip(known, away, strict=True) if out)
        else:
            for j in keep:
                floats = axes[j].floats
                if (
                    floats is not None
                    and j in screen.boxes
                    and _off_posture(screen.boxes[j], floats, thigh, self.tuning)
                ):
                    off.add(j)
        return [j for j in keep if j not in off]

    def _look(
        self,
        rows: NDArray[np.float64],
        start: int,
        end: int,
        k_end: int,
        axis: NDArray[np.float64] | None,
        *,
        gappy: bool,
    ) -> list[Event]:
        """Look at the window ``rows[start:end]`` ending at frame ``k_end`` with the long axis of then."""
        events = self._closed(k_end)
        window = rows[start:end]
        if gappy and _gait(window[window[:, 0] > 0], self.frame_s, self.tuning):
            return events  # classify_window would find gait (or, before it, a still window)
        look = classify_window(window, axis, self.placement, self.tuning, self.frame_s)
        if not look.label:
            return events
        window_k = max(k_end - (end - start), self._last_end_k)
        if self._bout is None:
            self._bout = _Bout(first_k=window_k, last_k=k_end, looks_first_k=k_end)
        bout = self._bout
        bout.add(look.label, window_k, k_end)
        label, run_len, run_k, run_end = bout.run
        if run_len >= SWITCH_LOOKS and label != bout.best():
            # Another exercise has taken over: close the old one at its last look.
            bout.votes[label] -= run_len
            bout.last_k = bout.last_k_of[bout.best()]
            events.extend(self._close())
            first_k = max(run_k, self._last_end_k)
            self._bout = bout = _Bout(first_k, k_end, run_end, {label: run_len}, {label: k_end}, bout.run)
        if not bout.started and sum(bout.votes.values()) >= MIN_WINDOWS:
            bout.started = True
            events.append(ExerciseRecognised(self._time(bout.first_k), bout.best()))
        return events

    def _closed(self, k_end: int) -> list[Event]:
        """Close the bout under way if a look ending at ``k_end`` (or one before it) comes over ``GAP_S`` after it.

        A look without a label changes nothing but this, and the bout closes the same at
        whichever later look it is checked, so only looks that may get a label check it,
        and the last of each update.
        """
        if self._bout is not None and k_end - self._bout.last_k > self._gap:
            return self._close()
        return []

    def _close(self) -> list[Event]:
        bout, self._bout = self._bout, None
        if bout is None or sum(bout.votes.values()) < MIN_WINDOWS:
            return []
        self._last_end_k = bout.last_k
        best = bout.best()
        looks = (bout.last_k - bout.looks_first_k) // self._hop + 1
        confidence = min(1.0, bout.votes[best] / looks)
        return [ExerciseFound(self._time(bout.first_k), self._time(bout.last_k), best, round(confidence, 3))]

    def flush(self, frames: FrameBatch) -> list[Event]:
        """Take the last frames of the stream or segment (maybe none) and close the bout under way."""
        events = self.update(frames)
        events.extend(self._close())
        return events

    def next_segment(self, forward: bool) -> ExerciseRecognizer:
        """Return a fresh recogniser for the segment after a time jump, keeping the learned long axis."""
        fresh = ExerciseRecognizer(self.placement, self.frame_s, self.tuning)
        fresh._axis_sum = self._axis_sum.copy()
        fresh._axis_weight = self._axis_weight
        return fresh

    def snapshot(self) -> dict[str, Any]:
        """Return the state as JSON-serialisable data."""
        bout = self._bout
        return {
            "buf": packed(self._buf),
            "k_end": self._k_end,
            "k_start": self._k_start,
            "t0_s": self._t0_s,
            "axis_sum": self._axis_sum.tolist(),
            "axis_weight": self._axis_weight,
            "last_end_k": self._last_end_k,
            "bout": None if bout is None else bout.to_json(),
        }

    def load(self, state: dict[str, Any]) -> None:
        """Restore the state saved by ``snapshot``."""
        self._store = unpacked(state["buf"], N_ACC_STATS)  # packed, or a list of rows as first saved
        self._n = self._store.shape[0]
        self._blocks = self._block_screen()  # found again from the buffer
        self._k_end = None if state["k_end"] is None else int(state["k_end"])
        self._k_start = None if state["k_start"] is None else int(state["k_start"])
        self._t0_s = float(state["t0_s"])
        self._axis_sum = np.asarray(state["axis_sum"], dtype=np.float64)
        self._axis_weight = float(state["axis_weight"])
        self._last_end_k = int(state["last_end_k"])
        self._bout = None if state["bout"] is None else _Bout.from_json(state["bout"])
