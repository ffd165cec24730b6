"""Per-frame posture decisions: stillness, transitions, non-wear and the upright reference.

``PostureDecider`` walks through per-frame features in time order and keeps the few
seconds of undecided frames in a pending buffer, so that a decision taken a moment
later (the posture after a transition, the start of non-wear) can still correct them.
A frame is final once ``delay_frames`` newer frames were seen; live and batch runs
take exactly the same decisions because each one depends only on the frames before it
and this fixed look-ahead.

Per placement:

* thigh: sitting when the thigh is inclined at least 45 deg from the upright (Acti4:
  Skotte et al. 2014, Med Sci Sports Exerc 46(9):1839-1846,
  doi:10.1249/MSS.0000000000000308; activPAL: Grant et al. 2006, Br J Sports Med
  40(12):992-997, doi:10.1136/bjsm.2006.030262).
* waist, lower back, chest, upper back: lying when the trunk is inclined at least
  60 deg from upright. Upright sitting and standing are told apart at postural
  transitions (Najafi et al. 2003, IEEE Trans Biomed Eng 50(6):711-723,
  doi:10.1109/TBME.2003.812189): the hips go down when sitting down and up when
  standing up (``analysis.transitions``). Without such evidence (a fidget, a
  transition too gentle to measure) the inclination against the walking upright
  decides (Vähä-Ypyä et al. 2018, Scand J Med Sci Sports 28(3):1092-1102,
  doi:10.1111/sms.13017: about 11.6 deg at the hip), and without a reference the
  previous posture is kept. Coming from walking, the inclination against the walking
  upright decides. Coming from lying, the wearer
  is sitting unless the hips rose far: sitting up is how people get up, and neither
  the angle nor the rise from lying tells it reliably (``analysis.transitions``).
* wrist: walking or not; still frames are ``other`` (a wrist cannot tell sitting from
  standing: Rosenberger et al. 2016, Med Sci Sports Exerc 48(3):457-465,
  doi:10.1249/MSS.0000000000000778).

Non-wear (every placement): a worn sensor always moves a little (breathing, postural
sway), a sensor on a desk does not. van Hees et al. 2013 (PLoS ONE 8(4):e61691,
doi:10.1371/journal.pone.0061691) call 30-60 min with an SD under ~13 mg non-wear; for
a decision within seconds the range of the 1-s mean acceleration over
``nonwear_window_s`` is used instead (see ``PostureTuning``).
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np
from numpy.typing import NDArray

from analysis.reference import UprightReference
from analysis.settings import POSTURE_CODES, AnalysisSettings, Placement, Posture, PostureTuning
from analysis.transitions import hip_displacement_m

__all__ = ["PostureDecider"]

SIT = POSTURE_CODES.index(Posture.SITTING)
STAND = POSTURE_CODES.index(Posture.STANDING)
LIE = POSTURE_CODES.index(Posture.LYING)
WALK = POSTURE_CODES.index(Posture.WALKING)
OTHER = POSTURE_CODES.index(Posture.OTHER)
NONWEAR = POSTURE_CODES.index(Posture.NONWEAR)

_TRUNK = frozenset({Placement.WAIST, Placement.LOWER_BACK, Placement.CHEST, Placement.UPPER_BACK})
_THORAX = frozenset({Placement.CHEST, Placement.UPPER_BACK})
_RING = 15  # frames of history: 1 s of level before the 0.5 s pre-transition padding
_PAD = 5  # frames of padding on each side of a transition (0.5 s)
_LEVEL = 10  # frames averaged for the still level before and after (1 s)


def _angle_deg(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    return math.degrees(math.acos(max(-1.0, min(1.0, float(np.dot(a, b))))))


def _unit(v: NDArray[np.float64]) -> NDArray[np.float64]:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


class _Transition:
    """A movement between two still periods, collected frame by frame."""

    def __init__(self, prev: int, before: tuple[float, NDArray[np.float64]], pad: list[tuple[float, Any]]) -> None:
        self.prev = prev
        self.before = before
        self.frames: list[tuple[float, Any]] = list(pad)
        self.long = False
        self.still_run = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "prev": self.prev,
            "before": [self.before[0], self.before[1].tolist()],
            "frames": [[m, list(u)] for m, u in self.frames],
            "long": self.long,
            "still_run": self.still_run,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> _Transition:
        tr = cls(int(d["prev"]), (float(d["before"][0]), np.asarray(d["before"][1], dtype=np.float64)), [])
        tr.frames = [(float(m), tuple(u)) for m, u in d["frames"]]
        tr.long = bool(d["long"])
        tr.still_run = int(d["still_run"])
        return tr


class PostureDecider:
    """Streaming per-frame posture codes with a fixed look-ahead (module docstring).

    Args:
        settings: The analysis settings.
        long_axis: Device axis used, sign-agnostic, as the upright before any reference.
        sit_deg: Inclination cut-point of sitting, deg (``None``: not used).
        lie_deg: Inclination cut-point of lying, deg (``None``: not used).
    """

    def __init__(self, settings: AnalysisSettings, long_axis: int, sit_deg: float | None, lie_deg: float | None):
        tuning: PostureTuning = settings.tuning
        self.placement = settings.placement
        self.trunk = settings.placement in _TRUNK
        self.thorax = settings.placement in _THORAX
        self.tuning = tuning
        self.long_axis = long_axis
        self.sit_deg = sit_deg
        self.lie_deg = lie_deg
        fs = tuning.frame_s
        self.delay = math.ceil(tuning.decision_delay_s / fs)
        self.settle = math.ceil(tuning.settle_s / fs)
        self.max_transition = math.ceil(tuning.max_transition_s / fs)
        self.nonwear_frames = math.ceil(tuning.nonwear_window_s / fs)
        self.calib_frames = math.ceil(tuning.calibration_s / fs)
        self.reference = UprightReference(
            min_frames=math.ceil(tuning.ref_min_walk_s / fs),
            half_life_frames=tuning.ref_half_life_s / fs,
            reset_deg=tuning.ref_reset_deg,
        )
        self.pending: list[int] = []
        self.pending_slouch: list[float] = []
        self.pending_k0 = 0
        self.ring: deque[tuple[float, Any]] = deque(maxlen=_RING)
        self.walking = False
        self.nonwear = False
        self.upright: int | None = None  # decided sitting/standing of the trunk
        self.upright_known = False  # whether evidence (not a default) decided it
        self.upright_firm = False  # whether a measured transition decided it
        self.still_g: NDArray[np.float64] | None = None  # gravity when the posture was last decided
        self.stand_up: NDArray[np.float64] | None = None  # gravity while last seen standing
        self.last_code: int | None = None
        self.last_still: int | None = None  # posture of the last frame that was not walking-like
        self.walk_run: list[tuple[float, ...]] = []
        self.still_run = 0  # frames in a row labelled last_still
        self.min_lying = math.ceil(tuning.min_lying_s / fs)
        self.walk_confirm = math.ceil(tuning.walk_confirm_s / fs)
        self.trans: _Transition | None = None
        self.calib_from_k: int | None = None
        self.calib_sum = np.zeros(3)
        self.calib_n = 0

    # ----------------------------------------------------------------- public

    def calibrate_from(self, k: int) -> None:
        """Take the first ``calibration_s`` of still standing from frame ``k`` as upright."""
        self.calib_from_k = k
        self.calib_sum = np.zeros(3)
        self.calib_n = 0

    def push(
        self,
        k0: int,
        *,
        has_data: NDArray[np.bool_],
        unit: NDArray[np.float64],
        sd: NDArray[np.float64],
        mag: NDArray[np.float64],
        quiet: NDArray[np.bool_],
    ) -> None:
        """Decide consecutive frames (``emit`` returns those that became final).

        Args:
            k0: Index of the first frame given.
            has_data: Whether the frame's gravity window holds samples, shape (m,).
            unit: Gravity direction, unit vectors, shape (m, 3).
            sd: Movement intensity (SD of |a|), g, shape (m,).
            mag: Mean |a| of the frame itself, g (NaN without samples), shape (m,).
            quiet: Whether the non-wear window ending at the frame is motionless, shape (m,).
        """
        if not self.pending:
            self.pending_k0 = k0
        walk_sd = self.tuning.walk_sd_g
        still_sd = self.tuning.still_sd_g
        for i in range(has_data.shape[0]):
            k = k0 + i
            if not has_data[i]:
                self._gap()
                continue
            u = unit[i]
            m = float(mag[i]) if math.isfinite(mag[i]) else (self.ring[-1][0] if self.ring else 1.0)
            moved = bool(self.ring) and _angle_deg(u, np.asarray(self.ring[-min(len(self.ring), _PAD)][1])) > (
                self.tuning.move_deg
            )
            if quiet[i]:
                self._nonwear(k)
            elif sd[i] > walk_sd:
                self._walking(u, m)
            else:
                self._worn(k, u, m, still=sd[i] <= still_sd and not moved)
            self.ring.append((m, tuple(u.tolist())))

    def flush(self) -> tuple[int, NDArray[np.int64], NDArray[np.float64]]:
        """Return every pending frame (end of stream)."""
        return self.emit(end=True)

    @property
    def latest_code(self) -> int | None:
        """The newest (provisional) code."""
        return self.last_code

    # ------------------------------------------------------------- frame kinds

    def _append(self, code: int, slouch: float = math.nan) -> None:
        self.pending.append(code)
        self.pending_slouch.append(slouch)
        self.last_code = code

    def _gap(self) -> None:
        self.trans = None
        self.walk_run = []
        if self.walking:
            self.reference.end_bout()
            self.walking = False
        self._append(OTHER)

    def _nonwear(self, k: int) -> None:
        first = max(self.pending_k0, k - self.nonwear_frames + 1)
        for j in range(first - self.pending_k0, len(self.pending)):
            self.pending[j] = NONWEAR
            self.pending_slouch[j] = math.nan
        self.nonwear = True
        self.upright = None
        self.still_g = None
        self.last_still = None
        self.trans = None
        self.walk_run = []
        if self.walking:
            self.reference.end_bout()
            self.walking = False
        self._append(NONWEAR)

    def _walking(self, u: NDArray[np.float64], m: float) -> None:
        self.nonwear = False
        self._append(WALK)
        if self.walking:
            self.reference.walking(u)
            return
        # Walking-like movement: a postural transition until it lasts walk_confirm_s.
        if self.trans is None:
            self._open(self.last_still if self.last_still is not None else OTHER)
        self._track(u, m, still=False)
        self.walk_run.append(tuple(u.tolist()))
        if len(self.walk_run) >= self.walk_confirm:
            self.walking = True
            self.trans = None
            for w in self.walk_run:
                self.reference.walking(np.asarray(w))
            self.walk_run = []

    def _worn(self, k: int, u: NDArray[np.float64], m: float, *, still: bool) -> None:
        if self.nonwear:
            self.nonwear = False
            self.upright = None
        self.walk_run = []
        if self.walking:
            self.reference.end_bout()
            self.walking = False
            self._open(WALK)
        elif self.trans is None and not still:
            self._open(self.last_still if self.last_still is not None else OTHER)
        elif self.trans is None and self.still_g is not None and _angle_deg(u, self.still_g) > self.tuning.fidget_deg:
            # A slow change of posture that never looked like movement: the posture
            # settled since the last decision is the one it started from.
            self._open(self.last_still if self.last_still is not None else OTHER, start_g=self.still_g)
        self._calibration(k, u, still=still)
        if self.trans is not None:
            self._track(u, m, still=still)
        code, slouch = self._label(u)
        self._append(code, slouch)
        self.still_run = self.still_run + 1 if code == self.last_still else 1
        self.last_still = code

    # -------------------------------------------------------------- transitions

    def _open(self, prev: int, start_g: NDArray[np.float64] | None = None) -> None:
        if self.still_run < self.min_lying and (prev == LIE or (prev in (SIT, STAND) and not self.upright_known)):
            # A few seconds of a posture nothing confirmed is a sensor being handled
            # (clipped on, picked up), not a posture to start a transition from.
            prev = OTHER
        hist = list(self.ring)
        level = hist[:-_PAD] if len(hist) > _PAD else hist
        if level:
            m0 = float(np.mean([h[0] for h in level]))
            g0 = _unit(np.mean([h[1] for h in level], axis=0))
        else:
            m0, g0 = 1.0, np.array([1.0, 0.0, 0.0])
        self.trans = _Transition(prev, (m0, g0 if start_g is None else start_g), hist[-_PAD:])

    def _track(self, u: NDArray[np.float64], m: float, *, still: bool) -> None:
        tr = self.trans
        assert tr is not None
        if not tr.long:
            tr.frames.append((m, tuple(u.tolist())))
            if len(tr.frames) > self.max_transition + self.settle + _PAD:
                tr.long = True
                tr.frames = tr.frames[-self.settle :]
        elif len(tr.frames) >= self.settle:
            tr.frames = [*tr.frames[1:], (m, tuple(u.tolist()))]
        else:
            tr.frames.append((m, tuple(u.tolist())))
        tr.still_run = tr.still_run + 1 if still else 0
        if tr.still_run >= self.settle:
            self._decide(tr)
            self.trans = None

    def _decide(self, tr: _Transition) -> None:
        if not self.trunk:
            return
        after = tr.frames[-_LEVEL:]
        m1 = float(np.mean([f[0] for f in after]))
        g1 = _unit(np.mean([f[1] for f in after], axis=0))
        self.still_g = g1
        z: float | None = None
        if not tr.long:
            window = tr.frames[: len(tr.frames) - (self.settle - _PAD)]
            mags = np.array([f[0] for f in window])
            units = np.array([f[1] for f in window], dtype=np.float64).reshape(-1, 3)
            z = hip_displacement_m(mags, units, tr.before, (m1, g1), self.tuning.frame_s)
        if self._lying(g1):
            return
        new, firm = self._upright_after(tr.prev, z, _angle_deg(tr.before[1], g1), g1)
        self.upright = new
        self.upright_known = True
        self.upright_firm = firm
        if new == STAND:
            self.stand_up = g1
        # Relabel the still frames since the transition settled (they are pending).
        first = len(self.pending) - (self.settle - 1)
        for j in range(max(0, first), len(self.pending)):
            if self.pending[j] in (SIT, STAND):
                self.pending[j] = new

    def _upright_after(self, prev: int, z: float | None, turn_deg: float, g1: NDArray[np.float64]) -> tuple[int, bool]:
        """Sitting or standing after a transition, and whether a transition showed it."""
        t = self.tuning
        ref = self.reference.unit()
        seated_angle = None if ref is None or self.sit_deg is None else _angle_deg(g1, ref) >= self.sit_deg
        down = z is not None and z <= -t.sit_down_m
        up = z is not None and z >= t.stand_up_m
        if prev == WALK:
            # Gait swamps the |a| levels a displacement needs; the walking upright was
            # just refreshed, so the angle decides (Vähä-Ypyä et al. 2018).
            return SIT if seated_angle else STAND, False
        if prev == LIE:
            # People get up by sitting up; upright sitting after lying is as close to
            # the walking upright as standing (uci_hapt: 1-8 deg for several wearers),
            # so the angle cannot overrule this, only a clear rise of the hips can.
            rose = z is not None and z >= t.rise_from_lying_m
            return (STAND, True) if rose else (SIT, False)
        if prev not in (SIT, STAND):
            # Nothing still before (start of the stream, after non-wear or a gap): the
            # levels the displacement needs are unknown.
            return SIT if seated_angle else STAND, False
        return self._after_upright(down=down, up=up, turn_deg=turn_deg, seated_angle=seated_angle)

    def _after_upright(self, *, down: bool, up: bool, turn_deg: float, seated_angle: bool | None) -> tuple[int, bool]:
        before = self.upright
        # Nobody sits down from sitting or stands up from standing: such a reading is
        # no evidence (6% of uci_hapt stand-to-sit transitions measure a rise).
        if down and before != SIT:
            return SIT, True
        if up and before != STAND:
            return STAND, True
        if before == STAND:
            # The standing posture just left is a reference of its own: a pelvis or
            # trunk that settles tilted from it by the sitting cut-point is seated
            # (the Vähä-Ypyä et al. 2018 criterion, against standing instead of walking).
            # With a walking upright as well, a smaller turn that ends seated by it counts.
            cut = self.sit_deg if self.sit_deg is not None else 90.0
            if turn_deg >= cut or (turn_deg >= self.tuning.fidget_deg and seated_angle):
                return SIT, True
            return STAND, self.upright_firm
        if turn_deg < self.tuning.fidget_deg or seated_angle is None:
            return SIT, self.upright_firm
        return SIT if seated_angle else STAND, False

    # ------------------------------------------------------------------ labels

    def _upright_estimate(self) -> NDArray[np.float64] | None:
        ref = self.reference.unit()
        return ref if ref is not None else self.stand_up

    def _inclination(self, u: NDArray[np.float64], up: NDArray[np.float64] | None) -> float:
        if up is None:
            return math.degrees(math.acos(min(1.0, abs(float(u[self.long_axis])))))
        return _angle_deg(u, up)

    def _lying(self, u: NDArray[np.float64]) -> bool:
        return self.lie_deg is not None and self._inclination(u, self._upright_estimate()) >= self.lie_deg

    def _label(self, u: NDArray[np.float64]) -> tuple[int, float]:
        if self.placement is Placement.WRIST:
            return OTHER, math.nan
        if not self.trunk:
            incl = self._inclination(u, self.reference.unit())
            return (SIT if self.sit_deg is not None and incl >= self.sit_deg else STAND), math.nan
        if self._lying(u):
            return LIE, math.nan
        if self.upright is None:
            ref = self.reference.unit()
            seated = ref is not None and self.sit_deg is not None and _angle_deg(u, ref) >= self.sit_deg
            self.upright = SIT if seated else STAND
            self.upright_known = ref is not None
            self.still_g = u
        ref = self.reference.unit()
        return self.upright, (_angle_deg(u, ref) if ref is not None and self.thorax else math.nan)

    # ------------------------------------------------------------- calibration

    def _calibration(self, k: int, u: NDArray[np.float64], *, still: bool) -> None:
        if self.calib_from_k is None or k < self.calib_from_k:
            return
        if not still:
            self.calib_sum = np.zeros(3)
            self.calib_n = 0
        else:
            self.calib_sum = self.calib_sum + u
            self.calib_n += 1
        if self.calib_n >= self.calib_frames:
            self.reference.calibrate(_unit(self.calib_sum), self.reference.min_frames * 4)
            self.stand_up = _unit(self.calib_sum)
            self.upright = STAND
            self.upright_known = True
            self.upright_firm = True
            self.calib_from_k = None
        elif k - self.calib_from_k > 6 * self.calib_frames:
            self.calib_from_k = None  # never still long enough: give up

    # ---------------------------------------------------------------- emitting

    def emit(self, *, end: bool) -> tuple[int, NDArray[np.int64], NDArray[np.float64]]:
        """Return the frames that are final: all but the last ``delay`` (all at the end).

        Returns:
            ``(k, codes, slouch_deg)``: first final frame, codes shape (p,), thorax
            inclination from the reference for upright frames (NaN otherwise), shape (p,).
        """
        n = len(self.pending) if end else max(0, len(self.pending) - self.delay)
        k = self.pending_k0
        codes = np.asarray(self.pending[:n], dtype=np.int64)
        slouch = np.asarray(self.pending_slouch[:n], dtype=np.float64)
        del self.pending[:n]
        del self.pending_slouch[:n]
        self.pending_k0 = k + n
        return k, codes, slouch

    def snapshot(self) -> dict[str, Any]:
        """Return the JSON-serialisable state."""
        return {
            "pending": list(self.pending),
            "pending_slouch": [None if math.isnan(x) else x for x in self.pending_slouch],
            "pending_k0": self.pending_k0,
            "ring": [[m, list(u)] for m, u in self.ring],
            "walking": self.walking,
            "nonwear": self.nonwear,
            "upright": self.upright,
            "upright_known": self.upright_known,
            "upright_firm": self.upright_firm,
            "stand_up": None if self.stand_up is None else self.stand_up.tolist(),
            "still_g": None if self.still_g is None else self.still_g.tolist(),
            "last_code": self.last_code,
            "last_still": self.last_still,
            "still_run": self.still_run,
            "walk_run": [list(w) for w in self.walk_run],
            "trans": None if self.trans is None else self.trans.to_dict(),
            "calib_from_k": self.calib_from_k,
            "calib_sum": self.calib_sum.tolist(),
            "calib_n": self.calib_n,
            "reference": self.reference.snapshot(),
        }

    def load(self, state: dict[str, Any]) -> None:
        """Restore the state saved by ``snapshot()``."""
        self.pending = [int(c) for c in state["pending"]]
        self.pending_slouch = [math.nan if x is None else float(x) for x in state["pending_slouch"]]
        self.pending_k0 = int(state["pending_k0"])
        self.ring = deque(((float(m), tuple(u)) for m, u in state["ring"]), maxlen=_RING)
        self.walking = bool(state["walking"])
        self.nonwear = bool(state["nonwear"])
        self.upright = state["upright"]
        self.upright_known = bool(state["upright_known"])
        self.upright_firm = bool(state["upright_firm"])
        su = state["stand_up"]
        self.stand_up = None if su is None else np.asarray(su, dtype=np.float64)
        sg = state["still_g"]
        self.still_g = None if sg is None else np.asarray(sg, dtype=np.float64)
        self.last_code = state["last_code"]
        self.last_still = state["last_still"]
        self.still_run = int(state["still_run"])
        self.walk_run = [tuple(w) for w in state["walk_run"]]
        self.trans = None if state["trans"] is None else _Transition.from_dict(state["trans"])
        self.calib_from_k = state["calib_from_k"]
        self.calib_sum = np.asarray(state["calib_sum"], dtype=np.float64)
        self.calib_n = int(state["calib_n"])
        self.reference.load(state["reference"])
