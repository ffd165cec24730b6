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
window early.

**Repetitions and holds of a found bout.** Given ``follow`` (``analysis.sets``
passes the counters of a guided exercise: ``exercise_detectors``), the first look
that gives a bout a label starts that label's followers on the frames of the look's
window, and they take every frame after it until the bout closes. The closed bout
then carries the repetitions its own label's followers counted (those that started
within the bout), the span from the first one's start to the last one's end, and its
holds: the same counters as a guided set, counting from up to a window before the
bout was recognised.

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
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from analysis.detector import Detector, saved_part, saved_parts
from analysis.events import Event
from analysis.frames import N_ACC_STATS, N_STATS, FrameBatch
from analysis.holds import HoldEnded
from analysis.looks import RecognitionTuning, classify_window, is_gait, unit
from analysis.packing import packed_columns, unpacked
from analysis.reps import RepCounted
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

#: Makes the detectors that follow one exercise (no detector: it is not followed).
Follow = Callable[[str], list[Detector]]

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
#: Order of the labels when two have as many looks in a bout.
_ORDER = ("knee_roll", "pelvic_tilt", "knee_hug", "squat", "back_stabiliser")


@dataclass(frozen=True, slots=True)
class ExerciseFound:
    """A bout of one programme exercise, found without being told.

    Attributes:
        start_s: Start time in s (the start of its first labelled look).
        end_s: End time in s (the end of its last labelled look).
        exercise: Programme id (``analysis.programme``).
        confidence: Share, 0..1, of the bout's once-a-second looks labelled with it.
        reps: Repetitions counted in it (0 when the exercise's repetitions are not
            followed from the placement, or no ``follow`` was given).
        reps_span_s: The first repetition's start and the last one's end, s, or
            ``None`` without a repetition.
        holds: The holds timed in it.
        decided_s: When the bout was known to be over: the end of the look that closed
            it, s (not part of the JSON form).
    """

    kind: ClassVar[str] = "exercise_found"
    start_s: float
    end_s: float
    exercise: str
    confidence: float
    reps: int = 0
    reps_span_s: tuple[float, float] | None = None
    holds: tuple[HoldEnded, ...] = ()
    decided_s: float = math.nan

    @property
    def duration_s(self) -> float:
        """Length in s."""
        return self.end_s - self.start_s

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form, including ``kind``."""
        return {
            "kind": self.kind,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "exercise": self.exercise,
            "confidence": self.confidence,
            "reps": self.reps,
            "holds_s": [round(h.duration_s, 3) for h in self.holds],
        }


@dataclass(frozen=True, slots=True)
class ExerciseRecognised:
    """A bout of ``exercise`` is under way since ``t_s`` (sent once per bout, live)."""

    kind: ClassVar[str] = "exercise_recognised"
    t_s: float
    exercise: str

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form, including ``kind``."""
        return {"kind": self.kind, "t_s": self.t_s, "exercise": self.exercise}


@dataclass(slots=True)
class _Bout:
    """The bout under way.

    Attributes:
        first_k: Its start (frame index).
        last_k: End of its last labelled look.
        looks_first_k: End of its first labelled look.
        votes: Labelled looks per label.
        last_k_of: End of the last look of each label.
        run: Label of the latest run of same-labelled looks, its length, the start of
            its first look's window and that look's end.
        started: Whether ``ExerciseRecognised`` went out.
    """

    first_k: int
    last_k: int
    looks_first_k: int
    votes: dict[str, int] = field(default_factory=dict)
    last_k_of: dict[str, int] = field(default_factory=dict)
    run: tuple[str, int, int, int] = ("", 0, 0, 0)
    started: bool = False

    def best(self) -> str:
        return max(_ORDER, key=lambda label: (self.votes.get(label, 0), -_ORDER.index(label)))

    def add(self, label: str, window_k: int, k_end: int) -> None:
        """Count a look labelled ``label`` whose window starts at ``window_k`` and ends at ``k_end``."""
        run_label, run_len, run_k, run_end = self.run
        self.run = (label, run_len + 1, run_k, run_end) if label == run_label else (label, 1, window_k, k_end)
        self.votes[label] = self.votes.get(label, 0) + 1
        self.last_k_of[label] = k_end
        self.last_k = k_end

    def to_json(self) -> dict[str, Any]:
        return {
            "first_k": self.first_k,
            "last_k": self.last_k,
            "looks_first_k": self.looks_first_k,
            "votes": dict(self.votes),
            "last_k_of": dict(self.last_k_of),
            "run": list(self.run),
            "started": self.started,
        }

    @staticmethod
    def from_json(state: dict[str, Any]) -> _Bout:
        label, length, window_k, k_end = state["run"]
        return _Bout(
            int(state["first_k"]),
            int(state["last_k"]),
            int(state["looks_first_k"]),
            {str(k): int(v) for k, v in state["votes"].items()},
            {str(k): int(v) for k, v in state["last_k_of"].items()},
            (str(label), int(length), int(window_k), int(k_end)),
            bool(state["started"]),
        )


