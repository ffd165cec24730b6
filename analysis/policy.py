"""What the wearer's alerts follow: the sit-too-long alert policy and the slouch policy.

The alert policy defaults come from DESIGN.md ("Alert policy"): sitting longer than
30 minutes without a break raises an alert, a break is at least 1 minute of standing
or walking, an unanswered alert repeats after 10 minutes. The slouch policy sets when
a chest or upper-back sensor counts slouching and whether it nudges. Both can change
while a wearer is followed (``Analyzer.set_policy``); ``check_positive`` is the range
check every settings value of the analysis shares.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["WEEKDAYS", "AlertPolicy", "SlouchPolicy", "check_positive"]


def check_positive(name: str, value: float) -> None:
    """Check that a setting is a finite number above 0.

    Args:
        name: The setting's name, for the message.
        value: Its value.

    Raises:
        ValueError: ``value`` is not finite or not above 0.
    """
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """When to raise a sit-too-long alert (defaults: DESIGN.md, "Alert policy").

    Attributes:
        max_sitting_s: Sitting longer than this without a break raises an alert.
        min_break_s: Shortest standing/walking run that counts as a break; shorter
            non-sitting stretches (fidgets) do not end a sitting bout (the fidget
            tolerance).
        min_run_s: Whether the wearer is seated changes only when a run of the other
            kind (sitting, or not sitting) lasts this long, or ``min_break_s`` if that is
            shorter (``analysis.bouts``): shorter sitting runs are blips of the posture at a
            change, the low point of a squat. activPAL's default minimum sitting/upright
            period is 10 s (Alghaeed et al. 2013, PLoS ONE 8(8):e71854,
            doi:10.1371/journal.pone.0071854); it changes break counts, not sitting time.
        min_sitting_bout_s: Sitting bouts shorter than this are not reported as bouts,
            and the upright run after them is no break. Sitting time does not depend
            on it, break counts do (Chastin & Granat 2010, Gait Posture 31(1):82-86,
            doi:10.1016/j.gaitpost.2009.09.002; Edwardson et al. 2017, J Sport Health
            Sci 6(2):162-178, doi:10.1016/j.jshs.2016.02.002); ``summary`` reports both.
        repeat_s: An unanswered (or acknowledged but ignored) alert repeats after this.
        snooze_s: How long "snooze" silences alerts.
        meeting_s: How long "in a meeting" silences alerts unless ended earlier.
        working_hours: Local hours ``(start, end)``, alerts only when
            ``start <= hour < end``; ``None`` means always. ``start > end`` spans midnight.
        utc_offset_h: Hours to add to the analyser's times to get local clock time: the
            UTC offset when times are Unix epoch seconds (live), the start's time of day
            when they are relative to it (``ResultBuilder.set_clock``). Working and quiet
            hours and the nights learned (``analysis.nights``) go by it.
        weekly_hours: Working hours per weekday, Monday first (7 entries): each
            ``(start, end)`` as ``working_hours``, or ``None`` for a day without alerts.
            When given it replaces ``working_hours``.
        quiet_hours: Local spans ``(start, end)`` without alerts on every day (a lunch
            break, the evening), on top of the working hours; ``start > end`` spans
            midnight.
    """

    max_sitting_s: float = 1800.0
    min_break_s: float = 60.0
    min_run_s: float = 10.0
    min_sitting_bout_s: float = 0.0
    repeat_s: float = 600.0
    snooze_s: float = 600.0
    meeting_s: float = 3600.0
    working_hours: tuple[float, float] | None = None
    utc_offset_h: float = 0.0
    weekly_hours: tuple[tuple[float, float] | None, ...] | None = None
    quiet_hours: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        for name in ("max_sitting_s", "min_break_s", "min_run_s", "repeat_s", "snooze_s", "meeting_s"):
            check_positive(name, getattr(self, name))
        if self.repeat_s < 1.0:  # a reminder a second is already absurd; below float resolution the loop never ends
            raise ValueError(f"repeat_s must be at least 1 s, got {self.repeat_s!r}")
        if not (math.isfinite(self.min_sitting_bout_s) and self.min_sitting_bout_s >= 0):
            raise ValueError(f"min_sitting_bout_s must be a finite number >= 0, got {self.min_sitting_bout_s!r}")
        if not (math.isfinite(self.utc_offset_h) and -24.0 < self.utc_offset_h < 24.0):
            raise ValueError(f"utc_offset_h must be within (-24, 24), got {self.utc_offset_h!r}")
        if self.working_hours is not None:
            _check_hours("working_hours", self.working_hours)
        if self.weekly_hours is not None:
            if len(self.weekly_hours) != 7:
                raise ValueError(f"weekly_hours must have 7 entries, Monday first, got {len(self.weekly_hours)}")
            for day, hours in zip(WEEKDAYS, self.weekly_hours, strict=True):
                if hours is not None:
                    _check_hours(f"weekly_hours ({day})", hours)
        for hours in self.quiet_hours:
            _check_hours("quiet_hours", hours)

    def hours_of(self, weekday: int) -> tuple[float, float] | None:
        """The working hours of a weekday (0 Monday): ``(start, end)``, ``(0, 24)`` for all day, None for none."""
        if self.weekly_hours is not None:
            return self.weekly_hours[weekday]
        return (0.0, 24.0) if self.working_hours is None else self.working_hours


#: Weekday names, Monday first (``datetime.date.weekday()`` order).
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _check_hours(name: str, hours: tuple[float, float]) -> None:
    start, end = hours
    if not (0.0 <= start < 24.0 and 0.0 <= end <= 24.0 and start != end):
        raise ValueError(f"{name} must be (start, end) within [0, 24], start != end, got {hours!r}")


@dataclass(frozen=True, slots=True)
class SlouchPolicy:
    """Posture quality of chest and upper-back sensors: forward slouch time and nudges.

    The slouch angle is the thorax inclination from the upright reference (calibrated,
    or learned from walking) while sitting or standing. ISO 11226:2000 ("Ergonomics -
    Evaluation of static working postures") accepts trunk inclinations up to 20 deg,
    and more only for limited holding times or with full trunk support; 20 deg is
    therefore the default. The nudge is off by default.

    Attributes:
        slouch_deg: Inclination from upright counted as slouching, deg.
        nudge: Whether a slouch nudge event is raised.
        dwell_s: Continuous slouching before a nudge; the nudge repeats after as long
            again if the slouch goes on.
    """

    slouch_deg: float = 20.0
    nudge: bool = False
    dwell_s: float = 120.0

    def __post_init__(self) -> None:
        for name in ("slouch_deg", "dwell_s"):
            check_positive(name, getattr(self, name))
        if self.slouch_deg >= 90.0:
            raise ValueError(f"slouch_deg must be < 90, got {self.slouch_deg!r}")
