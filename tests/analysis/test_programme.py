"""The exercise programme and the stretch suggested with alerts."""

from __future__ import annotations

import pytest

from analysis import PROGRAMME, exercise_by_id, suggest_stretch
from analysis.programme import DISCLAIMER, SAFETY, SEE_A_DOCTOR_IF, Category, Dose


def test_programme_holds_the_eight_exercises() -> None:
    """All exercises of programme.md, with unique ids, in two categories."""
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
    """A wrong id gives a KeyError that lists the valid ids."""
    with pytest.raises(KeyError, match="knee_roll"):
        exercise_by_id("burpee")


def test_suggestion_is_deterministic_and_doable_at_a_desk() -> None:
    """Alerts suggest the squat and the standing knee hug, alternating."""
    picks = [suggest_stretch(r, 0.0).id for r in range(4)]
    assert picks == ["squat", "knee_hug", "squat", "knee_hug"]
    assert suggest_stretch(0, 3600.0).id == "knee_hug"  # the next hour's bout starts the other way
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
