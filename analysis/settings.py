"""Closed sets and settings of the analysis: placements, postures, user actions, and ``AnalysisSettings``.

``AnalysisSettings`` gathers everything the analysis of one wearer needs: the placement,
the alert and slouch policies (``analysis.policy``) and the signal-processing knobs
(``analysis.tuning``). Those are importable from here as well.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from analysis.policy import WEEKDAYS, AlertPolicy, SlouchPolicy
from analysis.tuning import InBedSettings, PostureTuning, ThighTuning

__all__ = [
    "THORAX",
    "WEEKDAYS",
    "AlertPolicy",
    "AnalysisSettings",
    "InBedSettings",
    "Placement",
    "Posture",
    "PostureTuning",
    "SlouchPolicy",
    "ThighTuning",
    "UserAction",
]


class Placement(StrEnum):
    """Where the sensor is worn (the ``--placement`` values of ``sitless analyze``)."""

    THIGH = "thigh"
    WAIST = "waist"
    LOWER_BACK = "lower_back"
    CHEST = "chest"
    UPPER_BACK = "upper_back"
    WRIST = "wrist"


#: Placements on the thorax (chest, upper back): the ones that measure slouch.
THORAX: frozenset[Placement] = frozenset({Placement.CHEST, Placement.UPPER_BACK})


class Posture(StrEnum):
    """The postures reported for every stretch of a recording.

    ``nonwear`` is a sensor that is not on the body (left on the desk): it is never
    sitting and never raises an alert.
    """

    SITTING = "sitting"
    STANDING = "standing"
    LYING = "lying"
    WALKING = "walking"
    OTHER = "other"
    NONWEAR = "nonwear"


#: Integer codes of the postures in per-frame arrays (index into this tuple).
POSTURE_CODES: tuple[Posture, ...] = tuple(Posture)
#: Postures that count towards a break from sitting (DESIGN.md: "standing or walking").
UPRIGHT: frozenset[Posture] = frozenset({Posture.STANDING, Posture.WALKING})


class UserAction(StrEnum):
    """What the wearer can do: answer an alert, calibrate the upright, or do an exercise.

    ``DONE``, ``SNOOZE``, ``MEETING`` and ``DISMISS`` answer an open sit-too-long alert:
    the break was taken; ask again after ``AlertPolicy.snooze_s``; no alerts for
    ``AlertPolicy.meeting_s``; or the reminder is put away without a break or a snooze
    (the next one follows ``AlertPolicy.repeat_s`` later, as after ``DONE``).
    ``CALIBRATE`` means the wearer now stands still and upright for
    ``PostureTuning.calibration_s``; that posture becomes the upright reference.
    ``EXERCISE_START`` (with the exercise's id) begins a guided exercise, whose
    repetitions and holds are followed until ``EXERCISE_END`` or the next start.
    """

    DONE = "done"
    SNOOZE = "snooze"
    MEETING = "meeting"
    MEETING_END = "meeting_end"
    CALIBRATE = "calibrate"
    EXERCISE_START = "exercise_start"
    EXERCISE_END = "exercise_end"
    DISMISS = "dismiss"


@dataclass(frozen=True, slots=True)
class AnalysisSettings:
    """Everything the analysis of one wearer needs.

    Attributes:
        placement: Where the sensor is worn.
        policy: The sit-too-long alert policy.
        tuning: Posture classifier knobs (defaults measured on real recordings).
        slouch: Slouch time and nudges (chest and upper back only).
        thigh: Lying from a thigh sensor (``analysis.thigh``).
        in_bed: The in-bed window of batch results (``analysis.inbed``).
        long_axis: Device axis (0=x, 1=y, 2=z) that lies along the body's long axis
            when the sensor is worn as intended; used, sign-agnostic, as the upright
            reference until one is learned from the wearer's own walking. ``None``
            takes the placement's default (see ``analysis.posture.default_long_axis``).
    """

    placement: Placement
    policy: AlertPolicy = field(default_factory=AlertPolicy)
    tuning: PostureTuning = field(default_factory=PostureTuning)
    slouch: SlouchPolicy = field(default_factory=SlouchPolicy)
    thigh: ThighTuning = field(default_factory=ThighTuning)
    in_bed: InBedSettings = field(default_factory=InBedSettings)
    long_axis: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.placement, Placement):
            object.__setattr__(self, "placement", Placement(self.placement))
        if self.long_axis is not None and self.long_axis not in (0, 1, 2):
            raise ValueError(f"long_axis must be 0, 1, 2 or None, got {self.long_axis!r}")
