"""Fuzzing every BLE profile's decoder: any notification gives sane samples or a ProfileError.

The profiles come from the registry (``ingest.profiles.PROFILES``), so a new profile is
fuzzed with arbitrary bytes as soon as it is registered, and fails
:func:`test_every_profile_has_seed_frames` until its valid frames are added to
``SEEDS``. A decoder may keep state between notifications (Polar's previous time
stamps, WitMotion's partial packet, the sitless sequence number), so each example
sends a whole sequence of notifications, and control-point answers where the profile
takes them, to one decoder. Every call either raises ``ProfileError`` or returns
samples of the documented shapes whose values are all finite. Notifications stay under
a BLE MTU's worth of bytes, so no example runs long.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import ProfileError
from ingest.profiles import PROFILES, Profile, Samples
from tests.ingest.profiles.test_polar import DELTA_FRAME, RAW_FRAME
from tests.ingest.profiles.test_thingy52 import RAW_AT_REST
from tests.ingest.profiles.test_witmotion import FLAT, MOVING, REPLY
from tests.ingest.test_codec import EXAMPLE_PACKET

FUZZ = settings(max_examples=100, deadline=None, database=None)
#: Longest notification tried, bytes: a BLE 5 ATT MTU (517) less the 3-byte header.
MAX_NOTIFICATION = 514

#: The answer of a Polar control point to an ACC start, factor 0.5 (PmdControlPointResponse.kt).
POLAR_START_ANSWER = bytes([0xF0, 0x02, 0x02, 0x00, 0x00, 0x05, 0x01]) + struct.pack("<f", 0.5)

#: Valid notifications of each profile, from its own tests, and its valid control-point answers.
SEEDS: dict[str, tuple[list[bytes], list[bytes]]] = {
    "sitless": ([EXAMPLE_PACKET], []),
    "polar": ([RAW_FRAME, DELTA_FRAME], [POLAR_START_ANSWER]),
    "thingy52": ([RAW_AT_REST], []),
    "microbit": ([struct.pack("<3h", 1000, -500, -1000)], []),
    "witmotion": ([FLAT, MOVING, REPLY, FLAT + MOVING], []),
}

profiles = pytest.mark.parametrize("profile", list(PROFILES.values()), ids=list(PROFILES))


def check(samples: Samples) -> None:
    """Samples have the shapes ``Samples`` documents, float64 and finite throughout."""
    assert isinstance(samples, Samples)
    n = samples.n
    assert samples.acc_g.shape == (n, 3)
    assert samples.acc_g.dtype == np.float64
    assert np.all(np.isfinite(samples.acc_g))
    if samples.gyro_dps is not None:
        assert samples.gyro_dps.shape == (n, 3)
        assert np.all(np.isfinite(samples.gyro_dps))
    if samples.t_s is not None:
        assert samples.t_s.shape == (n,)
        assert np.all(np.isfinite(samples.t_s))


def feed(profile: Profile, rate_hz: float, steps: list[tuple[bool, bytes]]) -> None:
    """Send notifications (``False``) and control-point answers (``True``) to one fresh decoder."""
    decoder = profile.decoder(rate_hz)
    for is_answer, data in steps:
        try:
            if is_answer:
                decoder.reply(data)
            else:
                check(decoder.decode(data))
        except ProfileError:
            continue


def answers_taken(profile: Profile) -> bool:
    """Whether the profile has a control point whose answers the gateway hands to the decoder."""
    return bool(profile.indicate_uuids)


def test_every_profile_has_seed_frames() -> None:
    """A newly registered profile must bring valid frames to mutate (its own tests' vectors)."""
    assert set(SEEDS) == set(PROFILES)
    for name, (frames, answers) in SEEDS.items():
        assert frames, name
        profile = PROFILES[name]
        for frame in frames:
            decoder = profile.decoder(profile.rates_hz[0])
            for answer in answers:
                decoder.reply(answer)
            check(decoder.decode(frame))


@profiles
@FUZZ
@given(data=st.data())
def test_arbitrary_notifications_give_samples_or_profile_error(profile: Profile, data: st.DataObject) -> None:
    """Random notifications, and random control-point answers where the profile takes them."""
    rate_hz = data.draw(st.sampled_from(profile.rates_hz), label="rate_hz")
    kinds = st.booleans() if answers_taken(profile) else st.just(False)
    steps = data.draw(st.lists(st.tuples(kinds, st.binary(max_size=MAX_NOTIFICATION)), max_size=6), label="steps")
    feed(profile, rate_hz, steps)


@profiles
@FUZZ
@given(data=st.binary(max_size=16))
def test_a_rate_read_back_is_a_rate_or_profile_error(profile: Profile, data: bytes) -> None:
    """``settled_rate`` of any bytes: a finite rate > 0, or ProfileError (always, without ``rate_uuid``)."""
    try:
        rate_hz = profile.settled_rate(data)
    except ProfileError:
        return
    assert profile.rate_uuid is not None
    assert np.isfinite(rate_hz)
    assert rate_hz > 0


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A seed with a byte changed, a cut, bytes added, or two seeds spliced."""
    frame = draw(st.sampled_from(seeds))
    kind = draw(st.sampled_from(["flip", "truncate", "extend", "splice", "same"]))
    if kind == "flip" and frame:
        at = draw(st.integers(0, len(frame) - 1))
        return frame[:at] + bytes([draw(st.integers(0, 255))]) + frame[at + 1 :]
    if kind == "truncate":
        return frame[: draw(st.integers(0, len(frame)))]
    if kind == "extend":
        return frame + draw(st.binary(min_size=1, max_size=24))
    if kind == "splice":
        other = draw(st.sampled_from(seeds))
        return frame[: draw(st.integers(0, len(frame)))] + other[draw(st.integers(0, len(other))) :]
    return frame


@profiles
@FUZZ
@given(data=st.data())
def test_mutated_frames_give_samples_or_profile_error(profile: Profile, data: st.DataObject) -> None:
    """Sequences of the profile's own valid frames, each maybe mutated, with mutated answers."""
    frames, answers = SEEDS[profile.name]
    rate_hz = data.draw(st.sampled_from(profile.rates_hz), label="rate_hz")
    notification = mutated(frames).map(lambda b: (False, b))
    step = notification | mutated(answers).map(lambda b: (True, b)) if answers else notification
    feed(profile, rate_hz, data.draw(st.lists(step, min_size=1, max_size=6), label="steps"))


@pytest.mark.parametrize("factor", [1e36, float(np.finfo(np.float32).max)])
def test_a_polar_factor_that_overflows_the_samples_is_a_profile_error(factor: float) -> None:
    """A start answer may carry any finite float32 factor: a product past float32 is refused, not infinite.

    Compressed frames (type 1, mG x factor; type 0, g x factor) used to give samples of
    +-inf, with a numpy overflow warning, after such an answer.
    """
    answer = POLAR_START_ANSWER[:-4] + struct.pack("<f", factor)
    type_0 = DELTA_FRAME[:9] + bytes([0x80]) + DELTA_FRAME[10:]
    for frame in (DELTA_FRAME, type_0):
        decoder = PROFILES["polar"].decoder(52.0)
        decoder.reply(answer)
        with pytest.raises(ProfileError, match="overflow float32"):
            decoder.decode(frame)
