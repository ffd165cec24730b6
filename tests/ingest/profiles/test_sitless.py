"""The ``sitless`` do-it-yourself profile (docs/firmware.md): packets in, commands and clock out."""

from __future__ import annotations

import contextlib
import json
import struct
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.codec import Batch, encode, to_counts
from ingest.errors import ProfileError
from ingest.payloads import Command
from ingest.profiles.base import Profile, Samples
from ingest.profiles.sitless import CLOCK_UUID, COMMAND_UUID, PROFILE, SERVICE_UUID


def test_is_a_profile() -> None:
    profile: Profile = PROFILE
    assert (profile.name, profile.notify_uuid) == ("sitless", "48f03677-acb9-421a-8dad-d029ba2cd92c")


def test_a_notification_is_a_packet_with_its_device_times() -> None:
    acc = np.array([[0.0, 0.0, 1.0], [0.5, -0.25, 1.0]])
    gyro = np.array([[10.0, 0.0, -5.0], [0.0, 2.5, 0.0]])
    batch = Batch(7, 1_700_000_000.0, 50.0, 1 / 4096, to_counts(acc, 1 / 4096), 1 / 16, to_counts(gyro, 1 / 16))
    samples = PROFILE.decoder(50.0).decode(encode(batch))
    np.testing.assert_allclose(samples.acc_g, acc)
    assert samples.gyro_dps is not None
    np.testing.assert_allclose(samples.gyro_dps, gyro)
    assert samples.t_s is not None
    np.testing.assert_allclose(samples.t_s, [1_700_000_000.0, 1_700_000_000.02])


@pytest.mark.parametrize("data", [b"", b"\x01", b"\x02" + bytes(40), bytes(27)])
def test_a_bad_notification_raises_profile_error(data: bytes) -> None:
    with pytest.raises(ProfileError, match="not a sitless packet"):
        PROFILE.decoder(50.0).decode(data)


@given(st.binary(max_size=200))
def test_any_bytes_decode_or_raise_profile_error(data: bytes) -> None:
    with contextlib.suppress(ProfileError):
        assert isinstance(PROFILE.decoder(50.0).decode(data), Samples)


def test_start_sets_the_clock_then_the_rate() -> None:
    before = time.time()
    clock, rate = PROFILE.start(25.0)
    assert clock.char_uuid == CLOCK_UUID
    assert before <= struct.unpack("<d", clock.data)[0] <= time.time()
    assert rate.char_uuid == COMMAND_UUID
    assert json.loads(rate.data) == {"cmd": "rate", "rate_hz": 25}
    assert PROFILE.stop() == []


def test_buzz_passes_the_command_on() -> None:
    (write,) = PROFILE.buzz(Command("buzz", pattern="long", reason="sit_too_long"))
    assert write.char_uuid == COMMAND_UUID
    assert Command.parse(write.data) == Command("buzz", pattern="long", reason="sit_too_long")


def test_matches_by_service_or_name() -> None:
    assert PROFILE.matches(None, [SERVICE_UUID.upper()])
    assert PROFILE.matches("sitless-thigh", [])
    assert not PROFILE.matches("Polar H10 1234", ["0000180d-0000-1000-8000-00805f9b34fb"])


def test_a_repeated_or_late_packet_is_refused() -> None:
    def packet(seq: int) -> bytes:
        return encode(Batch(seq, 100.0 + seq % 1000, 50.0, 1 / 4096, to_counts(np.zeros((2, 3)), 1 / 4096)))

    decoder = PROFILE.decoder(50.0)
    decoder.decode(packet(4))
    decoder.decode(packet(6))  # 5 was lost: a gap, not an error
    for seq in (6, 5, 2**32 - 1):
        with pytest.raises(ProfileError, match="repeated or out of order"):
            decoder.decode(packet(seq))
    assert decoder.decode(packet(7)).n == 2


def test_a_packet_says_its_rate() -> None:
    """A board streaming 25 Hz after being asked for 50 Hz: the samples carry 25 Hz."""
    batch = Batch(1, 100.0, 25.0, 1 / 4096, to_counts(np.zeros((12, 3)), 1 / 4096))
    samples = PROFILE.decoder(50.0).decode(encode(batch))
    assert samples.rate_hz == 25.0
    assert samples.t_s is not None
    np.testing.assert_allclose(np.diff(samples.t_s), 0.04)
