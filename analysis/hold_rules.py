"""The hold timer's thresholds, and the exercises and placements whose holds it can time.

The timer (``analysis.holds``) compares each frame's gravity direction with the
segment's direction at rest; every threshold below is an angle or a time of that
comparison, with its provenance. :class:`HoldRule` holds the three that depend on the
exercise and the placement, derived from the segment's full range.

**Supported combinations** (:data:`RULES`; the full range of each segment is
``firmware_sim.poses.MOVES``, sitless's estimates with the sources cited there):
``knee_roll`` at thigh and lower back, ``knee_hug`` at thigh, lower back and wrist,
``back_stabiliser`` at thigh (bird dog form: the sensor's leg lifts) and wrist (the
sensor's arm lifts), ``pelvic_tilt`` and ``deep_stomach`` at the lower back (or waist),
``plank`` at thigh, lower back (or waist) and wrist. A segment that moves under
:data:`MIN_RANGE_DEG` cannot be told from a resting body (the pelvis in the back
stabiliser, whose cue is to keep it level; the thigh and wrist in the pelvic tilt and
deep stomach exercises): those combinations raise ``ValueError``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from analysis.settings import Placement

__all__ = [
    "BROKEN_GRACE_S",
    "BUFFER_S",
    "EDGE_FLOOR_DEG",
    "EDGE_FRAC",
    "EDGE_SPREAD",
    "EXTRA_DEG",
    "LAG_S",
    "LEAVE_FLOOR_DEG",
    "LEAVE_FRAC",
    "LONG_S",
    "MAX_HOLD_S",
    "MIN_HOLD_S",
    "MIN_RANGE_DEG",
    "PENDING_S",
    "REF_S",
    "RULES",
    "SEARCH_S",
    "SETTLE_S",
    "SHORT_S",
    "STEADY_FRAC",
    "STILL_DEG",
    "HoldRule",
]

#: Window of the short mean direction that times the hold's ends, s.
SHORT_S = 0.3
#: Window of the mean direction that judges steadiness and gives the held direction, s.
LONG_S = 0.5
#: Steadiness compares the long mean with itself this long before, s.
LAG_S = 0.3
#: Still time at rest that (re)makes the resting direction, s (the simulator's sets
#: start with 3 s still, ``firmware_sim.exercises.ExerciseSet.settle_s``).
REF_S = 1.5
#: Most the long mean may turn over ``LAG_S`` in a still frame, deg: well above the
#: sway of a lying body (0.75° at under 0.4 Hz, ``MotionParams.lying_sway_deg``: at most
#: ~0.6° in 0.3 s), well below a movement into a hold (the slowest, the pelvic tilt's
#: 10° in ~1.5 s, turns ~2° in 0.3 s even near its end).
STILL_DEG = 1.0
#: Steadiness allows this fraction of the depth too: what a 1.5-Hz bounce of 15% of the
#: depth leaves in a 0.5-s mean (~5% peak to peak), with a margin.
STEADY_FRAC = 0.1
#: Frames steady in a row before a hold starts, s.
SETTLE_S = 0.2
#: Shortest hold, s: a segment stays near the top of a smooth repetition without a hold
#: for up to ~1 s (a 4-s knee hug without a hold), so shorter stays are the turn of a repetition.
MIN_HOLD_S = 1.5
#: Least edge tolerance, deg: twice the sway of a still lying body; real holds creep by
#: about as much (``mex_thigh`` bridging, ``python -m bench.holds``).
EDGE_FLOOR_DEG = 1.5
#: Edge tolerance as a fraction of the hold's depth.
EDGE_FRAC = 0.03
#: Edge tolerance as a multiple of how far the short means of the last half-second
#: stray from the long ones (a bounce makes them wobble).
EDGE_SPREAD = 2.0
#: Least departure from the held direction that ends a hold, deg.
LEAVE_FLOOR_DEG = 3.0
#: Departure from the held direction that ends a hold, fraction of the depth (twice the
#: excursion of a 15% bounce).
LEAVE_FRAC = 0.3
#: A hold is broken when it is shorter than the target by more than this, s: measured
#: holds run long by ~0.7 s (both ends land outside: Timing, ``analysis.holds``), so one of the target's
#: length seldom reads this much short (``docs/holds.md``).
BROKEN_GRACE_S = 0.5
#: Least hold that closes a position as the new rest, s (or 4 x the dose's longest).
MAX_HOLD_S = 120.0
#: A steady position this far beyond the full range is a change of position, deg.
EXTRA_DEG = 30.0
#: Smallest full range that can be timed, deg: under it a hold cannot be told from the
#: still sway and posture shifts of a resting body.
MIN_RANGE_DEG = 10.0
#: Frames kept for looking back, s.
BUFFER_S = 4.0
#: How far back a hold's start or end is looked for, s.
SEARCH_S = 3.0

#: Longest wait, after a hold is left, for a return to rest or a settling elsewhere, s.
PENDING_S = 10.0


@dataclass(frozen=True, slots=True)
class HoldRule:
    """The thresholds of one exercise at one placement.

    Attributes:
        full_deg: Angle the segment turns at full range, deg (> 0).
        enter_deg: Least departure from rest of a hold, deg (half the full range: a
            partial repetition done to 40% of it does not count).
        max_deg: Departure beyond which a steady position is a change of position, deg.

    Raises:
        ValueError: ``full_deg`` not finite and > 0.

    >>> HoldRule(20.0)
    HoldRule(full_deg=20.0, enter_deg=10.0, max_deg=50.0)
    """

    full_deg: float
    enter_deg: float = math.nan
    max_deg: float = math.nan

    def __post_init__(self) -> None:
        if not (math.isfinite(self.full_deg) and self.full_deg > 0):
            raise ValueError(f"full_deg must be > 0, got {self.full_deg}")
        if math.isnan(self.enter_deg):
            object.__setattr__(self, "enter_deg", 0.5 * self.full_deg)
        if math.isnan(self.max_deg):
            object.__setattr__(self, "max_deg", self.full_deg + EXTRA_DEG)
        if not 0 < self.enter_deg < self.max_deg:
            raise ValueError(f"need 0 < enter_deg < max_deg, got {self.enter_deg} and {self.max_deg}")


def _rules() -> Mapping[tuple[str, Placement], HoldRule]:
    # Full range per segment: the angle between the start and full-range gravity
    # directions of firmware_sim.poses.MOVES (sitless's estimates; sources there). The
    # back stabiliser's thigh and wrist: the side on which their own limb lifts (90°);
    # on the other side they shift ~6° as supports.
    full = {
        ("knee_roll", Placement.THIGH): 54.0,
        ("knee_roll", Placement.LOWER_BACK): 30.0,
        ("knee_roll", Placement.WRIST): 8.0,
        ("knee_hug", Placement.THIGH): 75.0,
        ("knee_hug", Placement.LOWER_BACK): 20.0,
        ("knee_hug", Placement.WRIST): 50.0,
        ("back_stabiliser", Placement.THIGH): 90.0,
        ("back_stabiliser", Placement.LOWER_BACK): 6.0,
        ("back_stabiliser", Placement.WRIST): 90.0,
        ("pelvic_tilt", Placement.THIGH): 5.0,
        ("pelvic_tilt", Placement.LOWER_BACK): 10.0,
        ("pelvic_tilt", Placement.WRIST): 6.0,
        ("deep_stomach", Placement.THIGH): 5.0,
        ("deep_stomach", Placement.LOWER_BACK): 10.0,
        ("deep_stomach", Placement.WRIST): 5.0,
        ("plank", Placement.THIGH): 12.0,
        ("plank", Placement.LOWER_BACK): 12.0,
        ("plank", Placement.WRIST): 60.0,
    }
    rules = {key: HoldRule(deg) for key, deg in full.items() if deg >= MIN_RANGE_DEG}
    # A waist sensor sits on the pelvis as a lower-back one does.
    rules |= {(ex, Placement.WAIST): rule for (ex, pl), rule in list(rules.items()) if pl is Placement.LOWER_BACK}
    return MappingProxyType(rules)


#: The supported ``(exercise, placement)`` combinations and their thresholds.
RULES: Mapping[tuple[str, Placement], HoldRule] = _rules()
