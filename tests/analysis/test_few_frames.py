"""The plain-float paths for a live packet's few frames equal the array paths bit for bit."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.angles import angles_deg, axis_inclinations_deg, beyond_deg, dots
from analysis.steady import ChunkFrames
from analysis.windows import TrailingRange, centred_sums, few_centred_sums


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 32), seed=st.integers(0, 2**32 - 1))
def test_few_centred_sums_equal_centred_sums(n: int, seed: int) -> None:
    """Gathered and accumulated windows give the bits of shifted additions, -0.0 and empty frames included."""
    rng = np.random.default_rng(seed)
    rows = rng.normal(0.0, 1.0, size=(n + 12, 6)) * rng.choice([1e-3, 1.0, 1e3])
    rows[rng.random(rows.shape) < 0.1] = -0.0
    rows[rng.random(n + 12) < 0.2, 0] = 0.0
    both = few_centred_sums(rows, (5, 6), 6)
    for k, half in enumerate((5, 6)):
        expected = centred_sums(rows, half, 6)
        assert np.array_equal(both[k], expected)
        assert np.array_equal(np.signbit(both[k]), np.signbit(expected))


@settings(max_examples=60, deadline=None)
@given(cut=st.floats(0.0, 180.0), seed=st.integers(0, 2**32 - 1))
def test_beyond_deg_decides_as_the_angle(cut: float, seed: int) -> None:
    """Comparing cosines decides every frame as its angle would, right at the cut-point too."""
    rng = np.random.default_rng(seed)
    units = rng.normal(size=(40, 3))
    units /= np.linalg.norm(units, axis=1)[:, None]
    other = units[0].copy()
    c = math.cos(math.radians(cut))
    near = [c + d for d in (-2e-9, -1e-9, -1e-12, 0.0, 1e-12, 1e-9, 2e-9)]
    cosines = [*dots(units, other), *near, 1.0, -1.0, 1.0 + 1e-15]
    angles = np.degrees(np.arccos(np.minimum(np.maximum(np.array(cosines), -1.0), 1.0)))
    assert beyond_deg(cosines, cut) == (angles > cut).tolist()
    assert beyond_deg(cosines, cut, inclusive=True) == (angles >= cut).tolist()
    assert beyond_deg(dots(units, other), cut) == (angles_deg(units, other) > cut).tolist()
    axis = [abs(u) for u in units[:, 1].tolist()]
    assert beyond_deg(axis, cut, inclusive=True) == (axis_inclinations_deg(units, 1) >= cut).tolist()


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 18), seed=st.integers(0, 2**32 - 1))
def test_push_all_equals_one_push_each(m: int, seed: int) -> None:
    """Ranges fed together keep and return what each fed alone does."""
    rng = np.random.default_rng(seed)
    alone, together = [TrailingRange(600, 3), TrailingRange(20, 3)], [TrailingRange(600, 3), TrailingRange(20, 3)]
    for _ in range(30):
        rows = np.round(rng.normal(size=(m, 3)), 2)
        rows[rng.random(m) < 0.05] = np.nan
        expected = [r.push(rows) for r in alone]
        got = TrailingRange.push_all(together, rows)
        for e, g in zip(expected, got, strict=True):
            assert np.array_equal(e, g, equal_nan=True)
    for a, t in zip(alone, together, strict=True):
        assert a.snapshot() == t.snapshot()


@settings(max_examples=60, deadline=None)
@given(h=st.integers(0, 30), n=st.integers(1, 32), seed=st.integers(0, 2**32 - 1))
def test_build_few_equals_build(h: int, n: int, seed: int) -> None:
    """A chunk prepared from plain lists has the kinds, runs and sequences of the array way."""
    rng = np.random.default_rng(seed)
    unit = rng.normal([0.0, 1.0, 0.0], rng.choice([0.01, 0.05, 0.5]), size=(h + n, 3))
    unit /= np.linalg.norm(unit, axis=1)[:, None]
    mag = rng.normal(1.0, 0.1, h + n)
    sd = rng.choice([0.001, 0.02, 0.05, 0.2], n)
    quiet = rng.random(n) < 0.3
    options = {"walk_sd_g": 0.1, "still_sd_g": 0.03, "move_deg": 5.0, "move_lag": 5}
    expected = ChunkFrames.build(
        mag[:h],
        unit[:h],
        has_data=np.ones(n, dtype=np.bool_),
        unit=unit[h:],
        sd=sd,
        mag=mag[h:],
        quiet=quiet,
        **options,
    )
    got = ChunkFrames.build_few(
        mag[:h],
        unit[:h],
        unit=[(x, y, z) for x, y, z in unit[h:].tolist()],
        sd=sd.tolist(),
        mag=mag[h:].tolist(),
        quiet=quiet.tolist(),
        **options,
    )
    assert got is not None
    assert got.kind.tolist() == expected.kind.tolist()
    assert got.run_end == expected.run_end
    assert got.pos.tolist() == expected.pos.tolist()
    assert np.array_equal(got.seq_m, expected.seq_m)
    assert np.array_equal(got.seq_u, expected.seq_u)
