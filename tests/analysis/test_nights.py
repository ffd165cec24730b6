"""The in-bed hours learned live (``analysis.nights``), on synthetic frames with a known night."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.bouts import BoutTracker
from analysis.events import Alert, InBedFound
from analysis.frames import N_STATS, FrameBatch
from analysis.nights import NightLearner
from analysis.posture_detector import PostureDetector
from analysis.settings import POSTURE_CODES, AlertPolicy, AnalysisSettings, InBedSettings, Placement, Posture

FRAME_S = 0.1
OFFSET_H = 1.0  # local time is UTC+1
#: Local midnight starting 1 December 2026, Unix s.
MIDNIGHT_S = datetime(2026, 12, 1, tzinfo=UTC).timestamp() - OFFSET_H * 3600.0
LYING = POSTURE_CODES.index(Posture.LYING)
SITTING = POSTURE_CODES.index(Posture.SITTING)
WALKING = POSTURE_CODES.index(Posture.WALKING)
NONWEAR = POSTURE_CODES.index(Posture.NONWEAR)


def _local(hours: float) -> float:
    """Unix s of a local time, hours after midnight starting 1 December (may exceed 24)."""
    return MIDNIGHT_S + hours * 3600.0


def _stream(start_h: float, end_h: float, nights: list[tuple[float, float]], *, seed: int = 1, worn: bool = True):
    """Frames from ``start_h`` to ``end_h`` (local hours): awake and moving, still and lying in ``nights``.

    Yields ``(t0_s, k_first, stats, codes)`` chunks of 5 min; the frames' time base is the stream's start.
    """
    rng = np.random.default_rng(seed)
    t0 = _local(start_h)
    n = round((end_h - start_h) * 3600.0 / FRAME_S)
    chunk = 3000
    angle = 0.0
    for k in range(0, n, chunk):
        m = min(chunk, n - k)
        t = t0 + (k + np.arange(m) + 0.5) * FRAME_S
        hours = (t - MIDNIGHT_S) / 3600.0
        asleep = np.zeros(m, dtype=bool)
        for a, b in nights:
            asleep |= (hours >= a) & (hours < b)
        steps = np.where(asleep, rng.normal(0.0, 0.002, m), rng.normal(0.0, 1.5, m))
        angles = angle + np.cumsum(steps)
        angle = float(angles[-1])
        rad = np.radians(np.where(asleep, 10.0 + 0.0 * angles, 30.0 + angles % 60.0))
        stats = np.zeros((m, N_STATS))
        stats[:, 0] = 5.0
        stats[:, 1] = 5.0 * np.sin(rad)
        stats[:, 3] = 5.0 * np.cos(rad)
        awake_code = np.where((k + np.arange(m)) % 6000 < 600, WALKING, SITTING)
        codes = np.where(asleep, LYING, awake_code).astype(np.int64)
        if not worn:
            codes = np.where(asleep, NONWEAR, codes)
        yield t0, k, stats, codes


def _learn(learner: NightLearner, chunks) -> list[InBedFound]:
    found: list[InBedFound] = []
    for t0, k, stats, codes in chunks:
        learner.frames(FrameBatch(t0, FRAME_S, k, stats))
        found += learner.postures(t0, k, codes)
    return found


def _learner() -> NightLearner:
    return NightLearner(InBedSettings(), FRAME_S, utc_offset_h=OFFSET_H)


def test_a_night_is_found_at_noon_and_its_hours_learned() -> None:
    """In bed 23:00-07:00 local: found within a minute or two, and learned as the usual hours."""
    learner = _learner()
    found = _learn(learner, _stream(12.0, 36.5, [(23.0, 31.0)]))
    assert len(found) == 1
    night = found[0]
    assert night.start_s == pytest.approx(_local(23.0), abs=180.0)
    assert night.end_s == pytest.approx(_local(31.0), abs=180.0)
    start, end = learner.usual_hours() or (0.0, 0.0)
    assert start == pytest.approx(23.0, abs=0.05)
    assert end == pytest.approx(7.0, abs=0.05)
    start, end = learner.usual_hours(margin_s=1800.0) or (0.0, 0.0)
    assert start == pytest.approx(22.5, abs=0.05)
    assert end == pytest.approx(7.5, abs=0.05)


def test_nothing_is_known_before_the_first_noon() -> None:
    learner = _learner()
    assert _learn(learner, _stream(12.0, 35.5, [(23.0, 31.0)])) == []
    assert learner.usual_hours() is None


def test_the_usual_hours_are_the_median_night() -> None:
    """Three nights, one of them late: the usual bedtime is the median one, not the mean."""
    learner = _learner()
    nights = [(23.0, 31.0), (22.0 + 24.0, 30.0 + 24.0), (26.0 + 48.0, 33.0 + 48.0)]
    found = _learn(learner, _stream(12.0, 84.5, nights))
    assert len(found) == 3
    start, end = learner.usual_hours() or (0.0, 0.0)
    assert start == pytest.approx(23.0, abs=0.05)
    assert end == pytest.approx(7.0, abs=0.05)


def test_a_sensor_off_at_night_teaches_no_night() -> None:
    learner = _learner()
    assert _learn(learner, _stream(12.0, 36.5, [(23.0, 31.0)], worn=False)) == []
    assert learner.usual_hours() is None


def test_a_nap_is_reported_but_not_learned_from() -> None:
    """An hour's nap on a day without a night is that day's in-bed window, but not the wearer's night."""
    learner = _learner()
    found = _learn(learner, _stream(12.0, 36.5, [(15.0, 16.0)]))
    assert len(found) == 1
    assert found[0].duration_s == pytest.approx(3600.0, abs=180.0)
    assert learner.usual_hours() is None


