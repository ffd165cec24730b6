"""Timed holds of the programme's stretches and the plank: start, end, side, bounces.

:class:`HoldTimer` times the holds of one exercise set from the 0.1-s frame means
(``analysis.frames``). It emits :class:`HoldStarted` as soon as a held position is
reached and steady (so a dashboard can run the hold timer) and :class:`HoldEnded` when
the position is left, with the hold's length, whether it was broken early and how many
bounce cycles it held.

**Position.** The sensor's gravity direction is compared with its direction at rest
in the set's starting position: the mean over :data:`REF_S` seconds in which the 0.5-s
mean direction stays still (turns by at most :data:`STILL_DEG` over :data:`LAG_S`),
learned at the start and again after every such still stretch at rest (a wearer
settles a little differently between repetitions). Only angles to that resting
direction are used, so any mounting works. A hold is a position at least
``enter_deg`` (half the exercise's full range, :class:`HoldRule`) away from rest in
which the 0.5-s mean direction is steady, for at least :data:`MIN_HOLD_S`. The plank is
timed by the same rule: from lying face down the body rises by ~12° into the plank,
so the plank is the steady position away from the face-down start, and lowering back
down ends it.

**Timing.** A position is steady once the 0.5-s mean has turned by at most
``max(STILL_DEG, STEADY_FRAC x depth)`` over :data:`LAG_S` for :data:`SETTLE_S`
(``depth`` is the angle from rest: a bouncing hold wobbles in proportion to it). The
hold's start is found looking back: the first frame from which the 0.3-s mean stays
within the *edge tolerance* of the held direction, ``max(EDGE_FLOOR_DEG, EDGE_FRAC x
depth, EDGE_SPREAD x wobble)``, the wobble being the largest angle between the 0.3-s
and 0.5-s means over the last half-second (a bounce parts them, a smooth approach
hardly does). ``HoldStarted`` is emitted once that start lies :data:`MIN_HOLD_S` back.
The hold is left when the 0.3-s mean strays ``max(LEAVE_FLOOR_DEG, LEAVE_FRAC x
depth)`` from the held direction; its end is the last frame before that within the
edge tolerance of where the hold last stood still (a hold creeps a little). Both ends
are the midpoint between the last frame out and the first frame in (centres of the
0.3-s windows), so the smoothing does not shift them. A smooth movement comes to rest
slowly (a minimum-jerk move covers only ~6% of its range in its last fifth), so the
ends land ~0.3-0.6 s outside the simulator's (``docs/holds.md``).

**Not holds.** Staying in the starting position is never a hold (it is not away from
rest), and neither is a movement that comes back before it has been steady for
:data:`MIN_HOLD_S` (a repetition without a hold, the turn at its top, a partial one
under ``enter_deg``). A hold that was left is over once the segment is back within
``enter_deg`` of rest, and ``HoldEnded`` comes then. If the segment settles somewhere
else instead, the "hold" was the wearer getting into the set's starting position: that
position becomes the rest, no ``HoldEnded`` follows the ``HoldStarted`` already sent,
and the new position is judged from it (the first real hold, usually). Neither within
:data:`PENDING_S`, or settled back in place: the hold is over. A steady position further
than ``max_deg`` (the full range plus :data:`EXTRA_DEG`) from rest is a change of
position (getting into or out of the exercise, standing up): no hold starts and the
resting direction is learned again there. A hold longer than :data:`MAX_HOLD_S` (or
four times the dose's longest hold) is closed there and its position becomes the new
rest: the wearer has settled in it.

A wrist sensor in the back stabiliser cannot tell getting onto all fours from lying
from a hold: the forearm lying on the floor and the arm reaching forward point the
same way. Its timer must start in the starting position (``sitless`` starts the
timers when the set starts).

**Bounces.** programme.md: never bounce. A bounce is a swing of the departure angle
(per 0.1-s frame) of at least ``max(BOUNCE_FLOOR_DEG, BOUNCE_FRAC x depth)`` between
turning points :data:`BOUNCE_HALF_S` apart (half-periods of 0.5-3 Hz), counted with a
zig-zag (peak-valley) detector; two swings make a cycle. The 2° floor is "a few
degrees": above the frame noise and the breathing sway of a lying body
(``firmware_sim.params.MotionParams.lying_sway_deg``, 0.75°, and slower than 0.5 Hz),
and the 10% makes a bounce of a large stretch (the knee hug's 75°) count only when it
is clearly part of the movement rather than an adjustment.

**Sides.** For the per-side exercises the side comes from the direction in which the
segment moved away from rest: the first hold's side is ``first_side`` (left by default:
the programme's cards and guided sessions start on the left), and each later hold is
on the same side when its displacement from rest points the same way (positive dot
product), else on the other side. Which side is really left depends on which way the
sensor faces, which the detector does not know; a wearer who starts on the right gets
the sides swapped unless the app passes ``first_side``. A wrist or thigh sensor in the
back stabiliser sees only the holds in which its own limb lifts (the other side's
support shift, ~6°, is under ``enter_deg``), so all its holds are of one side.

**Supported combinations** (:data:`RULES`; the full range of each segment is
``firmware_sim.poses.MOVES``, sitless's estimates with the sources cited there):
``knee_roll`` at thigh and lower back, ``knee_hug`` at thigh, lower back and wrist,
``back_stabiliser`` at thigh (bird dog form: the sensor's leg lifts) and wrist (the
sensor's arm lifts), ``pelvic_tilt`` and ``deep_stomach`` at the lower back (or waist),
``plank`` at thigh, lower back (or waist) and wrist. A segment that moves under
:data:`MIN_RANGE_DEG` cannot be told from a resting body (the pelvis in the back
stabiliser, whose cue is to keep it level; the thigh and wrist in the pelvic tilt and
deep stomach exercises): those combinations raise ``ValueError``.

Everything is decided frame by frame from a rolling buffer of at most
:data:`BUFFER_S` seconds, so chunked input gives exactly the events of one chunk.

>>> timer = HoldTimer("knee_hug", Placement.THIGH, 0.1)
>>> timer.name, timer.version, timer.target_s, timer.rule.enter_deg
('holds', 1, 3.0, 37.5)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from analysis.angles import angle_deg
from analysis.events import Event
from analysis.frames import FrameBatch
from analysis.programme import exercise_by_id
from analysis.settings import Placement

__all__ = [
    "BOUNCE_FLOOR_DEG",
    "BOUNCE_FRAC",
    "BOUNCE_HALF_S",
    "BROKEN_GRACE_S",
    "BUFFER_S",
    "EDGE_FLOOR_DEG",
    "EDGE_FRAC",
    "EDGE_SPREAD",
    "EXTRA_DEG",
    "LAG_S",
    "LEAVE_FLOOR_DEG",
    "LEAVE_FRAC",
    "MAX_HOLD_S",
    "MIN_HOLD_S",
    "MIN_RANGE_DEG",
    "PENDING_S",
    "REF_S",
    "RULES",
    "SETTLE_S",
    "STEADY_FRAC",
    "STILL_DEG",
    "HoldEnded",
    "HoldRule",
    "HoldStarted",
    "HoldTimer",
]

#: Window of the short mean direction that times the hold's ends, s.
SHORT_S = 0.3
#: Window of the mean direction that judges steadiness and gives the held direction, s.
LONG_S = 0.5
#: Steadiness compares the long mean with itself this long before, s.
LAG_S = 0.3
#: Still time at rest that (re)makes the resting direction, s (the simulator's sets
#: start with 3 s still, ``firmware_sim.exercises.ExerciseSet.settle_s``).
REF_S = 1.5
#: Most the long mean may turn over ``LAG_S`` in a still frame, deg: well above the
#: sway of a lying body (0.75° at under 0.4 Hz, ``MotionParams.lying_sway_deg``: at most
#: ~0.6° in 0.3 s), well below a movement into a hold (the slowest, the pelvic tilt's
#: 10° in ~1.5 s, turns ~2° in 0.3 s even near its end).
STILL_DEG = 1.0
#: Steadiness allows this fraction of the depth too: what a 1.5-Hz bounce of 15% of the
#: depth leaves in a 0.5-s mean (~5% peak to peak), with a margin.
STEADY_FRAC = 0.1
#: Frames steady in a row before a hold starts, s.
SETTLE_S = 0.2
#: Shortest hold, s: a segment stays near the top of a smooth repetition without a hold
#: for up to ~1 s (a 4-s knee hug without a hold), so shorter stays are the turn of a repetition.
MIN_HOLD_S = 1.5
#: Least edge tolerance, deg: twice the sway of a still lying body; real holds creep by
#: about as much (``mex_thigh`` bridging, ``python -m bench.holds``).
EDGE_FLOOR_DEG = 1.5
#: Edge tolerance as a fraction of the hold's depth.
EDGE_FRAC = 0.03
#: Edge tolerance as a multiple of how far the short means of the last half-second
#: stray from the long ones (a bounce makes them wobble).
EDGE_SPREAD = 2.0
#: Least departure from the held direction that ends a hold, deg.
LEAVE_FLOOR_DEG = 3.0
#: Departure from the held direction that ends a hold, fraction of the depth (twice the
#: excursion of a 15% bounce).
LEAVE_FRAC = 0.3
#: Least bounce swing, deg peak to peak (see the module docstring).
BOUNCE_FLOOR_DEG = 2.0
#: Least bounce swing as a fraction of the hold's depth.
BOUNCE_FRAC = 0.1
#: Shortest and longest half-period of a bounce, s (3 Hz to 0.5 Hz).
BOUNCE_HALF_S = (1.0 / 6.0, 1.0)
#: A hold is broken when it is shorter than the target by more than this, s: measured
#: holds run long by ~0.7 s (both ends land outside, see Timing), so one of the target's
#: length seldom reads this much short (``docs/holds.md``).
BROKEN_GRACE_S = 0.5
#: Least hold that closes a position as the new rest, s (or 4 x the dose's longest).
MAX_HOLD_S = 120.0
#: A steady position this far beyond the full range is a change of position, deg.
EXTRA_DEG = 30.0
#: Smallest full range that can be timed, deg: under it a hold cannot be told from the
#: still sway and posture shifts of a resting body.
MIN_RANGE_DEG = 10.0
#: Frames kept for looking back, s.
BUFFER_S = 4.0
#: How far back a hold's start or end is looked for, s.
SEARCH_S = 3.0

#: Longest wait, after a hold is left, for a return to rest or a settling elsewhere, s.
PENDING_S = 10.0

_LEARN, _REST, _AWAY, _HOLD, _LEFT = range(5)


@dataclass(frozen=True, slots=True)
class HoldRule:
    """The thresholds of one exercise at one placement.

    Attributes:
        full_deg: Angle the segment turns at full range, deg (> 0).
        enter_deg: Least departure from rest of a hold, deg (half the full range: a
            partial repetition done to 40% of it does not count).
        max_deg: Departure beyond which a steady position is a change of position, deg.

    Raises:
        ValueError: ``full_deg`` not finite and > 0.

    >>> HoldRule(20.0)
    HoldRule(full_deg=20.0, enter_deg=10.0, max_deg=50.0)
    """

    full_deg: float
    enter_deg: float = math.nan
    max_deg: float = math.nan

    def __post_init__(self) -> None:
        if not (math.isfinite(self.full_deg) and self.full_deg > 0):
            raise ValueError(f"full_deg must be > 0, got {self.full_deg}")
        if math.isnan(self.enter_deg):
            object.__setattr__(self, "enter_deg", 0.5 * self.full_deg)
        if math.isnan(self.max_deg):
            object.__setattr__(self, "max_deg", self.full_deg + EXTRA_DEG)
        if not 0 < self.enter_deg < self.max_deg:
            raise ValueError(f"need 0 < enter_deg < max_deg, got {self.enter_deg} and {self.max_deg}")


def _rules() -> Mapping[tuple[str, Placement], HoldRule]:
    # Full range per segment: the angle between the start and full-range gravity
    # directions of firmware_sim.poses.MOVES (sitless's estimates; sources there). The
    # back stabiliser's thigh and wrist: the side on which their own limb lifts (90°);
    # on the other side they shift ~6° as supports.
    full = {
        ("knee_roll", Placement.THIGH): 54.0,
        ("knee_roll", Placement.LOWER_BACK): 30.0,
        ("knee_roll", Placement.WRIST): 8.0,
        ("knee_hug", Placement.THIGH): 75.0,
        ("knee_hug", Placement.LOWER_BACK): 20.0,
        ("knee_hug", Placement.WRIST): 50.0,
        ("back_stabiliser", Placement.THIGH): 90.0,
        ("back_stabiliser", Placement.LOWER_BACK): 6.0,
        ("back_stabiliser", Placement.WRIST): 90.0,
        ("pelvic_tilt", Placement.THIGH): 5.0,
        ("pelvic_tilt", Placement.LOWER_BACK): 10.0,
        ("pelvic_tilt", Placement.WRIST): 6.0,
        ("deep_stomach", Placement.THIGH): 5.0,
        ("deep_stomach", Placement.LOWER_BACK): 10.0,
        ("deep_stomach", Placement.WRIST): 5.0,
        ("plank", Placement.THIGH): 12.0,
        ("plank", Placement.LOWER_BACK): 12.0,
        ("plank", Placement.WRIST): 60.0,
    }
    rules = {key: HoldRule(deg) for key, deg in full.items() if deg >= MIN_RANGE_DEG}
    # A waist sensor sits on the pelvis as a lower-back one does.
    rules |= {(ex, Placement.WAIST): rule for (ex, pl), rule in list(rules.items()) if pl is Placement.LOWER_BACK}
    return MappingProxyType(rules)


#: The supported ``(exercise, placement)`` combinations and their thresholds.
RULES: Mapping[tuple[str, Placement], HoldRule] = _rules()


@dataclass(frozen=True, slots=True)
class HoldStarted:
    """A hold began at ``t_s``: the position was reached and is steady (emitted live).

    Attributes:
        t_s: Start of the hold, s.
        exercise: Programme exercise id.
        side: ``"left"``, ``"right"`` or None (an exercise done on both sides at once).
        target_s: The hold asked for, s.
    """

    kind: ClassVar[str] = "hold_started"
    t_s: float
    exercise: str
    side: str | None
    target_s: float

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form, including ``kind``."""
        return {"kind": self.kind, **asdict(self)}


