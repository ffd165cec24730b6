"""Gateway packets from BLE samples: host times, sequence numbers, gaps; and the on-disk outbox."""

from __future__ import annotations

import itertools
import logging
import os
from pathlib import Path

import numpy as np
import pytest

from ingest.codec import decode, from_counts
from ingest.errors import StoreError
from ingest.outbox import Outbox, open_outbox
from ingest.packetizer import ACC_SCALE_G, DeviceClock, Packet, Packetizer
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


T0 = 1.8e9


def _spans(packets: list[Packet]) -> list[tuple[float, float]]:
    """Each packet's ``(t0_s, t0_s + n / rate_hz)``, in order."""
    spans = []
    for packet in packets:
        batch = decode(packet.payload)
        spans.append((batch.t0_s, batch.t0_s + batch.acc.shape[0] / batch.rate_hz))
    return spans


def _overlaps(spans: list[tuple[float, float]]) -> int:
    # 1 us: well below the 20 ms period, above float rounding of epoch seconds.
    return sum(b[0] < a[1] - 1e-6 for a, b in itertools.pairwise(spans))


def test_one_glitched_device_time_does_not_squeeze_the_next_minute() -> None:
    """One notification stamped an hour ahead is counted and timed by its arrival; the others keep the device clock."""
    packetizer, packets = Packetizer(50.0, 25), []
    for k in range(3000):
        t = T0 + k * 0.1 + np.arange(5) / 50
        packets += packetizer.add(Samples(np.zeros((5, 3)), None, t + (3600 if k == 500 else 0)), T0 + (k + 1) * 0.1)
    spans = _spans(packets + packetizer.flush())
    assert _overlaps(spans) == 0
    assert spans[-1][1] - spans[0][0] == pytest.approx(300.0, abs=0.05)  # 3000 notifications of 0.1 s, no gap
    assert packetizer.clock.outliers == 1
    assert packetizer.clock.offset_s == pytest.approx(0.02)


@pytest.mark.parametrize("jump_s", [-T0, 3600.0, -30.0])
def test_a_lasting_change_of_the_device_clock_resets_the_mapping(jump_s: float) -> None:
    """The board's clock reset to 0 (set an hour ahead, half a minute back) while connected: followed within seconds."""
    packetizer, packets = Packetizer(50.0, 25), []
    for k in range(1200):
        t = T0 + k * 0.1 + np.arange(5) / 50 + (jump_s if k >= 500 else 0.0)
        packets += packetizer.add(Samples(np.zeros((5, 3)), None, t), T0 + (k + 1) * 0.1)
    spans = _spans(packets + packetizer.flush())
    assert _overlaps(spans) == 0
    assert spans[-1][1] - spans[0][0] == pytest.approx(120.0, abs=0.05)
    assert packetizer.clock.offset_s == pytest.approx(0.02 - jump_s)
    assert packetizer.clock.resets == 1
    assert packetizer.clock.outliers <= 50  # the notifications of the few seconds before the reset


def test_a_late_burst_keeps_the_device_times() -> None:
    """Notifications held 2 s by a stalled link and delivered at once are timed by the device clock, not bunched."""
    packetizer, packets = Packetizer(50.0, 25), []
    for k in range(200):
        t = T0 + k * 0.1 + np.arange(5) / 50
        late = k >= 100 and k % 100 < 20  # then 20 notifications at once, the first 1.9 s late
        arrival = T0 + (k // 100 + 0.2) * 10.0 if late else T0 + (k + 1) * 0.1
        packets += packetizer.add(Samples(np.zeros((5, 3)), None, t), arrival)
    assert packetizer.clock.outliers == 0
    assert _overlaps(_spans(packets + packetizer.flush())) == 0


def test_a_damaged_outbox_page_is_a_store_error(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    for seq in range(2000):
        box.put("dev", seq, os.urandom(300))
    box.close()
    data = bytearray((tmp_path / "o.sqlite").read_bytes())
    data[5 * 4096 : 6 * 4096] = os.urandom(4096)
    (tmp_path / "o.sqlite").write_bytes(data)
    with pytest.raises(StoreError):
        Outbox(tmp_path / "o.sqlite").pending("dev")


def _full_outbox(path: Path) -> None:
    box = Outbox(path)
    for seq in range(2000):
        box.put("dev", seq, bytes(300))
    box.close()


@pytest.mark.parametrize("damage", ["page", "truncated", "header", "garbage"])
def test_a_damaged_outbox_is_moved_aside_and_a_fresh_one_started(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The gateway starts with an empty outbox; the damaged file is kept beside it, the warning says what was lost."""
    path = tmp_path / "outbox.sqlite"
    _full_outbox(path)
    data = path.read_bytes()
    if damage == "page":
        data = data[: 5 * 4096] + bytes([0xA5]) * 4096 + data[6 * 4096 :]
    elif damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "header":
        data = data[:60]
    else:
        data = b"not a database" * 100
    path.write_bytes(data)
    with caplog.at_level(logging.WARNING, logger="ingest.outbox"):
        box = open_outbox(path)
    assert box.count() == 0
    box.put("dev", 1, b"x")
    assert box.pending("dev") == [(1, b"x")]
    box.close()
    (aside,) = tmp_path.glob("outbox.sqlite.corrupt-*")
    assert aside.read_bytes() == data
    (message,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert str(aside) in message
    assert "lost" in message


def test_an_outbox_that_cannot_be_opened_for_another_reason_is_not_moved(tmp_path: Path) -> None:
    """A folder in the way (or a read-only disk) is an error to fix, not a damaged file to set aside."""
    (tmp_path / "outbox.sqlite").mkdir()
    with pytest.raises(StoreError, match="outbox"):
        open_outbox(tmp_path / "outbox.sqlite")
    assert not list(tmp_path.glob("*.corrupt-*"))
