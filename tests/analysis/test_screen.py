"""The recogniser's screen: what it rules out is never a look ``classify_window`` could label."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.looks import RecognitionTuning, _hook_without_axis, unit
from analysis.screen import off_hook_without_axis

TUNING = RecognitionTuning()
_COMPONENT = st.floats(-1.2, 1.2, allow_nan=False)


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
