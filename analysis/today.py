"""The wearer's day so far: posture bouts clipped to it, the sitting summary, and the reminders' answers.

Pure arithmetic over what the live worker stored (closed bouts, sitting bouts, breaks,
alerts, actions) and its live status (the running posture and sitting bout), for the
dashboard's pages. The day runs from ``start_s`` (local midnight) to ``now_s`` (the
time of the wearable's latest analysed sample, not the server's clock).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from analysis.days import Instant, Span
from analysis.report import answers

__all__ = ["ClippedBout", "DaySoFar", "RunningBout", "StoredBout", "clipped_bouts", "day_so_far", "responses"]


@dataclass(frozen=True, slots=True)
class StoredBout:
    """A closed posture bout as stored: posture name, start, end, slouch time (s)."""

    posture: str
    start_s: float
    end_s: float
    slouch_s: float = 0.0


@dataclass(frozen=True, slots=True)
class RunningBout:
    """The live status's running posture: since when, and its slouch time so far (s)."""

    posture: str
    since_s: float
    slouch_s: float = 0.0


@dataclass(frozen=True, slots=True)
class ClippedBout:
    """A posture bout clipped to the day so far; ``slouch_s`` is its slouch time in that part."""

    posture: str
    start_s: float
    end_s: float
    running: bool
    slouch_s: float

    @property
    def duration_s(self) -> float:
        """Length within the day, s."""
        return self.end_s - self.start_s


def _clipped(bout: StoredBout, start_s: float, now_s: float, *, running: bool) -> ClippedBout | None:
    """The part of a bout inside ``[start_s, now_s)``, slouch shared out pro rata; None if none."""
    inside_s = max(0.0, min(bout.end_s, now_s) - max(bout.start_s, start_s))
    if inside_s <= 0:
        return None
    share = inside_s / (bout.end_s - bout.start_s)
    return ClippedBout(bout.posture, max(bout.start_s, start_s), min(bout.end_s, now_s), running, bout.slouch_s * share)


def clipped_bouts(
    closed: Iterable[StoredBout], running: RunningBout | None, *, start_s: float, now_s: float
) -> list[ClippedBout]:
    """The day's posture bouts so far, clipped to it, the running one last.

    A closed bout is cut where the running one starts (a bout stored at or after that
    start is the running one, closed meanwhile).

    >>> bouts = clipped_bouts([StoredBout("sitting", -600.0, 600.0, 120.0)], RunningBout("walking", 600.0),
    ...                       start_s=0.0, now_s=900.0)
    >>> [(b.posture, b.start_s, b.end_s, b.running, b.slouch_s) for b in bouts]
    [('sitting', 0.0, 600.0, False, 60.0), ('walking', 600.0, 900.0, True, 0.0)]
    """
    cut_s = now_s if running is None else running.since_s
    out = []
    for bout in closed:
        cut = StoredBout(bout.posture, bout.start_s, min(bout.end_s, cut_s), bout.slouch_s)
        if (part := _clipped(cut, start_s, now_s, running=False)) is not None:
            out.append(part)
    if running is not None:
        live = StoredBout(running.posture, running.since_s, now_s, running.slouch_s)
        if (part := _clipped(live, start_s, now_s, running=True)) is not None:
            out.append(part)
    return out


@dataclass(frozen=True, slots=True)
class DaySoFar:
    """Sitting at a glance for one wearer's day so far.

    Attributes:
        sitting_s: Time spent sitting, s (the running bout included).
        sitting_bouts: Sitting bouts that ended today or are still running.
        breaks: Breaks (at least a minute of standing or walking) that ended today.
        longest_sitting_s: Length of the longest of those sitting bouts, s.
        alerts: Sit-too-long alerts raised today, repeats included.
        slouch_s: Time slouching, s (chest and upper back; 0 elsewhere).
    """

    sitting_s: float = 0.0
    sitting_bouts: int = 0
    breaks: int = 0
    longest_sitting_s: float = 0.0
    alerts: int = 0
    slouch_s: float = 0.0


def day_so_far(
    bouts: Sequence[ClippedBout],
    sitting_bouts: Iterable[Span],
    breaks: Iterable[Span],
    alerts: Iterable[Instant],
    *,
    running_sitting_s: float | None,
    start_s: float,
) -> DaySoFar:
    """Sum up the day so far.

    Args:
        bouts: The day's clipped posture bouts (:func:`clipped_bouts`).
        sitting_bouts: Closed sitting bouts (those ending before ``start_s`` are left out).
        breaks: Breaks (likewise).
        alerts: Alerts (those before ``start_s`` are left out).
        running_sitting_s: Length of the running sitting bout, s, or None when none runs.
        start_s: Start of the day, s.
    """
    lengths = [b.end_s - b.start_s for b in sitting_bouts if b.end_s > start_s]
    if running_sitting_s is not None:
        lengths.append(running_sitting_s)
    return DaySoFar(
        sitting_s=sum(b.duration_s for b in bouts if b.posture == "sitting"),
        sitting_bouts=len(lengths),
        breaks=sum(1 for b in breaks if b.end_s > start_s),
        longest_sitting_s=max(lengths, default=0.0),
        alerts=sum(1 for a in alerts if a.t_s >= start_s),
        slouch_s=sum(b.slouch_s for b in bouts),
    )


def responses(
    alerts: Sequence[Instant], actions: Iterable[tuple[float, str]], breaks: Iterable[Span], *, open_t_s: float | None
) -> list[str]:
    """How each alert was answered (``analysis.report.answers``), or ``open`` while it still waits.

    Returns:
        One of ``analysis.report.ANSWER_KINDS`` (``done``, ``done_still_sitting``,
        ``snooze``, ``meeting``, ``dismiss``, ``break``, ``ignored``) or ``open`` per
        alert, in the order given.
    """
    found = {a.t_s: a.answer for a in answers(alerts, actions, breaks)}
    return [
        "open" if open_t_s is not None and a.t_s == open_t_s and found[a.t_s] == "ignored" else found[a.t_s]
        for a in alerts
    ]