def test_chunking_and_a_restart_from_a_snapshot_change_nothing() -> None:
    """Frames fed in other chunks, and a learner saved as JSON and restored mid-night, find the same night."""
    whole = _learner()
    expected = _learn(whole, _stream(12.0, 36.5, [(23.0, 31.0)]))
    first, second = _learner(), _learner()
    found: list[InBedFound] = []
    for t0, k, stats, codes in _stream(12.0, 36.5, [(23.0, 31.0)]):
        for a in range(0, len(codes), 77):  # odd chunks, straddling epochs
            sl = slice(a, a + 77)
            first.frames(FrameBatch(t0, FRAME_S, k + a, stats[sl]))
            found += first.postures(t0, k + a, codes[sl])
        if k == 3000 * 150:  # past 00:30 local: restart from the saved state
            second.load(json.loads(json.dumps(first.snapshot())))
            first = second
    assert found == expected
    assert first.usual_hours() == whole.usual_hours()


def test_a_clock_jump_of_years_is_cheap() -> None:
    """A forged time far ahead starts the record afresh; the nights learned stay."""
    learner = _learner()
    _learn(learner, _stream(12.0, 36.5, [(23.0, 31.0)]))
    hours = learner.usual_hours()
    stats = np.zeros((10, N_STATS))
    stats[:, 0], stats[:, 3] = 5.0, 5.0
    far = _local(36.5) + 1000 * 365 * 86400.0
    learner.new_segment(forward=True)
    learner.frames(FrameBatch(far, FRAME_S, 0, stats))
    assert learner.postures(far, 0, np.full(10, SITTING, dtype=np.int64)) == []
    learner.frames(FrameBatch(far, FRAME_S, 600, stats))
    assert learner.postures(far, 600, np.full(10, SITTING, dtype=np.int64)) == []
    assert learner.usual_hours() == hours
    assert len(json.dumps(learner.snapshot())) < 20_000


