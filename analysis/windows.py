"""Sliding-window reductions over frames: centred sums, trailing spread, majority filter.

Each output row depends only on the rows of its own window, never on where a chunk
started, so the streaming posture tracker gives the same values live and in batch.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["centred_sums", "majority", "trailing_spread"]


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


def trailing_spread(rows: NDArray[np.float64], width: int) -> NDArray[np.float64]:
    """Largest per-column range (max - min) over each window of ``width`` consecutive rows.

    Running maximum and minimum by van Herk/Gil-Werman (van Herk 1992, Pattern Recognit
    Lett 13(7):517-521, doi:10.1016/0167-8655(92)90069-C; Gil and Werman 1993, IEEE
    Trans Pattern Anal Mach Intell 15(5):504-507, doi:10.1109/34.211471): the rows are
    cut into blocks of ``width``; a window spans the end of one block and the start of
    the next, so its maximum is the larger of a suffix maximum and a prefix maximum,
    both found for all rows with one ``np.maximum.accumulate`` each. Three comparisons
    per row and column instead of ``width``, and the same values as a direct maximum:
    NaN (a gap) anywhere in a window makes its range NaN.

    Args:
        rows: Shape (m, c).
        width: Window length in rows (>= 1).

    Returns:
        Shape (max(0, m - width + 1),): the range of the window ``rows[i : i + width]``.

    >>> x = np.array([[0.0], [2.0], [1.0], [5.0], [np.nan], [4.0]])
    >>> trailing_spread(x, 2).tolist()
    [2.0, 1.0, 4.0, nan, nan]
    """
    m, c = rows.shape
    n_out = m - width + 1
    if n_out <= 0:
        return np.zeros(0)
    if n_out * _FEW <= width:
        return _few_windows(rows, width, n_out)
    blocks = -(-m // width)
    # One contiguous row of blocks per column: the accumulations run along memory.
    columns = np.zeros((c, blocks * width))
    columns[:, :m] = rows.T
    padded = columns.reshape(c, blocks, width)
    flipped = padded[:, :, ::-1]
    extremes = []
    for pick in (np.maximum, np.minimum):
        prefix = pick.accumulate(padded, axis=2).reshape(c, -1)
        suffix = pick.accumulate(flipped, axis=2)[:, :, ::-1].reshape(c, -1)
        # Window i covers i .. i+width-1: the suffix of i's block and the prefix up to
        # i+width-1 in the next (the same block when i starts one).
        extremes.append(pick(suffix[:, :n_out], prefix[:, width - 1 : width - 1 + n_out]))
    spread: NDArray[np.float64] = (extremes[0] - extremes[1]).max(axis=0)
    return spread


# Up to width / _FEW windows (a live packet's frames after a long window) are
# measured around the rows they all share, reduced once.
_FEW = 8


def _few_windows(rows: NDArray[np.float64], width: int, n_out: int) -> NDArray[np.float64]:
    """``trailing_spread`` of a few windows: the rows all of them hold, then their own ends.

    Window ``i`` holds ``rows[i : n_out - 1]`` (only the earlier windows have these),
    ``rows[n_out - 1 : width]`` (all of them) and ``rows[width : width + i]`` (only the
    later ones): a suffix extreme of the first part, one reduction of the shared part
    and a prefix extreme of the last, the same values as the windows' own extremes.
    """
    # One contiguous row per column: reductions along memory run several times faster.
    columns = np.ascontiguousarray(rows.T)
    head, shared, tail = columns[:, : n_out - 1], columns[:, n_out - 1 : width], columns[:, width:]
    extremes = []
    for pick, fill in ((np.maximum, -np.inf), (np.minimum, np.inf)):
        edge = np.full((columns.shape[0], 1), fill)
        ahead = np.concatenate([pick.accumulate(head[:, ::-1], axis=1)[:, ::-1], edge], axis=1)
        behind = np.concatenate([edge, pick.accumulate(tail, axis=1)], axis=1)
        extremes.append(pick(pick(ahead, behind), pick.reduce(shared, axis=1)[:, None]))
    spread: NDArray[np.float64] = (extremes[0] - extremes[1]).max(axis=0)
    return spread


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
