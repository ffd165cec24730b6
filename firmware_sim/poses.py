"""The programme exercises' starting positions and segment movements, for :mod:`firmware_sim.exercises`.

Every segment group (thigh, pelvis, thorax, forearm) has a starting orientation per
position and a change at full range per exercise, ``(pitch, lateral, roll)`` degrees
with the conventions of :mod:`firmware_sim.params`; where no measurement is cited the
value is sitless's own estimate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from types import MappingProxyType

from analysis.settings import Placement, Posture
from firmware_sim.params import MotionParams
from firmware_sim.scenarios import Activity

__all__ = [
    "ARM_ONLY_THIGH",
    "GROUP_OF",
    "MOVES",
    "REST_ACTIVITY",
    "SPECS",
    "UPRIGHT",
    "Angles",
    "ExerciseId",
    "Group",
    "Move",
    "Side",
    "Spec",
    "StartPosition",
]


class ExerciseId(StrEnum):
    """The simulated programme exercises (ids of :mod:`analysis.programme`)."""

    KNEE_ROLL = "knee_roll"
    KNEE_HUG = "knee_hug"
    BACK_STABILISER = "back_stabiliser"
    PELVIC_TILT = "pelvic_tilt"
    DEEP_STOMACH = "deep_stomach"
    PLANK = "plank"
    SQUAT = "squat"
    CRUNCH = "crunch"
    #: The aerobic walk: the simulator's walking, without repetitions.
    WALK = "walk"


class StartPosition(StrEnum):
    """Where an exercise starts and each repetition returns to."""

    HOOK_LYING = "hook_lying"  # on the back, knees bent, feet flat
    ALL_FOURS = "all_fours"  # hands under the shoulders, knees under the hips
    PRONE = "prone"  # face down on the forearms, before a plank
    STANDING = "standing"


class Side(StrEnum):
    """The side a repetition of a per-side exercise is done on."""

    LEFT = "left"
    RIGHT = "right"


class Group(Enum):
    """The body segment a placement's sensor moves with."""

    THIGH = "thigh"
    PELVIS = "pelvis"
    THORAX = "thorax"
    FOREARM = "forearm"


GROUP_OF = MappingProxyType(
    {
        Placement.THIGH: Group.THIGH,
        Placement.WAIST: Group.PELVIS,
        Placement.LOWER_BACK: Group.PELVIS,
        Placement.CHEST: Group.THORAX,
        Placement.UPPER_BACK: Group.THORAX,
        Placement.WRIST: Group.FOREARM,
    }
)

Angles = tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class Move:
    """One segment in one exercise: ``(pitch, lateral, roll)`` in degrees.

    ``full`` is the change at full range (on the left side for a per-side exercise);
    ``right`` the change on the right side, or None for the mirror image of ``full``.
    """

    start: Angles
    full: Angles
    right: Angles | None = None

    def towards(self, side: float) -> Angles:
        """The change at full range on a side (``side`` <= 0: left, else right)."""
        if side <= 0:
            return self.full
        if self.right is not None:
            return self.right
        return (self.full[0], -self.full[1], -self.full[2])


_STILL = (0.0, 0.0, 0.0)
# Starting positions, per segment. Lying on the back with the knees bent, the thigh rises
# at half the knee flexion (``MotionParams.hook_knee_flex_deg``: 90° gives -135°). On all
# fours the trunk faces down (+90°) with the shoulders a little above the hips (arms longer
# than thighs), thigh and forearm vertical. Before a plank the wearer lies face down,
# forearms crossed under the forehead; in the plank the body is a straight line rising
# ~12° from the feet to the shoulders (elbows under the shoulders, ~0.3 m up over ~1.5 m).
_HOOK = MappingProxyType(
    {
        Group.THIGH: (-135.0, 0.0, 0.0),
        Group.PELVIS: (-90.0, 0.0, 0.0),
        Group.THORAX: (-90.0, 0.0, 0.0),
        Group.FOREARM: (-90.0, 0.0, 0.0),
    }
)
_FOURS = MappingProxyType(
    {
        Group.THIGH: (0.0, 0.0, 0.0),
        Group.PELVIS: (88.0, 0.0, 0.0),
        Group.THORAX: (80.0, 0.0, 0.0),
        Group.FOREARM: (0.0, 0.0, 0.0),
    }
)
_PRONE = MappingProxyType(dict.fromkeys(Group, (90.0, 0.0, 0.0)))
UPRIGHT = MappingProxyType(dict.fromkeys(Group, _STILL))


