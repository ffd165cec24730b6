"""Labels of still frames from their inclination, per placement: one frame or a run at once.

A still frame is labelled by its inclination from the upright (``analysis.reference``):

* thigh: sitting when the thigh is inclined by the sitting cut-point from the upright
  (Acti4: Skotte et al. 2014, Med Sci Sports Exerc 46(9):1839-1846,
  doi:10.1249/MSS.0000000000000308; activPAL: Grant et al. 2006, Br J Sports Med
  40(12):992-997, doi:10.1136/bjsm.2006.030262), standing otherwise.
* waist, lower back, chest, upper back: lying when the trunk is inclined by the lying
  cut-point (70 deg); otherwise the upright posture (sitting or standing) the last
  transition decided (``analysis.stance``).
* wrist: still frames are ``other`` (a wrist cannot tell sitting from standing:
  Rosenberger et al. 2016, Med Sci Sports Exerc 48(3):457-465,
  doi:10.1249/MSS.0000000000000778).

The cut-points and their provenance are in ``analysis.posture``. ``label`` and
``labels`` give the same codes, the latter for a run of frames with array operations
(``analysis.angles`` computes both alike).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from analysis.angles import angle_deg, angles_deg, axis_inclination_deg, axis_inclinations_deg, beyond_deg, dots
from analysis.settings import POSTURE_CODES, THORAX, Placement, Posture

__all__ = ["LIE", "NONWEAR", "OTHER", "SIT", "STAND", "WALK", "StillLabels"]

SIT = POSTURE_CODES.index(Posture.SITTING)
STAND = POSTURE_CODES.index(Posture.STANDING)
LIE = POSTURE_CODES.index(Posture.LYING)
WALK = POSTURE_CODES.index(Posture.WALKING)
OTHER = POSTURE_CODES.index(Posture.OTHER)
NONWEAR = POSTURE_CODES.index(Posture.NONWEAR)

_FEW = 32  # frames up to which ``labels`` decides cut-points without an arc cosine for most
_TRUNK = frozenset({Placement.WAIST, Placement.LOWER_BACK, Placement.CHEST, Placement.UPPER_BACK})


@dataclass(frozen=True, slots=True)
class StillLabels:
    """The inclination cut-points of one placement applied to still frames.

    Attributes:
        placement: Where the sensor is worn.
        long_axis: Device axis used, sign-agnostic, as the upright before any reference.
        sit_deg: Inclination cut-point of sitting, deg (``None``: not used).
        lie_deg: Inclination cut-point of lying, deg (``None``: not used).

    >>> labels = StillLabels(Placement.THIGH, long_axis=1, sit_deg=35.0, lie_deg=None)
    >>> labels.label((0.0, 1.0, 0.0), None, None, None)  # thigh along its long axis
    (1, nan)
    >>> labels.labels(np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]), None, None, None)[0]
    [1, 0]
    """

    placement: Placement
    long_axis: int
    sit_deg: float | None
    lie_deg: float | None

    @property
    def trunk(self) -> bool:
        """Whether the placement is on the trunk (waist, lower back, chest, upper back)."""
        return self.placement in _TRUNK

    @property
    def thorax(self) -> bool:
        """Whether the placement is on the thorax (chest, upper back), which reports slouch."""
        return self.placement in THORAX

    def inclination(self, u: NDArray[np.float64], up: NDArray[np.float64] | None) -> float:
        """Angle of gravity ``u`` shape (3,) from the upright ``up`` (long axis if ``None``), deg."""
        return axis_inclination_deg(u, self.long_axis) if up is None else angle_deg(u, up)

    def lying(self, u: NDArray[np.float64], up: NDArray[np.float64] | None) -> bool:
        """Whether gravity ``u`` shape (3,) is inclined from ``up`` by the lying cut-point."""
        return self.lie_deg is not None and self.inclination(u, up) >= self.lie_deg

    def lying_many(self, units: NDArray[np.float64], up: NDArray[np.float64] | None) -> NDArray[np.bool_]:
        """``lying`` of each row of ``units`` shape (n, 3); returns shape (n,)."""
        if self.lie_deg is None:
            return np.zeros(units.shape[0], dtype=np.bool_)
        incl = axis_inclinations_deg(units, self.long_axis) if up is None else angles_deg(units, up)
        return np.asarray(incl >= self.lie_deg, dtype=np.bool_)

    def label(
        self,
        u: NDArray[np.float64] | tuple[float, float, float],
        ref: NDArray[np.float64] | None,
        up: NDArray[np.float64] | None,
        upright: int | None,
    ) -> tuple[int, float]:
        """Posture code and slouch angle of one still frame.

        Args:
            u: Gravity direction, unit vector, 3 values.
            ref: The walking upright reference (``None``: not learned yet).
            up: The best upright estimate for the lying test (``ref``, else the last
                standing posture, else ``None``).
            upright: The trunk's decided upright posture (``SIT``/``STAND``); a trunk
                frame that is not lying gets it (``None`` only when it is lying).

        Returns:
            ``(code, slouch_deg)``: slouch is the thorax's inclination from ``ref``
            for upright frames, NaN otherwise.
        """
        g = np.asarray(u, dtype=np.float64)
        if self.placement is Placement.WRIST:
            return OTHER, math.nan
        if not self.trunk:
            incl = self.inclination(g, ref)
            return (SIT if self.sit_deg is not None and incl >= self.sit_deg else STAND), math.nan
        if self.lying(g, up):
            return LIE, math.nan
        code = -1 if upright is None else upright
        return code, (angle_deg(g, ref) if ref is not None and self.thorax else math.nan)

    def labels(
        self,
        units: NDArray[np.float64],
        ref: NDArray[np.float64] | None,
        up: NDArray[np.float64] | None,
        upright: int | None,
    ) -> tuple[list[int], list[float]]:
        """``label`` of each row of ``units`` shape (n, 3): codes and slouch angles, n each."""
        n = units.shape[0]
        if self.placement is Placement.WRIST:
            return [OTHER] * n, [math.nan] * n
        if not self.trunk:
            if self.sit_deg is None:
                return [STAND] * n, [math.nan] * n
            if n <= _FEW:  # a live packet's few frames: no arc cosine for most
                cosines = [abs(u) for u in units[:, self.long_axis].tolist()] if ref is None else dots(units, ref)
                seated = beyond_deg(cosines, self.sit_deg, inclusive=True)
                return [SIT if s else STAND for s in seated], [math.nan] * n
            incl = axis_inclinations_deg(units, self.long_axis) if ref is None else angles_deg(units, ref)
            return np.where(incl >= self.sit_deg, SIT, STAND).tolist(), [math.nan] * n
        nan = np.full(n, np.nan)
        lying = self.lying_many(units, up)
        codes = np.where(lying, LIE, -1 if upright is None else upright)
        slouch = angles_deg(units, ref) if ref is not None and self.thorax else nan
        return codes.tolist(), np.where(lying, np.nan, slouch).tolist()
