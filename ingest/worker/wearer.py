"""What an analysis worker keeps of each wearer it analyses: the analysis, where its stream is, what waits."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from analysis import Analyzer, Placement
from ingest.codec import Batch
from ingest.payloads import WearerSettings

__all__ = ["MAX_QUEUED_SAMPLES", "Wearer"]

#: A device's queued samples are analysed once they reach this many (2 min at 50 Hz),
#: so that a backlog is analysed in bounded chunks.
MAX_QUEUED_SAMPLES = 6000


@dataclass(slots=True)
class Wearer:
    """One wearer's analysis and the state of its stream in the worker (:class:`ingest.worker.Worker`).

    The fields below ``analyzer`` and ``placement`` are the worker's bookkeeping: the
    last packet taken in order (``seq``), packets held after a gap (``pending``),
    queued for the analysis (``queued``) or deferred past the flood budget
    (``deferred``), events not yet stored (``outbox``), and when the status and the
    snapshot were last saved.
    """

    analyzer: Analyzer
    placement: Placement
    seq: int = -1
    dirty: bool = False  # analysed packets or actions not yet in the saved status
    status_saved_s: float = -math.inf
    snapshot_saved_s: float = -math.inf
    # Packets that came after a gap, by seq, and when the first of them arrived.
    pending: dict[int, Batch] = field(default_factory=dict)
    pending_since_s: float = 0.0
    # Events of analysed packets and actions, not yet stored and published.
    outbox: list[dict[str, Any]] = field(default_factory=list)
    heard_s: float = 0.0  # wall clock of the last message for this device
    unsaved_packets: int = 0  # analysed (or skipped by a failed analysis), not yet in a saved snapshot
    errors: int = 0  # analysis failures so far
    # Alerts raised and not yet sent, by time: the newest sample time when they were raised.
    alert_seen_s: dict[float, float] = field(default_factory=dict)
    quarantined: bool = False
    # Packets taken in order and not yet analysed: analysed together (``Worker._analyse``).
    queued: list[Batch] = field(default_factory=list)
    queued_samples: int = 0
    gathered_from_s: float = 0.0  # device time of the oldest queued packet's newest sample
    chosen: WearerSettings | None = None  # what the wearer chose on the Settings page
    # Flood control (``WorkerSettings.flood_*``): the samples the device may still have
    # analysed, and when that was last topped up (wall clock).
    budget_samples: float = math.inf
    budget_s: float = 0.0
    # Packets taken in order past the budget, oldest first, waiting behind the other devices'.
    deferred: deque[Batch] = field(default_factory=deque)
    deferred_samples: int = 0
    # Past the deferral bound: the newest packet left to the store (None: the stream is live),
    # and since when the store has had nothing newer for it (the recorder is behind).
    behind_seq: int | None = None
    behind_short_s: float | None = None
    # An episode of deferral is under way (logged as it starts and ends), with its counts.
    flooding: bool = False
    episode_deferred: int = 0
    episode_stored: int = 0
