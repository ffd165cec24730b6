"""The wearer's upright posture as decided so far: sitting or standing, and how sure.

A trunk sensor (waist, lower back, chest, upper back) cannot tell upright sitting from
standing by its angle alone, so the decider keeps the upright posture that evidence
last showed and labels every upright still frame with it (``analysis.labels``). It is
decided

* at a settled postural transition, from the hip displacement and the turn of the
  trunk (Najafi et al. 2003, IEEE Trans Biomed Eng 50(6):711-723,
  doi:10.1109/TBME.2003.812189; the rule is ``analysis.sitstand.seated_after``);
* on the first upright frame without one (start of the stream, after non-wear), by
  the inclination against the walking upright (Vähä-Ypyä et al. 2018, Scand J Med
  Sci Sports 28(3):1092-1102, doi:10.1111/sms.13017), standing without a reference;
* by an explicit calibration (``analysis.calibration``): standing;
* when no measured transition decided it (only the angle or a default did), by that
  inclination once it has disagreed with the posture, still, for
  ``PostureTuning.angle_hold_s``: a trunk that turns to a seated angle with no jolt
  (a recording whose postures change by turning only, a gentle sit-down) is taken for
  a bend at first, and a bend, a stretch or a shift on the chair is over within
  seconds. A posture a measured transition decided is kept whatever the angle says,
  so a wearer who sits upright stays seated.

Alongside it are the gravity directions the next decision is judged against: the
posture last decided (a turn beyond ``fidget_deg`` from it is a change of posture)
and the standing posture last seen (the upright for the lying test before the walking
reference is known, and what a trunk turns from when it sits down). Before a walking
upright exists, a posture far from the device's long axis is neither (``handled``): a
sensor held in the hand or being clipped on is no standing wearer.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from analysis.angles import angle_deg, angles_deg
from analysis.labels import SIT, STAND, StillLabels
from analysis.reference import UprightReference
from analysis.settings import Placement, PostureTuning, ThighTuning
from analysis.sitstand import Evidence, Transition, seated_after
from analysis.steady import first_true
from analysis.thigh import ThighLying

__all__ = ["Stance"]


class Stance:
    """The decided upright posture and the gravity directions it was decided at.

    Args:
        labels: The placement's still-frame labels (and cut-points).
        reference: The walking upright reference (shared with the decider).
        tuning: Thresholds (``seated_after``'s, and ``stand_up_m``).
        thigh: Lying cut-points of a thigh sensor.
    """

    def __init__(
        self,
        labels: StillLabels,
        reference: UprightReference,
        tuning: PostureTuning,
        thigh: ThighTuning | None = None,
    ) -> None:
        self.labels = labels
        # Lying from the thigh (analysis.thigh): thigh sensors only.
        self.thigh = ThighLying(thigh or ThighTuning()) if labels.placement is Placement.THIGH else None
        self.reference = reference
        self.tuning = tuning
        self.upright: int | None = None  # decided sitting/standing of the trunk
        self.known = False  # whether evidence (not a default) decided it
        self.firm = False  # whether a measured transition decided it
        self.still_g: NDArray[np.float64] | None = None  # gravity when the posture was last decided
        self.stand_up: NDArray[np.float64] | None = None  # gravity while last seen standing
        self.hold_frames = math.ceil(tuning.angle_hold_s / tuning.frame_s)
        self.against = 0  # still frames in a row whose angle disagrees with an angle-decided posture

    def estimate(self) -> NDArray[np.float64] | None:
        """The best upright direction (walking reference, else last standing), shape (3,), or ``None``."""
        ref = self.reference.unit()
        return ref if ref is not None else self.stand_up

    def lying(self, unit_g: NDArray[np.float64]) -> bool:
        """Whether gravity ``unit_g`` shape (3,) is inclined from ``estimate()`` by the lying cut-point."""
        return self.labels.lying(unit_g, self.estimate())

    def lying_many(self, units_g: NDArray[np.float64]) -> NDArray[np.bool_]:
        """``lying`` of each row of ``units_g`` shape (n, 3); returns shape (n,)."""
        return self.labels.lying_many(units_g, self.estimate())

    def label(self, unit_g: NDArray[np.float64], *, still: bool = True) -> tuple[int, float]:
        """Posture code and slouch angle of one frame that is not walking (``StillLabels.label``).

        A trunk frame that is not lying while no upright posture is decided decides it
        by its inclination from the walking upright; a still frame that completes
        ``angle_hold_s`` of disagreement with an angle-decided posture switches it.

        Args:
            unit_g: Gravity direction, unit vector, shape (3,).
            still: Whether the frame is still (a moving frame ends a disagreement).

        Returns:
            ``(code, slouch_deg)``.
        """
        ref = self.reference.unit()
        sit_deg = self.labels.sit_deg
        if self.labels.trunk and self.upright is None and not self.lying(unit_g):
            # No upright posture decided yet (start, after non-wear): the angle decides.
            seated = ref is not None and sit_deg is not None and angle_deg(unit_g, ref) >= sit_deg
            self.upright = SIT if seated else STAND
            self.known = ref is not None
            self.still_g = unit_g
        self.against = self.against + 1 if still and self._against_one(unit_g) else 0
        if self.against >= self.hold_frames:
            self.upright = STAND if self.upright == SIT else SIT
            self.known = True
            self.against = 0
            self.still_g = unit_g
            if self.upright == STAND:
                self.stand_up = unit_g
        code, slouch = self.labels.label(unit_g, ref, self.estimate(), self.upright)
        if self.thigh is not None:
            code = self.thigh.label(np.asarray(unit_g, dtype=np.float64), ref, code, still=still)
        return code, slouch

    def handled(self, unit_g: NDArray[np.float64]) -> bool:
        """Whether a still trunk with gravity ``unit_g`` shape (3,) may be a sensor being handled.

        Before a walking upright is known, a posture more than
        ``PostureTuning.handled_deg`` from the device's long axis is no standing the
        wearer could take with the sensor clipped on as intended.
        """
        return self.reference.unit() is None and self.labels.inclination(unit_g, None) > self.tuning.handled_deg

    def label_many(self, units_g: NDArray[np.float64]) -> tuple[list[int], list[float]]:
        """``StillLabels.labels`` of steady still frames shape (n, 3), which change no posture.

        Call it only with at most ``hold_room(units_g)`` frames.
        """
        runs = self._against_runs(units_g)
        if runs is not None and runs.size:
            self.against = int(runs[-1])
        else:
            self.against = 0
        ref = self.reference.unit()
        codes, slouch = self.labels.labels(units_g, ref, self.estimate(), self.upright)
        if self.thigh is not None:
            codes = self.thigh.label_many(units_g, ref, codes)
        return codes, slouch

    def hold_room(self, units_g: NDArray[np.float64]) -> int:
        """How many of these still frames shape (n, 3) ``label_many`` may take.

        The frame that completes ``angle_hold_s`` of disagreement is left to ``label``,
        which switches the posture there.
        """
        runs = self._against_runs(units_g)
        n = units_g.shape[0]
        return n if runs is None else first_true(runs >= self.hold_frames, n)

    def moved(self) -> None:
        """The wearer walked or the data had a gap: a disagreement held still is over."""
        self.against = 0

    def walked(self) -> None:
        """The wearer walked: a thigh's next horizontal posture starts a new bout."""
        self.moved()
        if self.thigh is not None:
            self.thigh.upright()

    def _overruling(self) -> tuple[NDArray[np.float64], float] | None:
        """The walking upright and sitting cut-point when the angle may overrule the posture.

        ``None`` when it may not: a measured transition decided the posture, or there
        is no walking upright or cut-point.
        """
        ref = self.reference.unit()
        sit_deg = self.labels.sit_deg
        if self.firm or self.upright not in (SIT, STAND) or ref is None or sit_deg is None:
            return None
        return ref, sit_deg

    def _against(self, units_g: NDArray[np.float64]) -> NDArray[np.bool_] | None:
        """Whether each still frame shape (n, 3) is inclined against the decided posture (``_overruling``)."""
        rule = self._overruling()
        if rule is None:
            return None
        ref, sit_deg = rule
        seated = angles_deg(units_g, ref) >= sit_deg
        return np.asarray(seated != (self.upright == SIT), dtype=np.bool_) & ~self.labels.lying_many(units_g, ref)

    def _against_one(self, unit_g: NDArray[np.float64]) -> bool:
        """``_against`` of one frame shape (3,), with scalar arithmetic; false without a rule."""
        rule = self._overruling()
        if rule is None:
            return False
        ref, sit_deg = rule
        seated = angle_deg(unit_g, ref) >= sit_deg
        return seated != (self.upright == SIT) and not self.labels.lying(unit_g, ref)

    def _against_runs(self, units_g: NDArray[np.float64]) -> NDArray[np.int64] | None:
        """Disagreeing frames in a row up to each frame, counting on from ``against``."""
        against = self._against(units_g)
        if against is None:
            return None
        idx = np.arange(against.size)
        last_agree = np.maximum.accumulate(np.where(against, -1, idx))
        runs: NDArray[np.int64] = np.where(last_agree >= 0, idx - last_agree, self.against + idx + 1)
        return runs

    def forget(self) -> None:
        """The sensor was taken off: no upright posture is decided, nor where it was."""
        self.upright = None
        self.still_g = None
        self.against = 0
        if self.thigh is not None:
            self.thigh.upright()

    def calibrate(self, upright_g: NDArray[np.float64]) -> None:
        """The wearer stood still and upright with gravity ``upright_g`` (unit vector, shape (3,)).

        It becomes the upright reference, weighted as four times the walking needed
        for one, and the wearer is standing.
        """
        self.reference.calibrate(upright_g, self.reference.min_frames * 4)
        self.stand_up = upright_g
        self.upright = STAND
        self.known = True
        self.firm = True
        self.against = 0

    def settle(self, tr: Transition, after_g: NDArray[np.float64], z_m: float | None) -> int | None:
        """Decide the upright posture after a settled transition of the trunk.

        Args:
            tr: The transition.
            after_g: Gravity direction while still after it, unit vector, shape (3,).
            z_m: Vertical hip displacement over it, m (positive up), ``None`` when the
                movement was too long to measure.

        Returns:
            The new upright posture (``SIT``/``STAND``), or ``None`` when the trunk is
            lying after it (nothing decided).
        """
        self.still_g = after_g
        if self.lying(after_g):
            return None
        ref = self.reference.unit()
        sit_deg = self.labels.sit_deg
        # Turned from standing: against the standing posture last seen, so that coming
        # back upright from a bend is no turn.
        left = self.stand_up if self.upright == STAND and self.stand_up is not None else tr.before[1]
        evidence = Evidence(
            prev=tr.prev,
            before=self.upright,
            firm=self.firm,
            z_m=z_m,
            jolt_g=tr.peak_g,
            turn_deg=angle_deg(left, after_g),
            seated_angle=None if ref is None or sit_deg is None else angle_deg(after_g, ref) >= sit_deg,
            sit_deg=sit_deg,
        )
        new, firm = seated_after(evidence, self.tuning)
        self.upright = new
        self.known = True
        self.firm = firm
        self.against = 0
        # A standing trunk that turned by the cut-point without rising (a bend) is no
        # new standing posture to measure the next turn from.
        bent = evidence.before == STAND and sit_deg is not None and evidence.turn_deg >= sit_deg
        # A standing that may be a sensor in the hand is no upright to judge by.
        rose = z_m is not None and z_m >= self.tuning.stand_up_m
        if new == STAND and not self.handled(after_g) and (not bent or rose):
            self.stand_up = after_g
        return new

    def snapshot(self) -> dict[str, Any]:
        """Return the JSON-serialisable state (the keys of earlier decider snapshots)."""
        return {
            "upright": self.upright,
            "upright_known": self.known,
            "upright_firm": self.firm,
            "stand_up": None if self.stand_up is None else self.stand_up.tolist(),
            "still_g": None if self.still_g is None else self.still_g.tolist(),
            "angle_against": self.against,
            **({} if self.thigh is None else {"thigh": self.thigh.snapshot()}),
        }

    def load(self, state: dict[str, Any]) -> None:
        """Restore the state saved by ``snapshot()``."""
        self.upright = state["upright"]
        self.known = bool(state["upright_known"])
        self.firm = bool(state["upright_firm"])
        su = state["stand_up"]
        self.stand_up = None if su is None else np.asarray(su, dtype=np.float64)
        sg = state["still_g"]
        self.still_g = None if sg is None else np.asarray(sg, dtype=np.float64)
        self.against = int(state.get("angle_against", 0))  # absent in older snapshots
        if self.thigh is not None:
            self.thigh.load(state.get("thigh", {}))  # absent before thigh lying: a fresh bout
