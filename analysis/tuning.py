"""Signal-processing knobs of the analysis: the posture classifier, lying from the thigh, the in-bed window.

Each knob carries its provenance: the recording and command that measured it, or the
paper it comes from. Unlike the policies (``analysis.policy``), the wearer does not
change them; a wearer's analysis is built with them once (``AnalysisSettings``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from analysis.policy import check_positive

__all__ = ["InBedSettings", "PostureTuning", "ThighTuning"]


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
            check_positive(knob.name, getattr(self, knob.name))
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
            check_positive(knob.name, getattr(self, knob.name))
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
            check_positive(name, getattr(self, name))
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
