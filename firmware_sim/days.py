"""Seeded whole days: an office day, and a 24-hour day with a night in bed and an evening at home.

:func:`office_day` is the working day of ``bench.days`` (about 8.5 h: the sensor on the
desk before and after, seated work bouts over and under 30 min with fidgets and short
stand-ups, desk standing, walks, a seated meeting, stretch-and-squat breaks, lunch).

:func:`full_day` runs from midnight to midnight with the sensor worn throughout: asleep
in bed until about 07:00, getting up over the edge of the bed, a morning routine, a
commute, the office day, the commute home, an evening of cooking, dinner and the sofa
(sitting, feet up, lying), a bedtime routine, sitting up in bed, and asleep again from
about 23:00. The steps in bed carry ``in_bed`` (:func:`firmware_sim.scenarios.in_bed_windows`).

A night is a chain of sleep positions (:data:`SLEEP_SHARE`, :data:`SHIFTS_PER_H`) from
Skarpsno et al. 2017 (Nat Sci Sleep 9:267-275, doi:10.2147/NSS.S145777): 54.1% of the
time in bed on the side, 37.5% on the back, 7.3% on the front, 1.6 position shifts an
hour. Each position lasts an exponential time (shifts come at random), and the next one
is drawn from the others in proportion to their shares; a position held ``m_i`` on
average is entered in proportion to ``share_i (1 - share_i)``, so ``m_i`` proportional
to ``1 / (1 - share_i)`` gives each position its share of the night, and the mean hold
``(1 - sum share^2) / 1.6`` h gives 1.6 shifts an hour. A roll from the back onto the
front or back goes over a side for a few seconds.
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np

from firmware_sim.scenarios import Activity, Script, Step

__all__ = ["DAY_S", "SHIFTS_PER_H", "SLEEP_SHARE", "after_evening", "full_day", "office_day"]

MIN = 60.0
H = 3600.0
DAY_S = 24 * H
A = Activity

#: Share of the time in bed in each sleep position (Skarpsno et al. 2017: side 54.1%,
#: back 37.5%, front 7.3%, normalised over the three; the side split evenly left/right).
SLEEP_SHARE: MappingProxyType[Activity, float] = MappingProxyType(
    {
        A.SUPINE: 0.375 / 0.989,
        A.SIDE_LEFT: 0.541 / 2 / 0.989,
        A.SIDE_RIGHT: 0.541 / 2 / 0.989,
        A.PRONE: 0.073 / 0.989,
    }
)
#: Position shifts per hour in bed (Skarpsno et al. 2017: 1.6, SD 0.7).
SHIFTS_PER_H = 1.6
#: Shortest hold of a sleep position, s: keeps a turn from following another at once.
_MIN_HOLD_S = 1 * MIN
#: Local time of going to bed and of getting up, h (drawn per seed).
_BEDTIME_H = (22.25, 23.75)
_WAKE_H = (6.25, 7.75)
#: Head-up incline of the thorax, deg: in bed the head lies on a pillow, the shoulders on
#: the mattress; on a sofa the head and shoulders rest on the armrest (an estimate from a
#: 0.1-0.2 m armrest under a thorax about 0.5 m long).
_BED_INCLINE_DEG = (0.0, 6.0)
_SOFA_INCLINE_DEG = (5.0, 20.0)


class _Day:
    """Collects the steps of a day from a seeded generator."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.steps: list[Step] = []

    @property
    def elapsed_s(self) -> float:
        return float(sum(step.duration_s for step in self.steps))

    def add(
        self,
        activity: Activity,
        low_s: float,
        high_s: float | None = None,
        *,
        incline_deg: float = 0.0,
        in_bed: bool = False,
    ) -> None:
        seconds = low_s if high_s is None else float(self.rng.uniform(low_s, high_s))
        self.steps.append(Step(activity, round(seconds, 1), round(incline_deg, 1), in_bed))

    def seated(self, low_s: float, high_s: float, *, stand_ups: bool = True) -> None:
        """A seated bout with a fidget every 4-10 min and, sometimes, a stand-up of < 1 min."""
        left = float(self.rng.uniform(low_s, high_s))
        while left > 0:
            piece = min(left, float(self.rng.uniform(4 * MIN, 10 * MIN)))
            self.add(A.SITTING, piece)
            left -= piece
            if left <= 30:
                break
            if stand_ups and self.rng.random() < 0.15:
                self.add(A.STANDING, 15, 40)  # reach a shelf, greet someone: no break
            else:
                self.add(A.FIDGET, 3, 8)

    def pause(self) -> None:
        """A break between seated bouts (every kind ends the bout: >= 1 min off the chair)."""
        kind = int(self.rng.integers(0, 4))
        if kind == 0:  # coffee or printer
            self.add(A.STANDING, 10, 40)
            self.add(A.WALKING, 1.5 * MIN, 4 * MIN)
            self.add(A.STANDING, 10, 60)
        elif kind == 1:  # standing desk
            self.add(A.STANDING, 8 * MIN, 25 * MIN)
        elif kind == 2:  # stretch-and-squat break (programme.md)
            self.add(A.STANDING, 20, 60)
            self.add(A.STRETCH, 1 * MIN, 2.5 * MIN)
            self.add(A.SQUAT, 15, 25)
            self.add(A.STANDING, 30, 90)
        else:  # a chat standing by the desk
            self.add(A.STANDING, 1.5 * MIN, 4 * MIN)

    def work(self, until_s: float) -> None:
        """Seated work bouts (about half of them over 30 min) with breaks until ``until_s``."""
        while self.elapsed_s < until_s:
            if self.rng.random() < 0.5:
                self.seated(33 * MIN, 55 * MIN)
            else:
                self.seated(8 * MIN, 25 * MIN)
            self.pause()

    def walk(self, low_s: float, high_s: float) -> None:
        self.add(A.STANDING, 5, 20)
        self.add(A.WALKING, low_s, high_s)
        self.add(A.STANDING, 5, 20)

    def office(self, work_h: float) -> None:
        """From arriving at the desk to leaving it (``office_day`` without the desk non-wear)."""
        self.add(A.STANDING, 20, 60)
        self.walk(1 * MIN, 3 * MIN)
        start = self.elapsed_s
        long_day = work_h >= 5.0
        self.work(start + (0.3 if long_day else 0.5) * work_h * 3600)
        if long_day:
            self.walk(2 * MIN, 4 * MIN)  # to the meeting room
            self.seated(40 * MIN, 60 * MIN, stand_ups=False)
            self.walk(2 * MIN, 4 * MIN)
            self.work(start + 0.5 * work_h * 3600)
            self.walk(3 * MIN, 6 * MIN)  # lunch
            self.seated(20 * MIN, 35 * MIN, stand_ups=False)
            self.walk(3 * MIN, 6 * MIN)
        self.work(start + work_h * 3600)
        self.walk(1 * MIN, 3 * MIN)
        self.add(A.STANDING, 20, 60)

    # The 24-hour day.

    def sleep(self, until_s: float) -> None:
        """Sleep positions in bed until ``until_s`` (the module docstring's chain)."""
        positions = list(SLEEP_SHARE)
        shares = np.array([SLEEP_SHARE[p] for p in positions])
        mean_hold_s = (1 - float(np.sum(shares**2))) / SHIFTS_PER_H * H
        position = positions[int(self.rng.choice(len(positions), p=shares))]
        while True:
            share = SLEEP_SHARE[position]
            hold = max(_MIN_HOLD_S, float(self.rng.exponential(mean_hold_s / (1 - share))))
            left = max(until_s - self.elapsed_s, _MIN_HOLD_S)
            last = hold >= left - _MIN_HOLD_S
            self.add(position, left if last else hold, incline_deg=self._incline(_BED_INCLINE_DEG), in_bed=True)
            if last:
                return
            others = [p for p in positions if p is not position]
            weights = np.array([SLEEP_SHARE[p] for p in others])
            following = others[int(self.rng.choice(len(others), p=weights / weights.sum()))]
            if {position, following} == {A.SUPINE, A.PRONE}:  # rolled over a side
                side = A.SIDE_LEFT if self.rng.random() < 0.5 else A.SIDE_RIGHT
                self.add(side, 3, 8, incline_deg=self._incline(_BED_INCLINE_DEG), in_bed=True)
            position = following

    def _incline(self, bounds: tuple[float, float]) -> float:
        return float(self.rng.uniform(*bounds))

    def get_up(self) -> None:
        """Awake with the knees up for a while (sometimes), then sitting on the edge of the bed."""
        if self.rng.random() < 0.5:
            self.add(A.HOOK_LYING, 1 * MIN, 5 * MIN, incline_deg=self._incline(_BED_INCLINE_DEG), in_bed=True)
        self.add(A.SITTING, 20, 90, in_bed=True)

    def room(self, low_s: float, high_s: float) -> None:
        """Standing about in a room, then a few steps to the next, stopping there (as ``walk``)."""
        self.add(A.STANDING, low_s, high_s)
        self.add(A.WALKING, 20, 60)
        self.add(A.STANDING, 5, 20)

    def morning(self) -> None:
        """Bathroom, dressing, a seated breakfast, the kitchen."""
        self.room(1 * MIN, 3 * MIN)
        self.room(8 * MIN, 15 * MIN)  # washing, showering
        self.room(3 * MIN, 8 * MIN)  # dressing
        self.seated(10 * MIN, 25 * MIN, stand_ups=False)  # breakfast
        self.room(2 * MIN, 6 * MIN)

    def commute(self) -> None:
        """A walk, a ride seated or standing, a walk."""
        self.walk(5 * MIN, 15 * MIN)
        if self.rng.random() < 0.5:
            self.seated(8 * MIN, 25 * MIN, stand_ups=False)
        else:
            self.add(A.STANDING, 8 * MIN, 20 * MIN)
        self.walk(3 * MIN, 10 * MIN)

    def sofa_lying(self, budget_s: float) -> None:
        """Lying on the sofa, head on the armrest, now and then turning; then sitting up."""
        end_s = self.elapsed_s + budget_s
        for _ in range(int(self.rng.integers(1, 3))):
            left = end_s - self.elapsed_s
            if left < 5 * MIN:
                break
            position = (A.SUPINE, A.HOOK_LYING, A.SIDE_LEFT, A.SIDE_RIGHT)[int(self.rng.integers(0, 4))]
            lying_s = min(float(self.rng.uniform(8 * MIN, 30 * MIN)), left)
            self.add(position, lying_s, incline_deg=self._incline(_SOFA_INCLINE_DEG))
        self.add(A.SITTING, 20, 3 * MIN)

    def evening(self, until_s: float) -> None:
        """Cooking, dinner, then the sofa until about ``until_s`` (less if the day ran late)."""
        for _ in range(int(self.rng.integers(2, 4))):
            self.room(4 * MIN, 10 * MIN)  # cooking
        self.seated(15 * MIN, 30 * MIN, stand_ups=False)  # dinner
        self.room(3 * MIN, 8 * MIN)
        while (left := until_s - self.elapsed_s) > 25 * MIN:
            if self.rng.random() < 0.3:  # feet up on the sofa
                self.add(A.SITTING, 5, 15)
                self.add(A.LONG_SITTING, min(float(self.rng.uniform(10 * MIN, 40 * MIN)), left - 5 * MIN))
            else:
                sitting_s = min(float(self.rng.uniform(15 * MIN, 70 * MIN)), left - 5 * MIN)
                self.seated(sitting_s, sitting_s)
            left = until_s - self.elapsed_s
            if left > 20 * MIN and self.rng.random() < 0.6:
                self.sofa_lying(left - 5 * MIN)
            elif self.steps[-1].activity is A.LONG_SITTING:
                self.add(A.SITTING, 5, 15)  # feet down before standing up
            self.add(A.STANDING, 10, 30)  # to the kitchen or the bathroom and back
            self.add(A.WALKING, 1 * MIN, 3 * MIN)
            self.add(A.STANDING, 10, 30)
        left = until_s - self.elapsed_s
        if left > 2 * MIN:  # tidying up
            self.room(left - 40, left - 40)

    def bedtime(self) -> None:
        """Bathroom, into bed over its edge, sometimes reading sitting up."""
        self.room(5 * MIN, 12 * MIN)
        self.add(A.SITTING, 15, 60, in_bed=True)
        if self.rng.random() < 0.5:
            self.add(A.LONG_SITTING, 5 * MIN, 20 * MIN, in_bed=True)


