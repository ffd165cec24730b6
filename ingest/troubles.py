"""The rate-limited log of troubles: one line per kind of trouble every few seconds, the rest counted."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

__all__ = ["LOG_EVERY_S", "RateLimitedLog"]

#: Seconds between two log lines of one kind of trouble (the rest are counted).
LOG_EVERY_S = 10.0


class RateLimitedLog:
    """Logs one line per kind of trouble every ``every_s`` seconds and counts the rest.

    Args:
        logger: Where to log.
        every_s: Least wall-clock seconds between two lines of one key.
        clock: Monotonic seconds.
    """

    def __init__(
        self, logger: logging.Logger, every_s: float = LOG_EVERY_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._log = logger
        self._every_s = every_s
        self._clock = clock
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warning(self, key: str, msg: str, *args: object, exc_info: bool = False) -> None:
        """Log ``msg % args`` at WARNING unless a line of ``key`` went out within ``every_s``."""
        now = self._clock()
        if now - self._last.get(key, -math.inf) < self._every_s:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return
        if len(self._last) > 1000:  # keys come from devices: keep the memory bounded
            self._last.clear()
            self._suppressed.clear()
        self._last[key] = now
        skipped = self._suppressed.pop(key, 0)
        suffix = f" ({skipped} more like it not logged)" if skipped else ""
        self._log.warning(msg + suffix, *args, exc_info=exc_info)
