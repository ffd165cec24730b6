"""Posture per frame: features over centred windows, decisions, then a majority filter.

Method, per frame of ``PostureTuning.frame_s``:

1. Gravity is the mean acceleration over a centred window; movement intensity is the
   standard deviation of |a| over a longer centred window; non-wear looks at the range
   of the gravity estimate over a trailing window.
2. ``analysis.decision.PostureDecider`` turns them into postures: walking above the
   walking intensity (every placement), which also teaches the wearer's upright
   reference (``analysis.reference``); inclination cut-points per placement
   (``PlacementRule``); sit/stand transitions for trunk placements
   (``analysis.transitions``); non-wear.
3. A centred majority filter removes blips.

Everything is streaming: frames arrive chunk by chunk, each stage keeps just the
context its windows need, and a frame becomes final once its look-ahead (half the
feature window, the decision delay and half the smoothing window) has arrived.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from analysis.decision import PostureDecider
from analysis.frames import N_ACC_STATS
from analysis.packing import packed_columns, unpacked
from analysis.settings import POSTURE_CODES, AnalysisSettings, Placement, Posture
from analysis.windows import FEW_ROWS, TrailingRange, centred_sums, few_centred_sums, majority

__all__ = ["PlacementRule", "PostureTracker", "capabilities", "default_long_axis", "rule_for"]

_N_CODES = len(POSTURE_CODES)
_NO_LABEL = -1


@dataclass(frozen=True, slots=True)
class PlacementRule:
    """Inclination cut-points of one placement, in degrees from the upright reference.

    Attributes:
        sit_deg: Still frames inclined at least this much are sitting (``None``: the
            placement cannot tell sitting from standing).
        lie_deg: Still frames inclined at least this much are lying (``None``: the
            inclination cannot tell lying; a thigh is horizontal both when sitting and
            lying, and tells lying by other means, ``analysis.thigh``).
        static_known: Whether still frames get a posture at all (the wrist reports
            only walking vs other).
    """

    sit_deg: float | None
    lie_deg: float | None
    static_known: bool = True


# Thigh: sitting when the thigh is inclined from the walking upright (Acti4, Skotte et
# al. 2014, 45 deg; activPAL uses the same thigh-horizontal principle). 35 deg here:
# a phone in a back trouser pocket lies on the buttock, which tilts less than the
# thigh when seated. On spsw_pocket_tug (development split) seated stretches measured
# 45 deg or more from the walking upright with front-pocket phones, but a 10th
# percentile of 35-37 deg (minimum 19 deg) with back-pocket phones; score.py sitting
# recall 0.85 (45 deg), 0.93 (40), 0.99 (35), walking unchanged at 0.99. Standing is
# within a few degrees of walking (the thigh is vertical in both), so 35 deg keeps a
# wide margin; spsw has no standing to check it on.
# Waist: Vähä-Ypyä et al. 2018 found ~11.6 deg of hip tilt against the walking posture
# separates sitting from standing; lying is the trunk near horizontal (> 70 deg): on the
# uci_hapt development split every lying segment is at least 80 deg from that
# recording's standing posture and every seated one at most 64 deg (a slumped pelvis);
# 60 deg read one wearer's reclined sitting as lying.
# Trunk placements (lower back, chest, upper back): an upright seated trunk looks like
# standing, so sit/stand transitions decide first (analysis.decision); the cut-points
# only serve when a transition gave no evidence. The thorax moves less than the pelvis
# between sitting and standing, hence the wider 15 deg.
_RULES: dict[Placement, PlacementRule] = {
    Placement.THIGH: PlacementRule(sit_deg=35.0, lie_deg=None),
    Placement.WAIST: PlacementRule(sit_deg=11.6, lie_deg=70.0),
    Placement.LOWER_BACK: PlacementRule(sit_deg=11.6, lie_deg=70.0),
    Placement.CHEST: PlacementRule(sit_deg=15.0, lie_deg=70.0),
    Placement.UPPER_BACK: PlacementRule(sit_deg=15.0, lie_deg=70.0),
    Placement.WRIST: PlacementRule(sit_deg=None, lie_deg=None, static_known=False),
}

# Device axis along the body's long axis when worn as intended: x for a phone on a
# belt (UCI HAPT: |a_x| ~ 1 g when standing), y otherwise (a phone upright in a trouser
# pocket, spsw_pocket_tug: |a_y| ~ 1 g when walking; a clip-on sensor worn upright).
_LONG_AXIS: dict[Placement, int] = {
    Placement.THIGH: 1,
    Placement.WAIST: 0,
    Placement.LOWER_BACK: 1,
    Placement.CHEST: 1,
    Placement.UPPER_BACK: 1,
    Placement.WRIST: 1,
}


def rule_for(placement: Placement) -> PlacementRule:
    """Return the inclination cut-points of a placement."""
    return _RULES[placement]


@functools.cache
def capabilities(placement: Placement) -> tuple[str, ...]:
    """The postures a placement can report, for outputs that must say so honestly (made once a placement).

    A wrist sensor tells walking (active) from not walking (inactive) but not sitting
    from standing (Rosenberger et al. 2016, Med Sci Sports Exerc 48(3):457-465,
    doi:10.1249/MSS.0000000000000778); a thigh tells lying from the femur raised or
    rolled about its long axis (``analysis.thigh``).

    >>> capabilities(Placement.WRIST)
    ('walking', 'other', 'nonwear')
    """
    rule = _RULES[placement]
    if not rule.static_known:
        return (str(Posture.WALKING), str(Posture.OTHER), str(Posture.NONWEAR))
    found = [Posture.SITTING, Posture.STANDING]
    if rule.lie_deg is not None or placement is Placement.THIGH:
        found.append(Posture.LYING)
    found += [Posture.WALKING, Posture.OTHER, Posture.NONWEAR]
    return tuple(str(p) for p in found)


def default_long_axis(placement: Placement) -> int:
    """Return the default device axis (0=x, 1=y, 2=z) along the body's long axis."""
    return _LONG_AXIS[placement]


