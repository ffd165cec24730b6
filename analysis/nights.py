"""The wearer's in-bed hours, learned live night by night, to keep alerts out of bed.

``sitless analyze`` finds each night's in-bed window once the whole noon-to-noon day is
known (:mod:`analysis.inbed`, HDCZA: van Hees et al. 2018, doi:10.1038/s41598-018-31266-z).
A live stream cannot wait for the morning before it decides on an alert, so it learns
instead: at each local noon it runs the same HDCZA steps over the window that just ended,
and keeps the in-bed windows it finds (:class:`~analysis.events.InBedFound`, stored and
drawn on the Day page). From then on it knows the wearer's usual in-bed hours, the
median bedtime and getting-up time of the nights found in the last 14 days: a sitting
bout that begins in them raises no alert (``analysis.posture_detector``), so a thigh
turning onto its back in bed at 02:00 (which reads as sitting down) is not reminded to
stand up. The first night of a recording has no such hours yet; at the thigh the
stillness hold covers it (:mod:`analysis.stillness`).

**Differences from the batch method**, to keep a wearer's state small (a few kB a day,
saved with every snapshot):

- the 5-s z-angle comes from the 0.1-s frames' mean acceleration (the epoch's mean, as
  ``analysis.epochs.AngleEpochs`` takes it from the samples, but in floating point);
- the rolling 5-min median of the angle changes is kept per epoch only until it is
  folded into its minute: a minute keeps the largest median of its epochs (quantised to
  2.8% steps, :func:`_quantise`) and its counts of worn, lying, upright and non-wear
  epochs; a histogram of the quantised medians gives the 10th percentile;
- so HDCZA's steps 4-7 run on minutes (``longest_rest_block``): a minute is still when
  all 12 of its epochs are worn, none is upright, and every median is below the
  threshold. A night found live can be up to a minute shorter at each end than the
  batch one.

Only nights of at least ``min_night_s`` (3 h) are learned from: a day whose longest rest
was an afternoon nap says nothing about the wearer's nights.
"""

from __future__ import annotations

import base64
import bisect
import math
from collections import deque
from typing import Any

import numpy as np
from numpy.typing import NDArray

from analysis.events import InBedFound
from analysis.frames import FrameBatch
from analysis.inbed import longest_rest_block
from analysis.settings import POSTURE_CODES, UPRIGHT, InBedSettings, Posture

__all__ = ["NightLearner"]

_DAY_S = 86400.0
_MINUTE_S = 60.0
#: Quantised medians: level q stands for ``_Q_MIN_DEG * _Q_RATIO**q`` deg; 255 is unknown.
_Q_MIN_DEG = 0.01
_Q_RATIO = 1000.0 ** (1.0 / 254.0)  # 254 levels span 0.01-10 deg, 2.8% apart
_UNKNOWN = 255
_LYING = POSTURE_CODES.index(Posture.LYING)
_OFF = POSTURE_CODES.index(Posture.NONWEAR)
_UPRIGHT_CODES = [POSTURE_CODES.index(p) for p in UPRIGHT]
_N_CODES = len(POSTURE_CODES)
#: A forward jump longer than this starts the record afresh instead of filling minutes.
_MAX_FILL_S = 2 * _DAY_S
_FIELDS = ("maxq", "epochs", "worn", "lying", "upright", "off")


def _quantise(median_deg: float) -> int:
    """The level of a median change (``_UNKNOWN`` for NaN).

    >>> _quantise(0.01), _quantise(0.13), _quantise(10.0), _quantise(float("nan"))
    (0, 94, 254, 255)
    """
    if not math.isfinite(median_deg):
        return _UNKNOWN
    if median_deg <= _Q_MIN_DEG:
        return 0
    return min(254, round(math.log(median_deg / _Q_MIN_DEG) / math.log(_Q_RATIO)))


def _level_deg(q: NDArray[np.uint8]) -> NDArray[np.float64]:
    """The median change each level stands for (inf for unknown)."""
    out = _Q_MIN_DEG * _Q_RATIO ** q.astype(np.float64)
    out[q == _UNKNOWN] = np.inf
    return out


