"""The framer: frame sums with the same bits however the samples were chunked."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from analysis.frames import N_STATS, Framer

FRAME_S = 0.1


def frames_of(framer: Framer, t: NDArray[np.float64], acc: NDArray[np.float64], cuts: list[int]) -> NDArray[np.float64]:
    """All frames of the samples fed in chunks split at ``cuts``, then flushed."""
    rows = []
    bounds = [0, *sorted(cuts), t.size]
    for a, b in itertools.pairwise(bounds):
        k, stats = framer.update(t[a:b], acc[a:b])
        assert k == sum(r.shape[0] for r in rows)
        rows.append(stats)
    rows.append(framer.flush()[1])
    return np.concatenate(rows)


@settings(max_examples=100, deadline=None)
@given(
    steps=st.lists(st.sampled_from([0.0, 0.0, 0.004, 0.01, 0.02, 0.07, 0.25, 3.0]), min_size=1, max_size=300),
    cuts=st.lists(st.integers(0, 300), max_size=8),
    seed=st.integers(0, 2**16),
)
def test_chunked_frames_equal_one_sum_per_frame(steps: list[float], cuts: list[int], seed: int) -> None:
    """Repeated times, gaps and any chunking give the bits of one bincount over each frame."""
    t = 1.7e9 + np.cumsum(steps)
    acc = np.random.default_rng(seed).normal(0.0, 1.0, (t.size, 3))
    got = frames_of(Framer(FRAME_S), t, acc, [min(c, t.size) for c in cuts])
    idx = np.floor((t - t[0]) / FRAME_S).astype(np.int64)
    n = int(idx[-1]) + 1
    mag = np.sqrt(np.einsum("ij,ij->i", acc, acc))
    expected = np.stack(
        [np.bincount(idx, minlength=n).astype(np.float64)]
        + [np.bincount(idx, weights=w, minlength=n) for w in (acc[:, 0], acc[:, 1], acc[:, 2], mag, mag * mag)],
        axis=1,
    )
    assert got.shape == (n, N_STATS)
    assert np.array_equal(got, expected)


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
