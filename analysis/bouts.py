"""Final per-frame postures -> posture bouts, data gaps, sitting bouts, breaks and alerts.

What a sitting bout is (DESIGN.md, "Alert policy"):

1. Whether the wearer is seated changes only when a run of the other kind lasts the
   policy's ``min_run_s`` (or its ``min_break_s`` if that is shorter). A
   sitting run shorter than that which follows other postures is a blip of the posture
   at a change (the low point of a squat, a sensor being clipped on) and is passed over
   as if it were not there: it neither starts a bout nor ends a break. Likewise a
   non-sitting run shorter than that leaves the wearer seated, so that the sitting after
   it counts at once.
2. A sitting bout starts at the first frame of the sitting run that seated the wearer
   and survives non-sitting stretches shorter than ``min_break_s`` (the fidget
   tolerance). It ends when a non-sitting stretch lasts ``min_break_s``; the bout's end
   is where that stretch began (its last sitting frame). Lying, non-wear or missing data
   for ``min_break_s`` also ends a bout (the wearer is not sitting).
3. Bouts shorter than ``min_sitting_bout_s`` (first to last sitting frame) are not
   reported, and the upright run after them is no break. Sitting time (the posture
   bouts) depends on none of this.
4. A break follows a reported bout: an upright (standing or walking) run of
   ``min_break_s``. It lasts from the start of that run to the end of its last upright
   frame before the next sitting (rule 1), taking in shorter stretches of other postures
   (a few squats, a sensor briefly without data). Lying, non-wear or missing data for
   ``min_break_s`` ends it where that began, as does the end of the stream. It is
   emitted when it ends.

The default ``min_run_s`` is activPAL's default minimum sitting/upright period of 10 s
(Alghaeed et al. 2013, PLoS ONE 8(8):e71854, doi:10.1371/journal.pone.0071854: it
changes the number of breaks, not sitting time). Measured with ``analysis.analyze``: on the ``firmware_sim``
office morning (``generate(scenario("office_morning"), placement, seed)``, seeds 0-3,
every placement, 25 and 50 Hz) the sitting blips at posture changes last 0.2-1.4 s, and
on the thigh they made 5-6 sitting bouts of the script's 4; in the ``uci_hapt``
recordings of ``../shared/data`` every sitting run that overlaps labelled sitting lasts
16 s or more, while 130 of the 139 sitting runs more than a minute away from any
labelled sitting last under 10 s.

Alerts are raised on sitting frames only, at the end of the first frame at or after the
due time, so they fall on the frame grid and do not depend on chunking. At the thigh, an
alert due while the wearer has been as still as a sleeper is held back until they move
and sit on (``analysis.stillness``, the tracker's ``hold``). Non-wear is never
sitting: it ends a bout like lying does and raises nothing.

Frames whose gravity window (``PostureTuning.gravity_window_s``) holds no sample and
that the posture labelled ``other`` (``analysis.decision`` labels frames without data
so; the majority filter may carry a posture a frame or two into a short dropout) are a
``DataGap``, not a posture bout: posture bouts and gaps tile the stream.

Slouch (chest and upper back): frames whose trunk inclination from the upright reaches
``SlouchPolicy.slouch_deg`` add to ``slouch_s`` and to the ``slouch_s`` of the posture
bout they fall in (so a day's slouch time is the sum over its bouts); with ``nudge`` on,
``dwell_s`` of continuous slouching raises a ``SlouchNudge``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from analysis.alerts import AlertScheduler
from analysis.events import BreakTaken, DataGap, Event, PostureBout, SittingBout, SittingStarted
from analysis.frame_runs import GapFrames, code_runs
from analysis.settings import POSTURE_CODES, UPRIGHT, AlertPolicy, Posture, SlouchPolicy
from analysis.slouch import SlouchTimer
from analysis.stillness import AlertHold

__all__ = ["BoutTracker"]

_SIT = POSTURE_CODES.index(Posture.SITTING)
_OTHER = POSTURE_CODES.index(Posture.OTHER)
_UPRIGHT_CODES = frozenset(POSTURE_CODES.index(p) for p in UPRIGHT)
#: Run code of the frames without data (never an index into ``POSTURE_CODES``).
_GAP = -1


class BoutTracker:
    """Streaming bout and alert logic over final posture codes.

    0.6 s of sitting between two walks is a blip; 5 min of it are a bout, and the walk
    after it a break up to the end:

    >>> sit, walk = POSTURE_CODES.index(Posture.SITTING), POSTURE_CODES.index(Posture.WALKING)
    >>> def counted(codes: list[int]) -> list[tuple[str, float, float]]:
    ...     tracker = BoutTracker(AlertPolicy(), frame_s=0.1)
    ...     events = tracker.update(0.0, 0, np.array(codes)) + tracker.flush(0.0)
    ...     return [(e.kind, e.start_s, e.end_s) for e in events if isinstance(e, (SittingBout, BreakTaken))]
    >>> counted([walk] * 600 + [sit] * 6 + [walk] * 600)
    []
    >>> counted([walk] * 600 + [sit] * 3000 + [walk] * 900)
    [('sitting_bout', 60.0, 360.0), ('break', 360.0, 450.0)]

    Args:
        policy: The alert policy.
        frame_s: Frame length in s.
        slouch: The slouch policy.
        gap_half_frames: Half-width in frames of the gravity window; frames whose
            window holds no sample (``frames_closed``) may be a ``DataGap``.
        hold: Holds alerts back while the wearer is as still as a sleeper
            (``analysis.stillness``; the thigh); ``None``: alerts fire when due.
    """

    def __init__(
        self,
        policy: AlertPolicy,
        frame_s: float,
        slouch: SlouchPolicy | None = None,
        gap_half_frames: int = 0,
        hold: AlertHold | None = None,
    ) -> None:
        self.policy = policy
        self.hold = hold
        #: Local hours in which the hold may keep an alert back; None: at any hour (no night known yet).
        self.hold_hours: tuple[float, float] | None = None
        #: The wearer's usual in-bed hours (local), or None: a bout that begins in them raises no alert.
        self.bed_hours: tuple[float, float] | None = None
        self.bed_bout = False  # the running bout began in the usual in-bed hours
        self.frame_s = frame_s
        self.slouch = SlouchPolicy() if slouch is None else slouch
        self.min_run = max(1, round(min(policy.min_run_s, policy.min_break_s) / frame_s))
        self.gaps = GapFrames(gap_half_frames)
        self.slouching = SlouchTimer(frame_s)
        self.alerts = AlertScheduler(policy)
        self.run_code: int | None = None
        self.run_start_k = 0
        self.run_slouch_frames = 0  # slouching frames of the open posture run
        self.next_k = 0  # first frame not processed yet
        self.bout_start_s: float | None = None
        self.last_sit_end_s = 0.0
        self.nonsit_start_s: float | None = None
        self.upright_start_s: float | None = None
        self.after_bout = False
        self.seated = False  # rule 1 of the module docstring
        self.sit_k: int | None = None  # start of a sitting run that has not seated the wearer yet
        self.away_k: int | None = None  # start of the running non-sitting run
        self.idle_start_s: float | None = None  # start of the running stretch neither sitting nor upright
        self.break_start_s: float | None = None  # the running break, once it is one
        self.break_end_s = 0.0

    def set_policy(self, policy: AlertPolicy, slouch: SlouchPolicy) -> None:
        """Take a new alert and slouch policy from the next frame on.

        The running bout, posture run and break carry on; the next alert follows the new
        policy (``AlertScheduler.set_policy``), and so does the next slouch nudge.
        """
        self.policy = policy
        self.slouch = slouch
        self.min_run = max(1, round(min(policy.min_run_s, policy.min_break_s) / self.frame_s))
        self.alerts.set_policy(policy)

    @property
    def slouch_frames(self) -> int:
        """Slouching frames so far (``SlouchTimer``)."""
        return self.slouching.frames

    @slouch_frames.setter
    def slouch_frames(self, frames: int) -> None:
        self.slouching.frames = frames

    def frames_closed(self, k_first: int, counts: NDArray[np.float64]) -> None:
        """Note the sample count of closed frames, before their postures are final.

        Args:
            k_first: Index of the first frame, the one after those noted before.
            counts: Samples per frame, shape (m,), frames ``k_first`` on.
        """
        self.gaps.frames_closed(k_first, counts)

    def update(
        self, t0_s: float, k_first: int, codes: NDArray[np.int64], slouch_deg: NDArray[np.float64] | None = None
    ) -> list[Event]:
        """Process final posture codes of consecutive frames.

        Args:
            t0_s: Time of frame 0 in s.
            k_first: Index of the first frame of ``codes``.
            codes: Posture codes (indices into ``POSTURE_CODES``), shape (m,).
            slouch_deg: Trunk inclination from upright per frame (NaN where not
                measured), shape (m,); ``None``: not measured.

        Returns:
            Events in time order.
        """
        events: list[Event] = []
        if codes.size == 0:
            return events
        gap = self.gaps.gaps(k_first, codes.size)
        if gap is not None:
            codes = np.where(gap & (codes == _OTHER), _GAP, codes)
        slouched = None  # running count of slouching frames, to split among the posture runs
        if slouch_deg is not None:
            nudges, slouched = self.slouching.update(self.slouch, t0_s, k_first, slouch_deg)
            events += nudges
        if self.run_code is None:
            self.run_code = int(codes[0])
            self.run_start_k = k_first
        for code, a, b in code_runs(codes):
            self._run(t0_s, code, k_first + a, k_first + b, events)
            if slouched is not None:
                self.run_slouch_frames += slouched[b] - slouched[a]
        self.next_k = k_first + codes.size
        if self.hold is not None:
            self.hold.forget_before(self.next_k)
        return events

    def flush(self, t0_s: float) -> list[Event]:
        """Close the open posture run, sitting bout and break at the end of the stream."""
        events: list[Event] = []
        if self.run_code is not None:
            events.append(self._posture_bout(t0_s, self.run_code, self.next_k))
            self.run_code = None
        if self.bout_start_s is not None:
            self._close_bout(events)
            self._end_bout()
        self._end_break(events)
        self.sit_k = None
        return events

    def closed_until_s(self, t0_s: float) -> float:
        """End of the frames processed so far, s (where the last posture bout ends)."""
        return t0_s + self.next_k * self.frame_s

    def _posture_bout(self, t0_s: float, code: int, k_end: int) -> PostureBout | DataGap:
        """Close the open posture run (or gap) at frame ``k_end``."""
        slouch_s = self.run_slouch_frames * self.frame_s
        self.run_slouch_frames = 0
        start_s = t0_s + self.run_start_k * self.frame_s
        end_s = t0_s + k_end * self.frame_s
        if code == _GAP:
            return DataGap(start_s, end_s)
        return PostureBout(start_s, end_s, POSTURE_CODES[code], slouch_s)

    def _close_bout(self, events: list[Event]) -> None:
        """Report the running bout if long enough; only then can a break follow it."""
        if self.last_sit_end_s - (self.bout_start_s or 0.0) >= self.policy.min_sitting_bout_s:
            events.append(SittingBout(self.bout_start_s or 0.0, self.last_sit_end_s))
            self.after_bout = True
        else:
            self.after_bout = False

    def _end_break(self, events: list[Event]) -> None:
        """Emit the running break, if any, ending at its last upright frame."""
        if self.break_start_s is not None:
            events.append(BreakTaken(self.break_start_s, self.break_end_s))
            self.break_start_s = None

    def _run(self, t0_s: float, code: int, ka: int, kb: int, events: list[Event]) -> None:
        """Frames ``ka .. kb-1`` all have ``code`` (a posture code or ``_GAP``)."""
        if code != self.run_code:
            events.append(self._posture_bout(t0_s, self.run_code if self.run_code is not None else code, ka))
            self.run_code = code
            self.run_start_k = ka
        if code == _SIT:
            self.away_k = None
            if self.seated:
                self._sitting(t0_s, ka, kb, events)
                return
            if self.sit_k is None:
                self.sit_k = ka
            if kb - self.sit_k >= self.min_run:  # this run seats the wearer, from its start
                self.seated = True
                start, self.sit_k = self.sit_k, None
                self._sitting(t0_s, start, kb, events)
            return
        self.sit_k = None  # a sitting run too short to seat the wearer: passed over
        if self.away_k is None:
            self.away_k = ka
        if self.seated and kb - self.away_k >= self.min_run:
            self.seated = False
        self._away(t0_s, code, ka, kb, events)

    def _away(self, t0_s: float, code: int, ka: int, kb: int, events: list[Event]) -> None:
        """Frames ``ka .. kb-1`` are not sitting: fidget, end of a bout, or a break."""
        ta = t0_s + ka * self.frame_s
        tb = t0_s + kb * self.frame_s
        if self.bout_start_s is not None and self.nonsit_start_s is None:
            self.nonsit_start_s = ta
        upright = code in _UPRIGHT_CODES
        if upright:
            if self.upright_start_s is None:
                self.upright_start_s = ta
            self.idle_start_s = None
            self.break_end_s = tb
        else:
            self.upright_start_s = None
            if self.idle_start_s is None:
                self.idle_start_s = ta
        min_break = self.policy.min_break_s
        if self.bout_start_s is not None and self.nonsit_start_s is not None and tb - self.nonsit_start_s >= min_break:
            self._close_bout(events)
            self._end_bout()
        if self.after_bout and self.upright_start_s is not None and tb - self.upright_start_s >= min_break:
            self.break_start_s = self.upright_start_s
            self.after_bout = False
        if self.break_start_s is not None and self.idle_start_s is not None and tb - self.idle_start_s >= min_break:
            self._end_break(events)

    def _sitting(self, t0_s: float, ka: int, kb: int, events: list[Event]) -> None:
        """Frames ``ka .. kb-1`` are sitting that counts (the wearer is seated)."""
        ta = t0_s + ka * self.frame_s
        self._end_break(events)
        if self.bout_start_s is None:
            self.bout_start_s = ta
            self.bed_bout = self.bed_hours is not None and self._within(ta, self.bed_hours)
            self.alerts.start_bout(ta)
            events.append(SittingStarted(ta))
        self.nonsit_start_s = None
        self.upright_start_s = None
        self.idle_start_s = None
        self.after_bout = False
        self.last_sit_end_s = t0_s + kb * self.frame_s
        while not self.bed_bout and (due := self.alerts.next_due_s()) is not None:
            k_fire = max(ka, math.ceil((due - t0_s) / self.frame_s) - 1)
            if self.hold is not None and k_fire < kb and self._may_hold(due):
                held = self.hold.fire_k(k_fire, kb)  # later, or not yet, while the wearer is as still as a sleeper
                if held is None:
                    break
                k_fire = held
            if k_fire >= kb:
                break
            events.append(self.alerts.fire(t0_s + (k_fire + 1) * self.frame_s))
            if self.hold is not None:
                self.hold.settle()

    def _may_hold(self, due_s: float) -> bool:
        """Whether the hold may keep back an alert due at ``due_s``: at any hour, or within ``hold_hours``."""
        return self.hold_hours is None or self._within(due_s, self.hold_hours)

    def _within(self, t_s: float, hours: tuple[float, float]) -> bool:
        """Whether ``t_s`` falls in the local ``(start, end)`` hours (``start > end`` spans midnight).

        >>> b = BoutTracker(AlertPolicy(), 0.1)
        >>> [b._within(h * 3600.0, (21.0, 9.0)) for h in (22, 12, 8)]
        [True, False, True]
        """
        hour = (t_s / 3600.0 + self.policy.utc_offset_h) % 24.0
        start, end = hours
        return start <= hour < end if start < end else hour >= start or hour < end

    def exercise_break(self, start_s: float, end_s: float) -> list[Event]:
        """A set of standing exercise (squats) from ``start_s`` to ``end_s`` breaks the sitting bout, however short.

        Called when a guided set of squats ends (``Analyzer.act``), with its first
        repetition's start and last one's end: the set is known only once it is over, so
        the running bout is cut where the set began. It is reported
        up to ``start_s``, the set is the break, and a wearer already seated again after
        it starts a new bout at ``end_s`` (its alerts counted afresh from there); else
        the next sitting starts one. A set that does not fall inside a running bout
        changes nothing.
        """
        events: list[Event] = []
        bout_start = self.bout_start_s
        if bout_start is None or not bout_start < start_s < end_s:
            return events
        self.last_sit_end_s, last_sit_end = start_s, self.last_sit_end_s
        self._close_bout(events)
        events.append(BreakTaken(start_s, end_s))
        self.after_bout = False
        if self.nonsit_start_s is None and last_sit_end > end_s:  # sitting again: a new bout since the set
            self.bout_start_s = end_s
            self.last_sit_end_s = last_sit_end
            self.alerts.start_bout(end_s)
            events.append(SittingStarted(end_s))
        else:
            self._end_bout()
        return events

    def _end_bout(self) -> None:
        self.bout_start_s = None
        self.bed_bout = False
        self.nonsit_start_s = None
        self.alerts.end_bout()
        if self.hold is not None:
            self.hold.settle()

    def posture_since_s(self, t0_s: float) -> float | None:
        """Start of the current final posture run (or gap), or ``None`` before any."""
        return None if self.run_code is None else t0_s + self.run_start_k * self.frame_s

    def snapshot(self) -> dict[str, Any]:
        """Return the JSON-serialisable state."""
        return {
            "alerts": self.alerts.snapshot(),
            "run_code": self.run_code,
            "run_start_k": self.run_start_k,
            "run_slouch_frames": self.run_slouch_frames,
            "next_k": self.next_k,
            "bout_start_s": self.bout_start_s,
            "last_sit_end_s": self.last_sit_end_s,
            "nonsit_start_s": self.nonsit_start_s,
            "upright_start_s": self.upright_start_s,
            "after_bout": self.after_bout,
            "slouch_frames": self.slouching.frames,
            "slouch_run_start_k": self.slouching.run_start_k,
            "slouch_due_k": self.slouching.due_k,
            "seated": self.seated,
            "sit_k": self.sit_k,
            "away_k": self.away_k,
            "idle_start_s": self.idle_start_s,
            "break_start_s": self.break_start_s,
            "break_end_s": self.break_end_s,
            **self.gaps.snapshot(),
            "bed_bout": self.bed_bout,
            "hold": None if self.hold is None else self.hold.snapshot(),
        }

    def load(self, state: dict[str, Any]) -> None:
        """Restore the state saved by ``snapshot()`` (or by an earlier version of it)."""
        self.alerts.load(state["alerts"])
        self.run_code = state["run_code"]
        self.run_start_k = int(state["run_start_k"])
        self.run_slouch_frames = int(state.get("run_slouch_frames", 0))  # absent before slouch per bout
        self.next_k = int(state["next_k"])
        self.bout_start_s = state["bout_start_s"]
        self.last_sit_end_s = float(state["last_sit_end_s"])
        self.nonsit_start_s = state["nonsit_start_s"]
        self.upright_start_s = state["upright_start_s"]
        self.after_bout = bool(state["after_bout"])
        self.slouching.frames = int(state["slouch_frames"])
        self.slouching.run_start_k = state["slouch_run_start_k"]
        self.slouching.due_k = state["slouch_due_k"]
        # Absent before rule 1, real break ends and gaps: a running bout is seated, no
        # break is running (the one found already was emitted), and the frames not
        # final yet count as holding samples (no gap).
        self.seated = bool(state.get("seated", self.bout_start_s is not None))
        self.sit_k = state.get("sit_k")
        self.away_k = state.get("away_k")
        self.idle_start_s = state.get("idle_start_s")
        self.break_start_s = state.get("break_start_s")
        self.break_end_s = float(state.get("break_end_s", 0.0))
        self.gaps.load(state)
        self.bed_bout = bool(state.get("bed_bout", False))  # absent before nights were learned live
        hold = state.get("hold")  # absent before alerts were held: nothing is held, no move known
        if self.hold is not None and hold is not None:
            self.hold.load(hold)
