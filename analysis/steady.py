"""One chunk of frames prepared for the decider: kinds, runs and per-frame inputs at once.

``analysis.decision.PostureDecider`` is a state machine over frames, but most of a day
is steady: hours of a sensor on the nightstand, of sitting still, of walking. What a
frame needs that does not depend on the decider's state is computed here for the
whole chunk with array operations: its kind (gap, motionless, walking-like, still or
moving while worn), where each run of one kind ends, its |a| with gaps filled, whether
it moved since half a second before, and whether a walking run's |a| oscillates at a
walking cadence. The decider then takes a steady run in one step and keeps its
frame-by-frame logic for what happens between runs (transitions).

Each value here is computed element by element in the same way whatever the chunk,
so a frame gets the same inputs live (a packet at a time) and in batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from analysis.angles import angles_deg, beyond_deg

__all__ = ["GAP", "MOVING", "QUIET", "STILL", "WALKLIKE", "ChunkFrames", "first_true", "gait_windows"]

_SHORT = 32  # chunks up to this many frames take plain loops

# Frame kinds, in the order the decider tests them.
GAP = 0  # no samples in the gravity window
QUIET = 1  # motionless over the whole non-wear window, and still
WALKLIKE = 2  # movement intensity above the walking threshold
STILL = 3  # worn, still and not turned since half a second before
MOVING = 4  # worn, moving or turned


@dataclass(frozen=True, slots=True)
class ChunkFrames:
    """Per-frame inputs of one chunk (see the module docstring).

    The frames that have data form, after the decider's history (the last frames of
    earlier chunks), one sequence ``seq_m``/``seq_u``; ``pos`` maps a frame of the
    chunk to its place in it.

    Attributes:
        kind: Frame kind (``GAP`` ... ``MOVING``), shape (n,).
        run_end: Index one past the run of equal kinds holding each frame, shape (n,).
        pos: Index of each frame in the sequence (gaps: the next frame's), shape (n,).
        seq_m: |a| of the sequence, g, a missing value replaced by the one before
            (1 g without any), shape (h + d,).
        seq_u: Gravity direction of the sequence, unit vectors, shape (h + d, 3).
    """

    kind: NDArray[np.int8]
    run_end: list[int]
    pos: NDArray[np.int64]
    seq_m: NDArray[np.float64]
    seq_u: NDArray[np.float64]

    @classmethod
    def build(
        cls,
        history_m: NDArray[np.float64],
        history_u: NDArray[np.float64],
        *,
        has_data: NDArray[np.bool_],
        unit: NDArray[np.float64],
        sd: NDArray[np.float64],
        mag: NDArray[np.float64],
        quiet: NDArray[np.bool_],
        walk_sd_g: float,
        still_sd_g: float,
        move_deg: float,
        move_lag: int,
    ) -> ChunkFrames:
        """Prepare a chunk.

        Args:
            history_m: |a| of the latest earlier frames with data, g, shape (h,).
            history_u: Their gravity directions, unit vectors, shape (h, 3).
            has_data: Whether the frame's gravity window holds samples, shape (n,).
            unit: Gravity direction, unit vectors, shape (n, 3).
            sd: Movement intensity, g, shape (n,).
            mag: Mean |a| of the frame itself, g (NaN without samples), shape (n,).
            quiet: Whether the non-wear window ending at the frame is motionless (its 1-s
                means stay within the non-wear range), shape (n,); a frame is ``QUIET`` only
                if it is also still (``sd <= still_sd_g``).
            walk_sd_g: Intensity above which a frame is walking-like, g.
            still_sd_g: Intensity up to which a frame is still, g.
            move_deg: Turn since ``move_lag`` frames before that makes a frame moving, deg.
            move_lag: Frames with data looked back for ``move_deg``.

        Returns:
            The prepared chunk.
        """
        h, n = history_m.shape[0], has_data.shape[0]
        gaps = not has_data.all()
        seq_m = np.concatenate((history_m, mag[has_data] if gaps else mag))
        seq_u = np.concatenate((history_u, unit[has_data] if gaps else unit))
        # A frame without samples of its own takes the |a| of the frame before (1 g first).
        missing = ~np.isfinite(seq_m)
        if missing.any():
            last = np.maximum.accumulate(np.where(missing, -1, np.arange(seq_m.size)))
            seq_m = np.where(last >= 0, seq_m[np.maximum(last, 0)], 1.0)
        # Moved: turned by move_deg since move_lag frames with data before (the very
        # first frame has nothing to compare with).
        back = np.maximum(np.arange(h - move_lag, seq_m.size - move_lag), 0)
        moved_new = angles_deg(seq_u[h:], seq_u[back]) > move_deg
        if h == 0 and moved_new.size:
            moved_new[0] = False
        if gaps:
            moved = np.zeros(n, dtype=np.bool_)
            moved[has_data] = moved_new
        else:
            moved = moved_new
        kind = np.where(sd > walk_sd_g, WALKLIKE, np.where((sd <= still_sd_g) & ~moved, STILL, MOVING)).astype(np.int8)
        # Non-wear needs both: 1-s means that stay put (``quiet``) and no movement
        # intensity. A gait whose stride lasts as long as the gravity window (a
        # cadence of 1.82 steps/s against the 1.1-s window) averages out of those
        # means: the office morning of ``firmware_sim`` at 50 Hz, seed 1, walked 112 s
        # of its 4-min walk with a 3.4 mg range and |a| varying by 0.26 g (SD).
        kind[quiet & (sd <= still_sd_g)] = QUIET
        if gaps:
            kind[~has_data] = GAP
            pos = h + np.cumsum(has_data) - has_data
        else:
            pos = np.arange(h, h + n)
        return cls(kind, _run_ends(kind), pos, seq_m, seq_u)

    @classmethod
    def build_few(
        cls,
        history_m: NDArray[np.float64],
        history_u: NDArray[np.float64],
        *,
        unit: list[tuple[float, float, float]],
        sd: list[float],
        mag: list[float],
        quiet: list[bool],
        walk_sd_g: float,
        still_sd_g: float,
        move_deg: float,
        move_lag: int,
    ) -> ChunkFrames | None:
        """``build`` for a live packet's few frames, all with data, given as plain lists.

        The same chunk as ``build``, frame by frame: the dot products of the turn are
        summed left to right as ``angles_deg`` sums them, and ``beyond_deg`` decides the
        turn as ``angles_deg`` would, so every kind is the same. None (use ``build``) for
        more than a few frames or when a frame has no |a| of its own to fill in.
        """
        n = len(unit)
        if n > _SHORT or any(math.isnan(m) for m in mag):  # a frame without samples of its own
            return None
        h = history_m.shape[0]
        seq_m = np.concatenate((history_m, mag))
        seq_u = np.concatenate((history_u, np.array(unit, dtype=np.float64).reshape(n, 3)))
        # Moved: turned by move_deg since move_lag frames with data before (seq index
        # max(p - move_lag, 0)); the rows looked back at are those of ``before``.
        first = max(0, h - move_lag)
        before: list[tuple[float, ...]] = [tuple(u) for u in history_u[first:].tolist()]
        before += unit
        cosines = []
        for j, (x, y, z) in enumerate(unit):
            bx, by, bz = before[max(h + j - move_lag, 0) - first]
            cosines.append(x * bx + y * by + z * bz)
        moved = beyond_deg(cosines, move_deg)
        if h == 0 and moved:
            moved[0] = False
        kinds = [
            QUIET
            if q and s <= still_sd_g
            else WALKLIKE
            if s > walk_sd_g
            else STILL
            if s <= still_sd_g and not mv
            else MOVING
            for s, q, mv in zip(sd, quiet, moved, strict=True)
        ]
        kind = np.array(kinds, dtype=np.int8)
        return cls(kind, _run_ends(kind), np.arange(h, h + n), seq_m, seq_u)

    def history(self, p: int, length: int) -> list[tuple[float, tuple[float, ...]]]:
        """The ``length`` frames with data before sequence index ``p``, oldest first."""
        a = max(0, p - length)
        return [(m, tuple(u)) for m, u in zip(self.seq_m[a:p].tolist(), self.seq_u[a:p].tolist(), strict=True)]


def _run_ends(kind: NDArray[np.int8]) -> list[int]:
    """Index one past the run of equal values holding each element.

    >>> _run_ends(np.array([1, 1, 3, 2, 2, 2], dtype=np.int8))
    [2, 2, 3, 6, 6, 6]
    """
    n = kind.shape[0]
    if n <= _SHORT:  # a live packet: a loop is quicker than array calls
        values = kind.tolist()
        ends = [n] * n
        for i in range(n - 2, -1, -1):
            ends[i] = ends[i + 1] if values[i] == values[i + 1] else i + 1
        return ends
    cuts = np.flatnonzero(kind[1:] != kind[:-1]) + 1
    run = np.zeros(n, dtype=np.int64)
    run[cuts] = 1
    run_end: list[int] = np.append(cuts, n)[np.cumsum(run)].tolist()
    return run_end


def first_true(flags: NDArray[np.bool_], n: int) -> int:
    """Index of the first true flag, or ``n`` if none is (where a steady run stops).

    >>> first_true(np.array([False, True, True]), 3), first_true(np.array([False]), 1)
    (1, 1)
    """
    return int(np.argmax(flags)) if flags.any() else n


def gait_windows(
    earlier_m: NDArray[np.float64], run_m: NDArray[np.float64], frame_s: float, min_cadence_hz: float
) -> NDArray[np.bool_]:
    """``reference.gait_like`` over the window ending at each frame of a run, at once.

    Args:
        earlier_m: |a| of the ``w - 1`` or more frames before the run, g (``w``: the
            window length, that is ``earlier_m``'s length), shape (w,).
        run_m: |a| of the run's frames, g, shape (r,).
        frame_s: Frame length in s.
        min_cadence_hz: Slowest step frequency taken for walking, steps/s.

    Returns:
        For each frame of the run, whether the last ``w`` frames up to it are gait-like,
        shape (r,). Window means are reduced row by row as ``np.mean`` reduces one
        window, so the result equals ``gait_like`` frame by frame.

    >>> t = np.arange(40) * 0.1
    >>> m = 1 + 0.3 * np.sin(2 * np.pi * 1.8 * t)
    >>> gait_windows(m[:30], m[30:], 0.1, 1.0).all()
    np.True_
    """
    w = earlier_m.shape[0]
    windows = sliding_window_view(np.concatenate([earlier_m, run_m]), w)[1:]
    above = windows > windows.mean(axis=-1)[:, None]
    crossings = np.count_nonzero(above[:, 1:] != above[:, :-1], axis=1)
    return np.asarray(crossings >= 2 * min_cadence_hz * w * frame_s, dtype=np.bool_)
