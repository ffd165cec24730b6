"""Per-frame posture decisions: stillness, transitions, non-wear and the upright reference.

``PostureDecider`` walks through per-frame features in time order and keeps the few
seconds of undecided frames in a pending buffer, so that a decision taken a moment
later (the posture after a transition, the start of non-wear) can still correct them.
A frame is final once ``decision_delay_s`` of newer frames were seen, and, while the
sensor lies motionless, once it is known whether that stillness is non-wear; live and
batch runs take exactly the same decisions because each one depends only on the frames
before it and these look-aheads.

Still frames are labelled by their inclination (``analysis.labels``: thigh, wrist, and
lying for the trunk). For the trunk (waist, lower back, chest, upper back), upright
sitting and standing are told apart at postural transitions (Najafi et al. 2003, IEEE
Trans Biomed Eng 50(6):711-723, doi:10.1109/TBME.2003.812189): the hips go down when
sitting down and up when standing up (``analysis.transitions``). Without such evidence
(a fidget, a transition too gentle to measure) the inclination against the walking
upright decides (Vähä-Ypyä et al. 2018, Scand J Med Sci Sports 28(3):1092-1102,
doi:10.1111/sms.13017: about 11.6 deg at the hip), and without a reference the
previous posture is kept. Coming from walking, the inclination against the walking
upright decides. Coming from lying, the wearer is sitting unless the hips rose far:
sitting up is how people get up, and neither the angle nor the rise from lying tells
it reliably (``analysis.transitions``). The rule itself, with the evidence it weighs,
is ``analysis.sitstand``; the posture it decided, which labels the upright frames until
the next decision, is ``analysis.stance``; explicit calibration is
``analysis.calibration``.

Walking-like movement is taken for a postural transition until it lasts
``walk_confirm_s``; then it is walking, and its gait refreshes the walking upright
(``analysis.gait``, ``analysis.reference``).

Most of a day is steady (motionless, sitting still, walking): ``analysis.steady``
prepares each chunk with array operations, and such runs are taken in one step that
ends in the same state as the frame-by-frame logic kept for everything else.

Non-wear (every placement): a worn sensor always moves a little (breathing, postural
sway), a sensor on a desk does not. van Hees et al. 2013 (PLoS ONE 8(4):e61691,
doi:10.1371/journal.pone.0061691) call 30-60 min with an SD under ~13 mg non-wear; for
a decision within a minute the range of the 1-s mean acceleration over
``nonwear_window_s`` is used instead (see ``PostureTuning``); the frames of a stillness
wait for it, so a sensor on a desk is non-wear from the moment it lay still.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from analysis.angles import angle_deg, angles_deg, beyond_deg, dots
from analysis.calibration import CalibrationWindow
from analysis.gait import Gait
from analysis.labels import LIE, NONWEAR, OTHER, SIT, STAND, WALK, StillLabels
from analysis.packing import packed_columns, unpacked
from analysis.pending import Pending
from analysis.reference import UprightReference
from analysis.settings import AnalysisSettings, PostureTuning
from analysis.sitstand import HISTORY_FRAMES, PAD_FRAMES, Transition
from analysis.stance import Stance
from analysis.steady import GAP, QUIET, STILL, WALKLIKE, ChunkFrames, first_true

__all__ = ["PostureDecider"]

_SHORT = 32  # runs up to this many frames take plain loops


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
        labels = StillLabels(settings.placement, long_axis, sit_deg, lie_deg)
        self.trunk = labels.trunk
        self.tuning = tuning
        fs = tuning.frame_s
        self.delay = math.ceil(tuning.decision_delay_s / fs)
        self.settle = math.ceil(tuning.settle_s / fs)
        self.max_transition = math.ceil(tuning.max_transition_s / fs)
        self.nonwear_frames = math.ceil(tuning.nonwear_window_s / fs)
        self.calm_frames = math.ceil(tuning.calm_window_s / fs)
        self.calm_run = 0  # latest frames in a row whose calm window was motionless
        self.reference = UprightReference(
            min_frames=math.ceil(tuning.ref_min_walk_s / fs),
            half_life_frames=tuning.ref_half_life_s / fs,
            reset_deg=tuning.ref_reset_deg,
        )
        self.gait = Gait(self.reference, math.ceil(tuning.walk_confirm_s / fs), fs, tuning.min_cadence_hz)
        self.stance = Stance(labels, self.reference, tuning, settings.thigh)
        self.pending = Pending()
        # |a| and gravity direction of the latest HISTORY_FRAMES frames with data, oldest first.
        self.ring_m = np.zeros(0)
        self.ring_u = np.zeros((0, 3))
        self.nonwear = False
        self.last_code: int | None = None
        self.last_still: int | None = None  # posture of the last frame that was not walking-like
        self.still_run = 0  # frames in a row labelled last_still
        self.min_lying = math.ceil(tuning.min_lying_s / fs)
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
        calm: NDArray[np.bool_],
    ) -> None:
        """Decide consecutive frames (``emit`` returns those that became final).

        Args:
            k0: Index of the first frame given.
            has_data: Whether the frame's gravity window holds samples, shape (m,).
            unit: Gravity direction, unit vectors, shape (m, 3).
            sd: Movement intensity (SD of |a|), g, shape (m,).
            mag: Mean |a| of the frame itself, g (NaN without samples), shape (m,).
            quiet: Whether the non-wear window ending at the frame is motionless, shape (m,).
            calm: Whether the shorter ``calm_window_s`` ending at the frame is, shape (m,).
        """
        if not self.pending:
            self.pending.k0 = k0
        t = self.tuning
        c = ChunkFrames.build(
            self.ring_m,
            self.ring_u,
            has_data=has_data,
            unit=unit,
            sd=sd,
            mag=mag,
            quiet=quiet,
            walk_sd_g=t.walk_sd_g,
            still_sd_g=t.still_sd_g,
            move_deg=t.move_deg,
            move_lag=PAD_FRAMES,
        )
        self._take(k0, c, c.kind.tolist(), c.pos.tolist(), calm.tolist())

    def push_few(
        self,
        k0: int,
        *,
        has_data: list[bool],
        unit: list[tuple[float, float, float]],
        sd: list[float],
        mag: list[float],
        quiet: list[bool],
        calm: list[bool],
    ) -> None:
        """``push`` for a live packet's few frames, given as plain lists (the same decisions).

        Frames that all have data take ``ChunkFrames.build_few``; a chunk with a gap
        goes the way of ``push``.
        """
        t = self.tuning
        c = (
            ChunkFrames.build_few(
                self.ring_m,
                self.ring_u,
                unit=unit,
                sd=sd,
                mag=mag,
                quiet=quiet,
                walk_sd_g=t.walk_sd_g,
                still_sd_g=t.still_sd_g,
                move_deg=t.move_deg,
                move_lag=PAD_FRAMES,
            )
            if all(has_data)
            else None
        )
        if c is None:
            self.push(
                k0,
                has_data=np.array(has_data, dtype=np.bool_),
                unit=np.array(unit, dtype=np.float64).reshape(-1, 3),
                sd=np.array(sd, dtype=np.float64),
                mag=np.array(mag, dtype=np.float64),
                quiet=np.array(quiet, dtype=np.bool_),
                calm=np.array(calm, dtype=np.bool_),
            )
            return
        if not self.pending:
            self.pending.k0 = k0
        self._take(k0, c, c.kind.tolist(), c.pos.tolist(), calm)

    def _take(self, k0: int, c: ChunkFrames, kinds: list[int], pos: list[int], calm: list[bool]) -> None:
        """Decide the frames of a prepared chunk, run by run (``push``)."""
        i = 0
        while i < len(kinds):
            kind, end, p = kinds[i], c.run_end[i], pos[i]
            if kind == GAP:
                self._gap()
                i += 1
            elif kind == QUIET:
                self._nonwear(k0 + i, frames=end - i)
                i = end
            elif kind == WALKLIKE and self.gait.steady:
                self._walking_run(c, p, p + end - i)
                i = end
            elif kind == WALKLIKE:
                self._walking(c, p)
                i += 1
            else:
                n_steady = self._steady_frames(c, k0 + i, p, end - i) if kind == STILL else 0
                if n_steady:
                    self._still_run(c, p, n_steady)
                    i += n_steady
                else:
                    self._worn(k0 + i, c, p, still=kind == STILL)
                    i += 1
        self.ring_m = c.seq_m[-HISTORY_FRAMES:].copy()
        self.ring_u = c.seq_u[-HISTORY_FRAMES:].copy()
        if all(calm):
            self.calm_run += len(calm)
        else:  # frames since the last restless one
            self.calm_run = calm[::-1].index(False)

    def flush(self) -> tuple[int, NDArray[np.int64], NDArray[np.float64]]:
        """Return every pending frame (end of stream)."""
        return self.emit(end=True)

    @property
    def latest_code(self) -> int | None:
        """The newest (provisional) code."""
        return self.last_code

    # ------------------------------------------------------------- frame kinds

    def _append(self, code: int, slouch: float = math.nan) -> None:
        self.pending.append(code, slouch)
        self.last_code = code

    def _gap(self) -> None:
        self.trans = None
        self.gait.leave()
        self.stance.moved()
        self._append(OTHER)

    def _nonwear(self, k: int, frames: int = 1) -> None:
        """Frames ``k .. k+frames-1`` are motionless: they and the window before are non-wear."""
        self.nonwear = True
        self.stance.forget()
        self.last_still = None
        self.trans = None
        self.gait.leave()
        self.pending.extend(NONWEAR, frames)
        self.pending.mark(k - self.nonwear_frames + 1, NONWEAR)
        self.last_code = NONWEAR

    def _walking_run(self, c: ChunkFrames, a: int, b: int) -> None:
        """Frames ``a .. b-1`` of the chunk sequence go on walking (``_walking`` at once)."""
        self.nonwear = False
        self.stance.walked()
        self.pending.extend(WALK, b - a)
        self.last_code = WALK
        self.gait.add_many(c.seq_u[a:b], c.seq_m[a:b])

    def _walking(self, c: ChunkFrames, p: int) -> None:
        u, m = c.seq_u[p], float(c.seq_m[p])
        self.nonwear = False
        self.stance.moved()
        self._append(WALK)
        if self.gait.walking:
            self.stance.walked()
            self.gait.add(u, m)
            return
        # Walking-like movement: a postural transition until it lasts walk_confirm_s.
        if self.trans is None:
            self._open(c, p, self.last_still if self.last_still is not None else OTHER)
        self._track(u, m, still=False)
        if self.gait.add(u, m):  # now walking: no transition
            self.trans = None
            self.stance.walked()

    def _steady_frames(self, c: ChunkFrames, k: int, p: int, n: int) -> int:
        """How many of ``n`` still frames from frame ``k`` (sequence index ``p``) are steady.

        A still frame is steady when ``_worn`` would only label it: worn before, no
        walking or transition going on, no calibration due, gravity within
        ``fidget_deg`` of the posture last decided, and a label that changes no state.
        """
        if self.nonwear or self.gait.walking or self.trans is not None:
            return 0
        if self.calibration.from_k is not None:
            n = min(n, max(0, self.calibration.from_k - k))
        units = c.seq_u[p : p + n]
        still_g = self.stance.still_g
        if still_g is not None and n <= _SHORT:  # a live packet's few frames: no arc cosine for most
            fidgets = beyond_deg(dots(units, still_g), self.tuning.fidget_deg)
            n = fidgets.index(True) if True in fidgets else n
        elif still_g is not None:
            n = first_true(angles_deg(units, still_g) > self.tuning.fidget_deg, n)
        if self.trunk and self.stance.upright is None:
            # The first frame that is not lying decides the upright posture: not steady.
            n = first_true(~self.stance.lying_many(units[:n]), n)
        if self.trunk:
            n = self.stance.hold_room(units[:n])
        return n

    def _still_run(self, c: ChunkFrames, p: int, n: int) -> None:
        """Label ``n`` steady still frames from sequence index ``p`` (``_worn`` at once)."""
        self.gait.leave()  # no walking bout is open (steady): only the gait history goes
        codes, slouch = self.stance.label_many(c.seq_u[p : p + n])
        self.pending.extend_many(codes, slouch)
        last = codes[-1]
        self.last_code = last
        # still_run counts the frames labelled like the last one, across runs.
        if n > _SHORT:
            other = np.flatnonzero(np.asarray(codes) != last)
            same = n - 1 - int(other[-1]) if other.size else n
        else:  # a live packet's few frames: a loop is quicker than array calls
            same = n
            for j in range(n - 2, -1, -1):
                if codes[j] != last:
                    same = n - 1 - j
                    break
        self.still_run = self.still_run + same if same == len(codes) and self.last_still == last else same
        self.last_still = last

    def _worn(self, k: int, c: ChunkFrames, p: int, *, still: bool) -> None:
        u, m = c.seq_u[p], float(c.seq_m[p])
        if self.nonwear:
            self.nonwear = False
            self.stance.upright = None
        still_g = self.stance.still_g
        if self.gait.leave():
            self._open(c, p, WALK)
        elif self.trans is None and not still:
            self._open(c, p, self.last_still if self.last_still is not None else OTHER)
        elif self.trans is None and still_g is not None and angle_deg(u, still_g) > self.tuning.fidget_deg:
            # A slow change of posture that never looked like movement: the posture
            # settled since the last decision is the one it started from.
            self._open(c, p, self.last_still if self.last_still is not None else OTHER, start_g=still_g)
        upright_g = self.calibration.feed(k, u, still=still)
        if upright_g is not None:
            self.stance.calibrate(upright_g)
        if self.trans is not None:
            self._track(u, m, still=still)
        code, slouch = self.stance.label(u, still=still)
        self._append(code, slouch)
        self.still_run = self.still_run + 1 if code == self.last_still else 1
        self.last_still = code

    # -------------------------------------------------------------- transitions

    def _open(self, c: ChunkFrames, p: int, prev: int, start_g: NDArray[np.float64] | None = None) -> None:
        if self.still_run < self.min_lying and (prev == LIE or (prev in (SIT, STAND) and not self.stance.known)):
            # A few seconds of a posture nothing confirmed is a sensor being handled
            # (clipped on, picked up), not a posture to start a transition from.
            prev = OTHER
        self.trans = Transition.start(prev, c.history(p, HISTORY_FRAMES), start_g)
        if self.trunk and prev == STAND and self.stance.handled(self.trans.before[1]):
            # Nor is a trunk far from any upright it could have (before a walking
            # upright, far from the device's long axis): sit/stand started from it
            # would be measured from a sensor held in the hand.
            self.trans.prev = OTHER

    def _track(self, u: NDArray[np.float64], m: float, *, still: bool) -> None:
        tr = self.trans
        assert tr is not None
        if tr.step(m, u, still=still, max_frames=self.max_transition, settle=self.settle):
            self._decide(tr)
            self.trans = None

    def _decide(self, tr: Transition) -> None:
        if not self.trunk:
            return
        after = tr.after()
        z = tr.displacement_m(after, self.settle, self.tuning.frame_s)
        new = self.stance.settle(tr, after[1], z)
        if new is not None:
            # Relabel the still frames since the transition settled (they are pending).
            self.pending.relabel(self.settle - 1, (SIT, STAND), new)

    # ---------------------------------------------------------------- emitting

    def emit(self, *, end: bool) -> tuple[int, NDArray[np.int64], NDArray[np.float64]]:
        """Return the frames that are final: all but the last ``delay`` (all at the end).

        Returns:
            ``(k, codes, slouch_deg)``: first final frame, codes shape (p,), thorax
            inclination from the reference for upright frames (NaN otherwise), shape (p,).
        """
        n = len(self.pending) if end else max(0, len(self.pending) - max(self.delay, self._held()))
        return self.pending.take(n)

    def _held(self) -> int:
        """Latest frames kept undecided because non-wear may be starting (``calm_window_s``).

        A stillness that goes on for ``nonwear_window_s`` marks its whole window as
        non-wear (``_nonwear``), which needs those frames still pending; one that ends
        first lets them go as they were labelled.
        """
        if self.nonwear or not self.calm_run:
            return 0
        return min(self.calm_run + self.calm_frames - 1, self.nonwear_frames)

    def snapshot(self) -> dict[str, Any]:
        """Return the JSON-serialisable state."""
        return {
            **self.pending.snapshot(),
            "ring": packed_columns(np.column_stack((self.ring_m, self.ring_u))),
            "nonwear": self.nonwear,
            **self.stance.snapshot(),
            "last_code": self.last_code,
            "last_still": self.last_still,
            "still_run": self.still_run,
            "calm_run": self.calm_run,
            **self.gait.snapshot(),
            "trans": None if self.trans is None else self.trans.to_dict(),
            **self.calibration.snapshot(),
            "reference": self.reference.snapshot(),
        }

    def load(self, state: dict[str, Any]) -> None:
        """Restore the state saved by ``snapshot()``."""
        self.pending.load(state)
        ring = state["ring"]
        if isinstance(ring, list):  # saved before the ring was packed: [magnitude, [x, y, z]] per frame
            ring = [[m, *u] for m, u in ring]
        rows = unpacked(ring, 4)
        self.ring_m = rows[:, 0].copy()
        self.ring_u = rows[:, 1:].copy()
        self.nonwear = bool(state["nonwear"])
        self.stance.load(state)
        self.last_code = state["last_code"]
        self.last_still = state["last_still"]
        self.still_run = int(state["still_run"])
        self.calm_run = int(state.get("calm_run", 0))
        self.gait.load(state)
        self.trans = None if state["trans"] is None else Transition.from_dict(state["trans"])
        self.calibration.load(state)
        self.reference.load(state["reference"])