def office_day(seed: int, work_h: float = 8.0) -> Script:
    """A seeded office day: desk non-wear, work bouts, a meeting, lunch, desk non-wear.

    Args:
        seed: Seed of the day's choices (durations, kinds of break).
        work_h: Approximate hours between clipping the sensor on and taking it off; days
            of 5 h or more include a seated meeting and a seated lunch.

    Returns:
        The script (every step's duration rounded to 0.1 s).
    """
    day = _Day(np.random.default_rng([seed, 0xDA7]))
    day.add(A.NONWEAR, 3 * MIN, 12 * MIN)  # on the desk before it is clipped on
    day.office(work_h)
    day.add(A.NONWEAR, 3 * MIN, 12 * MIN)  # taken off and left on the desk
    return Script(f"office_day_{seed}", tuple(day.steps))


def full_day(seed: int) -> Script:
    """A seeded 24-hour day from midnight to midnight, the sensor worn throughout.

    Asleep until 06:15-07:45 and again from 22:15-23:45 (drawn per seed, later if the
    day ran late), with the office day of :func:`office_day` (7.5-8.5 h) in between; the
    module docstring lists the rest.

    Args:
        seed: Seed of the day's choices.

    Returns:
        The script, lasting exactly :data:`DAY_S`; its in-bed steps carry ``in_bed``.
    """
    day = _Day(np.random.default_rng([seed, 0xDA7, 24]))
    wake_s = float(day.rng.uniform(*_WAKE_H)) * H
    bed_s = float(day.rng.uniform(*_BEDTIME_H)) * H
    day.sleep(wake_s - 3 * MIN)
    day.get_up()
    day.morning()
    day.commute()
    day.office(float(day.rng.uniform(7.5, 8.5)))
    day.commute()
    day.evening(bed_s - 15 * MIN)
    day.bedtime()
    day.sleep(DAY_S + 1.0)
    return Script(f"full_day_{seed}", tuple(day.steps)).truncated(DAY_S)


