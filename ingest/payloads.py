"""JSON payloads of the status, action and cmd topics: parsed in one guarded place.

A payload comes from any client on the broker, so it is parsed as hostile: bounded in
size and nesting before anything looks inside. A payload that is not a small, shallow
JSON object raises :class:`PayloadError`, which the services count and skip; no payload
can raise anything else (deeply nested JSON makes the standard parser raise
``RecursionError``, which is caught here).
"""

from __future__ import annotations

import json
from typing import Any

from ingest.errors import PayloadError

__all__ = ["MAX_DEPTH", "MAX_PAYLOAD_BYTES", "parse_object"]

#: Largest JSON payload accepted, bytes. A device status or a user action is well under
#: 1 kB (docs/protocol.md); 64 kB leaves room for fields added later.
MAX_PAYLOAD_BYTES = 64 * 1024
#: Deepest nesting accepted: sitless payloads are flat objects with at most a list or an
#: object inside.
MAX_DEPTH = 8


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
    try:
        body = json.loads(payload)
    except RecursionError:
        raise PayloadError("JSON nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as err:
        raise PayloadError(f"not JSON: {err}") from None
    if not isinstance(body, dict):
        raise PayloadError(f"expected a JSON object, got {type(body).__name__}")
    if _depth(body) > max_depth:
        raise PayloadError("JSON nested too deeply")
    return body


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
