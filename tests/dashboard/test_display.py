"""Wording and formatting: minutes, clock times, doses and the suggested stretch."""

from __future__ import annotations

import datetime as dt

import pytest

from analysis.programme import PROGRAMME, Dose, exercise_by_id
from dashboard import display
from ingest.payloads import WearerSettings
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


def test_a_span_ending_at_midnight_shows_as_23_59_to_midnight() -> None:
    """``[23.999, 24]`` shows 23:59 to 00:00, not 00:00 to 00:00; a span of seconds after midnight ends 00:01."""
    assert (display.time_of_day(23.999), display.time_of_day(24.0, end=True)) == (dt.time(23, 59), dt.time(0, 0))
    assert (display.time_of_day(0.0), display.time_of_day(0.004, end=True)) == (dt.time(0, 0), dt.time(0, 1))
    assert display.hours_of_day(dt.time(0, 0), end=True) == 24.0


@pytest.mark.parametrize(
    "span", [(23.999, 24.0), (0.0, 0.004), (23.995, 0.004), (22.0, 23.999), (22.0, 0.0), (9.0, 17.5), (12.25, 13.0)]
)
def test_a_span_shown_and_saved_unchanged_stays_itself(span: tuple[float, float]) -> None:
    """Each bound comes back within the form's minute, and the span is one the settings take, never the whole day."""
    start, end = span
    saved = (
        display.hours_of_day(display.time_of_day(start)),
        display.hours_of_day(display.time_of_day(end, end=True), end=True),
    )
    assert saved[0] == pytest.approx(start, abs=1 / 60)  # the form shows whole minutes
    assert saved[1] == pytest.approx(end or 24.0, abs=1 / 60)  # an end at 0 is midnight, 24
    assert saved != (0.0, 24.0)
    assert WearerSettings(quiet_hours=(saved,)).quiet_hours == (saved,)
