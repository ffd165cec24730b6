"""Posture per frame: gravity, movement intensity and inclination against a learned upright.

Method, per frame of ``PostureTuning.frame_s``:

1. Gravity is the mean acceleration over a centred window; movement intensity is the
   standard deviation of |a| over a longer centred window.
2. Frames above the walking intensity are walking (every placement). Their gravity
   directions are averaged into the wearer's upright reference, so any mounting
   orientation works: the inclination of the thigh (Acti4, Skotte et al. 2014, Med Sci
   Sports Exerc 46(9):1839-1846, doi:10.1249/MSS.0000000000000308) or of the hip/trunk
   (Vähä-Ypyä et al. 2018, Scand J Med Sci Sports 28(3):1092-1102,
   doi:10.1111/sms.13017) is measured against the direction seen while walking.
   Until enough walking was seen, the device's long axis (sign-agnostic) stands in.
3. Still frames are classified by inclination with per-placement cut-points
   (``PlacementRule``), then a centred majority filter removes blips.

Everything is streaming: frames arrive chunk by chunk, each stage keeps just the
context its centred windows need, and a frame becomes final once its look-ahead
(half the intensity window plus half the smoothing window) has arrived.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from analysis.frames import N_STATS
from analysis.settings import POSTURE_CODES, AnalysisSettings, Placement, Posture

__all__ = ["PlacementRule", "PostureTracker", "default_long_axis", "rule_for"]

_SIT = POSTURE_CODES.index(Posture.SITTING)
_STAND = POSTURE_CODES.index(Posture.STANDING)
_LIE = POSTURE_CODES.index(Posture.LYING)
_WALK = POSTURE_CODES.index(Posture.WALKING)
_OTHER = POSTURE_CODES.index(Posture.OTHER)
_N_CODES = len(POSTURE_CODES)
_NO_LABEL = -1


@dataclass(frozen=True, slots=True)
class PlacementRule:
    """Inclination cut-points of one placement, in degrees from the upright reference.

    Attributes:
        sit_deg: Still frames inclined at least this much are sitting (``None``: the
            placement cannot tell sitting from standing).
        lie_deg: Still frames inclined at least this much are lying (``None``: cannot
            tell lying; a thigh is horizontal both when sitting and lying).
        static_known: Whether still frames get a posture at all (the wrist reports
            only walking vs other).
    """

    sit_deg: float | None
    lie_deg: float | None
    static_known: bool = True


# Thigh: sitting when the thigh is inclined > 45 deg from the walking upright (Acti4,
# Skotte et al. 2014; activPAL uses the same thigh-horizontal principle).
# Waist: Vähä-Ypyä et al. 2018 found ~11.6 deg of hip tilt against the walking posture
# separates sitting from standing; lying is the trunk near horizontal (> 60 deg).
# Trunk placements (lower back, chest, upper back): the trunk leans back or slumps
# when seated, but an upright seated trunk looks like standing; the cut-points are the
# hip ones until transitions are used (see the module docstring).
_RULES: dict[Placement, PlacementRule] = {
    Placement.THIGH: PlacementRule(sit_deg=45.0, lie_deg=None),
    Placement.WAIST: PlacementRule(sit_deg=11.6, lie_deg=60.0),
    Placement.LOWER_BACK: PlacementRule(sit_deg=11.6, lie_deg=60.0),
    Placement.CHEST: PlacementRule(sit_deg=15.0, lie_deg=60.0),
    Placement.UPPER_BACK: PlacementRule(sit_deg=15.0, lie_deg=60.0),
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


def default_long_axis(placement: Placement) -> int:
    """Return the default device axis (0=x, 1=y, 2=z) along the body's long axis."""
    return _LONG_AXIS[placement]


def _windows_sum(rows: NDArray[np.float64], half: int, outer: int) -> NDArray[np.float64]:
    """Sum rows over centred windows of ``2*half+1`` rows.

    Args:
        rows: Shape (m, c); outputs are for rows ``outer .. m-outer-1``.
        half: Half-width of the window (<= outer).
        outer: Context kept on each side.

    Returns:
        Shape (m - 2*outer, c). Each window is summed on its own, so the result for a
        row depends only on the rows in its window, not on where the chunk started.
    """
    view = sliding_window_view(rows[outer - half : rows.shape[0] - (outer - half)], 2 * half + 1, axis=0)
    return np.asarray(view.sum(axis=-1), dtype=np.float64)