def _moves(start: Mapping[Group, Angles], full: Mapping[Group, Angles]) -> Mapping[Group, Move]:
    return MappingProxyType({group: Move(start[group], full[group]) for group in Group})


# The change of every segment at full range, (pitch, lateral, roll) degrees. Where no
# measurement is cited the value is sitless's own estimate, sized so that the segment's
# share of the movement is plausible; every segment moves at least ~5°, as a worn sensor
# rarely stays still while the body around it works.
MOVES: Mapping[ExerciseId, Mapping[Group, Move]] = MappingProxyType(
    {
        # Knees dropped ~45° to the side (an estimate: the usual range of this lumbar
        # rotation stretch); the pelvis turns ~30° with them since lumbar axial rotation
        # is only ~10° in all (White & Panjabi 1990, Clinical Biomechanics of the Spine,
        # 2nd ed., Table 2-7), the thorax a little; the arms, out on the floor, roll ~8°
        # as the opposite shoulder lifts (sitless's own estimate).
        ExerciseId.KNEE_ROLL: _moves(
            _HOOK,
            {
                Group.THIGH: (0.0, 30.0, -35.0),
                Group.PELVIS: (0.0, 0.0, -30.0),
                Group.THORAX: (0.0, 0.0, -6.0),
                Group.FOREARM: (0.0, 0.0, -8.0),
            },
        ),
        # Double knee hug: hip flexion from ~45° in hook lying to ~120°, the normal range
        # of hip flexion (AAOS, Greene & Heckman 1994, The Clinical Measurement of Joint
        # Motion); the pelvis tilts back ~20° as the lumbar spine flexes, the forearms
        # reach round the shins (sitless's own estimates).
        ExerciseId.KNEE_HUG: _moves(
            _HOOK,
            {
                Group.THIGH: (-75.0, 0.0, 0.0),
                Group.PELVIS: (-20.0, 0.0, 0.0),
                Group.THORAX: (5.0, 0.0, 0.0),
                Group.FOREARM: (-50.0, 0.0, 0.0),
            },
        ),
        # Pelvic tilt: the pelvis tilts back ~10° to flatten the lumbar lordosis (a few
        # degrees; sitless's own estimate), the hips rise a little so the thigh follows by ~5°, and the
        # hands, resting on the hip bones to feel the tilt, by ~6° (sitless's own estimates).
        ExerciseId.PELVIC_TILT: _moves(
            _HOOK,
            {
                Group.THIGH: (5.0, 0.0, 0.0),
                Group.PELVIS: (-10.0, 0.0, 0.0),
                Group.THORAX: (2.0, 0.0, 0.0),
                Group.FOREARM: (-6.0, 0.0, 0.0),
            },
        ),
        # Crunch: head and shoulder blades off the floor, the thorax ~30° up (the partial
        # curl-up; sitless's own estimate), the pelvis tilting back ~8° and the knees following by ~5°;
        # the forearms, across the chest along its left-right axis, roll with the thorax.
        ExerciseId.CRUNCH: _moves(
            _HOOK,
            {
                Group.THIGH: (5.0, 0.0, 0.0),
                Group.PELVIS: (-8.0, 0.0, 0.0),
                Group.THORAX: (30.0, 0.0, 0.0),
                Group.FOREARM: (0.0, 0.0, 30.0),
            },
        ),
        # Deep stomach tone: the back lifts without arching, a small lumbar flexion: the
        # pelvis tilts back ~10°, the thorax forward ~8°, thigh and forearm shift ~5°
        # (sitless's own estimates).
        ExerciseId.DEEP_STOMACH: _moves(
            _FOURS,
            {
                Group.THIGH: (-5.0, 0.0, 0.0),
                Group.PELVIS: (-10.0, 0.0, 0.0),
                Group.THORAX: (8.0, 0.0, 0.0),
                Group.FOREARM: (5.0, 0.0, 0.0),
            },
        ),
        # Plank: from lying face down the body rises ~12° (see the starting positions)
        # and the forearms turn from palms down under the forehead to thumbs-up fists
        # (~60° of roll; sitless's own estimate).
        ExerciseId.PLANK: _moves(
            _PRONE,
            {
                Group.THIGH: (-12.0, 0.0, 0.0),
                Group.PELVIS: (-12.0, 0.0, 0.0),
                Group.THORAX: (-12.0, 0.0, 0.0),
                Group.FOREARM: (0.0, 0.0, 60.0),
            },
        ),
        # Back stabiliser (bird dog), on the left side: the left arm rises straight ahead
        # (shoulder flexion 90° more, to 180°: AAOS normal range) and the right leg
        # extends behind (hip from 90° flexion to 0°, the thigh horizontal); the pelvis
        # and thorax roll ~6° and ~5° despite the cue to keep level (sitless's own estimates). On the
        # right side the sensor's arm and leg are the supports: they shift ~6° (sitless's own estimate).
        ExerciseId.BACK_STABILISER: MappingProxyType(
            {
                Group.THIGH: Move(_FOURS[Group.THIGH], (90.0, 0.0, 0.0), (0.0, 6.0, 0.0)),
                Group.PELVIS: Move(_FOURS[Group.PELVIS], (0.0, 0.0, -6.0)),
                Group.THORAX: Move(_FOURS[Group.THORAX], (0.0, 0.0, -5.0)),
                Group.FOREARM: Move(_FOURS[Group.FOREARM], (-90.0, 0.0, 0.0), (0.0, -6.0, 0.0)),
            }
        ),
    }
)

