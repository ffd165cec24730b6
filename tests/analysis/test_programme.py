"""The exercise programme and the stretch suggested with alerts."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from analysis import EXERCISES, PROGRAMME, exercise_by_id, suggest_stretch
from analysis.programme import (
    AEROBIC,
    DISCLAIMER,
    MAX_DURATION_S,
    MAX_HOLD_S,
    MAX_REPS,
    MAX_SETS,
    RED_FLAGS_TEXT,
    SAFETY,
    SEE_A_DOCTOR_IF,
    Category,
    Dose,
    exercises_in,
)


def test_programme_holds_the_eight_exercises() -> None:
    """The stretches and strengthening exercises of programme.md, with unique ids, in two categories."""
    ids = [e.id for e in PROGRAMME]
    assert ids == [
        "knee_roll",
        "knee_hug",
        "back_stabiliser",
        "pelvic_tilt",
        "deep_stomach",
        "plank",
        "squat",
        "crunch",
    ]
    assert {e.category for e in PROGRAMME} == {Category.STRETCH, Category.STRENGTHENING}
    assert exercise_by_id("squat").dose.reps == 10
    assert exercise_by_id("knee_roll").dose.per_side


def test_unknown_id_names_the_known_ones() -> None:
    """A wrong id gives a KeyError that lists the valid ids, aerobic ones included."""
    with pytest.raises(KeyError, match=r"knee_roll.*walk"):
        exercise_by_id("burpee")
    assert exercise_by_id("walk").category == Category.AEROBIC


def test_suggestion_is_deterministic_and_doable_at_a_desk() -> None:
    """Alerts rotate through the squat, a short walk and the standing knee hug, each with desk instructions."""
    picks = [suggest_stretch(r, 0.0).id for r in range(4)]
    assert picks == ["squat", "walk", "knee_hug", "squat"]
    assert suggest_stretch(0, 3600.0).id == "walk"  # the next hour's bout starts further on
    for repeat in range(3):
        suggestion = suggest_stretch(repeat, 0.0)
        assert suggestion.at_desk
        assert "lie" not in suggestion.desk.lower()
    assert suggest_stretch(2, 123.0) == suggest_stretch(2, 123.0)
    with pytest.raises(ValueError, match="repeat"):
        suggest_stretch(-1, 0.0)


def test_safety_texts_are_present() -> None:
    """The disclaimer, safety rules and warning signs are available to show."""
    assert "not medical advice" in DISCLAIMER
    assert len(SAFETY) >= 3
    assert any("leg" in s for s in SEE_A_DOCTOR_IF)


def test_dose_checks_itself() -> None:
    """A dose with an inverted hold range is refused."""
    with pytest.raises(ValueError, match="hold_s"):
        Dose(hold_s=(10.0, 5.0), reps=1)


# The tables of programme.md (stretches, strengthening) and its low-impact aerobic list,
# each with its category and dose (one set unless said otherwise).
_AEROBIC_DOSE = Dose(duration_s=(600.0, 1800.0))
TABLES = [
    ("knee_roll", Category.STRETCH, Dose(hold_s=(10.0, 10.0), reps=3, per_side=True)),
    ("knee_hug", Category.STRETCH, Dose(hold_s=(3.0, 5.0), reps=5)),
    ("back_stabiliser", Category.STRETCH, Dose(hold_s=(10.0, 15.0), reps=10, per_side=True)),
    ("pelvic_tilt", Category.STRETCH, Dose(hold_s=(3.0, 5.0), reps=5)),
    ("deep_stomach", Category.STRETCH, Dose(hold_s=(10.0, 15.0), reps=10)),
    ("plank", Category.STRENGTHENING, Dose(hold_s=(10.0, 30.0))),
    ("squat", Category.STRENGTHENING, Dose(reps=10)),
    ("crunch", Category.STRENGTHENING, Dose(reps=12)),
    ("walk", Category.AEROBIC, _AEROBIC_DOSE),
    ("swim", Category.AEROBIC, _AEROBIC_DOSE),
    ("yoga", Category.AEROBIC, _AEROBIC_DOSE),
    ("stationary_bike", Category.AEROBIC, _AEROBIC_DOSE),
]


@pytest.mark.parametrize(("exercise_id", "category", "dose"), TABLES)
def test_every_exercise_of_programme_md_with_its_category_and_dose(
    exercise_id: str, category: Category, dose: Dose
) -> None:
    """Each row of programme.md is an exercise with that category and dose, done in one set."""
    exercise = exercise_by_id(exercise_id)
    assert exercise.category == category
    assert exercise.dose == dose
    assert exercise.dose.sets == 1
    assert exercise.position
    assert exercise.movement


def test_exercises_are_the_programme_then_the_aerobic_activities() -> None:
    """EXERCISES holds every row of the tables, once, and each category in programme order."""
    assert [e.id for e in EXERCISES] == [row[0] for row in TABLES]
    assert EXERCISES == PROGRAMME + AEROBIC
    assert exercises_in(Category.AEROBIC) == AEROBIC
    assert [e.id for e in exercises_in(Category.STRETCH)] == [row[0] for row in TABLES[:5]]
    assert all(e.category == Category.AEROBIC for e in AEROBIC)


def test_knee_roll_and_back_stabiliser_are_done_on_each_side() -> None:
    """Only the two one-sided stretches count two sides."""
    two_sided = {e.id for e in EXERCISES if e.dose.sides == 2}
    assert two_sided == {"knee_roll", "back_stabiliser"}
    assert exercise_by_id("squat").dose.sides == 1


def test_every_exercise_carries_its_cautions() -> None:
    """Stretches warn against bouncing, strengthening keeps form, aerobic stays low-impact."""
    for exercise in EXERCISES:
        assert exercise.cautions, exercise.id
        text = " ".join(exercise.cautions)
        if exercise.category == Category.STRETCH:
            assert "never bounce" in text
            assert "30 seconds" in text
        elif exercise.category == Category.AEROBIC:
            assert "low-impact" in text
            assert "running" in text
    assert "fewer repetitions" in " ".join(exercise_by_id("squat").cautions)
    assert "fewer repetitions" in " ".join(exercise_by_id("crunch").cautions)
    assert "knees on the ground" in " ".join(exercise_by_id("plank").cautions)  # the easier plank
    assert "weights" in " ".join(exercise_by_id("squat").cautions)  # the harder squat
    assert "bird dog" in " ".join(exercise_by_id("back_stabiliser").cautions)


def test_red_flags_read_as_one_block_with_every_sign() -> None:
    """The block to show whole lists each warning sign on its own line."""
    lines = RED_FLAGS_TEXT.splitlines()
    assert lines[0].startswith("See a doctor")
    for sign in SEE_A_DOCTOR_IF:
        assert f"- {sign}" in lines
    assert "physiotherapist" in RED_FLAGS_TEXT


def test_old_dose_calls_still_work() -> None:
    """A dose built the old way gets one set, no duration, and its numbers unchanged."""
    dose = Dose(hold_s=(10.0, 15.0), reps=10, per_side=True)
    assert (dose.sets, dose.duration_s, dose.sides) == (1, None, 2)
    assert Dose(None, 10) == Dose(reps=10)
    assert Dose(hold_s=(10, 30), reps=None).hold_s == (10.0, 30.0)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"reps": 0}, "reps"),
        ({"reps": -3}, "reps"),
        ({"reps": 2.5}, "reps"),
        ({"reps": True}, "reps"),
        ({"reps": MAX_REPS + 1}, "reps"),
        ({"reps": 5, "sets": 0}, "sets"),
        ({"reps": 5, "sets": MAX_SETS + 1}, "sets"),
        ({"reps": 5, "sets": 2.0}, "sets"),
        ({"hold_s": (0.0, 5.0)}, "hold_s"),
        ({"hold_s": (-1.0, 5.0)}, "hold_s"),
        ({"hold_s": (float("nan"), 5.0)}, "hold_s"),
        ({"hold_s": (5.0, float("inf"))}, "hold_s"),
        ({"hold_s": (5.0, MAX_HOLD_S + 1)}, "hold_s"),
        ({"hold_s": [5.0, 10.0]}, "hold_s"),
        ({"hold_s": (5.0,)}, "hold_s"),
        ({"hold_s": ("5", "10")}, "hold_s"),
        ({"duration_s": (600.0, 300.0)}, "duration_s"),
        ({"duration_s": (600.0, MAX_DURATION_S * 2)}, "duration_s"),
        ({"reps": 5, "per_side": "yes"}, "per_side"),
    ],
)
def test_dose_refuses_bad_fields_naming_them(kwargs: dict[str, Any], field: str) -> None:
    """Each out-of-range or mistyped field raises a ValueError that names it."""
    with pytest.raises(ValueError, match=f"^{field} must"):
        Dose(**kwargs)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": "Knee Roll"}, "id"),
        ({"id": ""}, "id"),
        ({"name": " "}, "name"),
        ({"position": ""}, "position"),
        ({"movement": None}, "movement"),
        ({"category": "cardio"}, "category"),
        ({"dose": (10, 3)}, "dose"),
        ({"cautions": ["Never bounce."]}, "cautions"),
        ({"cautions": ("",)}, "cautions"),
    ],
)
def test_exercise_refuses_bad_fields_naming_them(change: dict[str, Any], field: str) -> None:
    """An exercise checks itself like a dose does."""
    with pytest.raises(ValueError, match=f"^{field}"):
        dataclasses.replace(exercise_by_id("knee_roll"), **change)


def test_a_category_given_as_text_becomes_the_enum() -> None:
    """The text "stretch" is read as Category.STRETCH."""
    exercise = dataclasses.replace(exercise_by_id("knee_roll"), category="stretch")  # type: ignore[arg-type]
    assert exercise.category is Category.STRETCH
