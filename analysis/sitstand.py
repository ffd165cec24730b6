"""Sitting or standing after a postural transition of the trunk: the evidence and the rule.

A waist, lower-back, chest or upper-back sensor cannot tell upright sitting from standing
by its angle alone, but the transition between them can: sitting down lowers the hips by
0.3-0.5 m and standing up raises them (Najafi et al. 2003, IEEE Trans Biomed Eng
50(6):711-723, doi:10.1109/TBME.2003.812189; ``analysis.transitions``). ``Transition``
collects a movement between two still periods frame by frame and measures it (the
still levels either side, the hip displacement); ``seated_after`` decides the upright
posture that follows it from:

1. the posture before it (from walking the angle against the just-refreshed walking
   upright decides; from lying the wearer sits unless the hips rose far);
2. the measured vertical hip displacement (down: sat down, up: stood up; a reading that
   contradicts the posture before is no evidence);
3. without such a measurement, the turn of the trunk away from the standing posture it
   left, by the sitting cut-point (Vähä-Ypyä et al. 2018, Scand J Med Sci Sports
   28(3):1092-1102, doi:10.1111/sms.13017), but only if the movement accelerated the
   body vertically (``PostureTuning.sit_jolt_g``): a standing forward bend or stretch
   turns the trunk as far without lowering the hips, and is no sit-down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from analysis.settings import POSTURE_CODES, Posture, PostureTuning
from analysis.transitions import hip_displacement_m

__all__ = ["HISTORY_FRAMES", "PAD_FRAMES", "Evidence", "Transition", "seated_after"]

SIT = POSTURE_CODES.index(Posture.SITTING)
STAND = POSTURE_CODES.index(Posture.STANDING)
LIE = POSTURE_CODES.index(Posture.LYING)
WALK = POSTURE_CODES.index(Posture.WALKING)

PAD_FRAMES = 5  # frames of padding on each side of a transition (0.5 s)
_LEVEL = 10  # frames averaged for the still level before and after (1 s)
HISTORY_FRAMES = _LEVEL + PAD_FRAMES  # frames read before a transition: 1 s of level, then the padding


def _unit(v: NDArray[np.float64]) -> NDArray[np.float64]:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


class Transition:
    """A movement between two still periods, collected frame by frame.

    ``start`` opens one after the frames before it, ``step`` adds frames until it has
    settled, and ``after`` and ``displacement_m`` measure it.

    Args:
        prev: Posture code before the movement.
        before: ``(|a| level in g, gravity unit vector shape (3,))`` while still before.
        pad: ``(|a|, gravity unit tuple)`` of the frames just before the movement.
    """

    def __init__(self, prev: int, before: tuple[float, NDArray[np.float64]], pad: list[tuple[float, Any]]) -> None:
        self.prev = prev
        self.before = before
        self.frames: list[tuple[float, Any]] = list(pad)
        self.long = False
        self.still_run = 0
        # Largest departure of |a| from the level before, g (the movement may start in the pad).
        self.peak_g = max((abs(m - before[0]) for m, _ in pad), default=0.0)

    @classmethod
    def start(
        cls,
        prev: int,
        history: list[tuple[float, tuple[float, ...]]],
        start_g: NDArray[np.float64] | None = None,
    ) -> Transition:
        """Open a transition after the frames that preceded it.

        Args:
            prev: Posture code before the movement.
            history: ``(|a| in g, gravity unit tuple)`` of up to ``HISTORY_FRAMES``
                frames before it, oldest first: the last ``PAD_FRAMES`` are its padding,
                the mean of those before is the still level (1 g along x without any).
            start_g: Gravity direction to measure the turn from instead of the level's,
                unit vector, shape (3,).

        Returns:
            The transition.
        """
        level = history[:-PAD_FRAMES] if len(history) > PAD_FRAMES else history
        if level:
            m0 = float(np.mean([h[0] for h in level]))
            g0 = _unit(np.mean([h[1] for h in level], axis=0))
        else:
            m0, g0 = 1.0, np.array([1.0, 0.0, 0.0])
        return cls(prev, (m0, g0 if start_g is None else start_g), history[-PAD_FRAMES:])

    def add(self, mag_g: float) -> None:
        """Note the |a| of a new frame of the movement, g."""
        self.peak_g = max(self.peak_g, abs(mag_g - self.before[0]))

    def step(self, mag_g: float, unit_g: NDArray[np.float64], *, still: bool, max_frames: int, settle: int) -> bool:
        """Add a frame; return whether the movement has settled.

        A movement longer than ``max_frames`` (plus settling and padding) is no postural
        transition: only its last ``settle`` frames are kept from then on, for the
        level after it, and no hip displacement is measured (``long``).

        Args:
            mag_g: Mean |a| of the frame, g.
            unit_g: Gravity direction of the frame, unit vector, shape (3,).
            still: Whether the frame is still.
            max_frames: Longest postural transition, frames.
            settle: Still frames in a row that end the movement.

        Returns:
            True once ``settle`` still frames follow one another.
        """
        self.add(mag_g)
        if not self.long:
            self.frames.append((mag_g, tuple(unit_g.tolist())))
            if len(self.frames) > max_frames + settle + PAD_FRAMES:
                self.long = True
                self.frames = self.frames[-settle:]
        elif len(self.frames) >= settle:
            self.frames = [*self.frames[1:], (mag_g, tuple(unit_g.tolist()))]
        else:
            self.frames.append((mag_g, tuple(unit_g.tolist())))
        self.still_run = self.still_run + 1 if still else 0
        return self.still_run >= settle

    def after(self) -> tuple[float, NDArray[np.float64]]:
        """``(|a| level in g, gravity unit vector shape (3,))`` over the last second, still after it."""
        frames = self.frames[-_LEVEL:]
        m1 = float(np.mean([f[0] for f in frames]))
        g1 = _unit(np.mean([f[1] for f in frames], axis=0))
        return m1, g1

    def displacement_m(self, after: tuple[float, NDArray[np.float64]], settle: int, frame_s: float) -> float | None:
        """Vertical hip displacement over the settled movement (``analysis.transitions``).

        Args:
            after: The level after it (``after()``).
            settle: Still frames that settled it; all but ``PAD_FRAMES`` of them are
                left out.
            frame_s: Frame length in s.

        Returns:
            Displacement in m, positive upwards, or ``None`` for a ``long`` movement.
        """
        if self.long:
            return None
        window = self.frames[: len(self.frames) - (settle - PAD_FRAMES)]
        mags = np.array([f[0] for f in window])
        units = np.array([f[1] for f in window], dtype=np.float64).reshape(-1, 3)
        return hip_displacement_m(mags, units, self.before, after, frame_s)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-serialisable state."""
        return {
            "prev": self.prev,
            "before": [self.before[0], self.before[1].tolist()],
            "frames": [[m, list(u)] for m, u in self.frames],
            "long": self.long,
            "still_run": self.still_run,
            "peak_g": self.peak_g,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Transition:
        """Rebuild a transition from ``to_dict()``."""
        tr = cls(int(d["prev"]), (float(d["before"][0]), np.asarray(d["before"][1], dtype=np.float64)), [])
        tr.frames = [(float(m), tuple(u)) for m, u in d["frames"]]
        tr.long = bool(d["long"])
        tr.still_run = int(d["still_run"])
        tr.peak_g = float(d.get("peak_g", math.inf))  # older snapshots: no bend check
        return tr


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a settled transition of the trunk showed.

    Attributes:
        prev: Posture code before the movement.
        before: The decided upright posture (``SIT``/``STAND``) before it, if any.
        firm: Whether a measured transition decided ``before``.
        z_m: Vertical hip displacement, m (positive up), ``None`` when not measured
            (the movement was too long).
        jolt_g: Largest departure of |a| from the still level before, during the
            movement, g.
        turn_deg: Angle between the gravity directions before and after, deg.
        seated_angle: Whether the trunk after it is inclined by the sitting cut-point
            from the walking upright (``None``: no upright reference or cut-point).
        sit_deg: The placement's sitting cut-point, deg (``None``: none).
    """

    prev: int
    before: int | None
    firm: bool
    z_m: float | None
    jolt_g: float
    turn_deg: float
    seated_angle: bool | None
    sit_deg: float | None


def seated_after(ev: Evidence, tuning: PostureTuning) -> tuple[int, bool]:
    """Sitting or standing after a transition, and whether a transition showed it.

    Args:
        ev: The evidence of the transition.
        tuning: Thresholds (``sit_down_m``, ``stand_up_m``, ``rise_from_lying_m``,
            ``sit_jolt_g``, ``fidget_deg``).

    Returns:
        ``(code, firm)``: ``SIT`` or ``STAND``, and whether the decision rests on a
        measured transition (rather than a default).

    >>> t = PostureTuning()
    >>> bend = Evidence(STAND, STAND, True, 0.0, 0.01, 40.0, None, 11.6)
    >>> seated_after(bend, t) == (STAND, True)  # turned far, hips did not move
    True
    >>> sit = Evidence(STAND, STAND, True, 0.0, 0.2, 40.0, None, 11.6)
    >>> seated_after(sit, t) == (SIT, True)
    True
    >>> squats = Evidence(STAND, STAND, True, None, 0.2, 40.0, None, 11.6)  # too long to measure
    >>> seated_after(squats, t) == (SIT, False)  # the angle may overrule it
    True
    """
    if ev.prev == WALK:
        # Gait swamps the |a| levels a displacement needs (uci_hapt walk-to-stand
        # measures -2.0 to +0.3 m); the walking upright was just refreshed, so the
        # angle decides (Vähä-Ypyä et al. 2018).
        return (SIT if ev.seated_angle else STAND), False
    if ev.prev == LIE:
        # People get up by sitting up; upright sitting after lying is as close to
        # the walking upright as standing (uci_hapt: 1-8 deg for several wearers),
        # so the angle cannot overrule this, only a clear rise of the hips can.
        rose = ev.z_m is not None and ev.z_m >= tuning.rise_from_lying_m
        return (STAND, True) if rose else (SIT, False)
    if ev.prev not in (SIT, STAND):
        # Nothing still before (start of the stream, after non-wear or a gap): the
        # levels the displacement needs are unknown.
        return (SIT if ev.seated_angle else STAND), False
    return _from_upright(ev, tuning)


def _from_upright(ev: Evidence, tuning: PostureTuning) -> tuple[int, bool]:
    """``seated_after`` for a transition that started sitting or standing."""
    down = ev.z_m is not None and ev.z_m <= -tuning.sit_down_m
    up = ev.z_m is not None and ev.z_m >= tuning.stand_up_m
    # Nobody sits down from sitting or stands up from standing: such a reading is
    # no evidence (6% of uci_hapt stand-to-sit transitions measure a rise).
    if down and ev.before != SIT:
        return SIT, True
    if up and ev.before != STAND:
        return STAND, True
    if ev.before == STAND:
        # The standing posture just left is a reference of its own: a pelvis or trunk
        # that settles tilted from it by the sitting cut-point is seated (the Vähä-Ypyä
        # et al. 2018 criterion, against standing instead of walking), if the body was
        # moved vertically on the way (a bend is not).
        cut = ev.sit_deg if ev.sit_deg is not None else 90.0
        turned = ev.turn_deg >= cut or (ev.turn_deg >= tuning.fidget_deg and bool(ev.seated_angle))
        if turned and ev.jolt_g >= tuning.sit_jolt_g:
            # Firm only when the movement was a transition: over a longer one (squats,
            # a stretch routine) a jolt is any activity, and the angle may overrule it.
            return SIT, ev.z_m is not None
        return STAND, ev.firm
    # Seated before: getting up lifts the body as sitting down lowers it, so a turn
    # without vertical acceleration is a shift on the chair, whatever the angle says.
    if ev.turn_deg < tuning.fidget_deg or ev.seated_angle is None or ev.jolt_g < tuning.sit_jolt_g:
        return SIT, ev.firm
    return (SIT if ev.seated_angle else STAND), False