def test_a_known_night_marks_bouts_begun_in_bed_and_bounds_the_thigh_hold() -> None:
    """Bouts begun in the usual in-bed hours raise no alert, the hold works only around them; a restart keeps both."""
    settings = AnalysisSettings(Placement.THIGH, policy=AlertPolicy(utc_offset_h=OFFSET_H))
    detector = PostureDetector(settings)
    assert detector.bouts.hold_hours is None  # no night known: a still thigh is held at any hour
    assert detector.bouts.bed_hours is None
    detector.nights.nights = [(_local(23.0), _local(31.0))]
    detector.set_policy(settings.policy, settings.slouch)
    assert detector.bouts.bed_hours == pytest.approx((22.75, 7.25))
    assert detector.bouts.hold_hours == pytest.approx((22.0, 8.0))
    restored = PostureDetector(settings)
    restored.load(json.loads(json.dumps(detector.snapshot())))
    assert restored.bouts.bed_hours == pytest.approx((22.75, 7.25))
    assert restored.bouts.hold_hours == pytest.approx((22.0, 8.0))
    assert restored.status(None, None).in_bed_hours == pytest.approx((22.75, 7.25))


@pytest.mark.parametrize(("sit_at_h", "alerted"), [(21.0, True), (23.0, False), (7.5, True)])
def test_a_bout_begun_in_the_usual_hours_raises_no_alert(sit_at_h: float, alerted: bool) -> None:
    """Usual hours 22:45-07:15: sitting down at 23:01 is a turn in bed, at 21:01 or 07:31 a bout like any other.

    The bout that began at 21:01 keeps its reminders after 22:45 too (21:31, 21:41 ... 23:01).
    """
    frames = round(2 * 3600.0 / FRAME_S)
    tracker = BoutTracker(AlertPolicy(max_sitting_s=1800.0, repeat_s=600.0), FRAME_S, gap_half_frames=10)
    tracker.bed_hours = (22.75, 7.25)
    codes = np.concatenate(
        [np.full(600, WALKING, dtype=np.int64), np.full(frames, SITTING, dtype=np.int64), np.full(600, WALKING)]
    )
    tracker.frames_closed(0, np.full(codes.size, 5.0))
    t0 = sit_at_h * 3600.0
    alerts = [e.t_s / 3600.0 for e in tracker.update(t0, 0, codes) + tracker.flush(t0) if isinstance(e, Alert)]
    assert bool(alerts) is alerted
    if sit_at_h == 21.0:
        assert max(alerts) > 23.0


def test_trunk_placements_remind_sitting_in_the_usual_hours() -> None:
    """A waist sensor sees lying in bed as lying: sitting late is real sitting, and is reminded."""
    settings = AnalysisSettings(Placement.WAIST, policy=AlertPolicy(utc_offset_h=OFFSET_H))
    detector = PostureDetector(settings)
    detector.nights.nights = [(_local(23.0), _local(31.0))]
    detector.set_policy(settings.policy, settings.slouch)
    assert detector.usual_in_bed_hours == pytest.approx((22.75, 7.25))
    assert detector.bouts.bed_hours is None


@settings(max_examples=200, deadline=None)
@given(
    changes=st.lists(
        st.one_of(st.just(math.nan), st.floats(0.0, 90.0), st.sampled_from([0.0, 1.5, 3.0])),
        min_size=61,  # past the window of 60 epochs, so that changes leave it
        max_size=240,
    ),
    restart_at=st.integers(0, 240),
)
def test_the_rolling_median_of_changes_is_that_of_the_window_sorted_anew(changes: list[float], restart_at: int) -> None:
    """The sorted known changes kept as one leaves and one comes give each epoch the median
    of its window sorted anew, NaN where under half of it is known, ties and a restart
    from a snapshot included."""
    learner = _learner()
    width = learner._width
    window: list[float] = [math.nan] * width
    for e, change in enumerate(changes):
        if e == restart_at:
            restored = _learner()
            restored.load(json.loads(json.dumps(learner.snapshot())))
            learner = restored
        learner._push_change(e, change)
        window = [*window[1:], change]
        known = sorted(c for c in window if not math.isnan(c))
        n = len(known)
        expected = 0.5 * (known[(n - 1) // 2] + known[n // 2]) if 2 * n >= width else math.nan
        got = learner._ready[-1][1]
        assert got == expected or (math.isnan(got) and math.isnan(expected))
