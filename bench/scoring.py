"""Agreement of an analysis with a ground truth: alerts, alerts in bed, posture per frame.

Shared by ``bench.days`` (simulated days) and ``bench.stretched`` (real recordings
stretched): the alerts the policy calls for on a truth (``alerts_due``), their one-to-one
matching with the alerts found (``match_alerts``), alerts within the truth's in-bed
periods (``alerts_within``) and the per-frame posture balanced accuracy
(``posture_score``, as ``../shared/tools/score.py`` scores the labelled recordings).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from analysis import Posture

__all__ = [
    "ALERT_TOLERANCE_S",
    "MAX_SITTING_S",
    "MIN_BALANCED_ACCURACY",
    "MIN_BREAK_S",
    "REPEAT_S",
    "SCORED",
    "SCORE_EDGE_S",
    "PostureScore",
    "alerts_due",
    "alerts_within",
    "match_alerts",
    "posture_score",
]

MIN = 60.0
MAX_SITTING_S = 30 * MIN  # DESIGN.md alert policy defaults
MIN_BREAK_S = 1 * MIN
REPEAT_S = 10 * MIN
ALERT_TOLERANCE_S = 2 * MIN
MIN_BALANCED_ACCURACY = 0.97
#: Time left out of the posture score either side of a change of truth posture, s: half
#: the 2-s chair transition of ``firmware_sim`` (``chair_transition_s``) plus the 0.5 s
#: of label slack ``../shared/tools/score.py`` leaves at each end of a labelled segment.
SCORE_EDGE_S = 1.5
#: The postures scored per frame, and what a wrist reports for each (walking or not).
SCORED = (Posture.SITTING, Posture.STANDING, Posture.LYING, Posture.WALKING)
_ACTIVITY_OF = {
    Posture.WALKING: Posture.WALKING,
    Posture.SITTING: Posture.OTHER,
    Posture.STANDING: Posture.OTHER,
    Posture.LYING: Posture.OTHER,
}


def alerts_due(segments: Iterable[tuple[float, float, bool]]) -> list[float]:
    """The alert times the policy calls for on consecutive ``(start_s, end_s, sitting)`` segments, s.

    A bout starts at the first sitting segment and ends at a non-sitting stretch of at
    least ``MIN_BREAK_S``; it alerts ``MAX_SITTING_S`` after its start, then every
    ``REPEAT_S`` (an alert due during a short stand-up comes when the wearer sits again).

    >>> alerts_due([(0.0, 1900.0, True), (1900.0, 1990.0, False), (1990.0, 3900.0, True)])
    [1800.0, 3790.0]
    """
    alerts: list[float] = []
    bout_start: float | None = None
    due = math.inf
    off_since: float | None = None
    for start_s, end_s, sitting in segments:
        if sitting:
            if bout_start is None:
                bout_start, due = start_s, start_s + MAX_SITTING_S
            off_since = None
            while due < end_s:
                alerts.append(max(due, start_s))
                due = max(due, start_s) + REPEAT_S
            continue
        off_since = start_s if off_since is None else off_since
        if bout_start is not None and end_s - off_since >= MIN_BREAK_S:
            bout_start, due = None, math.inf
    return alerts


@dataclass(frozen=True, slots=True)
class PostureScore:
    """Per-frame posture agreement with the truth.

    Attributes:
        balanced: Mean recall over the truth postures present.
        recalls: ``(posture, recall)`` per truth posture present, in ``SCORED`` order
            (a wrist: ``walking`` and ``other``).
        scored_s: Time scored, s.
    """

    balanced: float
    recalls: tuple[tuple[str, float], ...]
    scored_s: float


def posture_score(
    expected: Sequence[tuple[float, float, Posture]],
    found: Sequence[tuple[float, float, Posture]],
    *,
    activity_only: bool = False,
    edge_s: float = SCORE_EDGE_S,
    step_s: float = 0.1,
) -> PostureScore:
    """Score found postures against the truth on a grid of ``step_s``, as ``score.py`` does.

    Time whose truth is not one of ``SCORED``, and ``edge_s`` either side of each change of
    truth posture, is left out; a frame no found bout covers counts as wrong.

    Args:
        expected: Truth ``(start_s, end_s, posture)`` segments, in time order, tiling the day.
        found: Found ``(start_s, end_s, posture)`` bouts, in time order (same time origin).
        activity_only: Score walking against not walking only (a wrist: ``other`` is right
            for every still posture).
        edge_s: Time left out either side of a change of truth posture, s.
        step_s: Grid step, s.

    Returns:
        The score (balanced accuracy 0 when nothing was scored).

    >>> truth_ = [(0.0, 60.0, Posture.SITTING), (60.0, 120.0, Posture.STANDING)]
    >>> found = [(0.0, 90.0, Posture.SITTING), (90.0, 120.0, Posture.STANDING)]
    >>> posture_score(truth_, found, edge_s=0.0).balanced  # standing half right
    0.75
    """
    if not expected:
        return PostureScore(0.0, (), 0.0)
    codes = list(Posture)
    t = np.arange(0.0, expected[-1][1], step_s) + step_s / 2
    starts = np.array([seg[0] for seg in expected])
    labels = [seg[2] for seg in expected]
    if activity_only:
        labels = [_ACTIVITY_OF.get(p, Posture.NONWEAR) for p in labels]
    truth_code = np.array([codes.index(p) for p in labels])[np.searchsorted(starts, t, side="right") - 1]
    changes = np.array([starts[i] for i in range(1, len(labels)) if labels[i] != labels[i - 1]])
    near = np.zeros(t.shape[0], dtype=np.bool_)
    if changes.size:
        nearest = np.searchsorted(changes, t)
        before = np.abs(t - changes[np.clip(nearest - 1, 0, changes.size - 1)])
        after = np.abs(changes[np.clip(nearest, 0, changes.size - 1)] - t)
        near = np.minimum(before, after) < edge_s
    found_code = np.full(t.shape[0], -1)
    if found:
        bout_at = np.searchsorted(np.array([b[0] for b in found]), t, side="right") - 1
        ends = np.array([b[1] for b in found])
        bout_code = np.array([codes.index(b[2]) for b in found])
        inside = (bout_at >= 0) & (ends[np.clip(bout_at, 0, None)] > t)
        found_code = np.where(inside, bout_code[np.clip(bout_at, 0, None)], -1)
    recalls: list[tuple[str, float]] = []
    scored = 0
    for cls in (Posture.WALKING, Posture.OTHER) if activity_only else SCORED:
        mask = (truth_code == codes.index(cls)) & ~near
        n = int(mask.sum())
        if n:
            recalls.append((str(cls), float(np.mean(found_code[mask] == codes.index(cls)))))
            scored += n
    balanced = float(np.mean([r for _, r in recalls])) if recalls else 0.0
    return PostureScore(balanced, tuple(recalls), scored * step_s)


def alerts_within(found: Iterable[float], windows: Sequence[tuple[float, float]]) -> int:
    """How many alert times fall within any ``(start_s, end_s)`` window (ends included).

    >>> alerts_within([10.0, 50.0, 99.0], [(0.0, 20.0), (90.0, 100.0)])
    2
    """
    return sum(any(a <= t <= b for a, b in windows) for t in found)


def match_alerts(found: Sequence[float], expected: Sequence[float]) -> tuple[int, float]:
    """Greedy one-to-one matching in time order; returns (matched, worst offset s)."""
    used = [False] * len(expected)
    matched, worst = 0, 0.0
    for t in found:
        best = None
        for j, e in enumerate(expected):
            if (
                not used[j]
                and abs(t - e) <= ALERT_TOLERANCE_S
                and (best is None or abs(t - e) < abs(t - expected[best]))
            ):
                best = j
        if best is not None:
            used[best] = True
            matched += 1
            worst = max(worst, abs(t - expected[best]))
    return matched, worst
