"""A recording's results split into local calendar days (the ``days`` of ``sitless analyze``).

Each day is ``[local midnight, next local midnight)``: 24 h, or 23 h and 25 h on the days
daylight saving time starts and ends (``zoneinfo`` time zones). Intervals are split
exactly at midnight, and an instant at midnight belongs to the day that begins there.

Every second of a day that lies within the recording (from the earliest to the latest
time given) is counted once, under one name:

- ``gap``: no data: a posture bout named ``gap``, a given gap, or time no bout covers;
- ``nonwear``: the sensor was not worn;
- ``in_bed``: any other posture inside an in-bed window (``analysis.inbed``);
- otherwise the bout's posture (``sitting``, ``standing``, ``walking``, ``lying``,
  ``other``, or any other name, summed generically as ``<name>_s``).

So ``sitting_s`` and ``lying_s`` are waking time (outside the in-bed window), and per day
the posture seconds plus ``in_bed_s`` add up to ``span_s``. Posture bouts are taken to
tile the recording without overlapping, as ``Analyzer`` emits them.

In-bed time is measured only in the noon-to-noon windows that were judged
(``NightWindow.judged``). ``unjudged_s`` is the part of the day outside them; a day
entirely outside them has ``in_bed_s`` None ("not measured"), not 0.

Counted events belong to the day they start in: sitting bouts by their start (whatever
their length, in three classes: under 30 min, 30 to 60 min, 60 min or more), breaks by
their start, alerts by their time.

When times are only relative (``epoch_s`` None), the first time given is taken as local
midnight of day 1: days are 24 h from it, numbered 1, 2, ..., and have no date.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from analysis.inbed import NightWindow

__all__ = [
    "SITTING_CLASSES_S",
    "DaySummary",
    "Instant",
    "Labelled",
    "Span",
    "day_summaries",
    "local_date",
    "noon_boundaries",
    "split_at",
]

_DAY_S = 86400.0
_NOON_S = 43200.0
#: Posture names reported for every day, even at 0; ``gap`` and ``nonwear`` are never in bed.
_ALWAYS = ("sitting", "standing", "walking", "lying", "other", "nonwear", "gap")
_NOT_IN_BED = frozenset({"gap", "nonwear"})
#: Upper edges of the sitting bout classes, s: under 30 min, 30 to 60 min, 60 min or more.
SITTING_CLASSES_S: tuple[float, float] = (1800.0, 3600.0)
_SITTING_KEYS = ("under_30min", "30_to_60min", "60min_or_more")


class Span(Protocol):
    """Anything with a start and an end in s (sitting bouts, breaks, gaps)."""

    @property
    def start_s(self) -> float:
        """Start, s."""
        ...

    @property
    def end_s(self) -> float:
        """End, s."""
        ...


class Labelled(Span, Protocol):
    """A posture bout: a span with a posture name (``PostureBout``)."""

    @property
    def posture(self) -> str:
        """Posture name (a ``Posture`` is a ``str``)."""
        ...


class Instant(Protocol):
    """Anything that happens at one time (``Alert``)."""

    @property
    def t_s(self) -> float:
        """Time, s."""
        ...


@dataclass(frozen=True, slots=True)
class DaySummary:
    """One local calendar day of a recording.

    Attributes:
        day: Day number, 1 for the first day of the recording.
        date: Local date (ISO ``yyyy-mm-dd``), or None when times are only relative.
        start_s: Local midnight starting the day, s, in the input time base.
        end_s: The next local midnight, s.
        span_s: Part of the day within the recording, s.
        seconds: Time per name (``sitting``, ``gap``, ...; see the module), s, sorted by
            name; the in-bed time is ``in_bed_s``.
        in_bed_s: Time in bed with data, s; None when no part of the day lies in a judged
            noon-to-noon window.
        unjudged_s: Part of ``span_s`` outside the judged windows, s.
        sitting_bouts: Sitting bouts starting this day: under 30 min, 30 to 60 min, 60 min
            or more (``SITTING_CLASSES_S``).
        breaks: Breaks starting this day.
        alerts: Alerts raised this day.
    """

    day: int
    date: str | None
    start_s: float
    end_s: float
    span_s: float
    seconds: tuple[tuple[str, float], ...]
    in_bed_s: float | None
    unjudged_s: float
    sitting_bouts: tuple[int, int, int]
    breaks: int
    alerts: int

    def seconds_of(self, name: str) -> float:
        """Time under ``name`` (a posture, ``gap`` or ``nonwear``), s; 0 if absent."""
        return dict(self.seconds).get(name, 0.0)

    @property
    def covered_s(self) -> float:
        """Time with data this day, s: ``span_s`` less ``gap``."""
        return self.span_s - self.seconds_of("gap")

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form (keys of the ``days`` entries of ``sitless analyze``)."""
        out: dict[str, Any] = {
            "date": self.date,
            "day": self.day,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "span_s": self.span_s,
            "covered_s": self.covered_s,
        }
        out.update({f"{name}_s": value for name, value in self.seconds})
        out["in_bed_s"] = self.in_bed_s
        out["unjudged_s"] = self.unjudged_s
        out["sitting_bouts"] = dict(zip(_SITTING_KEYS, self.sitting_bouts, strict=True))
        out["breaks"] = self.breaks
        out["alerts"] = self.alerts
        return out


