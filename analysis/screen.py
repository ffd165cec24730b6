"""The looks that surely get no label, found from block summaries (``analysis.recognition``).

Most looks end at the first tests of :func:`analysis.looks.classify_window` (a gap, a
still window, gait) or in a posture that no label allows. :class:`BlockScreen` finds
those from summaries of the 2-s blocks of frames, each summarised once when it closes,
and the recogniser calls ``classify_window`` only for the others, with the same events
as classifying every look (``docs/recognition.md``, cost). The boxes of directions it
finds, and the postures they rule out, are in ``analysis.direction_boxes``.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from analysis.direction_boxes import direction_box, direction_boxes, off_hook_without_axis, off_posture, off_postures
from analysis.frames import N_ACC_STATS
from analysis.looks import SMOOTH_FRAMES, RecognitionTuning, unit

__all__ = ["AxisAt", "BlockScreen", "Screen", "off_hook_without_axis", "off_posture", "off_postures"]

# -- screening: the looks that surely get no label, found for many looks at once ----------
#
# Most looks end at the first tests of ``classify_window`` (a gap, a still window, gait) or
# in a posture that no label allows. ``BlockScreen`` finds those from summaries of the
# 2-s blocks of frames, each found once (5-frame sums and block sums over the frames
# with samples), and ``ExerciseRecognizer`` calls ``classify_window`` only for the others. The screen's
# sums are not the ones ``classify_window`` rounds (it sums each window from its own
# start), so each test rejects only with a margin far above the rounding error (below
# 1e-10 of the values: 300 additions), and a look near a threshold goes to
# ``classify_window``: the events are those of ``classify_window`` on every look.

#: Relative margin of the screen's tests over the rounding of the sums they compare.
_SCREEN_MARGIN = 1e-8
#: Most blocks an update summarises in plain floats, and so screens its looks in them:
#: the worker often analyses a few packets of a wearer at once (two blocks closing in
#: 25 frames), where numpy's fixed cost per call is more than the arithmetic.
_FEW_BLOCKS = 3


def _gait_blocks(
    blocks: NDArray[np.float64], frame_s: float, tuning: RecognitionTuning
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Whether each block of frames is surely gait and whether it may be (``is_gait``'s test of one block).

    Args:
        blocks: Count, sum |a| and sum |a|^2 of each frame (all with samples), shape (b, block, 3).
        frame_s: Frame length, s.
        tuning: Thresholds.

    Returns:
        ``(sure, maybe)``, each shape (b,): a block near the shake threshold, or whose
        frame |a| lies at its mean, is not sure but maybe.
    """
    sums = blocks.sum(axis=1)
    mean = sums[:, 1] / sums[:, 0]
    second = sums[:, 2] / sums[:, 0]
    var = second - mean * mean
    slack = _SCREEN_MARGIN * second + 1e-15
    mag = blocks[:, :, 1] / blocks[:, :, 0]
    centre = mag.mean(axis=1, keepdims=True)
    off = mag - centre
    unsure = np.any(np.abs(off) <= _SCREEN_MARGIN * np.abs(centre) + 1e-15, axis=1)
    above = off > 0
    crossings = np.count_nonzero(above[:, 1:] != above[:, :-1], axis=1)
    cadence = crossings >= 2 * 1.4 * blocks.shape[1] * frame_s
    limit = tuning.max_shake_g**2
    return (var > limit + slack) & cadence & ~unsure, (var > limit - slack) & (cadence | unsure)


class AxisAt:
    """The long axis as it stood at a look: its running sum and weight, read when needed.

    Args:
        total: Running sum of gait directions, shape (3,) (not changed afterwards: learning replaces it).
        weight: Its weight.
    """

    __slots__ = ("_axis", "total", "weight")

    def __init__(self, total: NDArray[np.float64], weight: float) -> None:
        self.total = total
        self.weight = weight
        self._axis: tuple[NDArray[np.float64] | None, tuple[float, float, float] | None] | None = None

    def _read(self) -> tuple[NDArray[np.float64] | None, tuple[float, float, float] | None]:
        if self._axis is None:
            axis = None
            if self.weight >= 3.0:  # three looks ending in 2 s of gait
                norm = float(np.linalg.norm(self.total))
                axis = None if norm == 0 else self.total / norm
            self._axis = (axis, None if axis is None else (float(axis[0]), float(axis[1]), float(axis[2])))
        return self._axis

    @property
    def axis(self) -> NDArray[np.float64] | None:
        """The unit long axis, shape (3,), or None before it is learned."""
        return self._read()[0]

    @property
    def floats(self) -> tuple[float, float, float] | None:
        """The same as floats."""
        return self._read()[1]


