"""The recogniser's screen: what it rules out is never a look ``classify_window`` could label."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.looks import RecognitionTuning, _hook_without_axis, unit
from analysis.screen import BlockScreen, _summarise, off_hook_without_axis

TUNING = RecognitionTuning()
_COMPONENT = st.floats(-1.2, 1.2, allow_nan=False)


def _frame_sums(n: np.ndarray, rng: np.random.Generator, shake_g: float) -> np.ndarray:
    """Frame sums (``FrameBatch.stats`` columns) of frames holding ``n`` samples each, about
    one direction with noise of ``shake_g``."""
    acc = np.array([0.1, 0.98, 0.05]) + rng.normal(0.0, shake_g, size=(n.size, 3))
    rows = np.zeros((n.size, 6))
    rows[:, 0] = n
    rows[:, 1:4] = acc * n[:, None]
    mag = np.linalg.norm(acc, axis=1)
    rows[:, 4], rows[:, 5] = mag * n, mag * mag * n
    return rows


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_COMPONENT, min_size=3, max_size=3),
    st.lists(st.floats(0.0, 0.4), min_size=3, max_size=3),
    st.integers(0, 2**32 - 1),
)
def test_a_box_off_hook_holds_no_hook_lying_direction(centre: list[float], size: list[float], seed: int) -> None:
    """No direction of a box ruled out of hook lying without an axis is hook lying without one."""
    low = [c - s for c, s in zip(centre, size, strict=True)]
    high = [c + s for c, s in zip(centre, size, strict=True)]
    if not off_hook_without_axis((high, low), TUNING):
        return
    rng = np.random.default_rng(seed)
    inside = rng.uniform(low, high, size=(200, 3))
    corners_all = np.array(
        [[h if i >> c & 1 else lo for c, (h, lo) in enumerate(zip(high, low, strict=True))] for i in range(8)]
    )
    for v in np.concatenate((inside, corners_all)):
        if np.any(v):
            assert not _hook_without_axis(unit(v), TUNING)


def test_hook_lying_between_the_face_axes_is_not_ruled_out() -> None:
    """A box around a direction between x and y, in the face plane, may be hook lying."""
    assert _hook_without_axis(unit(np.array([0.71, 0.71, 0.0])), TUNING)
    assert not off_hook_without_axis(([0.72, 0.72, 0.01], [0.70, 0.70, -0.01]), TUNING)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 8),
    st.lists(st.integers(0, 3), min_size=40, max_size=40),
    st.integers(0, 2**32 - 1),
    st.floats(0.0, 0.6),
)
def test_one_block_in_floats_is_the_numpy_summary(first_row: int, counts: list[int], seed: int, shake_g: float) -> None:
    """A block summarised in plain floats (a live packet) is the one the numpy path finds.

    Frames without samples come and go; the bounds of the smoothed means are the same
    sums in the same order; ``amax`` (both bound each component) and the gait sums
    (taken only when surely gait) differ by design and are left out.
    """
    hop = 20
    rng = np.random.default_rng(seed)
    n = np.array(counts[: first_row + hop], dtype=np.float64)
    if rng.random() < 0.5:
        n = np.maximum(n, 1.0)  # most live blocks have every frame
    rows = _frame_sums(n, rng, shake_g)
    screen = BlockScreen(hop, 15, 0.1, TUNING)
    one = screen._one(rows, first_row)
    if one is None:
        return
    batch = _summarise(rows, first_row, 1, hop, frame_s=0.1, tuning=TUNING)[0]
    np.testing.assert_allclose(one[:6], batch[:6], rtol=1e-12)  # the same sums: rounding at most
    assert one[7:10] == batch[7:10].tolist()


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 3), st.integers(0, 2**32 - 1), st.floats(0.0, 0.6))
def test_a_few_blocks_in_floats_are_the_numpy_summaries(nb: int, seed: int, shake_g: float) -> None:
    """One to three blocks closed in one update (a few packets at once) are summarised as numpy summarises them."""
    hop = 20
    rng = np.random.default_rng(seed)
    n = np.full(4 + nb * hop, 5.0)
    rows = _frame_sums(n, rng, shake_g)
    few = BlockScreen(hop, 15, 0.1, TUNING)._few(rows, 4, nb)
    assert few is not None
    batch = _summarise(rows, 4, nb, hop, frame_s=0.1, tuning=TUNING)
    for line, row in zip(few, batch, strict=True):
        np.testing.assert_allclose(line[:6], row[:6], rtol=1e-12)  # the same sums: rounding at most
        assert line[7:10] == row[7:10].tolist()