def noon_boundaries(
    start_s: float, end_s: float, *, epoch_s: float | None, tz: dt.tzinfo = dt.UTC
) -> tuple[float, ...]:
    """Local noons around a recording, for ``analysis.inbed.find_in_bed``.

    Args:
        start_s: First sample time, s, in the recording's time base.
        end_s: Last sample time, s.
        epoch_s: Unix time of the time base's 0, s (0.0 when times are Unix times), or
            None when times are only relative: ``start_s`` is then local midnight.
        tz: The local time zone (ignored for relative times).

    Returns:
        Increasing noons, the first at or before ``start_s``, the last at or after
        ``end_s`` (at least two).

    Raises:
        ValueError: Non-finite times or ``end_s < start_s``.

    >>> noon_boundaries(0.0, 90000.0, epoch_s=None)
    (-43200.0, 43200.0, 129600.0)
    """
    _check_range(start_s, end_s)
    if epoch_s is None:
        # start_s is midnight of day 1: the noon before it opens the first window.
        last = max(math.ceil((end_s - start_s - _NOON_S) / _DAY_S), 0)
        return tuple(start_s + _NOON_S + k * _DAY_S for k in range(-1, last + 1))
    day = local_date(start_s, epoch_s, tz)
    noons = [_local_time(day, 12, epoch_s, tz)]
    if noons[0] > start_s:
        noons.insert(0, _local_time(day - dt.timedelta(days=1), 12, epoch_s, tz))
    while noons[-1] < end_s or len(noons) < 2:
        day = local_date(noons[-1], epoch_s, tz) + dt.timedelta(days=1)
        noons.append(_local_time(day, 12, epoch_s, tz))
    return tuple(noons)


