"""Closed sets and settings of the analysis: placements, postures, user actions, alert policy.

The alert policy defaults come from DESIGN.md ("Alert policy"): sitting longer than
30 minutes without a break raises an alert, a break is at least 1 minute of standing
or walking, an unanswered alert repeats after 10 minutes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from enum import StrEnum

__all__ = [
    "THORAX",
    "WEEKDAYS",
    "AlertPolicy",
    "AnalysisSettings",
    "InBedSettings",
    "Placement",
    "Posture",
    "PostureTuning",
    "SlouchPolicy",
    "ThighTuning",
    "UserAction",
]


class Placement(StrEnum):
    """Where the sensor is worn (the ``--placement`` values of ``sitless analyze``)."""

    THIGH = "thigh"
    WAIST = "waist"
    LOWER_BACK = "lower_back"
    CHEST = "chest"
    UPPER_BACK = "upper_back"
    WRIST = "wrist"


#: Placements on the thorax (chest, upper back): the ones that measure slouch.
THORAX: frozenset[Placement] = frozenset({Placement.CHEST, Placement.UPPER_BACK})


class Posture(StrEnum):
    """The postures reported for every stretch of a recording.

    ``nonwear`` is a sensor that is not on the body (left on the desk): it is never
    sitting and never raises an alert.
    """

    SITTING = "sitting"
    STANDING = "standing"
    LYING = "lying"
    WALKING = "walking"
    OTHER = "other"
    NONWEAR = "nonwear"


#: Integer codes of the postures in per-frame arrays (index into this tuple).
POSTURE_CODES: tuple[Posture, ...] = tuple(Posture)
#: Postures that count towards a break from sitting (DESIGN.md: "standing or walking").
UPRIGHT: frozenset[Posture] = frozenset({Posture.STANDING, Posture.WALKING})


class UserAction(StrEnum):
    """What the wearer can do: answer an alert, calibrate the upright, or do an exercise.

    ``DONE``, ``SNOOZE``, ``MEETING`` and ``DISMISS`` answer an open sit-too-long alert:
    the break was taken; ask again after ``AlertPolicy.snooze_s``; no alerts for
    ``AlertPolicy.meeting_s``; or the reminder is put away without a break or a snooze
    (the next one follows ``AlertPolicy.repeat_s`` later, as after ``DONE``).
    ``CALIBRATE`` means the wearer now stands still and upright for
    ``PostureTuning.calibration_s``; that posture becomes the upright reference.
    ``EXERCISE_START`` (with the exercise's id) begins a guided exercise, whose
    repetitions and holds are followed until ``EXERCISE_END`` or the next start.
    """

    DONE = "done"
    SNOOZE = "snooze"
    MEETING = "meeting"
    MEETING_END = "meeting_end"
    CALIBRATE = "calibrate"
    EXERCISE_START = "exercise_start"
    EXERCISE_END = "exercise_end"
    DISMISS = "dismiss"


def _check_positive(name: str, value: float) -> None:
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
            _check_positive(name, getattr(self, name))
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
            _check_positive(name, getattr(self, name))
        if self.slouch_deg >= 90.0:
            raise ValueError(f"slouch_deg must be < 90, got {self.slouch_deg!r}")


@dataclass(frozen=True, slots=True)
class PostureTuning:
    """Signal-processing knobs of the posture classifier, with their provenance.

    The defaults were measured on the development split of ``../shared/data``
    (``uci_hapt`` waist and ``spsw_pocket_tug`` pocket/thigh recordings) with
    ``python ../shared/tools/score.py posture ../shared/data/uci_hapt
    ../shared/data/spsw_pocket_tug --cli .venv/bin/sitless``; ``docs/validation.md``
    lists the figures and the measurements behind each knob.

    Attributes:
        frame_s: Resolution of the posture timeline. 0.1 s is the scoring grid of
            ``score.py`` and short enough for the 0.5-3 s seated stretches of
            ``spsw_pocket_tug``.
        gravity_window_s: Centred window of the gravity (mean acceleration) estimate.
        intensity_window_s: Centred window of the movement intensity (standard
            deviation of |a|). 1.2 s holds about two steps (~0.5 s each) and keeps the
            movement of a stand-up or sit-down from spilling into the 1-3 s seated ends of
            ``spsw_pocket_tug``: against 2.0 s it raised that dataset's sitting recall
            from 0.81 to 0.85 with walking recall 0.99-1.00 and no change on ``uci_hapt``.
        smooth_s: Centred majority filter over the per-frame postures. A frame whose
            gravity window holds no sample (a gap in the data) is ``other``.
        walk_sd_g: Movement intensity (SD of |a|, g) above which the wearer is taken
            to be walking. Static postures in both datasets stay below 0.03 g; walking
            is 0.1-0.45 g.
        walk_confirm_s: Walking-intensity movement shorter than this is treated as part
            of a postural transition (a brisk sit-to-stand reaches walking intensity for
            up to ~1.5 s in ``uci_hapt``), not as walking that teaches the reference.
        still_sd_g: Movement intensity below which the wearer is still (a transition
            has ended); labelled still postures of ``uci_hapt`` stay below it.
        move_deg: A gravity direction turning more than this within 0.5 s is movement
            even when |a| hardly changes (a slow sit-down).
        settle_s: Stillness needed after a movement before the posture after it is
            decided (1 s of it gives the still level, see ``analysis.transitions``).
        decision_delay_s: How long a frame stays pending (correctable) after it was
            seen; at least ``settle_s``.
        max_transition_s: A movement longer than this is not a postural transition
            (sit-to-stand takes 1-4 s: Janssen et al. 2002, Phys Ther 82(9):866-879);
            no hip displacement is measured over it.
        sit_down_m: Hip displacement (m, negative down) at or below ``-sit_down_m``
            means the wearer sat down.
        stand_up_m: Hip displacement at or above this means the wearer stood up.
            Both measured on the ``uci_hapt`` development transitions (stand-to-sit
            -0.20 +- 0.17 m, 95th percentile +0.01 m; sit-to-stand +0.34 +- 0.12 m, 5th
            percentile +0.23 m; ``analysis.transitions``).
        sit_jolt_g: Without a measured descent of the hips, a trunk that turned from
            standing by the sitting cut-point is seated only if |a| departed from its
            still level by at least this during the movement: lowering the body by
            0.3-0.5 m onto a seat and stopping it there takes vertical acceleration,
            while a standing forward bend or stretch turns the trunk about the hips
            without moving them up or down. Every ``uci_hapt`` development
            stand-to-sit decided from standing peaked at 0.138 g or more; 0.05 g is
            the activity level of ``analysis.transitions``.
        angle_hold_s: A trunk posture no measured transition decided (only the angle
            or a default did) follows the inclination against the walking upright once
            that has disagreed with it, still, for this long: a trunk that turned to a
            seated angle without the jolt of a sit-down (``sit_jolt_g``) stays standing
            at first, as in a bend, but a bend, a stretch or a shift on the chair is
            over within seconds (``analysis.stance``). On the ``uci_hapt`` development
            split 10 s turned 6 s of an upright sitter's labelled sitting into standing
            and 15 s none; ``python -m bench.days --plain`` (postures changed by turning
            the sensor only) passes every waist and lower-back day at 10-15 s, while at
            20 s a break of just over a minute is read as under one.
        handled_deg: Before a walking upright is known, a trunk posture further than
            this from the device's long axis is taken for a sensor held in the hand or
            being clipped on, not for a standing wearer (``analysis.stance``):
            ``uci_hapt`` exp45_user22 starts so, 54 deg off, while the labelled standing
            of every development recording is within 28 deg (30, 45 and 50 deg score
            the same).
        rise_from_lying_m: Hip rise that marks standing straight up from lying;
            lie-to-sit measured -0.06 +- 0.18 m (95th percentile +0.19 m).
        min_lying_s: Lying shorter than this before a movement is taken for a sensor
            being handled (clipped on, picked up), not a posture to rise from.
        fidget_deg: Without measurable hip displacement, a movement that turns the
            trunk less than this keeps the posture (a fidget).
        min_cadence_hz: Walking-intensity movement teaches the upright only when |a|
            rises and falls at least this many times per second over the last
            ``walk_confirm_s`` (``analysis.reference.gait_like``). Free-living walking
            cadence stays above ~1.3 steps/s even when slow (80 steps/min: Tudor-Locke
            et al. 2018, Br J Sports Med 52(12):776-788, doi:10.1136/bjsports-2017-097628),
            squats and similar repetitions run at 0.3-0.7 per second (programme.md
            squat: ~2 s each).
        ref_min_walk_s: Walking time needed before the walking-referenced upright
            replaces the provisional device-axis reference.
        ref_half_life_s: Walking time after which an earlier walking frame counts half
            in the upright reference, so a sensor that slipped is followed.
        ref_reset_deg: A walking bout whose first ``ref_min_walk_s`` settle this far
            from the reference replaces it at once (the sensor was re-clipped).
        calibration_s: Still standing taken as the upright after ``UserAction.CALIBRATE``.
        nonwear_window_s: Window over which a sensor that does not move at all is
            called not worn. Worn stillness comes close to ``nonwear_range_g`` for
            seconds: the stillest 10-s windows of ``uci_hapt`` development postures
            measured 3.4 mg (lying, exp59_user29) and 4.1 mg (sitting, exp46_user23),
            20-s windows 5.5 mg (lying) and 12.9 mg (sitting). 60 s asks a still wearer
            for three times the stillness of the 20 s used before; since the frames of
            a stillness wait undecided (``calm_window_s``), the longer window delays
            the decision, never mislabels the desk. The same ``uci_hapt`` recordings
            stretched to office lengths (``python -m bench.stretched``, whose
            back-and-forth replay can double a still stretch) showed non-wear on 39 of
            360 worn days at 20 s, 13 of them failing the day (the upright trunk after
            the non-wear read as standing), and on none at 60 s.
        nonwear_range_g: Largest range (max - min on every axis) of the 1-s mean
            acceleration over ``nonwear_window_s`` for non-wear. Simulated desk
            (``firmware_sim`` NONWEAR, 3 mg noise) stays at 2.0-2.5 mg; the stillest
            20-s windows of real worn still postures measured 5.5 mg (``uci_hapt``
            lying), 12.9 mg (sitting), 10.1 mg (standing), 7.4 mg (``mex_thigh`` clam).
        calm_window_s: Window over which the 1-s mean acceleration staying within
            ``nonwear_range_g`` marks a frame as possibly the start of non-wear: such
            frames stay undecided (up to ``nonwear_window_s``) until the stillness
            either ends or fills the non-wear window, so that a sensor put on a desk is
            non-wear from the moment it lay still, never a posture first.
        nonwear_rate_hz: Sample rate ``nonwear_range_g`` holds for (both datasets above
            are 50 and 25 Hz). At a higher rate the 1-s mean of white sensor noise is
            quieter by the square root of the rate, so the range is scaled down by
            ``sqrt(nonwear_rate_hz / rate)``: a worn sensor whose stillness shows only
            as noise reads the same at 100 Hz as at 50 Hz. Below this rate the range is
            not raised (a body's sway does not grow with the rate).
        max_step_back_s: A sample time at most this far behind the latest time already
            seen is clock jitter (a packet timestamp corrected by a few ms, a clock
            slewed by synchronisation): the sample is held at that latest time. Further
            back, the device's clock went back (an old recording re-sent, a clock
            reset, a simulator run again with the same start) and the analysis starts
            a new segment (``analysis.analyzer``). None of the recordings of
            ``../shared/data`` (1.19 million steps of ``uci_hapt``,
            ``spsw_pocket_tug``, ``mex_thigh`` and ``spar_wrist``, ``numpy.diff`` of
            each CSV's ``t``) steps back at all, and ``firmware_sim`` jitters each
            sample by 0.5 ms (``MotionParams.timing_jitter_s``); 1 s is ten frames, far
            inside ``AlertPolicy.min_break_s``, so holding jittered samples moves no
            bout edge by more than a second.
        max_gap_s: A step forward longer than this starts a new segment: the time
            between is not analysed at all, and no frame is kept for it. Shorter gaps
            (a BLE link lost for a few minutes) stay in the timeline as missing data,
            which ends a sitting bout after ``AlertPolicy.min_break_s`` and shows as
            ``other`` in the posture bouts. The longest forward step in the
            recordings of ``../shared/data`` (measured as for ``max_step_back_s``) is
            0.19 s (``spsw_pocket_tug`` s11_08). Past ``min_break_s`` the length of a
            gap hardly matters to sitting bouts and alerts (missing data ends a bout
            either way), only to what it costs: the 6000 empty
            frames of a 600-s gap peak at 2.8 MB in one ``Analyzer.update``
            (``tracemalloc``, thigh, 20 Hz), where a day of them took 193 MB.
    """

    frame_s: float = 0.1
    gravity_window_s: float = 1.0
    intensity_window_s: float = 1.2
    smooth_s: float = 1.0
    walk_sd_g: float = 0.1
    walk_confirm_s: float = 3.0
    still_sd_g: float = 0.03
    move_deg: float = 5.0
    settle_s: float = 1.5
    decision_delay_s: float = 2.0
    max_transition_s: float = 8.0
    sit_down_m: float = 0.05
    stand_up_m: float = 0.12
    sit_jolt_g: float = 0.05
    angle_hold_s: float = 15.0
    handled_deg: float = 45.0
    rise_from_lying_m: float = 0.5
    min_lying_s: float = 5.0
    fidget_deg: float = 10.0
    min_cadence_hz: float = 1.0
    ref_min_walk_s: float = 5.0
    ref_half_life_s: float = 120.0
    ref_reset_deg: float = 30.0
    calibration_s: float = 5.0
    nonwear_window_s: float = 60.0
    nonwear_range_g: float = 0.004
    calm_window_s: float = 2.0
    nonwear_rate_hz: float = 50.0
    max_step_back_s: float = 1.0
    max_gap_s: float = 600.0

    def __post_init__(self) -> None:
        for knob in fields(self):
            _check_positive(knob.name, getattr(self, knob.name))
        if self.decision_delay_s < self.settle_s:
            raise ValueError(f"decision_delay_s ({self.decision_delay_s}) must be >= settle_s ({self.settle_s})")
        if self.calm_window_s > self.nonwear_window_s:
            raise ValueError(
                f"calm_window_s ({self.calm_window_s}) must be <= nonwear_window_s ({self.nonwear_window_s})"
            )

    def frames(self, seconds: float) -> int:
        """Half-width in frames of a centred window of ``seconds``.

        Args:
            seconds: Full window length in s.

        Returns:
            Number of frames on each side of the centre frame (>= 0).

        >>> PostureTuning().frames(1.0)
        5
        """
        return max(0, round(seconds / self.frame_s / 2.0))


@dataclass(frozen=True, slots=True)
class ThighTuning:
    """Cut-points of lying from the thigh (provenance: ``analysis.thigh``).

    Attributes:
        knee_up_deg: Inclination from the walking upright at or beyond which the femur
            points upward (knee above the hip): lying.
        roll_deg: Rotation about the long axis from the seat at or beyond which the
            thigh is lying (Lyden et al. 2016: 65 deg).
        seat_follow_deg: A bout starting within this rotation of the seat refines it.
        seat_weight: Weight of the seat learned so far against one new bout start.
        ref_moved_deg: The upright reference turned this far since the seat was
            learned (the sensor was re-clipped): the seat is learned again.
        epoch_s: Epoch of the angle whose changes are moves, s (``analysis.stillness``).
        move_deg: Change of that angle between successive epochs that is a move, deg.
        hold_s: A sit-too-long alert that falls due after this long without a move is
            held back.
        release_s: A held alert is released this long after the next move, if the
            wearer still sits.
    """

    knee_up_deg: float = 110.0
    roll_deg: float = 65.0
    seat_follow_deg: float = 30.0
    seat_weight: float = 3.0
    ref_moved_deg: float = 20.0
    epoch_s: float = 5.0
    move_deg: float = 5.0
    hold_s: float = 20 * 60.0
    release_s: float = 120.0

    def __post_init__(self) -> None:
        for knob in fields(self):
            _check_positive(knob.name, getattr(self, knob.name))
        if not 90.0 < self.knee_up_deg < 180.0:
            raise ValueError(f"knee_up_deg must be within (90, 180), got {self.knee_up_deg!r}")
        if self.seat_follow_deg >= self.roll_deg or self.roll_deg >= 180.0:
            raise ValueError("need seat_follow_deg < roll_deg < 180")


@dataclass(frozen=True, slots=True)
class InBedSettings:
    """Knobs of the in-bed window (defaults: van Hees et al. 2018 and GGIR, see ``analysis.inbed``).

    Attributes:
        epoch_s: Epoch of the z-angle, s (5 s in the paper).
        median_s: Rolling median window of the angle changes, s (5 min).
        percentile: Percentile of the rolling median that sets the threshold (10th).
        multiplier: Factor on that percentile (15).
        min_threshold_deg: Lower bound of the threshold, deg (0.13, GGIR).
        max_threshold_deg: Upper bound of the threshold, deg (0.50, GGIR).
        min_block_s: A rest block must last more than this, s (30 min).
        max_join_gap_s: Blocks separated by less than this are joined, s (60 min).
        max_join_upright_s: ... unless more than this of the time between them is
            standing or walking, s (15 min; placements that report posture only).
        min_worn_s: A noon-to-noon window needs at least this much worn data to be judged,
            s (6 h; GGIR's ``includenightcrit`` asks 16 h for its sleep statistics, but
            sitless also uses the window to keep alerts out of bed, on the first and
            last night of a recording too: ``analysis.inbed``).
        max_span_s: ``AngleEpochs`` keeps samples at most this far from its anchor (the
            first sample, or the last ``discard_before``), s: a corrupt timestamp years
            away must not allocate years of epochs (32 bytes per epoch, 0.55 MB a day).
            92 days: longer than research protocols record in one go (1-4 weeks).
        min_lying_share: Where the placement reports lying, the least share of a rest
            block that must be lying for it to count (``analysis.inbed``).
    """

    epoch_s: float = 5.0
    median_s: float = 300.0
    percentile: float = 10.0
    multiplier: float = 15.0
    min_threshold_deg: float = 0.13
    max_threshold_deg: float = 0.50
    min_block_s: float = 1800.0
    max_join_gap_s: float = 3600.0
    max_join_upright_s: float = 900.0
    min_worn_s: float = 6 * 3600.0
    max_span_s: float = 92 * 86400.0
    min_lying_share: float = 0.5

    def __post_init__(self) -> None:
        for name in ("epoch_s", "median_s", "multiplier", "min_block_s", "max_span_s"):
            _check_positive(name, getattr(self, name))
        for name in ("min_threshold_deg", "max_threshold_deg", "max_join_gap_s", "max_join_upright_s", "min_worn_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if not 0.0 <= self.min_lying_share <= 1.0:
            raise ValueError(f"min_lying_share must be within [0, 1], got {self.min_lying_share!r}")
        if not 0 < self.percentile < 100:
            raise ValueError(f"percentile must be in (0, 100), got {self.percentile!r}")
        if self.min_threshold_deg > self.max_threshold_deg:
            raise ValueError(
                f"min_threshold_deg ({self.min_threshold_deg}) must be <= max_threshold_deg ({self.max_threshold_deg})"
            )
        if self.median_s < 2 * self.epoch_s:
            raise ValueError(f"median_s ({self.median_s}) must hold at least two epochs of {self.epoch_s} s")

    @property
    def median_epochs(self) -> int:
        """Width of the rolling median, in angle differences (60 by default)."""
        return max(2, round(self.median_s / self.epoch_s))


@dataclass(frozen=True, slots=True)
class AnalysisSettings:
    """Everything the analysis of one wearer needs.

    Attributes:
        placement: Where the sensor is worn.
        policy: The sit-too-long alert policy.
        tuning: Posture classifier knobs (defaults measured on real recordings).
        slouch: Slouch time and nudges (chest and upper back only).
        thigh: Lying from a thigh sensor (``analysis.thigh``).
        in_bed: The in-bed window of batch results (``analysis.inbed``).
        long_axis: Device axis (0=x, 1=y, 2=z) that lies along the body's long axis
            when the sensor is worn as intended; used, sign-agnostic, as the upright
            reference until one is learned from the wearer's own walking. ``None``
            takes the placement's default (see ``analysis.posture.default_long_axis``).
    """

    placement: Placement
    policy: AlertPolicy = field(default_factory=AlertPolicy)
    tuning: PostureTuning = field(default_factory=PostureTuning)
    slouch: SlouchPolicy = field(default_factory=SlouchPolicy)
    thigh: ThighTuning = field(default_factory=ThighTuning)
    in_bed: InBedSettings = field(default_factory=InBedSettings)
    long_axis: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.placement, Placement):
            object.__setattr__(self, "placement", Placement(self.placement))
        if self.long_axis is not None and self.long_axis not in (0, 1, 2):
            raise ValueError(f"long_axis must be 0, 1, 2 or None, got {self.long_axis!r}")
