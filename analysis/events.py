"""Events produced by the streaming analysis, and the live status of one wearer.

Every event is a frozen value with a ``kind`` class attribute and a JSON-ready
``to_dict()`` (the keys follow the ``sitless analyze`` JSON of DESIGN.md). Times are in
the time base of the samples fed to the analyser (Unix epoch seconds live, seconds from
the first sample in batch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from analysis.settings import Posture, UserAction

__all__ = [
    "ActionApplied",
    "Alert",
    "BreakTaken",
    "DataGap",
    "Event",
    "InBedFound",
    "LiveStatus",
    "PostureBout",
    "SittingBout",
    "SittingStarted",
    "SlouchNudge",
    "TimeJump",
]


class _Span:
    """What every event with a start and an end shares: its length and JSON form."""

    __slots__ = ()
    kind: ClassVar[str]
    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        """Length in s."""
        return self.end_s - self.start_s

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form, including ``kind``."""
        return {"kind": self.kind, "start_s": self.start_s, "end_s": self.end_s}


@dataclass(frozen=True, slots=True)
class PostureBout:
    """A closed stretch of one posture; with the ``DataGap`` stretches, the bouts tile the recording.

    Attributes:
        start_s: Start time in s.
        end_s: End time in s (the next bout's start).
        posture: The posture held.
        slouch_s: Time slouching within it, s (chest and upper back; 0 elsewhere).
    """

    kind: ClassVar[str] = "posture_bout"
    start_s: float
    end_s: float
    posture: Posture
    slouch_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form, including ``kind``."""
        return {
            "kind": self.kind,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "posture": str(self.posture),
            "slouch_s": self.slouch_s,
        }


@dataclass(frozen=True, slots=True)
class SittingStarted:
    """A sitting bout began at ``t_s`` (emitted once that sitting seated the wearer and is final).

    Sitting seats the wearer once it lasts ``AlertPolicy.min_run_s`` (10 s by default), so the
    event comes that much after ``t_s`` besides the look-ahead.
    """

    kind: ClassVar[str] = "sitting_started"
    t_s: float

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form, including ``kind``."""
        return {"kind": self.kind, "t_s": self.t_s}


@dataclass(frozen=True, slots=True)
class SittingBout(_Span):
    """A closed sitting bout; fidgets shorter than the minimum break stay inside it.

    Attributes:
        start_s: First sitting time in s.
        end_s: Last sitting time in s (where the ending non-sitting stretch began).
    """

    kind: ClassVar[str] = "sitting_bout"
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class BreakTaken(_Span):
    """Upright time after a sitting bout, from the upright run that made it a break to the next sitting.

    It is emitted when it ends: when the wearer sits again, when lying, non-wear or
    missing data lasts the minimum break, or at the end of the stream
    (``analysis.bouts``).

    Attributes:
        start_s: Start of the upright run (standing or walking) of at least the minimum
            break that followed the bout, s.
        end_s: End of the last upright frame before the break ended, s.
    """

    kind: ClassVar[str] = "break"
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class DataGap(_Span):
    """A stretch without samples: not a posture, not sitting, no break.

    Inside a segment it is the frames whose gravity window (``PostureTuning.
    gravity_window_s``) holds no sample and that the posture could not be carried
    into; a sample gap of ``d`` seconds leaves a ``DataGap`` of about ``d - 1.1`` s, the
    postures on either side reaching half a window into it. A clock that jumped forward
    further than ``PostureTuning.max_gap_s`` (a ``TimeJump``) leaves one from the end of
    the last posture bout before the jump to the first sample after it.

    Attributes:
        start_s: Start in s (the end of the posture bout before it).
        end_s: End in s (the start of the posture bout after it).
    """

    kind: ClassVar[str] = "gap"
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class Alert:
    """A sit-too-long alert with the stretch it suggests.

    Attributes:
        t_s: When the alert was raised.
        sitting_since_s: Start of the running sitting bout.
        repeat: 0 for the first alert of a bout, then 1, 2, ... for reminders.
        stretch_id: Programme exercise id suggested (``analysis.programme``).
        kind_name: The alert type; only ``sit_too_long`` exists.
    """

    kind: ClassVar[str] = "alert"
    t_s: float
    sitting_since_s: float
    repeat: int
    stretch_id: str
    kind_name: str = "sit_too_long"

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form: ``{"kind": "alert", "alert": "sit_too_long", ...}``."""
        return {
            "kind": self.kind,
            "alert": self.kind_name,
            "t_s": self.t_s,
            "sitting_since_s": self.sitting_since_s,
            "repeat": self.repeat,
            "stretch_id": self.stretch_id,
        }


@dataclass(frozen=True, slots=True)
class ActionApplied:
    """A user action was applied.

    Attributes:
        t_s: When it was applied.
        action: What the wearer did.
        until_s: End of the quiet time it started (snooze, meeting), else ``None``.
    """

    kind: ClassVar[str] = "action"
    t_s: float
    action: UserAction
    until_s: float | None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form, including ``kind``."""
        return {"kind": self.kind, "t_s": self.t_s, "action": str(self.action), "until_s": self.until_s}


