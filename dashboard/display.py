"""How the dashboard words and formats things: posture labels, clock times, minutes, colours.

>>> posture_label("walking")
'Walking'
>>> minutes_text(27 * 60 + 40)
'27 min'
>>> dose_text(Dose(hold_s=(10.0, 15.0), reps=10, per_side=True))
'Hold 10-15 s, 10 times each side'
>>> sitting_progress(51 * 60, 30 * 60).text
'21 min over your 30 min limit'
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import altair as alt

from analysis.holds import HoldEnded
from analysis.programme import Dose, exercise_by_id
from analysis.settings import Placement
from ingest.codec import MAX_T_S

__all__ = [
    "ADHERENCE_LEVELS",
    "DISCLAIMER_SHORT",
    "FIT_WIDTH",
    "NO_DATA_YET",
    "POSTURE_COLOURS",
    "UNKNOWN",
    "WEAR_GUIDE",
    "adherence_level",
    "clock",
    "dose_text",
    "hold_flags_text",
    "holds_text",
    "hour_text",
    "hours_of_day",
    "local_datetime",
    "minutes_text",
    "placement_label",
    "posture_label",
    "side_label",
    "sitting_progress",
    "stretch_howto",
    "time_of_day",
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

#: Shown for a time or a duration that cannot be shown (NaN, or a clock counting milliseconds).
UNKNOWN = "—"

#: Said by a page with nothing to show yet (an empty store, or a wearable with no data).
NO_DATA_YET = "No data yet: start the simulator or connect a sensor."

#: Charts stretch to the page's width while their height stays the plot's own (axes and
#: legends come on top), so a bottom legend does not squeeze the plot on a narrow screen.
FIT_WIDTH = alt.AutoSizeParams(type="fit-x", contains="padding")

#: One colour per posture, shared by every chart (sitting stands out in orange).
POSTURE_COLOURS = {
    "sitting": "#e4572e",
    "standing": "#29a36a",
    "walking": "#2e86de",
    "lying": "#8e6cbe",
    "other": "#9aa0a6",
    "nonwear": "#d5d8dc",
}


#: The colour of sitting past the limit (the sitting colour of the charts).
OVERDUE_COLOUR = POSTURE_COLOURS["sitting"]
#: CSS giving the sitting bar in a ``st.container(key="sitting_overdue")`` the overdue colour.
OVERDUE_BAR_STYLE = (
    "<style>.st-key-sitting_overdue [data-testid='stProgressBarTrack'] > div "
    f"{{ background-color: {OVERDUE_COLOUR} !important; }}</style>"
)
#: The browser tab's title while a break reminder waits for an answer.
ALERT_TITLE = "⚠ Time for a break · sitless"


def posture_label(posture: str | None) -> str:
    """The posture as the wearer reads it ("Sitting"); "Unknown" for None."""
    if posture is None:
        return "Unknown"
    return _LABELS.get(posture, posture.replace("_", " ").capitalize())


def local_datetime(t_s: float, tz: dt.tzinfo | None = None) -> datetime | None:
    """Epoch seconds as a local datetime; None for a time no wearable sends.

    The store may hold times that intake now refuses (``ingest.codec.MAX_T_S``): a clock
    counting milliseconds, one before 1970, NaN. The dashboard shows those as unknown and
    places no day by them, rather than fail on a date no calendar shows.

    Args:
        t_s: Unix epoch seconds.
        tz: The time zone; None for a naive datetime in the server's local time.

    Returns:
        The datetime, or None when ``t_s`` is not within ``0 <= t_s < MAX_T_S``.

    >>> local_datetime(1.7e12) is None, local_datetime(float("nan")) is None
    (True, True)
    >>> local_datetime(0.0, dt.UTC).isoformat()
    '1970-01-01T00:00:00+00:00'
    """
    if not 0.0 <= t_s < MAX_T_S:  # also false for NaN
        return None
    return datetime.fromtimestamp(t_s, tz)


def clock(t_s: float, *, seconds: bool = False) -> str:
    """Epoch seconds as a local wall-clock time, ``HH:MM`` (``HH:MM:SS`` with ``seconds``).

    A time no wearable sends (:func:`local_datetime`) reads :data:`UNKNOWN`:

    >>> clock(1.7e12)
    '—'
    """
    local = local_datetime(t_s)
    return UNKNOWN if local is None else local.strftime("%H:%M:%S" if seconds else "%H:%M")


def hour_text(hours: float) -> str:
    """Clock hours as ``H:MM``: ``8.5`` reads ``"8:30"``, ``17`` reads ``"17:00"``."""
    total_min = round(hours * 60)
    return f"{total_min // 60}:{total_min % 60:02d}"


def time_of_day(hours: float, *, end: bool = False) -> dt.time:
    """Local clock hours (0 to 24) as a time of day to the minute, for a time input; 24 is midnight.

    A bound stays on its side of midnight: a start short of 24 that rounds to 24:00 reads
    23:59, and an end past 0 that rounds to 00:00 reads 00:01. Read as midnight, a quiet
    span ``[23.999, 24]`` showed as 00:00 to 00:00, which :func:`hours_of_day` saves as the
    whole day.

    Args:
        hours: Local clock hours, 0 to 24.
        end: ``hours`` ends a span.

    >>> time_of_day(9.5), time_of_day(23.999), time_of_day(0.004, end=True), time_of_day(24, end=True)
    (datetime.time(9, 30), datetime.time(23, 59), datetime.time(0, 1), datetime.time(0, 0))
    """
    minutes = round(hours * 60)
    if not end and hours < 24:
        minutes = min(minutes, _DAY_MIN - 1)
    if end and hours > 0:
        minutes = max(minutes, 1)
    hour, minute = divmod(minutes % _DAY_MIN, 60)
    return dt.time(hour, minute)


def hours_of_day(value: dt.time, *, end: bool = False) -> float:
    """A time of day as local clock hours; midnight ending a span (``end``) is 24.

    >>> hours_of_day(dt.time(9, 30)), hours_of_day(dt.time(0, 0)), hours_of_day(dt.time(0, 0), end=True)
    (9.5, 0.0, 24.0)
    """
    hours = value.hour + value.minute / 60
    return 24.0 if end and hours == 0 else hours


_DAY_MIN = 24 * 60


def minutes_text(seconds: float) -> str:
    """A duration in whole minutes (rounded down, as a running clock shows it): ``"27 min"``.

    Durations of an hour or more read ``"1 h 05 min"``; NaN or infinity reads :data:`UNKNOWN`.

    >>> minutes_text(float("nan"))
    '—'
    """
    if not math.isfinite(seconds):
        return UNKNOWN
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
    """The name of a suggested exercise and how to do it as a break at the desk, or None for an unknown id.

    Args:
        stretch_id: The ``stretch_id`` of an alert (an id of the programme, or missing).

    Returns:
        ``(name, instructions)``: the exercise's desk version (``Exercise.desk``), else its
        position, movement and dose.

    >>> stretch_howto("knee_hug")[1].startswith("Stand next to your desk")
    True
    """
    if not isinstance(stretch_id, str):
        return None
    try:
        exercise = exercise_by_id(stretch_id)
    except KeyError:
        return None
    return exercise.name, exercise.desk or f"{exercise.position} {exercise.movement} {dose_text(exercise.dose)}."


#: The shades of the adherence calendar, least kept first, with their labels: each level
#: is also told by the cell's text (``done/due``), so the calendar does not rely on colour.
ADHERENCE_LEVELS: dict[str, str] = {
    "Not in the plan": "#f2f3f4",
    "Nothing due": "#e5e8e8",
    "None done": "#fdebd0",
    "Some done": "#abdda4",
    "Half or more": "#4daf7c",
    "All done": "#1a7a4c",
}


def adherence_level(kept: float | None, *, in_plan: bool = True) -> str:
    """The calendar label of a day's share of the plan kept (``DayAdherence.fraction``).

    >>> [adherence_level(f) for f in (None, 0.0, 0.2, 0.5, 1.0)]
    ['Nothing due', 'None done', 'Some done', 'Half or more', 'All done']
    >>> adherence_level(None, in_plan=False)
    'Not in the plan'
    """
    if not in_plan:
        return "Not in the plan"
    if kept is None:
        return "Nothing due"
    if kept >= 1.0:
        return "All done"
    if kept >= 0.5:
        return "Half or more"
    return "Some done" if kept > 0 else "None done"


#: How to wear the sensor at each placement: ``(where, which way up)``. The analysis
#: learns the wearer's upright from walking and reads the long axis either way up
#: (``analysis.posture``; docs/validation.md, "How sitting is told from standing"); the
#: axis it expects along the body is ``analysis.posture.default_long_axis``.
WEAR_GUIDE: dict[Placement, tuple[str, str]] = {
    Placement.THIGH: (
        "On the front of the thigh, halfway between hip and knee, or a phone upright in a trouser pocket.",
        "Its long side (y axis) along the thigh; either end up.",
    ),
    Placement.WAIST: (
        "On the belt at the side of the hip, like a phone in a belt clip.",
        "Its long side (x axis) upright, along the body; either end up.",
    ),
    Placement.LOWER_BACK: (
        "Clipped to the waistband at the back, over the lower spine.",
        "Upright, its y axis along the spine; either end up.",
    ),
    Placement.CHEST: (
        "On the breastbone, on a chest strap or clipped to the shirt.",
        "Upright, its y axis along the body; either end up.",
    ),
    Placement.UPPER_BACK: (
        "Between the shoulder blades, taped or on a harness.",
        "Upright, its y axis along the spine; either end up.",
    ),
    Placement.WRIST: (
        "On the wrist, like a watch.",
        "Any way round. A wrist tells walking from not walking, but not sitting from standing.",
    ),
}


@dataclass(frozen=True, slots=True)
class SittingProgress:
    """The running sitting bout against the limit, as the sitting bar shows it.

    Attributes:
        fraction: How full the bar is, 0 to 1 (full once the limit is reached, empty for a
            negative or unknown sitting time).
        text: The words over the bar.
        overdue: The limit is reached: the bar shows the overdue colour.
    """

    fraction: float
    text: str
    overdue: bool


def sitting_progress(sitting_s: float, max_sitting_s: float) -> SittingProgress:
    """How far a sitting bout has come towards the limit, and how far past it.

    Args:
        sitting_s: Length of the running sitting bout, s.
        max_sitting_s: The reminder limit, s (> 0).

    >>> sitting_progress(27 * 60, 30 * 60)
    SittingProgress(fraction=0.9, text='27 min of 30 min before a break is due', overdue=False)
    >>> sitting_progress(30 * 60 + 20, 30 * 60).text
    'Your 30 min limit is reached: time for a break'
    >>> sitting_progress(95 * 60, 30 * 60).text
    '1 h 05 min over your 30 min limit'
    """
    limit = minutes_text(max_sitting_s)
    over_s = sitting_s - max_sitting_s
    if not over_s >= 0:  # also for NaN: an unknown sitting time fills no bar
        fraction = sitting_s / max_sitting_s if math.isfinite(sitting_s) else 0.0
        return SittingProgress(
            min(1.0, max(0.0, fraction)), f"{minutes_text(sitting_s)} of {limit} before a break is due", False
        )
    if over_s < 60:
        return SittingProgress(1.0, f"Your {limit} limit is reached: time for a break", True)
    return SittingProgress(1.0, f"{minutes_text(over_s)} over your {limit} limit", True)


@dataclass(frozen=True, slots=True)
class PromptWording:
    """What the break prompt says, growing more insistent with each repeat of the reminder.

    Attributes:
        level: 0 the first reminder (a calm warning), 1 the first repeat (stronger),
            2 the second repeat and later (the most insistent).
        text: The message, in Markdown.
    """

    level: int
    text: str


def break_prompt_wording(repeat: int, sitting_s: float, max_sitting_s: float) -> PromptWording:
    """The words of the break prompt for a reminder's ``repeat`` (0 the first one).

    Args:
        repeat: How many reminders came before this one in the same sitting bout.
        sitting_s: Length of the sitting bout so far, s.
        max_sitting_s: The reminder limit, s.

    >>> break_prompt_wording(0, 33 * 60, 1800).text
    '**Time for a break:** you have been sitting for 33 min. Stand up, walk a little, and try the stretch below.'
    >>> w = break_prompt_wording(2, 53 * 60, 1800)
    >>> w.level, "23 min over your 30 min limit" in w.text
    (2, True)
    """
    sat = minutes_text(sitting_s)
    if repeat <= 0:
        return PromptWording(
            0,
            f"**Time for a break:** you have been sitting for {sat}. "
            "Stand up, walk a little, and try the stretch below.",
        )
    if repeat == 1:
        return PromptWording(
            1,
            f"**Time for a break, please stand up now:** you have been sitting for {sat} and the first "
            "reminder has gone by. A minute or two on your feet is enough; try the stretch below.",
        )
    over = f" ({sitting_progress(sitting_s, max_sitting_s).text})" if sitting_s - max_sitting_s >= 60 else ""
    return PromptWording(
        2,
        f"**Time for a break, it is overdue: you have sat for {sat} without one{over}.** "
        f"This is reminder {repeat + 1}. Stand up now and walk for a minute or two; your back will thank you.",
    )


def placement_label(placement: str) -> str:
    """A placement as the wearer reads it.

    >>> placement_label("lower_back")
    'Lower back'
    """
    return placement.replace("_", " ").capitalize()


def side_label(side: str | None) -> str:
    """A side of a per-side exercise as the wearer reads it: ``"Left side"``; ``"Both sides"`` for None."""
    return "Both sides" if side is None else f"{side.capitalize()} side"


def holds_text(holds: Sequence[HoldEnded]) -> str:
    """Each hold's length, with those broken early or bounced marked; ``"none"`` without holds.

    >>> good, short = HoldEnded(0.0, 10.4, "plank", None, 10.0, False, 0, 1), (20.0, 23.0, "plank", None, 10.0)
    >>> holds_text([good, HoldEnded(*short, broken=True, bounces=2, hold=2)])
    '10 s, 3 s (broken early, bounced)'
    """
    if not holds:
        return "none"
    parts = []
    for hold in holds:
        flags = [w for w, on in (("broken early", hold.broken), ("bounced", hold.bounces > 0)) if on]
        parts.append(f"{hold.duration_s:.0f} s" + (f" ({', '.join(flags)})" if flags else ""))
    return ", ".join(parts)


def hold_flags_text(broken: int, bounced: int) -> str:
    """How many holds were broken early or bounced, in words; ``""`` when none.

    >>> hold_flags_text(1, 0), hold_flags_text(2, 1)
    ('1 hold broken early', '2 holds broken early, 1 bounced')
    """
    parts = [
        f"{n} {'hold' if n == 1 else 'holds'} {what}"
        for n, what in ((broken, "broken early"), (bounced, "bounced"))
        if n
    ]
    if len(parts) == 2:
        parts[1] = parts[1].replace(" holds ", " ").replace(" hold ", " ")
    return ", ".join(parts)
