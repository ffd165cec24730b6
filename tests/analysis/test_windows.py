"""Sliding-window reductions: the fast forms equal the direct reductions bit for bit."""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from analysis.angles import angle_deg, angles_deg
from analysis.packing import packed_columns
from analysis.windows import TrailingRange, _row_runs, centred_sums, majority


def direct_ranges(x: NDArray[np.float64], width: int) -> NDArray[np.float64]:
    """Max - min of each window of ``width`` rows, largest over the columns, the slow way."""
    view = sliding_window_view(x, width, axis=0)
    ranges: NDArray[np.float64] = (view.max(axis=-1) - view.min(axis=-1)).max(axis=-1)
    return ranges


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 450), width=st.integers(1, 210), seed=st.integers(0, 2**32 - 1))
def test_trailing_range_equals_the_direct_range(rows: int, width: int, seed: int) -> None:
    """Van Herk/Gil-Werman (rows in one piece) gives exactly the max - min of each window,
    NaN gaps included; rows without a full window behind them are a gap."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 3))
    x[rng.random(rows) < 0.02] = np.nan
    got = TrailingRange(width, 3).push(x)
    assert np.isnan(got[: width - 1]).all()
    if rows < width:
        return
    assert np.array_equal(got[width - 1 :], direct_ranges(x, width), equal_nan=True)


@settings(max_examples=60, deadline=None)
@given(windows=st.integers(1, 80), width=st.integers(8, 640), seed=st.integers(0, 2**32 - 1))
def test_a_few_windows_after_a_long_one_equal_the_direct_range(windows: int, width: int, seed: int) -> None:
    """A few windows after a long one (a live packet's frames) are the direct ranges too."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(width + windows - 1, 3))
    x[rng.random(x.shape[0]) < 0.005] = np.nan
    stream = TrailingRange(width, 3)
    stream.push(x[: width - 1])
    assert np.array_equal(stream.push(x[width - 1 :]), direct_ranges(x, width), equal_nan=True)


@settings(max_examples=60, deadline=None)
@given(
    width=st.integers(1, 120),
    cuts=st.lists(st.integers(0, 300), max_size=8),
    seed=st.integers(0, 2**32 - 1),
)
def test_streamed_range_equals_the_whole_stream_across_snapshots(width: int, cuts: list[int], seed: int) -> None:
    """Rows pushed in any chunks, the state saved to JSON and restored between them, give
    the range of each row's window as one pass over the stream does (missing rows before
    the start count as a gap)."""
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(size=(300, 3)), 2)  # repeated values: runs in the snapshot
    x[rng.random(300) < 0.01] = np.nan
    expected = direct_ranges(np.concatenate([np.full((width - 1, 3), np.nan), x]), width)
    stream = TrailingRange(width, 3)
    got = []
    for a, b in itertools.pairwise([0, *sorted(cuts), 300]):
        got.append(stream.push(x[a:b]))
        restored = TrailingRange(width, 3)
        restored.load(json.loads(json.dumps(stream.snapshot())))
        stream = restored
    assert np.array_equal(np.concatenate(got), expected, equal_nan=True)


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(25, 400), half=st.sampled_from([10, 12]), seed=st.integers(0, 2**32 - 1))
def test_centred_sums_equal_numpy_window_sums(rows: int, half: int, seed: int) -> None:
    """Shifted additions give the same bits as ``sum`` over a sliding window view."""
    x = np.random.default_rng(seed).normal(1.0, 0.3, size=(rows, 4))
    view = sliding_window_view(x[12 - half : rows - (12 - half)], 2 * half + 1, axis=0)
    assert np.array_equal(centred_sums(x, half, 12), view.sum(axis=-1))


@settings(max_examples=40, deadline=None)
@given(labels=st.lists(st.integers(0, 5), min_size=1, max_size=80))
def test_majority_equals_counting_each_window(labels: list[int]) -> None:
    """Running counts give the filter of counting each window (ties keep the centre)."""
    half = 3
    padded = np.array([-1] * half + labels + [-1] * half, dtype=np.int64)
    expected = []
    for i in range(len(labels)):
        window = padded[i : i + 2 * half + 1]
        counts = np.bincount(window[window >= 0], minlength=6)
        centre = padded[i + half]
        expected.append(centre if counts[centre] == counts.max() else int(counts.argmax()))
    assert majority(padded, half, 6).tolist() == expected


def test_scalar_and_row_angles_agree() -> None:
    """One frame's angle is the same number alone or in a chunk (live equals batch)."""
    rng = np.random.default_rng(7)
    u = rng.normal(size=(500, 3))
    u /= np.linalg.norm(u, axis=1)[:, None]
    v = u[0]
    rows = angles_deg(u, v)
    assert all(angle_deg(u[i], v) == rows[i] for i in range(500))
    assert np.array_equal(angles_deg(u[3:4], v), rows[3:4])


def runs_one_by_one(row: list[float]) -> list[list[Any]]:
    """Runs of equal values, NaN equal to NaN, as ``[value or None, count]``: the reference, one value at a time."""
    runs: list[list[Any]] = []
    for v in row:
        key = None if math.isnan(v) else v
        if runs and runs[-1][0] == key:
            runs[-1][1] += 1
        else:
            runs.append([key, 1])
    return runs


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 6), width=st.integers(0, 40), seed=st.integers(0, 2**32 - 1))
def test_row_runs_are_each_row_s_runs_of_equal_values(rows: int, width: int, seed: int) -> None:
    """The snapshot's runs of all rows at once are each row's own in turn, NaN equal to NaN."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, size=(rows, width)).astype(np.float64)
    x[rng.random(x.shape) < 0.2] = np.nan
    values, lengths = _row_runs(x)
    got = [[None if math.isnan(v) else v, n] for v, n in zip(values.tolist(), lengths.tolist(), strict=True)]
    assert got == [run for row in x.tolist() for run in runs_one_by_one(row)]


def test_a_snapshot_of_runs_per_column_from_before_still_loads() -> None:
    """Snapshots saved before the runs were packed (``[value or None, count]`` per column) restore the same state."""
    x = np.round(np.random.default_rng(7).normal(size=(40, 3)), 1)
    x[5] = np.nan
    stream = TrailingRange(30, 3)
    stream.push(x)
    old = {
        "high": [runs_one_by_one(col) for col in stream.high.tolist()],
        "low": [runs_one_by_one(col) for col in stream.low.tolist()],
    }
    restored = TrailingRange(30, 3)
    restored.load(json.loads(json.dumps(old)))
    assert np.array_equal(restored._ext, stream._ext, equal_nan=True)
    more = np.random.default_rng(8).normal(size=(4, 3))
    assert np.array_equal(restored.push(more), stream.push(more), equal_nan=True)


def test_a_snapshot_whose_runs_do_not_fill_the_window_is_refused() -> None:
    stream = TrailingRange(30, 3)
    state = stream.snapshot()
    values, lengths = _row_runs(stream._ext)
    state["runs"] = packed_columns(np.column_stack((values, lengths + 1)))
    with pytest.raises(ValueError, match="cannot fill"):
        TrailingRange(30, 3).load(state)
