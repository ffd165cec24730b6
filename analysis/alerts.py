"""The sit-too-long alert policy of DESIGN.md as a small state machine.

The bout tracker tells it when a sitting bout starts and ends and asks when the next
alert is due; the wearer's actions (done, dismiss, snooze, meeting) move that time. Times are in
the analyser's time base; working hours need Unix epoch seconds (plus
``AlertPolicy.utc_offset_h``) to mean local clock hours.
"""

from __future__ import annotations

import math
from typing import Any

from analysis.events import Alert
from analysis.programme import suggest_stretch
from analysis.settings import AlertPolicy, UserAction

__all__ = ["AlertScheduler", "next_working_time"]

_DAY_S = 86400.0
_HOUR_S = 3600.0


def next_working_time(t_s: float, policy: AlertPolicy) -> float:
    """Return the first time >= ``t_s`` when alerts are allowed: in working hours, out of quiet hours.

    Args:
        t_s: Unix epoch time in s.
        policy: The alert policy (``working_hours`` or ``weekly_hours`` and
            ``quiet_hours`` in local hours, ``utc_offset_h``).

    Returns:
        ``t_s`` itself when alerts are allowed then (always, without working or quiet
        hours), else the next time they are; ``math.inf`` when the policy allows none in
        the coming week (no working hours on any day).

    >>> p = AlertPolicy(working_hours=(9.0, 17.0))
    >>> next_working_time(10 * 3600.0, p) == 10 * 3600.0, next_working_time(18 * 3600.0, p) / 3600
    (True, 33.0)
    >>> lunch = AlertPolicy(working_hours=(9.0, 17.0), quiet_hours=((12.0, 13.0),))
    >>> next_working_time(12.5 * 3600.0, lunch) / 3600
    13.0
    >>> weekdays = AlertPolicy(weekly_hours=((9.0, 17.0),) * 5 + (None, None))  # 1 Jan 1970 was a Thursday
    >>> next_working_time(2 * 86400 + 10 * 3600.0, weekdays) / 86400  # Saturday 10:00: Monday 09:00
    4.375
    """
    if policy.working_hours is None and policy.weekly_hours is None and not policy.quiet_hours:
        return t_s
    offset_s = policy.utc_offset_h * _HOUR_S
    local_s = t_s + offset_s
    today = math.floor(local_s / _DAY_S)
    for day in range(today - 1, today + 9):  # the day before: its hours may run past midnight
        for start_s, end_s in _allowed(policy, day):
            if end_s > local_s:
                return max(start_s, local_s) - offset_s
    return math.inf


def _allowed(policy: AlertPolicy, day: int) -> list[tuple[float, float]]:
    """The spans of local time (s since the epoch's local midnight) with alerts allowed that start on ``day``.

    The working hours that start on the day (they may run past midnight), less every
    quiet span that overlaps them, in time order.
    """
    hours = policy.hours_of((day + 3) % 7)  # day 0, 1 Jan 1970, was a Thursday (weekday 3)
    if hours is None:
        return []
    start, end = hours
    midnight = day * _DAY_S
    spans = [(midnight + start * _HOUR_S, midnight + (end if end > start else end + 24.0) * _HOUR_S)]
    for q_start, q_end in policy.quiet_hours:
        for d in (day - 1, day, day + 1):
            lo = d * _DAY_S + q_start * _HOUR_S
            hi = d * _DAY_S + (q_end if q_end > q_start else q_end + 24.0) * _HOUR_S
            spans = [part for span in spans for part in _minus(span, lo, hi)]
    return spans


def _minus(span: tuple[float, float], lo: float, hi: float) -> list[tuple[float, float]]:
    """``span`` less ``[lo, hi)``: zero, one or two spans."""
    start, end = span
    if hi <= start or lo >= end:
        return [span]
    return [s for s in ((start, lo), (hi, end)) if s[1] > s[0]]


