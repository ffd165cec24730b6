"""The physical parameters of the simulated wearable, each named and justified.

Angles follow one convention for every body segment the sensor sits on (thigh, pelvis,
thorax, forearm): in the segment frame ``x`` runs along the segment's long axis towards
the head (up when standing, arms hanging), ``y`` points to the wearer's left and ``z``
out of the front of the segment. ``pitch`` tilts the top of the segment forwards
(negative: backwards), ``lateral`` tilts it sideways and ``roll`` turns it about its own
long axis. A thigh at ``pitch = -90°`` is horizontal with its front facing up, as when
seated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

__all__ = ["MotionParams"]


@dataclass(frozen=True, slots=True)
class MotionParams:
    """Body, gait and sensor parameters of the motion model (angles in degrees).

    Attributes:
        thigh_sitting_pitch_deg: Thigh inclination when seated. Seated thighs are close
            to horizontal (-90°); on an office chair the knees sit slightly below the hips,
            so -80° (the thigh-worn activPAL classifies sitting from this inclination:
            Grant et al. 2006, Br J Sports Med 40(12):992-997).
        pelvis_sitting_pitch_deg: Pelvis (waist, lower back) when seated: a backward
            pelvic tilt of 10-20° relative to standing is typical of unsupported and
            slumped sitting (Dankaerts et al. 2006, Spine 31(6):698-704; O'Sullivan et
            al. 2012, Man Ther 17(5):432-437).
        thorax_sitting_pitch_deg: Thorax (chest, upper back) when seated at a desk. The
            thorax tilts back less than the pelvis because the lumbar spine flexes
            (office sitting: posterior pelvic tilt with lumbar flexion at 43-79% of its
            maximum, doi:10.1016/j.apergo.2024.104374), so it ends a few degrees behind
            its standing inclination: a seated thorax alone hardly tells sitting from
            standing, the transition does.
        forearm_sitting_pitch_deg: Forearm resting on the desk while typing: near
            horizontal with the back of the wrist facing up.
        lying_roll_deg: Roll of the trunk (pelvis, thorax) and the thigh about their long
            axes when lying on the side (lateral decubitus). Side-lying is the most
            frequent sleep position: 54.1% of the time in bed, against 37.5% on the back
            and 7.3% on the front, with 1.6 (SD 0.7) position shifts an hour (Skarpsno et
            al. 2017, Nat Sci Sleep 9:267-275, doi:10.2147/NSS.S145777, thigh and
            upper-back accelerometers of 664 workers); these figures drive the nights of
            :mod:`firmware_sim.days`. The hips and knees flex in side-lying, but in the
            plane of the mattress, so the thigh stays horizontal and turns with the
            pelvis: a thigh sensor reads the same 90° roll. That roll is what lets a thigh
            sensor tell lying from sitting: thigh-only lying detection looks for a turn of
            the thigh past 65° about its long axis during a sit/lie bout (Lyden et al.
            2016, Med Sci Sports Exerc 48(4):742-747, doi:10.1249/MSS.0000000000000804;
            Hettiarachchi et al. 2021, Sensors 21(3):904, doi:10.3390/s21030904).
            ``Activity.LYING`` draws the side per step.
        lying_lean_deg: Half-range of a per-step uniform offset of every lying position
            about the long axis: a sleeper on the side leans towards the back or the
            front, and one on the back or front is seldom square (an estimate; with
            ``lying_roll_deg`` it keeps the side positions within 45° of lateral, the
            usual boundary between the side and the back or front).
        supine_thigh_roll_deg: Outward roll (external rotation) of the relaxed thigh
            lying on the back with the legs out: the leg falls outward until the hip's
            passive restraints hold it. Hip external rotation in supine reaches 38.5°
            on average in 120 adults (Kouyoumdjian et al. 2012, Orthop Traumatol Surg
            Res 98(1):17-23, doi:10.1016/j.otsr.2011.08.015), so the resting roll is
            taken as 20° ± ``lying_lean_deg`` (5-35°), inside that range. No direct
            measurement of the resting angle was found; the sign is that of a right-thigh
            sensor (external rotation turns its front to the wearer's right).
        top_thigh_drop_deg: In side-lying on the left, the sensor's (right) thigh is the
            upper one, and its knee drops onto the mattress in front of the lower leg:
            the thigh slopes down from hip to knee by asin((hip-joint height - knee
            half-width) / thigh length), about asin((0.12 - 0.05) / 0.43) = 10° with the
            segment proportions of Winter (2009), Biomechanics and Motor Control of Human
            Movement, 4th ed., doi:10.1002/9780470549148, Fig. 4.1 (hip width 0.191, thigh
            0.245 of body height, 1.75 m).
        hook_knee_flex_deg: Knee flexion when lying on the back with the knees bent and
            the feet flat (hook lying). The foot and the hip rest at about the same height,
            and the thigh (0.245) and shank (0.246 of body height; Winter 2009, Fig. 4.1)
            are about as long, so the thigh rises at half the knee flexion: 45° for 90°,
            the knee above the hip (±``lying_lean_deg`` per step).
        long_sitting_recline_deg: How much further back the pelvis and thorax lean when
            sitting up with the legs out (against a headboard or a sofa's back) than at a
            desk (an estimate: a backrest reclined about 20° more than an office chair).
        wrist_lying_spread_deg: Half-range of the forearm's inclination from horizontal
            when lying (drawn per step, its roll drawn anywhere): the arm rests beside the
            body, under the pillow or on the chest and hardly moves.
        posture_spread_deg: SD of a per-step offset of every static angle: nobody holds
            exactly the same posture twice.
        standing_sway_deg: Amplitude of postural sway while standing (quiet standing
            sway of the trunk is about 1°; Winter 1995, Gait Posture 3(4):193-214).
        sitting_sway_deg: Amplitude of small postural changes and breathing when seated.
            A worn sensor is never as still as one on a desk: the stillest 20-s windows
            of real seated recordings (``uci_hapt``) span 12.9 mg of 1-s mean
            acceleration, standing 10.1 mg (``docs/validation.md``, Non-wear). 1°, as
            for standing, gives the simulated seated trunk and thigh a stillest span of
            ~10 mg (0.4° gave 4 mg, as still as a desk).
        lying_sway_deg: The same when lying: real lying spans 5.5 mg at its stillest,
            which 0.75° reproduces (stillest simulated span ~5.5 mg).
        cadence_min_hz: Slowest walking step frequency. Self-selected walking pace
            frequency averages 1.99 Hz, SD 0.17 Hz (Pachi & Ji 2005, The Structural
            Engineer 83(3):36-40); indoor office walking is a little slower.
        cadence_max_hz: Fastest walking step frequency.
        walking_thigh_pitch_deg: Mean thigh inclination in gait: the thigh swings between
            about 25° of flexion and 15° of extension (Perry & Burnfield 2010, Gait
            Analysis: Normal and Pathological Function, 2nd ed.), so +5° mean ...
        thigh_swing_deg: ... and ±20° of swing at the stride frequency (half the cadence).
        thigh_sensor_radius_m: Distance of a mid-thigh sensor from the hip joint: the
            thigh is 0.245 of body height (Winter 2009, Biomechanics and Motor Control of
            Human Movement, 4th ed., Fig. 4.1), 0.43 m for 1.75 m; mid-thigh is ~0.22 m.
            The swing then adds a tangential acceleration of ``r·θ·ω²`` (~0.3 g).
        thigh_vertical_g: Vertical acceleration of the thigh at the step frequency.
        walking_trunk_pitch_deg: Forward trunk lean while walking.
        trunk_vertical_g: Lower-trunk vertical acceleration amplitude at the step
            frequency: about 0.2-0.5 g at comfortable speed (Zijlstra & Hof 2003, Gait
            Posture 18(2):1-10; Moe-Nilssen & Helbostad 2004, J Biomech 37(1):121-126).
        trunk_ap_g: Antero-posterior trunk acceleration amplitude at the step frequency
            (same sources: smaller than vertical).
        trunk_ml_g: Medio-lateral trunk acceleration amplitude at the stride frequency.
        trunk_roll_deg: Lateral trunk sway at the stride frequency.
        arm_swing_deg: Forearm swing amplitude at the stride frequency.
        fidget_deg: Amplitude of the angle changes of a fidget (a shift in the chair, a reach).
        fidget_g: Linear acceleration amplitude of a fidget.
        stretch_bend_deg: Forward bend at the deepest point of a standing stretch.
        stretch_side_deg: Side bend amplitude of a standing stretch.
        stretch_hz: Frequency of the slow stretch movements (one bend every ~10 s, holds
            included).
        squat_rep_s: Duration of one squat repetition (~2 s; programme.md squat).
        squat_thigh_deg: Thigh inclination at the bottom of an office squat (parallel is 90°).
        squat_trunk_deg: Forward trunk lean at the bottom of a squat: 30-45° (Schoenfeld
            2010, J Strength Cond Res 24(12):3497-3506).
        squat_hip_drop_m: Vertical travel of the hips in a squat; with a 2-s repetition it
            gives a vertical acceleration of about ±0.2 g.
        transition_s: Duration of a posture change that does not involve a chair (lying
            down, the sensor picked up): 1-2 s (Janssen et al. 2002, Phys Ther
            82(9):866-879).
        chair_transition_s: Duration of a sit-to-stand or stand-to-sit: about 1.5-2.5 s
            in healthy adults (Schenkman et al. 1990, Phys Ther 70(10):638-648; Janssen
            et al. 2002, Clin Biomech 17(5):358-374).
        seat_off_fraction: Fraction of a sit-to-stand before seat-off. The trunk flexes
            forward first (flexion-momentum phase) and flexes most at seat-off; only
            then do the hips rise while the body extends (Schenkman et al. 1990). A
            stand-to-sit is the same movement reversed.
        hip_drop_m: Vertical travel of the pelvis and thorax between standing and
            sitting: the hip joint is at 0.530 of body height when standing (Winter
            2009, Fig. 4.1), 0.93 m for 1.75 m, and ~0.48 m on an office seat of
            0.45 m (seat height range of ANSI/BIFMA X5.1 and EN 1335-1: 0.40-0.51 m),
            so 0.45 m. The trunk above the hips keeps its length, so a chest sensor
            drops as much.
        thigh_drop_m: Vertical travel of a mid-thigh sensor: standing 0.530 - 0.245/2
            of body height (0.71 m), seated on the thigh's top at ~0.50 m.
        chair_trunk_flex_deg: Peak forward flexion of the thorax during a chair
            transition: 30-45 deg in healthy adults (Schenkman et al. 1990).
        chair_pelvis_flex_deg: Peak forward tilt of the pelvis during a chair
            transition: the hips flex the trunk forward by tilting the pelvis, which
            carries about half of the trunk flexion (the lumbar spine the rest).
        noise_g: White noise per axis, RMS. BMI160: 180 µg/√Hz (BMI160 datasheet,
            BST-BMI160-DS000, Table 1), about 1 mg over a 25 Hz band; a LIS3DH in normal
            mode resolves 4 mg per digit (LIS3DH datasheet, DocID17530, Table 4), so a few mg.
        bias_g: SD of the per-axis zero-g offset. Both datasheets give ±40 mg typical
            before calibration; a trimmed device is better, so 15 mg.
        clock_ppm_sd: SD of the sample-clock frequency error. A crystal is within ±20 ppm;
            a calibrated RC oscillator, as on many BLE wearables, within ±500 ppm (nRF52832
            product specification v1.4, LFRC).
        clock_ppm_max: Largest clock error drawn, ppm.
        timing_jitter_s: SD of the timing jitter of each sample (timer interrupt latency).
        drop_prob: Probability that a packet is lost (a missed BLE notification).
        packet_samples: Samples per packet (25 is 0.5 s at 50 Hz).
    """

    thigh_sitting_pitch_deg: float = -80.0
    pelvis_sitting_pitch_deg: float = -15.0
    thorax_sitting_pitch_deg: float = -3.0
    forearm_sitting_pitch_deg: float = -80.0
    lying_roll_deg: float = 90.0
    lying_lean_deg: float = 15.0
    supine_thigh_roll_deg: float = 20.0
    top_thigh_drop_deg: float = 10.0
    hook_knee_flex_deg: float = 90.0
    long_sitting_recline_deg: float = 20.0
    wrist_lying_spread_deg: float = 45.0
    posture_spread_deg: float = 1.5
    standing_sway_deg: float = 1.0
    sitting_sway_deg: float = 1.0
    lying_sway_deg: float = 0.75
    cadence_min_hz: float = 1.8
    cadence_max_hz: float = 2.0
    walking_thigh_pitch_deg: float = 5.0
    thigh_swing_deg: float = 20.0
    thigh_sensor_radius_m: float = 0.22
    thigh_vertical_g: float = 0.35
    walking_trunk_pitch_deg: float = 3.0
    trunk_vertical_g: float = 0.3
    trunk_ap_g: float = 0.15
    trunk_ml_g: float = 0.08
    trunk_roll_deg: float = 3.0
    arm_swing_deg: float = 15.0
    fidget_deg: float = 6.0
    fidget_g: float = 0.05
    stretch_bend_deg: float = 40.0
    stretch_side_deg: float = 20.0
    stretch_hz: float = 0.1
    squat_rep_s: float = 2.0
    squat_thigh_deg: float = 75.0
    squat_trunk_deg: float = 35.0
    squat_hip_drop_m: float = 0.4
    transition_s: float = 1.5
    chair_transition_s: float = 2.0
    seat_off_fraction: float = 0.4
    hip_drop_m: float = 0.45
    thigh_drop_m: float = 0.2
    chair_trunk_flex_deg: float = 35.0
    chair_pelvis_flex_deg: float = 20.0
    noise_g: float = 0.003
    bias_g: float = 0.015
    clock_ppm_sd: float = 150.0
    clock_ppm_max: float = 500.0
    timing_jitter_s: float = 0.0005
    drop_prob: float = 0.002
    packet_samples: int = 25

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if not math.isfinite(value):
                raise ValueError(f"{field.name} must be finite, got {value}")
        if not 0 < self.cadence_min_hz <= self.cadence_max_hz:
            raise ValueError(
                f"need 0 < cadence_min_hz <= cadence_max_hz, got {self.cadence_min_hz}, {self.cadence_max_hz}"
            )
        if not 0 <= self.drop_prob < 1:
            raise ValueError(f"drop_prob must be in [0, 1), got {self.drop_prob}")
        if self.packet_samples < 1:
            raise ValueError(f"packet_samples must be >= 1, got {self.packet_samples}")
        positive = ("squat_rep_s", "stretch_hz", "transition_s", "chair_transition_s", "thigh_sensor_radius_m")
        if not 0 < self.seat_off_fraction < 1:
            raise ValueError(f"seat_off_fraction must be in (0, 1), got {self.seat_off_fraction}")
        nonnegative = (
            "noise_g",
            "bias_g",
            "clock_ppm_sd",
            "clock_ppm_max",
            "timing_jitter_s",
            "posture_spread_deg",
            "lying_lean_deg",
            "wrist_lying_spread_deg",
        )
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in nonnegative:
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
