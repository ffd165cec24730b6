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
  The rule itself, with the evidence it weighs, is ``analysis.sitstand``; explicit
  calibration is ``analysis.calibration``.
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

from analysis.calibration import CalibrationWindow
from analysis.reference import UprightReference, gait_like
from analysis.settings import POSTURE_CODES, AnalysisSettings, Placement, Posture, PostureTuning
from analysis.sitstand import Evidence, Transition, seated_after
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
        self.gait_m: deque[float] = deque(maxlen=self.walk_confirm)  # |a| of walking-like frames
        self.trans: Transition | None = None
        self.calibration = CalibrationWindow(math.ceil(tuning.calibration_s / fs))

    # ----------------------------------------------------------------- public

    def calibrate_from(self, k: int) -> None:
        """Take the first ``calibration_s`` of still standing from frame ``k`` as upright."""
        self.calibration.start(k)

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
        self.gait_m.clear()
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
        self.gait_m.clear()
        if self.walking:
            self.reference.end_bout()
            self.walking = False
        self._append(NONWEAR)

    def _walking(self, u: NDArray[np.float64], m: float) -> None:
        self.nonwear = False
        self._append(WALK)
        self.gait_m.append(m)
        gait = gait_like(np.asarray(self.gait_m), self.tuning.frame_s, self.tuning.min_cadence_hz)
        if self.walking:
            if gait:
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
            for w in self.walk_run if gait else []:
                self.reference.walking(np.asarray(w))
            self.walk_run = []

    def _worn(self, k: int, u: NDArray[np.float64], m: float, *, still: bool) -> None:
        if self.nonwear:
            self.nonwear = False
            self.upright = None
        self.walk_run = []
        self.gait_m.clear()
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
        self.trans = Transition(prev, (m0, g0 if start_g is None else start_g), hist[-_PAD:])

    def _track(self, u: NDArray[np.float64], m: float, *, still: bool) -> None:
        tr = self.trans
        assert tr is not None
        tr.add(m)
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

    def _decide(self, tr: Transition) -> None:
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
        ref = self.reference.unit()
        # Turned from standing: against the standing posture last seen, so that coming
        # back upright from a bend is no turn.
        left = self.stand_up if self.upright == STAND and self.stand_up is not None else tr.before[1]
        evidence = Evidence(
            prev=tr.prev,
            before=self.upright,
            firm=self.upright_firm,
            z_m=z,
            jolt_g=tr.peak_g,
            turn_deg=_angle_deg(left, g1),
            seated_angle=None if ref is None or self.sit_deg is None else _angle_deg(g1, ref) >= self.sit_deg,
            sit_deg=self.sit_deg,
        )
        new, firm = seated_after(evidence, self.tuning)
        self.upright = new
        self.upright_known = True
        self.upright_firm = firm
        # A standing trunk that turned by the cut-point without rising (a bend) is no
        # new standing posture to measure the next turn from.
        bent = evidence.before == STAND and self.sit_deg is not None and evidence.turn_deg >= self.sit_deg
        if new == STAND and (not bent or (z is not None and z >= self.tuning.stand_up_m)):
            self.stand_up = g1
        # Relabel the still frames since the transition settled (they are pending).
        first = len(self.pending) - (self.settle - 1)
        for j in range(max(0, first), len(self.pending)):
            if self.pending[j] in (SIT, STAND):
                self.pending[j] = new

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
        upright = self.calibration.feed(k, u, still=still)
        if upright is None:
            return
        self.reference.calibrate(upright, self.reference.min_frames * 4)
        self.stand_up = upright
        self.upright = STAND
        self.upright_known = True
        self.upright_firm = True

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
            "gait_m": list(self.gait_m),
            "trans": None if self.trans is None else self.trans.to_dict(),
            **self.calibration.snapshot(),
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
        self.gait_m = deque((float(m) for m in state.get("gait_m", [])), maxlen=self.walk_confirm)
        self.trans = None if state["trans"] is None else Transition.from_dict(state["trans"])
        self.calibration.load(state)
        self.reference.load(state["reference"])