@dataclass(frozen=True, slots=True)
class SlouchNudge:
    """A slouch nudge: the trunk stayed inclined past ``SlouchPolicy.slouch_deg``.

    Attributes:
        t_s: When the nudge was raised.
        slouching_since_s: Start of the continuous slouch.
    """

    kind: ClassVar[str] = "slouch_nudge"
    t_s: float
    slouching_since_s: float

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form, including ``kind``."""
        return {"kind": self.kind, "t_s": self.t_s, "slouching_since_s": self.slouching_since_s}


@dataclass(frozen=True, slots=True)
class InBedFound(_Span):
    """The in-bed window of the local noon-to-noon day that just ended, found live (``analysis.nights``).

    Raised at the noon that ends the window; ``sitless analyze`` reports the nights of
    the whole recording instead (``AnalysisResult.nights``).

    Attributes:
        start_s: When the wearer went to bed, s.
        end_s: When they got up, s.
    """

    kind: ClassVar[str] = "in_bed"
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class TimeJump:
    """The sample times jumped; the analysis started a new segment at ``t_s``.

    A step forward longer than ``PostureTuning.max_gap_s`` or back further than
    ``PostureTuning.max_step_back_s`` (a clock reset, an old recording re-sent) ends
    the running posture and sitting bouts at the last sample before it; the analysis
    goes on from ``t_s`` as after the start of a stream, keeping the wearer's upright
    reference and slouch time.

    Attributes:
        t_s: Time of the first sample after the jump.
        from_s: Time of the last sample before it.
    """

    kind: ClassVar[str] = "time_jump"
    t_s: float
    from_s: float

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form, including ``kind``."""
        return {"kind": self.kind, "t_s": self.t_s, "from_s": self.from_s}


class Event(Protocol):
    """What every event of every detector is: a kind and a JSON-ready form.

    The posture events are the classes of this module; each exercise detector defines
    its own in its module.
    """

    kind: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form, including ``kind``."""
        ...


@dataclass(frozen=True, slots=True)
class LiveStatus:
    """What the wearer is doing now, for the dashboard and the worker.

    Attributes:
        t_s: Last sample time seen, or ``None`` before any sample.
        posture: Current posture (the newest frames are provisional), or ``None``.
        posture_since_s: Start of the current posture.
        sitting_since_s: Start of the running sitting bout, or ``None`` (also during the
            first ``AlertPolicy.min_run_s`` of sitting, before it makes a bout).
        sitting_s: Length of the running sitting bout so far (0 without one).
        open_alert: The last alert if it is still unanswered.
        snoozed_until_s: End of a running snooze.
        meeting_until_s: End of a running "in a meeting".
        reference_ready: Whether the upright reference is known (learned from walking
            or calibrated).
        calibrated: Whether it comes from an explicit calibration.
        detects: What this placement can report (``analysis.posture.capabilities``):
            a wrist says only ``walking`` / ``other`` (active or inactive).
        slouch_s: Time spent slouching so far (chest and upper back), s.
        posture_slouch_s: Of which in the current posture (final frames), s: the part
            not yet in a closed ``PostureBout``.
        in_bed_hours: The wearer's usual in-bed hours learned from their nights, local
            ``(start, end)`` hours, quiet for alerts (``analysis.nights``), or None.
    """

    t_s: float | None
    posture: Posture | None
    posture_since_s: float | None
    sitting_since_s: float | None
    sitting_s: float
    open_alert: Alert | None
    snoozed_until_s: float | None
    meeting_until_s: float | None
    reference_ready: bool
    calibrated: bool = False
    detects: tuple[str, ...] = ()
    slouch_s: float = 0.0
    posture_slouch_s: float = 0.0
    in_bed_hours: tuple[float, float] | None = None

    @property
    def worn(self) -> bool:
        """Whether the sensor is worn (the newest posture is not non-wear)."""
        return self.posture is not Posture.NONWEAR

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form."""
        return {
            "t_s": self.t_s,
            "posture": None if self.posture is None else str(self.posture),
            "posture_since_s": self.posture_since_s,
            "sitting_since_s": self.sitting_since_s,
            "sitting_s": self.sitting_s,
            "open_alert": None if self.open_alert is None else self.open_alert.to_dict(),
            "snoozed_until_s": self.snoozed_until_s,
            "meeting_until_s": self.meeting_until_s,
            "reference_ready": self.reference_ready,
            "calibrated": self.calibrated,
            "worn": self.worn,
            "detects": list(self.detects),
            "slouch_s": self.slouch_s,
            "posture_slouch_s": self.posture_slouch_s,
            "in_bed_hours": None if self.in_bed_hours is None else list(self.in_bed_hours),
        }
