"""Wording and formatting: minutes, clock times, doses and the suggested stretch."""

from __future__ import annotations

from analysis.programme import PROGRAMME, Dose, exercise_by_id
from dashboard import display
from tests.dashboard.office_morning import at


def test_minutes_round_down_like_a_running_clock() -> None:
    """27 min 59 s still reads 27 min; an hour or more reads hours and minutes."""
    assert display.minutes_text(27 * 60 + 59) == "27 min"
    assert display.minutes_text(65 * 60) == "1 h 05 min"
    assert display.minutes_text(-5) == "0 min"


def test_clock_is_local_time() -> None:
    """Epoch seconds show as the local wall clock."""
    assert display.clock(at(9, 5, 7)) == "09:05"
    assert display.clock(at(9, 5, 7), seconds=True) == "09:05:07"


def test_every_programme_dose_reads_as_words() -> None:
    """Each exercise's dose gives a non-empty sentence fragment with its numbers."""
    for exercise in PROGRAMME:
        text = display.dose_text(exercise.dose)
        assert text
        if exercise.dose.reps:
            assert str(exercise.dose.reps) in text
    each_side = Dose(hold_s=(10.0, 10.0), reps=3, per_side=True)
    assert display.dose_text(each_side) == "Hold about 10 s, 3 times each side"


def test_stretch_howto_names_the_exercise_and_unknown_ids_give_none() -> None:
    """A known id gives its name and its desk instructions; an unknown or missing id gives None."""
    name, text = display.stretch_howto("knee_hug") or ("", "")
    assert name == "Single or double knee hug"
    assert "desk" in text
    assert "Lie" not in text  # a break prompt at the office never asks to lie down
    _, floor_only = display.stretch_howto("plank") or ("", "")
    assert floor_only.startswith(exercise_by_id("plank").position)
    assert display.stretch_howto("handstand") is None
    assert display.stretch_howto(None) is None


def test_posture_labels() -> None:
    """Postures read capitalised; a missing one reads Unknown."""
    assert display.posture_label("lying") == "Lying"
    assert display.posture_label(None) == "Unknown"
