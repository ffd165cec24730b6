"""Streaming repetition counter: live reps and closed sets from the shared frames.

:class:`RepCounter` counts repetitions of one exercise from the 0.1-s frame means
(``analysis.frames``), live (a :class:`RepCounted` as soon as a repetition is complete)
and per set (a :class:`RepSet` once the set is over). It runs one of two methods, chosen
by the exercise (``docs/reps.md`` has the measured figures):

* **Excursions from rest** (the programme exercises ``squat``, ``crunch``,
  ``knee_hug``, ``pelvic_tilt`` and ``knee_roll``, where :data:`SUPPORTED` allows). The
  sensor's gravity direction (0.3-s mean) is compared with its direction at rest in the
  starting position (the first second that is still): the angle between the two is the
  thigh's inclination change (squat, knee hug), its roll and sideways drop (knee roll)
  or the pelvis tilt (lower back). Only the angle to the sensor's own resting direction
  is used, so any mounting works. A repetition is an excursion that leaves rest and
  comes back: it is counted on the frame where it is back within 30% of the set's depth
  threshold, if it went deep enough (the partial-rep rule below), lasted at least
  0.6 s (a squat) or 1 s (the lying exercises, done slowly) and, except for squats, was
  smooth (walking steps are not). Getting into
  position or leaving it never comes back: an excursion still in a new orientation for
  longer than twice the exercise's longest programme hold (at least 15 s), or away for
  :data:`MAX_EXCURSION_S`, makes that orientation the new rest, without a count.
* **Period-guided cycles** (``any``). The frame means of the last :data:`WINDOW_S`
  seconds are projected on their principal axis (the axis of largest variance, its sign
  kept from one estimate to the next), as RecoFit does (Morris et al. 2014, CHI,
  doi:10.1145/2556288.2557116). The period is read every second from YIN's cumulative
  mean normalised difference of that projection, the still time before the movement
  left out (de Cheveigné & Kawahara 2002, J Acoust Soc Am 111(4):1917-1930,
  doi:10.1121/1.1458024): the first dip under 0.25, or else the first dip within 0.15 of
  the deepest. Taking the *first* good dip, not the deepest, guards against twice the
  period (every other repetition a little shallower). Cycles are counted by a Schmitt
  trigger about the mid-range of the projection (thresholds :data:`HYSTERESIS` of the
  range either side), one each time the movement comes back to the side the set started
  on; a refractory time of :data:`REFRACTORY` periods between counts guards against a
  repetition with two bumps counting twice, and the set's median interval between
  counts caps that period, so a period estimated twice too long cannot hide repetitions.
  A set starts when the window is periodic (a dip under :data:`PERIODIC_MAX`) and moves
  more than :data:`MIN_RANGE_G`; the cycles already in the window are then counted at
  once, so a set's first repetitions come up to a few seconds late. A rep that reached
  its far side within a period of the end of the stream is counted at ``flush``.

Partial repetitions: an excursion counts when its peak reaches half the set's typical
depth (the median peak of its last 5 counted repetitions, per side for knee rolls), and
at least the smallest depth of :data:`SUPPORTED` (40% of the full range). For ``any``
the Schmitt trigger's mid-range plays that part: a repetition must pass about half the
set's range.

End of a set: no repetition for :data:`SET_GAP_PERIODS` times the set's median interval
between repetitions, and at least :data:`MIN_SET_GAP_S` seconds, with no excursion
under way; or ``flush``.

Everything is decided frame by frame at fixed frame indices from a rolling buffer of at
most :data:`BUFFER_S` seconds, so chunked input gives exactly the events of one chunk.

>>> counter = RepCounter("squat", Placement.THIGH, 0.1)
>>> counter.name, counter.version
('reps', 1)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from analysis.events import Event
from analysis.frames import FrameBatch
from analysis.programme import exercise_by_id
from analysis.settings import Placement

__all__ = [
    "ANY",
    "BUFFER_S",
    "HYSTERESIS",
    "MAX_EXCURSION_S",
    "MIN_RANGE_G",
    "MIN_SET_GAP_S",
    "PERIODIC_MAX",
    "REFRACTORY",
    "SET_GAP_PERIODS",
    "SUPPORTED",
    "WINDOW_S",
    "RepCounted",
    "RepCounter",
    "RepSet",
]

#: The generic counter's exercise id.
ANY = "any"
#: Longest stretch of frames kept, s.
BUFFER_S = 60.0
#: Window of the generic counter's axis and period estimate, s (2-3 periods of slow reps).
WINDOW_S = 20.0
#: Longest period the generic counter looks for, s (a slow rep with a short hold).
MAX_PERIOD_S = 8.0
#: Shortest period, s (2.5 reps a second, faster than any exercise of the programme).
MIN_PERIOD_S = 0.4
#: YIN threshold: the window is periodic where the normalised difference dips below it
#: (with the Schmitt hysteresis and the dip rules below, chosen on the spar_wrist development
#: sets and the simulated sets: ``python -m bench.reps``).
PERIODIC_MAX = 0.5
#: Smallest range (5th to 95th percentile) of the projection that is a set, g (~6°; breathing
#: moves less: the uci_hapt lying lines of ``python -m bench.reps``).
MIN_RANGE_G = 0.1
#: Schmitt thresholds either side of the mid-range, as a fraction of the range.
HYSTERESIS = 0.1
#: Shortest time between two counted cycles, in periods.
REFRACTORY = 0.6
#: A set ends after this many median intervals without a repetition...
SET_GAP_PERIODS = 3.0
#: ...and at least this long, s.
MIN_SET_GAP_S = 10.0
#: An excursion longer than this is a change of position, not a repetition, s.
MAX_EXCURSION_S = 60.0

_ESTIMATE_EVERY_S = 1.0  # time between estimates of the generic counter, s
_SMOOTH_S = 0.3  # gravity direction: mean of the frames of the last 0.3 s
_STILL_S = 1.0  # rest: the frames of the last second all within _STILL_G of each other
_STILL_G = 0.05  # per axis (about 3 degrees: lying sway moves a segment by ~0.013 g, a 1/64-g quantised sensor more)
_DIP_TOLERANCE = 0.15  # a dip this much above the deepest is still a candidate period
_DIP_ABSOLUTE = 0.25  # YIN: the first dip under this is the period
_CYCLE_SMOOTH = 3  # the generic counter follows the mean of the last 3 frames (0.3 s)
_CENTRE_S = 10.0  # knee roll never still: rest is the orientation of 10 s nearest to their mean
_SHAKY_G = 0.04  # SD of |a| in a frame: simulated walking ~0.07 g, exercises < 0.01 g; mex_thigh rolling ~0.01 g
_MIN_REP_S = 0.6  # the shortest squat: down and up in 0.6 s (a quick one takes ~1 s)
_MIN_SLOW_REP_S = 1.0  # the shortest repetition of the lying exercises (programme: "slowly")
_TYPICAL_OF = 5  # the set's depth: median peak of its last 5 counted repetitions


@dataclass(frozen=True, slots=True)
class _Rule:
    """How one exercise is counted at one placement.

    Attributes:
        min_deg: Smallest peak counted before the set's depth is known, degrees.
        per_side: Repetitions alternate left and right.
        steady: The movement is slow and smooth: an excursion shorter than
            ``_MIN_SLOW_REP_S`` or with mostly shaky frames (|a| spread over ``_SHAKY_G``
            within the frame, as in walking) is no repetition. Not for the squat, whose
            hip drop shakes the frames as much as a step.
    """

    min_deg: float
    per_side: bool = False
    steady: bool = True


# Full ranges (firmware_sim.poses.MOVES and MotionParams, from the cited joint ranges and
# sitless's estimates) times 0.4: squat thigh 75°, pelvis 35°; knee hug thigh 75°, pelvis
# 20°; knee roll thigh ~45° (30° sideways and 35° roll), pelvis 30°; pelvic tilt 10°;
# crunch pelvis 8°. The thigh moves ~5° in a pelvic tilt or a crunch, too little to tell
# from fidgeting: not supported.
_PELVIS = (Placement.LOWER_BACK, Placement.WAIST)
SUPPORTED: Mapping[tuple[str, Placement], _Rule] = MappingProxyType(
    {
        ("squat", Placement.THIGH): _Rule(30.0, steady=False),
        **{("squat", p): _Rule(14.0, steady=False) for p in _PELVIS},
        ("knee_hug", Placement.THIGH): _Rule(30.0),
        **{("knee_hug", p): _Rule(8.0) for p in _PELVIS},
        ("knee_roll", Placement.THIGH): _Rule(18.0, per_side=True),
        **{("knee_roll", p): _Rule(12.0, per_side=True) for p in _PELVIS},
        **{("pelvic_tilt", p): _Rule(4.0) for p in _PELVIS},
        **{("crunch", p): _Rule(3.2) for p in _PELVIS},
    }
)


@dataclass(frozen=True, slots=True)
class RepCounted:
    """One repetition, emitted as soon as it is complete.

    Attributes:
        t_s: When it completed (back near rest, or the cycle's return), s.
        start_s: When it left rest (or the cycle's outward crossing), s.
        exercise: Exercise id (``any`` for the generic counter).
        rep: 1-based count within the set (both sides together for a per-side exercise).
        side: ``"left"``, ``"right"`` or None (see ``RepCounter`` for how sides are told).
    """

    kind: ClassVar[str] = "rep"
    t_s: float
    start_s: float
    exercise: str
    rep: int
    side: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form, including ``kind``."""
        return {
            "kind": self.kind,
            "t_s": self.t_s,
            "start_s": self.start_s,
            "exercise": self.exercise,
            "rep": self.rep,
            "side": self.side,
        }


@dataclass(frozen=True, slots=True)
class RepSet:
    """A closed set: its first repetition's start to its last one's end.

    Attributes:
        start_s: Start of the first repetition, s.
        end_s: End of the last repetition, s.
        exercise: Exercise id.
        reps: Repetitions counted (both sides together for a per-side exercise).
    """

    kind: ClassVar[str] = "exercise"
    start_s: float
    end_s: float
    exercise: str
    reps: int

    def to_dict(self) -> dict[str, Any]:
        """Return the ``exercises`` entry of the ``sitless analyze`` JSON, with ``kind``."""
        return {
            "kind": self.kind,
            "exercise": self.exercise,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "reps": self.reps,
            "holds_s": [],
        }


def _cmndf(x: NDArray[np.float64], max_lag: int) -> NDArray[np.float64]:
    """YIN's cumulative mean normalised difference of ``x`` for lags 1..max_lag, shape (max_lag,).

    >>> x = np.sin(2 * np.pi * np.arange(100) / 10)
    >>> int(np.argmin(_cmndf(x, 30)[:15])) + 1
    10
    """
    n = x.shape[0]
    r = np.correlate(x, x, mode="full")[n - 1 : n + max_lag]
    energy = np.cumsum(x * x)
    lags = np.arange(1, max_lag + 1)
    head = energy[n - 1 - lags]  # sum of x[i]^2, i < n - lag
    tail = energy[n - 1] - energy[lags - 1]  # sum of x[i]^2, i >= lag
    d = np.maximum(head + tail - 2.0 * r[1:], 0.0)
    mean = np.cumsum(d) / lags
    out: NDArray[np.float64] = np.where(mean > 0, d / np.where(mean > 0, mean, 1.0), 1.0)
    return out


def _period(x: NDArray[np.float64], min_lag: int, max_lag: int) -> tuple[int, float]:
    """The period of ``x`` in samples (YIN's first dip under the threshold) and its dip value.

    Returns ``(0, 1.0)`` when there is no dip.
    """
    max_lag = min(max_lag, x.shape[0] // 2)
    if max_lag < min_lag + 2:
        return 0, 1.0
    cm = _cmndf(x, max_lag)
    mid = cm[1:-1]
    lags = np.arange(2, max_lag)
    dips = (mid < cm[:-2]) & (mid <= cm[2:]) & (lags >= min_lag)
    if not dips.any():
        return 0, 1.0
    cand, vals = lags[dips], mid[dips]
    # The first dip nearly as deep as the deepest: a multiple of the period dips as deep.
    i = int(np.flatnonzero((vals < _DIP_ABSOLUTE) | (vals <= float(vals.min()) + _DIP_TOLERANCE))[0])
    return int(cand[i]), float(vals[i])


def _range(x: NDArray[np.float64]) -> tuple[float, float]:
    """The 5th and 95th percentiles of ``x`` (nearest rank), shape (n,) with n >= 1."""
    ranked = np.sort(x)
    n = ranked.shape[0] - 1
    return float(ranked[round(0.05 * n)]), float(ranked[round(0.95 * n)])


class RepCounter:
    """Counts repetitions of one exercise (see the module docstring for the method).

    Counted: ``squat``, ``knee_hug`` and ``knee_roll`` from the thigh, lower back or
    waist; ``pelvic_tilt`` and ``crunch`` from the lower back or waist (the thigh moves
    only ~5° in them); ``any`` from every placement (:data:`SUPPORTED`).

    Sides (``knee_roll``): an accelerometer cannot tell which way the wearer's left is
    without knowing which way the sensor faces, so by convention the first counted roll
    of a set is called ``"left"`` (as the simulated sets start) and every roll is
    ``"left"`` or ``"right"`` as its direction away from the resting orientation agrees
    with the first one's or opposes it.

    Args:
        exercise: ``"any"`` or a programme exercise counted by repetitions.
        placement: Where the sensor is worn.
        frame_s: Frame length, s (> 0).

    Raises:
        ValueError: Unknown exercise, an exercise not counted by repetitions, or one
            that cannot be counted from this placement (see :data:`SUPPORTED`), or a
            bad ``frame_s``.
    """

    name: ClassVar[str] = "reps"
    version: ClassVar[int] = 1

    def __init__(self, exercise: str, placement: Placement, frame_s: float) -> None:
        if not (math.isfinite(frame_s) and 0 < frame_s <= 1.0):
            raise ValueError(f"frame_s must be in (0, 1] s, got {frame_s}")
        placement = Placement(placement)
        self.exercise = exercise
        self.placement = placement
        self.frame_s = float(frame_s)
        self._rule: _Rule | None = None
        self._max_still_s = MAX_EXCURSION_S
        if exercise != ANY:
            try:
                dose = exercise_by_id(exercise).dose
            except KeyError as err:
                raise ValueError(f"unknown exercise {exercise!r}: {err.args[0]}") from None
            if dose.reps is None:
                raise ValueError(f"{exercise!r} is not counted by repetitions; use a hold or duration detector")
            rule = SUPPORTED.get((exercise, placement))
            if rule is None:
                where = sorted(str(p) for e, p in SUPPORTED if e == exercise)
                raise ValueError(
                    f"{exercise!r} cannot be counted from a sensor on the {placement}: it moves too little "
                    f"there; count it from {' or '.join(where) if where else 'no placement'}, or use 'any'"
                )
            self._rule = rule
            # A still excursion longer than twice the longest programme hold (and 15 s) is a new position.
            self._max_still_s = max(15.0, 2.0 * (dose.hold_s[1] if dose.hold_s else 0.0))
        self._smooth = max(1, round(_SMOOTH_S / self.frame_s))
        self._still = max(2, round(_STILL_S / self.frame_s))
        self._buffer_n = round(BUFFER_S / self.frame_s)
        self._window = round(WINDOW_S / self.frame_s)
        self._centre_n = round(_CENTRE_S / self.frame_s)
        self._row = 0  # buffer row of the frame being processed
        self._every = max(1, round(_ESTIMATE_EVERY_S / self.frame_s))
        self._reset_stream()

    # -- state -----------------------------------------------------------------------

    def _reset_stream(self) -> None:
        self._t0_s: float | None = None
        self._buf = np.empty((0, 3))
        self._k_next = 0  # absolute index of the next frame to process
        self._last: list[float] | None = None  # last frame with samples, for empty frames
        self._reset_set()
        # excursion counter
        self._ref: list[float] | None = None
        self._in_exc = False
        self._exc_shaky = 0  # frames of the excursion whose |a| spread is over _SHAKY_G
        self._exc_start_s = 0.0
        self._exc_peak = 0.0
        self._exc_peak_u = [0.0, 0.0, 0.0]
        self._still_since_s: float | None = None
        self._unset_n = 0  # frames without a resting orientation
        # generic counter
        self._axis: list[float] | None = None
        self._center = [0.0, 0.0, 0.0]
        self._period = 0
        self._mid = 0.0
        self._half = 0.0
        self._periodic = False
        self._state = 0  # Schmitt side: -1 low, +1 high, 0 not yet
        self._rest_side = 0
        self._away_s = 0.0
        self._last_count_k = -(10**9)

    def _reset_set(self) -> None:
        self._count = 0
        self._set_start_s = 0.0
        self._last_rep_s = 0.0
        self._intervals: list[float] = []
        self._interval_s = 0.0  # median time between the set's last repetitions (0: not yet known)
        self._gap_s = MIN_SET_GAP_S  # no repetition for this long ends the set
        # Counted peaks and the smallest peak counted, per side ("" without sides), degrees.
        self._peaks: dict[str, list[float]] = {}
        self._bases: dict[str, float] = {}
        self._base = self._rule.min_deg if self._rule is not None else 0.0  # the smallest of the sides'
        self._side_dir: list[float] | None = None
        self._active = False

    _SCALARS = (
        "_t0_s",
        "_k_next",
        "_last",
        "_count",
        "_set_start_s",
        "_last_rep_s",
        "_intervals",
        "_interval_s",
        "_gap_s",
        "_peaks",
        "_bases",
        "_base",
        "_side_dir",
        "_active",
        "_ref",
        "_in_exc",
        "_exc_shaky",
        "_exc_start_s",
        "_exc_peak",
        "_exc_peak_u",
        "_still_since_s",
        "_unset_n",
        "_axis",
        "_center",
        "_period",
        "_mid",
        "_half",
        "_periodic",
        "_state",
        "_rest_side",
        "_away_s",
        "_last_count_k",
    )

    def snapshot(self) -> dict[str, Any]:
        """Return the state as JSON-serialisable data (the buffer is at most ``BUFFER_S`` long)."""
        state: dict[str, Any] = {name.lstrip("_"): getattr(self, name) for name in self._SCALARS}
        state["buf"] = self._buf.tolist()
        state["exercise"] = self.exercise
        state["placement"] = str(self.placement)
        return state

    def load(self, state: dict[str, Any]) -> None:
        """Restore the state saved by ``snapshot`` (same ``version`` and configuration).

        Raises:
            ValueError: The state was saved by a counter of another exercise or placement.
        """
        if state.get("exercise") != self.exercise or state.get("placement") != str(self.placement):
            raise ValueError(
                f"state of a {state.get('exercise')!r} counter on {state.get('placement')!r} "
                f"cannot load into a {self.exercise!r} counter on {self.placement!r}"
            )
        for name in self._SCALARS:
            setattr(self, name, state[name.lstrip("_")])
        self._buf = np.asarray(state["buf"], dtype=np.float64).reshape(-1, 3)

    def next_segment(self, forward: bool) -> RepCounter:
        """Return a fresh counter with the same configuration (a set does not span a time jump).

        Args:
            forward: Whether the clock jumped forward (unused: nothing carries over).
        """
        del forward
        return RepCounter(self.exercise, self.placement, self.frame_s)

    # -- streaming ---------------------------------------------------------------------

    def update(self, frames: FrameBatch) -> list[Event]:
        """Take the next closed frames; return the repetitions and sets they complete.

        Args:
            frames: Consecutive closed frames (``frames.frame_s`` must be this counter's).

        Returns:
            ``RepCounted`` and ``RepSet`` events, in time order.

        Raises:
            ValueError: Another frame length, or frames not consecutive with the last ones.
        """
        if frames.m == 0:
            return []
        if not math.isclose(frames.frame_s, self.frame_s):
            raise ValueError(f"expected frames of {self.frame_s} s, got {frames.frame_s} s")
        if self._t0_s is None:
            self._t0_s = float(frames.t0_s)
            self._k_next = frames.k_first
        if frames.k_first != self._k_next:
            raise ValueError(f"expected frame {self._k_next} next, got frame {frames.k_first}")
        counts = frames.stats[:, 0]
        acc = frames.stats[:, 1:4] / np.maximum(counts, 1.0)[:, None]  # frames.acc_g where counts > 0
        valid = counts > 0
        if not valid.all():
            if self._last is None:
                if not valid.any():
                    self._k_next = frames.k_end
                    return []
                self._last = acc[int(np.argmax(valid))].tolist()
            # An empty frame (a short gap) repeats the last frame with samples.
            idx = np.maximum.accumulate(np.where(valid, np.arange(frames.m), -1))
            acc = np.where(idx[:, None] >= 0, acc[np.maximum(idx, 0)], np.asarray(self._last))
        self._last = acc[-1].tolist()
        filled = acc
        old = self._buf.shape[0]
        self._buf = np.concatenate([self._buf, filled])
        events: list[Event] = []
        if self._rule is None:
            self._run_generic(old, events)
        else:
            n = np.maximum(counts, 1.0)
            mean_mag = frames.stats[:, 4] / n
            spread = np.sqrt(np.maximum(frames.stats[:, 5] / n - mean_mag * mean_mag, 0.0))
            self._run_excursion(old, (spread > _SHAKY_G).tolist(), events)
        self._buf = self._buf[-self._buffer_n :]
        return events

    def flush(self, frames: FrameBatch) -> list[Event]:
        """Take the last frames of the stream (maybe none), then close the open set.

        Args:
            frames: The last closed frames.

        Returns:
            The events, the open set's ``RepSet`` last.
        """
        events = self.update(frames)
        t_s = self._t(self._k_next - 1) if self._t0_s is not None else 0.0
        away = self._active and self._rest_side != 0 and self._state == -self._rest_side
        if (
            away
            and t_s - self._away_s <= self._period * self.frame_s
            and self._k_next - self._last_count_k >= REFRACTORY * self._period
        ):
            # The stream ended within a period of reaching the far side: that cycle was done.
            events.append(self._count_rep(self._away_s, t_s, None))
        if self._count:
            events.append(self._close_set())
        self._in_exc = False
        self._state = 0
        return events

    # -- shared ---------------------------------------------------------------------

    def _t(self, k: int) -> float:
        """End of frame ``k``, s."""
        assert self._t0_s is not None
        return self._t0_s + (k + 1) * self.frame_s

    def _close_set(self) -> RepSet:
        event = RepSet(self._set_start_s, self._last_rep_s, self.exercise, self._count)
        self._reset_set()
        return event

    def _count_rep(self, start_s: float, t_s: float, side: str | None) -> RepCounted:
        if self._count == 0:
            self._set_start_s = start_s
        else:
            self._intervals = [*self._intervals, t_s - self._last_rep_s][-_TYPICAL_OF:]
            self._interval_s = float(np.median(self._intervals))
            self._gap_s = max(MIN_SET_GAP_S, SET_GAP_PERIODS * self._interval_s)
        self._count += 1
        self._last_rep_s = t_s
        return RepCounted(t_s, start_s, self.exercise, self._count, side)

    def _set_over(self, t_s: float) -> bool:
        return self._count > 0 and t_s - self._last_rep_s > self._gap_s

    # -- excursions from rest ---------------------------------------------------------

    def _run_excursion(self, old: int, shaky: list[bool], events: list[Event]) -> None:
        """Process buffer rows ``old`` onwards (the new frames; ``shaky``: their |a| spread is large)."""
        assert self._rule is not None
        buf = self._buf
        first = max(old, self._still - 1)  # the stream's first second only fills the buffer
        if first >= buf.shape[0]:
            self._k_next += buf.shape[0] - old
            return
        self._k_next += first - old
        rows = buf[first - self._still + 1 :]
        m = rows.shape[0] - self._still + 1
        windows = np.lib.stride_tricks.as_strided(
            rows, (m, 3, self._still), (rows.strides[0], rows.strides[1], rows.strides[0]), writeable=False
        )
        g = windows[:, :, -self._smooth :].mean(axis=2)  # (m, 3)
        us = (g / np.sqrt((g * g).sum(axis=1))[:, None]).tolist()
        stills = ((windows.max(axis=2) - windows.min(axis=2)).max(axis=1) < _STILL_G).tolist()
        rest = windows.mean(axis=2)
        rests = (rest / np.sqrt((rest * rest).sum(axis=1))[:, None]).tolist()
        for row, (u, still, rest_u, shake) in enumerate(
            zip(us, stills, rests, shaky[first - old :], strict=True), first
        ):
            self._row = row
            self._exc_shaky += shake
            self._step_excursion(u, still, rest_u, events)
            self._k_next += 1

    def _step_excursion(self, u: list[float], still: bool, rest: list[float], events: list[Event]) -> None:
        """One frame: ``u`` the 0.3-s gravity direction, ``rest`` the 1-s one, ``still`` at rest."""
        t_s = self._t(self._k_next)
        if not still:
            self._still_since_s = None
        elif self._still_since_s is None:
            self._still_since_s = t_s
        if self._ref is None:
            self._find_rest(still, rest)
            return
        ref = self._ref
        cos = u[0] * ref[0] + u[1] * ref[1] + u[2] * ref[2]
        angle = math.degrees(math.acos(min(1.0, max(-1.0, cos))))
        if not self._in_exc:
            if self._set_over(t_s):
                events.append(self._close_set())
            if angle > 0.5 * self._base:
                self._in_exc = True
                self._exc_shaky = 0
                self._exc_start_s = t_s - self.frame_s
                self._exc_peak = angle
                self._exc_peak_u = u
            elif still:
                self._ref = rest  # follow small shifts of the resting position
            return
        if angle > self._exc_peak:
            self._exc_peak = angle
            self._exc_peak_u = u
        if angle < 0.3 * self._base:
            self._in_exc = False
            self._end_excursion(t_s, events)
            return
        stuck_s = t_s - self._still_since_s if self._still_since_s is not None else 0.0
        if stuck_s > self._max_still_s or t_s - self._exc_start_s > MAX_EXCURSION_S:
            # Not a repetition: the wearer settled in another position, the new rest.
            self._in_exc = False
            self._ref = rest if still else None

    def _find_rest(self, still: bool, rest: list[float]) -> None:
        """Take the resting orientation: the first still second (or, rolling without pause, the middle)."""
        assert self._rule is not None
        self._unset_n += 1
        if still:
            self._ref = rest
        elif self._rule.per_side and self._unset_n >= self._centre_n:
            # Rolling from side to side without a pause: rest is the orientation passed
            # on the way, the one of the last 10 s nearest to their mean.
            recent = self._buf[self._row - self._centre_n + 1 : self._row + 1]
            recent = recent / np.sqrt((recent * recent).sum(axis=1))[:, None]
            self._ref = recent[int(np.argmax(recent @ recent.mean(axis=0)))].tolist()
        if self._ref is not None:
            self._unset_n = 0

    def _end_excursion(self, t_s: float, events: list[Event]) -> None:
        """Back near rest at ``t_s``: count the excursion if it is a repetition."""
        assert self._rule is not None
        side = self._side()
        key = side or ""
        length_s = t_s - self._exc_start_s
        # Slow and smooth: not a step, a stumble or a jump (most frames steady within).
        shaky = self._rule.steady and self._exc_shaky * self.frame_s > 0.5 * length_s
        short = length_s < (_MIN_SLOW_REP_S if self._rule.steady else _MIN_REP_S)
        if short or shaky or self._exc_peak < self._bases.get(key, self._rule.min_deg):
            return
        if side is not None and self._side_dir is None:
            self._side_dir = self._exc_dir()
        peaks = [*self._peaks.get(key, []), self._exc_peak][-_TYPICAL_OF:]
        self._peaks[key] = peaks
        self._bases[key] = max(self._rule.min_deg, 0.5 * float(np.median(peaks)))
        sides = ("left", "right") if self._rule.per_side else ("",)
        self._base = min(self._bases.get(s, self._rule.min_deg) for s in sides)
        events.append(self._count_rep(self._exc_start_s, t_s, side))

    def _exc_dir(self) -> list[float]:
        """Direction of the excursion's peak away from rest, a unit vector normal to the rest one."""
        assert self._ref is not None
        ref = np.asarray(self._ref)
        d = np.asarray(self._exc_peak_u) - ref
        d -= np.dot(d, ref) * ref
        direction: list[float] = (d / max(float(np.linalg.norm(d)), 1e-9)).tolist()
        return direction

    def _side(self) -> str | None:
        """The excursion's side: ``left`` the way the set's first counted one went (None without sides)."""
        assert self._rule is not None
        if not self._rule.per_side:
            return None
        if self._side_dir is None:
            return "left"
        return "left" if float(np.dot(self._exc_dir(), self._side_dir)) > 0 else "right"

    # -- period-guided cycles -----------------------------------------------------------

    def _estimate(self, end: int) -> None:
        """Principal axis, centre, period and Schmitt levels of the window ending before buffer row ``end``."""
        w = self._buf[max(0, end - self._window) : end]
        center = w.mean(axis=0)
        wc = w - center
        _, vectors = np.linalg.eigh(wc.T @ wc)
        axis = vectors[:, -1]
        if self._axis is not None and float(np.dot(axis, self._axis)) < 0:
            axis = -axis
        x = wc @ axis
        low, high = _range(x)
        # The period of the movement only: leave out the still time before it in the window.
        second = max(2, round(1.0 / self.frame_s))
        blocks = x[: x.shape[0] // second * second].reshape(-1, second)
        moving = np.flatnonzero(blocks.max(axis=1) - blocks.min(axis=1) > 0.25 * (high - low))
        start = int(moving[0]) * second if moving.size else 0
        period, dip = _period(
            x[start:] - x[start:].mean(), max(2, round(MIN_PERIOD_S / self.frame_s)), round(MAX_PERIOD_S / self.frame_s)
        )
        self._axis = axis.tolist()
        self._center = center.tolist()
        self._period = period
        self._mid = 0.5 * (low + high)
        if period:
            # Follow a drifting centre with the last two periods, unless they hold a pause.
            low_2, high_2 = _range(x[-2 * period :])
            if high_2 - low_2 > 0.5 * (high - low):
                self._mid = 0.5 * (low_2 + high_2)
        self._half = HYSTERESIS * (high - low)
        self._periodic = period > 0 and dip < PERIODIC_MAX and high - low > MIN_RANGE_G

    def _schmitt(self, x: float, k: int) -> bool:
        """Advance the Schmitt trigger by one value at frame ``k``; True when a cycle completes."""
        side = 1 if x > self._mid + self._half else -1 if x < self._mid - self._half else 0
        if side in (0, self._state):
            return False
        if self._state == 0:
            self._state = self._rest_side = side  # where the set starts is the rest
            return False
        self._state = side
        if side != self._rest_side:
            self._away_s = self._t(k)
            return False
        # A period estimated twice too long (every other rep shallower) must not hide reps:
        # the set's own median interval between reps caps it.
        period = min(self._period, self._interval_s / self.frame_s) if self._interval_s else self._period
        if k - self._last_count_k < REFRACTORY * period:
            return False
        self._last_count_k = k
        return True

    def _smoothed(self, lo: int, hi: int) -> NDArray[np.float64]:
        """Mean of each buffer row ``lo..hi-1`` and the rows before it (0.3 s), shape (hi - lo, 3)."""
        if lo >= _CYCLE_SMOOTH - 1:
            out = self._buf[lo:hi].copy()
            for back in range(1, _CYCLE_SMOOTH):
                out += self._buf[lo - back : hi - back]
        else:  # the stream's first frames: the first one stands in for those before it
            rows = np.arange(lo, hi)
            out = self._buf[rows].copy()
            for back in range(1, _CYCLE_SMOOTH):
                out += self._buf[np.maximum(rows - back, 0)]
        smoothed: NDArray[np.float64] = out / _CYCLE_SMOOTH
        return smoothed

    def _run_generic(self, old: int, events: list[Event]) -> None:
        """Process buffer rows ``old`` onwards (the new frames)."""
        rows = self._smoothed(old, self._buf.shape[0]).tolist()
        for j in range(old, self._buf.shape[0]):
            k = self._k_next
            t_s = self._t(k)
            if self._active and (self._set_over(t_s) or (not self._count and t_s - self._last_rep_s > MIN_SET_GAP_S)):
                # The set is over (or a periodic stretch gave no cycle): back to waiting.
                if self._count:
                    events.append(self._close_set())
                self._active = False
                self._state = 0
                self._rest_side = 0
            if k % self._every == 0 and j + 1 >= round(4.0 / self.frame_s):
                self._estimate(j + 1)
                if not self._active and self._periodic:
                    self._start_set(j + 1, k, t_s, events)
            if self._active and self._axis is not None:
                a, c, r = self._axis, self._center, rows[j - old]
                x = (r[0] - c[0]) * a[0] + (r[1] - c[1]) * a[1] + (r[2] - c[2]) * a[2]
                if self._schmitt(x, k):
                    events.append(self._count_rep(self._away_s, t_s, None))
            self._k_next += 1

    def _start_set(self, end: int, k: int, t_s: float, events: list[Event]) -> None:
        """A set starts at frame ``k`` (buffer row ``end - 1``): count the cycles already in the window."""
        self._active = True
        self._state = 0
        self._rest_side = 0
        self._last_count_k = -(10**9)
        self._last_rep_s = t_s
        assert self._axis is not None
        w = self._smoothed(max(0, end - self._window), end - 1)
        xs = (w - np.asarray(self._center)) @ np.asarray(self._axis)
        k0 = k - xs.shape[0]
        for j, x in enumerate(xs.tolist()):
            if self._schmitt(x, k0 + j):
                events.append(self._count_rep(self._away_s, self._t(k0 + j), None))