class AlertScheduler:
    """When the next sit-too-long alert is due, and the quiet times set by the wearer.

    Args:
        policy: The alert policy.
    """

    def __init__(self, policy: AlertPolicy) -> None:
        self.policy = policy
        self.bout_start_s: float | None = None
        self.base_due_s: float | None = None
        self.repeat = 0
        self.open_alert: Alert | None = None
        self.snoozed_until_s: float | None = None
        self.meeting_until_s: float | None = None
        self.exercising = False  # a guided exercise runs: no alert until it ends

    def set_policy(self, policy: AlertPolicy) -> None:
        """Follow a new policy: a running bout not yet alerted is due ``max_sitting_s`` after its start."""
        self.policy = policy
        if self.bout_start_s is not None and self.repeat == 0:
            self.base_due_s = self.bout_start_s + policy.max_sitting_s

    def exercise(self, t_s: float, *, running: bool) -> None:
        """A guided exercise starts (``running``) or ends at ``t_s``.

        Starting one answers the open alert; while it runs no alert is raised, and
        after it the next is due no sooner than ``repeat_s`` later.
        """
        self.exercising = running
        self.open_alert = None
        if self.base_due_s is not None:
            self.base_due_s = max(self.base_due_s, t_s + self.policy.repeat_s)

    def start_bout(self, t_s: float) -> None:
        """A sitting bout began at ``t_s``: the first alert is due ``max_sitting_s`` later."""
        self.bout_start_s = t_s
        self.base_due_s = t_s + self.policy.max_sitting_s
        self.repeat = 0
        self.open_alert = None

    def end_bout(self) -> None:
        """The sitting bout ended: nothing is due and the open alert is settled."""
        self.bout_start_s = None
        self.base_due_s = None
        self.open_alert = None

    def next_due_s(self) -> float | None:
        """Return when the next alert is due, honouring quiet times and working hours (None: none is)."""
        if self.base_due_s is None or self.exercising:
            return None
        due = self.base_due_s
        for quiet in (self.snoozed_until_s, self.meeting_until_s):
            if quiet is not None:
                due = max(due, quiet)
        due = next_working_time(due, self.policy)
        return None if math.isinf(due) else due

    def fire(self, t_s: float) -> Alert:
        """Raise the due alert at ``t_s``; the next one follows after ``repeat_s``."""
        if self.bout_start_s is None:
            raise RuntimeError("no sitting bout is running")
        alert = Alert(
            t_s=t_s,
            sitting_since_s=self.bout_start_s,
            repeat=self.repeat,
            stretch_id=suggest_stretch(self.repeat, self.bout_start_s).id,
        )
        self.open_alert = alert
        self.base_due_s = t_s + self.policy.repeat_s
        self.repeat += 1
        return alert

    def act(self, action: UserAction, t_s: float) -> float | None:
        """Apply a wearer's action at ``t_s``.

        Every action but ``MEETING_END`` settles the open alert. ``DONE`` and ``DISMISS``
        acknowledge it: the next reminder follows ``repeat_s`` later unless the sitting
        bout ends first (a break ends it whatever was pressed).

        Args:
            action: What the wearer did.
            t_s: When.

        Returns:
            The end of the quiet time started (snooze, meeting), else ``None``.
        """
        until: float | None = None
        if action is UserAction.MEETING_END:
            self.meeting_until_s = None
            return None
        self.open_alert = None
        if action in (UserAction.DONE, UserAction.DISMISS):
            if self.base_due_s is not None:
                self.base_due_s = t_s + self.policy.repeat_s
        elif action is UserAction.SNOOZE:
            until = self.snoozed_until_s = t_s + self.policy.snooze_s
        elif action is UserAction.MEETING:
            until = self.meeting_until_s = t_s + self.policy.meeting_s
        return until

    def quiet_until(self, now_s: float | None) -> tuple[float | None, float | None]:
        """Return ``(snoozed_until_s, meeting_until_s)``, each ``None`` once past ``now_s``."""

        def live(v: float | None) -> float | None:
            return None if v is None or (now_s is not None and v <= now_s) else v

        return live(self.snoozed_until_s), live(self.meeting_until_s)

    def snapshot(self) -> dict[str, Any]:
        """Return the JSON-serialisable state."""
        return {
            "bout_start_s": self.bout_start_s,
            "base_due_s": self.base_due_s,
            "repeat": self.repeat,
            "open_alert": None if self.open_alert is None else self.open_alert.to_dict(),
            "snoozed_until_s": self.snoozed_until_s,
            "meeting_until_s": self.meeting_until_s,
            "exercising": self.exercising,
        }

    def load(self, state: dict[str, Any]) -> None:
        """Restore the state saved by ``snapshot()``."""
        self.bout_start_s = state["bout_start_s"]
        self.base_due_s = state["base_due_s"]
        self.repeat = int(state["repeat"])
        alert = state["open_alert"]
        self.open_alert = (
            None
            if alert is None
            else Alert(
                t_s=alert["t_s"],
                sitting_since_s=alert["sitting_since_s"],
                repeat=alert["repeat"],
                stretch_id=alert["stretch_id"],
                kind_name=alert["alert"],
            )
        )
        self.snoozed_until_s = state["snoozed_until_s"]
        self.meeting_until_s = state["meeting_until_s"]
        self.exercising = bool(state.get("exercising", False))
