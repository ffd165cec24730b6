"""The decider's pending frames: posture codes that a later decision may still correct.

``analysis.decision.PostureDecider`` appends one code (and slouch angle) per frame and
keeps each for a fixed delay, during which the start of non-wear marks the frames of
its window as non-wear and a settled transition relabels the sitting and standing
frames since it settled. Then the frames are final (``take``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["Pending"]


class Pending:
    """Codes and slouch angles of consecutive frames from frame ``k0`` on.

    >>> p = Pending()
    >>> p.extend(2, 3)
    >>> p.mark(k_from=1, code=5)
    >>> p.append(0)
    >>> k, codes, _ = p.take(3)
    >>> k, codes.tolist(), p.k0
    (0, [2, 5, 5], 3)
    """

    def __init__(self) -> None:
        self.codes: list[int] = []
        self.slouch: list[float] = []
        self.k0 = 0  # frame index of codes[0]
        self.marked_k = 0  # frames before this one were marked by ``mark`` already

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def end_k(self) -> int:
        """Index of the next frame to append."""
        return self.k0 + len(self.codes)

    def append(self, code: int, slouch: float = math.nan) -> None:
        """Add one frame."""
        self.codes.append(code)
        self.slouch.append(slouch)

    def extend(self, code: int, frames: int) -> None:
        """Add ``frames`` frames of one code without slouch."""
        self.codes += [code] * frames
        self.slouch += [math.nan] * frames

    def extend_many(self, codes: list[int], slouch: list[float]) -> None:
        """Add frames with their codes and slouch angles (equal lengths)."""
        self.codes += codes
        self.slouch += slouch

    def mark(self, k_from: int, code: int) -> None:
        """Set every frame from ``k_from`` on to ``code`` without slouch.

        Marked frames stay so (``relabel`` changes sitting and standing only), so the
        frames before the last mark's end are skipped: a long run of marks costs
        one write per frame, not one per frame and window.
        """
        first = max(self.k0, k_from, self.marked_k) - self.k0
        n = len(self.codes) - first
        if n > 0:
            self.codes[first:] = [code] * n
            self.slouch[first:] = [math.nan] * n
        self.marked_k = self.end_k

    def relabel(self, frames: int, old: tuple[int, ...], new: int) -> None:
        """Set the codes in ``old`` among the last ``frames`` frames to ``new``."""
        for j in range(max(0, len(self.codes) - frames), len(self.codes)):
            if self.codes[j] in old:
                self.codes[j] = new

    def take(self, n: int) -> tuple[int, NDArray[np.int64], NDArray[np.float64]]:
        """Remove the oldest ``n`` frames and return ``(k0, codes, slouch_deg)`` of them."""
        k = self.k0
        codes = np.asarray(self.codes[:n], dtype=np.int64)
        slouch = np.asarray(self.slouch[:n], dtype=np.float64)
        del self.codes[:n]
        del self.slouch[:n]
        self.k0 = k + n
        return k, codes, slouch

    def snapshot(self) -> dict[str, Any]:
        """Return the JSON-serialisable state (the keys of earlier decider snapshots)."""
        return {
            "pending": list(self.codes),
            "pending_slouch": [None if math.isnan(x) else x for x in self.slouch],
            "pending_k0": self.k0,
        }

    def load(self, state: dict[str, Any]) -> None:
        """Restore the state saved by ``snapshot()``."""
        self.codes = [int(c) for c in state["pending"]]
        self.slouch = [math.nan if x is None else float(x) for x in state["pending_slouch"]]
        self.k0 = int(state["pending_k0"])
        self.marked_k = self.k0
