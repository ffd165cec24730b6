"""Fixed-length frames over irregularly timed samples, built chunk by chunk.

Frames are aligned to the first sample time ``t0``: frame ``k`` covers
``[t0 + k*frame_s, t0 + (k+1)*frame_s)``. Each closed frame carries its sample count
and the sums the later windows need, so irregular sampling (repeated timestamps, short
gaps) needs no resampling. A frame is closed only when a later sample (or the end of
the stream) arrives. Until then the open frame keeps just its running sums, to which
each sample is added in time order, after the sums so far, exactly as one
``np.bincount`` over all of the frame's samples adds them: a frame's sums have the same
bits however its samples were chunked, and a frame that collects many samples (a clock
that stands still, its samples held at one time) costs no more memory than any other.

Angular rate, where the sensor has a gyroscope, is summed the same way in columns of
its own with their own count, so frames whose samples came partly without gyro still
give the right mean rate. The closed frames reach every detector as a
:class:`FrameBatch`, the shared per-frame features (sample count, mean acceleration,
mean |a|, mean angular rate) of ``analysis.analyzer``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["N_ACC_STATS", "N_STATS", "FrameBatch", "Framer", "checked_samples"]

#: Acceleration columns of a frame-statistics row: count, sum ax, sum ay, sum az, sum |a|,
#: sum |a|^2.
N_ACC_STATS = 6
#: All columns: the acceleration ones, then gyro count, sum gx, sum gy, sum gz (deg/s).
N_STATS = N_ACC_STATS + 4


#: Samples up to which ``_frame_stats`` adds them in one ``np.add.at`` (a live packet's
#: few); beyond, one ``np.bincount`` per column is quicker.
_FEW_SAMPLES = 128

Samples = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64] | None]


def checked_samples(t_s: object, acc_g: object, gyro_dps: object | None = None) -> Samples:
    """Samples as float64 arrays, checked: times (n,), acceleration (n, 3), gyro (n, 3) or None.

    Raises:
        ValueError: Wrong shapes or non-finite values.
    """
    t = np.asarray(t_s, dtype=np.float64)
    acc = np.asarray(acc_g, dtype=np.float64)
    if t.ndim != 1 or acc.shape != (t.shape[0], 3):
        raise ValueError(f"expected t_s of shape (n,) and acc_g of shape (n, 3), got {t.shape} and {acc.shape}")
    if not (np.isfinite(t).all() and np.isfinite(acc).all()):
        raise ValueError("t_s and acc_g must be finite")
    if gyro_dps is None:
        return t, acc, None
    gyro = np.asarray(gyro_dps, dtype=np.float64)
    if gyro.shape != acc.shape:
        raise ValueError(f"expected gyro_dps of shape {acc.shape}, got {gyro.shape}")
    if not np.isfinite(gyro).all():
        raise ValueError("gyro_dps must be finite")
    return t, acc, gyro


def _frame_stats(
    idx: NDArray[np.int64],
    acc_g: NDArray[np.float64],
    n_frames: int,
    open_row: NDArray[np.float64] | None = None,
    gyro_dps: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:
    """Sum samples into frames.

    Args:
        idx: Frame index of each sample, relative to the first output frame, shape (n,),
            within ``[0, n_frames)``.
        acc_g: Accelerations in g, shape (n, 3).
        n_frames: Number of output frames.
        open_row: Sums over earlier samples of the first output frame, shape (N_STATS,);
            the samples are added after them, as if all had come in one call.
        gyro_dps: Angular rates in deg/s, shape (n, 3), or ``None`` without a gyroscope.

    Returns:
        Frame statistics, shape (n_frames, N_STATS).
    """
    if idx.size > _FEW_SAMPLES:
        return _frame_stats_by_column(idx, acc_g, n_frames, open_row, gyro_dps)
    # A live packet: one row of weights per sample after a first row of the open frame's
    # sums (zeros without one), added into the frames in sample order by one
    # ``np.add.at``: the additions ``np.bincount`` makes column by column, in one call.
    cols = N_ACC_STATS if gyro_dps is None else N_STATS
    weights = np.empty((idx.size + 1, cols))
    if open_row is None:
        weights[0] = 0.0
    else:
        weights[0] = open_row[:cols]
    weights[1:, 0] = 1.0
    weights[1:, 1:4] = acc_g
    mag = np.sqrt(np.einsum("ij,ij->i", acc_g, acc_g))
    weights[1:, 4] = mag
    weights[1:, 5] = mag * mag
    if gyro_dps is not None:
        weights[1:, N_ACC_STATS] = 1.0
        weights[1:, N_ACC_STATS + 1 :] = gyro_dps
    out = np.zeros((n_frames, N_STATS))
    if open_row is not None and gyro_dps is None:  # the open frame's earlier gyro sums stay in frame 0
        out[0, N_ACC_STATS:] = open_row[N_ACC_STATS:]
    np.add.at(out[:, :cols], np.concatenate(([0], idx)), weights)
    return out


def _frame_stats_by_column(
    idx: NDArray[np.int64],
    acc_g: NDArray[np.float64],
    n_frames: int,
    open_row: NDArray[np.float64] | None,
    gyro_dps: NDArray[np.float64] | None,
) -> NDArray[np.float64]:
    """``_frame_stats`` with one ``np.bincount`` per column: quicker for many samples."""
    mag = np.sqrt(np.einsum("ij,ij->i", acc_g, acc_g))
    out = np.zeros((n_frames, N_STATS))
    out[:, 0] = np.bincount(idx, minlength=n_frames)[:n_frames]
    columns = dict(enumerate([acc_g[:, 0], acc_g[:, 1], acc_g[:, 2], mag, mag * mag], 1))
    if gyro_dps is not None:
        out[:, N_ACC_STATS] = out[:, 0]
        columns |= {N_ACC_STATS + 1 + axis: gyro_dps[:, axis] for axis in range(3)}
    if open_row is not None:
        # The earlier sums go first into frame 0: bincount adds in order, from 0.0.
        out[0, 0] += open_row[0]
        out[0, N_ACC_STATS] += open_row[N_ACC_STATS]
        idx = np.concatenate(([0], idx))
        columns = {col: np.concatenate(([open_row[col]], values)) for col, values in columns.items()}
        if gyro_dps is None:  # the open frame's earlier gyro sums stay in frame 0
            out[0, N_ACC_STATS + 1 :] = open_row[N_ACC_STATS + 1 :]
    for col, values in columns.items():
        out[:, col] = np.bincount(idx, weights=values, minlength=n_frames)[:n_frames]
    return out


@dataclass(frozen=True, slots=True)
class FrameBatch:
    """Consecutive closed frames, the per-frame features shared by every detector.

    Frame ``k`` covers ``[t0_s + k*frame_s, t0_s + (k+1)*frame_s)``; a frame without
    samples (a short gap) has a count of 0 and NaN means.

    Attributes:
        t0_s: Start of frame 0, s.
        frame_s: Frame length, s.
        k_first: Index of the first frame.
        stats: Frame sums, shape (m, N_STATS) (columns: see ``N_STATS``).
    """

    t0_s: float
    frame_s: float
    k_first: int
    stats: NDArray[np.float64]

    @property
    def m(self) -> int:
        """Number of frames."""
        return int(self.stats.shape[0])

    @property
    def k_end(self) -> int:
        """Index of the frame after the last."""
        return self.k_first + self.m

    @property
    def start_s(self) -> NDArray[np.float64]:
        """Start time of each frame, s, shape (m,)."""
        return self.t0_s + (self.k_first + np.arange(self.m, dtype=np.float64)) * self.frame_s

    @property
    def counts(self) -> NDArray[np.float64]:
        """Samples in each frame, shape (m,)."""
        return self.stats[:, 0]

    @property
    def acc_g(self) -> NDArray[np.float64]:
        """Mean acceleration of each frame, g, shape (m, 3); NaN without samples."""
        return self._mean(self.stats[:, 1:4], self.stats[:, 0])

    @property
    def mag_g(self) -> NDArray[np.float64]:
        """Mean |a| of each frame, g, shape (m,); NaN without samples."""
        return self._mean(self.stats[:, 4:5], self.stats[:, 0])[:, 0]

    @property
    def gyro_dps(self) -> NDArray[np.float64]:
        """Mean angular rate of each frame, deg/s, shape (m, 3); NaN without gyro samples."""
        return self._mean(self.stats[:, N_ACC_STATS + 1 :], self.stats[:, N_ACC_STATS])

    @property
    def has_gyro(self) -> bool:
        """Whether any frame holds gyro samples."""
        return bool(np.any(self.stats[:, N_ACC_STATS] > 0))

    @staticmethod
    def _mean(sums: NDArray[np.float64], n: NDArray[np.float64]) -> NDArray[np.float64]:
        with np.errstate(invalid="ignore", divide="ignore"):
            mean: NDArray[np.float64] = np.where(n[:, None] > 0, sums / n[:, None], np.nan)
        return mean


class Framer:
    """Turns sample chunks into closed frames (see the module docstring).

    Args:
        frame_s: Frame length in s (> 0).
    """

    def __init__(self, frame_s: float) -> None:
        self.frame_s = frame_s
        self.t0_s: float | None = None
        self.last_t_s: float | None = None
        self.next_k = 0  # index of the first frame not yet emitted (the open one)
        self._open = np.zeros(N_STATS)  # statistics of the open frame's samples so far

    def update(
        self, t_s: NDArray[np.float64], acc_g: NDArray[np.float64], gyro_dps: NDArray[np.float64] | None = None
    ) -> tuple[int, NDArray[np.float64]]:
        """Add samples and return the frames they close.

        Args:
            t_s: Sample times in s, shape (n,), non-decreasing and not before earlier chunks.
            acc_g: Accelerations in g, shape (n, 3).
            gyro_dps: Angular rates in deg/s, shape (n, 3), or ``None`` without a gyroscope.

        Returns:
            ``(k_first, stats)``: index of the first returned frame and the statistics of
            consecutive closed frames, shape (m, N_STATS), m >= 0.

        Raises:
            ValueError: Wrong shapes, non-finite values or times going backwards.
        """
        t_s, acc_g, gyro_dps = checked_samples(t_s, acc_g, gyro_dps)
        if t_s.size and (np.any(np.diff(t_s) < 0) or (self.last_t_s is not None and t_s[0] < self.last_t_s)):
            raise ValueError("sample times must not decrease")
        return self.add(t_s, acc_g, gyro_dps)

    def add(
        self, t_s: NDArray[np.float64], acc_g: NDArray[np.float64], gyro_dps: NDArray[np.float64] | None = None
    ) -> tuple[int, NDArray[np.float64]]:
        """``update`` for samples known to be valid (``checked_samples``) and in time order: no checks."""
        if t_s.size == 0:
            return self.next_k, np.empty((0, N_STATS))
        if self.t0_s is None:
            self.t0_s = float(t_s[0])
        self.last_t_s = float(t_s[-1])
        # Times do not decrease, so every sample falls in the open frame or a later one.
        idx = np.floor((t_s - self.t0_s) / self.frame_s).astype(np.int64) - self.next_k
        n_closed = int(idx[-1])  # the last sample's frame stays open
        stats = _frame_stats(idx, acc_g, n_closed + 1, self._open if self._open[0] > 0 else None, gyro_dps)
        k_first = self.next_k
        self.next_k += n_closed
        self._open = stats[-1].copy()
        return k_first, stats[:-1]

    def flush(self) -> tuple[int, NDArray[np.float64]]:
        """Close the open frame at the end of the stream.

        Returns:
            ``(k_first, stats)`` as for ``update`` (at most one frame).
        """
        k_first = self.next_k
        if self._open[0] == 0:
            return k_first, np.empty((0, N_STATS))
        stats = self._open.reshape(1, N_STATS)
        self.next_k += 1
        self._open = np.zeros(N_STATS)
        return k_first, stats

    def frame_start_s(self, k: int) -> float:
        """Start time of frame ``k`` in s (requires a first sample)."""
        if self.t0_s is None:
            raise ValueError("no sample seen yet")
        return self.t0_s + k * self.frame_s

    def snapshot(self) -> dict[str, Any]:
        """Return the JSON-serialisable state."""
        return {
            "t0_s": self.t0_s,
            "last_t_s": self.last_t_s,
            "next_k": self.next_k,
            "open": self._open.tolist(),
        }

    @classmethod
    def restore(cls, frame_s: float, state: dict[str, Any]) -> Framer:
        """Rebuild a framer from ``snapshot()``.

        Args:
            frame_s: Frame length in s.
            state: The snapshot.

        Returns:
            The framer.
        """
        framer = cls(frame_s)
        framer.t0_s = state["t0_s"]
        framer.last_t_s = state["last_t_s"]
        framer.next_k = int(state["next_k"])
        if "open" in state:
            saved = np.asarray(state["open"], dtype=np.float64).reshape(-1)
            framer._open[: saved.size] = saved[:N_STATS]  # saved before gyro: its columns stay 0
        else:  # saved with the open frame's samples: their sums are what they would have added
            carry = np.asarray(state["carry_acc"], dtype=np.float64).reshape(-1, 3)
            if carry.shape[0]:
                framer._open = _frame_stats(np.zeros(carry.shape[0], dtype=np.int64), carry, 1)[0]
        return framer
