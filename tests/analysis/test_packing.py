"""Arrays in snapshots: packed and read back to the same bits."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.packing import packed, packed_columns, unpacked

_ANY = st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True)
_NARROW = st.floats(width=32, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 12), st.lists(st.booleans(), min_size=1, max_size=6), st.data())
def test_packed_columns_read_back_to_the_same_bits(rows: int, narrow: list[bool], data: st.DataObject) -> None:
    """Columns float32 holds and columns it does not (NaN, -0.0, subnormals) come back bit for bit, through JSON."""
    columns = [data.draw(st.lists(_NARROW if n else _ANY, min_size=rows, max_size=rows)) for n in narrow]
    array = np.array(columns, dtype=np.float64).T.reshape(rows, len(narrow))
    saved = json.loads(json.dumps(packed_columns(array)))
    again = unpacked(saved, len(narrow))
    assert again.shape == array.shape
    assert np.array_equal(again.view(np.uint64), array.view(np.uint64))


def test_float32_columns_take_half_the_room() -> None:
    """Frame counts and sums of quarter-g steps go as float32; a column float32 cannot hold goes as float64."""
    array = np.array([[5.0, 0.25, 0.1], [4.0, -1.5, 0.2]])
    saved = packed_columns(array)
    assert saved["dtypes"] == ["<f4", "<f4", "<f8"]
    assert len(saved["data"]) < len(packed(array))


@pytest.mark.parametrize(
    "bad",
    [
        {"dtypes": ["<f4"], "data": ""},
        {"dtypes": ["<f2", "<f8"], "data": ""},
        {"dtypes": ["<f4", "<f8"], "data": "AAAA"},
        {"dtypes": ["<f4", "<f8"], "data": "not base64!"},
        {"dtypes": ["<f4", "<f8"]},
    ],
)
def test_bad_packed_columns_raise(bad: dict[str, object]) -> None:
    """Wrong types, a width that is not whole rows or text that is not base64 raise ValueError."""
    with pytest.raises(ValueError, match="packed"):
        unpacked(bad, 2)
