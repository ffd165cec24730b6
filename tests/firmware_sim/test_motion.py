from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from analysis.settings import Placement
from firmware_sim.kinematics import minimum_jerk
from firmware_sim.motion import generate, iter_chunks, random_rotation
from firmware_sim.params import MotionParams
from firmware_sim.recording import Recording
from firmware_sim.scenarios import ALL_POSTURES, Activity, Script, Step, scenario

TRUNK = (Placement.WAIST, Placement.LOWER_BACK, Placement.CHEST, Placement.UPPER_BACK)


def _samples(rec: Recording, activity: Activity, margin_s: float = 5.0) -> NDArray[np.float64]:
    """Samples of the first step of ``activity``, away from its transitions, shape (n, 3)."""
    seg = next(s for s in rec.truth if s.activity is activity)
    mask = (rec.t_s > seg.start_s + margin_s) & (rec.t_s < seg.end_s - margin_s)
    return rec.acc_g[mask]


def _gravity(rec: Recording, activity: Activity) -> NDArray[np.float64]:
    mean: NDArray[np.float64] = _samples(rec, activity).mean(axis=0)
    return mean / np.linalg.norm(mean)


def _angle_deg(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    return float(np.degrees(np.arccos(np.clip(a @ b, -1.0, 1.0))))


def test_same_seed_same_samples() -> None:
    """A seed fixes every sample; another seed changes them."""
    script = scenario("quick").truncated(300.0)
    a = generate(script, Placement.THIGH, seed=7)
    b = generate(script, Placement.THIGH, seed=7)
    c = generate(script, Placement.THIGH, seed=8)
    np.testing.assert_array_equal(a.t_s, b.t_s)
    np.testing.assert_array_equal(a.acc_g, b.acc_g)
    assert a.acc_g.dtype == np.float64
    assert a.acc_g.shape == (a.t_s.shape[0], 3)
    n = min(a.t_s.shape[0], c.t_s.shape[0])
    assert not np.allclose(a.acc_g[:n], c.acc_g[:n])


def test_chunk_size_does_not_change_samples() -> None:
    """Streaming in small chunks gives exactly the samples of one big chunk."""
    script = ALL_POSTURES.truncated(400.0)
    small = list(iter_chunks(script, Placement.LOWER_BACK, 5, chunk_s=7.0))
    big = list(iter_chunks(script, Placement.LOWER_BACK, 5, chunk_s=1000.0))
    assert len(small) > len(big) == 1
    np.testing.assert_array_equal(np.concatenate([c.t_s for c in small]), big[0].t_s)
    np.testing.assert_array_equal(np.concatenate([c.acc_g for c in small]), big[0].acc_g)
    np.testing.assert_array_equal(np.concatenate([c.dropped for c in small]), big[0].dropped)


def test_chunks_are_bounded_and_packet_aligned() -> None:
    """A long script streams in chunks of about chunk_s, each starting on a packet boundary."""
    params = MotionParams()
    sizes = []
    for chunk in iter_chunks(scenario("office_morning"), Placement.THIGH, 1, chunk_s=60.0):
        assert chunk.first_sample % params.packet_samples == 0
        assert chunk.dropped.shape[0] == -(-chunk.t_s.shape[0] // params.packet_samples)
        sizes.append(chunk.t_s.shape[0])
    assert max(sizes) == 3000  # 60 s at 50 Hz
    assert len(sizes) > 200


@pytest.mark.parametrize("placement", list(Placement))
def test_static_postures_read_one_g(all_postures: dict[Placement, Recording], placement: Placement) -> None:
    """Still, the sensor reads 1 g (within the 15 mg zero-g offset and a few mg of noise)."""
    rec = all_postures[placement]
    for activity in (Activity.SITTING, Activity.STANDING, Activity.LYING, Activity.NONWEAR):
        magnitude = np.linalg.norm(_samples(rec, activity), axis=1)
        assert magnitude.mean() == pytest.approx(1.0, abs=0.06), activity
        assert magnitude.std() < 0.02, activity


def test_sensor_noise_is_a_few_mg(all_postures: dict[Placement, Recording]) -> None:
    """On the desk the signal is noise only: a few mg RMS per axis."""
    desk = _samples(all_postures[Placement.THIGH], Activity.NONWEAR)
    rms = desk.std(axis=0)
    assert np.all((rms > 0.001) & (rms < 0.006))


@pytest.mark.parametrize("seed", range(5))
def test_thigh_sitting_is_near_horizontal(seed: int) -> None:
    """Thigh gravity turns 70-100° from standing to sitting, and lying differs from sitting."""
    rec = generate(ALL_POSTURES, Placement.THIGH, seed)
    standing, sitting = _gravity(rec, Activity.STANDING), _gravity(rec, Activity.SITTING)
    assert 70 <= _angle_deg(standing, sitting) <= 100
    assert _angle_deg(sitting, _gravity(rec, Activity.LYING)) > 45


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("placement", [Placement.LOWER_BACK, Placement.WAIST])
def test_pelvis_tilts_back_when_sitting(seed: int, placement: Placement) -> None:
    """Lower back and waist turn 10-25° from standing to sitting (backward pelvic tilt), ~90° lying."""
    rec = generate(ALL_POSTURES, placement, seed)
    standing = _gravity(rec, Activity.STANDING)
    assert 10 <= _angle_deg(standing, _gravity(rec, Activity.SITTING)) <= 25
    assert 70 <= _angle_deg(standing, _gravity(rec, Activity.LYING)) <= 110


@pytest.mark.parametrize("placement", list(Placement))
def test_walking_peaks_at_the_cadence(all_postures: dict[Placement, Recording], placement: Placement) -> None:
    """The magnitude of walking samples has its dominant frequency at 1.8-2.0 steps/s."""
    walk = _samples(all_postures[placement], Activity.WALKING)
    magnitude = np.linalg.norm(walk, axis=1)
    magnitude -= magnitude.mean()
    spectrum = np.abs(np.fft.rfft(magnitude))
    freqs = np.fft.rfftfreq(magnitude.shape[0], d=1 / 50)
    assert 1.75 <= freqs[spectrum.argmax()] <= 2.05
    # Trunk vertical acceleration ~0.2-0.5 g amplitude: an RMS of roughly 0.15-0.35 g.
    if placement in TRUNK:
        assert 0.1 < magnitude.std() < 0.4


def test_thigh_swings_more_than_the_trunk(all_postures: dict[Placement, Recording]) -> None:
    """While walking the thigh's gravity direction swings much more than the lower back's."""

    def swing_deg(rec: Recording) -> float:
        walk = _samples(rec, Activity.WALKING)
        # Half a second of averaging removes the step impacts and leaves the slow swing.
        kernel = np.ones(25) / 25
        smooth = np.column_stack([np.convolve(walk[:, i], kernel, mode="valid") for i in range(3)])
        smooth /= np.linalg.norm(smooth, axis=1, keepdims=True)
        mean = smooth.mean(axis=0) / np.linalg.norm(smooth.mean(axis=0))
        return float(np.degrees(np.arccos(np.clip(smooth @ mean, -1, 1))).max())

    assert swing_deg(all_postures[Placement.THIGH]) > 2 * swing_deg(all_postures[Placement.LOWER_BACK])


def test_mounting_changes_axes_not_magnitudes() -> None:
    """A different mounting rotation permutes the axes but leaves every magnitude as it was."""
    script = ALL_POSTURES.truncated(600.0)  # no desk time: on the desk the sensor's own face is down
    identity = generate(script, Placement.THIGH, 4, mounting=np.eye(3))
    turned = generate(script, Placement.THIGH, 4, mounting=random_rotation(np.random.default_rng(0)))
    drawn = generate(script, Placement.THIGH, 4)
    np.testing.assert_allclose(np.linalg.norm(turned.acc_g, axis=1), np.linalg.norm(identity.acc_g, axis=1), atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(drawn.acc_g, axis=1), np.linalg.norm(identity.acc_g, axis=1), atol=1e-12)
    assert not np.allclose(turned.acc_g, identity.acc_g, atol=0.1)
    # Standing, the identity mounting reads gravity along the thigh's long axis (x).
    assert _gravity(identity, Activity.STANDING)[0] > 0.99


def test_mounting_is_any_orientation() -> None:
    """Across seeds, standing gravity points every which way in sensor axes."""
    script = ALL_POSTURES.truncated(120.0)
    directions = np.array([_gravity(generate(script, Placement.THIGH, s), Activity.STANDING) for s in range(40)])
    assert np.all(directions.max(axis=0) > 0.5)
    assert np.all(directions.min(axis=0) < -0.5)


def test_bad_mounting_is_refused() -> None:
    with pytest.raises(ValueError, match="rotation"):
        generate(ALL_POSTURES.truncated(10.0), Placement.THIGH, 1, mounting=2 * np.eye(3))


def test_transitions_are_smooth(all_postures: dict[Placement, Recording]) -> None:
    """A posture change takes ~1.5 s: no jump of gravity between neighbouring samples."""
    rec = all_postures[Placement.THIGH]
    sit_start = next(s for s in rec.truth if s.activity is Activity.SITTING).start_s
    mask = np.abs(rec.t_s - sit_start) < 3.0
    window = rec.acc_g[mask]
    # Over 1.5 s at 50 Hz a 80° turn is ~2.7° per sample; allow noise on top.
    step_g = np.linalg.norm(np.diff(window, axis=0), axis=1)
    assert step_g.max() < 0.12
    # ... and the change is complete within the transition.
    assert _angle_deg(window[0] / np.linalg.norm(window[0]), window[-1] / np.linalg.norm(window[-1])) > 60


def test_sample_clock_has_offset_and_jitter() -> None:
    """Samples come at 50 Hz give or take a few hundred ppm, with sub-millisecond jitter, in order."""
    rec = generate(ALL_POSTURES, Placement.THIGH, 2, params=MotionParams(drop_prob=0.0))
    dt = np.diff(rec.t_s)
    assert np.all(dt > 0)
    assert rec.t_s[0] == 0.0
    rate_hz = (rec.t_s.shape[0] - 1) / (rec.t_s[-1] - rec.t_s[0])
    assert rate_hz != 50.0
    assert abs(rate_hz / 50.0 - 1) < 500e-6
    assert 0.0002 < (dt - dt.mean()).std() < 0.002
    rates = [
        generate(ALL_POSTURES.truncated(600.0), Placement.THIGH, s, params=MotionParams(drop_prob=0.0)).t_s
        for s in range(3)
    ]
    assert len({round((t.shape[0] - 1) / t[-1], 4) for t in rates}) > 1


def test_dropped_packets_leave_gaps() -> None:
    """Lost packets remove whole packets of samples; the rate follows drop_prob."""
    params = MotionParams(drop_prob=0.05)
    chunks = list(iter_chunks(ALL_POSTURES, Placement.THIGH, 3, params=params))
    dropped = np.concatenate([c.dropped for c in chunks])
    assert 0.03 < dropped.mean() < 0.07  # 2280 packets: SD of the rate ~0.005
    rec = generate(ALL_POSTURES, Placement.THIGH, 3, params=params)
    total = sum(c.t_s.shape[0] for c in chunks)
    assert total - rec.t_s.shape[0] == pytest.approx(dropped.sum() * 25, abs=25)
    gaps = np.diff(rec.t_s)
    runs = int(np.sum(dropped & ~np.concatenate([[False], dropped[:-1]])))
    assert np.sum(gaps > 0.4) == runs  # each run of lost packets is one gap of 0.5 s or more
    assert np.all((gaps < 0.03) | (gaps > 0.5))


def test_no_drops_when_disabled() -> None:
    rec = generate(ALL_POSTURES.truncated(300.0), Placement.WRIST, 1, params=MotionParams(drop_prob=0.0))
    assert np.diff(rec.t_s).max() < 0.03


def test_truth_tiles_the_recording(all_postures: dict[Placement, Recording]) -> None:
    """The truth covers every sample, from 0 to the end of the script."""
    rec = all_postures[Placement.CHEST]
    assert rec.truth[0].start_s == 0.0
    assert rec.truth[-1].end_s == pytest.approx(ALL_POSTURES.duration_s)
    assert rec.t_s[-1] <= rec.truth[-1].end_s
    assert all(a.end_s == b.start_s for a, b in zip(rec.truth, rec.truth[1:], strict=False))


def test_squats_bend_the_thigh_every_two_seconds(all_postures: dict[Placement, Recording]) -> None:
    """During squats the thigh's gravity swings by ~75° with a ~2 s period."""
    rec = all_postures[Placement.THIGH]
    squat = _samples(rec, Activity.SQUAT, margin_s=2.0)
    standing = _gravity(rec, Activity.STANDING)
    unit = squat / np.linalg.norm(squat, axis=1, keepdims=True)
    tilt = np.degrees(np.arccos(np.clip(unit @ standing, -1, 1)))
    assert tilt.max() > 50
    tilt -= tilt.mean()
    freqs = np.fft.rfftfreq(tilt.shape[0], d=1 / 50)
    assert 1 / freqs[np.abs(np.fft.rfft(tilt)).argmax()] == pytest.approx(2.0, rel=0.2)


def test_params_check_themselves() -> None:
    with pytest.raises(ValueError, match="drop_prob"):
        MotionParams(drop_prob=1.0)
    with pytest.raises(ValueError, match="cadence"):
        MotionParams(cadence_min_hz=2.5)
    with pytest.raises(ValueError, match="noise_g"):
        MotionParams(noise_g=-1.0)


def _chair_day(placement: Placement) -> Recording:
    script = Script(
        "chair", (Step(Activity.STANDING, 20.0), Step(Activity.SITTING, 20.0), Step(Activity.STANDING, 20.0))
    )
    quiet = MotionParams(noise_g=0.0, bias_g=0.0, drop_prob=0.0, timing_jitter_s=0.0)
    return generate(script, placement, seed=1, params=quiet)


def _vertical_travel_m(rec: Recording, centre_s: float) -> float:
    """Vertical displacement over a transition: |a| - 1 g integrated twice (still at both ends)."""
    mask = np.abs(rec.t_s - centre_s) < 2.0
    acc = (np.linalg.norm(rec.acc_g[mask], axis=1) - 1.0) * 9.80665
    dt = float(np.median(np.diff(rec.t_s)))
    return float(np.sum(np.cumsum(acc) * dt) * dt)


@pytest.mark.parametrize("placement", TRUNK)
def test_chair_transitions_move_the_trunk_down_and_up(placement: Placement) -> None:
    """Sitting down lowers the pelvis and thorax by 0.45 m, standing up raises them (Schenkman et al. 1990)."""
    rec = _chair_day(placement)
    assert _vertical_travel_m(rec, 20.0) == pytest.approx(-0.45, abs=0.02)
    assert _vertical_travel_m(rec, 40.0) == pytest.approx(0.45, abs=0.02)
    # A minimum-jerk travel of 0.45 m over 1.2 s peaks at ~0.18 g.
    mask = np.abs(rec.t_s - 20.0) < 2.0
    assert 0.1 < np.abs(np.linalg.norm(rec.acc_g[mask], axis=1) - 1.0).max() < 0.3


def test_thigh_drops_less_and_wrist_not_at_all() -> None:
    """A mid-thigh sensor travels 0.2 m; the wrist follows the arm, not the hips."""
    assert _vertical_travel_m(_chair_day(Placement.THIGH), 20.0) == pytest.approx(-0.2, abs=0.02)
    assert _vertical_travel_m(_chair_day(Placement.WRIST), 20.0) == pytest.approx(0.0, abs=0.01)


@pytest.mark.parametrize("placement", [Placement.CHEST, Placement.UPPER_BACK])
def test_thorax_flexes_forward_mid_transition(placement: Placement) -> None:
    """The thorax flexes ~35 deg forward during a sit-down and comes back to near standing."""
    rec = _chair_day(placement)
    standing = rec.acc_g[rec.t_s < 15.0].mean(axis=0)
    seated = rec.acc_g[(rec.t_s > 25.0) & (rec.t_s < 35.0)].mean(axis=0)
    standing, seated = standing / np.linalg.norm(standing), seated / np.linalg.norm(seated)
    mask = np.abs(rec.t_s - 20.0) < 1.0
    mid = rec.acc_g[mask] / np.linalg.norm(rec.acc_g[mask], axis=1, keepdims=True)
    peak = max(_angle_deg(standing, m) for m in mid)
    assert 25.0 < peak < 45.0
    assert _angle_deg(standing, seated) < 10.0  # the thorax alone hardly tells sitting


def test_minimum_jerk_rests_at_both_ends() -> None:
    """The minimum-jerk path goes 0 -> 1 with zero acceleration outside the move."""
    s = np.linspace(-0.5, 1.5, 201)
    position, acceleration = minimum_jerk(s)
    assert position[0] == 0.0
    assert position[-1] == 1.0
    assert np.all(acceleration[(s <= 0) | (s >= 1)] == 0.0)
    assert np.all(np.diff(position) >= 0)
