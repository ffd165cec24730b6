"""Arrays in a detector's snapshot: float64 bits as base64 text, exact and quick to write.

A snapshot is JSON. A list of floats is exact (``repr`` round-trips) but slow to write
and large: about 18 characters a number, formatted one by one. The worker saves every
wearer's state every few seconds, so a detector that keeps a window of frames saves it
packed: the little-endian float64 bytes in base64, 10.7 characters a number, written at
memory speed, and read back to the same bits. :func:`packed_columns` goes further for
columns that float32 holds exactly (frame counts, and frame sums of a few samples that
are integer counts times a power-of-two scale, as the simulated wearable's): those take
4 bytes a number, the others 8.

>>> import numpy as np
>>> a = np.array([[0.1, -2.5], [3.0, 1e-300]])
>>> bool(np.array_equal(unpacked(packed(a), 2), a))
True
>>> b = np.array([[0.1, -2.5], [3.0, 0.25]])
>>> packed_columns(b)["dtypes"]  # 0.1 needs float64
['<f8', '<f4']
>>> bool(np.array_equal(unpacked(packed_columns(b), 2), b))
True
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["packed", "packed_columns", "unpacked"]


def packed(array: NDArray[np.float64]) -> str:
    """The array's float64 values, row by row, as base64 text."""
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f8").tobytes()).decode("ascii")


def packed_columns(array: NDArray[np.float64]) -> dict[str, Any]:
    """The array (n, columns) column by column, each as float32 where that keeps its bits, else float64.

    Returns:
        ``{"dtypes": [...], "data": base64 text}``: each column's little-endian type
        (``"<f4"`` or ``"<f8"``) and their bytes, the columns one after another.
    """
    wide = np.asarray(array, dtype=np.float64)
    with np.errstate(over="ignore"):  # a value beyond float32 becomes inf: not exact, kept as float64
        narrow = wide.astype("<f4")
    exact = (narrow.astype(np.float64).view(np.uint64) == wide.view(np.uint64)).all(axis=0).tolist()
    parts = [(narrow if keep else wide.astype("<f8", copy=False))[:, j].tobytes() for j, keep in enumerate(exact)]
    dtypes = ["<f4" if keep else "<f8" for keep in exact]
    return {"dtypes": dtypes, "data": base64.b64encode(b"".join(parts)).decode("ascii")}


def _decoded(text: object) -> bytes:
    if not isinstance(text, str):
        raise ValueError(f"not a packed array: {type(text).__name__}")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as err:
        raise ValueError(f"not a packed array: {err}") from err


def _unpacked_columns(value: dict[str, Any], columns: int) -> NDArray[np.float64]:
    dtypes = value.get("dtypes")
    if not isinstance(dtypes, list) or len(dtypes) != columns or not set(dtypes) <= {"<f4", "<f8"}:
        raise ValueError(f"packed columns need {columns} types of <f4 or <f8, got {dtypes!r}")
    raw = _decoded(value.get("data"))
    width = sum(4 if d == "<f4" else 8 for d in dtypes)
    if len(raw) % width:
        raise ValueError(f"packed columns of {len(raw)} bytes are not whole rows of {width} bytes")
    n = len(raw) // width
    out = np.empty((n, columns))
    at = 0
    for j, dtype in enumerate(dtypes):
        size = n * (4 if dtype == "<f4" else 8)
        out[:, j] = np.frombuffer(raw[at : at + size], dtype=dtype)
        at += size
    return out


def unpacked(value: object, columns: int) -> NDArray[np.float64]:
    """An array saved by :func:`packed`, :func:`packed_columns` (or as a list of rows), shape (n, columns).

    Raises:
        ValueError: Not base64 of whole rows of float64, nor packed columns, nor a list of
            rows of that width.
    """
    if isinstance(value, dict):
        return _unpacked_columns(value, columns)
    if isinstance(value, str):
        raw = _decoded(value)
        if len(raw) % (8 * columns):
            raise ValueError(f"a packed array of {len(raw)} bytes is not whole rows of {columns} float64")
        return np.frombuffer(raw, dtype="<f8").astype(np.float64).reshape(-1, columns)
    return np.asarray(value, dtype=np.float64).reshape(-1, columns)