class PostureTracker:
    """Streaming frames -> final per-frame posture codes (see the module docstring).

    Args:
        settings: The analysis settings.
    """

    def __init__(self, settings: AnalysisSettings) -> None:
        tuning = settings.tuning
        rule = rule_for(settings.placement)
        axis = settings.long_axis
        self._frame_s = tuning.frame_s
        self._h_grav = tuning.frames(tuning.gravity_window_s)
        self._h_int = tuning.frames(tuning.intensity_window_s)
        self._h_ctx = max(self._h_grav, self._h_int)
        self._h_smooth = tuning.frames(tuning.smooth_s)
        # Range of the gravity estimate (1-s means) over the non-wear and calm windows.
        self._nonwear_range = TrailingRange(math.ceil(tuning.nonwear_window_s / tuning.frame_s), 3)
        self._calm_range = TrailingRange(math.ceil(tuning.calm_window_s / tuning.frame_s), 3)
        self._nonwear_range_g = tuning.nonwear_range_g
        # Samples in a gravity window at nonwear_rate_hz (the window spans 2 * half + 1 frames).
        self._nonwear_samples = tuning.nonwear_rate_hz * (2 * self._h_grav + 1) * tuning.frame_s
        self.decider = PostureDecider(
            settings,
            long_axis=default_long_axis(settings.placement) if axis is None else axis,
            sit_deg=rule.sit_deg if rule.static_known else None,
            lie_deg=rule.lie_deg if rule.static_known else None,
        )
        self._stats = np.zeros((0, N_ACC_STATS))
        self._stats_k0: int | None = None  # frame index of the first buffered row
        self._labels = np.zeros(0, dtype=np.int64)
        self._slouch = np.zeros(0)
        self._labels_k0: int | None = None

    @property
    def lookahead_s(self) -> float:
        """How far behind the newest frame the final postures lag, in s."""
        return (self._h_ctx + self.decider.delay + self._h_smooth + 1) * self._frame_s

    @property
    def reference_ready(self) -> bool:
        """Whether the upright reference is known (from walking or a calibration)."""
        return self.decider.reference.ready

    @property
    def calibrated(self) -> bool:
        """Whether the upright reference comes from an explicit calibration."""
        return self.decider.reference.calibrated

    @property
    def latest_code(self) -> int | None:
        """The newest, provisional posture code."""
        return self.decider.latest_code

    def calibrate_from(self, k: int) -> None:
        """Take the still standing from frame ``k`` on as the upright reference."""
        self.decider.calibrate_from(k)

    def update(self, k_first: int, stats: NDArray[np.float64]) -> tuple[int, NDArray[np.int64], NDArray[np.float64]]:
        """Add closed frames; return the postures that became final.

        Args:
            k_first: Index of the first frame in ``stats``.
            stats: Frame statistics, shape (m, c), consecutive frames; the first
                ``N_ACC_STATS`` columns are read.

        Returns:
            ``(k, codes, slouch_deg)``: index of the first final frame, posture codes
            (indices into ``POSTURE_CODES``) shape (p,), and the trunk inclination from
            the upright reference of upright trunk frames (NaN elsewhere) shape (p,).
        """
        return self._advance(k_first, stats, end=False)

    def flush(self, k_first: int, stats: NDArray[np.float64]) -> tuple[int, NDArray[np.int64], NDArray[np.float64]]:
        """Add the last frames of the stream and return every remaining posture."""
        return self._advance(k_first, stats, end=True)

    def _advance(
        self, k_first: int, stats: NDArray[np.float64], *, end: bool
    ) -> tuple[int, NDArray[np.int64], NDArray[np.float64]]:
        stats = stats[:, :N_ACC_STATS]
        if self._stats_k0 is None:
            if stats.shape[0] == 0:
                return k_first, np.zeros(0, dtype=np.int64), np.zeros(0)
            self._stats_k0 = k_first - self._h_ctx
            self._stats = np.zeros((self._h_ctx, N_ACC_STATS))
        rows = [self._stats, stats]
        if end:
            rows.append(np.zeros((self._h_ctx, N_ACC_STATS)))
        buf = np.concatenate(rows)
        k_feat = self._stats_k0 + self._h_ctx
        n_out = buf.shape[0] - 2 * self._h_ctx
        if n_out > 0:
            self._decide(k_feat, buf)
            self._stats = buf[n_out:] if not end else np.zeros((0, N_ACC_STATS))
            self._stats_k0 = self._stats_k0 + n_out
        else:
            self._stats = buf
        k, codes, slouch = self.decider.flush() if end else self.decider.emit(end=False)
        return self._smooth(k, codes, slouch, end=end)

    def _decide(self, k_feat: int, buf: NDArray[np.float64]) -> None:
        if buf.shape[0] - 2 * self._h_ctx <= FEW_ROWS:
            self._decide_few(k_feat, buf)
            return
        # Only the columns needed (gravity: count, sums of a; intensity: count, sums of
        # |a| and |a|^2), as contiguous copies: vector additions run several times faster.
        grav = centred_sums(np.ascontiguousarray(buf[:, :4]), self._h_grav, self._h_ctx)
        inten = centred_sums(np.ascontiguousarray(buf[:, [0, 4, 5]]), self._h_int, self._h_ctx)
        n_grav = grav[:, 0]
        has_data = n_grav > 0
        mean = grav[:, 1:4] / np.where(has_data, n_grav, 1.0)[:, None]
        norm = np.sqrt(np.add.reduce(mean * mean, axis=1))  # np.linalg.norm's sums, without its checks
        unit = mean / np.where(norm > 0, norm, 1.0)[:, None]
        n_int = np.maximum(inten[:, 0], 1.0)
        var = inten[:, 2] / n_int - (inten[:, 1] / n_int) ** 2
        sd = np.sqrt(np.maximum(var, 0.0))
        own = buf[self._h_ctx : buf.shape[0] - self._h_ctx]
        mag = np.where(own[:, 0] > 0, own[:, 4] / np.maximum(own[:, 0], 1.0), np.nan)
        # Non-wear: range of the gravity estimate over the trailing windows, per axis.
        means = np.where(has_data[:, None], mean, np.nan)
        spread, calm_spread = TrailingRange.push_all((self._nonwear_range, self._calm_range), means)
        # Scaled to the rate (PostureTuning.nonwear_rate_hz); NaN (a gap) is not quiet.
        scale = np.sqrt(np.minimum(1.0, self._nonwear_samples / np.maximum(n_grav, 1.0)))
        quiet = np.asarray(spread < self._nonwear_range_g * scale, dtype=np.bool_)
        calm = np.asarray(calm_spread < self._nonwear_range_g * scale, dtype=np.bool_)
        self.decider.push(k_feat, has_data=has_data, unit=unit, sd=sd, mag=mag, quiet=quiet, calm=calm)

    def _decide_few(self, k_feat: int, buf: NDArray[np.float64]) -> None:
        """``_decide`` for a live packet's few frames: the same values, frame by frame in plain floats.

        Both windows are summed at once (``few_centred_sums``); then each frame takes the
        operations ``_decide`` applies to whole columns, in the same order (a norm sums
        its squares left to right, as ``np.add.reduce`` over a row of three does; a
        square is ``x * x``, as numpy's ``** 2``), so every value has the same bits.
        """
        h = self._h_ctx
        both = few_centred_sums(buf, (self._h_grav, self._h_int), h)
        nan = math.nan
        limit_g, samples = self._nonwear_range_g, self._nonwear_samples
        has_data: list[bool] = []
        units: list[tuple[float, float, float]] = []
        sds: list[float] = []
        mags: list[float] = []
        means: list[tuple[float, float, float]] = []
        limits: list[float] = []
        rows = zip(both[0].tolist(), both[1].tolist(), buf[h : buf.shape[0] - h].tolist(), strict=True)
        for grav, inten, own in rows:
            count = grav[0]
            held = count > 0
            div = count if held else 1.0
            mx, my, mz = grav[1] / div, grav[2] / div, grav[3] / div
            norm = math.sqrt(mx * mx + my * my + mz * mz)
            if not norm > 0:
                norm = 1.0
            units.append((mx / norm, my / norm, mz / norm))
            has_data.append(held)
            means.append((mx, my, mz) if held else (nan, nan, nan))
            n_int = inten[0] if inten[0] >= 1.0 else 1.0
            mean_mag = inten[4] / n_int
            var = inten[5] / n_int - mean_mag * mean_mag
            sds.append(math.sqrt(var) if var > 0.0 else 0.0)
            mags.append(own[4] / (own[0] if own[0] >= 1.0 else 1.0) if own[0] > 0 else nan)
            ratio = samples / (count if count >= 1.0 else 1.0)
            limits.append(limit_g * math.sqrt(ratio if ratio < 1.0 else 1.0))
        # Non-wear: range of the gravity estimate over the trailing windows, per axis.
        spread, calm_spread = TrailingRange.push_all((self._nonwear_range, self._calm_range), np.array(means))
        # Scaled to the rate (PostureTuning.nonwear_rate_hz); NaN (a gap) is not quiet.
        quiet = [s < lim for s, lim in zip(spread.tolist(), limits, strict=True)]
        calm = [s < lim for s, lim in zip(calm_spread.tolist(), limits, strict=True)]
        self.decider.push_few(k_feat, has_data=has_data, unit=units, sd=sds, mag=mags, quiet=quiet, calm=calm)

    def _smooth(
        self, k_first: int, codes: NDArray[np.int64], slouch: NDArray[np.float64], *, end: bool
    ) -> tuple[int, NDArray[np.int64], NDArray[np.float64]]:
        h = self._h_smooth
        if self._labels_k0 is None:
            if codes.size == 0:
                return k_first, np.zeros(0, dtype=np.int64), np.zeros(0)
            self._labels_k0 = k_first - h
            self._labels = np.full(h, _NO_LABEL, dtype=np.int64)
            self._slouch = np.full(h, np.nan)
        parts = [self._labels, codes]
        sparts = [self._slouch, slouch]
        if end:
            parts.append(np.full(h, _NO_LABEL, dtype=np.int64))
            sparts.append(np.full(h, np.nan))
        buf = np.concatenate(parts)
        sbuf = np.concatenate(sparts)
        k_out = self._labels_k0 + h
        n_out = buf.shape[0] - 2 * h
        if n_out <= 0:
            self._labels = buf
            self._slouch = sbuf
            return k_out, np.zeros(0, dtype=np.int64), np.zeros(0)
        final = majority(buf, h, _N_CODES)
        out_slouch = sbuf[h : h + n_out]
        self._labels = buf[n_out:] if not end else np.zeros(0, dtype=np.int64)
        self._slouch = sbuf[n_out:] if not end else np.zeros(0)
        self._labels_k0 += n_out
        return k_out, final, out_slouch

    def snapshot(self) -> dict[str, Any]:
        """Return the JSON-serialisable state (context buffers, decisions, reference)."""
        return {
            "stats": packed_columns(self._stats),
            "stats_k0": self._stats_k0,
            "nonwear_range": self._nonwear_range.snapshot(),
            "calm_range": self._calm_range.snapshot(),
            "labels": self._labels.tolist(),
            "slouch": [None if math.isnan(x) else x for x in self._slouch.tolist()],
            "labels_k0": self._labels_k0,
            "decider": self.decider.snapshot(),
        }

    def load(self, state: dict[str, Any]) -> None:
        """Restore the state saved by ``snapshot()``."""
        self._stats = unpacked(state["stats"], N_ACC_STATS)
        self._stats_k0 = state["stats_k0"]
        self._nonwear_range.load(state["nonwear_range"])
        self._calm_range.load(state["calm_range"])
        self._labels = np.asarray(state["labels"], dtype=np.int64).reshape(-1)
        self._slouch = np.asarray([np.nan if x is None else x for x in state["slouch"]], dtype=np.float64)
        self._labels_k0 = state["labels_k0"]
        self.decider.load(state["decider"])