def day_summaries(
    bouts: Iterable[Labelled],
    sitting_bouts: Iterable[Span] = (),
    breaks: Iterable[Span] = (),
    alerts: Iterable[Instant] = (),
    *,
    nights: Iterable[NightWindow] | None = None,
    gaps: Iterable[Span] = (),
    epoch_s: float | None,
    tz: dt.tzinfo = dt.UTC,
) -> tuple[DaySummary, ...]:
    """Split a recording's results into local calendar days (see the module).

    Args:
        bouts: Posture bouts (``PostureBout``), tiling the recording.
        sitting_bouts: Sitting bouts (``SittingBout``).
        breaks: Breaks (``BreakTaken``).
        alerts: Alerts (``Alert``).
        nights: The noon-to-noon windows with their in-bed windows
            (``InBedResult.nights``); None when in-bed time was not analysed.
        gaps: Stretches without data, if reported apart from the bouts.
        epoch_s: Unix time of the time base's 0, s, or None when times are relative.
        tz: The local time zone (``zoneinfo.ZoneInfo``; ignored for relative times).

    Returns:
        One summary per calendar day the recording touches, in order; empty when
        nothing is given.
    """
    bouts = list(bouts)
    gap_spans = _merge((g.start_s, g.end_s) for g in gaps)
    sitting = list(sitting_bouts)
    break_list = list(breaks)
    alert_list = list(alerts)
    nights = None if nights is None else list(nights)
    ends = [b.end_s for b in bouts] + [e for _, e in gap_spans]
    starts = [b.start_s for b in bouts] + [s for s, _ in gap_spans]
    events = [b.start_s for b in sitting] + [b.start_s for b in break_list] + [a.t_s for a in alert_list]
    if not starts and not events:
        return ()
    rec_start = min(starts + events)
    rec_end = max(ends + events)
    calendar = _Calendar(rec_start, epoch_s, tz)
    edges, dates = calendar.days(rec_start, rec_end, events)
    book = _Book(edges)  # seconds per name
    bed = _Book(edges)  # in-bed time
    extent = _Book(edges)  # span and judged time

    in_bed = _merge((n.in_bed.start_s, n.in_bed.end_s) for n in nights or () if n.in_bed is not None and n.judged)
    judged = _merge((n.start_s, n.end_s) for n in nights or () if n.judged)
    for bout in bouts:
        name = str(bout.posture)
        for s, e in _minus(bout.start_s, bout.end_s, gap_spans):
            if name in _NOT_IN_BED:
                book.add(name, s, e)
                continue
            for a, b, inside in split_at(s, e, in_bed):
                (bed if inside else book).add(name, a, b)
    for s, e in gap_spans:
        book.add("gap", s, e)
    for s, e in _minus(rec_start, rec_end, _merge([(b.start_s, b.end_s) for b in bouts] + gap_spans)):
        book.add("gap", s, e)
    extent.add("span", rec_start, rec_end)
    for s, e in judged:
        extent.add("judged", max(s, rec_start), min(e, rec_end))

    names = sorted(set(_ALWAYS) | {str(b.posture) for b in bouts})
    sit_classes = [[0, 0, 0] for _ in dates]
    for sit in sitting:
        cls = bisect.bisect_right(SITTING_CLASSES_S, sit.end_s - sit.start_s)
        sit_classes[book.day_of(sit.start_s)][cls] += 1
    break_counts = [0] * len(dates)
    for brk in break_list:
        break_counts[book.day_of(brk.start_s)] += 1
    alert_counts = [0] * len(dates)
    for alert in alert_list:
        alert_counts[book.day_of(alert.t_s)] += 1

    out = []
    for i, date in enumerate(dates):
        span = extent.get(i, "span")
        judged_s = extent.get(i, "judged")
        out.append(
            DaySummary(
                day=i + 1,
                date=date,
                start_s=edges[i],
                end_s=edges[i + 1],
                span_s=span,
                seconds=tuple((name, book.get(i, name)) for name in names),
                in_bed_s=sum(bed.totals[i].values()) if judged_s > 0 else None,
                unjudged_s=max(span - judged_s, 0.0),
                sitting_bouts=(sit_classes[i][0], sit_classes[i][1], sit_classes[i][2]),
                breaks=break_counts[i],
                alerts=alert_counts[i],
            )
        )
    return tuple(out)


class _Calendar:
    """Local midnights of the recording's time base."""

    def __init__(self, origin_s: float, epoch_s: float | None, tz: dt.tzinfo) -> None:
        self.origin_s = origin_s
        self.epoch_s = epoch_s
        self.tz = tz
        self.first: dt.date | None = None if epoch_s is None else local_date(origin_s, epoch_s, tz)

    def days(self, start_s: float, end_s: float, events: Sequence[float]) -> tuple[list[float], list[str | None]]:
        """Midnight edges (one more than days) and dates of the days touched.

        A day is touched when ``[start_s, end_s)`` overlaps it or an event falls in it.
        """
        last_event = max([*events, start_s])
        if self.epoch_s is None:
            count = math.floor((last_event - self.origin_s) / _DAY_S) + 1
            if end_s > start_s:
                # The day holding end_s, unless end_s is the midnight that starts it.
                count = max(count, math.ceil((end_s - self.origin_s) / _DAY_S))
            return [self.origin_s + k * _DAY_S for k in range(count + 1)], [None] * count
        assert self.first is not None
        last = local_date(last_event, self.epoch_s, self.tz)
        if end_s > start_s:
            end_day = local_date(end_s, self.epoch_s, self.tz)
            if _local_time(end_day, 0, self.epoch_s, self.tz) >= end_s:
                end_day -= dt.timedelta(days=1)
            last = max(last, end_day)
        dates = [self.first + dt.timedelta(days=k) for k in range((last - self.first).days + 1)]
        edges = [_local_time(d, 0, self.epoch_s, self.tz) for d in dates]
        edges.append(_local_time(dates[-1] + dt.timedelta(days=1), 0, self.epoch_s, self.tz))
        return edges, [d.isoformat() for d in dates]


