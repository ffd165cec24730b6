"""The lower-back exercise programme, and the stretch suggested with each alert.

Content restated from ``../shared/programme.md`` (beside the repository), whose source
is the article "Exercises To Help With Lower Back Pain" (Klarity Health Library), citing
Krismer & van Tulder 2007 (Best Pract Res Clin Rheumatol 21(1):77-91) and
Fernández-de-las-Peñas et al. 2011 (Spine 36(3):E213-219). The wording is sitless's own.

``PROGRAMME`` holds the stretches and strengthening exercises (the floor and desk
exercises, each shown as a card); ``AEROBIC`` the low-impact aerobic activities;
``EXERCISES`` both, and every id of either is known to ``exercise_by_id``.
programme.md sets no duration for the aerobic activities: sitless starts each at
10-30 minutes a day, a starting point the user changes in the plan (``analysis.plan``).

>>> exercise_by_id("knee_roll").dose.sides
2
>>> [e.id for e in exercises_in(Category.AEROBIC)]
['walk', 'swim', 'yoga', 'stationary_bike']
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "AEROBIC",
    "AEROBIC_ADVICE",
    "DISCLAIMER",
    "EXERCISES",
    "MAX_DURATION_S",
    "MAX_HOLD_S",
    "MAX_REPS",
    "MAX_SETS",
    "PROGRAMME",
    "RED_FLAGS_TEXT",
    "SAFETY",
    "SEE_A_DOCTOR_IF",
    "SOURCES",
    "STRETCH_ADVICE",
    "WHY",
    "Category",
    "Dose",
    "Exercise",
    "exercise_by_id",
    "exercises_in",
    "suggest_stretch",
]

# Sanity limits of a dose: far above anything the programme asks for, they only keep a
# mistyped or corrupt plan (user-edited, stored by the dashboard) from holding absurd values.
#: Most repetitions (per side and set) a dose may ask for.
MAX_REPS = 1000
#: Most sets a dose may ask for.
MAX_SETS = 50
#: Longest hold a dose may ask for, s (10 minutes).
MAX_HOLD_S = 600.0
#: Longest duration of a timed activity a dose may ask for, s (a day).
MAX_DURATION_S = 86400.0


class Category(StrEnum):
    """Kind of programme exercise."""

    STRETCH = "stretch"
    STRENGTHENING = "strengthening"
    AEROBIC = "aerobic"


def _check_range(name: str, value: object, limit: float) -> tuple[float, float] | None:
    """Return ``value`` as a ``(min, max)`` float pair within ``(0, limit]``, or None."""
    if value is None:
        return None
    if not (isinstance(value, tuple) and len(value) == 2):
        raise ValueError(f"{name} must be a (min, max) pair of seconds or None, got {value!r}")
    low, high = value
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value)
    if not (numbers and 0 < low <= high <= limit):
        raise ValueError(f"{name} must be (min, max) with 0 < min <= max <= {limit:g} s, got {value!r}")
    return float(low), float(high)


def _check_count(name: str, value: object, limit: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= limit:
        raise ValueError(f"{name} must be a whole number from 1 to {limit}, got {value!r}")


@dataclass(frozen=True, slots=True)
class Dose:
    """How much of an exercise to do.

    A dose may prescribe repetitions, holds, a duration, or any mix; one that prescribes
    none of them reads "as comfortable".

    Attributes:
        hold_s: Range ``(min, max)`` of each hold in s, or ``None`` for no hold.
        reps: Repetitions (per side when ``per_side``) in each set, or ``None`` when held
            only or timed.
        per_side: Whether the dose applies to each side (left and right).
        sets: How many times the whole dose is done (1 unless the plan says more).
        duration_s: Range ``(min, max)`` of a timed activity in s (a walk), or ``None``.

    Raises:
        ValueError: A field is of the wrong type, or outside its range (``MAX_REPS``,
            ``MAX_SETS``, ``MAX_HOLD_S``, ``MAX_DURATION_S``); the message names it.

    >>> Dose(hold_s=(10, 15), reps=10, per_side=True).hold_s
    (10.0, 15.0)
    """

    hold_s: tuple[float, float] | None = None
    reps: int | None = None
    per_side: bool = False
    sets: int = 1
    duration_s: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "hold_s", _check_range("hold_s", self.hold_s, MAX_HOLD_S))
        object.__setattr__(self, "duration_s", _check_range("duration_s", self.duration_s, MAX_DURATION_S))
        if self.reps is not None:
            _check_count("reps", self.reps, MAX_REPS)
        _check_count("sets", self.sets, MAX_SETS)
        if not isinstance(self.per_side, bool):
            raise ValueError(f"per_side must be True or False, got {self.per_side!r}")

    @property
    def sides(self) -> int:
        """How many sides the dose is done on: 2 when ``per_side``, else 1."""
        return 2 if self.per_side else 1


_ID = re.compile(r"[a-z][a-z0-9_]{0,39}")


@dataclass(frozen=True, slots=True)
class Exercise:
    """One programme exercise.

    Attributes:
        id: Stable identifier (the ``--exercise`` value of ``sitless analyze``).
        name: Display name.
        category: Stretch, strengthening or aerobic.
        position: Starting position.
        movement: What to do (the instructions).
        dose: How much.
        desk: How to do it standing at or next to the desk, as a break from sitting, with
            its amount (``""``: it needs the floor, a pool or more time than a break).
        cautions: What to watch for while doing it, in the order to show.

    Raises:
        ValueError: A field is empty or of the wrong type; the message names it.
    """

    id: str
    name: str
    category: Category
    position: str
    movement: str
    dose: Dose
    desk: str = ""
    cautions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not (isinstance(self.id, str) and _ID.fullmatch(self.id)):
            raise ValueError(f"id must be lower-case letters, digits and '_' (at most 40), got {self.id!r}")
        for name in ("name", "position", "movement"):
            value = getattr(self, name)
            if not (isinstance(value, str) and value.strip()):
                raise ValueError(f"{name} of {self.id!r} must be non-empty text, got {value!r}")
        if self.category not in tuple(Category):
            raise ValueError(f"category of {self.id!r} must be one of {', '.join(Category)}, got {self.category!r}")
        object.__setattr__(self, "category", Category(self.category))
        if not isinstance(self.desk, str):
            raise ValueError(f"desk of {self.id!r} must be text, got {self.desk!r}")
        if not isinstance(self.dose, Dose):
            raise ValueError(f"dose of {self.id!r} must be a Dose, got {self.dose!r}")
        if not (isinstance(self.cautions, tuple) and all(isinstance(c, str) and c.strip() for c in self.cautions)):
            raise ValueError(f"cautions of {self.id!r} must be a tuple of non-empty texts, got {self.cautions!r}")

    @property
    def at_desk(self) -> bool:
        """Whether it can be done as a break at the desk (no floor needed)."""
        return bool(self.desk)


# Cautions every exercise of a category carries, restated from programme.md.
_STRETCH_CAUTIONS = (
    "Move into the stretch slowly and never bounce.",
    "Build each hold up gradually towards 30 seconds.",
)
_STRENGTH_CAUTIONS = ("Keep good form; if it slips, do fewer repetitions or use less weight.",)
_AEROBIC_CAUTIONS = (
    "While your back is sore, keep to low-impact activity: leave running, jumping sports and step "
    "aerobics until the pain has eased a lot.",
)
# programme.md gives no duration for the aerobic part: a starting point the plan edits.
_AEROBIC_DOSE = Dose(duration_s=(600.0, 1800.0))

PROGRAMME: tuple[Exercise, ...] = (
    Exercise(
        "knee_roll",
        "Knee roll",
        Category.STRETCH,
        "Lie on your back with knees bent, pointing up.",
        "Roll both knees to one side, back to the middle, then to the other side.",
        Dose(hold_s=(10.0, 10.0), reps=3, per_side=True),
        cautions=_STRETCH_CAUTIONS,
    ),
    Exercise(
        "knee_hug",
        "Single or double knee hug",
        Category.STRETCH,
        "Lie on your back.",
        "Draw one or both knees towards your chest, hold, then let go slowly.",
        Dose(hold_s=(3.0, 5.0), reps=5),
        desk="Stand next to your desk with one hand on it. Lift one knee and draw it towards your "
        "chest with the other hand, hold 3-5 s, then lower it slowly; 5 times each leg.",
        cautions=(*_STRETCH_CAUTIONS, "Let the knees go slowly at the end of each hold."),
    ),
    Exercise(
        "back_stabiliser",
        "Back stabiliser (bird dog variant)",
        Category.STRETCH,
        "On all fours, back straight, stomach muscles tight.",
        "Reach one arm straight ahead keeping the pelvis level; to make it harder, lift the "
        "opposite leg too (bird dog).",
        Dose(hold_s=(10.0, 15.0), reps=10, per_side=True),
        cautions=(
            *_STRETCH_CAUTIONS,
            "Keep your back straight and your pelvis level while the arm is up.",
            "Add the opposite leg (the harder bird dog) only once the arm alone feels easy.",
        ),
    ),
    Exercise(
        "pelvic_tilt",
        "Pelvic tilt",
        Category.STRETCH,
        "Lie on your back with knees bent.",
        "Tighten your stomach so your lower back presses flat to the floor, hold, let go slowly.",
        Dose(hold_s=(3.0, 5.0), reps=5),
        cautions=(*_STRETCH_CAUTIONS, "Let go of each tilt slowly."),
    ),
    Exercise(
        "deep_stomach",
        "Deep stomach muscle tone",
        Category.STRETCH,
        "On all fours with a small curve in the lower back.",
        "Relax your stomach, then draw it up and lift your back without arching, hold, let go slowly.",
        Dose(hold_s=(10.0, 15.0), reps=10),
        cautions=(*_STRETCH_CAUTIONS, "Lift your back without arching it, and let go slowly."),
    ),
    Exercise(
        "plank",
        "Plank",
        Category.STRENGTHENING,
        "Face down, hips and knees lifted, a straight line from knees to shoulders.",
        "Hold still, then lower slowly; easier with knees on the ground.",
        Dose(hold_s=(10.0, 30.0), reps=None),
        cautions=(
            "Hold for 10 to 30 seconds, as your fitness allows.",
            "Keep the straight line from knees to shoulders; if you cannot, make it easier with your "
            "knees on the ground.",
        ),
    ),
    Exercise(
        "squat",
        "Squat",
        Category.STRENGTHENING,
        "Stand with feet about shoulder width apart.",
        "Brace your stomach, hinge at the hips and bend the knees as if sitting down, then come "
        "back up leading with the legs, then the glutes; harder with weights.",
        Dose(hold_s=None, reps=10),
        desk="Stand in front of your chair, feet shoulder width apart. Brace your stomach and sit "
        "back until you just touch the seat, then stand up tall; 10 times.",
        cautions=(
            *_STRENGTH_CAUTIONS,
            "Brace your stomach before you bend.",
            "Hold weights (the harder squat) only while your form stays good without them.",
        ),
    ),
    Exercise(
        "crunch",
        "Abdominal crunch",
        Category.STRENGTHENING,
        "Lie on your back, knees bent, feet hip-width apart, hands across your chest.",
        "Tighten your stomach, lift your head and shoulder blades, then lower again.",
        Dose(hold_s=None, reps=12),
        cautions=(*_STRENGTH_CAUTIONS, "Lift only your head and shoulder blades, then lower them slowly."),
    ),
)

AEROBIC: tuple[Exercise, ...] = (
    Exercise(
        "walk",
        "Brisk walk",
        Category.AEROBIC,
        "Upright, in comfortable shoes.",
        "Walk at a brisk pace that stays comfortable for your back.",
        _AEROBIC_DOSE,
        desk="Walk for 3-5 minutes: fetch water, take the stairs up a floor and back, or walk round the office.",
        cautions=_AEROBIC_CAUTIONS,
    ),
    Exercise(
        "swim",
        "Swimming",
        Category.AEROBIC,
        "In the pool.",
        "Swim at an easy, steady pace.",
        _AEROBIC_DOSE,
        cautions=_AEROBIC_CAUTIONS,
    ),
    Exercise(
        "yoga",
        "Gentle yoga",
        Category.AEROBIC,
        "On a mat.",
        "Follow a gentle session, moving only as far as is comfortable.",
        _AEROBIC_DOSE,
        cautions=_AEROBIC_CAUTIONS,
    ),
    Exercise(
        "stationary_bike",
        "Stationary bike",
        Category.AEROBIC,
        "Seated on a stationary (spinning) bike.",
        "Pedal at a steady, comfortable pace.",
        _AEROBIC_DOSE,
        cautions=_AEROBIC_CAUTIONS,
    ),
)

#: Every exercise of the programme: stretches, strengthening, then aerobic activities.
EXERCISES: tuple[Exercise, ...] = PROGRAMME + AEROBIC

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

#: The warning signs as one block to show whole (plain text that also reads as Markdown).
RED_FLAGS_TEXT = (
    "See a doctor, rather than relying on these exercises, if:\n"
    + "\n".join(f"- {sign}" for sign in SEE_A_DOCTOR_IF)
    + "\n\nStop and ask a doctor or physiotherapist if an exercise causes real discomfort."
)

_BY_ID = {exercise.id: exercise for exercise in EXERCISES}
# Alerts suggest what can be done right next to the desk, without lying down: the squat
# (the programme's standing exercise), a short walk (its aerobic exercise, as a break)
# and the knee hug, whose single-knee form can be done standing with one hand on the
# desk (sitless's adaptation of the lying version): each exercise's ``desk`` text.
_ALERT_ROTATION: tuple[str, ...] = ("squat", "walk", "knee_hug")


def exercise_by_id(exercise_id: str) -> Exercise:
    """Return the programme exercise with this id.

    Args:
        exercise_id: An id of ``EXERCISES`` (``PROGRAMME`` or ``AEROBIC``).

    Returns:
        The exercise.

    Raises:
        KeyError: The id is not in the programme (the message lists the known ids).
    """
    try:
        return _BY_ID[exercise_id]
    except KeyError:
        raise KeyError(f"unknown exercise id {exercise_id!r}; known ids: {', '.join(_BY_ID)}") from None


def exercises_in(category: Category) -> tuple[Exercise, ...]:
    """Return the exercises of one category, in programme order.

    Args:
        category: Stretch, strengthening or aerobic.

    Returns:
        The exercises of ``EXERCISES`` in that category.

    >>> [e.id for e in exercises_in(Category.STRENGTHENING)]
    ['plank', 'squat', 'crunch']
    """
    return tuple(exercise for exercise in EXERCISES if exercise.category == category)


def suggest_stretch(repeat: int, sitting_since_s: float) -> Exercise:
    """Choose the exercise an alert suggests, deterministically.

    Alerts rotate through the squat, a short walk and the standing single-knee hug so
    that a long day does not repeat one movement; each is done standing next to the desk
    (its ``desk`` text), so doing it also starts the break. The hour of the bout start
    shifts the rotation, so successive bouts of a day do not all open with the same one.

    Args:
        repeat: 0 for the first alert of a bout, 1, 2, ... for reminders.
        sitting_since_s: Start time of the sitting bout in s.

    Returns:
        The suggested exercise.

    Raises:
        ValueError: ``repeat`` is negative.

    >>> [suggest_stretch(r, 0.0).id for r in range(4)]
    ['squat', 'walk', 'knee_hug', 'squat']
    """
    if repeat < 0:
        raise ValueError(f"repeat must be >= 0, got {repeat}")
    index = (repeat + int(sitting_since_s // 3600.0)) % len(_ALERT_ROTATION)
    return _BY_ID[_ALERT_ROTATION[index]]
