"""The lower-back exercise programme, and the stretch suggested with each alert.

Content restated from ``../shared/programme.md`` (beside the repository), whose source
is the article "Exercises To Help With Lower Back Pain" (Klarity Health Library), citing
Krismer & van Tulder 2007 (Best Pract Res Clin Rheumatol 21(1):77-91) and
Fernández-de-las-Peñas et al. 2011 (Spine 36(3):E213-219). The wording is sitless's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "AEROBIC_ADVICE",
    "DISCLAIMER",
    "PROGRAMME",
    "SAFETY",
    "SEE_A_DOCTOR_IF",
    "SOURCES",
    "STRETCH_ADVICE",
    "WHY",
    "Category",
    "Dose",
    "Exercise",
    "exercise_by_id",
    "suggest_stretch",
]


class Category(StrEnum):
    """Kind of programme exercise."""

    STRETCH = "stretch"
    STRENGTHENING = "strengthening"


@dataclass(frozen=True, slots=True)
class Dose:
    """How much of an exercise to do.

    Attributes:
        hold_s: Range ``(min, max)`` of the hold in s, or ``None`` for no hold.
        reps: Repetitions (per side when ``per_side``), or ``None`` when held only.
        per_side: Whether the dose applies to each side.
    """

    hold_s: tuple[float, float] | None
    reps: int | None
    per_side: bool = False

    def __post_init__(self) -> None:
        if self.hold_s is not None and not (0 < self.hold_s[0] <= self.hold_s[1]):
            raise ValueError(f"hold_s must be (min, max) with 0 < min <= max, got {self.hold_s!r}")
        if self.reps is not None and self.reps <= 0:
            raise ValueError(f"reps must be > 0, got {self.reps!r}")


@dataclass(frozen=True, slots=True)
class Exercise:
    """One programme exercise.

    Attributes:
        id: Stable identifier (the ``--exercise`` value of ``sitless analyze``).
        name: Display name.
        category: Stretch or strengthening.
        position: Starting position.
        movement: What to do.
        dose: How much.
        at_desk: Whether it can be done standing at or next to a desk (no floor needed).
    """

    id: str
    name: str
    category: Category
    position: str
    movement: str
    dose: Dose
    at_desk: bool = False


PROGRAMME: tuple[Exercise, ...] = (
    Exercise(
        "knee_roll",
        "Knee roll",
        Category.STRETCH,
        "Lie on your back with knees bent, pointing up.",
        "Roll both knees to one side, back to the middle, then to the other side.",
        Dose(hold_s=(10.0, 10.0), reps=3, per_side=True),
    ),
    Exercise(
        "knee_hug",
        "Single or double knee hug",
        Category.STRETCH,
        "Lie on your back.",
        "Draw one or both knees towards your chest, hold, then let go slowly.",
        Dose(hold_s=(3.0, 5.0), reps=5),
    ),
    Exercise(
        "back_stabiliser",
        "Back stabiliser (bird dog variant)",
        Category.STRETCH,
        "On all fours, back straight, stomach muscles tight.",
        "Reach one arm straight ahead keeping the pelvis level; to make it harder, lift the "
        "opposite leg too (bird dog).",
        Dose(hold_s=(10.0, 15.0), reps=10, per_side=True),
    ),
    Exercise(
        "pelvic_tilt",
        "Pelvic tilt",
        Category.STRETCH,
        "Lie on your back with knees bent.",
        "Tighten your stomach so your lower back presses flat to the floor, hold, let go slowly.",
        Dose(hold_s=(3.0, 5.0), reps=5),
    ),
    Exercise(
        "deep_stomach",
        "Deep stomach muscle tone",
        Category.STRETCH,
        "On all fours with a small curve in the lower back.",
        "Relax your stomach, then draw it up and lift your back without arching, hold, let go slowly.",
        Dose(hold_s=(10.0, 15.0), reps=10),
    ),
    Exercise(
        "plank",
        "Plank",
        Category.STRENGTHENING,
        "Face down, hips and knees lifted, a straight line from knees to shoulders.",
        "Hold still, then lower slowly; easier with knees on the ground.",
        Dose(hold_s=(10.0, 30.0), reps=None),
    ),
    Exercise(
        "squat",
        "Squat",
        Category.STRENGTHENING,
        "Stand with feet about shoulder width apart.",
        "Brace your stomach, hinge at the hips and bend the knees as if sitting down, then come "
        "back up leading with the legs, then the glutes; harder with weights.",
        Dose(hold_s=None, reps=10),
        at_desk=True,
    ),
    Exercise(
        "crunch",
        "Abdominal crunch",
        Category.STRENGTHENING,
        "Lie on your back, knees bent, feet hip-width apart, hands across your chest.",
        "Tighten your stomach, lift your head and shoulder blades, then lower again.",
        Dose(hold_s=None, reps=12),
    ),
)

#: Why the programme helps: sitting, staying active and what to expect.
WHY = (
    "Long stretches of sitting are linked to lower back pain and stiffness. Staying active helps more than "
    "rest: these exercises strengthen the muscles that support the spine and keep it mobile. Symptoms may "
    "rise a little at first, and it can take up to 12 weeks to feel the benefit; keep going after the pain "
    "settles to help stop it coming back."
)
#: How to do the stretches.
STRETCH_ADVICE = "Build holds up gently towards 30 seconds; never bounce."
#: The aerobic part: low-impact activity suits a sore back better than running or jumping.
AEROBIC_ADVICE = (
    "While your back is sore, choose low-impact activity: Walking, swimming, yoga, stationary (spinning) bike. "
    "Leave high-impact activity (running, jumping sports such as basketball, and step aerobics) until the pain "
    "has eased a lot."
)
#: Where the programme comes from, cited with it.
SOURCES = (
    "Krismer & van Tulder 2007, Best Pract Res Clin Rheumatol 21(1):77-91; "
    "Fernández-de-las-Peñas et al. 2011, Spine 36(3):E213-219; restated from the Klarity Health Library "
    'article "Exercises To Help With Lower Back Pain".'
)
#: Shown with the programme: these exercises are information, not medical advice.
DISCLAIMER = (
    "sitless gives general information about staying active; it is not medical advice and does not "
    "replace a doctor or physiotherapist."
)
#: How to exercise safely.
SAFETY: tuple[str, ...] = (
    "Warm up first: a short stretch and 5-10 minutes of light activity such as walking.",
    "Hold stretches gently and build up towards 30 seconds; never bounce.",
    "Keep good form; if it slips, do fewer repetitions or use less weight.",
    "Stop and ask a doctor or physiotherapist if an exercise causes real discomfort, and before "
    "starting if you are unsure about your fitness.",
)
#: Warning signs that call for a doctor rather than exercise.
SEE_A_DOCTOR_IF: tuple[str, ...] = (
    "the pain has not gone after a few weeks of looking after it at home",
    "the pain is constant",
    "the pain keeps you from sleeping",
    "the pain spreads into a leg",
    "the pain started after an injury, such as a car accident or a fall",
    "you feel numbness or tingling",
)

_BY_ID = {exercise.id: exercise for exercise in PROGRAMME}
# Alerts suggest what can be done right next to the desk, without lying down: the squat
# (the programme's standing exercise) and the knee hug, whose single-knee form can be
# done standing with one hand on the desk (sitless's adaptation of the lying version).
_ALERT_ROTATION: tuple[str, ...] = ("squat", "knee_hug")


def exercise_by_id(exercise_id: str) -> Exercise:
    """Return the programme exercise with this id.

    Args:
        exercise_id: An id of ``PROGRAMME``.

    Returns:
        The exercise.

    Raises:
        KeyError: The id is not in the programme (the message lists the known ids).
    """
    try:
        return _BY_ID[exercise_id]
    except KeyError:
        raise KeyError(f"unknown exercise id {exercise_id!r}; known ids: {', '.join(_BY_ID)}") from None


def suggest_stretch(repeat: int, sitting_since_s: float) -> Exercise:
    """Choose the exercise an alert suggests, deterministically.

    Alerts alternate between the squat and the standing single-knee hug so that a long
    day does not repeat one movement; both are done standing, so doing them also starts
    the break. The hour of the bout start shifts the rotation, so successive bouts of a
    day do not all open with the same exercise.

    Args:
        repeat: 0 for the first alert of a bout, 1, 2, ... for reminders.
        sitting_since_s: Start time of the sitting bout in s.

    Returns:
        The suggested exercise.

    Raises:
        ValueError: ``repeat`` is negative.

    >>> [suggest_stretch(r, 0.0).id for r in range(3)]
    ['squat', 'knee_hug', 'squat']
    """
    if repeat < 0:
        raise ValueError(f"repeat must be >= 0, got {repeat}")
    index = (repeat + int(sitting_since_s // 3600.0)) % len(_ALERT_ROTATION)
    return _BY_ID[_ALERT_ROTATION[index]]
