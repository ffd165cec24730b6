"""Programme exercises found in a stream without being told which one is done.

:class:`ExerciseRecognizer` looks at the last :data:`WINDOW_S` seconds of 0.1-s frames
every :data:`HOP_S` seconds. Each look (a *window*) is labelled with a programme exercise or
with nothing, in two stages, as in the segment-then-classify pipelines of physiotherapy
exercise recognition (Burns et al. 2018, Physiol Meas 39(7):075007,
doi:10.1088/1361-6579/aacfd9; Wijekoon et al. 2019, MEx, arXiv:1908.08992), but with
rules from the body's geometry instead of a trained model (thresholds and the
measurements behind them: ``docs/recognition.md``, ``python -m bench.recognise``):

1. **Is it exercise-like?** Enough frames with samples; the smoothed (0.5-s) gravity
   direction travels at least :attr:`RecognitionTuning.tilt_min_deg`; no gait (two 2-s
   blocks whose |a| spreads over :attr:`RecognitionTuning.max_shake_g` at a walking
   cadence); and the movement goes from one end of its range to the other and back
   (:attr:`RecognitionTuning.min_crossings` passes along its main direction of travel,
   one pass enough for a movement over :attr:`RecognitionTuning.roll_min_deg`, as a
   knee roll held 10 s on each side).
2. **Which exercise?** The resting orientation (the window's median direction) and the
   movement are measured against the wearer: the *long axis* of the segment (femur,
   trunk) is the gravity direction seen while walking (Skotte et al. 2014, Med Sci
   Sports Exerc 46(9):1839-1846, doi:10.1249/MSS.0000000000000308). Its angle to the
   resting direction is the *inclination*; the movement's range along its main
   direction splits into *pitch* (towards or away from the axis) and *roll* (about it).

   Thigh: lying on the back with the knees bent (hook lying) tips the femur past
   horizontal (inclination over :attr:`RecognitionTuning.hook_min_deg` throughout the
   window, which no seated thigh reaches: ``analysis.thigh``). In hook lying, a large
   roll is a **knee roll**, a large pitch towards the chest a **knee hug**, a small
   repeated movement a **pelvic tilt** (the thigh follows the pelvis by a few degrees;
   the **crunch** moves the thigh the same way and is reported as a pelvic tilt).
   Upright, a large pitch repeated quickly is a **squat**, held lifts (out, back and
   out again) the leg of the **back stabiliser** (bird dog). Anything else (bridging,
   the clam, the prone and all-fours work of MEx, sitting, standing, walking, a
   single lying down or getting up) gives nothing.

   Lower back and waist: lying (the trunk within :attr:`RecognitionTuning.lying_band_deg`
   of horizontal throughout), a pelvis roll of 25-75 deg passing both ways is a knee
   roll, a pitch of half the thigh's is a knee hug, a small repeated movement a pelvic
   tilt; upright, a quickly repeated forward bend of half the thigh's is a squat. The
   trunk sensor cannot tell lying on the back from lying face down or kneeling on all
   fours (it does not know which of its faces is the back), so the deep stomach
   exercise and the back stabiliser may be reported as pelvic tilts there.

   Before the wearer has walked (no long axis yet, as in every MEx file, which starts
   on the mat), a thigh sensor is taken to lie flat on the side of the thigh with the
   femur along one of its face axes (x or y, either sign), as the MEx Axivity is
   worn: hook lying is then gravity within 30 deg of the face plane and at least
   :attr:`RecognitionTuning.hook_axis_deg` from both face axes, pitch the rotation
   within the face plane and roll the tilt out of it. The squat, the knee hug and the
   back stabiliser need the long axis; the lower back and waist recognise nothing
   before it.

Looks no more than :data:`GAP_S` apart form a bout; a bout with at least
:data:`MIN_WINDOWS` labelled looks is reported as :class:`ExerciseFound` when
:data:`GAP_S` passes without one (or at ``flush``), so it comes at most ``GAP_S`` plus
a hop after the bout's last labelled look. Its exercise is the most frequent label; a
run of :data:`SWITCH_LOOKS` looks of another label closes it and starts the next.
``confidence`` is the share of the bout's looks (one every ``HOP_S``, from its first labelled look
to its last) that carry its label. :class:`ExerciseRecognised` goes out live as soon as a
bout has ``MIN_WINDOWS`` labelled looks. A bout starts at the start of its first
labelled window (not before the end of the previous bout), so it may begin up to a
window early. A found bout carries the repetitions and holds that the exercise's own
counters found in it, when ``follow`` is given (``analysis.followers``).

The code around the recogniser: the events are in ``analysis.recognition_events``, the
bout under way in ``analysis.exercise_bout``, the long axis in ``analysis.long_axis``;
``analysis.looks`` labels one window and ``analysis.screen`` rules looks out.

The wrist, chest and upper back are not served: a watch follows the hand, not the
segment whose posture defines each exercise, and there are no thorax recordings to
check against; the constructor raises ``ValueError`` for them.

Every decision is made at fixed frame indices from a rolling buffer of the last
:data:`WINDOW_S` seconds, so chunked input gives exactly the events of one chunk.

Most looks (a still, sitting or walking wearer) cannot get a label, and finding that
does not need :func:`classify_window`: each 2-s block of frames is summarised once when
it closes (its frames with samples, the extremes of its smoothed means, whether it is
gait), and a look reads the summaries of its window's blocks to rule out a gap, a still
window, gait and a posture that no label allows (neither lying nor upright, from a box
that holds its resting direction). Each rule-out holds with a margin far above the
rounding of the sums, so :func:`classify_window` sees every look that it could label
and the events are those of classifying every look (``docs/recognition.md``, cost).

>>> rec = ExerciseRecognizer(Placement.THIGH, 0.1)
>>> rec.name, rec.version
('recognition', 1)
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from analysis.events import Event
from analysis.exercise_bout import ExerciseBout
from analysis.followers import Follow, Follower
from analysis.frames import N_ACC_STATS, FrameBatch
from analysis.hold_events import HoldEnded
from analysis.long_axis import learned_axes
from analysis.looks import RecognitionTuning, classify_window, is_gait
from analysis.packing import packed_columns, unpacked
from analysis.recognition_events import ExerciseFound, ExerciseRecognised
from analysis.screen import AxisAt, BlockScreen, Screen, off_hook_without_axis, off_posture, off_postures
from analysis.settings import Placement

__all__ = [
    "GAP_S",
    "HOP_S",
    "MIN_WINDOWS",
    "SERVED",
    "SWITCH_LOOKS",
    "WINDOW_S",
    "ExerciseFound",
    "ExerciseRecognised",
    "ExerciseRecognizer",
    "Follow",
]

#: Length of each look, s: it holds at least one repetition of every programme
#: exercise (a knee roll with its 10-s hold is ~15 s per side).
WINDOW_S = 30.0
#: Shortest look, s, used while a segment is younger than a window.
MIN_WINDOW_S = 12.0
#: Time between looks, s.
HOP_S = 2.0
#: A bout ends when this long passes without a labelled look, s.
GAP_S = 15.0
#: Labelled looks a bout needs to be reported.
MIN_WINDOWS = 2
#: Consecutive labelled looks of another exercise that end a bout and start the next.
SWITCH_LOOKS = 5
#: Placements the recogniser serves.
SERVED: frozenset[Placement] = frozenset({Placement.THIGH, Placement.LOWER_BACK, Placement.WAIST})
#: Frames the store holds beyond a window, s: the buffer moves once they are filled.
_SPARE_S = 10.0


class ExerciseRecognizer:
    """Finds programme exercises in a stream of frames (see the module docstring).

    Args:
        placement: Where the sensor is worn (:data:`SERVED`).
        frame_s: Frame length, s (> 0).
        tuning: Thresholds (defaults when None).
        follow: Makes the detectors that count a found bout's repetitions and time its
            holds (``analysis.followers``); ``None``: found bouts carry none.

    Raises:
        ValueError: A placement that is not served, or a bad frame length.
    """

    name: ClassVar[str] = "recognition"
    version: ClassVar[int] = 1

    def __init__(
        self,
        placement: Placement,
        frame_s: float,
        tuning: RecognitionTuning | None = None,
        *,
        follow: Follow | None = None,
    ) -> None:
        placement = Placement(placement)
        if placement not in SERVED:
            raise ValueError(
                f"exercise recognition serves the thigh, lower back and waist, not {placement}: "
                "a wrist sensor follows the hand rather than the segment that defines each exercise"
            )
        if not (math.isfinite(frame_s) and frame_s > 0):
            raise ValueError(f"frame_s must be a finite number > 0, got {frame_s!r}")
        self.placement = placement
        self.frame_s = frame_s
        self.tuning = tuning or RecognitionTuning()
        self._window = max(1, round(WINDOW_S / frame_s))
        self._min_window = max(1, round(MIN_WINDOW_S / frame_s))
        self._hop = max(1, round(HOP_S / frame_s))
        self._gap = max(1, round(GAP_S / frame_s))
        self._gait = max(2, round(2.0 / frame_s))
        self._spare = max(1, round(_SPARE_S / frame_s))
        self._blocks = self._block_screen()
        self._store = np.zeros((0, N_ACC_STATS))  # the buffer is its last rows, up to a window
        self._n = 0  # rows of the store in use
        self._k_end: int | None = None  # index after the last frame taken
        self._k_start: int | None = None  # first frame of the segment
        self._t0_s = 0.0
        self._axis = AxisAt(np.zeros(3), 0.0)  # the long axis learned so far (replaced, never changed)
        self._bout: ExerciseBout | None = None
        self._last_end_k = -(2**62)  # end of the last reported bout: the next starts after it
        self._follow = follow
        self._followers: dict[str, Follower] = {}  # by label, for the bout under way
        self._rows: tuple[NDArray[np.float64], int] = (np.zeros((0, N_ACC_STATS)), 0)  # this update's rows, first k

    def _block_screen(self) -> BlockScreen | None:
        """The screen, when windows are whole blocks of one hop that are also ``is_gait``'s blocks."""
        if self._window % self._hop or self._gait != self._hop:
            return None
        return BlockScreen(self._hop, self._window // self._hop, self.frame_s, self.tuning)

    # -- streaming ---------------------------------------------------------------------------

    def _time(self, k: int) -> float:
        return self._t0_s + k * self.frame_s

    @property
    def _buf(self) -> NDArray[np.float64]:
        """The last frames of the segment, up to a window, shape (<= window, N_ACC_STATS)."""
        return self._store[max(0, self._n - self._window) : self._n]

    def _append(self, stats: NDArray[np.float64]) -> NDArray[np.float64]:
        """Add frame rows to the store; return the buffer before them followed by them."""
        keep = min(self._n, self._window)
        m = stats.shape[0]
        if self._n + m > self._store.shape[0]:
            # Room for _SPARE_S of packets beyond the window: the buffer (one window, 14 kB
            # at 0.1-s frames) moves once every ~20 live packets, and each wearer's store
            # is ~19 kB (it was ~64 kB with room for 100 s).
            store = np.empty((self._window + max(m, self._spare), N_ACC_STATS))
            store[:keep] = self._store[self._n - keep : self._n]
            self._store, self._n = store, keep
        self._store[self._n : self._n + m] = stats
        self._n += m
        return self._store[self._n - m - keep : self._n]

    def update(self, frames: FrameBatch) -> list[Event]:
        """Take the next closed frames; return the bouts completed (and started)."""
        if frames.m == 0:
            return []
        if self._k_start is None:
            self._k_start = frames.k_first
            self._k_end = frames.k_first
        assert self._k_end is not None
        self._t0_s = frames.t0_s
        m, hop, since = frames.m, self._hop, self._k_end - self._k_start
        if since % hop + m < hop:  # no look ends in these frames (most live packets)
            self._append(frames.stats[:, :N_ACC_STATS])
            self._k_end += m
            return []
        rows = self._append(frames.stats[:, :N_ACC_STATS])
        k_first = self._k_end + m - rows.shape[0]  # frame index of rows[0]
        self._rows = (rows, k_first)
        # Looks end at every hop-th frame of the segment; rows[0] is the segment's first
        # frame or a full window before the old end.
        done = self._k_end - k_first
        first = done + 1 + (-(done + 1 + k_first - self._k_start)) % hop
        ends = list(range(first, rows.shape[0] + 1, hop))
        starts = [max(end - self._window, 0) for end in ends]
        if self._blocks is not None:
            self._blocks.extend(rows, k_first, self._k_start)
        events: list[Event] = []
        if ends:
            lengths = [end - start for end, start in zip(ends, starts, strict=True)]
            if self._blocks is not None:
                screen = self._blocks.looks([k_first + end for end in ends], lengths, self._k_start)
            else:
                screen = Screen([False] * len(ends), {}, [2] * len(ends), {}, set())
            if not any(screen.learn) and all(
                empty or self._off_without_axis(screen, j) for j, empty in enumerate(screen.empty)
            ):  # the live looks ruled out: as when no look is a candidate below
                events.extend(self._closed(k_first + ends[-1]))
                self._k_end = k_first + rows.shape[0]
                self._feed_followers(self._k_end)
                return events
            # The long axis changes only with gait, whatever the looks find: learn it first.
            axes = learned_axes(
                self._axis, screen, rows, starts, ends, gait_frames=self._gait, frame_s=self.frame_s, tuning=self.tuning
            )
            self._axis = axes[-1]
            for j in self._candidates(screen, axes, lengths):
                start, end = starts[j], ends[j]
                events.extend(self._look(rows, start, end, k_first + end, axes[j].axis, gappy=j in screen.gappy))
            events.extend(self._closed(k_first + ends[-1]))
        self._k_end = k_first + rows.shape[0]
        self._feed_followers(self._k_end)
        return events

    def _feed_followers(self, k_end: int) -> None:
        """Give the followers the frames of this update's rows up to ``k_end``."""
        rows, k_first = self._rows
        for follower in self._followers.values():
            follower.feed(rows, k_first, k_end, self._t0_s, self.frame_s)

    def _off_without_axis(self, screen: Screen, j: int) -> bool:
        """Whether the look ``j`` of ``screen`` (none of which learns) surely gets no label for want of a long axis.

        Without the axis the trunk gets no label, and the thigh one only in hook lying as
        seen without an axis: ruled out from the box of the window's directions
        (:func:`analysis.screen.off_hook_without_axis`; ``classify_window`` rules out the
        rest from its resting direction first, ``label_only``).
        """
        box = screen.boxes.get(j)
        if box is None or self._axis.floats is not None:
            return False
        return self.placement is not Placement.THIGH or off_hook_without_axis(box, self.tuning)

    def _candidates(self, screen: Screen, axes: list[AxisAt], lengths: list[int]) -> list[int]:
        """The looks that may get a label: not screened out, long enough, in a posture that allows one."""
        keep = [j for j, empty in enumerate(screen.empty) if not empty and lengths[j] >= self._min_window]
        thigh = self.placement is Placement.THIGH
        off: set[int] = set() if thigh else {j for j in keep if axes[j].floats is None}
        if screen.box_array is not None:
            known = [j for j in keep if axes[j].floats is not None]
            if known:
                boxes, axis = screen.box_array[known], np.array([axes[j].floats for j in known])
                away = off_postures(boxes[:, :3], boxes[:, 3:], axis, thigh, self.tuning)
                off.update(j for j, out in zip(known, away, strict=True) if out)
        else:
            for j in keep:
                floats = axes[j].floats
                box = screen.boxes.get(j)
                if box is None:
                    continue
                if floats is None:
                    if thigh and off_hook_without_axis(box, self.tuning):
                        off.add(j)
                elif off_posture(box, floats, thigh, self.tuning):
                    off.add(j)
        return [j for j in keep if j not in off]

    def _look(
        self,
        rows: NDArray[np.float64],
        start: int,
        end: int,
        k_end: int,
        axis: NDArray[np.float64] | None,
        *,
        gappy: bool,
    ) -> list[Event]:
        """Look at the window ``rows[start:end]`` ending at frame ``k_end`` with the long axis of then."""
        events = self._closed(k_end)
        window = rows[start:end]
        if gappy and is_gait(window[window[:, 0] > 0], self.frame_s, self.tuning):
            return events  # classify_window would find gait (or, before it, a still window)
        look = classify_window(window, axis, self.placement, self.tuning, self.frame_s, label_only=True)
        if not look.label:
            return events
        window_k = max(k_end - (end - start), self._last_end_k)
        if self._bout is None:
            self._bout = ExerciseBout(first_k=window_k, last_k=k_end, looks_first_k=k_end)
        bout = self._bout
        bout.add(look.label, window_k, k_end)
        self._start_follower(look.label, window_k, k_end)
        label, run_len, run_k, run_end = bout.run
        if run_len >= SWITCH_LOOKS and label != bout.best():
            # Another exercise has taken over: close the old one at its last look.
            bout.votes[label] -= run_len
            bout.last_k = bout.last_k_of[bout.best()]
            taking_over = self._followers.pop(label, None)
            events.extend(self._close(k_end))
            if taking_over is not None:
                self._followers[label] = taking_over
            first_k = max(run_k, self._last_end_k)
            self._bout = bout = ExerciseBout(first_k, k_end, run_end, {label: run_len}, {label: k_end}, bout.run)
        if not bout.started and sum(bout.votes.values()) >= MIN_WINDOWS:
            bout.started = True
            events.append(ExerciseRecognised(self._time(bout.first_k), bout.best()))
        return events

    def _start_follower(self, label: str, window_k: int, k_end: int) -> None:
        """Start following ``label`` (its first look in the bout) on its look's frames ``window_k`` to ``k_end``."""
        if self._follow is None or label in self._followers:
            return
        detectors = self._follow(label)
        if detectors:
            follower = self._followers[label] = Follower(detectors, window_k)
            rows, k_first = self._rows
            follower.feed(rows, k_first, k_end, self._t0_s, self.frame_s)

    def _closed(self, k_end: int) -> list[Event]:
        """Close the bout under way if a look ending at ``k_end`` (or one before it) comes over ``GAP_S`` after it.

        A look without a label changes nothing but this, and the bout closes the same at
        whichever later look it is checked, so only looks that may get a label check it,
        and the last of each update. It is decided at the first look past the gap, however
        the stream was chunked: that is where the analysis takes a set of squats as a
        break (``decided_s``), the same live and in batch.
        """
        if self._bout is not None and k_end - self._bout.last_k > self._gap:
            assert self._k_start is not None
            past = self._bout.last_k + self._gap + 1  # the first frame a look may end at to decide
            return self._close(k_end, decided_k=past + (self._k_start - past) % self._hop)
        return []

    def _close(self, k_end: int, decided_k: int | None = None) -> list[Event]:
        """Close the bout under way: its followers take the frames up to ``k_end``.

        It was decided at frame ``decided_k`` (``k_end`` unless given).
        """
        bout, self._bout = self._bout, None
        self._feed_followers(k_end)
        followers, self._followers = self._followers, {}
        if bout is None or sum(bout.votes.values()) < MIN_WINDOWS:
            return []
        self._last_end_k = bout.last_k
        best = bout.best()
        looks = (bout.last_k - bout.looks_first_k) // self._hop + 1
        confidence = min(1.0, bout.votes[best] / looks)
        start_s, end_s = self._time(bout.first_k), self._time(bout.last_k)
        reps: list[tuple[float, float]] = []
        holds: tuple[HoldEnded, ...] = ()
        if (follower := followers.get(best)) is not None:
            follower.close(self._t0_s, self.frame_s)
            reps = [r for r in follower.reps if start_s <= r[0] < end_s]
            holds = tuple(h for h in follower.holds if start_s <= h.start_s < end_s)
        span = (min(r[0] for r in reps), max(r[1] for r in reps)) if reps else None
        decided_s = self._time(k_end if decided_k is None else decided_k)
        found = ExerciseFound(start_s, end_s, best, round(confidence, 3), len(reps), span, holds, decided_s)
        return [found]

    def flush(self, frames: FrameBatch) -> list[Event]:
        """Take the last frames of the stream or segment (maybe none) and close the bout under way."""
        events = self.update(frames)
        if self._k_end is None:
            return events
        buf = self._buf  # the frames since the last look that fed the followers are in it
        self._rows = (buf, self._k_end - buf.shape[0])
        events.extend(self._close(self._k_end))
        return events

    def next_segment(self, forward: bool) -> ExerciseRecognizer:
        """Return a fresh recogniser for the segment after a time jump, keeping the learned long axis."""
        fresh = ExerciseRecognizer(self.placement, self.frame_s, self.tuning, follow=self._follow)
        fresh._axis = self._axis
        return fresh

    def snapshot(self) -> dict[str, Any]:
        """Return the state as JSON-serialisable data."""
        bout = self._bout
        return {
            "buf": packed_columns(self._buf),
            "k_end": self._k_end,
            "k_start": self._k_start,
            "t0_s": self._t0_s,
            "axis_sum": self._axis.total.tolist(),
            "axis_weight": self._axis.weight,
            "last_end_k": self._last_end_k,
            "bout": None if bout is None else bout.to_json(),
            "followers": {label: f.to_json() for label, f in self._followers.items()},
        }

    def load(self, state: dict[str, Any]) -> None:
        """Restore the state saved by ``snapshot``."""
        self._store = unpacked(state["buf"], N_ACC_STATS)  # packed columns, packed rows or a list of rows
        self._n = self._store.shape[0]
        self._blocks = self._block_screen()  # found again from the buffer
        self._k_end = None if state["k_end"] is None else int(state["k_end"])
        self._k_start = None if state["k_start"] is None else int(state["k_start"])
        self._t0_s = float(state["t0_s"])
        self._axis = AxisAt(np.asarray(state["axis_sum"], dtype=np.float64), float(state["axis_weight"]))
        self._last_end_k = int(state["last_end_k"])
        self._bout = None if state["bout"] is None else ExerciseBout.from_json(state["bout"])
        self._followers = {}
        for label, saved in state.get("followers", {}).items():  # none in the first snapshots
            detectors = [] if self._follow is None else self._follow(str(label))
            if detectors:
                self._followers[str(label)] = Follower.from_json(saved, detectors)
