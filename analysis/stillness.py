"""Sleep-like stillness of a thigh sensor, live: when to hold a sit-too-long alert back.

A thigh lying on the back with straight legs, or sitting up in bed with the legs out,
is horizontal and rolled only 5-35 deg, exactly as when seated (``analysis.thigh``), so
its stream counts the first stretch of a night as a sitting bout. The in-bed window of
``analysis.inbed`` is found only once the night is over; live, the stream has to judge
from what it has seen so far.

Sleep is still: the sensor angle hardly changes for long stretches. The measure is van
Hees et al. 2015 ("A novel, open access method to assess sleep duration using a
wrist-worn accelerometer", PLoS ONE 10(11):e0142533, doi:10.1371/journal.pone.0142533),
which HDCZA (van Hees et al. 2018, doi:10.1038/s41598-018-31266-z) refines for the
night as a whole: the angle of the sensor in 5-s epochs, and a *move* wherever it
changes by more than 5 deg from one epoch to the next; a stretch without a move is
sustained inactivity. **Differences:** the angle is that between directions of the
mean acceleration (any axis), not the z-angle alone: the thigh's mounting is unknown,
and a turn about the device z axis leaves the z-angle as it is. And an epoch is a move
also when one of its 0.1-s frames leaves the 5-deg cone around the epoch before: a
shift in the chair swings the thigh back and forth within a few seconds, and its 5-s
mean hardly moves (on the simulated office days, the 5-s means alone left seated
stretches of 20 min without a move, and the rule then held 133 of 211 daytime alerts:
``docs/validation.md``).

The rule (``ThighTuning``, provenance there and in ``docs/validation.md``):

- an alert that falls due after ``hold_s`` without a move is *held*: the wearer is as
  still as a sleeper;
- it is released ``release_s`` after the next move, on the first sitting frame from
  then on, if the sitting bout still runs: a sleeper who turns onto a side or gets up
  leaves the bout (lying or upright for ``AlertPolicy.min_break_s`` ends it) before
  then, and the alert is dropped; a wearer who moves and sits on is alerted.

Everything is in frame indices of the analyser's grid, and a move is known only once
its epoch's last frame has arrived, which the final postures always lag
(``Analyzer.lookahead_s`` > 0): a held alert depends only on frames before the sitting
frame it is decided at, however the stream was chunked.

>>> still = SleepStillness(frame_s=0.1, epoch_s=5.0, move_deg=5.0)
>>> def frames(direction: list[float], n: int) -> np.ndarray:
...     stats = np.zeros((n, 4))
...     stats[:, 0], stats[:, 1:4] = 1.0, direction
...     return stats
>>> still.update(0, frames([0.0, 0.0, 1.0], 100))  # two epochs, the same angle: no move
>>> still.update(100, frames([0.0, 1.0, 1.0], 50))  # the next turned 45 deg: a move
>>> still.moves, still.last_move_k(149), still.first_move_after(0)
([150], None, 150)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["AlertHold", "SleepStillness"]


class SleepStillness:
    """The moves of a sensor: 5-s epochs whose mean direction turned past ``move_deg`` (module docstring).

    Args:
        frame_s: Frame length, s.
        epoch_s: Epoch length, s (a whole number of frames).
        move_deg: Angle between successive epochs beyond which the wearer moved, deg.
    """

    def __init__(self, frame_s: float, epoch_s: float, move_deg: float) -> None:
        self.epoch_frames = max(1, round(epoch_s / frame_s))
        self.cos_move = math.cos(math.radians(move_deg))
        self.epoch = 0  # index of the open epoch
        self.open_sum = np.zeros(3)  # summed acceleration of its frames so far
        self.open_count = 0.0  # and their samples
        self.last_dir: NDArray[np.float64] | None = None  # direction of the last epoch with samples
        self.open_min_dot = 1.0  # least cosine of a frame of the open epoch to ``last_dir``
        #: Frames at which a move became known (the end of its epoch), ascending; pruned by ``forget_before``.
        self.moves: list[int] = []

    def update(self, k_first: int, stats: NDArray[np.float64]) -> None:
        """Take closed frames ``k_first`` on, consecutive with those before.

        Args:
            k_first: Index of the first frame.
            stats: Frame statistics (``analysis.frames``): count and summed acceleration
                (g) in the first four columns, shape (m, >= 4).
        """
        m = stats.shape[0]
        if m == 0:
            return
        e = self.epoch_frames
        if k_first + m < (self.epoch + 1) * e:  # all in the open epoch, which goes on: as for most packets
            self._extend_open(stats)
            return
        rel = (k_first + np.arange(m)) // e - self.epoch
        n = int(rel[-1]) + 1
        # The open epoch's sums first, then each frame in order: the same additions, and
        # so the same bits, however the frames were chunked (``analysis.frames``).
        idx = np.concatenate(([0], rel))
        counts = np.bincount(idx, np.concatenate(([self.open_count], stats[:, 0])), minlength=n)
        sums = np.stack(
            [np.bincount(idx, np.concatenate(([self.open_sum[i]], stats[:, 1 + i])), minlength=n) for i in range(3)],
            axis=1,
        )
        norms = np.linalg.norm(stats[:, 1:4], axis=1)
        frame_dirs = stats[:, 1:4] / np.where(norms > 0, norms, 1.0)[:, None]
        closed = n if (k_first + m) % e == 0 else n - 1  # the last epoch stays open unless it ended here
        start = 0
        for j in range(n):
            stop = int(np.searchsorted(rel, j, side="right"))
            if self.last_dir is not None and stop > start:
                held = norms[start:stop] > 0  # frames with samples
                if held.any():
                    dots = frame_dirs[start:stop][held] @ self.last_dir
                    self.open_min_dot = min(self.open_min_dot, float(dots.min()))
            start = stop
            if j >= closed:
                break
            norm = float(np.linalg.norm(sums[j]))
            if counts[j] > 0 and norm > 0.0:
                direction = sums[j] / norm
                if self.last_dir is not None:
                    least = min(self.open_min_dot, float(direction @ self.last_dir))
                    if least < self.cos_move:  # the epoch, or a frame of it, left the cone
                        self.moves.append(int((self.epoch + j + 1) * e))
                self.last_dir = direction
            self.open_min_dot = 1.0
        self.epoch += closed
        if closed < n:
            self.open_sum, self.open_count = sums[-1].copy(), float(counts[-1])
        else:
            self.open_sum, self.open_count = np.zeros(3), 0.0

    def _extend_open(self, stats: NDArray[np.float64]) -> None:
        """Add frames to the open epoch: the sums and least cosine ``update`` gives them, bit for bit."""
        count, sx, sy, sz = 0.0 + self.open_count, *(0.0 + x for x in self.open_sum.tolist())
        dirs = []  # direction of each frame with samples, as np.linalg.norm's sums and a division give it
        for c, x, y, z in stats[:, :4].tolist():  # in frame order, as np.bincount adds
            count, sx, sy, sz = count + c, sx + x, sy + y, sz + z
            norm = math.sqrt(x * x + y * y + z * z)
            if norm > 0:
                dirs.append((x / norm, y / norm, z / norm))
        self.open_count, self.open_sum = count, np.array([sx, sy, sz])
        if self.last_dir is None or not dirs:
            return
        dots = np.array(dirs) @ self.last_dir  # the same product (n, 3) @ (3,) as update's
        self.open_min_dot = min(self.open_min_dot, float(dots.min()))

    def last_move_k(self, k: int) -> int | None:
        """Frame of the last move known by frame ``k`` (at or before it), or None."""
        last = None
        for move in self.moves:
            if move > k:
                break
            last = move
        return last

    def first_move_after(self, k: int) -> int | None:
        """Frame of the first move known after frame ``k``, or None (none seen yet)."""
        for move in self.moves:
            if move > k:
                return move
        return None

    def forget_before(self, k: int) -> None:
        """Drop the moves before the last one at or before frame ``k`` (no question reaches back further)."""
        last = self.last_move_k(k)
        if last is not None:
            self.moves = [move for move in self.moves if move >= last]

    def snapshot(self) -> dict[str, Any]:
        """Return the JSON-serialisable state."""
        return {
            "epoch": self.epoch,
            "open_sum": self.open_sum.tolist(),
            "open_count": self.open_count,
            "last_dir": None if self.last_dir is None else self.last_dir.tolist(),
            "open_min_dot": self.open_min_dot,
            "moves": list(self.moves),
        }

    def load(self, state: dict[str, Any]) -> None:
        """Restore the state saved by ``snapshot()``."""
        self.epoch = int(state["epoch"])
        self.open_sum = np.asarray(state["open_sum"], dtype=np.float64)
        self.open_count = float(state["open_count"])
        last = state["last_dir"]
        self.last_dir = None if last is None else np.asarray(last, dtype=np.float64)
        self.open_min_dot = float(state["open_min_dot"])
        self.moves = [int(move) for move in state["moves"]]


class AlertHold:
    """Holds a sit-too-long alert back while the wearer is as still as a sleeper (module docstring).

    Args:
        frame_s: Frame length, s.
        epoch_s: Epoch of the angle, s.
        move_deg: Angle change between epochs that is a move, deg.
        hold_s: An alert due after this long without a move is held, s.
        release_s: A held alert is released this long after the next move, s.
    """

    def __init__(self, frame_s: float, epoch_s: float, move_deg: float, hold_s: float, release_s: float) -> None:
        self.stillness = SleepStillness(frame_s, epoch_s, move_deg)
        self.hold_frames = max(1, round(hold_s / frame_s))
        self.release_frames = max(0, round(release_s / frame_s))
        self.held_k: int | None = None  # frame the due alert was held at, while it is

    def fire_k(self, k_due: int, k_end: int) -> int | None:
        """The frame at which an alert due at frame ``k_due`` may fire, if before ``k_end``, else None.

        Args:
            k_due: The sitting frame the alert falls due at.
            k_end: End (exclusive) of the sitting frames at hand; every frame before it
                has been taken by ``SleepStillness.update``.
        """
        if self.held_k is None:
            last = self.stillness.last_move_k(k_due)
            if k_due - (0 if last is None else last) < self.hold_frames:
                return k_due
            self.held_k = k_due
        move = self.stillness.first_move_after(self.held_k)
        if move is None:
            return None
        k = max(k_due, move + self.release_frames)
        return k if k < k_end else None

    def settle(self) -> None:
        """The held alert fired, or the bout ended: nothing is held."""
        self.held_k = None

    def forget_before(self, k: int) -> None:
        """Drop the moves no question reaches any more: before frame ``k`` and before the held alert."""
        self.stillness.forget_before(k if self.held_k is None else min(k, self.held_k))

    def snapshot(self) -> dict[str, Any]:
        """Return the JSON-serialisable state."""
        return {"stillness": self.stillness.snapshot(), "held_k": self.held_k}

    def load(self, state: dict[str, Any]) -> None:
        """Restore the state saved by ``snapshot()``."""
        self.stillness.load(state["stillness"])
        held = state["held_k"]
        self.held_k = None if held is None else int(held)