@dataclass(frozen=True, slots=True)
class HoldEnded:
    """A closed hold.

    Attributes:
        start_s: Start of the hold, s (the ``t_s`` of its ``HoldStarted``).
        end_s: End of the hold, s.
        exercise: Programme exercise id.
        side: ``"left"``, ``"right"`` or None.
        target_s: The hold asked for, s.
        broken: Shorter than the target by more than ``BROKEN_GRACE_S``.
        bounces: Bounce cycles seen in the hold.
        hold: 1-based number of this hold in the detector's run: per side for a per-side
            exercise, overall otherwise.
    """

    kind: ClassVar[str] = "hold"
    start_s: float
    end_s: float
    exercise: str
    side: str | None
    target_s: float
    broken: bool
    bounces: int
    hold: int

    @property
    def duration_s(self) -> float:
        """Length of the hold, s."""
        return self.end_s - self.start_s

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form, including ``kind``."""
        return {"kind": self.kind, **asdict(self)}


def _unit(sums: NDArray[np.float64], fill: float = math.nan) -> NDArray[np.float64]:
    """Rows scaled to unit length; zero rows become ``fill``, shape (n, 3) in and out."""
    norm = np.sqrt(sums[:, 0] * sums[:, 0] + sums[:, 1] * sums[:, 1] + sums[:, 2] * sums[:, 2])[:, None]
    out = np.full(sums.shape, fill)
    np.divide(sums, norm, out=out, where=norm > 0)
    return out


def _means(x: NDArray[np.float64], short: int, long: int, m: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Mean direction over the ``short`` and the ``long`` rows up to each of the last ``m`` rows.

    Frames without samples are zero rows, left out as are rows before the first (the
    start of the stream); a window without any row is NaN. Each window is summed from 0
    in row order (the long one goes on from the short one's sum), the same wherever it
    sits, so a frame gets the same bits in any chunking.

    Args:
        x: Unit vectors, or zero rows for frames without samples, shape (n, 3).
        short: Short window in rows (>= 1).
        long: Long window in rows (>= ``short``).
        m: Rows wanted, the last ones (<= n).

    Returns:
        ``(short, long)`` unit vectors or NaN rows, shape (m, 3) each.

    >>> x = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    >>> [v.round(3).tolist() for v in _means(x, 1, 3, 2)]  # the gap is left out
    [[[nan, nan, nan], [0.0, 1.0, 0.0]], [[1.0, 0.0, 0.0], [0.707, 0.707, 0.0]]]
    """
    first = x.shape[0] - m
    total = np.zeros((m, 3))
    short_total = total
    for j in range(long):
        lo = first - j  # each output row adds the row j before it
        if lo >= 0:
            total += x[lo : lo + m]
        elif m + lo > 0:
            total[-lo:] += x[: m + lo]
        if j == short - 1:
            short_total = total.copy()
    both = _unit(np.concatenate([short_total, total]))
    return both[:m], both[m:]


