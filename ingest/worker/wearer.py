"""What an analysis worker keeps of each wearer it analyses: the analysis, where its stream is, what waits.

A wearer's analysis follows the worker's settings, with what the wearer chose (on the
Settings page) in their place (:func:`analysis_settings`), and runs the recogniser of
exercise done unprompted unless the worker leaves it out (:func:`fresh_analyzer`).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from analysis import AnalysisSettings, Analyzer, Placement
from analysis.detector import Detector
from analysis.sets import recognition_detectors
from ingest.codec import Batch
from ingest.payloads import WearerSettings
from ingest.worker.settings import WorkerSettings

__all__ = ["MAX_QUEUED_SAMPLES", "Wearer", "analysis_settings", "fresh_analyzer", "recognition"]

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
