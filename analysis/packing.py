"""Arrays in a detector's snapshot: float64 bits as base64 text, exact and quick to write.

A snapshot is JSON. A list of floats is exact (``repr`` round-trips) but slow to write
and large: about 18 characters a number, formatted one by one. The worker saves every
wearer's state every few seconds, so a detector that keeps a window of frames saves it
packed: the little-endian float64 bytes in base64, 10.7 characters a number, written at
memory speed, and read back to the same bits.

>>> import numpy as np
>>> a = np.array([[0.1, -2.5], [3.0, 1e-300]])
>>> bool(np.array_equal(unpacked(packed(a), 2), a))
True
"""

from __future__ import annotations

import base64
import binascii

import numpy as np
from numpy.typing import NDArray

__all__ = ["packed", "unpacked"]


def packed(array: NDArray[np.float64]) -> str:
    """The array's float64 values, row by row, as base64 text."""
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f8").tobytes()).decode("ascii")


def unpacked(value: object, columns: int) -> NDArray[np.float64]:
    """An array saved by :func:`packed` (or as a list of rows), shape (n, columns).

    Raises:
        ValueError: Not base64 of whole rows of float64, nor a list of rows of that width.
    """
    if isinstance(value, str):
        try:
            raw = base64.b64decode(value.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError) as err:
            raise ValueError(f"not a packed array: {err}") from err
        if len(raw) % (8 * columns):
            raise ValueError(f"a packed array of {len(raw)} bytes is not whole rows of {columns} float64")
        return np.frombuffer(raw, dtype="<f8").astype(np.float64).reshape(-1, columns)
    return np.asarray(value, dtype=np.float64).reshape(-1, columns)
