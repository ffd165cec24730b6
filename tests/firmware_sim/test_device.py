from __future__ import annotations

import numpy as np
import pytest

from analysis.settings import Placement
from firmware_sim.device import DeviceSettings, iter_packets
from firmware_sim.motion import iter_chunks
from firmware_sim.params import MotionParams
from firmware_sim.scenarios import ALL_POSTURES
from ingest.codec import decode
from ingest.errors import TopicError

SCRIPT = ALL_POSTURES.truncated(200.0)
START_S = 1_750_000_000.0


def test_packets_decode_with_the_real_codec() -> None:
    """Every packet decodes: 25 samples, 50 Hz, 1/4096 g, device time from the start time."""
    packets = list(iter_packets(SCRIPT, DeviceSettings(params=MotionParams(drop_prob=0.0)), START_S))
    assert len(packets) in (400, 401)  # the clock error leaves a short last packet or one extra
    for i, packet in enumerate(packets[:-1]):
        assert packet.payload is not None
        batch = decode(packet.payload)
        assert batch.seq == packet.seq == i
        assert batch.n == 25
        assert batch.rate_hz == 50.0
        assert batch.acc_scale_g == 1 / 4096
        assert batch.t0_s == pytest.approx(START_S + i * 0.5)
        assert packet.sim_end_s == pytest.approx((i + 1) * 0.5)
    assert packets[-1].lap_end
    assert not any(p.lap_end for p in packets[:-1])


def test_packets_carry_the_motion_samples() -> None:
    """Decoded samples equal the motion model's, to the quantisation step of 1/4096 g."""
    settings = DeviceSettings(placement=Placement.LOWER_BACK, seed=9, params=MotionParams(drop_prob=0.0))
    packets = list(iter_packets(SCRIPT, settings, START_S))
    acc = np.concatenate([decode(p.payload).acc_g() for p in packets if p.payload is not None])
    expected = np.concatenate([c.acc_g for c in iter_chunks(SCRIPT, Placement.LOWER_BACK, 9)])
    np.testing.assert_allclose(acc, expected, atol=0.5 / 4096 + 1e-12)


def test_dropped_packets_consume_sequence_numbers() -> None:
    """A lost packet has no payload but its seq is skipped: seqs run 0, 1, 2... without reuse."""
    packets = list(iter_packets(SCRIPT, DeviceSettings(params=MotionParams(drop_prob=0.1)), START_S))
    assert [p.seq for p in packets] == list(range(len(packets)))
    lost = [p.seq for p in packets if p.payload is None]
    assert 10 < len(lost) < 70  # 401 packets at 10%
    sent = [decode(p.payload).seq for p in packets if p.payload is not None]
    assert sorted(set(sent) | set(lost)) == list(range(len(packets)))


def test_looped_script_keeps_counting() -> None:
    """With loop, laps follow each other with contiguous seqs and device time, and new samples."""
    settings = DeviceSettings(loop=True, params=MotionParams(drop_prob=0.0))
    short = ALL_POSTURES.truncated(10.0)
    packets = []
    for packet in iter_packets(short, settings, START_S):
        packets.append(packet)
        if len(packets) == 70:
            break
    assert [p.seq for p in packets] == list(range(70))
    laps = [i for i, p in enumerate(packets) if p.lap_end]
    assert len(laps) >= 2
    times = [decode(p.payload).t0_s for p in packets if p.payload is not None]
    assert np.all(np.diff(times) == pytest.approx(0.5))
    payloads = [packets[0].payload, packets[laps[0] + 1].payload]
    assert payloads[0] is not None
    assert payloads[1] is not None
    first, second = decode(payloads[0]), decode(payloads[1])
    assert not np.array_equal(first.acc, second.acc)


def test_settings_check_themselves() -> None:
    with pytest.raises(TopicError):
        DeviceSettings(device_id="desk/7")
    with pytest.raises(ValueError, match="speed"):
        DeviceSettings(speed=0.0)
    with pytest.raises(ValueError, match="seed"):
        DeviceSettings(seed=-1)
