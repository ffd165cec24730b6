"""Lying from a thigh sensor alone: the femur raised, or the thigh rolled about its long axis.

A thigh is horizontal both when its wearer sits and when they lie, so its inclination
alone says "sitting or lying" (activPAL, Acti4). Two measurements against the wearer's
own references tell lying apart:

* **Knee above the hip.** Supine with the knees bent (hook lying: floor exercises,
  reading in bed) points the femur upward, which no seated thigh does: measured from
  the walking upright (``analysis.reference``), the thigh is inclined past 90 deg.
  ``analysis.settings.ThighTuning.knee_up_deg`` is 110 deg: seated phones in trouser pockets on
  ``spsw_pocket_tug`` (development split, 176 seated stretches against each
  recording's own walking) measured at most 99.7 deg (99th percentile 87.6 deg), and
  the hook-lying floor exercises of ``mex_thigh`` (knee rolling, bridging, pelvic
  tilt, against each subject's thigh-vertical all-fours posture) 96-100% of the time
  over 100 deg, 89-100% over 110 deg (``python -m bench.thigh_angles``).
* **Rotation about the long axis.** Lying on the side or prone rolls the thigh by
  90-180 deg about its long axis from the seated thigh, whose front faces up. The
  rotation is the angle between the components of gravity across the long axis now
  and when the wearer sat (the *seat*), and 65 deg or more is lying: the rule of
  Lyden et al. 2016 (Med Sci Sports Exerc 48(4):742-747,
  doi:10.1249/MSS.0000000000000804), also used by ActiPASS (Hettiarachchi et al.
  2021, Sensors 21(3):904, doi:10.3390/s21030904). Thigh-worn classifiers built on
  these principles placed at least 93% of lying time correctly in the laboratory
  (Edwardson et al. 2016, Med Sci Sports Exerc 48(6):1085-1090,
  doi:10.1249/MSS.0000000000000865).

Following Lyden et al., lying carries through the bout: once a horizontal-thigh bout
has shown lying, it stays lying until the wearer stands or walks, so a sleeper lying
on the back with straight legs after turning (the thigh then looks seated again) is
still lying. Unlike their retrospective rule, the part of a bout before its first
sign of lying stays sitting: live and batch analysis decide every frame within the
same few seconds.

The seat is learned, not assumed: the first still horizontal posture after the upright
reference exists is taken as sitting, and each later bout that starts within
``seat_follow_deg`` of the seat (a wearer sitting down again) refines it. A bout that
starts rotated by ``roll_deg`` (lying straight down on the side or front, from
standing) is lying. Without an upright reference (before the first walk or
calibration) nothing here is known: the thigh reports sitting or standing only.

Known limits, documented in ``docs/validation.md``: supine with straight legs before
any turn looks seated (the relaxed leg rolls outward by less than the rotation
threshold; its sit-too-long alerts are held back while the wearer lies as still as a
sleeper, ``analysis.stillness``); a first horizontal posture that is already lying on the side teaches a
wrong seat until the reference changes; kneeling on all fours keeps the thigh
vertical and reads as standing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from analysis.angles import angle_deg, angles_deg, beyond_deg, dots
from analysis.labels import LIE, SIT, STAND
from analysis.settings import ThighTuning

__all__ = ["ThighLying"]


_FEW = 32  # frames up to which ``label_many`` takes the knee-up cut-point without an arc cosine for most


def _across(u: NDArray[np.float64], ref: NDArray[np.float64]) -> NDArray[np.float64]:
    """Components of ``u`` shape (..., 3) across the unit long axis ``ref`` shape (3,)."""
    return u - (u @ ref)[..., None] * ref


class ThighLying:
    """Streaming lying decisions of a thigh sensor (module docstring).

    Feed it, in time order, every frame the inclination rule called sitting or standing;
    it returns the codes with lying added.

    Args:
        tuning: The cut-points.

    >>> lying = ThighLying(ThighTuning())
    >>> ref = np.array([0.0, 1.0, 0.0])  # standing: gravity along the device y axis
    >>> lying.label(np.array([0.0, 0.0, 1.0]), ref, SIT, still=True) == SIT  # sits: the seat
    True
    >>> lying.label(np.array([1.0, 0.0, 0.0]), ref, SIT, still=True) == LIE  # rolls 90 deg
    True
    >>> lying.label(np.array([0.0, 0.0, 1.0]), ref, SIT, still=True) == LIE  # back: still lying
    True
    >>> lying.label(ref, ref, STAND, still=True) == STAND  # stands up: the bout is over
    True
    """

    def __init__(self, tuning: ThighTuning) -> None:
        self.tuning = tuning
        self.seat: NDArray[np.float64] | None = None  # gravity when seated, unit vector
        self.seat_ref: NDArray[np.float64] | None = None  # the upright it was learned against
        self.fresh = True  # upright (or nothing) since the last horizontal frame
        self.resting = False  # this horizontal bout has shown lying

    def upright(self) -> None:
        """The wearer stood or walked: the next horizontal posture starts a new bout."""
        self.fresh = True
        self.resting = False

    def _seat_across(self, ref: NDArray[np.float64]) -> NDArray[np.float64] | None:
        """The seat's direction across the current long axis, or ``None`` when unknown or stale."""
        if self.seat is None or self.seat_ref is None:
            return None
        if angle_deg(self.seat_ref, ref) > self.tuning.ref_moved_deg:
            self.seat = None
            self.seat_ref = None
            return None
        s = _across(self.seat, ref)
        norm = float(np.linalg.norm(s))
        return s / norm if norm > 1e-9 else None

    def label(self, u: NDArray[np.float64], ref: NDArray[np.float64] | None, code: int, *, still: bool) -> int:
        """Code of one frame labelled ``code`` (``SIT``/``STAND``) by its inclination.

        Args:
            u: Gravity direction, unit vector, shape (3,).
            ref: The walking upright reference (``None``: nothing to measure against).
            code: The inclination rule's label.
            still: Whether the frame is still (only still frames teach the seat).
        """
        if code == STAND:
            self.upright()
            return STAND
        if ref is None or code != SIT:
            return code
        t = self.tuning
        if angle_deg(u, ref) >= t.knee_up_deg:
            self.resting = True
            self.fresh = False
            return LIE
        seat = self._seat_across(ref)
        across = _across(u, ref)
        across /= max(float(np.linalg.norm(across)), 1e-9)
        if seat is None:
            if not still:
                return LIE if self.resting else SIT
            self.seat = across
            self.seat_ref = ref.copy()
            self.fresh = False
            return LIE if self.resting else SIT
        roll = angle_deg(across, seat)
        if self.fresh and still:
            self.fresh = False
            if roll <= t.seat_follow_deg:
                mixed = seat * t.seat_weight + across
                self.seat = mixed / float(np.linalg.norm(mixed))
                self.seat_ref = ref.copy()
        if roll >= t.roll_deg:
            self.resting = True
        return LIE if self.resting else SIT

    def label_many(self, units: NDArray[np.float64], ref: NDArray[np.float64] | None, codes: list[int]) -> list[int]:
        """``label`` of consecutive still frames ``units`` shape (n, 3) labelled ``codes``.

        The same codes and state as ``label`` frame by frame; a horizontal run with a
        known seat is decided with array operations.
        """
        n = len(codes)
        if ref is None or n == 0:
            if STAND in codes:  # without a reference only standing changes the state
                self.upright()
            return list(codes)
        base = np.asarray(codes)
        out = base.copy()
        if n <= _FEW:  # a live packet's few frames: no arc cosine for most
            knee_up = np.array(beyond_deg(dots(units, ref), self.tuning.knee_up_deg, inclusive=True))
        else:
            knee_up = angles_deg(units, ref) >= self.tuning.knee_up_deg
        i = 0
        while i < n:
            if base[i] != SIT:
                out[i] = self.label(units[i], ref, int(base[i]), still=True)
                i += 1
                continue
            seat = self._seat_across(ref)
            if seat is None or self.fresh:
                out[i] = self.label(units[i], ref, SIT, still=True)
                i += 1
                continue
            stops = np.flatnonzero(base[i:] != SIT)
            j = i + int(stops[0]) if stops.size else n
            lie = knee_up[i:j].copy()
            lie |= angles_deg(_across(units[i:j], ref), seat) >= self.tuning.roll_deg
            lie = np.logical_or.accumulate(lie | self.resting)
            out[i:j] = np.where(lie, LIE, SIT)
            self.resting = bool(lie[-1])
            i = j
        return [int(c) for c in out]

    def snapshot(self) -> dict[str, Any]:
        """Return the JSON-serialisable state."""
        return {
            "seat": None if self.seat is None else self.seat.tolist(),
            "seat_ref": None if self.seat_ref is None else self.seat_ref.tolist(),
            "fresh": self.fresh,
            "resting": self.resting,
        }

    def load(self, state: dict[str, Any]) -> None:
        """Restore the state saved by ``snapshot()``."""
        seat, seat_ref = state.get("seat"), state.get("seat_ref")
        self.seat = None if seat is None else np.asarray(seat, dtype=np.float64)
        self.seat_ref = None if seat_ref is None else np.asarray(seat_ref, dtype=np.float64)
        self.fresh = bool(state.get("fresh", True))
        self.resting = bool(state.get("resting", False))