@dataclass(frozen=True, slots=True)
class Screen:
    """What the screen found for the looks of an update.

    Attributes:
        empty: Per look, whether it surely gets no label (a gap, still, gait).
        boxes: For the other looks (by position), a box ``(high, low)`` holding every
            smoothed gravity direction of the window, so its resting direction.
        learn: Per look, what its last block teaches about the long axis: 0 nothing, 1
            gait (``units`` holds its direction), 2 unsure (``_learn_gait`` decides).
        units: Unit mean acceleration of the last block of each look that learns, by position.
        box_array: The boxes of all looks in rows ``(high, low)``, shape (h, 6), when
            many looks were screened at once (then ``boxes`` is empty).
        gappy: Positions of the looks not empty whose windows have frames without samples
            (gait is not screened there: ``is_gait`` reads its blocks from the first frame with samples).
    """

    empty: list[bool]
    boxes: dict[int, tuple[list[float], list[float]]]
    learn: list[int]
    units: dict[int, NDArray[np.float64]]
    gappy: set[int]
    box_array: NDArray[np.float64] | None = None


class BlockScreen:
    """Summaries of the hop-long blocks of frames that the looks of a window read.

    A window is ``per_window`` consecutive blocks (or fewer at the start of a segment).
    Each block is summarised once, when it closes, in one row of :data:`_COLUMNS`: the
    extremes of the smoothed means (5 consecutive frames with samples, as
    ``classify_window`` smooths) that end in it, the largest |component| of their
    frames, its frames with samples, whether it is surely or maybe gait, and its sums.
    A window's smoothed means all end in its blocks, so the extremes over its blocks
    bound them (those that begin before the window widen the bounds a little: the
    screen stays sound). Many blocks at once (batch) go through numpy, one or two (a
    live packet) through plain floats, whose cost does not grow with the window.
    Nothing here goes into a snapshot: it is found again from the buffer after ``load``.

    Args:
        hop: Frames per block (the hop, also ``is_gait``'s block).
        per_window: Blocks per window.
        frame_s: Frame length, s.
        tuning: Thresholds.
    """

    def __init__(self, hop: int, per_window: int, frame_s: float, tuning: RecognitionTuning) -> None:
        self.hop = hop
        self.per_window = per_window
        self.frame_s = frame_s
        self.tuning = tuning
        self.next_i: int | None = None  # index of the next block to summarise (from the segment start)
        self.last: list[list[float]] = []  # the latest blocks, up to a window of them
        self.lines: NDArray[np.float64] | None = None  # all blocks of the last update, if many

    def extend(self, rows: NDArray[np.float64], k_first: int, k_start: int) -> None:
        """Summarise the blocks closed in ``rows`` (frame sums from frame ``k_first``; segment from ``k_start``)."""
        hop = self.hop
        self.lines = None
        if self.next_i is None:  # a fresh segment, or after load: from the first whole block in the buffer
            self.next_i = -(-(k_first - k_start) // hop)
            self.last = [_NEUTRAL] * (self.per_window - 1)
        first_row = k_start + self.next_i * hop - k_first
        nb = (rows.shape[0] - first_row) // hop
        if nb <= 0:
            return
        del self.last[: len(self.last) - (self.per_window - 1)]  # the blocks earlier than the next window's
        few = self._few(rows, first_row, nb)
        if few is not None:
            self.last.extend(few)
        else:
            new = _summarise(rows, first_row, nb, hop, frame_s=self.frame_s, tuning=self.tuning)
            self.lines = np.concatenate((np.array(self.last).reshape(-1, _COLUMNS), new))
            self.last.extend(new[-self.per_window :].tolist())
            del self.last[: len(self.last) - self.per_window]
        self.next_i += nb

    def _few(self, rows: NDArray[np.float64], first_row: int, nb: int) -> list[list[float]] | None:
        """The summaries of the ``nb`` blocks from ``rows[first_row]`` in plain floats, or None (numpy's)."""
        if nb > _FEW_BLOCKS:
            return None
        if first_row >= SMOOTH_FRAMES - 1:
            whole = self._whole(rows, first_row, nb)
            if whole is not None:
                return whole
        lines = []
        for b in range(nb):
            line = self._one(rows, first_row + b * self.hop)
            if line is None:
                return None
            lines.append(line)
        return lines

    def _whole(self, rows: NDArray[np.float64], first_row: int, nb: int) -> list[list[float]] | None:
        """:meth:`_few` of blocks whose frames, and the 4 before them, all have samples; None if some have none.

        Their smoothed means are summed for all the blocks at once (as :meth:`_one` sums
        one block's), the rest block by block in plain floats.
        """
        hop, before = self.hop, SMOOTH_FRAMES - 1
        part = rows[first_row - before : first_row + nb * hop]
        cols = part.T.tolist()
        counts = cols[0]
        if min(counts) <= 0:
            return None
        blocks = _sums5(part).reshape(nb, hop, 3)
        highs = (blocks.max(axis=1) / SMOOTH_FRAMES).tolist()
        lows = (blocks.min(axis=1) / SMOOTH_FRAMES).tolist()
        mag = list(map(operator.truediv, cols[4], counts))  # each frame's mean |a|
        lines = []
        for b in range(nb):
            a, z = before + b * hop, before + (b + 1) * hop  # the block's frames in part
            amax = max(mag[a - before : z])  # a frame's mean |a| bounds each component of its mean
            sure, maybe = self._gait_one(counts[a:z], cols[4][a:z], cols[5][a:z], mag[a:z])
            sums = part[a:z].sum(axis=0).tolist() if sure else [0.0] * N_ACC_STATS  # those _learn_gait takes
            lines.append([*highs[b], *lows[b], amax, float(hop), float(sure), float(maybe), *sums])
        return lines

    def _one(self, rows: NDArray[np.float64], first_row: int) -> list[float] | None:
        """The summary of the block at ``rows[first_row:]`` in plain floats, or None to leave it to numpy.

        The loops run in ``map`` (a few hundred floats: numpy's overhead per call is more
        than their arithmetic), adding in the order of :func:`_summarise`'s smoothing.
        """
        hop = self.hop
        before = min(first_row, SMOOTH_FRAMES - 1)
        part = rows[first_row - before : first_row + hop]
        cols = part.T.tolist()
        counts = cols[0]
        count = hop
        gaps = min(counts) <= 0
        if gaps:  # frames without samples: keep the others
            count = len([c for c in counts[before:] if c > 0])
            keep = [i for i, c in enumerate(counts) if c > 0]
            if first_row > before and len(keep) - count < SMOOTH_FRAMES - 1:
                return None  # the smoothed means may reach further back
            cols = [[col[i] for i in keep] for col in cols]
            counts = cols[0]
        # Sums of 5 consecutive sampled frames (within the margin of classify_window's),
        # of those that end in the block.
        ending = min(count, len(counts) - SMOOTH_FRAMES + 1)
        high, low, amax = [-math.inf] * 3, [math.inf] * 3, 0.0
        mag = list(map(operator.truediv, cols[4], counts))  # each frame's mean |a|
        if ending > 0 and not gaps:  # the three components at once: the same sums, in the same order
            tail5 = _sums5(part)[-ending:]
            high, low = (tail5.max(axis=0) / SMOOTH_FRAMES).tolist(), (tail5.min(axis=0) / SMOOTH_FRAMES).tolist()
            amax = max(mag)  # a frame's mean |a| bounds each component of its mean
        elif ending > 0:
            for c in range(3):
                v = list(map(operator.truediv, cols[c + 1], counts))
                five: Iterable[float] = v
                for k in range(1, SMOOTH_FRAMES):
                    five = map(operator.add, five, v[k:])
                tail = list(five)[-ending:]
                high[c], low[c] = max(tail) / SMOOTH_FRAMES, min(tail) / SMOOTH_FRAMES
            amax = max(mag)
        sure = maybe = False
        sums = [0.0] * N_ACC_STATS
        if count == hop:
            sure, maybe = self._gait_one(counts[-hop:], cols[4][-hop:], cols[5][-hop:], mag[-hop:])
            if sure:  # the sums _learn_gait would take
                sums = rows[first_row : first_row + hop].sum(axis=0).tolist()
        return [*high, *low, amax, float(count), float(sure), float(maybe), *sums]

    def _gait_one(self, counts: list[float], s4: list[float], s5: list[float], mag: list[float]) -> tuple[bool, bool]:
        """:func:`_gait_blocks` of one whole block in plain floats: surely gait, maybe gait.

        From its frames' counts, sums of |a| (``s4``) and of |a|^2 (``s5``) and mean |a| (``mag``).
        """
        s0 = sum(counts)
        mean, second = sum(s4) / s0, sum(s5) / s0
        slack = _SCREEN_MARGIN * second + 1e-15
        limit = self.tuning.max_shake_g**2
        var = second - mean * mean
        if not var > limit - slack:  # not shaken enough to be gait, whatever the cadence
            return False, False
        centre = sum(mag) / len(mag)
        unsure = min([abs(v - centre) for v in mag]) <= _SCREEN_MARGIN * abs(centre) + 1e-15
        above = [v > centre for v in mag]
        crossings = sum(map(operator.ne, above, above[1:]))
        cadence = crossings >= 2 * 1.4 * len(mag) * self.frame_s
        return var > limit + slack and cadence and not unsure, cadence or unsure

    def looks(self, ends_k: list[int], lengths: list[int], k_start: int) -> Screen:
        """Screen the looks whose windows end at frames ``ends_k`` and hold ``lengths`` frames."""
        size = len(self.last) if self.lines is None else self.lines.shape[0]
        first_i = (self.next_i or 0) - size
        last = [(k - k_start) // self.hop - 1 - first_i for k in ends_k]  # each window's last block
        if self.lines is None:  # the blocks of a few looks: in plain floats
            screen = Screen([], {}, [], {}, set())
            for j, (i, frames) in enumerate(zip(last, lengths, strict=True)):
                self._look_one(screen, j, i, frames)
            return screen
        lines = np.array(self.last) if self.lines is None else self.lines
        t = self.tuning
        at = np.asarray(last)[:, None] - np.arange(self.per_window)
        length = np.asarray(lengths)
        have = lines[at, _C_COUNT].sum(axis=1)
        empty = have < np.maximum(t.min_valid * length, 2 * SMOOTH_FRAMES)
        # Every smoothed mean of a window lies in its blocks' extremes, each within err of classify_window's.
        err = _SCREEN_MARGIN * (1.0 + lines[at, _C_AMAX].max(axis=1))
        high = lines[at, :3].max(axis=1) + err[:, None]
        low = lines[at, 3:6].min(axis=1) - err[:, None]
        span = np.sqrt(np.square(high - low).sum(axis=1))
        empty |= span < math.radians(t.tilt_min_deg) - 4 * err
        walked = np.count_nonzero(lines[at, _C_SURE] > 0, axis=1)
        empty |= (have == length) & (walked >= np.minimum(2, length // self.hop))
        tail = lines[last]
        full = tail[:, _C_COUNT] == self.hop
        learn = np.where(full & (tail[:, _C_SURE] > 0), 1, np.where(full & (tail[:, _C_MAYBE] > 0), 2, 0))
        walk = np.flatnonzero(learn == 1)
        units = dict(zip(walk.tolist(), unit(tail[walk, _C_SUMS + 1 : _C_SUMS + 4]), strict=True)) if walk.size else {}
        keep = np.flatnonzero(~empty)
        gappy = set(keep[have[keep] < length[keep]].tolist())
        return Screen(empty.tolist(), {}, learn.tolist(), units, gappy, np.hstack(direction_boxes(high, low)))

    def _look_one(self, screen: Screen, j: int, i: int, length: int) -> None:
        """Add to ``screen``, in plain floats, what ``looks`` finds for its look ``j`` (last block ``self.last[i]``)."""
        t = self.tuning
        blocks = self.last[i + 1 - self.per_window : i + 1]
        cols = list(itertools.islice(zip(*blocks, strict=True), _C_SURE + 1))  # the columns read here
        have = sum(cols[_C_COUNT])
        sure = sum(cols[_C_SURE])
        err = _SCREEN_MARGIN * (1.0 + max(cols[_C_AMAX]))
        high = [max(cols[0]) + err, max(cols[1]) + err, max(cols[2]) + err]
        low = [min(cols[3]) - err, min(cols[4]) - err, min(cols[5]) - err]
        span = math.sqrt((high[0] - low[0]) ** 2 + (high[1] - low[1]) ** 2 + (high[2] - low[2]) ** 2)
        empty = (
            have < max(t.min_valid * length, 2 * SMOOTH_FRAMES)
            or span < math.radians(t.tilt_min_deg) - 4 * err
            or (have == length and sure >= min(2, length // self.hop))
        )
        tail = blocks[-1]
        learn = 0
        if tail[_C_COUNT] == self.hop:
            learn = 1 if tail[_C_SURE] > 0 else 2 if tail[_C_MAYBE] > 0 else 0
        screen.empty.append(empty)
        screen.learn.append(learn)
        if learn == 1:
            screen.units[j] = unit(np.array(tail[_C_SUMS + 1 : _C_SUMS + 4]))
        if not empty:
            screen.boxes[j] = direction_box(high, low)
            if have < length:
                screen.gappy.add(j)


def _sums5(part: NDArray[np.float64]) -> NDArray[np.float64]:
    """Sums of the mean accelerations of 5 consecutive frames of ``part`` (all with samples), shape (m - 4, 3).

    They are added in the order of :func:`_summarise`'s smoothing, so each is that sum to the bit.
    """
    means = part[:, 1:4] / part[:, :1]
    n = means.shape[0] - SMOOTH_FRAMES + 1
    sums5 = means[:n] + means[1 : n + 1]
    for k in range(2, SMOOTH_FRAMES):
        sums5 += means[k : k + n]
    return sums5


#: Columns of a block summary: smoothed-mean maxima (3) and minima (3), largest
#: |component|, frames with samples, surely gait, maybe gait, sums (N_ACC_STATS).
_COLUMNS = 10 + N_ACC_STATS
_C_AMAX, _C_COUNT, _C_SURE, _C_MAYBE, _C_SUMS = 6, 7, 8, 9, 10
#: The summary of a block before the segment: no frames, bounds that widen nothing.
_NEUTRAL = [-math.inf] * 3 + [math.inf] * 3 + [0.0] * (_COLUMNS - 6)


def _summarise(
    rows: NDArray[np.float64], first_row: int, nb: int, hop: int, *, frame_s: float, tuning: RecognitionTuning
) -> NDArray[np.float64]:
    """Summaries of the ``nb`` blocks of ``hop`` rows from ``first_row``, shape (nb, _COLUMNS)."""
    end = first_row + nb * hop
    blocks = rows[first_row:end].reshape(nb, hop, N_ACC_STATS)
    out = np.zeros((nb, _COLUMNS))
    out[:, :3], out[:, 3:6] = -np.inf, np.inf
    count = np.count_nonzero(blocks[:, :, 0] > 0, axis=1)
    out[:, _C_COUNT] = count
    out[:, _C_SUMS:] = blocks.sum(axis=1)
    full = np.flatnonzero(count == hop)
    if full.size:
        sure, maybe = _gait_blocks(blocks[full][:, :, [0, 4, 5]], frame_s, tuning)
        out[full, _C_SURE], out[full, _C_MAYBE] = sure, maybe
    # Smoothed means ending in the blocks, from the frames with samples before them.
    sampled = np.flatnonzero(rows[:end, 0] > 0)
    p0 = max(int(np.searchsorted(sampled, first_row)), SMOOTH_FRAMES - 1)
    if p0 >= sampled.size:
        return out
    take = sampled[p0 - SMOOTH_FRAMES + 1 :]
    acc = rows[take, 1:4] / rows[take, :1]
    n = acc.shape[0] - SMOOTH_FRAMES + 1
    smooth = acc[:n].copy()
    for k in range(1, SMOOTH_FRAMES):
        smooth += acc[k : k + n]
    smooth /= SMOOTH_FRAMES
    size = np.maximum(np.maximum(np.abs(acc[:, 0]), np.abs(acc[:, 1])), np.abs(acc[:, 2]))
    group = size[:n].copy()  # largest |component| over each smoothed mean's frames
    for k in range(1, SMOOTH_FRAMES):
        np.maximum(group, size[k : k + n], out=group)
    owner = (sampled[p0:] - first_row) // hop
    cuts = np.searchsorted(owner, np.arange(nb))
    has = np.flatnonzero(cuts < np.append(cuts[1:], n))
    out[has, :3] = np.maximum.reduceat(smooth, cuts[has], axis=0)
    out[has, 3:6] = np.minimum.reduceat(smooth, cuts[has], axis=0)
    out[has, _C_AMAX] = np.maximum.reduceat(group, cuts[has])
    return out
