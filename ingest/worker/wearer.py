"""What an analysis worker keeps of each wearer it analyses: the analysis, where its stream is, what waits.

A wearer's analysis follows the worker's settings, with what the wearer chose (on the
Settings page) in their place (:func:`analysis_settings`), and runs the recogniser of
exercise done unprompted unless the worker leaves it out (:func:`fresh_analyzer`). A
wearer the worker takes up is resumed from the snapshot saved in the store where it can
be (:func:`restored`).
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from analysis import AnalysisSettings, Analyzer, Placement
from analysis.detector import Detector
from analysis.sets import recognition_detectors
from ingest.codec import Batch
from ingest.errors import PayloadError
from ingest.payloads import WearerSettings
from ingest.store import Store
from ingest.worker.settings import WorkerSettings

__all__ = ["MAX_QUEUED_SAMPLES", "Wearer", "analysis_settings", "fresh_analyzer", "recognition", "restored"]

log = logging.getLogger(__name__)

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
    # Packets taken in order and not yet analysed: analysed together (``AnalysisSchedule.analyse``).
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


def analysis_settings(
    settings: WorkerSettings, placement: Placement, chosen: WearerSettings | None
) -> AnalysisSettings:
    """The analysis settings of a wearer: the worker's policy, with what the wearer chose in its place.

    Args:
        settings: The worker's settings (``policy``, ``slouch``).
        placement: Where the wearable is worn.
        chosen: What the wearer chose (None: nothing).
    """
    policy, slouch = settings.policy, settings.slouch
    if chosen is not None:
        policy, slouch = chosen.policy(policy), chosen.slouch(slouch)
    return AnalysisSettings(placement=placement, policy=policy, slouch=slouch)


def recognition(settings: WorkerSettings, analysis: AnalysisSettings) -> list[Detector]:
    """The detectors every wearer's analysis runs besides posture: exercise done unprompted, unless left out.

    Args:
        settings: The worker's settings (``recognition``).
        analysis: The wearer's analysis settings.
    """
    return recognition_detectors(analysis.placement, analysis.tuning.frame_s) if settings.recognition else []


def fresh_analyzer(settings: WorkerSettings, analysis: AnalysisSettings) -> Analyzer:
    """A new analysis for a wearer.

    Args:
        settings: The worker's settings.
        analysis: The wearer's analysis settings (:func:`analysis_settings`).
    """
    return Analyzer(analysis, recognition(settings, analysis))


def restored(settings: WorkerSettings, store: Store, device_id: str, *, status_placement: Placement | None) -> Wearer:
    """The device's saved analysis, or a fresh one when there is none or it cannot be used.

    The placement is the one the wearer chose (settings), else the one the device's
    status names, else the one the saved state was for, else the worker's default. A
    snapshot of an older analysis version (after an upgrade) or of another placement
    cannot be resumed: the analysis starts afresh with the packets stored after it.

    Args:
        settings: The worker's settings.
        store: Where the wearer's settings and saved state are.
        device_id: The device.
        status_placement: The placement the device's status names (None: none heard).
    """
    saved = store.load_state(device_id)
    saved_placement = None if saved is None else saved.status.get("placement")
    chosen = _chosen(store, device_id)
    placement = (
        (chosen and chosen.placement)
        or status_placement
        or (Placement(saved_placement) if saved_placement in {str(p) for p in Placement} else settings.placement)
    )
    analysis = analysis_settings(settings, placement, chosen)
    if saved is None or not saved.snapshot:
        return Wearer(fresh_analyzer(settings, analysis), placement, chosen=chosen)
    try:
        analyzer = Analyzer.restore(analysis, saved.snapshot, recognition(settings, analysis))
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as err:
        log.warning("%s: saved analysis state not usable (%s); starting afresh", device_id, err)
        return Wearer(fresh_analyzer(settings, analysis), placement, seq=saved.seq, chosen=chosen)
    log.info("%s: resumed analysis after packet %d", device_id, saved.seq)
    return Wearer(analyzer, placement, seq=saved.seq, chosen=chosen)


def _chosen(store: Store, device_id: str) -> WearerSettings | None:
    """The settings the wearer chose, as stored (None: none, or unreadable)."""
    body = store.wearer_settings(device_id)
    if body is None:
        return None
    try:
        return WearerSettings.from_dict(body)
    except PayloadError as err:
        log.warning("%s: stored settings not usable (%s); the worker's own apply", device_id, err)
        return None