class NightLearner:
    """Finds each local noon-to-noon window's in-bed time live and learns the usual in-bed hours.

    Feed it every closed frame (:meth:`frames`) and the final posture codes
    (:meth:`postures`), which come a little later; :meth:`postures` returns a
    :class:`InBedFound` when a window ends with one. Times are in the analyser's time
    base, Unix epoch seconds for a live stream.

    Args:
        settings: The in-bed settings (HDCZA's knobs).
        frame_s: Length of the analyser's frames, s.
        reports_lying: Whether the placement reports lying (not the wrist): then a rest
            block must be mostly lying (``InBedSettings.min_lying_share``).
        utc_offset_h: Local time offset from UTC, hours (where local noons fall).
        min_night_s: Shortest in-bed window learned from, s.
        memory_s: Nights ending this long before the latest are forgotten, s.
    """

    def __init__(
        self,
        settings: InBedSettings,
        frame_s: float,
        *,
        reports_lying: bool = True,
        utc_offset_h: float = 0.0,
        min_night_s: float = 3 * 3600.0,
        memory_s: float = 14 * _DAY_S,
    ) -> None:
        self.settings = settings
        self._frame_s = frame_s
        self.reports_lying = reports_lying
        self.offset_s = utc_offset_h * 3600.0
        self.min_night_s = min_night_s
        self.memory_s = memory_s
        self._epoch_s = settings.epoch_s
        self._per_minute = max(1, round(_MINUTE_S / settings.epoch_s))
        self._width = settings.median_epochs
        self._ahead = self._width - 1 - self._width // 2  # changes needed after an epoch for its median
        self.nights: list[tuple[float, float]] = []
        self._reset_stream()

    # -- the stream -------------------------------------------------------------------

    def _reset_stream(self) -> None:
        """Forget everything but the nights (a new recording, or the clock went back)."""
        self._open_e: int | None = None  # epoch whose frames are being summed
        self._open = np.zeros(4)  # frames' sample count, sum ax, sum ay, sum az
        self._last_e: int | None = None  # last epoch with an angle (or NaN) pushed
        self._last_angle = math.nan
        self._clear_changes()
        self._ready: deque[tuple[int, float]] = deque()  # (epoch, median change) awaiting its postures
        self._codes: dict[int, list[int]] = {}  # epoch -> frames, lying, upright, non-wear frames
        self._coded_e: int | None = None  # epochs before this have all their final codes
        self._min0: int | None = None  # absolute minute of the record's first minute
        self._record = {name: bytearray() for name in _FIELDS}
        self._hist = [0] * 256
        self._window_end_s: float | None = None

    def frames(self, frames: FrameBatch) -> None:
        """Take closed frames (their mean acceleration makes the 5-s angles)."""
        m = frames.m
        if m == 0:
            return
        t0, fs = frames.t0_s, frames.frame_s
        e_first = math.floor((t0 + (frames.k_first + 0.5) * fs) / self._epoch_s)
        e_last = math.floor((t0 + (frames.k_end - 0.5) * fs) / self._epoch_s)
        sums = frames.stats[:, :4]
        if e_first == e_last:
            self._add_to_epoch(e_first, sums.sum(axis=0))
            return
        mids = t0 + (np.arange(frames.k_first, frames.k_end) + 0.5) * fs
        idx = np.floor(mids / self._epoch_s).astype(np.int64) - e_first
        width = int(idx[-1]) + 1
        per_epoch = np.stack([np.bincount(idx, weights=sums[:, c], minlength=width) for c in range(4)], axis=1)
        for i in np.flatnonzero(np.bincount(idx, minlength=width)).tolist():
            self._add_to_epoch(e_first + i, per_epoch[i])

    def _add_to_epoch(self, e: int, sums: NDArray[np.float64]) -> None:
        if self._open_e is not None and e < self._open_e:
            return  # frames arrive in time order within a segment; an older one is ignored
        if self._open_e is not None and e > self._open_e:
            self._close_epoch()
        if self._open_e is None or e > self._open_e:
            self._open_e = e
            self._open = np.zeros(4)
        self._open += sums

    def _close_epoch(self) -> None:
        """Push the open epoch's angle, and NaN for the epochs without frames before it."""
        e = self._open_e
        assert e is not None
        n, sx, sy, sz = self._open.tolist()
        angle = math.degrees(math.atan2(sz / n, math.hypot(sx / n, sy / n))) if n > 0 else math.nan
        if self._last_e is not None and (e - self._last_e - 1) * self._epoch_s > _MAX_FILL_S:
            self._reset_stream()  # days without data: the window is lost, the nights stay
        if self._last_e is not None and e - self._last_e > 1:
            missing = e - self._last_e - 1
            for skipped in range(self._last_e + 1, self._last_e + 1 + min(missing, self._width)):
                self._push_change(skipped, math.nan)
            if missing > self._width:
                # the medians of the rest of the gap are NaN: no frames within a window of them
                self._clear_changes()
                for skipped in range(self._last_e + 1 + self._width - self._ahead, e - self._ahead):
                    self._ready.append((skipped, math.nan))
            self._last_angle = math.nan
        self._push_change(e, abs(angle - self._last_angle))
        self._last_e, self._last_angle = e, angle

    def _clear_changes(self) -> None:
        """A window of angle changes none of which is known (NaN)."""
        self._changes: deque[float] = deque([math.nan] * self._width, maxlen=self._width)
        self._known: list[float] = []  # the changes in _changes that are not NaN, sorted (_push_change)

    def _push_change(self, e: int, change: float) -> None:
        # The known changes stay sorted as one leaves and one comes: the same list as
        # sorting the window's anew each epoch, for two bisections instead of a sort.
        changes, known = self._changes, self._known
        if len(changes) == changes.maxlen and not math.isnan(changes[0]):
            del known[bisect.bisect_left(known, changes[0])]
        changes.append(change)
        if not math.isnan(change):
            bisect.insort(known, change)
        n = len(known)
        median = 0.5 * (known[(n - 1) // 2] + known[n // 2]) if 2 * n >= self._width else math.nan
        self._ready.append((e - self._ahead, median))

    def postures(self, t0_s: float, k_first: int, codes: NDArray[np.int64]) -> list[InBedFound]:
        """Take final posture codes of frames ``k_first...``; return the in-bed windows of the noons passed."""
        n = int(codes.shape[0])
        if n == 0:
            return []
        frame_s = self._frame_s
        e_first = math.floor((t0_s + (k_first + 0.5) * frame_s) / self._epoch_s)
        e_last = math.floor((t0_s + (k_first + n - 0.5) * frame_s) / self._epoch_s)
        if e_first == e_last:
            self._count_codes(e_first, np.bincount(codes, minlength=_N_CODES), n)
        else:
            mids = t0_s + (np.arange(k_first, k_first + n) + 0.5) * frame_s
            idx = np.floor(mids / self._epoch_s).astype(np.int64) - e_first
            width = int(idx[-1]) + 1
            table = np.bincount(idx * _N_CODES + codes, minlength=width * _N_CODES).reshape(width, _N_CODES)
            for i in np.flatnonzero(table.sum(axis=1)).tolist():
                self._count_codes(e_first + i, table[i], int(table[i].sum()))
        if self._coded_e is None or e_last > self._coded_e:
            self._coded_e = e_last  # epoch e_last may get more codes; those before are complete
        return self._fold_ready()

    def _count_codes(self, e: int, counts: NDArray[np.int64], n: int) -> None:
        row = self._codes.setdefault(e, [0, 0, 0, 0])
        row[0] += n
        row[1] += int(counts[_LYING])
        row[2] += int(sum(int(counts[c]) for c in _UPRIGHT_CODES))
        row[3] += int(counts[_OFF])

    def _fold_ready(self) -> list[InBedFound]:
        found: list[InBedFound] = []
        while self._ready and self._coded_e is not None and self._ready[0][0] < self._coded_e:
            e, median = self._ready.popleft()
            found += self._fold(e, median, self._codes.pop(e, None))
        if len(self._codes) > 4 * self._width:  # codes of epochs that will never be folded
            oldest = self._ready[0][0] if self._ready else self._coded_e or 0
            for stale in [e for e in self._codes if e < oldest]:
                del self._codes[stale]
        return found

    # -- minutes and windows ----------------------------------------------------------

    def _noon_after(self, t_s: float) -> float:
        """The first local noon after ``t_s``."""
        local = t_s + self.offset_s
        noon = math.floor((local - _DAY_S / 2) / _DAY_S) * _DAY_S + _DAY_S / 2
        return noon + _DAY_S - self.offset_s

    def _fold(self, e: int, median: float, codes: list[int] | None) -> list[InBedFound]:
        """Add one epoch's median change and postures to its minute; judge the window at a noon."""
        found: list[InBedFound] = []
        t_s = e * self._epoch_s
        minute = math.floor(t_s / _MINUTE_S)
        if self._min0 is None or minute - (self._min0 + len(self._record["maxq"])) > _MAX_FILL_S / _MINUTE_S:
            if self._min0 is not None and self._window_end_s is not None:
                found += self._judge()
            self._start_window(minute)
        assert self._min0 is not None
        assert self._window_end_s is not None
        while minute >= self._min0 + len(self._record["maxq"]):
            start_s = (self._min0 + len(self._record["maxq"])) * _MINUTE_S
            if start_s >= self._window_end_s:
                found += self._judge()
                self._start_window(math.floor(start_s / _MINUTE_S))
                continue
            for name in _FIELDS:
                self._record[name].append(0)
        i = minute - self._min0
        if i < 0:
            return found
        frames, lying, upright, off = codes if codes is not None else (0, 0, 0, 0)
        worn = frames > 0 and 2 * off < frames
        q = _quantise(median)
        rec = self._record
        rec["epochs"][i] = min(255, rec["epochs"][i] + 1)
        rec["maxq"][i] = max(rec["maxq"][i], q)
        rec["worn"][i] += int(worn)
        rec["lying"][i] += int(frames > 0 and 2 * lying > frames)
        rec["upright"][i] += int(frames > 0 and 2 * upright > frames)
        rec["off"][i] += int(frames > 0 and 2 * off >= frames)
        if worn and q != _UNKNOWN:
            self._hist[q] += 1
        return found

    def _start_window(self, minute: int) -> None:
        self._min0 = minute
        for name in _FIELDS:
            self._record[name] = bytearray()
        self._hist = [0] * 256
        self._window_end_s = self._noon_after(minute * _MINUTE_S)

    def _judge(self) -> list[InBedFound]:
        """HDCZA steps 4-7 on the window's minutes; learn and report the in-bed window found."""
        cfg = self.settings
        rec = {name: np.frombuffer(bytes(self._record[name]), dtype=np.uint8) for name in _FIELDS}
        worn_s = float(rec["worn"].sum()) * self._epoch_s
        total = sum(self._hist)
        if worn_s < cfg.min_worn_s or total == 0 or self._min0 is None:
            return []
        rank = cfg.percentile / 100.0 * (total - 1)
        cum = np.cumsum(self._hist)
        level = float(_level_deg(np.array([int(np.searchsorted(cum, rank, side="right"))], dtype=np.uint8))[0])
        threshold = min(max(level * cfg.multiplier, cfg.min_threshold_deg), cfg.max_threshold_deg)
        full = rec["epochs"] >= self._per_minute
        still = full & (rec["worn"] >= self._per_minute) & (rec["upright"] == 0) & (_level_deg(rec["maxq"]) < threshold)
        epochs = np.maximum(rec["epochs"], 1).astype(np.float64)
        block = longest_rest_block(
            still,
            off=rec["off"] > 0,
            lying=rec["lying"] / epochs if self.reports_lying else None,
            upright=rec["upright"] / self._per_minute,
            epoch_s=_MINUTE_S,
            settings=cfg,
        )
        if block is None:
            return []
        first, end = block
        night = InBedFound((self._min0 + first) * _MINUTE_S, (self._min0 + end) * _MINUTE_S)
        if night.duration_s >= self.min_night_s:
            self.nights = [n for n in self.nights if n[1] > night.end_s - self.memory_s][-13:]
            self.nights.append((night.start_s, night.end_s))
        return [night]

    # -- what was learned -------------------------------------------------------------

    def usual_hours(self, margin_s: float = 0.0) -> tuple[float, float] | None:
        """The wearer's usual in-bed hours, local ``(start, end)`` hours widened by a margin, or None.

        The median bedtime and getting-up time, each counted in hours after noon so that
        a night across midnight averages right, widened by ``margin_s`` at each end, within
        noon to noon.
        """
        margin_h = margin_s / 3600.0
        if not self.nights:
            return None
        after_noon = np.array(
            [[((t + self.offset_s) / 3600.0 - 12.0) % 24.0 for t in night] for night in self.nights], dtype=np.float64
        )
        start = float(np.median(after_noon[:, 0])) - margin_h
        end = float(np.median(after_noon[:, 1])) + margin_h
        start, end = max(start, 0.0), min(end, 24.0)
        if end - start >= 24.0 or end <= start:
            return None
        return ((start + 12.0) % 24.0, (end + 12.0) % 24.0 or 24.0)

    # -- state ------------------------------------------------------------------------

    def new_segment(self, forward: bool) -> None:
        """The clock jumped: the next frames start a new segment. Backward, the record restarts."""
        if not forward:
            self._reset_stream()
            return
        if self._open_e is not None:
            self._close_epoch()
        self._open_e = None

    def snapshot(self) -> dict[str, Any]:
        """Return the JSON-serialisable state."""

        def num(x: float) -> float | None:
            return x if math.isfinite(x) else None

        return {
            "version": 1,
            "nights": [list(n) for n in self.nights],
            "open_e": self._open_e,
            "open": self._open.tolist(),
            "last_e": self._last_e,
            "last_angle": num(self._last_angle),
            "changes": [num(c) for c in self._changes],
            "ready": [[e, num(m)] for e, m in self._ready],
            "codes": [[e, *row] for e, row in self._codes.items()],
            "coded_e": self._coded_e,
            "min0": self._min0,
            "record": {name: base64.b64encode(bytes(v)).decode() for name, v in self._record.items()},
            "hist": {str(q): c for q, c in enumerate(self._hist) if c},
            "window_end_s": self._window_end_s,
        }

    def load(self, state: dict[str, Any]) -> None:
        """Restore the state saved by :meth:`snapshot`."""
        if state.get("version") != 1:
            raise ValueError(f"unknown night-learner snapshot version {state.get('version')!r}")

        def num(x: float | None) -> float:
            return math.nan if x is None else float(x)

        self.nights = [(float(a), float(b)) for a, b in state["nights"]]
        self._open_e = state["open_e"]
        self._open = np.asarray(state["open"], dtype=np.float64)
        self._last_e = state["last_e"]
        self._last_angle = num(state["last_angle"])
        self._changes = deque((num(c) for c in state["changes"]), maxlen=self._width)
        self._known = sorted(c for c in self._changes if not math.isnan(c))
        self._ready = deque((int(e), num(m)) for e, m in state["ready"])
        self._codes = {int(row[0]): [int(v) for v in row[1:]] for row in state["codes"]}
        self._coded_e = state["coded_e"]
        self._min0 = state["min0"]
        self._record = {name: bytearray(base64.b64decode(state["record"][name])) for name in _FIELDS}
        self._hist = [0] * 256
        for q, c in state["hist"].items():
            self._hist[int(q)] = int(c)
        self._window_end_s = state["window_end_s"]