@dataclass(slots=True)
class _Follower:
    """The detectors following one label of the bout under way, and what they found.

    Attributes:
        detectors: The repetition counter and/or hold timer of the label.
        next_k: The first frame not given to them yet.
        reps: ``(start_s, t_s)`` of each repetition counted.
        holds: The holds closed.
    """

    detectors: list[Detector]
    next_k: int
    reps: list[tuple[float, float]] = field(default_factory=list)
    holds: list[HoldEnded] = field(default_factory=list)

    def feed(self, rows: NDArray[np.float64], k_first: int, k_end: int, t0_s: float, frame_s: float) -> None:
        """Give the detectors the frames from ``next_k`` to ``k_end`` of ``rows`` (whose first is ``k_first``)."""
        if k_end <= self.next_k:
            return
        stats = np.zeros((k_end - self.next_k, N_STATS))  # no gyro: the recogniser keeps none
        stats[:, :N_ACC_STATS] = rows[self.next_k - k_first : k_end - k_first]
        frames = FrameBatch(t0_s, frame_s, self.next_k, stats)
        for detector in self.detectors:
            self._take(detector.update(frames))
        self.next_k = k_end

    def close(self, t0_s: float, frame_s: float) -> None:
        """Flush the detectors: the set or hold under way closes."""
        frames = FrameBatch(t0_s, frame_s, self.next_k, np.empty((0, N_STATS)))
        for detector in self.detectors:
            self._take(detector.flush(frames))

    def _take(self, events: list[Event]) -> None:
        for e in events:
            if isinstance(e, RepCounted):
                self.reps.append((e.start_s, e.t_s))
            elif isinstance(e, HoldEnded):
                self.holds.append(e)

    def to_json(self) -> dict[str, Any]:
        return {
            "next_k": self.next_k,
            "reps": [list(r) for r in self.reps],
            "holds": [asdict(h) for h in self.holds],
            "detectors": saved_parts(self.detectors),
        }

    @staticmethod
    def from_json(state: dict[str, Any], detectors: list[Detector]) -> _Follower:
        """Restore onto fresh ``detectors``; ``ValueError`` when a part is missing or of another version."""
        for detector in detectors:
            saved = saved_part(state["detectors"], detector)
            if saved is None:
                raise ValueError(f"no saved state for the follower {detector.name!r}")
            detector.load(saved)
        return _Follower(
            detectors,
            int(state["next_k"]),
            [(float(a), float(b)) for a, b in state["reps"]],
            [HoldEnded(**h) for h in state["holds"]],
        )


class ExerciseRecognizer:
    """Finds programme exercises in a stream of frames (see the module docstring).

    Args:
        placement: Where the sensor is worn (:data:`SERVED`).
        frame_s: Frame length, s (> 0).
        tuning: Thresholds (defaults when None).
        follow: Makes the detectors that count a found bout's repetitions and time its
            holds (module docstring); ``None``: found bouts carry none.

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
        self._bout: _Bout | None = None
        self._last_end_k = -(2**62)  # end of the last reported bout: the next starts after it
        self._follow = follow
        self._followers: dict[str, _Follower] = {}  # by label, for the bout under way
        self._rows: tuple[NDArray[np.float64], int] = (np.zeros((0, N_ACC_STATS)), 0)  # this update's rows, first k

    def _block_screen(self) -> BlockScreen | None:
        """The screen, when windows are whole blocks of one hop that are also ``is_gait``'s blocks."""
        if self._window % self._hop or self._gait != self._hop:
            return None
        return BlockScreen(self._hop, self._window // self._hop, self.frame_s, self.tuning)

    # -- the long axis, learned from gait ------------------------------------------------

    def _learn_gait(self, window: NDArray[np.float64]) -> None:
        sums = window.sum(axis=0)
        if sums[0] == 0 or np.any(window[:, 0] == 0):
            return
        mean = sums[4] / sums[0]
        if sums[5] / sums[0] - mean * mean <= self.tuning.max_shake_g**2 or not is_gait(
            window, self.frame_s, self.tuning
        ):
            return
        self._learn_axis(unit(sums[1:4]))

    def _learn_axis(self, unit: NDArray[np.float64]) -> None:
        """Take a block of gait whose mean acceleration points along ``unit`` (3,) into the long axis."""
        # About 10 gait looks of memory: follows a re-clip.
        self._axis = AxisAt(self._axis.total * 0.9 + unit, self._axis.weight * 0.9 + 1.0)

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
            axes = self._learn(rows, starts, ends, screen)
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

    def _learn(self, rows: NDArray[np.float64], starts: list[int], ends: list[int], screen: Screen) -> list[AxisAt]:
        """Learn the long axis from each look's last block in turn; return the axis each look sees."""
        at = self._axis
        axes: list[AxisAt] = []
        for j in [j for j, learn in enumerate(screen.learn) if learn]:
            axes.extend([at] * (j - len(axes)))
            if screen.learn[j] == 1:
                self._learn_axis(screen.units[j])
            else:
                self._learn_gait(rows[max(starts[j], ends[j] - self._gait) : ends[j]])
            at = self._axis
            axes.append(at)
        axes.extend([at] * (len(screen.learn) - len(axes)))
        return axes

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
            self._bout = _Bout(first_k=window_k, last_k=k_end, looks_first_k=k_end)
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
            self._bout = bout = _Bout(first_k, k_end, run_end, {label: run_len}, {label: k_end}, bout.run)
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
            follower = self._followers[label] = _Follower(detectors, window_k)
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
        self._bout = None if state["bout"] is None else _Bout.from_json(state["bout"])
        self._followers = {}
        for label, saved in state.get("followers", {}).items():  # none in the first snapshots
            detectors = [] if self._follow is None else self._follow(str(label))
            if detectors:
                self._followers[str(label)] = _Follower.from_json(saved, detectors)
