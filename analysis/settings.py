"""Closed sets and settings of the analysis: placements, postures, user actions, alert policy.

The alert policy defaults come from DESIGN.md ("Alert policy"): sitting longer than
30 minutes without a break raises an alert, a break is at least 1 minute of standing
or walking, an unanswered alert repeats after 10 minutes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["AlertPolicy", "AnalysisSettings", "Placement", "Posture", "PostureTuning", "UserAction"]


class Placement(StrEnum):
    """Where the sensor is worn (the ``--placement`` values of ``sitless analyze``)."""

    THIGH = "thigh"
    WAIST = "waist"
    LOWER_BACK = "lower_back"
    CHEST = "chest"
    UPPER_BACK = "upper_back"
    WRIST = "wrist"


class Posture(StrEnum):
    """The postures reported for every stretch of a recording."""

    SITTING = "sitting"
    STANDING = "standing"
    LYING = "lying"
    WALKING = "walking"
    OTHER = "other"


#: Integer codes of the postures in per-frame arrays (index into this tuple).
POSTURE_CODES: tuple[Posture, ...] = tuple(Posture)
#: Postures that count towards a break from sitting (DESIGN.md: "standing or walking").
UPRIGHT: frozenset[Posture] = frozenset({Posture.STANDING, Posture.WALKING})


class UserAction(StrEnum):
    """What the wearer can answer to an alert."""

    DONE = "done"
    SNOOZE = "snooze"
    MEETING = "meeting"
    MEETING_END = "meeting_end"


def _check_positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """When to raise a sit-too-long alert (defaults: DESIGN.md, "Alert policy").

    Attributes:
        max_sitting_s: Sitting longer than this without a break raises an alert.
        min_break_s: Shortest standing/walking run that counts as a break; shorter
            non-sitting stretches (fidgets) do not end a sitting bout.
        repeat_s: An unanswered (or acknowledged but ignored) alert repeats after this.
        snooze_s: How long "snooze" silences alerts.
        meeting_s: How long "in a meeting" silences alerts unless ended earlier.
        working_hours: Local hours ``(start, end)``, alerts only when
            ``start <= hour < end``; ``None`` means always. ``start > end`` spans midnight.
        utc_offset_h: Local time offset from UTC in hours, used with working hours when
            times are Unix epoch seconds.
    """

    max_sitting_s: float = 1800.0
    min_break_s: float = 60.0
    repeat_s: float = 600.0
    snooze_s: float = 600.0
    meeting_s: float = 3600.0
    working_hours: tuple[float, float] | None = None
    utc_offset_h: float = 0.0

    def __post_init__(self) -> None:
        for name in ("max_sitting_s", "min_break_s", "repeat_s", "snooze_s", "meeting_s"):
            _check_positive(name, getattr(self, name))
        if not (math.isfinite(self.utc_offset_h) and -24.0 < self.utc_offset_h < 24.0):
            raise ValueError(f"utc_offset_h must be within (-24, 24), got {self.utc_offset_h!r}")
        if self.working_hours is not None:
            start, end = self.working_hours
            if not (0.0 <= start < 24.0 and 0.0 <= end <= 24.0 and start != end):
                raise ValueError(
                    f"working_hours must be (start, end) within [0, 24], start != end, got {self.working_hours!r}"
                )


@dataclass(frozen=True, slots=True)
class PostureTuning:
    """Signal-processing knobs of the posture classifier, with their provenance.

    The defaults were measured on the development split of ``/work/shared/data``
    (``uci_hapt`` waist and ``spsw_pocket_tug`` pocket/thigh recordings) with
    ``python /work/shared/tools/score.py posture /work/shared/data/uci_hapt
    /work/shared/data/spsw_pocket_tug --cli .venv/bin/sitless``; ``docs/validation.md``
    lists the figures.

    Attributes:
        frame_s: Resolution of the posture timeline. 0.1 s is the scoring grid of
            ``score.py`` and short enough for the 0.5-3 s seated stretches of
            ``spsw_pocket_tug``.
        gravity_window_s: Centred window of the gravity (mean acceleration) estimate.
        intensity_window_s: Centred window of the movement intensity (standard
            deviation of |a|). 1.2 s holds about two steps (~0.5 s each) and keeps the
            movement of a stand-up or sit-down from spilling into the 1-3 s seated ends of
            ``spsw_pocket_tug``: against 2.0 s it raised that dataset's sitting recall
            from 0.81 to 0.85 with walking recall 0.99-1.00 and no change on ``uci_hapt``.
        smooth_s: Centred majority filter over the per-frame postures. A frame whose
            gravity window holds no sample (a gap in the data) is ``other``.
        walk_sd_g: Movement intensity (SD of |a|, g) above which the wearer is taken
            to be walking. Static postures in both datasets stay below 0.03 g; walking
            is 0.1-0.45 g.
        ref_min_walk_s: Walking time needed before the walking-referenced upright
            replaces the provisional device-axis reference.
    """

    frame_s: float = 0.1
    gravity_window_s: float = 1.0
    intensity_window_s: float = 1.2
    smooth_s: float = 1.0
    walk_sd_g: float = 0.1
    ref_min_walk_s: float = 5.0

    def __post_init__(self) -> None:
        for name in ("frame_s", "gravity_window_s", "intensity_window_s", "smooth_s", "walk_sd_g", "ref_min_walk_s"):
            _check_positive(name, getattr(self, name))

    def frames(self, seconds: float) -> int:
        """Half-width in frames of a centred window of ``seconds``.

        Args:
            seconds: Full window length in s.

        Returns:
            Number of frames on each side of the centre frame (>= 0).

        >>> PostureTuning().frames(1.0)
        5
        """
        return max(0, round(seconds / self.frame_s / 2.0))


@dataclass(frozen=True, slots=True)
class AnalysisSettings:
    """Everything the analysis of one wearer needs.

    Attributes:
        placement: Where the sensor is worn.
        policy: The sit-too-long alert policy.
        tuning: Posture classifier knobs (defaults measured on real recordings).
        long_axis: Device axis (0=x, 1=y, 2=z) that lies along the body's long axis
            when the sensor is worn as intended; used, sign-agnostic, as the upright
            reference until one is learned from the wearer's own walking. ``None``
            takes the placement's default (see ``analysis.posture.default_long_axis``).
    """

    placement: Placement
    policy: AlertPolicy = field(default_factory=AlertPolicy)
    tuning: PostureTuning = field(default_factory=PostureTuning)
    long_axis: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.placement, Placement):
            object.__setattr__(self, "placement", Placement(self.placement))
        if self.long_axis is not None and self.long_axis not in (0, 1, 2):
            raise ValueError(f"long_axis must be 0, 1, 2 or None, got {self.long_axis!r}")
