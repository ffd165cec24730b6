"""A guided exercise under way: its repetitions and holds per side, against the dose.

The Session page of the dashboard follows one guided exercise (the ``exercise_start``
action) from the events the analysis worker stores for it: each repetition as it
completes (:class:`~analysis.reps.RepCounted`), each hold as it starts
(:class:`~analysis.holds.HoldStarted`) and ends (:class:`~analysis.holds.HoldEnded`).
:func:`guided_progress` counts the events of one set; :func:`target_count` and
:meth:`GuidedProgress.met` compare the counts with the dose.

**What counts.** An exercise dosed by repetitions with a hold in each (the knee roll,
knee hug, back stabiliser) may be followed by the repetition counter, the hold timer or
both, depending on the placement (``analysis.sets.followed``): a side's count is the
larger of its repetitions and its holds, as ``sitless session`` stops on. An exercise
dosed by a hold alone (the plank) counts its holds, one being the dose.

**Sides.** The detectors report the side of a knee roll's repetitions and of the holds
of the per-side exercises (``"left"`` being the side of the set's first one, as the
programme's guided sessions start: ``analysis.reps.RepCounter``,
``analysis.holds.HoldTimer``); such an event counts to its side. An event without a side
(a detector that tells no sides from this placement) counts to the first side until the
wearer is told to change over (``switch_s``), and to the second side from then on.

>>> rep = lambda t_s: RepCounted(t_s, t_s - 1.0, "squat", 1)
>>> progress = guided_progress([rep(10.0), rep(12.0), rep(3.0)], per_side=False, since_s=5.0)
>>> progress.count(0), progress.met(Dose(reps=2))
(2, True)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from analysis.holds import HoldEnded, HoldStarted
from analysis.programme import Dose
from analysis.reps import RepCounted

__all__ = [
    "REST_BETWEEN_SETS_S",
    "SIDES",
    "GuidedProgress",
    "SideProgress",
    "guided_progress",
    "target_count",
]

#: Rest between two sets, s. programme.md sets none; sitless rests 30 s, within the "less
#: than 1 min" the ACSM position stand on resistance training advises for moderate sets of
#: 10-15 repetitions trained for muscular endurance (American College of Sports Medicine
#: 2009, Med Sci Sports Exerc 41(3):687-708, doi:10.1249/MSS.0b013e3181915670), and the
#: rest of the simulator's guided sessions (``firmware_sim.exercises.guided_session``).
REST_BETWEEN_SETS_S = 30.0
#: The two sides of a per-side exercise, in the order they are done.
SIDES = ("left", "right")

GuidedEvent = RepCounted | HoldStarted | HoldEnded


@dataclass(frozen=True, slots=True)
class SideProgress:
    """What was done on one side of a set (the whole set for an exercise done on both sides at once).

    Attributes:
        side: ``"left"``, ``"right"``, or None for an exercise not done per side.
        reps: Repetitions counted.
        holds: Holds ended, in time order.
    """

    side: str | None
    reps: int = 0
    holds: tuple[HoldEnded, ...] = ()

    @property
    def count(self) -> int:
        """The side's count against the dose: the larger of its repetitions and its holds."""
        return max(self.reps, len(self.holds))


