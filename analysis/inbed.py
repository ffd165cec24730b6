"""The main in-bed window of each noon-to-noon day, from changes of the sensor angle.

The method is HDCZA ("Heuristic algorithm looking at Distribution of Change in Z-Angle"):
van Hees et al. 2018, "Estimating sleep parameters using an accelerometer without sleep
diary", Sci Rep 8:12975, doi:10.1038/s41598-018-31266-z, as implemented in the R package
GGIR (github.com/wadpac/GGIR: ``R/HASPT.R``, the z-angle in ``R/g.applymetrics.R``). Its steps, and what sitless does:

1. The z-angle: the angle of the acceleration from the horizontal plane of the device,
   ``atan(az / sqrt(ax² + ay²))``, averaged per 5-s epoch. GGIR first takes a 5-s rolling
   median of each raw axis, then averages the per-sample angles over the epoch.
   **Simplification:** sitless takes the angle of the epoch's mean acceleration. Both are
   low-pass estimates of the gravity direction; they agree for a still sensor, which is
   what the method looks for, and the mean can be accumulated chunk by chunk exactly
   (``analysis.epochs.AngleEpochs``) without keeping raw samples.
2. The absolute difference between successive 5-s angles.
3. Its rolling median over 5 min (centred). An epoch whose window holds fewer than half
   of its differences (a gap in the data) has none.
4. The threshold: the 10th percentile of that median over the noon-to-noon window, times
   15. GGIR constrains it to [0.13, 0.50] deg: the constraint became GGIR's default in
   release 1.5-17 (Feb 2018, doi:10.5281/zenodo.1175883, "to make it more robust against
   between accelerometer brand differences", the approach of the paper's PSG
   evaluation) and is in ``HASPT`` today (GGIR 3.0-7 briefly replaced it by a constant
   and 3.0-10 reverted that, GGIR issue #1102). **Difference:** the percentile is taken
   over worn epochs only (GGIR uses every epoch, imputing non-wear), since a sensor on a
   nightstand would pull it down.
5. Runs below the threshold lasting more than 30 min are rest blocks.
6. Blocks separated by less than 60 min are joined, with the time between them.
   **Addition:** not across non-wear: non-wear is never in bed (a sensor left on the
   nightstand is not a sleeper), so an in-bed window holds no non-wear epoch.
7. The longest joined block of each noon-to-noon window is its in-bed window (the
   paper's SPT-window, sleep period time; GGIR calls its estimate the "guider").
   Blocks are cut at the window's noon boundaries; of equally long ones the first wins
   (GGIR takes the middle one).

Epochs without samples (gaps in the data) are never still: a gap of less than 60 min
between rest blocks is spanned like a short awakening, a longer one splits the night.

A window with less than ``min_worn_s`` of worn data (6 h) is not judged:
``NightWindow.judged`` is False and its in-bed time is unknown, not 0. A judged window
without a rest block has ``in_bed`` None: no in-bed time found. **Difference:** GGIR
leaves out nights with less than 16 h of valid data (``includenightcrit``) from its
sleep statistics. sitless also uses the window to keep sit-too-long alerts out of bed,
and a recording that starts in the evening or ends in the morning has such a night at
each end; the threshold's clamp bounds what a short window can do to the percentile,
and ``judged`` with ``worn_s`` tells the reader how much data a window had.

The method only uses changes of the angle, so it works for any placement (wrist, thigh,
trunk). HDCZA was developed and validated on the wrist; on the thigh or trunk a long,
still sitting spell (an evening on the sofa, a quiet desk) can read as rest too.
**Addition:** where the placement reports lying (thigh and trunk), a rest block counts
only when at least ``InBedSettings.min_lying_share`` of it (half) is lying, before
blocks are joined: a night in bed is mostly lying (ActiPASS likewise builds the
thigh's bedtime on lying: Hettiarachchi et al. 2021, Sensors 21(3):904,
doi:10.3390/s21030904), a still evening in an armchair is not. **Addition:** there,
standing and walking epochs are never still: a thigh or trunk standing at the basin
changes its angle as little as a sleeper, and a 1-min walk between two still stands
hardly moves the 5-min median, so without this the morning routine joins the night.
Nor are blocks joined across more than ``max_join_upright_s`` (15 min) of standing and
walking: a night-time trip to the bathroom takes a few minutes, the evening routine
between a still evening on the sofa and bed takes longer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from analysis.epochs import EpochAngles
from analysis.settings import InBedSettings

__all__ = [
    "InBedResult",
    "InBedWindow",
    "NightWindow",
    "find_in_bed",
    "longest_rest_block",
]

#: Rows of the rolling median computed at a time (bounds the memory of the sort).
_BLOCK_ROWS = 8192


@dataclass(frozen=True, slots=True)
class InBedWindow:
    """The main in-bed (sleep period) window of one noon-to-noon day.

    Attributes:
        start_s: Start, s, in the time base of the epochs.
        end_s: End, s.
    """

    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        """Length of the window, s."""
        return self.end_s - self.start_s

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form."""
        return {"start_s": self.start_s, "end_s": self.end_s}


