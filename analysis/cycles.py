"""Streaming cycle counter: the completed cycles of a repetitive movement, from frame means.

:class:`CycleCounter` is the generic repetition counter behind ``RepCounter("any", ...)``
(``analysis.reps``); it needs nothing but the frame means of the accelerometer and knows
no exercise. ``docs/reps.md`` has the measured figures.

Axis and period. Every second, the frame means of the last :data:`WINDOW_S` seconds
(the still time before the movement left out) are projected on their principal axis (the
axis of largest variance), as RecoFit does (Morris et al. 2014, CHI,
doi:10.1145/2556288.2557116). The axis is kept from one estimate to the next while it
still holds 90% of the best axis's variance: a hand circling (a pendulum) moves in a
plane with no one best axis, and an axis turning every second shifts the counted signal
and loses cycles. The period is read from the projection by YIN (de Cheveigné & Kawahara
2002) with two octave checks (``analysis.yin``).

Counting. Each frame's projection (0.3-s mean) drives a Schmitt trigger about the
mid-range (5th-95th percentile) of the window, or of the last two periods when they hold
no pause (a drifting centre), with thresholds :data:`HYSTERESIS` of the window's range
either side. A cycle completes each time the signal comes back to the side the run
started on, at least :data:`REFRACTORY` periods after the last one; the run's median
interval between cycles caps that period, so a period estimated twice too long cannot
hide cycles. A cycle that stays on one side of the thresholds (smaller on the axis than
its neighbours, or off the axis) is missed: when two counts are 1.6 periods or more
apart, the period agreeing with the run's median interval (within 15%) and every half
period between them moving (over 30% of the window's range: no pause), the missed
cycles (the gap in periods, less one) are counted before the one that ends the gap.

Runs. A run starts when the window is periodic (a dip under :data:`PERIODIC_MAX`) and
moves more than :data:`MIN_RANGE_G`; the cycles already in the window are then counted
at once (so the first few come a few seconds late, with their true times). It ends after
:data:`SET_GAP_PERIODS` median intervals without a cycle, and at least
:data:`MIN_SET_GAP_S`. At :meth:`CycleCounter.flush`, the cycle under way counts if it
reached its far side within a period of the end, or if it has gone on for 0.4 period and
its last 0.4 period still moved (a recording cut in the middle of a repetition).

Everything is decided frame by frame at fixed frame indices from a buffer of the last
:data:`WINDOW_S` seconds, so chunked input gives exactly the cycles of one chunk.

>>> t = np.arange(300) * 0.1 + 0.1  # 30 s of 0.1-s frames: 3 s still, 2-s cycles, 3 s still
>>> move = np.where((t > 3) & (t <= 27), 0.5 - 0.5 * np.cos(2 * np.pi * (t - 3) / 2.0), 0.0)
>>> acc = np.stack([0.4 * move, np.zeros_like(t), 1.0 - 0.1 * move], axis=1)
>>> counter = CycleCounter(0.1)
>>> out = counter.update(t, acc) + counter.flush()
>>> sum(isinstance(c, Cycle) for c in out)
12
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from analysis.yin import yin_period

__all__ = [
    "HYSTERESIS",
    "MIN_RANGE_G",
    "MIN_SET_GAP_S",
    "PERIODIC_MAX",
    "REFRACTORY",
    "SET_GAP_PERIODS",
    "WINDOW_S",
    "Cycle",
    "CycleCounter",
    "RunEnd",
]

#: Window of the axis and period estimate, s (2-3 periods of slow reps).
WINDOW_S = 20.0
#: Longest period looked for, s (a slow rep with a short hold).
MAX_PERIOD_S = 8.0
#: Shortest period, s (2.5 reps a second, faster than any exercise of the programme).
MIN_PERIOD_S = 0.4
#: YIN threshold: the window is periodic where the normalised difference dips below it
#: (with the hysteresis and the dip rules below, chosen on the spar_wrist development sets
#: and the simulated sets: ``python -m bench.reps``).
PERIODIC_MAX = 0.5
#: Smallest range (5th to 95th percentile) of the projection that is a run, g (~6°;
#: breathing moves less: the uci_hapt lying lines of ``python -m bench.reps``).
MIN_RANGE_G = 0.1
#: Schmitt thresholds either side of the mid-range, as a fraction of the window's range.
HYSTERESIS = 0.1
#: Shortest time between two cycles, in periods.
REFRACTORY = 0.6
#: A run ends after this many median intervals without a cycle...
SET_GAP_PERIODS = 3.0
#: ...and at least this long, s.
MIN_SET_GAP_S = 10.0

_ESTIMATE_EVERY_S = 1.0  # time between estimates, s
_FIRST_ESTIMATE_S = 4.0  # the first estimate, once the stream has this much, s
# The axis, missed-cycle and end-of-stream rules: chosen on the spar_wrist development
# sets, checked leaving each subject out (``docs/reps.md``, ``python -m bench.reps --misses``).
_AXIS_KEEP = 0.9  # keep the axis while it holds this share of the best axis's variance
_FILL_PERIODS = 1.6  # a gap this many periods long between counts, moving all along, hides cycles
_FILL_AGREE = 0.15  # ...when the period and the median interval agree within this share
_FILL_MOVING = 0.3  # ...and every half period moving over this share of the window's range
_TAIL_PERIODS = 0.4  # a cycle under way this long when the stream ends counts...
_TAIL_MOVING = 0.3  # ...if its last 0.4 period moved over this share of the window's range
_SMOOTH = 3  # the counted signal is the mean of the last 3 frames (0.3 s)


@dataclass(frozen=True, slots=True)
class Cycle:
    """One completed cycle.

    Attributes:
        start_s: When it left the run's starting side (the outward crossing), s.
        end_s: When it came back (the return crossing), s.
    """

    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class RunEnd:
    """The repetitive movement stopped (a set ended).

    Attributes:
        t_s: When the run's last cycle ended, s.
    """

    t_s: float


def _range(x: NDArray[np.float64]) -> tuple[float, float]:
    """The 5th and 95th percentiles of ``x`` (nearest rank), shape (n,) with n >= 1."""
    ranked = np.sort(x)
    n = ranked.shape[0] - 1
    return float(ranked[round(0.05 * n)]), float(ranked[round(0.95 * n)])


class CycleCounter:
    """Counts the cycles of a repetitive movement (see the module docstring for the method).

    Args:
        frame_s: Frame length, s (> 0).

    Raises:
        ValueError: A bad ``frame_s``.
    """

    def __init__(self, frame_s: float) -> None:
        if not (math.isfinite(frame_s) and 0 < frame_s <= 1.0):
            raise ValueError(f"frame_s must be in (0, 1] s, got {frame_s}")
        self.frame_s = float(frame_s)
        self._window = round(WINDOW_S / self.frame_s)
        self._every = max(1, round(_ESTIMATE_EVERY_S / self.frame_s))
        self._first = round(_FIRST_ESTIMATE_S / self.frame_s)
        self._lags = (max(2, round(MIN_PERIOD_S / self.frame_s)), round(MAX_PERIOD_S / self.frame_s))
        self._buf = np.empty((0, 3))
        self._t0_s: float | None = None
        self._k = 0  # index of the next frame
        self._k_last = -1  # the frame of the buffer's last row
        self._axis: list[float] | None = None
        self._center = [0.0, 0.0, 0.0]
        self._period = 0
        self._mid = 0.0
        self._half = 0.0
        self._periodic = False
        self._reset_run()

    def _reset_run(self) -> None:
        self._active = False
        self._count = 0
        self._last_end_s = 0.0
        self._intervals: list[float] = []
        self._interval_s = 0.0  # median time between the run's last cycles (0: not yet known)
        self._state = 0  # Schmitt side: -1 low, +1 high, 0 not yet
        self._rest_side = 0
        self._away_s = 0.0
        self._last_count_k = -(10**9)
        self._missed = 0  # cycles missed before the one being counted

    _SCALARS = (
        "_t0_s",
        "_k",
        "_axis",
        "_center",
        "_period",
        "_mid",
        "_half",
        "_periodic",
        "_active",
        "_count",
        "_last_end_s",
        "_intervals",
        "_interval_s",
        "_state",
        "_rest_side",
        "_away_s",
        "_last_count_k",
        "_missed",
    )

    def snapshot(self) -> dict[str, Any]:
        """Return the state as JSON-serialisable data (the buffer is at most ``WINDOW_S`` long)."""
        state: dict[str, Any] = {name.lstrip("_"): getattr(self, name) for name in self._SCALARS}
        state["buf"] = self._buf.tolist()
        return state

    def load(self, state: dict[str, Any]) -> None:
        """Restore the state saved by ``snapshot``.

        Raises:
            ValueError: The state is not a cycle counter's (a key is missing).
        """
        missing = [name for name in (*self._SCALARS, "_buf") if name.lstrip("_") not in state]
        if missing:
            raise ValueError(f"not a cycle counter's state: no {', '.join(missing)}")
        for name in self._SCALARS:
            setattr(self, name, state[name.lstrip("_")])
        self._buf = np.asarray(state["buf"], dtype=np.float64).reshape(-1, 3)
        self._k_last = self._k - 1

    def update(self, t_s: NDArray[np.float64], acc_g: NDArray[np.float64]) -> list[Cycle | RunEnd]:
        """Take the next frame means; return the cycles they complete and the runs they end.

        Args:
            t_s: End of each frame, s, shape (m,): consecutive frames of ``frame_s``.
            acc_g: Mean acceleration of each frame, g, shape (m, 3), finite.

        Returns:
            ``Cycle`` and ``RunEnd`` items in time order.
        """
        if acc_g.shape[0] == 0:
            return []
        if self._t0_s is None:
            self._t0_s = float(t_s[0]) - (self._k + 1) * self.frame_s
        old = self._buf.shape[0]
        self._buf = np.concatenate([self._buf, acc_g])
        self._k_last = self._k + acc_g.shape[0] - 1  # the frame of the buffer's last row
        out: list[Cycle | RunEnd] = []
        rows = self._smoothed(old, self._buf.shape[0]).tolist()
        for j in range(old, self._buf.shape[0]):
            self._step(j, rows[j - old], out)
            self._k += 1
        self._buf = self._buf[-(self._window + _SMOOTH) :]
        return out

    def flush(self) -> list[Cycle | RunEnd]:
        """Close the open run at the end of the stream.

        Returns:
            The cycle under way if it counts (module docstring) and the ``RunEnd`` of the
            open run.
        """
        out: list[Cycle | RunEnd] = []
        if self._t0_s is None:
            return out
        t_s = self._t(self._k - 1)
        away = self._active and self._rest_side != 0 and self._state == -self._rest_side
        if (
            away
            and t_s - self._away_s <= self._period * self.frame_s
            and self._k - self._last_count_k >= REFRACTORY * self._period
        ):
            # The stream ended within a period of reaching the far side: that cycle was done.
            out.append(self._cycle(self._away_s, t_s))
        elif self._active and self._count and self._period:
            # A recording cut in the middle of a repetition (still moving at its end): count
            # the repetition if it is well under way.
            block = max(2, round(_TAIL_PERIODS * self._period))
            if self._k - self._last_count_k >= block and self._moving(
                self._k - 1 - block, self._k - 1, block, _TAIL_MOVING
            ):
                out.append(self._cycle(self._last_end_s, t_s))
        if self._count:
            out.append(RunEnd(self._last_end_s))
        self._reset_run()
        return out

    # -- per frame -------------------------------------------------------------------------

    def _t(self, k: int) -> float:
        """End of frame ``k``, s."""
        assert self._t0_s is not None
        return self._t0_s + (k + 1) * self.frame_s

    def _step(self, j: int, row: list[float], out: list[Cycle | RunEnd]) -> None:
        """Frame ``self._k`` (buffer row ``j``; ``row`` its smoothed mean)."""
        k = self._k
        t_s = self._t(k)
        if self._active:
            gap_s = max(MIN_SET_GAP_S, SET_GAP_PERIODS * self._interval_s)
            if t_s - self._last_end_s > (gap_s if self._count else MIN_SET_GAP_S):
                # The run is over (or a periodic stretch gave no cycle): back to waiting.
                if self._count:
                    out.append(RunEnd(self._last_end_s))
                self._reset_run()
        if k % self._every == 0 and k + 1 >= self._first:
            self._estimate(j + 1)
            if not self._active and self._periodic:
                self._start_run(j + 1, k, t_s, out)
        if self._active and self._axis is not None:
            a, c = self._axis, self._center
            x = (row[0] - c[0]) * a[0] + (row[1] - c[1]) * a[1] + (row[2] - c[2]) * a[2]
            if self._schmitt(x, k):
                self._fill(t_s, out)
                out.append(self._cycle(self._away_s, t_s))

    def _fill(self, t_s: float, out: list[Cycle | RunEnd]) -> None:
        """Before the cycle ending at ``t_s``: the missed ones, evenly spread since the last."""
        if self._missed:
            t_prev = self._last_end_s
            step = (t_s - t_prev) / (self._missed + 1)
            for i in range(self._missed):
                out.append(self._cycle(t_prev + i * step, t_prev + (i + 1) * step))

    def _cycle(self, start_s: float, end_s: float) -> Cycle:
        """Count a cycle: the run's count and its median interval between cycles."""
        if self._count:
            self._intervals = [*self._intervals, end_s - self._last_end_s][-5:]
            self._interval_s = float(np.median(self._intervals))
        self._count += 1
        self._last_end_s = end_s
        return Cycle(start_s, end_s)

    def _estimate(self, end: int) -> None:
        """Principal axis, centre, period and Schmitt levels of the window ending before buffer row ``end``."""
        w = self._buf[max(0, end - self._window) : end]
        center = w.mean(axis=0)
        wc = w - center
        cov = wc.T @ wc
        values, vectors = np.linalg.eigh(cov)
        axis = vectors[:, -1]
        if self._axis is not None:
            old = np.asarray(self._axis)
            # A movement in a plane (a pendulum circling) has no one best axis: changing
            # it every second would shift the counted signal, so keep it while it serves.
            if float(old @ cov @ old) >= _AXIS_KEEP * float(values[-1]):
                axis = old
            elif float(np.dot(axis, old)) < 0:
                axis = -axis
        x = wc @ axis
        low, high = _range(x)
        # The period of the movement only: leave out the still time before it in the window.
        second = max(2, round(1.0 / self.frame_s))
        blocks = x[: x.shape[0] // second * second].reshape(-1, second)
        moving = np.flatnonzero(blocks.max(axis=1) - blocks.min(axis=1) > 0.25 * (high - low))
        start = int(moving[0]) * second if moving.size else 0
        period, dip = yin_period(x[start:] - x[start:].mean(), *self._lags)
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
        mid, half = self._mid, self._half
        side = 1 if x > mid + half else -1 if x < mid - half else 0
        if side in (0, self._state):
            return False
        if self._state == 0:
            self._state = self._rest_side = side  # where the run starts is the rest
            return False
        self._state = side
        if side != self._rest_side:
            self._away_s = self._t(k)
            return False
        # A period estimated twice too long (every other rep shallower) must not hide reps:
        # the run's own median interval between cycles caps it.
        interval = self._interval_s / self.frame_s
        period = min(self._period, interval) if interval else self._period
        if k - self._last_count_k < REFRACTORY * period:
            return False
        self._missed = 0
        gap = k - self._last_count_k
        # Cycles missed (too small on the axis for the thresholds) while the movement went
        # on: a gap of two periods or more, the period trusted (the set's median interval
        # agrees with it) and the movement never pausing.
        if (
            interval
            and abs(self._period - interval) <= _FILL_AGREE * interval
            and gap >= _FILL_PERIODS * self._period
            and self._moving(self._last_count_k, k, max(2, round(self._period / 2)), _FILL_MOVING)
        ):
            self._missed = min(3, round(gap / self._period) - 1)
        self._last_count_k = k
        return True

    def _moving(self, k0: int, k1: int, block: int, share: float) -> bool:
        """Whether every ``block`` frames of frames ``k0..k1`` moved over ``share`` of the window's range (no pause)."""
        n = self._buf.shape[0]
        rows = self._buf[max(0, n - 1 - (self._k_last - k0)) : n - (self._k_last - k1)]
        m = rows.shape[0] // block
        if m < 1:
            return False
        x = (rows - np.asarray(self._center)) @ np.asarray(self._axis)
        b = x[: m * block].reshape(m, block)
        return bool(((b.max(axis=1) - b.min(axis=1)) > share * (self._half / HYSTERESIS)).all())

    def _smoothed(self, lo: int, hi: int) -> NDArray[np.float64]:
        """Mean of each buffer row ``lo..hi-1`` and the rows before it (0.3 s), shape (hi - lo, 3)."""
        if lo >= _SMOOTH - 1:
            out = self._buf[lo:hi].copy()
            for back in range(1, _SMOOTH):
                out += self._buf[lo - back : hi - back]
        else:  # the stream's first frames: the first one stands in for those before it
            rows = np.arange(lo, hi)
            out = self._buf[rows].copy()
            for back in range(1, _SMOOTH):
                out += self._buf[np.maximum(rows - back, 0)]
        smoothed: NDArray[np.float64] = out / _SMOOTH
        return smoothed

    def _start_run(self, end: int, k: int, t_s: float, out: list[Cycle | RunEnd]) -> None:
        """A run starts at frame ``k`` (buffer row ``end - 1``): count the cycles already in the window."""
        self._active = True
        self._state = 0
        self._rest_side = 0
        self._last_count_k = -(10**9)
        self._last_end_s = t_s
        assert self._axis is not None
        w = self._smoothed(max(0, end - self._window), end - 1)
        xs = (w - np.asarray(self._center)) @ np.asarray(self._axis)
        k0 = k - xs.shape[0]
        found: list[Cycle | RunEnd] = []
        for j, x in enumerate(xs.tolist()):
            if self._schmitt(x, k0 + j):
                self._fill(self._t(k0 + j), found)
                found.append(self._cycle(self._away_s, self._t(k0 + j)))
        out.extend(found)