def after_evening(seed: int) -> Script:
    """The end of ``full_day(seed)`` from its last walk (to bed) to midnight.

    Played before ``full_day(seed + 1)`` it makes that day the second of a recording
    worn for days, as a day in a week-long recording is: the analysis has seen the
    wearer walk before the night (a sensor clipped on by an unknown mounting learns the
    wearer's upright from walking), and the night runs on across midnight.

    Args:
        seed: Seed of the day it ends.

    Returns:
        The steps from the start of the day's last walking step to its end.
    """
    steps = full_day(seed).steps
    last_walk = max(i for i, step in enumerate(steps) if step.activity is A.WALKING)
    return Script(f"after_evening_{seed}", steps[last_walk:])


def until_first_walk(seed: int) -> Script:
    """The start of ``full_day(seed)`` until its first walk: the rest of the night, getting up.

    Played after ``full_day(seed - 1)`` it gives that day's last night whole, as in a
    recording worn for days: the in-bed window of a night is only known once the
    wearer has got up.

    Args:
        seed: Seed of the day it starts.

    Returns:
        The steps from midnight up to (not including) the day's first walking step.
    """
    steps = full_day(seed).steps
    first_walk = min(i for i, step in enumerate(steps) if step.activity is A.WALKING)
    return Script(f"until_first_walk_{seed}", steps[:first_walk])
