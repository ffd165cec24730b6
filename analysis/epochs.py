"""The sensor's z-angle in 5-s epochs, accumulated chunk by chunk: the input of ``analysis.inbed``.

The z-angle is the angle of the acceleration from the horizontal plane of the device,
``atan(az / sqrt(ax² + ay²))`` (van Hees et al. 2018, Sci Rep 8:12975,
doi:10.1038/s41598-018-31266-z), here of each epoch's mean acceleration: a low-pass
estimate of the gravity direction that can be summed exactly, whatever the chunking,
without keeping raw samples (``analysis.inbed`` says how this differs from GGIR).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from analysis.settings import InBedSettings

__all__ = ["AngleEpochs", "EpochAngles"]

#: Acceleration is accumulated in integer micro-g: integer sums are exact, so the epoch
#: sums do not depend on how the samples were chunked (float sums would, in their last
#: bits). 1 µg is far below any accelerometer's resolution (1-4 mg per digit).
_SCALE = 1_000_000
#: Larger readings (g) are not acceleration but corrupt data; they are rejected (and
#: they would overflow the integer sums).
_MAX_G = 1000.0
_SNAPSHOT_VERSION = 1


@dataclass(frozen=True, slots=True, eq=False)
class EpochAngles:
    """Consecutive epochs of the z-angle; epochs without samples are explicit.

    Epoch ``j`` covers ``[start_s + j * epoch_s, start_s + (j + 1) * epoch_s)``.

    Attributes:
        start_s: Start of the first epoch, s (a multiple of ``epoch_s``).
        epoch_s: Epoch length, s.
        samples: Samples in each epoch, shape (n,); 0 in a gap of the data.
        angle_deg: Z-angle of the epoch's mean acceleration, deg, shape (n,); NaN in a gap.
    """

    start_s: float
    epoch_s: float
    samples: NDArray[np.int64]
    angle_deg: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.samples.shape[0])

    @property
    def end_s(self) -> float:
        """End of the last epoch, s."""
        return self.start_s + len(self) * self.epoch_s

    def mids_s(self) -> NDArray[np.float64]:
        """Mid-times of the epochs, s, shape (n,)."""
        mids: NDArray[np.float64] = self.start_s + (np.arange(len(self), dtype=np.float64) + 0.5) * self.epoch_s
        return mids

    def mask(self, intervals: Iterable[tuple[float, float]]) -> NDArray[np.bool_]:
        """Per-epoch mask of the epochs whose mid-time lies in any ``[start, end)`` interval.

        Use it to turn non-wear bouts into the ``nonwear`` mask of ``find_in_bed``.

        Args:
            intervals: ``(start_s, end_s)`` pairs in the time base of the epochs.

        Returns:
            Boolean mask, shape (n,).

        >>> e = EpochAngles(0.0, 5.0, np.ones(4, dtype=np.int64), np.zeros(4))
        >>> e.mask([(4.0, 11.0)]).tolist()
        [False, True, False, False]
        """
        mids = self.mids_s()
        out = np.zeros(len(self), dtype=np.bool_)
        for start, end in intervals:
            out[np.searchsorted(mids, start, side="left") : np.searchsorted(mids, end, side="left")] = True
        return out


class AngleEpochs:
    """Accumulates samples into 5-s epoch sums of the acceleration, chunk by chunk.

    Only per-epoch sample counts and integer sums (micro-g) are kept, never raw samples.
    Integer sums are exact, so the result is identical however the samples are chunked
    (and in whatever order they come). Epochs are aligned to multiples of ``epoch_s`` in
    the samples' time base. Samples with a non-finite value, a reading beyond 1000 g,
    further than ``InBedSettings.max_span_s`` from the anchor or before the last
    ``discard_before`` are not used and only counted (``rejected``).

    Args:
        settings: The in-bed settings (``epoch_s`` and ``max_span_s`` are used here).
    """

    def __init__(self, settings: InBedSettings | None = None) -> None:
        self._settings = settings if settings is not None else InBedSettings()
        self._k0 = 0  # absolute index of the first stored epoch
        self._len = 0  # epochs in use
        self._counts = np.zeros(0, dtype=np.int64)  # capacity may exceed _len
        self._sums = np.zeros((0, 3), dtype=np.int64)
        self._anchor: int | None = None
        self._floor: int | None = None  # epochs before this were discarded
        self.rejected = 0

    @property
    def settings(self) -> InBedSettings:
        """The settings used."""
        return self._settings

    def update(self, t_s: NDArray[np.float64], acc_g: NDArray[np.float64]) -> None:
        """Add a chunk of samples.

        Args:
            t_s: Sample times, s, shape (n,); any origin; may be empty.
            acc_g: Acceleration, g, shape (n, 3).

        Raises:
            ValueError: Wrong shapes.
        """
        t = np.asarray(t_s, dtype=np.float64)
        acc = np.asarray(acc_g, dtype=np.float64)
        if t.ndim != 1 or acc.shape != (t.shape[0], 3):
            raise ValueError(f"need t_s shape (n,) and acc_g shape (n, 3), got {t.shape} and {acc.shape}")
        if t.shape[0] == 0:
            return
        # A sample counts when its time is finite and each axis within +-_MAX_G (NaN and
        # infinity are not); almost always every sample does, and nothing is copied.
        given = t.shape[0]
        ok = np.isfinite(t) & (np.abs(acc) <= _MAX_G).all(axis=1)
        if not ok.all():
            t, acc = t[ok], acc[ok]
        k = np.floor(t / self._settings.epoch_s).astype(np.int64)
        # Whole micro-g, kept as floats: exact, as |values| stay far below 2**53.
        quanta = np.rint(acc * _SCALE)
        if k.shape[0]:
            anchor = int(k[0]) if self._anchor is None else self._anchor
            self._anchor = anchor
            reach = math.floor(self._settings.max_span_s / self._settings.epoch_s)
            keep = np.abs(k - anchor) <= reach
            if self._floor is not None:
                keep &= k >= self._floor
            if not keep.all():
                k, quanta = k[keep], quanta[keep]
        self.rejected += given - int(k.shape[0])
        if k.shape[0] == 0:
            return
        lo, hi = int(k.min()), int(k.max())
        self._cover(lo, hi)
        idx = k - lo
        width = hi - lo + 1
        first = lo - self._k0
        self._counts[first : first + width] += np.bincount(idx, minlength=width)
        for axis in range(3):
            # Float sums of integers stay exact below 2**53 (a 5-s epoch holds < 2**53 µg).
            add = np.bincount(idx, weights=quanta[:, axis], minlength=width)
            self._sums[first : first + width, axis] += add.astype(np.int64)

    def _cover(self, lo: int, hi: int) -> None:
        """Grow the storage to hold absolute epochs ``lo..hi``."""
        if self._len == 0:
            self._k0 = lo
            capacity = max(hi - lo + 1, 1024)
            self._counts = np.zeros(capacity, dtype=np.int64)
            self._sums = np.zeros((capacity, 3), dtype=np.int64)
            self._len = hi - lo + 1
            return
        if lo < self._k0:  # rare: samples before the first one seen
            pad = self._k0 - lo
            self._counts = np.concatenate([np.zeros(pad, dtype=np.int64), self._counts])
            self._sums = np.concatenate([np.zeros((pad, 3), dtype=np.int64), self._sums])
            self._k0 = lo
            self._len += pad
        need = hi - self._k0 + 1
        if need > self._counts.shape[0]:
            most = 2 * math.floor(self._settings.max_span_s / self._settings.epoch_s) + 1
            capacity = max(need, min(2 * self._counts.shape[0], most))
            counts = np.zeros(capacity, dtype=np.int64)
            sums = np.zeros((capacity, 3), dtype=np.int64)
            counts[: self._len] = self._counts[: self._len]
            sums[: self._len] = self._sums[: self._len]
            self._counts, self._sums = counts, sums
        self._len = max(self._len, need)

    def discard_before(self, t_s: float) -> None:
        """Forget the epochs that end at or before ``t_s`` (a long-running stream keeps ~2 days).

        Later samples before that epoch are rejected, and the anchor of ``max_span_s``
        moves to it.

        Args:
            t_s: Time in the samples' time base, s.
        """
        cut = math.floor(t_s / self._settings.epoch_s)
        self._floor = cut if self._floor is None else max(self._floor, cut)
        self._anchor = self._floor
        drop = min(max(self._floor - self._k0, 0), self._len)
        if drop:
            self._counts = self._counts[drop:].copy()
            self._sums = self._sums[drop:].copy()
            self._len -= drop
            self._k0 += drop
        if self._len == 0:
            self._k0 = self._floor

    def epochs(self) -> EpochAngles:
        """The epochs so far, from the first sample's epoch to the last one's."""
        counts = self._counts[: self._len].copy()
        sums = self._sums[: self._len].astype(np.float64)
        with np.errstate(invalid="ignore"):
            angle = np.degrees(np.arctan2(sums[:, 2], np.hypot(sums[:, 0], sums[:, 1])))
        angle[counts == 0] = np.nan
        return EpochAngles(
            start_s=self._k0 * self._settings.epoch_s, epoch_s=self._settings.epoch_s, samples=counts, angle_deg=angle
        )

    def snapshot(self) -> dict[str, Any]:
        """Return the JSON-serialisable state."""
        counts = self._counts[: self._len]
        sums = self._sums[: self._len]
        return {
            "version": _SNAPSHOT_VERSION,
            "epoch_s": self._settings.epoch_s,
            "k0": self._k0,
            "anchor": self._anchor,
            "floor": self._floor,
            "rejected": self.rejected,
            "counts": [int(c) for c in counts],
            "sums": [[int(v) for v in sums[:, axis]] for axis in range(3)],
        }

    def load(self, state: dict[str, Any]) -> None:
        """Restore the state saved by ``snapshot()``.

        Raises:
            ValueError: The state is of another version or epoch length.
        """
        if state.get("version") != _SNAPSHOT_VERSION:
            raise ValueError(f"unknown AngleEpochs snapshot version {state.get('version')!r}")
        if float(state["epoch_s"]) != self._settings.epoch_s:
            raise ValueError(f"snapshot epoch_s {state['epoch_s']} != settings epoch_s {self._settings.epoch_s}")
        self._counts = np.asarray(state["counts"], dtype=np.int64).reshape(-1)
        self._sums = np.asarray(state["sums"], dtype=np.int64).reshape(3, -1).T.copy()
        self._len = int(self._counts.shape[0])
        self._k0 = int(state["k0"])
        self._anchor = None if state["anchor"] is None else int(state["anchor"])
        self._floor = None if state["floor"] is None else int(state["floor"])
        self.rejected = int(state["rejected"])
