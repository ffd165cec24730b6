"""Gateway packets from BLE samples: host times, sequence numbers, gaps; and the on-disk outbox."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ingest.codec import decode, from_counts
from ingest.errors import StoreError
from ingest.outbox import Outbox
from ingest.packetizer import ACC_SCALE_G, DeviceClock, Packetizer
from ingest.profiles.base import Samples


def one(acc: list[float]) -> Samples:
    return Samples(np.array([acc], dtype=np.float64))


def test_untimed_samples_fill_packets_timed_by_arrival() -> None:
    """One sample per notification at 50 Hz: packets of 25, the last sample at its arrival."""
    packetizer = Packetizer(50.0, 25, first_seq=7)
    packets = []
    for i in range(60):
        packets += packetizer.add(one([0.0, 0.0, 1.0 + i / 1000]), 1000.0 + i * 0.02)
    assert [p.seq for p in packets] == [7, 8]
    first = decode(packets[0].payload)
    assert first.t0_s == pytest.approx(1000.0)
    assert first.rate_hz == 50.0
    np.testing.assert_allclose(from_counts(first.acc, ACC_SCALE_G)[:, 2], 1.0 + np.arange(25) / 1000, atol=1e-3)
    assert decode(packets[1].payload).t0_s == pytest.approx(1000.5)
    (rest,) = packetizer.flush()
    assert (rest.seq, decode(rest.payload).acc.shape[0]) == (9, 10)


def test_a_gap_ends_the_packet_and_times_never_go_back() -> None:
    packetizer = Packetizer(50.0, 25)
    out = []
    for i in range(10):
        out += packetizer.add(one([0.0, 0.0, 1.0]), 100.0 + i * 0.02)
    out += packetizer.add(one([0.0, 0.0, 1.0]), 103.0)  # 2.8 s of lost notifications
    out += packetizer.add(one([0.0, 0.0, 1.0]), 102.0)  # a late, out-of-order arrival
    (cut,) = out
    assert decode(cut.payload).acc.shape[0] == 10
    (after,) = packetizer.flush()
    assert decode(after.payload).t0_s == pytest.approx(103.0)  # the late one is moved after it


def test_timestamped_samples_follow_the_device_clock_mapped_to_the_host() -> None:
    """A device clock 1000 s behind, notifications of 5 samples with jittered latency."""
    rng = np.random.default_rng(1)
    packetizer = Packetizer(50.0, 25)
    packets = []
    for k in range(40):
        t_dev = 500.0 + k * 0.1 + np.arange(5) * 0.02
        arrival = 1500.0 + k * 0.1 + 0.08 + 0.05 + rng.uniform(0.0, 0.04)
        packets += packetizer.add(Samples(np.tile([0.0, 0.0, 1.0], (5, 1)), t_s=t_dev), arrival)
    assert packetizer.clock.offset_s == pytest.approx(1000.05, abs=0.01)
    assert decode(packets[-1].payload).t0_s == pytest.approx(1000.05 + 500.0 + 7 * 0.5, abs=0.01)


def test_a_drifting_device_clock_is_measured() -> None:
    """A device clock losing 100 ppm: the offset grows by 0.1 ms per second."""
    clock = DeviceClock(window_s=10.0, drift_span_s=600.0)
    assert clock.drift_ppm is None
    for k in range(0, 1200):
        host = 2000.0 + k
        clock.update(host * (1 - 100e-6) - 7.0, host + 0.01 * (k % 3))
    assert clock.drift_ppm == pytest.approx(100.0, abs=5.0)


def test_packets_wait_in_the_outbox_until_acknowledged_and_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "gw" / "outbox.sqlite"
    box = Outbox(path)
    for seq in (3, 1, 2):
        box.put("dev-a", seq, bytes([seq]))
    box.put("dev-b", 1, b"b")
    box.ack("dev-a", 2)
    box.close()
    again = Outbox(path)
    assert again.pending("dev-a") == [(1, b"\x01"), (3, b"\x03")]
    assert again.count() == 3
    again.ack("dev-a", 9)  # unknown: nothing to forget
    assert again.count("dev-a") == 2


def test_an_unusable_outbox_says_so(tmp_path: Path) -> None:
    (tmp_path / "outbox.sqlite").write_bytes(b"not a database" * 100)
    with pytest.raises(StoreError, match="outbox"):
        Outbox(tmp_path / "outbox.sqlite")