#: Arm-only back stabiliser (the easier form): the sensor's thigh only shifts its weight.
ARM_ONLY_THIGH = Move(_FOURS[Group.THIGH], (0.0, -6.0, 0.0), (0.0, 6.0, 0.0))


@dataclass(frozen=True, slots=True)
class Spec:
    """An exercise's starting position, the posture its time counts as, and its tempo."""

    position: StartPosition
    posture: Posture
    tempo_s: float  # moving in and out again, one repetition, seconds


# Posture of exercise time (as ``Activity.SQUAT``: ``other`` where the analysis has no
# posture for it): on the back or face down is lying, on all fours and squatting is other.
# Tempos are sitless's own estimates of an unhurried pace ("release slowly"); the squat's
# is ``MotionParams.squat_rep_s`` (programme.md, ~2 s a repetition).
SPECS: Mapping[ExerciseId, Spec] = MappingProxyType(
    {
        ExerciseId.KNEE_ROLL: Spec(StartPosition.HOOK_LYING, Posture.LYING, 5.0),
        ExerciseId.KNEE_HUG: Spec(StartPosition.HOOK_LYING, Posture.LYING, 4.0),
        ExerciseId.BACK_STABILISER: Spec(StartPosition.ALL_FOURS, Posture.OTHER, 3.0),
        ExerciseId.PELVIC_TILT: Spec(StartPosition.HOOK_LYING, Posture.LYING, 3.0),
        ExerciseId.DEEP_STOMACH: Spec(StartPosition.ALL_FOURS, Posture.OTHER, 3.0),
        ExerciseId.PLANK: Spec(StartPosition.PRONE, Posture.LYING, 4.0),
        ExerciseId.SQUAT: Spec(StartPosition.STANDING, Posture.OTHER, MotionParams().squat_rep_s),
        ExerciseId.CRUNCH: Spec(StartPosition.HOOK_LYING, Posture.LYING, 2.5),
        ExerciseId.WALK: Spec(StartPosition.STANDING, Posture.WALKING, 1.0),
    }
)

#: Where the wearer rests between exercises (:func:`guided_session`): on the back with
#: the knees bent after floor work, face down after a plank, standing otherwise.
REST_ACTIVITY = MappingProxyType(
    {
        StartPosition.HOOK_LYING: Activity.HOOK_LYING,
        StartPosition.ALL_FOURS: Activity.HOOK_LYING,
        StartPosition.PRONE: Activity.PRONE,
        StartPosition.STANDING: Activity.STANDING,
    }
)
