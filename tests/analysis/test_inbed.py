"""The in-bed window (HDCZA) on synthetic days and nights, and its streaming accumulator.

The signals are built here with numpy, seeded: awake time wanders through postures (the
gravity direction moves by several degrees within seconds, as a wrist or a restless
thigh does), walking adds a 1.8 Hz oscillation, and a night is still lying with a turn
every 1.5 h and breathing-sized sway, all under 0.01 g of white noise. Times are seconds
from local midnight of day 1, so the noons are 12 h, 36 h and 60 h.
"""

from __future__ import annotations

import json
from functools import lru_cache
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from analysis.epochs import AngleEpochs, EpochAngles
from analysis.inbed import find_in_bed
from analysis.settings import InBedSettings

H = 3600.0
NOONS = (12 * H, 36 * H, 60 * H)
#: The window must be found within 15 min of the truth: the centred 5-min median moves
#: an edge by up to 2.5 min, and a turn or an awakening near an edge by a few more.
TOLERANCE_S = 15 * 60.0

Segments = list[tuple[str, float]]


def simulate(
    segments: Segments, *, start_s: float, rate_hz: float = 5.0, seed: int = 0
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(t_s, acc_g)`` for consecutive ``(kind, seconds)`` segments from ``start_s``.

    Kinds: ``sit``, ``stand``, ``walk`` (awake), ``sleep``, ``nonwear`` (still on a
    table), ``gap`` (no samples).
    """
    rng = np.random.default_rng(seed)
    times: list[NDArray[np.float64]] = []
    accs: list[NDArray[np.float64]] = []
    t0 = start_s
    for kind, seconds in segments:
        t = t0 + np.arange(round(seconds * rate_hz)) / rate_hz
        t0 += seconds
        if kind == "gap":
            continue
        n = t.shape[0]
        if kind == "sleep":
            turn = ((t - t[0]) // 5400).astype(np.int64)  # a turn every 1.5 h
            lies = (int(turn[-1]) + 1,)
            sides = np.where(rng.random(lies) < 0.5, -1.0, 1.0)
            pitch = rng.normal(-5.0, 10.0, size=lies)[turn] + 0.05 * np.sin(0.5 * np.pi * t)
            roll = (sides * rng.uniform(60.0, 90.0, size=lies))[turn]
        elif kind == "nonwear":
            pitch = np.full(n, rng.uniform(-90.0, 90.0))
            roll = np.full(n, rng.uniform(-180.0, 180.0))
        else:
            base = {"sit": -70.0, "stand": 10.0, "walk": 10.0}[kind]
            freq = rng.uniform(0.01, 0.2, size=(2, 4, 1))
            phase = rng.uniform(0.0, 2 * np.pi, size=(2, 4, 1))
            wander = 6.0 * np.sin(2 * np.pi * freq * t + phase).sum(axis=1)
            pitch = base + wander[0]
            roll = rng.uniform(-30.0, 30.0) + wander[1]
        p, r = np.radians(pitch), np.radians(roll)
        up = np.stack([np.cos(p) * np.cos(r), np.cos(p) * np.sin(r), np.sin(p)], axis=1)
        acc = up.copy()
        if kind == "walk":
            acc += np.outer(0.3 * np.sin(2 * np.pi * 1.8 * t), up[0])
        acc += rng.normal(0.0, 0.003 if kind == "nonwear" else 0.01, acc.shape)
        times.append(t)
        accs.append(acc)
    return np.concatenate(times), np.concatenate(accs)


def awake(hours: float, seed: int) -> Segments:
    """An active stretch: sitting 5-60 min at a time, standing and walking 2-15 min."""
    rng = np.random.default_rng(seed)
    out: Segments = []
    left = hours * H
    while left > 0:
        kind = str(rng.choice(["sit", "sit", "stand", "walk"]))
        seconds = min(left, float(rng.uniform(5, 60) * 60 if kind == "sit" else rng.uniform(2, 15) * 60))
        out.append((kind, seconds))
        left -= seconds
    return out


def epochs_of(t: NDArray[np.float64], acc: NDArray[np.float64]) -> EpochAngles:
    acc_epochs = AngleEpochs()
    acc_epochs.update(t, acc)
    return acc_epochs.epochs()


#: 09:30 day 1 to 16:35 day 2: in bed from 22:30 to 06:35 with a 5-min walk at 02:00.
NIGHT_START_S = 22.5 * H
NIGHT_END_S = NIGHT_START_S + 8 * H + 300.0


@lru_cache(maxsize=2)
def night_epochs(seed: int) -> EpochAngles:
    segments = [*awake(13.0, seed), ("sleep", 3.5 * H), ("walk", 300.0), ("sleep", 4.5 * H), *awake(10.0, seed + 100)]
    return epochs_of(*simulate(segments, start_s=9.5 * H, seed=seed))


@pytest.mark.parametrize("seed", [1, 2])
def test_quiet_night_found_within_15_min(seed: int) -> None:
    """An 8-h night with turns and a short walk is found within 15 min; the 4-h tail is not judged."""
    result = find_in_bed(night_epochs(seed), NOONS)
    first, second = result.nights
    assert first.judged
    assert first.in_bed is not None
    assert abs(first.in_bed.start_s - NIGHT_START_S) <= TOLERANCE_S, first
    assert abs(first.in_bed.end_s - NIGHT_END_S) <= TOLERANCE_S, first
    assert first.threshold_deg is not None
    assert 0.13 <= first.threshold_deg <= 0.50
    assert not second.judged  # noon to 16:35 of day 2 holds 4.6 h of data
    assert second.in_bed is None
    assert result.windows == (first.in_bed,)


def test_day_only_recording_has_no_in_bed_window() -> None:
    """08:00-22:00 without a night: no window; 4 h before noon are too few to judge, 10 h after are judged."""
    t, acc = simulate(awake(14.0, 7), start_s=8 * H, seed=7)
    result = find_in_bed(epochs_of(t, acc), (-12 * H, *NOONS[:2]))
    assert [n.judged for n in result.nights] == [False, True]
    assert [n.worn_s / H for n in result.nights] == pytest.approx([4.0, 10.0], abs=0.01)
    assert result.windows == ()
    assert result.nights[0].threshold_deg is None


def test_nonwear_night_is_never_in_bed() -> None:
    """A sensor on the nightstand from 00:00 to 06:00 is still, but with the mask it is not in bed."""
    segments = [*awake(14.5, 3), ("nonwear", 6 * H), *awake(8.0, 4)]  # 09:30 day 1 to 14:00 day 2
    t, acc = simulate(segments, start_s=9.5 * H, seed=3)
    epochs = epochs_of(t, acc)
    unmasked = find_in_bed(epochs, NOONS[:2])
    assert unmasked.windows, "without the mask the nightstand reads as a night"
    off = epochs.mask([(24 * H, 30 * H)])
    (night,) = find_in_bed(epochs, NOONS[:2], nonwear=off).nights
    assert night.judged  # 18 h worn
    assert night.worn_s == pytest.approx(18 * H, abs=60.0)
    assert night.in_bed is None


def test_standing_still_after_the_night_is_not_in_bed() -> None:
    """40 min standing as still as a sleeper after getting up: with the upright mask the night ends on time."""
    segments = [*awake(13.0, 13), ("sleep", 8 * H), ("nonwear", 40 * 60.0), *awake(6.0, 14)]  # 09:30 to 13:10
    t, acc = simulate(segments, start_s=9.5 * H, seed=13)
    epochs = epochs_of(t, acc)
    up = epochs.mask([(30.5 * H, 30.5 * H + 40 * 60.0)])  # the still stretch, reported standing
    (joined,) = find_in_bed(epochs, NOONS[:2]).nights
    (night,) = find_in_bed(epochs, NOONS[:2], upright=up).nights
    assert joined.in_bed is not None
    assert joined.in_bed.end_s > 30.5 * H + 30 * 60.0
    assert night.in_bed is not None
    assert abs(night.in_bed.end_s - 30.5 * H) <= TOLERANCE_S
    with pytest.raises(ValueError, match="upright mask"):
        find_in_bed(epochs, NOONS[:2], upright=up[:-1])


def test_rest_either_side_of_nonwear_is_not_joined_across_it() -> None:
    """Rest blocks 40 min apart are not joined when the sensor was off between them."""
    segments = [*awake(12.5, 5), ("sleep", 3 * H), ("nonwear", 40 * 60.0), ("sleep", 2 * H), *awake(8.0, 6)]
    t, acc = simulate(segments, start_s=9.5 * H, seed=5)
    epochs = epochs_of(t, acc)
    off_start = 25 * H
    off = epochs.mask([(off_start, off_start + 40 * 60.0)])
    (night,) = find_in_bed(epochs, NOONS[:2], nonwear=off).nights
    assert night.in_bed is not None
    assert night.in_bed.end_s <= off_start  # the longer, first block only
    assert abs(night.in_bed.start_s - 22 * H) <= TOLERANCE_S


def test_data_gap_inside_night_is_explicit_and_spanned() -> None:
    """20 min without samples at 02:00 are empty epochs; the night is still found whole."""
    segments = [*awake(13.0, 8), ("sleep", 3.5 * H), ("gap", 20 * 60.0), ("sleep", 4.5 * H), *awake(10.0, 9)]
    t, acc = simulate(segments, start_s=9.5 * H, seed=8)
    epochs = epochs_of(t, acc)
    # The edge epochs may catch a sample: segment starts are float sums of durations.
    gap = (epochs.mids_s() > 26 * H + 5.0) & (epochs.mids_s() < 26 * H + 20 * 60.0 - 5.0)
    assert np.count_nonzero(gap) == 238
    assert np.all(epochs.samples[gap] == 0)
    assert np.all(np.isnan(epochs.angle_deg[gap]))
    night = find_in_bed(epochs, NOONS).nights[0]
    assert night.in_bed is not None
    assert abs(night.in_bed.start_s - NIGHT_START_S) <= TOLERANCE_S
    assert abs(night.in_bed.end_s - (NIGHT_START_S + 8 * H + 20 * 60.0)) <= TOLERANCE_S


def test_long_gap_leaves_the_window_unjudged() -> None:
    """With 19 h of the window missing, 5 h of data are too few to judge the night."""
    segments = [("gap", 2.5 * H), *awake(1.0, 10), ("gap", 16.5 * H), ("sleep", 3 * H), *awake(1.0, 11)]
    t, acc = simulate(segments, start_s=12 * H, seed=10)
    (night,) = find_in_bed(epochs_of(t, acc), NOONS[:2]).nights
    assert not night.judged
    assert night.worn_s == pytest.approx(5 * H, abs=60.0)
    assert night.in_bed is None


@pytest.fixture(scope="module")
def short_recording() -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """40 min at 10 Hz across sitting, walking, a gap and lying, starting off the epoch grid."""
    segments = [("sit", 600.0), ("walk", 300.0), ("gap", 90.0), ("sleep", 1410.0)]
    return simulate(segments, start_s=1_700_000_003.3, rate_hz=10.0, seed=12)


@settings(max_examples=30, deadline=None, database=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=24_000), max_size=12))
def test_any_chunking_gives_identical_epochs(
    short_recording: tuple[NDArray[np.float64], NDArray[np.float64]], cuts: list[int]
) -> None:
    """Chunks split anywhere (empty ones too) give the very same epochs as one batch."""
    t, acc = short_recording
    batch = AngleEpochs()
    batch.update(t, acc)
    chunked = AngleEpochs()
    edges = [0, *sorted(cuts), t.shape[0]]
    for a, b in pairwise(edges):
        chunked.update(t[a:b], acc[a:b])
    assert chunked.snapshot() == batch.snapshot()
    one, other = chunked.epochs(), batch.epochs()
    assert one.start_s == other.start_s
    np.testing.assert_array_equal(one.samples, other.samples)
    np.testing.assert_array_equal(one.angle_deg, other.angle_deg)


def test_snapshot_round_trip_through_json(short_recording: tuple[NDArray[np.float64], NDArray[np.float64]]) -> None:
    """Snapshot, JSON, load into a new accumulator and go on: the same as never stopping."""
    t, acc = short_recording
    half = t.shape[0] // 2 + 7
    first = AngleEpochs()
    first.update(t[:half], acc[:half])
    state = json.loads(json.dumps(first.snapshot()))
    resumed = AngleEpochs()
    resumed.load(state)
    resumed.update(t[half:], acc[half:])
    batch = AngleEpochs()
    batch.update(t, acc)
    assert resumed.snapshot() == batch.snapshot()
    np.testing.assert_array_equal(resumed.epochs().angle_deg, batch.epochs().angle_deg)


def test_snapshot_of_other_epoch_length_is_refused() -> None:
    """A state saved with 5-s epochs does not load into 10-s epochs."""
    state = AngleEpochs().snapshot()
    with pytest.raises(ValueError, match="epoch_s"):
        AngleEpochs(InBedSettings(epoch_s=10.0, median_s=300.0)).load(state)


def test_bad_samples_are_counted_not_used() -> None:
    """NaN, absurd readings and a timestamp years away are rejected; the epochs stay clean."""
    t = np.array([100.0, 101.0, np.nan, 102.0, 103.0, 100.0 + 400 * 86400.0])
    acc = np.tile([0.0, 0.0, 1.0], (6, 1))
    acc[1, 0] = np.nan
    acc[3, 2] = 5000.0
    accumulator = AngleEpochs()
    accumulator.update(t, acc)
    epochs = accumulator.epochs()
    assert accumulator.rejected == 4
    assert len(epochs) == 1
    assert epochs.start_s == 100.0
    assert epochs.samples.tolist() == [2]
    assert epochs.angle_deg[0] == pytest.approx(90.0)


def test_wrong_shapes_raise() -> None:
    """Acceleration must be (n, 3) beside times (n,)."""
    with pytest.raises(ValueError, match="shape"):
        AngleEpochs().update(np.zeros(3), np.zeros((3, 2)))


def test_discard_before_forgets_old_epochs() -> None:
    """A long-running stream drops what it no longer needs, and later old samples are ignored."""
    accumulator = AngleEpochs()
    t = np.arange(0.0, 100.0, 0.5)
    acc = np.tile([0.0, 1.0, 0.0], (t.shape[0], 1))
    accumulator.update(t, acc)
    accumulator.discard_before(52.0)
    epochs = accumulator.epochs()
    assert epochs.start_s == 50.0
    assert len(epochs) == 10
    accumulator.update(np.array([10.0]), np.array([[0.0, 1.0, 0.0]]))
    assert accumulator.rejected == 1
    assert len(accumulator.epochs()) == 10


def test_epochs_span_the_samples_with_empty_epochs_between() -> None:
    """Epochs run from the first sample's to the last one's, with the empty ones in between."""
    accumulator = AngleEpochs()
    accumulator.update(np.array([12.0, 13.0]), np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]))
    accumulator.update(np.array([]), np.zeros((0, 3)))
    accumulator.update(np.array([31.0]), np.array([[0.0, 0.0, -1.0]]))
    epochs = accumulator.epochs()
    assert (epochs.start_s, epochs.end_s) == (10.0, 35.0)
    assert epochs.samples.tolist() == [2, 0, 0, 0, 1]
    np.testing.assert_array_equal(epochs.angle_deg, [0.0, np.nan, np.nan, np.nan, -90.0])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"epoch_s": 0.0},
        {"percentile": 100.0},
        {"multiplier": -1.0},
        {"min_threshold_deg": 0.6},
        {"min_block_s": float("nan")},
        {"max_join_gap_s": -1.0},
        {"median_s": 5.0},
    ],
)
def test_settings_check_themselves(kwargs: dict[str, float]) -> None:
    """Impossible settings raise at construction."""
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        InBedSettings(**kwargs)


def test_no_samples_judges_nothing() -> None:
    """An accumulator fed nothing gives no epochs, and every window is not judged."""
    epochs = AngleEpochs().epochs()
    assert len(epochs) == 0
    result = find_in_bed(epochs, NOONS)
    assert [(n.judged, n.worn_s) for n in result.nights] == [(False, 0.0), (False, 0.0)]


def test_boundaries_and_mask_are_checked() -> None:
    """Noon boundaries must increase; the non-wear mask must match the epochs."""
    epochs = EpochAngles(0.0, 5.0, np.ones(4, dtype=np.int64), np.zeros(4))
    with pytest.raises(ValueError, match="boundaries"):
        find_in_bed(epochs, [10.0])
    with pytest.raises(ValueError, match="boundaries"):
        find_in_bed(epochs, [10.0, 5.0])
    with pytest.raises(ValueError, match="mask"):
        find_in_bed(epochs, [0.0, 20.0], nonwear=np.zeros(3, dtype=np.bool_))


def test_result_is_json_ready() -> None:
    """Nights serialise with their judgement, threshold and window."""
    result = find_in_bed(night_epochs(1), NOONS)
    data = json.loads(json.dumps(result.to_dict()))
    assert [n["judged"] for n in data["nights"]] == [True, False]
    assert data["nights"][0]["in_bed"]["start_s"] == pytest.approx(NIGHT_START_S, abs=TOLERANCE_S)
    assert data["nights"][1]["in_bed"] is None
