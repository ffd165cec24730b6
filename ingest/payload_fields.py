"""The checked fields of a JSON payload: a bounded object, strings, numbers, placements.

A payload comes from any client on the broker, so it is parsed as hostile:
:func:`parse_object` bounds it in size and nesting before anything looks inside, and
refuses anything but a JSON object. :func:`load_json`, which it calls, parses JSON of
any size and makes deep nesting a ``PayloadError`` too (for files the CLI reads). The
field readers (:func:`text_field`, :func:`number_field`, :func:`placement_field`) check
one field's type and range, and :func:`compact_number` writes a whole number without
its ``.0``. Every refusal is a :class:`~ingest.errors.PayloadError` whose message names
the field and the value.

>>> number_field({"rate_hz": 50}, "rate_hz", 0.0, 1e6), compact_number(50.0)
(50.0, 50)
"""

from __future__ import annotations

import json
import math
from typing import Any

from analysis.settings import Placement
from ingest.errors import PayloadError

__all__ = [
    "MAX_DEPTH",
    "MAX_ID_LEN",
    "MAX_PAYLOAD_BYTES",
    "compact_number",
    "load_json",
    "number_field",
    "parse_object",
    "placement_field",
    "text_field",
]

#: Largest JSON payload accepted, bytes. A device status or a user action is well under
#: 1 kB (docs/protocol.md); 64 kB leaves room for fields added later.
MAX_PAYLOAD_BYTES = 64 * 1024
#: Deepest nesting accepted: sitless payloads are flat objects with at most a list or an
#: object inside.
MAX_DEPTH = 8
#: Longest action id, exercise id, firmware version, command name or reason accepted
#: (``ingest.actions.send_action`` sends 32 hex digits).
MAX_ID_LEN = 64


def parse_object(payload: bytes, *, max_bytes: int = MAX_PAYLOAD_BYTES, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """Parse a JSON object payload, refusing anything too large or too deeply nested.

    Args:
        payload: The raw MQTT payload.
        max_bytes: Largest payload accepted, bytes.
        max_depth: Deepest nesting of lists and objects accepted (the top object is 1).

    Returns:
        The object.

    Raises:
        PayloadError: Too large, not UTF-8 JSON, not an object, or nested too deeply;
            the message says which.

    >>> parse_object(b'{"action": "done"}')
    {'action': 'done'}
    >>> parse_object(b"[" * 5000 + b"]" * 5000)
    Traceback (most recent call last):
    ...
    ingest.errors.PayloadError: JSON nested too deeply
    """
    if len(payload) > max_bytes:
        raise PayloadError(f"payload of {len(payload)} bytes is over the {max_bytes}-byte limit")
    body = load_json(payload)
    if not isinstance(body, dict):
        raise PayloadError(f"expected a JSON object, got {type(body).__name__}")
    if _depth(body) > max_depth:
        raise PayloadError("JSON nested too deeply")
    return body


def load_json(text: str | bytes) -> Any:
    """Parse JSON of any size or shape, raising only ``PayloadError`` for what is not JSON.

    The standard parser recurses once a level, so ``[[[...`` nested past the interpreter's
    recursion limit (about 1,000) raises ``RecursionError``, not the ``ValueError`` of bad
    JSON: a ``.gt3x`` METADATA record, a ``--json-dir`` file or a ``--plan`` so nested
    ended ``sitless analyze`` or ``sitless report`` with a traceback. What comes from
    outside is read through here (or ``parse_object``, which also bounds size and depth).

    Args:
        text: The JSON, as text or as UTF-8, UTF-16 or UTF-32 bytes.

    Returns:
        The parsed value.

    Raises:
        PayloadError: Not JSON (the message gives the parser's reason), or nested too deeply.

    >>> load_json(b"[1, 2]")
    [1, 2]
    >>> load_json("[" * 5000 + "]" * 5000)
    Traceback (most recent call last):
    ...
    ingest.errors.PayloadError: JSON nested too deeply
    """
    try:
        return json.loads(text)
    except RecursionError:
        raise PayloadError("JSON nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as err:
        raise PayloadError(f"not JSON: {err}") from None


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON, without recursion (the top container is 1).

    >>> _depth({"a": [1, {"b": 2}]}), _depth(3)
    (3, 0)
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


def text_field(body: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    r"""A string field of 1 to :data:`MAX_ID_LEN` printable characters, or None when absent and not required.

    Printable (``str.isprintable``): no control character, line break or lone surrogate.
    These fields are stored as text (an action's ``id`` is the key of its stored event),
    and PostgreSQL refuses a text holding NUL: taken in, one such message failed every
    write of the batch it came in, again and again, as if the store were down.

    >>> text_field({"id": "tap-7 ✓"}, "id")
    'tap-7 ✓'
    >>> text_field({"id": "a" + chr(0)}, "id")
    Traceback (most recent call last):
    ...
    ingest.errors.PayloadError: id must be a string of 1 to 64 printable characters, got 'a\x00'

    Raises:
        PayloadError: Not such a string (or absent and required); the message names the field.
    """
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_LEN or not value.isprintable():
        raise PayloadError(f"{name} must be a string of 1 to {MAX_ID_LEN} printable characters, got {value!r:.80}")
    return value


def number_field(body: dict[str, Any], name: str, lo: float = -math.inf, hi: float = math.inf) -> float | None:
    """A finite number field within ``[lo, hi]``, or None when absent (bools are not numbers).

    Raises:
        PayloadError: Not a number, or out of range; the message names the field.
    """
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise PayloadError(f"{name} must be a number within [{lo}, {hi}], got {value!r:.80}")
    return float(value)


def placement_field(body: dict[str, Any]) -> Placement | None:
    """The ``placement`` field: a known placement, or None when absent.

    Raises:
        PayloadError: An unknown placement.
    """
    value = body.get("placement")
    if value is None:
        return None
    try:
        return Placement(value)
    except (ValueError, TypeError):
        raise PayloadError(f"unknown placement {value!r:.80}") from None


def compact_number(number: float) -> int | float:
    """A whole number as an int in JSON (``50`` rather than ``50.0``)."""
    value = float(number)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value
