"""Sliding-window reductions over frames: centred sums, trailing range, majority filter.

Each output row depends only on the rows of its own window, never on where a chunk
started, so the streaming posture tracker gives the same values live and in batch.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from analysis.packing import packed_columns, unpacked

__all__ = ["FEW_ROWS", "TrailingRange", "centred_sums", "few_centred_sums", "majority"]

#: Outputs up to which ``few_centred_sums`` serves (a live packet's few frames).
FEW_ROWS = 32


def centred_sums(rows: NDArray[np.float64], half: int, outer: int) -> NDArray[np.float64]:
    """Sum rows over centred windows of ``2*half+1`` rows.

    Args:
        rows: Shape (m, c); outputs are for rows ``outer .. m-outer-1``.
        half: Half-width of the window (<= outer).
        outer: Context kept on each side.

    Returns:
        Shape (m - 2*outer, c). Each window is summed on its own, oldest row first (no
        running sum, whose rounding would carry over from earlier rows): one vector
        addition per row of the window, in the order numpy's ``sum`` over a sliding
        window view adds them.

    >>> centred_sums(np.arange(5.0)[:, None], 1, 2).tolist()
    [[6.0]]
    """
    n = rows.shape[0] - 2 * outer
    if n <= 0:
        return np.zeros((0, rows.shape[1]))
    start = outer - half
    total = rows[start : start + n].copy()
    for k in range(start + 1, start + 2 * half + 1):
        total += rows[k : k + n]
    return total


def few_centred_sums(rows: NDArray[np.float64], halves: tuple[int, ...], outer: int) -> NDArray[np.float64]:
    """``centred_sums`` of every column for several half-widths at once, for a few outputs.

    The rows of each output's window are gathered by one index (a live packet's few
    frames: one gather and one accumulation instead of an addition per row of each
    window) and added by ``np.add.accumulate``, which adds strictly in order, oldest row
    first, as ``centred_sums`` does. A window narrower than ``2*outer+1`` rows starts
    with rows of -0.0, which leave the sum's first row as it is (``-0.0 + x == x`` for
    every x, -0.0 included), so the sums have the same bits as ``centred_sums``.

    Args:
        rows: Shape (m, c), finite; outputs are for rows ``outer .. m-outer-1``.
        halves: Half-width of each window (each <= outer).
        outer: Context kept on each side.

    Returns:
        Shape (len(halves), m - 2*outer, c): the sums for each half-width in turn.

    >>> rows = np.arange(10.0).reshape(5, 2)
    >>> few = few_centred_sums(rows, (1, 2), 2)
    >>> few[0].tolist() == centred_sums(rows, 1, 2).tolist(), few[1].tolist()
    (True, [[20.0, 25.0]])
    """
    m, c = rows.shape
    n = m - 2 * outer
    if n <= 0:
        return np.zeros((len(halves), 0, c))
    padded = np.concatenate((rows, _negative_zeros(c)))
    gathered = padded[_window_rows(n, halves, outer)]  # (len(halves), n, 2*outer+1, c)
    sums: NDArray[np.float64] = np.add.accumulate(gathered, axis=2)[:, :, -1]
    return sums


@functools.lru_cache(maxsize=16)
def _negative_zeros(columns: int) -> NDArray[np.float64]:
    """One row of -0.0, shape (1, columns), read-only."""
    row = np.full((1, columns), -0.0)
    row.flags.writeable = False
    return row


@functools.lru_cache(maxsize=256)
def _window_rows(n: int, halves: tuple[int, ...], outer: int) -> NDArray[np.intp]:
    """Row indices of each output's window, leading -0.0 rows (index ``n + 2*outer``) first.

    Returns:
        Shape (len(halves), n, 2*outer+1), read-only.
    """
    width = 2 * outer + 1
    pad = n + 2 * outer
    idx = np.full((len(halves), n, width), pad, dtype=np.intp)
    for w, half in enumerate(halves):
        span = 2 * half + 1
        for j in range(n):
            first = j + outer - half
            idx[w, j, width - span :] = np.arange(first, first + span)
    idx.flags.writeable = False
    return idx


def _window_extremes(columns: NDArray[np.float64], width: int, pick: np.ufunc) -> NDArray[np.float64]:
    """``pick`` (``np.maximum`` or ``np.minimum``) of each window of ``width`` along axis 1.

    By van Herk/Gil-Werman (van Herk 1992, Pattern Recognit Lett 13(7):517-521,
    doi:10.1016/0167-8655(92)90069-C; Gil and Werman 1993, IEEE Trans Pattern Anal Mach
    Intell 15(5):504-507, doi:10.1109/34.211471): the values are cut into blocks of
    ``width``; a window spans the end of one block and the start of the next, so its
    maximum is the larger of a suffix maximum and a prefix maximum, both found for all
    values with one ``np.maximum.accumulate`` each. Three comparisons per value instead
    of ``width``, and the same values as a direct maximum: NaN (a gap) anywhere in a
    window makes its extreme NaN.

    Args:
        columns: Shape (c, m), m >= width.
        width: Window length.
        pick: The extreme.

    Returns:
        Shape (c, m - width + 1).
    """
    c, m = columns.shape
    n_out = m - width + 1
    blocks = -(-m // width)
    padded = np.zeros((c, blocks * width))
    padded[:, :m] = columns
    cut = padded.reshape(c, blocks, width)
    prefix = pick.accumulate(cut, axis=2).reshape(c, -1)
    suffix = pick.accumulate(cut[:, :, ::-1], axis=2)[:, :, ::-1].reshape(c, -1)
    # Window i covers i .. i+width-1: the suffix of i's block and the prefix up to
    # i+width-1 in the next (the same block when i starts one).
    many: NDArray[np.float64] = pick(suffix[:, :n_out], prefix[:, width - 1 : width - 1 + n_out])
    return many


class TrailingRange:
    """The largest per-column range (max - min) over each stream row's window of ``width`` rows.

    NaN (a gap) anywhere in a window makes its range NaN. Of the rows seen it keeps
    only what later windows need: for each of the last ``width - 1`` rows the maximum
    and minimum of it and every row after it. These suffix extremes give each later
    window's extremes exactly (a window holding row ``i`` holds every kept row after
    it): the window ending at the ``j``-th of fewer than ``width`` new rows is kept row
    ``j``'s extreme and the new rows' running extreme up to ``j``, two vector operations
    per packet whatever the width; ``width`` new rows or more go by van Herk/Gil-Werman
    (``_window_extremes``). Being staircases, the suffix extremes go into a snapshot as
    a few runs instead of ``width`` rows. Before ``width - 1`` rows were seen the
    missing ones count as a gap (NaN).

    Args:
        width: Window length in rows (>= 1).
        columns: Values per row.

    >>> r = TrailingRange(2, 1)
    >>> r.push(np.array([[0.0], [2.0], [1.0]])).tolist(), r.push(np.array([[5.0], [np.nan], [4.0]])).tolist()
    ([nan, 2.0, 1.0], [4.0, nan, nan])
    """

    def __init__(self, width: int, columns: int) -> None:
        self.width = width
        self.columns = columns
        # The suffix maxima, then the negated suffix minima: max(-a, -b) is -min(a, b)
        # exactly, NaN included, so one set of maximum operations keeps both.
        self._ext = np.full((2 * columns, width - 1), np.nan)

    @property
    def high(self) -> NDArray[np.float64]:
        """Suffix maxima of the last ``width - 1`` rows, shape (c, width - 1)."""
        return self._ext[: self.columns]

    @property
    def low(self) -> NDArray[np.float64]:
        """Suffix minima of the last ``width - 1`` rows, shape (c, width - 1)."""
        low: NDArray[np.float64] = -self._ext[self.columns :]
        return low

    def push(self, rows: NDArray[np.float64]) -> NDArray[np.float64]:
        """Add rows shape (m, c); return the range of the window ending at each, shape (m,)."""
        if rows.shape[0] == 0:
            return np.zeros(0)
        new = np.concatenate((rows.T, -rows.T))
        m = new.shape[1]
        c = self.columns
        if m < self.width:
            ext = np.maximum(self._ext[:, :m], np.maximum.accumulate(new, axis=1))
        else:
            ext = _window_extremes(np.concatenate([self._ext, new], axis=1), self.width, np.maximum)
        spread: NDArray[np.float64] = (ext[:c] + ext[c:]).max(axis=0)  # high - low
        self._ext = self._kept(self._ext, new)
        return spread

    @staticmethod
    def push_all(ranges: Sequence[TrailingRange], rows: NDArray[np.float64]) -> list[NDArray[np.float64]]:
        """``push`` the same rows to several ranges of as many columns; their ranges in turn.

        Fewer new rows than a range's ``width - 1`` (a live packet's) share the running
        extremes forward and backward, found once for all the ranges; each range then
        adds the same maximum operations as ``push``, so the values are the same.
        """
        m = rows.shape[0]
        if m == 0 or any(m >= r.width - 1 for r in ranges):
            return [r.push(rows) for r in ranges]
        new = np.concatenate((rows.T, -rows.T))
        running = np.maximum.accumulate(new, axis=1)
        ahead = np.maximum.accumulate(new[:, ::-1], axis=1)[:, ::-1]
        spreads = []
        for r in ranges:
            c = r.columns
            ext = np.maximum(r._ext[:, :m], running)
            spreads.append((ext[:c] + ext[c:]).max(axis=0))
            r._ext = np.concatenate([np.maximum(r._ext[:, m:], ahead[:, :1]), ahead], axis=1)
        return spreads

    def _kept(self, kept: NDArray[np.float64], new: NDArray[np.float64]) -> NDArray[np.float64]:
        """The suffix extremes of the last ``width - 1`` rows once ``new`` (2c, m) came after ``kept``."""
        m = new.shape[1]
        ahead = np.maximum.accumulate(new[:, ::-1], axis=1)[:, ::-1]  # of each new row and the ones after it
        if m >= self.width - 1:
            return np.ascontiguousarray(ahead[:, m - (self.width - 1) :])
        return np.concatenate([np.maximum(kept[:, m:], ahead[:, :1]), ahead], axis=1)

    def snapshot(self) -> dict[str, Any]:
        """Return the JSON-serialisable state: the runs of equal suffix extremes, packed.

        ``{"runs": packed (value, length) pairs}``, row after row of the suffix maxima
        and the negated suffix minima (:mod:`analysis.packing`).
        """
        values, lengths = _row_runs(self._ext)
        return {"runs": packed_columns(np.column_stack((values, lengths)))}

    def load(self, state: dict[str, Any]) -> None:
        """Restore the state saved by ``snapshot()`` (or, from before, per column ``[value or None, count]`` runs).

        Raises:
            ValueError: The runs do not fill the rows.
        """
        shape = (2 * self.columns, self.width - 1)
        if "runs" in state:
            runs = unpacked(state["runs"], 2)
            lengths = runs[:, 1]
            if not (np.all(lengths >= 1) and np.all(lengths == np.round(lengths))) or lengths.sum() != math.prod(shape):
                raise ValueError(
                    f"runs of lengths summing to {lengths.sum():g} cannot fill {shape[0]} rows of {shape[1]}"
                )
            self._ext = np.repeat(runs[:, 0], lengths.astype(np.int64)).reshape(shape)
            return
        half = (self.columns, self.width - 1)
        high = np.array([_unruns(col) for col in state["high"]], dtype=np.float64).reshape(half)
        low = np.array([_unruns(col) for col in state["low"]], dtype=np.float64).reshape(half)
        self._ext = np.concatenate((high, -low))


def _row_runs(values: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Each row's runs of equal values (NaN equal to NaN), row after row: their values and lengths.

    >>> v, n = _row_runs(np.array([[1.0, 1.0, np.nan], [np.nan, np.nan, 2.0]]))
    >>> v.tolist(), n.tolist()
    ([1.0, nan, nan, 2.0], [2, 1, 2, 1])
    """
    width = values.shape[1]
    if width == 0:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    nan = np.isnan(values)
    starts = np.ones(values.shape, dtype=np.bool_)
    starts[:, 1:] = (values[:, 1:] != values[:, :-1]) & ~(nan[:, 1:] & nan[:, :-1])
    row, col = np.nonzero(starts)  # row by row, left to right
    ends = np.append(col[1:], width)
    ends[np.flatnonzero(row[1:] != row[:-1])] = width  # a row's last run ends with the row
    return values[row, col], ends - col


