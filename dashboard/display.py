"""How the dashboard words and formats things: posture labels, clock times, minutes, colours.

>>> posture_label("walking")
'Walking'
>>> minutes_text(27 * 60 + 40)
'27 min'
>>> dose_text(Dose(hold_s=(10.0, 15.0), reps=10, per_side=True))
'Hold 10-15 s, 10 times each side'
"""

from __future__ import annotations

from datetime import datetime

from analysis.programme import Dose, exercise_by_id

__all__ = [
    "DISCLAIMER_SHORT",
    "POSTURE_COLOURS",
    "clock",
    "dose_text",
    "hour_text",
    "minutes_text",
    "posture_label",
    "stretch_howto",
]

DISCLAIMER_SHORT = (
    "sitless is informational and not medical advice. "
    "Ask a doctor or physiotherapist about pain or before starting exercise."
)

_LABELS = {
    "sitting": "Sitting",
    "standing": "Standing",
    "walking": "Walking",
    "lying": "Lying",
    "other": "Other",
    "nonwear": "Not worn",
}

#: One colour per posture, shared by every chart (sitting stands out in orange).
POSTURE_COLOURS = {
    "sitting": "#e4572e",
    "standing": "#29a36a",
    "walking": "#2e86de",
    "lying": "#8e6cbe",
    "other": "#9aa0a6",
    "nonwear": "#d5d8dc",
}


def posture_label(posture: str | None) -> str:
    """The posture as the wearer reads it ("Sitting"); "Unknown" for None."""
    if posture is None:
        return "Unknown"
    return _LABELS.get(posture, posture.replace("_", " ").capitalize())


def clock(t_s: float, *, seconds: bool = False) -> str:
    """Epoch seconds as a local wall-clock time, ``HH:MM`` (``HH:MM:SS`` with ``seconds``)."""
    return datetime.fromtimestamp(t_s).strftime("%H:%M:%S" if seconds else "%H:%M")


def hour_text(hours: float) -> str:
    """Clock hours as ``H:MM``: ``8.5`` reads ``"8:30"``, ``17`` reads ``"17:00"``."""
    total_min = round(hours * 60)
    return f"{total_min // 60}:{total_min % 60:02d}"


def minutes_text(seconds: float) -> str:
    """A duration in whole minutes (rounded down, as a running clock shows it): ``"27 min"``.

    Durations of an hour or more read ``"1 h 05 min"``.
    """
    total_min = max(0, int(seconds // 60))
    if total_min < 60:
        return f"{total_min} min"
    return f"{total_min // 60} h {total_min % 60:02d} min"


def _seconds(value: float) -> str:
    return f"{value:g}"


def dose_text(dose: Dose) -> str:
    """How much of an exercise to do, in words.

    >>> dose_text(Dose(hold_s=None, reps=10))
    '10 repetitions'
    >>> dose_text(Dose(hold_s=(10.0, 30.0), reps=None))
    'Hold 10-30 s'
    >>> dose_text(Dose(duration_s=(600.0, 1800.0)))
    '10-30 min'
    >>> dose_text(Dose(reps=10, sets=2))
    '10 repetitions, 2 sets'
    """
    side = " each side" if dose.per_side else ""
    sets = f", {dose.sets} sets" if dose.sets > 1 else ""
    if dose.duration_s is not None:
        low_min, high_min = (_seconds(v / 60.0) for v in dose.duration_s)
        text = f"About {low_min} min" if low_min == high_min else f"{low_min}-{high_min} min"
    elif dose.hold_s is None:
        text = f"{dose.reps} repetitions{side}" if dose.reps else "As comfortable"
    else:
        low, high = dose.hold_s
        hold = f"Hold about {_seconds(low)} s" if low == high else f"Hold {_seconds(low)}-{_seconds(high)} s"
        text = f"{hold}, {dose.reps} times{side}" if dose.reps else f"{hold}{side}"
    return text + sets


def stretch_howto(stretch_id: object) -> tuple[str, str] | None:
    """The name of a suggested exercise and how to do it, or None for an unknown id.

    Args:
        stretch_id: The ``stretch_id`` of an alert (an id of the programme, or missing).

    Returns:
        ``(name, "position movement dose.")``.

    >>> stretch_howto("squat")[0]
    'Squat'
    """
    if not isinstance(stretch_id, str):
        return None
    try:
        exercise = exercise_by_id(stretch_id)
    except KeyError:
        return None
    return exercise.name, f"{exercise.position} {exercise.movement} {dose_text(exercise.dose)}."