class _Book:
    """Seconds per name and day, for intervals split at the day edges."""

    def __init__(self, edges: Sequence[float]) -> None:
        self.edges = list(edges)
        self.totals: list[dict[str, float]] = [{} for _ in range(len(edges) - 1)]

    def day_of(self, t_s: float) -> int:
        """Index of the day holding ``t_s`` (clamped to the known days)."""
        return min(max(bisect.bisect_right(self.edges, t_s) - 1, 0), len(self.totals) - 1)

    def add(self, name: str, start_s: float, end_s: float) -> None:
        """Add ``[start_s, end_s)`` under ``name``, split at midnight."""
        i = self.day_of(start_s)
        while start_s < end_s and i < len(self.totals):
            stop = min(end_s, self.edges[i + 1])
            if stop > start_s:
                row = self.totals[i]
                row[name] = row.get(name, 0.0) + (stop - start_s)
            start_s = stop
            i += 1

    def get(self, day: int, name: str) -> float:
        """Seconds under ``name`` on day index ``day``."""
        return self.totals[day].get(name, 0.0)


def _check_range(start_s: float, end_s: float) -> None:
    if not (math.isfinite(start_s) and math.isfinite(end_s)) or end_s < start_s:
        raise ValueError(f"need finite start_s <= end_s, got {start_s!r} and {end_s!r}")


def local_date(t_s: float, epoch_s: float, tz: dt.tzinfo) -> dt.date:
    """The local calendar date of ``t_s`` (s in a time base whose 0 is Unix time ``epoch_s``)."""
    return dt.datetime.fromtimestamp(epoch_s + t_s, tz).date()


def _local_time(day: dt.date, hour: int, epoch_s: float, tz: dt.tzinfo) -> float:
    """``hour``:00 local on ``day``, s in the time base.

    A local time skipped by a clock change (a midnight some zones skip) maps to the
    instant of the change: ``fold=0`` takes the offset in force before it.
    """
    return dt.datetime.combine(day, dt.time(hour), tzinfo=tz).timestamp() - epoch_s


def _merge(spans: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """Union of intervals, sorted, empty ones dropped.

    >>> _merge([(5.0, 7.0), (0.0, 2.0), (1.0, 3.0), (4.0, 4.0)])
    [(0.0, 3.0), (5.0, 7.0)]
    """
    out: list[tuple[float, float]] = []
    for s, e in sorted(sp for sp in spans if sp[1] > sp[0]):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _minus(start_s: float, end_s: float, cuts: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """``[start_s, end_s)`` less the merged intervals ``cuts``.

    >>> _minus(0.0, 10.0, [(2.0, 3.0), (8.0, 12.0)])
    [(0.0, 2.0), (3.0, 8.0)]
    """
    return [(a, b) for a, b, inside in split_at(start_s, end_s, cuts) if not inside]


def split_at(start_s: float, end_s: float, spans: Sequence[tuple[float, float]]) -> list[tuple[float, float, bool]]:
    """``[start_s, end_s)`` cut at the merged intervals ``spans``: pieces flagged inside or not.

    >>> split_at(0.0, 10.0, [(2.0, 3.0)])
    [(0.0, 2.0, False), (2.0, 3.0, True), (3.0, 10.0, False)]
    """
    out: list[tuple[float, float, bool]] = []
    t = start_s
    i = max(bisect.bisect_right(spans, (start_s, math.inf)) - 1, 0)
    while t < end_s and i < len(spans):
        s, e = spans[i]
        if e <= t:
            i += 1
            continue
        if s > t:
            out.append((t, min(s, end_s), False))
            t = min(s, end_s)
            continue
        stop = min(e, end_s)
        out.append((t, stop, True))
        t = stop
        i += 1
    if t < end_s:
        out.append((t, end_s, False))
    return out
