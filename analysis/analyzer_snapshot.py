"""The format of an analyser's snapshot: its version, its placement and the detectors' saved parts.

``Analyzer.snapshot`` saves the analyser's own state next to each detector's part
(``analysis.detector.saved_parts``), and ``Analyzer.restore`` reads it back with the
helpers here. Version 4 keeps each detector's state under its name, with its own
version; version 3 snapshots, from before there were other detectors, hold the posture
and bouts state alone and are read as the posture detector's part. A detector whose
part does not load starts afresh while the others carry on.
"""

from __future__ import annotations

import copy
from typing import Any

from analysis.detector import Detector, saved_part
from analysis.posture_detector import PostureDetector
from analysis.settings import Placement

__all__ = ["SNAPSHOT_VERSION", "check_snapshot", "detector_parts", "load_parts"]

#: 4: each detector's state under its name, with its own version (3: posture and bouts only).
SNAPSHOT_VERSION = 4


def check_snapshot(snapshot: dict[str, Any], placement: Placement) -> None:
    """Check that a snapshot can be restored for ``placement``.

    Args:
        snapshot: The saved state (``Analyzer.snapshot``).
        placement: The placement of the settings to continue with.

    Raises:
        ValueError: The snapshot has an unknown version or another placement.
    """
    version = snapshot.get("version")
    if version not in (3, SNAPSHOT_VERSION):
        raise ValueError(f"unsupported snapshot version {version!r}")
    if snapshot.get("placement") != str(placement):
        raise ValueError(f"snapshot is for placement {snapshot.get('placement')!r}, settings are for {placement!s}")


def detector_parts(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The detectors' saved parts by name; a version 3 snapshot's posture and bouts are the posture detector's.

    Raises:
        ValueError: The snapshot's detectors are not a mapping.
    """
    if snapshot["version"] == 3:
        state = {"posture": snapshot["posture"], "bouts": snapshot["bouts"]}
        return {PostureDetector.name: {"version": 1, "state": state}}
    parts = snapshot["detectors"]
    if not isinstance(parts, dict):
        raise ValueError(f"snapshot detectors must be a mapping, got {type(parts).__name__}")
    return parts


def load_parts(detectors: list[Detector], saved: dict[str, Any], required: Detector) -> None:
    """Load each detector's saved part, in place.

    A detector without a part of its name and version stays fresh. One whose part does
    not load is replaced by a fresh copy, except ``required``, whose error is raised.

    Args:
        detectors: The analyser's detectors, fresh; a detector whose part does not load
            is replaced in this list.
        saved: The saved parts (``detector_parts``).
        required: The detector without whose part the snapshot is of no use (the posture one).
    """
    for i, detector in enumerate(detectors):
        state = saved_part(saved, detector)
        if state is None:
            continue
        if detector is required:
            detector.load(state)  # without its posture part the snapshot is of no use
            continue
        spare = copy.deepcopy(detector)
        try:
            detector.load(state)
        except (ValueError, KeyError, TypeError, IndexError):
            detectors[i] = spare  # a part that does not load: this detector starts afresh