@dataclass(frozen=True, slots=True)
class NightWindow:
    """One noon-to-noon window and what was found in it.

    Attributes:
        start_s: The window's first noon, s.
        end_s: Its next noon, s (23 or 25 h later across a daylight-saving change).
        judged: Whether it held enough worn data (``InBedSettings.min_worn_s``); if not,
            its in-bed time is unknown ("not measured"), not 0.
        worn_s: Worn data in it, s: epochs with samples and not non-wear.
        threshold_deg: The HDCZA threshold used, deg, or None when not judged.
        in_bed: The in-bed window, or None (not judged, or judged and no rest found).
    """

    start_s: float
    end_s: float
    judged: bool
    worn_s: float
    threshold_deg: float | None = None
    in_bed: InBedWindow | None = None

    @classmethod
    def of_bed(cls, start_s: float, end_s: float) -> NightWindow:
        """The window of an in-bed time found live (``analysis.nights``): judged over that time only.

        >>> NightWindow.of_bed(0.0, 60.0).in_bed
        InBedWindow(start_s=0.0, end_s=60.0)
        """
        return cls(start_s, end_s, judged=True, worn_s=end_s - start_s, in_bed=InBedWindow(start_s, end_s))

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form."""
        return {
            "start_s": self.start_s,
            "end_s": self.end_s,
            "judged": self.judged,
            "worn_s": self.worn_s,
            "threshold_deg": self.threshold_deg,
            "in_bed": None if self.in_bed is None else self.in_bed.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class InBedResult:
    """The noon-to-noon windows of a recording and their in-bed windows.

    Attributes:
        nights: One entry per pair of consecutive noon boundaries, in order.
    """

    nights: tuple[NightWindow, ...]

    @property
    def windows(self) -> tuple[InBedWindow, ...]:
        """The in-bed windows found, in order."""
        return tuple(n.in_bed for n in self.nights if n.in_bed is not None)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form."""
        return {"nights": [n.to_dict() for n in self.nights]}


