"""Streaming repetition counter: live reps and closed sets from the shared frames.

:class:`RepCounter` counts repetitions of one exercise from the 0.1-s frame means
(``analysis.frames``), live (a :class:`RepCounted` as soon as a repetition is complete)
and per set (a :class:`RepSet` once the set is over), by one of two methods chosen by
the exercise (``docs/reps.md`` has the details and the measured figures):

* **Excursions from rest** (``squat``, ``crunch``, ``knee_hug``, ``pelvic_tilt`` and
  ``knee_roll``, where :data:`SUPPORTED` allows). The angle between the sensor's gravity
  direction (0.3-s mean) and its direction at rest in the starting position (the first
  still second) is the segment's movement, whatever the mounting. A repetition leaves
  rest and comes back (within 30% of the depth threshold), deep enough, lasting at least
  0.6 s (a squat) or 1 s (the lying exercises, done slowly) and, except for squats,
  smooth (walking steps are not). Squats may run together without a pause at the top,
  where the pelvis need not come back that near rest: a squat is also complete once it
  has turned back, fallen by 70% of its rise, and the next rises from the low point
  between them (a Schmitt trigger whose release follows the peak). An excursion still in a new orientation for longer
  than twice the exercise's longest programme hold (at least 15 s), or away for
  :data:`MAX_EXCURSION_S`, is a change of position: its orientation becomes the rest.
* **Cycles** (``any``): :class:`analysis.cycles.CycleCounter`, the period from YIN with
  octave checks along the movement's principal axis (RecoFit, Morris et al. 2014, CHI,
  doi:10.1145/2556288.2557116); each cycle is a repetition, the end of the run ends the
  set. A set's first repetitions come a few seconds late, with their true times.

Partial repetitions: an excursion counts when its peak reaches half the set's typical
depth (the median peak of its last 5 counted repetitions, per side for knee rolls), and
at least the smallest depth of :data:`SUPPORTED` (40% of the full range); for ``any``
the cycle counter's thresholds about the mid-range play that part. A set ends after
:data:`SET_GAP_PERIODS` median intervals without a repetition, at least
:data:`MIN_SET_GAP_S`, with no excursion under way; or at ``flush``. Everything is
decided frame by frame from a rolling buffer of at most :data:`BUFFER_S` seconds, so
chunked input gives exactly the events of one chunk.

The thresholds and the exercises and placements that can be counted by excursions
(:data:`SUPPORTED`) are in ``analysis.rep_rules``, the events in ``analysis.rep_events``.

>>> counter = RepCounter("squat", Placement.THIGH, 0.1)
>>> counter.name, counter.version
('reps', 1)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from analysis.cycles import MIN_SET_GAP_S, SET_GAP_PERIODS, WINDOW_S, Cycle, CycleCounter, RunEnd
from analysis.events import Event
from analysis.frames import FrameBatch
from analysis.programme import exercise_by_id
from analysis.rep_events import RepCounted, RepSet
from analysis.rep_rules import (
    ANY,
    BUFFER_S,
    CENTRE_S,
    MAX_EXCURSION_S,
    MIN_REP_S,
    MIN_SLOW_REP_S,
    SHAKY_G,
    SMOOTH_S,
    STILL_G,
    STILL_S,
    SUPPORTED,
    TURN,
    TURN_MAX_RANGE,
    TYPICAL_OF,
    RepRule,
)
from analysis.settings import Placement

__all__ = [
    "ANY",
    "BUFFER_S",
    "MAX_EXCURSION_S",
    "MIN_SET_GAP_S",
    "SET_GAP_PERIODS",
    "SUPPORTED",
    "RepCounted",
    "RepCounter",
    "RepSet",
]

# An ``any`` counter's state before the cycle counter had its own, and what of it that one keeps.
_OLD_CYCLE_STATE = (
    "t0_s axis center period mid half periodic active count intervals interval_s state rest_side away_s last_count_k"
)
# RepCounter's state saved by ``snapshot``, besides the buffer and the cycle counter's.
_STATE = (
    "t0_s k_next last count set_start_s last_rep_s intervals interval_s gap_s peaks bases base side_dir "
    "ref in_exc exc_shaky exc_start_s exc_peak exc_peak_u still_since_s unset_n"
)
# Added to ``_STATE`` after version 1 was first saved: a snapshot without them loads with these.
_TURN_STATE: Mapping[str, Any] = MappingProxyType({"valley": 0.0, "valley_s": None, "exc_from": 0.0})


def _cycles_of_old(state: dict[str, Any], frame_s: float) -> dict[str, Any]:
    """The cycle counter's state from an ``any`` counter's saved before it had one (the same numbers, renamed)."""
    try:
        old = {key: state[key] for key in _OLD_CYCLE_STATE.split()}
        old["k"], old["last_end_s"] = state["k_next"], state["last_rep_s"]
    except KeyError as err:
        raise ValueError(f"not an 'any' counter's state: no {err.args[0]!r}") from None
    return old | {"missed": 0, "buf": state["buf"][-(round(WINDOW_S / frame_s) + 3) :]}


class RepCounter:
    """Counts repetitions of one exercise (method: module docstring; what is counted where: :data:`SUPPORTED`).

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
        self._rule: RepRule | None = None
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
        self._smooth = max(1, round(SMOOTH_S / self.frame_s))
        self._still = max(2, round(STILL_S / self.frame_s))
        self._buffer_n = round(BUFFER_S / self.frame_s)
        self._centre_n = round(CENTRE_S / self.frame_s)
        self._row = 0  # buffer row of the frame being processed
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
        self._exc_shaky = 0  # frames of the excursion whose |a| spread is over SHAKY_G
        self._exc_start_s = 0.0
        self._exc_peak = 0.0
        self._exc_peak_u = [0.0, 0.0, 0.0]
        self._still_since_s: float | None = None
        self._unset_n = 0  # frames without a resting orientation
        # Between repetitions that turned back before reaching rest: the lowest angle since
        # the turn (deg) and when (None: back near rest); the excursion's starting level.
        self._valley = 0.0
        self._valley_s: float | None = None
        self._exc_from = 0.0
        self._cycles = CycleCounter(self.frame_s) if self._rule is None else None

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

    _SCALARS = tuple(f"_{name}" for name in (*_STATE.split(), *_TURN_STATE))

    def snapshot(self) -> dict[str, Any]:
        """Return the state as JSON-serialisable data (the buffer is at most ``BUFFER_S`` long)."""
        state: dict[str, Any] = {name.lstrip("_"): getattr(self, name) for name in self._SCALARS}
        state["buf"] = self._buf.tolist()
        state["exercise"] = self.exercise
        state["placement"] = str(self.placement)
        if self._cycles is not None:
            state["cycles"] = self._cycles.snapshot()
        return state

    def load(self, state: dict[str, Any]) -> None:
        """Restore the state saved by ``snapshot`` (same ``version`` and configuration).

        Raises:
            ValueError: The state was saved by a counter of another exercise or placement,
                or is incomplete.
        """
        if state.get("exercise") != self.exercise or state.get("placement") != str(self.placement):
            raise ValueError(
                f"state of a {state.get('exercise')!r} counter on {state.get('placement')!r} "
                f"cannot load into a {self.exercise!r} counter on {self.placement!r}"
            )
        if self._cycles is not None:
            self._cycles.load(state["cycles"] if "cycles" in state else _cycles_of_old(state, self.frame_s))
        for name in self._SCALARS:
            key = name.lstrip("_")
            setattr(self, name, state[key] if key in state or key not in _TURN_STATE else _TURN_STATE[key])
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
        events: list[Event] = []
        if self._cycles is not None:
            t_s = self._t0_s + (np.arange(frames.k_first, frames.k_end, dtype=np.float64) + 1.0) * self.frame_s
            self._k_next = frames.k_end
            self._from_cycles(self._cycles.update(t_s, acc), events)
            return events
        old = self._buf.shape[0]
        self._buf = np.concatenate([self._buf, acc])
        n = np.maximum(counts, 1.0)
        mean_mag = frames.stats[:, 4] / n
        spread = np.sqrt(np.maximum(frames.stats[:, 5] / n - mean_mag * mean_mag, 0.0))
        self._run_excursion(old, (spread > SHAKY_G).tolist(), events)
        self._buf = self._buf[-self._buffer_n :]
        return events

    def _from_cycles(self, items: list[Cycle | RunEnd], events: list[Event]) -> None:
        """The generic counter's cycles are repetitions; the end of their run ends the set."""
        for item in items:
            if isinstance(item, RunEnd):
                if self._count:
                    events.append(self._close_set())
            else:
                events.append(self._count_rep(item.start_s, item.end_s, None))

    def flush(self, frames: FrameBatch) -> list[Event]:
        """Take the last frames of the stream (maybe none), then close the open set.

        Args:
            frames: The last closed frames.

        Returns:
            The events, the open set's ``RepSet`` last.
        """
        events = self.update(frames)
        if self._cycles is not None:
            self._from_cycles(self._cycles.flush(), events)
        if self._count:
            events.append(self._close_set())
        self._in_exc = False
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
            self._intervals = [*self._intervals, t_s - self._last_rep_s][-TYPICAL_OF:]
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
        stills = ((windows.max(axis=2) - windows.min(axis=2)).max(axis=1) < STILL_G).tolist()
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
        assert self._rule is not None
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
            self._between(angle, u, rest if still else None, events)
            return
        if angle > self._exc_peak:
            self._exc_peak = angle
            self._exc_peak_u = u
        if angle < 0.3 * self._base:
            self._in_exc = False
            self._valley, self._valley_s = 0.0, None
            self._end_excursion(t_s, events)
            return
        turned = angle < self._exc_peak - TURN * (self._exc_peak - self._exc_from)
        if self._rule.turns and turned and self._exc_peak <= TURN_MAX_RANGE * self._rule.min_deg:
            # Turned back before reaching rest (squats run together): complete, and the
            # next one rises from the low point that follows.
            self._in_exc = False
            self._valley, self._valley_s = angle, t_s
            self._end_excursion(t_s, events)
            return
        stuck_s = t_s - self._still_since_s if self._still_since_s is not None else 0.0
        if stuck_s > self._max_still_s or t_s - self._exc_start_s > MAX_EXCURSION_S:
            # Not a repetition: the wearer settled in another position, the new rest.
            self._in_exc = False
            self._ref = rest if still else None
            self._valley, self._valley_s = 0.0, None

    def _between(self, angle: float, u: list[float], rest: list[float] | None, events: list[Event]) -> None:
        """One frame outside an excursion: ``angle`` from rest (deg), ``rest`` the 1-s direction if still."""
        t_s = self._t(self._k_next)
        stuck_s = t_s - self._still_since_s if self._still_since_s is not None else 0.0
        if self._set_over(t_s):
            events.append(self._close_set())
        if self._valley_s is not None:
            if angle < 0.3 * self._base:
                self._valley, self._valley_s = 0.0, None  # back near rest
            elif angle < self._valley:
                self._valley, self._valley_s = angle, t_s
        if angle > self._valley + 0.5 * self._base:
            self._in_exc = True
            self._exc_shaky = 0
            # From rest, it starts where it passed the threshold; after a turn, at the low point.
            self._exc_start_s = t_s - self.frame_s if self._valley_s is None else self._valley_s
            self._exc_from = self._valley
            self._exc_peak = angle
            self._exc_peak_u = u
        elif rest is not None and (self._valley_s is None or stuck_s > self._max_still_s):
            self._ref = rest  # follow small shifts of the resting position
            self._valley, self._valley_s = 0.0, None

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
        """Back near rest (or turned back) at ``t_s``: count the excursion if it is a repetition."""
        assert self._rule is not None
        side = self._side()
        key = side or ""
        length_s = t_s - self._exc_start_s
        # Slow and smooth: not a step, a stumble or a jump (most frames steady within).
        shaky = self._rule.steady and self._exc_shaky * self.frame_s > 0.5 * length_s
        short = length_s < (MIN_SLOW_REP_S if self._rule.steady else MIN_REP_S)
        if short or shaky or self._exc_peak < self._bases.get(key, self._rule.min_deg):
            return
        if side is not None and self._side_dir is None:
            self._side_dir = self._exc_dir()
        peaks = [*self._peaks.get(key, []), self._exc_peak][-TYPICAL_OF:]
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
