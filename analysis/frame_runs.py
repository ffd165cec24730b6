"""Runs of final frames: runs of equal posture codes, and the empty frames that make data gaps.

``BoutTracker`` (``analysis.bouts``) walks the final frames run by run
(:func:`code_runs`). A frame whose gravity window (``PostureTuning.gravity_window_s``)
holds no sample may be a ``DataGap`` rather than part of a posture bout. The sample
counts of frames are known before their postures are final, so :class:`GapFrames`
keeps the runs of frames without samples until the frames they reach are final, and
then says which of those frames are gaps.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["SHORT_FRAMES", "GapFrames", "code_runs"]

#: Frames up to which plain loops are quicker than array calls (a live packet's few frames).
SHORT_FRAMES = 32


def code_runs(codes: NDArray[np.int64]) -> list[tuple[int, int, int]]:
    """Runs of equal codes as ``(code, start, end)``, end exclusive.

    Args:
        codes: Per-frame codes, shape (m,), m >= 1.

    Returns:
        The runs in order; together they cover ``0 .. m``.

    >>> code_runs(np.array([3, 3, 1]))
    [(3, 0, 2), (1, 2, 3)]
    """
    if codes.size <= SHORT_FRAMES:
        values = codes.tolist()
        runs, a = [], 0
        for i in range(1, len(values)):
            if values[i] != values[i - 1]:
                runs.append((values[a], a, i))
                a = i
        runs.append((values[a], a, len(values)))
        return runs
    cuts = np.flatnonzero(np.diff(codes)) + 1
    starts = np.concatenate([[0], cuts]).tolist()
    ends = np.concatenate([cuts, [codes.size]]).tolist()
    return [(int(codes[a]), a, b) for a, b in zip(starts, ends, strict=True)]


class GapFrames:
    """The runs of frames without samples, and which final frames they make gaps.

    A frame is a gap frame when it lies at least ``half_frames`` inside a run of frames
    without samples: its gravity window holds no sample.

    >>> gaps = GapFrames(half_frames=1)
    >>> gaps.frames_closed(0, np.array([5.0, 0.0, 0.0, 0.0, 5.0]))
    >>> gaps.gaps(0, 5).tolist()
    [False, False, True, False, False]

    Args:
        half_frames: Half-width in frames of the gravity window.
    """

    def __init__(self, half_frames: int) -> None:
        self.half_frames = half_frames
        # Runs of frames without samples, [start, end) frame indices, that may still
        # make gap frames; every other frame counts as holding samples.
        self.empty_runs: list[list[int]] = []
        self.known_k = 0  # frames noted so far (the last run may go on after them)

    def frames_closed(self, k_first: int, counts: NDArray[np.float64]) -> None:
        """Note the sample count of closed frames, before their postures are final.

        Args:
            k_first: Index of the first frame, the one after those noted before.
            counts: Samples per frame, shape (m,), frames ``k_first`` on.
        """
        self.known_k = k_first + counts.size
        missing = counts <= 0
        if not missing.any():  # as almost always: two array operations
            return
        empty = np.flatnonzero(missing)
        cuts = np.flatnonzero(np.diff(empty) > 1)
        starts = (k_first + empty[np.concatenate([[0], cuts + 1])]).tolist()
        ends = (k_first + 1 + empty[np.concatenate([cuts, [empty.size - 1]])]).tolist()
        for a, b in zip(starts, ends, strict=True):
            if self.empty_runs and self.empty_runs[-1][1] == a:
                self.empty_runs[-1][1] = b  # the run goes on from the frames before
            else:
                self.empty_runs.append([a, b])

    def gaps(self, k_first: int, m: int) -> NDArray[np.bool_] | None:
        """Which frames ``k_first .. k_first+m-1`` have no sample in their gravity window.

        Those are the frames at least ``half_frames`` inside a run of frames without
        samples; the sample counts are known that far ahead of the final postures.
        Runs that can make no gap frame after these are forgotten.

        Args:
            k_first: Index of the first final frame, the one after those asked before.
            m: Number of final frames.

        Returns:
            Shape (m,), True for a gap frame; ``None`` when none is.
        """
        if not self.empty_runs:
            return None
        h, k_end = self.half_frames, k_first + m
        gap: NDArray[np.bool_] | None = None
        for a, b in self.empty_runs:
            lo, hi = max(a + h, k_first), min(b - h, k_end)
            if lo < hi:
                if gap is None:
                    gap = np.zeros(m, dtype=np.bool_)
                gap[lo - k_first : hi - k_first] = True
        # Runs that make no gap frame from the next frame on are done with, unless
        # they reach the last frame noted and may still go on.
        self.empty_runs = [run for run in self.empty_runs if run[1] - h > k_end or run[1] == self.known_k]
        return gap

    def snapshot(self) -> dict[str, Any]:
        """Return the JSON-serialisable state."""
        return {"empty_runs": [list(run) for run in self.empty_runs], "known_k": self.known_k}

    def load(self, state: dict[str, Any]) -> None:
        """Restore the state saved by ``snapshot()``; without it, no frame noted so far is a gap."""
        self.empty_runs = [[int(a), int(b)] for a, b in state.get("empty_runs", [])]
        self.known_k = int(state.get("known_k", 0))