def _unruns(runs: list[list[Any]]) -> list[float]:
    return [math.nan if v is None else float(v) for v, n in runs for _ in range(int(n))]


def majority(labels: NDArray[np.int64], half: int, n_codes: int) -> NDArray[np.int64]:
    """Centred majority filter; ties keep the centre label.

    Args:
        labels: Codes ``0 .. n_codes-1`` with ``half`` context rows each side (-1 =
            padding), shape (m,).
        half: Half-width of the filter.
        n_codes: Number of codes.

    Returns:
        Filtered codes for the inner rows, shape (m - 2*half,).

    >>> majority(np.array([-1, 0, 3, 0, 0, -1]), 1, 6).tolist()
    [0, 0, 0, 0]
    """
    centre = labels[half : labels.shape[0] - half]
    if labels.shape[0] and labels.min() == labels.max() >= 0:
        return centre.copy()  # one posture throughout, as most of the time
    width = 2 * half + 1
    onehot = (labels[:, None] == np.arange(n_codes)[None, :]).astype(np.int64)
    # Integer counts per window from a running count: exact, unlike float sums.
    running = np.concatenate([np.zeros((1, n_codes), dtype=np.int64), np.cumsum(onehot, axis=0)])
    counts = running[width:] - running[:-width]
    best = counts.argmax(axis=1)
    centre_count = np.take_along_axis(counts, np.maximum(centre, 0)[:, None], axis=1)[:, 0]
    keep = (centre >= 0) & (centre_count == counts.max(axis=1))
    return np.asarray(np.where(keep, centre, best), dtype=np.int64)