def _majority(labels: NDArray[np.int64], half: int) -> NDArray[np.int64]:
    """Centred majority filter; ties keep the centre label.

    Args:
        labels: Posture codes with ``half`` context rows each side (-1 = padding), shape (m,).
        half: Half-width of the filter.

    Returns:
        Filtered codes for the inner rows, shape (m - 2*half,).

    >>> _majority(np.array([-1, 0, 3, 0, 0, -1]), 1).tolist()
    [0, 0, 0, 0]
    """
    onehot = (labels[:, None] == np.arange(_N_CODES)[None, :]).astype(np.int64)
    counts = sliding_window_view(onehot, 2 * half + 1, axis=0).sum(axis=-1)
    centre = labels[half : labels.shape[0] - half]
    best = counts.argmax(axis=1)
    centre_count = np.take_along_axis(counts, np.clip(centre, 0, None)[:, None], axis=1)[:, 0]
    keep = (centre >= 0) & (centre_count == counts.max(axis=1))
    return np.where(keep, centre, best)


class PostureTracker:
    """Streaming frames -> final per-frame posture codes (see the module docstring).

    Args:
        settings: The analysis settings.
    """

    def __init__(self, settings: AnalysisSettings) -> None:
        tuning = settings.tuning
        self._rule = rule_for(settings.placement)
        axis = settings.long_axis
        self._axis = default_long_axis(settings.placement) if axis is None else axis
        self._frame_s = tuning.frame_s
        self._walk_sd_g = tuning.walk_sd_g
        self._ref_min_frames = math.ceil(tuning.ref_min_walk_s / tuning.frame_s)
        self._h_grav = tuning.frames(tuning.gravity_window_s)
        self._h_int = tuning.frames(tuning.intensity_window_s)
        self._h_ctx = max(self._h_grav, self._h_int)
        self._h_smooth = tuning.frames(tuning.smooth_s)
        self._stats = np.zeros((0, N_STATS))
        self._stats_k0: int | None = None  # frame index of the first buffered row
        self._labels = np.zeros(0, dtype=np.int64)
        self._labels_k0: int | None = None
        self.ref_sum = np.zeros(3)
        self.ref_frames = 0
        self.latest_code: int | None = None

    @property
    def lookahead_s(self) -> float:
        """How far behind the newest frame the final postures lag, in s."""
        return (self._h_ctx + self._h_smooth + 1) * self._frame_s

    @property
    def reference_ready(self) -> bool:
        """Whether the walking-referenced upright has been learned."""
        return self.ref_frames >= self._ref_min_frames

    def update(self, k_first: int, stats: NDArray[np.float64]) -> tuple[int, NDArray[np.int64]]:
        """Add closed frames; return the postures that became final.

        Args:
            k_first: Index of the first frame in ``stats``.
            stats: Frame statistics, shape (m, N_STATS), consecutive frames.

        Returns:
            ``(k, codes)``: index of the first final frame and posture codes (indices
            into ``POSTURE_CODES``), shape (p,).
        """
        return self._advance(k_first, stats, end=False)

    def flush(self, k_first: int, stats: NDArray[np.float64]) -> tuple[int, NDArray[np.int64]]:
        """Add the last frames of the stream and return every remaining posture."""
        return self._advance(k_first, stats, end=True)

    def _advance(self, k_first: int, stats: NDArray[np.float64], *, end: bool) -> tuple[int, NDArray[np.int64]]:
        if self._stats_k0 is None:
            if stats.shape[0] == 0:
                return k_first, np.zeros(0, dtype=np.int64)
            self._stats_k0 = k_first - self._h_ctx
            self._stats = np.zeros((self._h_ctx, N_STATS))
        rows = [self._stats, stats]
        if end:
            rows.append(np.zeros((self._h_ctx, N_STATS)))
        buf = np.concatenate(rows)
        k_feat = self._stats_k0 + self._h_ctx
        n_out = buf.shape[0] - 2 * self._h_ctx
        if n_out <= 0:
            self._stats = buf
            return self._smooth(k_feat, np.zeros(0, dtype=np.int64), end=end)
        codes = self._classify(buf)
        keep_from = n_out  # rows still needed as context of the next frames
        self._stats = buf[keep_from:] if not end else np.zeros((0, N_STATS))
        self._stats_k0 = self._stats_k0 + keep_from
        return self._smooth(k_feat, codes, end=end)

    def _classify(self, buf: NDArray[np.float64]) -> NDArray[np.int64]:
        grav = _windows_sum(buf, self._h_grav, self._h_ctx)
        inten = _windows_sum(buf, self._h_int, self._h_ctx)
        n_grav = grav[:, 0]
        has_data = n_grav > 0
        mean = grav[:, 1:4] / np.where(has_data, n_grav, 1.0)[:, None]
        norm = np.linalg.norm(mean, axis=1)
        unit = mean / np.where(norm > 0, norm, 1.0)[:, None]
        n_int = np.maximum(inten[:, 0], 1.0)
        var = inten[:, 5] / n_int - (inten[:, 4] / n_int) ** 2
        sd = np.sqrt(np.clip(var, 0.0, None))
        walking = has_data & (sd > self._walk_sd_g)
        # Upright reference as of before each frame (running sum over walking frames).
        wvec = np.where(walking[:, None], unit, 0.0)
        csum = np.cumsum(np.concatenate([self.ref_sum[None, :], wvec]), axis=0)
        cnt = self.ref_frames + np.concatenate([[0], np.cumsum(walking)])
        ref_before = csum[:-1]
        ready = cnt[:-1] >= self._ref_min_frames
        ref_norm = np.linalg.norm(ref_before, axis=1)
        ref_unit = ref_before / np.where(ref_norm > 0, ref_norm, 1.0)[:, None]
        cos_ref = np.einsum("ij,ij->i", unit, ref_unit)
        cos_axis = np.abs(unit[:, self._axis])
        cos_incl = np.where(ready, cos_ref, cos_axis)
        incl_deg = np.degrees(np.arccos(np.clip(cos_incl, -1.0, 1.0)))
        self.ref_sum = csum[-1]
        self.ref_frames = int(cnt[-1])
        codes = np.full(unit.shape[0], _OTHER, dtype=np.int64)
        rule = self._rule
        if rule.static_known:
            codes[:] = _STAND
            if rule.sit_deg is not None:
                codes[incl_deg >= rule.sit_deg] = _SIT
            if rule.lie_deg is not None:
                codes[incl_deg >= rule.lie_deg] = _LIE
        codes[walking] = _WALK
        codes[~has_data] = _OTHER
        return codes

    def _smooth(self, k_first: int, codes: NDArray[np.int64], *, end: bool) -> tuple[int, NDArray[np.int64]]:
        h = self._h_smooth
        if codes.size:
            self.latest_code = int(codes[-1])
        if self._labels_k0 is None:
            if codes.size == 0:
                return k_first, np.zeros(0, dtype=np.int64)
            self._labels_k0 = k_first - h
            self._labels = np.full(h, _NO_LABEL, dtype=np.int64)
        parts = [self._labels, codes]
        if end:
            parts.append(np.full(h, _NO_LABEL, dtype=np.int64))
        buf = np.concatenate(parts)
        k_out = self._labels_k0 + h
        n_out = buf.shape[0] - 2 * h
        if n_out <= 0:
            self._labels = buf
            return k_out, np.zeros(0, dtype=np.int64)
        final = _majority(buf, h)
        self._labels = buf[n_out:] if not end else np.zeros(0, dtype=np.int64)
        self._labels_k0 += n_out
        return k_out, final

    def snapshot(self) -> dict[str, Any]:
        """Return the JSON-serialisable state (context buffers and learned reference)."""
        return {
            "stats": self._stats.tolist(),
            "stats_k0": self._stats_k0,
            "labels": self._labels.tolist(),
            "labels_k0": self._labels_k0,
            "ref_sum": self.ref_sum.tolist(),
            "ref_frames": self.ref_frames,
            "latest_code": self.latest_code,
        }

    def load(self, state: dict[str, Any]) -> None:
        """Restore the state saved by ``snapshot()``."""
        self._stats = np.asarray(state["stats"], dtype=np.float64).reshape(-1, N_STATS)
        self._stats_k0 = state["stats_k0"]
        self._labels = np.asarray(state["labels"], dtype=np.int64).reshape(-1)
        self._labels_k0 = state["labels_k0"]
        self.ref_sum = np.asarray(state["ref_sum"], dtype=np.float64).reshape(3)
        self.ref_frames = int(state["ref_frames"])
        self.latest_code = state["latest_code"]
