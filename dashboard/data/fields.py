"""A field of a stored status, read as the type a page needs or as absent.

The services store only what they checked, but a hand edit, an import or an older
version may leave a word where a number belongs (``"battery_pct": "full"``), or a number
where a name does (``"placement": 5``). The pages read the fields of a live status and of
a wearable's status through :func:`number`, :func:`text` and :func:`number_pair`, which
give None for a value of another type, so that a page shows it as unknown rather than
fail.
"""

from __future__ import annotations

import math

__all__ = ["number", "number_pair", "text"]


def number(value: object) -> float | None:
    """A finite number as a float; None for anything else (absent, a bool, a text, NaN, a list).

    >>> number(5), number(2.5), number("10:30"), number(True), number(float("nan")), number(None)
    (5.0, 2.5, None, None, None, None)
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        out = float(value)
    except OverflowError:  # a whole number of hundreds of digits
        return None
    return out if math.isfinite(out) else None


def text(value: object) -> str | None:
    """A non-empty text; None for anything else.

    >>> text("thigh"), text(""), text(5), text(["thigh"])
    ('thigh', None, None, None)
    """
    return value if isinstance(value, str) and value else None


def number_pair(value: object) -> tuple[float, float] | None:
    """Two finite numbers ``[a, b]`` (a span of hours) as a pair; None for anything else.

    >>> number_pair([23, 7.5]), number_pair([23]), number_pair("23-7"), number_pair([23, "7"])
    ((23.0, 7.5), None, None, None)
    """
    if not isinstance(value, list | tuple) or len(value) != 2:
        return None
    first, second = number(value[0]), number(value[1])
    return None if first is None or second is None else (first, second)
