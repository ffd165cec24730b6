"""Decoded BLE samples to sitless packets: host-aligned times, sequence numbers, fixed-size packets.

The gateway hands each notification's samples to a :class:`Packetizer` with the time
the notification arrived. Samples get times on the host clock (what the rest of
sitless compares across devices), then go out in packets of ``packet_samples``
(``ingest.codec``; sample ``i`` of a packet is at ``t0_s + i / rate_hz``):

- **Sensors that time-stamp their samples** (Polar, the ``sitless`` profile): the
  device clock is mapped onto the host's by :class:`DeviceClock`, the smallest
  ``arrival - device time`` of the last minute (the notification that waited least in
  the radio stack), so a drifting or unset device clock still gives host times; the
  drift is measured and reported. A notification whose offset is far from that
  estimate (a time stamp glitched by an hour, a clock that reset) is not let into it:
  it is counted, and its samples are timed as an untimed sensor's are; when such
  notifications agree on a new offset for a few seconds, the device clock did change
  (the board restarted, its clock was set again) and the mapping starts over from it.
- **Sensors that do not** (micro:bit, Thingy:52, WitMotion): the last sample of a
  notification is timed at its arrival and the others before it at the sample rate.

Times never go backwards: a sample timed less than half a period after the previous
one is moved up to that (a smaller tolerance would push an exact but slightly fast
device clock ahead of the host's, a little more with every sample). A gap of more than two sample periods (lost
notifications, a reconnection) ends the packet being filled, so the next one starts at
its true time.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ingest.codec import Batch, encode, to_counts
from ingest.profiles.base import Samples

__all__ = ["ACC_SCALE_G", "GYRO_SCALE_DPS", "DeviceClock", "Packet", "Packetizer"]

#: g per count of the packets the gateway makes: ±8 g over int16, as most wearables' range.
ACC_SCALE_G = 1 / 4096
#: deg/s per gyro count: ±2048 deg/s over int16.
GYRO_SCALE_DPS = 1 / 16
#: Samples more than this many periods apart are in different packets.
_GAP_PERIODS = 2.0


@dataclass(frozen=True, slots=True)
class Packet:
    """One packet ready to publish.

    Attributes:
        seq: Its sequence number.
        t0_s: Host time of its first sample, Unix epoch seconds.
        payload: The encoded packet.
    """

    seq: int
    t0_s: float
    payload: bytes


class DeviceClock:
    """Maps a device's clock onto the host's, and measures how fast it drifts (module docstring).

    The offset (host time minus device time) is the smallest of the last ``window_s``
    of notifications: each arrives after its last sample by the time it waited in the
    radio stack, so the smallest is the truest. A notification whose offset lies more
    than ``early_s`` below the estimate (a sample from the future: the device clock
    jumped ahead) or more than ``late_s`` above it (older than any wait in a live
    link) is an outlier: :meth:`update` counts it and refuses it, and the caller times
    its samples by their arrival. Outliers that agree with each other for
    ``reset_after`` notifications over ``reset_span_s`` or more are a lasting change of
    the device clock: the mapping (and the drift measurement) starts again from them.

    Args:
        window_s: The offset is the smallest of this many seconds of notifications.
        drift_span_s: Drift is the slope of the offset over this span (the minima of
            each window); reported once it spans a tenth of it.
        early_s: An offset this far below the estimate is an outlier, s (above the
            spread of radio delays the window minimum settles through).
        late_s: An offset this far above the estimate is an outlier, s: a notification
            held longer than a link's supervision timeout (a few seconds in BlueZ,
            Android and iOS) means the link was lost, so no delay explains it.
        reset_after: How many agreeing outliers make a lasting change...
        reset_span_s: ... over at least this many seconds.

    >>> clock = DeviceClock()
    >>> for k in range(3):
    ...     _ = clock.update(100.0 + k, 1000.5 + k + 0.02 * (k == 1))
    >>> round(clock.offset_s, 3)
    900.5
    >>> clock.update(3700.0 + 3, 1000.5 + 3)  # a time stamp an hour ahead: refused
    False
    >>> (round(clock.offset_s, 3), clock.outliers)
    (900.5, 1)
    """

    def __init__(
        self,
        window_s: float = 60.0,
        drift_span_s: float = 1800.0,
        *,
        early_s: float = 1.0,
        late_s: float = 10.0,
        reset_after: int = 10,
        reset_span_s: float = 5.0,
    ) -> None:
        self.window_s = window_s
        self.drift_span_s = drift_span_s
        self.early_s = early_s
        self.late_s = late_s
        self.reset_after = reset_after
        self.reset_span_s = reset_span_s
        #: Notifications refused as outliers.
        self.outliers = 0
        #: Lasting changes of the device clock followed.
        self.resets = 0
        self._recent: deque[tuple[float, float]] = deque()  # (arrival, offset), offsets increasing
        self._minima: deque[tuple[float, float]] = deque()  # (arrival, offset) of past windows
        self._window_end_s = -math.inf
        self._window_min: tuple[float, float] | None = None
        # Consecutive outliers that agree: first arrival, (arrival, offset) of the smallest, how many.
        self._candidate: tuple[float, tuple[float, float], int] | None = None

    @property
    def known(self) -> bool:
        """Whether an offset has been measured."""
        return bool(self._recent)

    @property
    def offset_s(self) -> float:
        """Host time minus device time, s (0 before any notification)."""
        return self._recent[0][1] if self._recent else 0.0

    def update(self, device_t_s: float, arrival_s: float) -> bool:
        """Take a notification whose last sample has ``device_t_s`` and arrived at ``arrival_s``.

        Returns:
            Whether its samples follow the device clock (``offset_s`` maps them); False
            for an outlier, whose samples the caller times by their arrival.
        """
        offset = arrival_s - device_t_s
        if self.known and not self._agrees(offset, self.offset_s):
            candidate = self._candidate
            if candidate is not None and self._agrees(offset, candidate[1][1]):
                first_s, smallest, n = candidate
                smallest = smallest if smallest[1] <= offset else (arrival_s, offset)
                if n + 1 >= self.reset_after and arrival_s - first_s >= self.reset_span_s:
                    self._restart(smallest)
                    self._take(arrival_s, offset)
                    return True
                self._candidate = (first_s, smallest, n + 1)
            else:
                self._candidate = (arrival_s, (arrival_s, offset), 1)
            self.outliers += 1
            return False
        self._candidate = None
        self._take(arrival_s, offset)
        return True

    def _agrees(self, offset: float, estimate: float) -> bool:
        return -self.early_s <= offset - estimate <= self.late_s

    def _restart(self, smallest: tuple[float, float]) -> None:
        """A lasting change of the device clock: forget the old mapping, start from ``smallest``."""
        self.resets += 1
        self._candidate = None
        self._recent = deque([smallest])
        self._minima.clear()
        self._window_end_s = -math.inf
        self._window_min = None

    def _take(self, arrival_s: float, offset: float) -> None:
        recent = self._recent
        while recent and recent[-1][1] >= offset:  # a sliding-window minimum
            recent.pop()
        recent.append((arrival_s, offset))
        while recent[0][0] < arrival_s - self.window_s:
            recent.popleft()
        if self._window_min is None or offset < self._window_min[1]:
            self._window_min = (arrival_s, offset)
        if arrival_s >= self._window_end_s:
            if self._window_min is not None and self._window_end_s > -math.inf:
                self._minima.append(self._window_min)
            self._window_min = None
            self._window_end_s = arrival_s + self.window_s
            while self._minima and self._minima[0][0] < arrival_s - self.drift_span_s:
                self._minima.popleft()

    @property
    def drift_ppm(self) -> float | None:
        """How fast the device clock falls behind the host's, parts per million (None until measured).

        Positive: the device clock runs slow (the offset grows).
        """
        if len(self._minima) < 3 or self._minima[-1][0] - self._minima[0][0] < self.drift_span_s / 10:
            return None
        t = np.array([m[0] for m in self._minima])
        y = np.array([m[1] for m in self._minima])
        slope = float(np.polyfit(t - t[0], y, 1)[0])
        return slope * 1e6


class Packetizer:
    """Samples of one sensor to packets (module docstring).

    Args:
        rate_hz: The sensor's sample rate.
        packet_samples: Samples per packet (half a second is the simulator's choice).
        first_seq: Sequence number of the first packet.
        after_s: Time of the last sample sent before (an earlier connection's): no
            sample is timed before it.
        clock: The device clock's mapping so far (the same sensor's, at another rate);
            None for a new one.
    """

    def __init__(
        self,
        rate_hz: float,
        packet_samples: int,
        first_seq: int = 0,
        after_s: float = -math.inf,
        clock: DeviceClock | None = None,
    ) -> None:
        if not (math.isfinite(rate_hz) and rate_hz > 0):
            raise ValueError(f"rate_hz must be a finite number > 0, got {rate_hz!r}")
        if packet_samples < 1:
            raise ValueError(f"packet_samples must be >= 1, got {packet_samples!r}")
        self.rate_hz = rate_hz
        self.packet_samples = packet_samples
        self.next_seq = first_seq
        self.clock = DeviceClock() if clock is None else clock
        self._period_s = 1.0 / rate_hz
        self._t: list[float] = []
        self._acc: list[NDArray[np.float64]] = []
        self._gyro: list[NDArray[np.float64] | None] = []
        self._last_t_s = after_s  # time of the last sample taken

    def add(self, samples: Samples, arrival_s: float) -> list[Packet]:
        """Take one notification's samples; return the packets they complete."""
        if samples.n == 0:
            return []
        if samples.t_s is not None and self.clock.update(float(samples.t_s[-1]), arrival_s):
            times = (samples.t_s + self.clock.offset_s).tolist()
        else:  # untimed, or a device time the clock refused
            times = (arrival_s - (samples.n - 1 - np.arange(samples.n, dtype=np.float64)) * self._period_s).tolist()
        packets: list[Packet] = []
        for i in range(samples.n):
            t = max(times[i], self._last_t_s + 0.5 * self._period_s)
            if self._t and t - self._t[-1] > _GAP_PERIODS * self._period_s:
                packets += self._emit()
            self._t.append(t)
            self._acc.append(samples.acc_g[i])
            self._gyro.append(None if samples.gyro_dps is None else samples.gyro_dps[i])
            self._last_t_s = t
            if len(self._t) == self.packet_samples:
                packets += self._emit()
        return packets

    @property
    def last_t_s(self) -> float:
        """Time of the last sample taken (``after_s`` before any)."""
        return self._last_t_s

    def flush(self) -> list[Packet]:
        """The packet being filled, if any (the stream ends or the sensor dropped)."""
        return self._emit()

    def _emit(self) -> list[Packet]:
        if not self._t:
            return []
        acc = np.array(self._acc)
        with_gyro = all(g is not None for g in self._gyro)
        gyro = np.array(self._gyro, dtype=np.float64) if with_gyro else None
        batch = Batch(
            seq=self.next_seq % 2**32,
            t0_s=self._t[0],
            rate_hz=self.rate_hz,
            acc_scale_g=ACC_SCALE_G,
            acc=to_counts(acc, ACC_SCALE_G),
            gyro_scale_dps=GYRO_SCALE_DPS if gyro is not None else 0.0,
            gyro=None if gyro is None else to_counts(gyro, GYRO_SCALE_DPS),
        )
        packet = Packet(batch.seq, batch.t0_s, encode(batch))
        self.next_seq += 1
        self._t, self._acc, self._gyro = [], [], []
        return [packet]
