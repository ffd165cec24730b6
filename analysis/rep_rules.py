"""The repetition counter's thresholds, and the exercises and placements it can count.

The counter (``analysis.reps``) follows the angle between the sensor's gravity direction
and its direction at rest; the thresholds below are times and angles of that
comparison, with their provenance. :class:`RepRule` holds what depends on the exercise
and the placement, and :data:`SUPPORTED` says which combinations can be counted by
excursions from rest (``docs/reps.md`` has the measured figures).

>>> SUPPORTED[("squat", Placement.THIGH)]
RepRule(min_deg=30.0, per_side=False, steady=False, turns=True)
>>> ("crunch", Placement.THIGH) in SUPPORTED  # the thigh moves too little in a crunch
False
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from analysis.settings import Placement

__all__ = [
    "ANY",
    "BUFFER_S",
    "CENTRE_S",
    "MAX_EXCURSION_S",
    "MIN_REP_S",
    "MIN_SLOW_REP_S",
    "SHAKY_G",
    "SMOOTH_S",
    "STILL_G",
    "STILL_S",
    "SUPPORTED",
    "TURN",
    "TURN_MAX_RANGE",
    "TYPICAL_OF",
    "RepRule",
]

#: The generic counter's exercise id.
ANY = "any"
#: Longest stretch of frames kept, s.
BUFFER_S = 60.0
#: An excursion longer than this is a change of position, not a repetition, s.
MAX_EXCURSION_S = 60.0

#: Gravity direction: mean of the frames of the last 0.3 s.
SMOOTH_S = 0.3
#: Rest: the frames of the last second all within STILL_G of each other.
STILL_S = 1.0
#: Per axis (about 3 degrees: lying sway moves a segment by ~0.013 g, a 1/64-g quantised sensor more).
STILL_G = 0.05
#: Knee roll never still: rest is the orientation of 10 s nearest to their mean.
CENTRE_S = 10.0
#: SD of |a| in a frame: simulated walking ~0.07 g, exercises < 0.01 g; mex_thigh rolling ~0.01 g.
SHAKY_G = 0.04
#: The shortest squat: down and up in 0.6 s (a quick one takes ~1 s).
MIN_REP_S = 0.6
#: The shortest repetition of the lying exercises (programme: "slowly").
MIN_SLOW_REP_S = 1.0
#: The set's depth: median peak of its last 5 counted repetitions.
TYPICAL_OF = 5
#: A squat has turned back once it has fallen by 70% of its rise from where it started: every
#: simulated set back to back falls further (the pelvis of 1-s squats at 60% depth to ~24% of its
#: 21° rise; 80% misses those), a bounce in a hold (15-30% of the depth) does not (bench.reps).
TURN = 0.7
#: Only a squat's depth turns, up to 1.5 times the full range (min_deg is 40% of it): a deep squat
#: tilts the pelvis ~50°, the thigh ~110°. Larger is a change of position (uci_hapt lying: ~90°).
TURN_MAX_RANGE = 1.5 / 0.4


@dataclass(frozen=True, slots=True)
class RepRule:
    """How one exercise is counted at one placement.

    Attributes:
        min_deg: Smallest peak counted before the set's depth is known, degrees.
        per_side: Repetitions alternate left and right.
        steady: The movement is slow and smooth: an excursion shorter than
            ``MIN_SLOW_REP_S`` or with mostly shaky frames (|a| spread over ``SHAKY_G``
            within the frame, as in walking) is no repetition. Not for the squat, whose
            hip drop shakes the frames as much as a step.
        turns: Repetitions may run together without a pause at rest (squats): an
            excursion is also complete once it has turned back, fallen by ``TURN`` of
            its rise, and the next one rises from the low point between them.
    """

    min_deg: float
    per_side: bool = False
    steady: bool = True
    turns: bool = False


# Full ranges (firmware_sim.poses.MOVES and MotionParams, from the cited joint ranges and
# sitless's estimates) times 0.4: squat thigh 75°, pelvis 35°; knee hug thigh 75°, pelvis
# 20°; knee roll thigh ~45° (30° sideways and 35° roll), pelvis 30°; pelvic tilt 10°;
# crunch pelvis 8°. The thigh moves ~5° in a pelvic tilt or a crunch, too little to tell
# from fidgeting: not supported.
_PELVIS = (Placement.LOWER_BACK, Placement.WAIST)
SUPPORTED: Mapping[tuple[str, Placement], RepRule] = MappingProxyType(
    {
        ("squat", Placement.THIGH): RepRule(30.0, steady=False, turns=True),
        **{("squat", p): RepRule(14.0, steady=False, turns=True) for p in _PELVIS},
        ("knee_hug", Placement.THIGH): RepRule(30.0),
        **{("knee_hug", p): RepRule(8.0) for p in _PELVIS},
        ("knee_roll", Placement.THIGH): RepRule(18.0, per_side=True),
        **{("knee_roll", p): RepRule(12.0, per_side=True) for p in _PELVIS},
        **{("pelvic_tilt", p): RepRule(4.0) for p in _PELVIS},
        **{("crunch", p): RepRule(3.2) for p in _PELVIS},
    }
)