@dataclass(frozen=True, slots=True)
class GuidedProgress:
    """One set of a guided exercise so far.

    Attributes:
        sides: One entry (side None), or two (left, right) for a per-side exercise.
        holding: The hold under way (started, not yet ended), or None.
        last_s: Time of the latest event counted, s (None before any).
        sided: Some event counted named its side: the analysis tells the sides apart
            here, rather than the page by the time of the change-over.
    """

    sides: tuple[SideProgress, ...]
    holding: HoldStarted | None = None
    last_s: float | None = None
    sided: bool = False

    @property
    def reps(self) -> int:
        """Repetitions on every side."""
        return sum(s.reps for s in self.sides)

    @property
    def holds(self) -> tuple[HoldEnded, ...]:
        """Holds on every side, in time order."""
        return tuple(sorted((h for s in self.sides for h in s.holds), key=lambda h: h.start_s))

    @property
    def broken(self) -> int:
        """Holds broken early (shorter than their target)."""
        return sum(h.broken for h in self.holds)

    @property
    def bounced(self) -> int:
        """Holds in which the wearer bounced (the programme says never to)."""
        return sum(h.bounces > 0 for h in self.holds)

    def count(self, side: int) -> int:
        """The count of side ``side`` (0 the first, 1 the second) against the dose; 0 for a side not done."""
        return self.sides[side].count if 0 <= side < len(self.sides) else 0

    def held_s(self, now_s: float) -> float | None:
        """How long the hold under way has lasted at ``now_s`` (s, never negative), or None without one."""
        return None if self.holding is None else max(0.0, now_s - self.holding.t_s)

    def met(self, dose: Dose, side: int | None = None) -> bool:
        """Whether the dose of one set is done on one side (``side``), or on every side (None).

        >>> GuidedProgress((SideProgress("left", 3), SideProgress("right", 1))).met(Dose(reps=3, per_side=True), 0)
        True
        """
        target = target_count(dose)
        if target == 0:
            return False  # a timed activity or "as comfortable": the wearer says when it is done
        indices = range(dose.sides) if side is None else (side,)
        return all(self.count(i) >= target for i in indices)


def target_count(dose: Dose) -> int:
    """The count one side of one set asks for: the repetitions, else one hold, else 0 (a timed activity).

    >>> [target_count(d) for d in (Dose(hold_s=(10.0, 30.0)), Dose(reps=10), Dose(duration_s=(60.0, 60.0)))]
    [1, 10, 0]
    """
    if dose.reps is not None:
        return dose.reps
    return 1 if dose.hold_s is not None else 0


def _time(event: GuidedEvent) -> float:
    """When an event counts: a repetition when complete, a hold when it began."""
    return event.start_s if isinstance(event, HoldEnded) else event.t_s


def guided_progress(
    events: Iterable[GuidedEvent],
    *,
    per_side: bool,
    since_s: float,
    until_s: float = math.inf,
    switch_s: float | None = None,
) -> GuidedProgress:
    """Count the repetitions and holds of one set of a guided exercise, per side.

    Args:
        events: The exercise's ``rep``, ``hold_started`` and ``hold`` events, in any order.
        per_side: The dose is per side (``Dose.per_side``).
        since_s: Start of the set, s: earlier events are left out.
        until_s: End of the set, s: events from then on are left out.
        switch_s: When the wearer was told to change to the second side, s; events
            without a side count to the second side from then on (None: not yet).

    Returns:
        The counts per side, the hold under way and the latest event's time.

    >>> left = HoldEnded(1.0, 11.0, "knee_roll", "left", 10.0, False, 0, 1)
    >>> right = HoldStarted(20.0, "knee_roll", "right", 10.0)
    >>> p = guided_progress([left, right], per_side=True, since_s=0.0)
    >>> p.count(0), p.count(1), p.held_s(26.5)
    (1, 0, 6.5)
    """
    inside = sorted((e for e in events if since_s <= _time(e) < until_s), key=_time)
    names: tuple[str | None, ...] = SIDES if per_side else (None,)
    reps = dict.fromkeys(names, 0)
    holds: dict[str | None, list[HoldEnded]] = {name: [] for name in names}
    ended = {round(h.start_s, 6) for h in inside if isinstance(h, HoldEnded)}
    holding: HoldStarted | None = None
    for event in inside:
        side = _side_of(event, per_side=per_side, switch_s=switch_s)
        if isinstance(event, RepCounted):
            reps[side] += 1
        elif isinstance(event, HoldEnded):
            holds[side].append(event)
        elif round(event.t_s, 6) not in ended:
            holding = event
    if holding is not None and any(h.start_s > holding.t_s for s in holds.values() for h in s):
        holding = None  # a later hold has ended: this start lost its end (a restarted worker)
    return GuidedProgress(
        tuple(SideProgress(name, reps[name], tuple(holds[name])) for name in names),
        holding,
        _time(inside[-1]) if inside else None,
        per_side and any(e.side in SIDES for e in inside),
    )


def _side_of(event: GuidedEvent, *, per_side: bool, switch_s: float | None) -> str | None:
    """The side an event counts to (module docstring, *Sides*)."""
    if not per_side:
        return None
    if event.side in SIDES:
        return event.side
    return SIDES[1] if switch_s is not None and _time(event) >= switch_s else SIDES[0]
