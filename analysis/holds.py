"""Timed holds of the programme's stretches and the plank: start, end, side, bounces.

:class:`HoldTimer` times the holds of one exercise set from the 0.1-s frame means
(``analysis.frames``). It emits :class:`HoldStarted` as soon as a held position is
reached and steady (so a dashboard can run the hold timer) and :class:`HoldEnded` when
the position is left, with the hold's length, whether it was broken early and how many
bounce cycles it held.

The thresholds below and the exercises and placements that can be timed
(:data:`RULES`: a segment that moves under :data:`MIN_RANGE_DEG` cannot) are in
``analysis.hold_rules``, the events in ``analysis.hold_events``. The timer reads the
frames' gravity directions and their rolling means from ``analysis.directions``; the
hold under way is an ``analysis.open_hold.OpenHold``, whose bounces a zig-zag detector
counts (``analysis.bounces``).

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

**Sides.** For the per-side exercises the side comes from the direction in which the
segment moved away from rest: the first hold's side is ``first_side`` (left by default:
the programme's cards and guided sessions start on the left), and each later hold is
on the same side when its displacement from rest points the same way (positive dot
product), else on the other side. Which side is really left depends on which way the
sensor faces, which the detector does not know; a wearer who starts on the right gets
the sides swapped unless the app passes ``first_side``. A wrist or thigh sensor in the
back stabiliser sees only the holds in which its own limb lifts (the other side's
support shift, ~6°, is under ``enter_deg``), so all its holds are of one side.

Everything is decided frame by frame from a rolling buffer of at most
:data:`BUFFER_S` seconds, so chunked input gives exactly the events of one chunk.

>>> timer = HoldTimer("knee_hug", Placement.THIGH, 0.1)
>>> timer.name, timer.version, timer.target_s, timer.rule.enter_deg
('holds', 1, 3.0, 37.5)
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from analysis.angles import angle_deg
from analysis.directions import DirectionBuffer
from analysis.events import Event
from analysis.frames import FrameBatch
from analysis.hold_events import HoldEnded, HoldStarted
from analysis.hold_rules import (
    BUFFER_S,
    EDGE_FLOOR_DEG,
    EDGE_FRAC,
    EDGE_SPREAD,
    LAG_S,
    LONG_S,
    MAX_HOLD_S,
    MIN_HOLD_S,
    PENDING_S,
    REF_S,
    RULES,
    SEARCH_S,
    SETTLE_S,
    SHORT_S,
    STEADY_FRAC,
    STILL_DEG,
    HoldRule,
)
from analysis.open_hold import OpenHold
from analysis.programme import exercise_by_id
from analysis.settings import Placement

__all__ = ["RULES", "HoldEnded", "HoldRule", "HoldStarted", "HoldTimer"]

_LEARN, _REST, _AWAY, _HOLD, _LEFT = range(5)


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
        self._k_next: int | None = None
        self._state = _LEARN
        self._ref: list[float] | None = None
        self._still = 0  # still frames in a row (learning the rest)
        self._settle = 0  # steady frames in a row (away from rest)
        self._away_k = 0  # first frame away from rest
        self._side_vec: list[float] | None = None
        self._t0_s = 0.0
        self._dirs = DirectionBuffer(self._n_short, self._n_long)  # the last frames
        self._counts = {"left": 0, "right": 0, "all": 0}
        self._reset_hold()

    def _reset_hold(self) -> None:
        self._hold = OpenHold(self.frame_s)

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
            "buf": self._dirs.x.tolist(),
            "buf_k0": self._dirs.k0,
            "t0_s": self._t0_s,
            "k_next": self._k_next,
            "state": self._state,
            "ref": self._ref,
            "still": self._still,
            "settle": self._settle,
            "away_k": self._away_k,
            "side_vec": self._side_vec,
            "counts": dict(self._counts),
            "hold": self._hold.to_json(),
        }

    def load(self, state: dict[str, Any]) -> None:
        """Restore the state saved by ``snapshot``."""
        # Windows cut short at the top of the buffer are never looked at (SEARCH_S < BUFFER_S).
        self._dirs.restore(np.asarray(state["buf"], dtype=np.float64).reshape(-1, 3), int(state["buf_k0"]))
        self._t0_s = float(state["t0_s"])
        self._k_next = None if state["k_next"] is None else int(state["k_next"])
        self._state = int(state["state"])
        self._ref = None if state["ref"] is None else [float(v) for v in state["ref"]]
        self._still = int(state["still"])
        self._settle = int(state["settle"])
        self._away_k = int(state["away_k"])
        self._side_vec = None if state["side_vec"] is None else [float(v) for v in state["side_vec"]]
        self._counts = {k: int(v) for k, v in state["counts"].items()}
        self._hold.load(state["hold"])

    # -- frame by frame ---------------------------------------------------------------

    def _feed(self, frames: FrameBatch, events: list[Event]) -> None:
        if not math.isclose(frames.frame_s, self.frame_s):
            raise ValueError(f"frames of {frames.frame_s} s fed to a timer of {self.frame_s} s frames")
        if self._k_next is None:
            self._dirs.k0 = frames.k_first
        elif frames.k_first != self._k_next:
            raise ValueError(f"frames must follow on: expected frame {self._k_next}, got {frames.k_first}")
        self._t0_s = frames.t0_s
        self._dirs.append(frames.stats[:, 1:4])
        first = self._dirs.x.shape[0] - frames.m  # row of the first new frame
        turned = self._dirs.turned_deg(first, self._n_lag)
        self._step_frames(first, turned.tolist(), events)
        self._k_next = frames.k_end
        self._dirs.keep(self._n_buffer, self._k_next)
        self._hold.bounces.forget_before(self._k_next - self._n_search)

    def _row(self, k: int) -> int:
        return k - self._dirs.k0

    def _step_frames(self, first: int, turned: list[float], events: list[Event]) -> None:
        n = self._dirs.x.shape[0]
        depart: list[float] = []
        raw: list[float] = []
        off: list[float] = []
        stale = True  # the angle lists must be (re)computed for the current reference and hold
        for i, row in enumerate(range(first, n)):
            k = self._dirs.k0 + row
            if stale:
                held = self._hold.held if self._state == _HOLD else None  # only a hold needs raw and off
                depart, raw, off = self._dirs.against(row, self._ref, held)
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
                    ref = self._dirs.x[row - self._n_ref + 1 : row + 1].sum(axis=0)
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
        hold = self._hold
        if not math.isnan(raw):  # a frame without samples inside a filled short window
            hold.bounces.add(raw, k)
        if turned <= 0.5 * STILL_DEG:
            hold.held_now = self._dirs.long[row].tolist()  # where the hold is now (it may drift a little)
        if off > hold.leave:
            self._leave_hold(self._end_k(k), k)
            self._state, self._settle = _LEFT, 0
            if d < self.rule.enter_deg:
                events.append(self._finish())
            return True
        if (k + 1) * self.frame_s - (hold.start_s - self._t0_s) > self.max_hold_s:
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
        hold = self._hold
        if self._settle >= self._n_settle and angle_deg(self._dirs.long[row], hold.held) > hold.leave:
            # Settled somewhere else without coming back: the "hold" was the position the
            # set starts from (the wearer got into it), and this is the first real hold.
            self._ref = list(hold.held)
            if hold.side_first:
                self._side_vec = None
            left_k = hold.left_k  # away from the new rest since it left it
            self._reset_hold()
            self._state, self._away_k = _AWAY, left_k
            self._step_away(k, row, angle_deg(self._dirs.long[row], self._ref), turned, events)
            return True
        if self._settle >= self._n_settle or (k - hold.left_k) * self.frame_s > PENDING_S:
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
        held = self._dirs.long[row]
        if angle_deg(held, self._ref) >= self.rule.max_deg:  # a new position: learn the rest there
            self._state, self._still, self._ref = _LEARN, 0, None
            return True
        self._start_hold(k, row, events)
        return self._state == _HOLD

    def _centre_s(self, k: int) -> float:
        """Time of the centre of the short window ending at frame ``k``, s."""
        return self._t0_s + (k + 1 - self._n_short / 2) * self.frame_s

    def _start_hold(self, k: int, row: int, events: list[Event]) -> None:
        """Start a hold at frame ``k`` (steady away from rest) once it has lasted ``MIN_HOLD_S``."""
        assert self._ref is not None
        ref = np.asarray(self._ref)
        dirs = self._dirs
        held = dirs.long[row]
        depth = angle_deg(held, ref)
        lo = max(row - self._n_search, row - (k - self._away_k), 0)
        edge = max(EDGE_FLOOR_DEG, EDGE_FRAC * depth, EDGE_SPREAD * dirs.wobble_deg(row))
        start_row = dirs.within_from(lo, row + 1, held, edge)
        start_k = dirs.k0 + start_row
        start_s = self._centre_s(start_k) - self.frame_s / 2
        if self._t0_s + (k + 1) * self.frame_s - start_s < MIN_HOLD_S - 1e-9:
            return  # the turn of a repetition, or not yet known to be more
        hold = self._hold
        hold.begin(held, depth, edge, start_k=start_k, start_s=start_s)
        hold.side = self._side_of(held - ref)
        self._state = _HOLD
        raw = dirs.departure_deg(start_row, row + 1, ref)
        for i, value in enumerate(raw.tolist()):
            if not math.isnan(value):
                hold.bounces.add(value, start_k + i)
        events.append(HoldStarted(start_s, self.exercise, hold.side, self.target_s))

    def _side_of(self, moved: NDArray[np.float64]) -> str | None:
        if not self.per_side:
            return None
        if self._side_vec is None:
            self._side_vec = moved.tolist()
            self._hold.side_first = True
            return self.first_side
        same = float(moved[0] * self._side_vec[0] + moved[1] * self._side_vec[1] + moved[2] * self._side_vec[2]) >= 0
        other = "right" if self.first_side == "left" else "left"
        return self.first_side if same else other

    def _end_k(self, k: int) -> int:
        """Last frame before ``k`` whose short mean is within the edge tolerance of the hold."""
        hold = self._hold
        row = self._row(k)
        lo = max(row - self._n_search, self._row(hold.start_k), 0)
        last = self._dirs.last_within(lo, row, np.asarray(hold.held_now), hold.edge)
        return self._dirs.k0 + last if last is not None else max(hold.start_k, k - 1)

    def _leave_hold(self, end_k: int, k: int) -> None:
        """The open hold was left at frame ``k``; its last frame in place was ``end_k``."""
        self._hold.leave_at(self._centre_s(end_k) + self.frame_s / 2, end_k=end_k, k=k)

    def _finish(self) -> HoldEnded:
        """The hold left (``_leave_hold``) is over: count it and reset."""
        key = self._hold.side or "all"
        self._counts[key] += 1
        ended = self._hold.ended(self.exercise, self.target_s, self._counts[key])
        self._reset_hold()
        self._state = _REST
        return ended