def find_in_bed(
    epochs: EpochAngles,
    boundaries_s: Sequence[float],
    nonwear: NDArray[np.bool_] | None = None,
    settings: InBedSettings | None = None,
    *,
    lying: NDArray[np.bool_] | None = None,
    upright: NDArray[np.bool_] | None = None,
) -> InBedResult:
    """Find the in-bed window of each noon-to-noon window (HDCZA, see the module).

    Args:
        epochs: The z-angle epochs (``AngleEpochs.epochs()``).
        boundaries_s: Increasing local noons in the epochs' time base (the caller knows
            the time zone: ``analysis.days.noon_boundaries``); window ``i`` is
            ``[boundaries_s[i], boundaries_s[i + 1])``, and an epoch belongs to the
            window holding its mid-time.
        nonwear: Per-epoch non-wear mask, shape (n,) (``EpochAngles.mask``), or None.
        settings: The settings; their ``epoch_s`` must match the epochs'.
        lying: Per-epoch mask of lying postures, shape (n,), from a placement that
            reports lying (``EpochAngles.mask``), or None (the wrist): with it, a rest
            block less than ``InBedSettings.min_lying_share`` lying is no rest in bed.
        upright: Per-epoch mask of standing and walking, shape (n,), or None (the wrist):
            such epochs are never still.

    Returns:
        One ``NightWindow`` per window.

    Raises:
        ValueError: Fewer than two boundaries, boundaries not increasing, a mask of the
            wrong shape, or another epoch length.
    """
    cfg = settings if settings is not None else InBedSettings()
    bounds = np.asarray(boundaries_s, dtype=np.float64)
    n = len(epochs)
    if bounds.ndim != 1 or bounds.shape[0] < 2 or not np.all(np.isfinite(bounds)) or np.any(np.diff(bounds) <= 0):
        raise ValueError(f"boundaries_s must hold at least two increasing finite times, got {list(boundaries_s)}")
    if epochs.epoch_s != cfg.epoch_s:
        raise ValueError(f"epochs of {epochs.epoch_s} s, settings of {cfg.epoch_s} s")
    off = np.zeros(n, dtype=np.bool_) if nonwear is None else np.asarray(nonwear, dtype=np.bool_)
    if off.shape != (n,):
        raise ValueError(f"nonwear mask shape {off.shape} != ({n},)")
    lie = None if lying is None else np.asarray(lying, dtype=np.bool_)
    if lie is not None and lie.shape != (n,):
        raise ValueError(f"lying mask shape {lie.shape} != ({n},)")
    up = np.zeros(n, dtype=np.bool_) if upright is None else np.asarray(upright, dtype=np.bool_)
    if up.shape != (n,):
        raise ValueError(f"upright mask shape {up.shape} != ({n},)")
    worn = (epochs.samples > 0) & ~off
    change = _rolling_median(_abs_changes(epochs.angle_deg), cfg.median_epochs)
    cuts = np.searchsorted(epochs.mids_s(), bounds, side="left")
    nights = []
    for i in range(bounds.shape[0] - 1):
        lo, hi = int(cuts[i]), int(cuts[i + 1])
        window = (float(bounds[i]), float(bounds[i + 1]))
        nights.append(_night(window, epochs, slice(lo, hi), worn=worn, off=off, change=change, lie=lie, up=up, cfg=cfg))
    return InBedResult(tuple(nights))


def _night(
    window: tuple[float, float],
    epochs: EpochAngles,
    span: slice,
    *,
    worn: NDArray[np.bool_],
    off: NDArray[np.bool_],
    change: NDArray[np.float64],
    lie: NDArray[np.bool_] | None,
    up: NDArray[np.bool_],
    cfg: InBedSettings,
) -> NightWindow:
    """HDCZA steps 4-7 on the epochs ``span`` of one noon-to-noon window ``(start_s, end_s)``."""
    start_s, end_s = window
    w_worn, w_off, w_change = worn[span], off[span], change[span]
    worn_s = float(np.count_nonzero(w_worn)) * cfg.epoch_s
    known = w_worn & np.isfinite(w_change)
    if worn_s < cfg.min_worn_s or not np.any(known):
        return NightWindow(start_s, end_s, judged=False, worn_s=worn_s)
    level = float(np.percentile(w_change[known], cfg.percentile)) * cfg.multiplier
    threshold = min(max(level, cfg.min_threshold_deg), cfg.max_threshold_deg)
    with np.errstate(invalid="ignore"):
        still = known & ~up[span] & (w_change < threshold)
    block = longest_rest_block(
        still,
        off=w_off,
        lying=None if lie is None else lie[span].astype(np.float64),
        upright=up[span].astype(np.float64),
        epoch_s=cfg.epoch_s,
        settings=cfg,
    )
    if block is None:
        return NightWindow(start_s, end_s, judged=True, worn_s=worn_s, threshold_deg=threshold)
    first, last = block
    base = span.start if span.start is not None else 0
    found = InBedWindow(
        start_s=max(start_s, epochs.start_s + (base + first) * cfg.epoch_s),
        end_s=min(end_s, epochs.start_s + (base + last) * cfg.epoch_s),
    )
    return NightWindow(start_s, end_s, judged=True, worn_s=worn_s, threshold_deg=threshold, in_bed=found)