def _angles(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """Row-wise angles between unit vectors (n, 3) and (n, 3) or (3,), deg; NaN rows give NaN."""
    b = np.asarray(b)
    dot = a[:, 0] * b[..., 0] + a[:, 1] * b[..., 1] + a[:, 2] * b[..., 2]
    out: NDArray[np.float64] = np.degrees(np.arccos(np.minimum(np.maximum(dot, -1.0), 1.0)))
    return out


def _finite(pair: tuple[float, int]) -> tuple[float | None, int]:
    """A (value, frame) pair for JSON: an infinite value (none seen yet) as None."""
    return (pair[0] if math.isfinite(pair[0]) else None, pair[1])


class HoldTimer:
    """Times the holds of one exercise set (see the module docstring).

    Args:
        exercise: Programme exercise id with a hold in its dose (``plank``,
            ``back_stabiliser``, ``deep_stomach``, ``knee_roll``, ``knee_hug``,
            ``pelvic_tilt``).
        placement: Where the sensor is worn.
        frame_s: Frame length of the batches it is fed, s.
        target_s: The hold asked for, s; None: the low end of the dose's hold range.
        rule: Thresholds to use instead of :data:`RULES` (any placement is then
            accepted: the caller knows the segment's range).
        first_side: Side of the first hold of a per-side exercise.

    Raises:
        KeyError: Unknown exercise id.
        ValueError: The exercise has no hold, the combination cannot be measured (the
            message names both), or a bad ``frame_s``, ``target_s`` or ``first_side``.

    A thigh that rests 3 s, rises 60° in 1 s, holds 5 s and comes back:

    >>> from analysis.frames import N_STATS
    >>> deg = np.r_[np.zeros(30), np.linspace(0, 60, 10), np.full(50, 60.0), np.linspace(60, 0, 10), np.zeros(30)]
    >>> stats = np.zeros((deg.size, N_STATS))
    >>> stats[:, 0] = 1.0  # one sample a frame, gravity turning in the x-y plane
    >>> stats[:, 1:3] = np.c_[np.cos(np.radians(deg)), np.sin(np.radians(deg))]
    >>> events = HoldTimer("knee_hug", Placement.THIGH, 0.1).flush(FrameBatch(0.0, 0.1, 0, stats))
    >>> [(e.kind, round(e.t_s if isinstance(e, HoldStarted) else e.end_s, 1)) for e in events]
    [('hold_started', 4.0), ('hold', 9.0)]
    """

    name: ClassVar[str] = "holds"
    version: ClassVar[int] = 1

    def __init__(
        self,
        exercise: str,
        placement: Placement,
        frame_s: float,
        target_s: float | None = None,
        *,
        rule: HoldRule | None = None,
        first_side: str = "left",
    ) -> None:
        dose = exercise_by_id(exercise).dose
        if dose.hold_s is None:
            raise ValueError(f"{exercise} has no hold in its dose")
        placement = Placement(placement)
        if rule is None:
            if (exercise, placement) not in RULES:
                works = ", ".join(f"{e} at {p}" for e, p in RULES)
                raise ValueError(f"holds of {exercise} cannot be measured at the {placement}; these can: {works}")
            rule = RULES[(exercise, placement)]
        if not (math.isfinite(frame_s) and frame_s > 0):
            raise ValueError(f"frame_s must be > 0, got {frame_s}")
        target = dose.hold_s[0] if target_s is None else float(target_s)
        if not (math.isfinite(target) and target > 0):
            raise ValueError(f"target_s must be > 0, got {target_s}")
        if first_side not in ("left", "right"):
            raise ValueError(f"first_side must be 'left' or 'right', got {first_side!r}")
        self.exercise = exercise
        self.placement = placement
        self.frame_s = float(frame_s)
        self.target_s = target
        self.rule = rule
        self.first_side = first_side
        self.per_side = dose.per_side
        self.max_hold_s = max(MAX_HOLD_S, 4 * dose.hold_s[1])
        self._given_target = target_s
        self._n_short = max(1, round(SHORT_S / frame_s))
        self._n_long = max(1, round(LONG_S / frame_s))
        self._n_lag = max(1, round(LAG_S / frame_s))
        self._n_ref = max(1, round(REF_S / frame_s))
        self._n_settle = max(1, round(SETTLE_S / frame_s))
        self._n_search = max(1, round(SEARCH_S / frame_s))
        # Every window of a frame one search back must be whole in the buffer.
        self._n_buffer = max(round(BUFFER_S / frame_s), self._n_search + self._n_long + self._n_lag + self._n_ref)
        self._reset()

    def _reset(self) -> None:
        self._buf_k0 = 0
        self._k_next: int | None = None
        self._state = _LEARN
        self._ref: list[float] | None = None
        self._still = 0  # still frames in a row (learning the rest)
        self._settle = 0  # steady frames in a row (away from rest)
        self._away_k = 0  # first frame away from rest
        self._side_vec: list[float] | None = None
        # The last frames, from frame ``_buf_k0`` on (``_prepare``): gravity directions
        # (zero in frames without samples), their short and long means (NaN without any).
        self._t0_s = 0.0
        self._x = np.zeros((0, 3))
        self._s = self._l = self._x
        self._counts = {"left": 0, "right": 0, "all": 0}
        self._reset_hold()

    def _reset_hold(self) -> None:
        self._h: list[float] = [0.0, 0.0, 0.0]
        self._h_now: list[float] = [0.0, 0.0, 0.0]
        self._depth = 0.0
        self._edge = 0.0
        self._leave = 0.0
        self._bounce = 0.0
        self._start_k = 0
        self._start_s = 0.0
        self._side: str | None = None
        self._side_first = False  # this hold set the first side's direction
        # A hold left but not yet over (``_leave_hold``): its end, bounces, when left.
        self._pend_end_s = 0.0
        self._pend_bounces = 0
        self._pend_k = 0
        # Zig-zag bounce detector: direction, extreme and its frame, last turning point,
        # the running min and max before the first turn, swings counted, recent swing ends.
        self._zz_dir = 0
        self._zz_ext = 0.0
        self._zz_ext_k = 0
        self._zz_lo = (math.inf, 0)
        self._zz_hi = (-math.inf, 0)
        self._zz_turn_k = 0
        self._swings = 0
        self._swing_ends: list[int] = []

    # -- Detector protocol ------------------------------------------------------------

    def update(self, frames: FrameBatch) -> list[Event]:
        """Take the next closed frames; return the holds started and ended in them.

        Args:
            frames: Frames consecutive with the last ones.

        Returns:
            ``HoldStarted`` and ``HoldEnded`` events in time order.

        Raises:
            ValueError: Frames of another length, or not following the last ones.
        """
        events: list[Event] = []
        if frames.m:
            self._feed(frames, events)
        return events

    def flush(self, frames: FrameBatch) -> list[Event]:
        """Take the last frames and close a hold still open (ended at its last frame in place).

        Args:
            frames: The last frames (maybe none).

        Returns:
            The events, as ``update``.
        """
        events = self.update(frames)
        if self._state == _HOLD and self._k_next is not None:
            self._t0_s = frames.t0_s
            self._leave_hold(self._end_k(self._k_next), self._k_next)
            self._state = _LEFT
        if self._state == _LEFT:
            events.append(self._finish())
        return events

    def next_segment(self, forward: bool) -> HoldTimer:
        """Return a fresh timer with the same configuration (a time jump starts a new set)."""
        return HoldTimer(
            self.exercise,
            self.placement,
            self.frame_s,
            self._given_target,
            rule=self.rule,
            first_side=self.first_side,
        )

    def snapshot(self) -> dict[str, Any]:
        """Return the state as JSON-serialisable data."""
        return {
            "buf": self._x.tolist(),
            "buf_k0": self._buf_k0,
            "t0_s": self._t0_s,
            "k_next": self._k_next,
            "state": self._state,
            "ref": self._ref,
            "still": self._still,
            "settle": self._settle,
            "away_k": self._away_k,
            "side_vec": self._side_vec,
            "counts": dict(self._counts),
            "hold": {
                "h": self._h,
                "h_now": self._h_now,
                "depth": self._depth,
                "edge": self._edge,
                "leave": self._leave,
                "bounce": self._bounce,
                "start_k": self._start_k,
                "start_s": self._start_s,
                "side": self._side,
                "side_first": self._side_first,
                "pending": [self._pend_end_s, self._pend_bounces, self._pend_k],
                "zz": [self._zz_dir, self._zz_ext, self._zz_ext_k, *_finite(self._zz_lo), *_finite(self._zz_hi)],
                "turn_k": self._zz_turn_k,
                "swings": self._swings,
                "swing_ends": list(self._swing_ends),
            },
        }

    def load(self, state: dict[str, Any]) -> None:
        """Restore the state saved by ``snapshot``."""
        self._x = np.asarray(state["buf"], dtype=np.float64).reshape(-1, 3)
        # Windows cut short at the top of the buffer are never looked at (SEARCH_S < BUFFER_S).
        self._s, self._l = _means(self._x, self._n_short, self._n_long, self._x.shape[0])
        self._buf_k0 = int(state["buf_k0"])
        self._t0_s = float(state["t0_s"])
        self._k_next = None if state["k_next"] is None else int(state["k_next"])
        self._state = int(state["state"])
        self._ref = None if state["ref"] is None else [float(v) for v in state["ref"]]
        self._still = int(state["still"])
        self._settle = int(state["settle"])
        self._away_k = int(state["away_k"])
        self._side_vec = None if state["side_vec"] is None else [float(v) for v in state["side_vec"]]
        self._counts = {k: int(v) for k, v in state["counts"].items()}
        hold = state["hold"]
        self._h = [float(v) for v in hold["h"]]
        self._h_now = [float(v) for v in hold["h_now"]]
        self._depth = float(hold["depth"])
        self._edge = float(hold["edge"])
        self._leave = float(hold["leave"])
        self._bounce = float(hold["bounce"])
        self._start_k = int(hold["start_k"])
        self._start_s = float(hold["start_s"])
        self._side = hold["side"]
        self._side_first = bool(hold["side_first"])
        end_s, bounces, left_k = hold["pending"]
        self._pend_end_s, self._pend_bounces, self._pend_k = float(end_s), int(bounces), int(left_k)
        zz_dir, zz_ext, zz_ext_k, lo, lo_k, hi, hi_k = hold["zz"]
        self._zz_dir, self._zz_ext, self._zz_ext_k = int(zz_dir), float(zz_ext), int(zz_ext_k)
        self._zz_lo = (math.inf if lo is None else float(lo), int(lo_k))
        self._zz_hi = (-math.inf if hi is None else float(hi), int(hi_k))
        self._zz_turn_k = int(hold["turn_k"])
        self._swings = int(hold["swings"])
        self._swing_ends = [int(k) for k in hold["swing_ends"]]

    # -- frame by frame ---------------------------------------------------------------

    def _feed(self, frames: FrameBatch, events: list[Event]) -> None:
        if not math.isclose(frames.frame_s, self.frame_s):
            raise ValueError(f"frames of {frames.frame_s} s fed to a timer of {self.frame_s} s frames")
        if self._k_next is None:
            self._buf_k0 = frames.k_first
        elif frames.k_first != self._k_next:
            raise ValueError(f"frames must follow on: expected frame {self._k_next}, got {frames.k_first}")
        self._prepare(frames.stats[:, 1:4], frames.t0_s)
        first = self._x.shape[0] - frames.m  # row of the first new frame
        lagged = self._l[max(first - self._n_lag, 0) : max(self._x.shape[0] - self._n_lag, 0)]
        if lagged.shape[0] < frames.m:  # the stream's first frames have no frame LAG_S before
            lagged = np.concatenate([np.full((frames.m - lagged.shape[0], 3), np.nan), lagged])
        turned = _angles(self._l[first:], lagged)
        self._step_frames(first, turned.tolist(), events)
        self._k_next = frames.k_end
        cut = max(0, self._x.shape[0] - self._n_buffer)
        self._x, self._s, self._l = self._x[cut:], self._s[cut:], self._l[cut:]
        self._buf_k0 = self._k_next - self._x.shape[0]
        self._swing_ends = [k for k in self._swing_ends if k >= self._k_next - self._n_search]

    def _prepare(self, sums: NDArray[np.float64], t0_s: float) -> None:
        """Append new frames (their acceleration sums, shape (m, 3)) and their mean directions to the buffer."""
        self._t0_s = t0_s
        m = sums.shape[0]
        self._x = np.concatenate([self._x, _unit(sums, 0.0)])
        short, long = _means(self._x, self._n_short, self._n_long, m)
        self._s = np.concatenate([self._s, short])
        self._l = np.concatenate([self._l, long])

    def _row(self, k: int) -> int:
        return k - self._buf_k0

    def _step_frames(self, first: int, turned: list[float], events: list[Event]) -> None:
        n = self._x.shape[0]
        depart: list[float] = []
        raw: list[float] = []
        off: list[float] = []
        stale = True  # the angle lists must be (re)computed for the current reference and hold
        for i, row in enumerate(range(first, n)):
            k = self._buf_k0 + row
            if stale:
                depart, raw, off = self._against(row)
                stale = False
            j = row - (n - len(depart))
            d = depart[j]
            if math.isnan(d):
                continue
            if self._state in (_LEARN, _REST) and d < self.rule.enter_deg:
                # Still at rest for REF_S: (re)learn the resting direction, which follows
                # a wearer who settles a little differently between repetitions.
                self._still = self._still + 1 if turned[i] <= STILL_DEG else 0
                if self._still >= self._n_ref:
                    ref = self._x[row - self._n_ref + 1 : row + 1].sum(axis=0)
                    self._ref = (ref / np.linalg.norm(ref)).tolist()
                    self._state, self._still, stale = _REST, 0, True
            elif self._state == _REST:
                self._state, self._away_k, self._settle, self._still = _AWAY, k, 0, 0
            elif self._state == _AWAY:
                stale = self._step_away(k, row, d, turned[i], events)
            elif self._state == _HOLD:
                stale = self._step_hold(k, row, d, (raw[j], off[j], turned[i]), events)
            elif self._state == _LEFT:
                stale = self._step_left(k, row, d, turned[i], events)

    def _step_hold(self, k: int, row: int, d: float, angles: tuple[float, float, float], events: list[Event]) -> bool:
        """One frame of a hold; return whether the reference or hold changed.

        ``angles``: the frame's departure from rest, the short mean's from the held
        direction, and the long mean's turn over ``LAG_S``, deg.
        """
        raw, off, turned = angles
        if not math.isnan(raw):  # a frame without samples inside a filled short window
            self._zig(raw, k)
        if turned <= 0.5 * STILL_DEG:
            self._h_now = self._l[row].tolist()  # where the hold is now (it may drift a little)
        if off > self._leave:
            self._leave_hold(self._end_k(k), k)
            self._state, self._settle = _LEFT, 0
            if d < self.rule.enter_deg:
                events.append(self._finish())
            return True
        if (k + 1) * self.frame_s - (self._start_s - self._t0_s) > self.max_hold_s:
            self._leave_hold(k, k)  # settled here: the new rest
            events.append(self._finish())
            self._state, self._still, self._ref = _LEARN, 0, None
            return True
        return False

    def _step_left(self, k: int, row: int, d: float, turned: float, events: list[Event]) -> bool:
        """One frame after a hold was left; return whether the reference or hold changed."""
        if d < self.rule.enter_deg:  # back at rest: the hold is over
            events.append(self._finish())
            return True
        steady = turned <= max(STILL_DEG, STEADY_FRAC * d)
        self._settle = self._settle + 1 if steady else 0
        if self._settle >= self._n_settle and angle_deg(self._l[row], self._h) > self._leave:
            # Settled somewhere else without coming back: the "hold" was the position the
            # set starts from (the wearer got into it), and this is the first real hold.
            self._ref = list(self._h)
            if self._side_first:
                self._side_vec = None
            self._reset_hold()
            self._state, self._away_k = _AWAY, self._pend_k
            self._step_away(k, row, angle_deg(self._l[row], self._ref), turned, events)
            return True
        if self._settle >= self._n_settle or (k - self._pend_k) * self.frame_s > PENDING_S:
            events.append(self._finish())
            self._state, self._away_k, self._settle = _AWAY, k, 0
            return True
        return False

    def _step_away(self, k: int, row: int, d: float, turned: float, events: list[Event]) -> bool:
        """One frame away from rest; return whether the reference or hold changed."""
        if d < 0.8 * self.rule.enter_deg:  # back at rest without a hold (hysteresis)
            self._state = _REST
            return False
        steady = turned <= max(STILL_DEG, STEADY_FRAC * d)
        self._settle = self._settle + 1 if steady else 0
        if self._settle < self._n_settle:
            return False
        assert self._ref is not None
        held = self._l[row]
        if angle_deg(held, self._ref) >= self.rule.max_deg:  # a new position: learn the rest there
            self._state, self._still, self._ref = _LEARN, 0, None
            return True
        self._start_hold(k, row, events)
        return self._state == _HOLD

    def _against(self, first: int) -> tuple[list[float], list[float], list[float]]:
        """Angles of the rows from ``first`` on: short mean and frame to the reference, short mean to the hold."""
        s = self._s[first:]
        if self._ref is None:
            nan = np.where(np.isnan(s[:, 0]), np.nan, 0.0).tolist()
            return nan, nan, nan
        ref = np.asarray(self._ref)
        depart = _angles(s, ref).tolist()
        if self._state != _HOLD:  # only a hold needs the other two
            return depart, depart, depart
        raw = self._raw(first, n=None, ref=ref)
        off = _angles(s, np.asarray(self._h))
        return depart, raw.tolist(), off.tolist()

    def _raw(self, first: int, n: int | None, ref: NDArray[np.float64]) -> NDArray[np.float64]:
        """Departure of each frame from rest, rows ``first`` to ``n``, deg; NaN for frames without samples."""
        x = self._x[first:n]
        angles = _angles(x, ref)
        angles[(x[:, 0] == 0) & (x[:, 1] == 0) & (x[:, 2] == 0)] = np.nan
        return angles

    def _centre_s(self, k: int) -> float:
        """Time of the centre of the short window ending at frame ``k``, s."""
        return self._t0_s + (k + 1 - self._n_short / 2) * self.frame_s

    def _start_hold(self, k: int, row: int, events: list[Event]) -> None:
        """Start a hold at frame ``k`` (steady away from rest) once it has lasted ``MIN_HOLD_S``."""
        assert self._ref is not None
        ref = np.asarray(self._ref)
        held = self._l[row]
        depth = angle_deg(held, ref)
        lo = max(row - self._n_search, row - (k - self._away_k), 0)
        off = _angles(self._s[lo : row + 1], held)
        # The wobble: the short means against the long ones (a smooth approach hardly
        # parts them; a bounce does).
        first = max(row - self._n_long + 1, 0)
        wobble = _angles(self._s[first : row + 1], self._l[first : row + 1])
        spread = float(np.max(wobble[~np.isnan(wobble)], initial=0.0))
        edge = max(EDGE_FLOOR_DEG, EDGE_FRAC * depth, EDGE_SPREAD * spread)
        outside = np.flatnonzero(off > edge)
        start_row = lo + (int(outside[-1]) + 1 if outside.size else 0)
        start_k = self._buf_k0 + start_row
        start_s = self._centre_s(start_k) - self.frame_s / 2
        if self._t0_s + (k + 1) * self.frame_s - start_s < MIN_HOLD_S - 1e-9:
            return  # the turn of a repetition, or not yet known to be more
        self._h, self._h_now, self._depth, self._edge = held.tolist(), held.tolist(), depth, edge
        self._leave = max(LEAVE_FLOOR_DEG, LEAVE_FRAC * depth, 1.5 * edge)
        self._bounce = max(BOUNCE_FLOOR_DEG, BOUNCE_FRAC * depth)
        self._start_k, self._start_s = start_k, start_s
        self._side = self._side_of(held - ref)
        self._state = _HOLD
        raw = self._raw(start_row, row + 1, ref)
        for i, value in enumerate(raw.tolist()):
            if not math.isnan(value):
                self._zig(value, start_k + i)
        events.append(HoldStarted(start_s, self.exercise, self._side, self.target_s))

    def _side_of(self, moved: NDArray[np.float64]) -> str | None:
        if not self.per_side:
            return None
        if self._side_vec is None:
            self._side_vec = moved.tolist()
            self._side_first = True
            return self.first_side
        same = float(moved[0] * self._side_vec[0] + moved[1] * self._side_vec[1] + moved[2] * self._side_vec[2]) >= 0
        other = "right" if self.first_side == "left" else "left"
        return self.first_side if same else other

    def _end_k(self, k: int) -> int:
        """Last frame before ``k`` whose short mean is within the edge tolerance of the hold."""
        row = self._row(k)
        lo = max(row - self._n_search, self._row(self._start_k), 0)
        off = _angles(self._s[lo:row], np.asarray(self._h_now))
        inside = np.flatnonzero(off <= self._edge)
        return self._buf_k0 + lo + int(inside[-1]) if inside.size else max(self._start_k, k - 1)

    def _leave_hold(self, end_k: int, k: int) -> None:
        """The open hold was left at frame ``k``; its last frame in place was ``end_k``."""
        self._pend_end_s = max(self._start_s, self._centre_s(end_k) + self.frame_s / 2)
        self._pend_bounces = max(0, self._swings - sum(1 for e in self._swing_ends if e > end_k)) // 2
        self._pend_k = k

    def _finish(self) -> HoldEnded:
        """The hold left (``_leave_hold``) is over: count it and reset."""
        key = self._side or "all"
        self._counts[key] += 1
        broken = self._pend_end_s - self._start_s < self.target_s - BROKEN_GRACE_S
        ended = HoldEnded(
            self._start_s,
            self._pend_end_s,
            self.exercise,
            self._side,
            self.target_s,
            broken,
            self._pend_bounces,
            self._counts[key],
        )
        self._reset_hold()
        self._state = _REST
        return ended

    def _zig(self, x: float, k: int) -> None:
        """Feed one frame's departure angle to the zig-zag bounce detector."""
        b = self._bounce
        if self._zz_dir == 0:
            if x < self._zz_lo[0]:
                self._zz_lo = (x, k)
            if x > self._zz_hi[0]:
                self._zz_hi = (x, k)
            if x - self._zz_lo[0] >= b:
                self._zz_dir, self._zz_turn_k, self._zz_ext, self._zz_ext_k = 1, self._zz_lo[1], x, k
            elif self._zz_hi[0] - x >= b:
                self._zz_dir, self._zz_turn_k, self._zz_ext, self._zz_ext_k = -1, self._zz_hi[1], x, k
            return
        if (x - self._zz_ext) * self._zz_dir >= 0:  # further the same way
            self._zz_ext, self._zz_ext_k = x, k
            return
        if abs(self._zz_ext - x) < b:
            return
        half_s = (self._zz_ext_k - self._zz_turn_k) * self.frame_s
        if BOUNCE_HALF_S[0] - 1e-9 <= half_s <= BOUNCE_HALF_S[1] + 1e-9:
            self._swings += 1
            self._swing_ends.append(self._zz_ext_k)
        self._zz_dir, self._zz_turn_k, self._zz_ext, self._zz_ext_k = -self._zz_dir, self._zz_ext_k, x, k
