"""Progress from the store: one wearable's stored events as an ``analysis.report.Report``.

Shared by ``sitless report`` (:mod:`ingest.report_cmd`) and the dashboard. The stored
events (posture and sitting bouts, breaks, alerts, the wearer's actions, exercise sets
and holds) are read back as analysis values; a row that does not parse is left out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from analysis import Plan, Posture, default_plan
from analysis.events import BreakTaken, PostureBout, SittingBout
from analysis.holds import HoldEnded
from analysis.inbed import NightWindow
from analysis.recognition import ExerciseFound
from analysis.report import Report, build_report
from analysis.reps import RepSet
from analysis.sets import exercise_sets
from ingest.codec import epoch_time
from ingest.store import EventRow, Store

__all__ = ["load_report"]


@dataclass(frozen=True, slots=True)
class _At:
    t_s: float


_HOLD_FIELDS = ("start_s", "end_s", "exercise", "side", "target_s", "broken", "bounces", "hold")


def _span(body: dict[str, Any]) -> tuple[float, float]:
    """A stored row's ``start_s`` and ``end_s`` (``codec.epoch_time``)."""
    return epoch_time(body["start_s"]), epoch_time(body["end_s"])


#: How each stored kind the report reads becomes an analysis value (KeyError, ValueError
#: or TypeError: the row does not parse).
_PARSERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "posture_bout": lambda b: PostureBout(*_span(b), Posture(b["posture"]), float(b.get("slouch_s", 0))),
    "sitting_bout": lambda b: SittingBout(*_span(b)),
    "break": lambda b: BreakTaken(*_span(b)),
    "alert": lambda b: _At(epoch_time(b["t_s"])),
    "action": lambda b: (epoch_time(b["t_s"]), str(b["action"])),
    "exercise": lambda b: RepSet(*_span(b), str(b["exercise"]), int(b["reps"])),
    "hold": lambda b: HoldEnded(*_span(b), *(b[f] for f in _HOLD_FIELDS[2:])),
    "exercise_found": lambda b: ExerciseFound(*_span(b), str(b["exercise"]), float(b["confidence"])),
    "in_bed": lambda b: NightWindow.of_bed(*_span(b)),
}


def _events(rows: Iterable[EventRow]) -> dict[str, list[Any]]:
    """The stored events as analysis values, by kind; rows that do not parse are left out."""
    out: dict[str, list[Any]] = {kind: [] for kind in _PARSERS}
    for row in rows:
        try:
            out[row.kind].append(_PARSERS[row.kind](row.body))
        except (KeyError, ValueError, TypeError):
            continue
    return out


def load_report(
    store_url: str, device_id: str, *, end: dt.date, weeks: int, tz: dt.tzinfo, plan: Plan | None = None
) -> Report:
    """Build the report of one wearable from the store.

    Args:
        store_url: The store.
        device_id: The wearable.
        end: The last day of the report (local).
        weeks: How many weeks.
        tz: The local time zone.
        plan: The exercise plan; default the default plan from the first day with data.

    Raises:
        StoreError: The store cannot be read.
        ValueError: ``weeks`` below 1.
    """
    start = end - dt.timedelta(days=7 * weeks - 1)
    since = dt.datetime.combine(start, dt.time(), tz).timestamp() - 86400.0  # bouts that began the day before
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tz).timestamp()
    with Store(store_url, read_only=True) as store:
        rows = store.events(device_id, since_s=since, until_s=until, kinds=list(_PARSERS))
    ev = _events(rows)
    if plan is None:
        first = min((dt.datetime.fromtimestamp(r.t_s, tz).date() for r in rows), default=start)
        plan = default_plan(max(first, start))
    return build_report(
        plan,
        end=end,
        weeks=weeks,
        bouts=ev["posture_bout"],
        sitting_bouts=ev["sitting_bout"],
        breaks=ev["break"],
        alerts=ev["alert"],
        actions=ev["action"],
        sets=exercise_sets([*ev["exercise"], *ev["hold"], *ev["exercise_found"]]),
        nights=ev["in_bed"],
        tz=tz,
    )