def longest_rest_block(
    still: NDArray[np.bool_],
    *,
    off: NDArray[np.bool_],
    lying: NDArray[np.float64] | None,
    upright: NDArray[np.float64],
    epoch_s: float,
    settings: InBedSettings,
) -> tuple[int, int] | None:
    """HDCZA steps 5-7 on one window's epochs: the longest joined rest block, or None.

    Args:
        still: Per-epoch: below the threshold (and not upright), shape (n,).
        off: Per-epoch non-wear, shape (n,): blocks are never joined across it.
        lying: Per-epoch share of lying, 0-1, shape (n,), or None where the placement
            does not report lying: a block needs ``min_lying_share`` of it.
        upright: Per-epoch share of standing and walking, 0-1, shape (n,): blocks are not
            joined across more than ``max_join_upright_s`` of it.
        epoch_s: Length of an epoch, s (5 s here; the live learner uses minutes,
            ``analysis.nights``).
        settings: The in-bed settings.

    Returns:
        ``(first, end)`` epoch indices of the block (end exclusive), the first of equally long ones.

    >>> cfg = InBedSettings(min_block_s=1800.0)
    >>> still = np.array([True] * 40 + [False] * 10 + [True] * 31)
    >>> z = np.zeros(81)
    >>> longest_rest_block(still, off=z.astype(bool), lying=None, upright=z, epoch_s=60.0, settings=cfg)
    (0, 81)
    """
    starts, ends = _runs(still)
    long_enough = (ends - starts) * epoch_s > settings.min_block_s
    if lying is not None:
        cum = np.concatenate([[0.0], np.cumsum(lying)])
        share = (cum[ends] - cum[starts]) / np.maximum(ends - starts, 1)
        long_enough &= share >= settings.min_lying_share
    blocks = _join(
        starts[long_enough],
        ends[long_enough],
        off,
        settings.max_join_gap_s / epoch_s,
        upright=upright,
        max_upright_epochs=settings.max_join_upright_s / epoch_s,
    )
    if not blocks:
        return None
    return max(blocks, key=lambda b: b[1] - b[0])  # max() keeps the first of equals


def _abs_changes(angle_deg: NDArray[np.float64]) -> NDArray[np.float64]:
    """|angle[j] - angle[j - 1]|, NaN for the first epoch and next to a gap."""
    out = np.full(angle_deg.shape[0], np.nan)
    out[1:] = np.abs(np.diff(angle_deg))
    return out


def _rolling_median(values: NDArray[np.float64], width: int) -> NDArray[np.float64]:
    """Centred rolling median ignoring NaN; NaN where fewer than half the window is known.

    >>> _rolling_median(np.array([1.0, 5.0, np.nan, 2.0, 4.0]), 3).tolist()
    [3.0, 3.0, 3.5, 3.0, 3.0]
    """
    n = values.shape[0]
    if n == 0:
        return np.zeros(0)
    left = width // 2
    padded = np.concatenate([np.full(left, np.nan), values, np.full(width - 1 - left, np.nan)])
    windows = sliding_window_view(padded, width)
    out = np.full(n, np.nan)
    for a in range(0, n, _BLOCK_ROWS):
        block = np.sort(windows[a : a + _BLOCK_ROWS], axis=1)  # NaN sort last
        count = np.count_nonzero(~np.isnan(block), axis=1)
        rows = np.arange(block.shape[0])
        low = block[rows, np.maximum(count - 1, 0) // 2]
        high = block[rows, np.minimum(count // 2, width - 1)]
        med = 0.5 * (low + high)
        med[2 * count < width] = np.nan
        out[a : a + block.shape[0]] = med
    return out


def _runs(mask: NDArray[np.bool_]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Starts and (exclusive) ends of the runs of True.

    >>> [a.tolist() for a in _runs(np.array([True, True, False, True]))]
    [[0, 3], [2, 4]]
    """
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _join(
    starts: NDArray[np.intp],
    ends: NDArray[np.intp],
    off: NDArray[np.bool_],
    max_gap_epochs: float,
    *,
    upright: NDArray[np.bool_] | NDArray[np.float64] | None = None,
    max_upright_epochs: float = np.inf,
) -> list[tuple[int, int]]:
    """Join blocks less than ``max_gap_epochs`` apart, no non-wear and at most ``max_upright_epochs`` upright between.

    >>> _join(np.array([0, 10, 30]), np.array([5, 20, 40]), np.zeros(40, dtype=bool), 10.0)
    [(0, 20), (30, 40)]
    >>> up = np.zeros(40, dtype=bool); up[5:9] = True
    >>> _join(np.array([0, 10]), np.array([5, 20]), np.zeros(40, dtype=bool), 10.0, upright=up, max_upright_epochs=3)
    [(0, 5), (10, 20)]
    """
    out: list[tuple[int, int]] = []
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        if out and a - out[-1][1] < max_gap_epochs and not np.any(off[out[-1][1] : a]):
            stood = 0.0 if upright is None else float(np.sum(upright[out[-1][1] : a]))
            if stood <= max_upright_epochs:
                out[-1] = (out[-1][0], b)
                continue
        out.append((a, b))
    return out
