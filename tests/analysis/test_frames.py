"""The framer: frame sums with the same bits however the samples were chunked."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from analysis.frames import N_ACC_STATS, N_STATS, FrameBatch, Framer

FRAME_S = 0.1


def frames_of(
    framer: Framer,
    t: NDArray[np.float64],
    acc: NDArray[np.float64],
    cuts: list[int],
    gyro: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:
    """All frames of the samples fed in chunks split at ``cuts``, then flushed."""
    rows = []
    bounds = [0, *sorted(cuts), t.size]
    for a, b in itertools.pairwise(bounds):
        k, stats = framer.update(t[a:b], acc[a:b], None if gyro is None else gyro[a:b])
        assert k == sum(r.shape[0] for r in rows)
        rows.append(stats)
    rows.append(framer.flush()[1])
    return np.concatenate(rows)


@settings(max_examples=100, deadline=None)
@given(
    steps=st.lists(st.sampled_from([0.0, 0.0, 0.004, 0.01, 0.02, 0.07, 0.25, 3.0]), min_size=1, max_size=300),
    cuts=st.lists(st.integers(0, 300), max_size=8),
    seed=st.integers(0, 2**16),
    with_gyro=st.booleans(),
)
def test_chunked_frames_equal_one_sum_per_frame(
    steps: list[float], cuts: list[int], seed: int, with_gyro: bool
) -> None:
    """Repeated times, gaps and any chunking give the bits of one bincount over each frame."""
    t = 1.7e9 + np.cumsum(steps)
    rng = np.random.default_rng(seed)
    acc = rng.normal(0.0, 1.0, (t.size, 3))
    gyro = rng.normal(0.0, 50.0, (t.size, 3)) if with_gyro else None
    got = frames_of(Framer(FRAME_S), t, acc, [min(c, t.size) for c in cuts], gyro)
    idx = np.floor((t - t[0]) / FRAME_S).astype(np.int64)
    n = int(idx[-1]) + 1
    mag = np.sqrt(np.einsum("ij,ij->i", acc, acc))
    count = np.bincount(idx, minlength=n).astype(np.float64)
    columns = [np.bincount(idx, weights=w, minlength=n) for w in (acc[:, 0], acc[:, 1], acc[:, 2], mag, mag * mag)]
    if gyro is None:
        columns += [np.zeros(n)] * 4
    else:
        columns += [count] + [np.bincount(idx, weights=gyro[:, axis], minlength=n) for axis in range(3)]
    expected = np.stack([count, *columns], axis=1)
    assert got.shape == (n, N_STATS)
    assert np.array_equal(got, expected)


def test_gyro_means_count_only_the_samples_that_had_gyro() -> None:
    """A frame filled partly by a packet without gyro averages the rates it has."""
    framer = Framer(FRAME_S)
    t = np.array([0.0, 0.02, 0.04, 0.06, 0.08, 0.1])
    acc = np.tile([0.0, 0.0, 1.0], (6, 1))
    framer.update(t[:3], acc[:3])
    k, stats = framer.update(t[3:], acc[3:], np.tile([10.0, 0.0, -20.0], (3, 1)))
    frames = FrameBatch(0.0, FRAME_S, k, stats)
    assert frames.m == 1
    assert frames.has_gyro
    assert frames.counts.tolist() == [5.0]
    assert stats[0, N_ACC_STATS] == 2.0
    assert frames.gyro_dps.tolist() == [[10.0, 0.0, -20.0]]
    assert frames.acc_g.tolist() == [[0.0, 0.0, 1.0]]
    assert frames.mag_g.tolist() == [1.0]


def test_frames_without_samples_have_no_means() -> None:
    """A short gap leaves frames with a zero count and NaN means, and no gyro is NaN."""
    framer = Framer(FRAME_S)
    k, stats = framer.update(np.array([0.0, 0.35]), np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]))
    frames = FrameBatch(5.0, FRAME_S, k, stats)
    assert frames.counts.tolist() == [1.0, 0.0, 0.0]
    assert np.isnan(frames.acc_g[1:]).all()
    assert np.isnan(frames.gyro_dps).all()
    assert not frames.has_gyro
    assert frames.start_s.tolist() == [5.0, 5.1, 5.2]
    assert frames.k_end == 3


def test_open_frame_survives_a_snapshot() -> None:
    """A framer restored mid-frame closes that frame with all of its samples."""
    t = np.array([0.0, 0.02, 0.05, 0.07, 0.12])
    acc = np.arange(15.0).reshape(5, 3)
    whole = frames_of(Framer(FRAME_S), t, acc, [])
    first = Framer(FRAME_S)
    first.update(t[:2], acc[:2])
    second = Framer.restore(FRAME_S, first.snapshot())
    k, closed = second.update(t[2:], acc[2:])
    assert k == 0
    assert np.array_equal(np.concatenate([closed, second.flush()[1]]), whole)


def test_flush_without_samples_gives_no_frame() -> None:
    """An empty stream has no frame to close."""
    k, stats = Framer(FRAME_S).flush()
    assert (k, stats.shape) == (0, (0, N_STATS))
