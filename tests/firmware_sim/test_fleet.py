"""The simulated fleet's packets: the real codec, each wearer's own numbers, times and motion."""

from __future__ import annotations

import numpy as np
import pytest

from firmware_sim.fleet import FleetSettings, StreamBank, device_ids
from firmware_sim.scenarios import scenario
from ingest.codec import decode

T0_S = 1.7e9


@pytest.fixture(scope="module")
def bank() -> StreamBank:
    return StreamBank(scenario("all_postures"), FleetSettings(wearers=10, streams=3))


def test_packets_decode_with_the_wearers_seq_and_time(bank: StreamBank) -> None:
    """A wearer's packet k carries the seq and first-sample time it was given, and 25 samples at 50 Hz."""
    for k in range(5):
        batch = decode(bank.packet(4, k, 100 + k, T0_S + 0.5 * k))
        assert (batch.seq, batch.t0_s, batch.n, batch.rate_hz) == (100 + k, T0_S + 0.5 * k, 25, 50.0)


def test_wearers_on_one_stream_are_not_in_step(bank: StreamBank) -> None:
    """Wearers 0 and 3 share stream 0 but play it from other points, so their samples differ."""
    a = decode(bank.packet(0, 0, 0, T0_S)).acc
    b = decode(bank.packet(3, 0, 0, T0_S)).acc
    assert not np.array_equal(a, b)


def test_a_stream_plays_on_a_loop(bank: StreamBank) -> None:
    """After one play of the script a wearer's packets start again from where it began."""
    length = bank.packets_per_stream[1]
    assert np.array_equal(decode(bank.packet(1, 0, 0, T0_S)).acc, decode(bank.packet(1, length, 0, T0_S)).acc)


def test_device_ids_are_numbered_from_one() -> None:
    """Ids run fleet-00001.. fleet-0000N."""
    assert device_ids(3) == ["fleet-00001", "fleet-00002", "fleet-00003"]


def test_settings_refuse_an_empty_fleet() -> None:
    """A fleet needs at least one wearer."""
    with pytest.raises(ValueError, match="wearers"):
        FleetSettings(wearers=0)
