"""Progress from the store: one wearable's stored events as an ``analysis.report.Report``.

Shared by ``sitless report`` (:mod:`ingest.report_cmd`) and the dashboard. The stored
events (posture and sitting bouts, breaks, alerts, the wearer's actions, exercise sets
and holds) are read back as analysis values; a row that does not parse is left out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from analysis import Plan, Posture, default_plan
from analysis.events import BreakTaken, PostureBout, SittingBout
from analysis.holds import HoldEnded
from analysis.report import Report, build_report
from analysis.reps import RepSet
from analysis.sets import exercise_sets
from ingest.store import EventRow, Store

__all__ = ["load_report"]

_KINDS = ("posture_bout", "sitting_bout", "break", "alert", "action", "exercise", "hold")


@dataclass(frozen=True, slots=True)
class _At:
    t_s: float


def _events(rows: Iterable[EventRow]) -> dict[str, list[Any]]:
    """The stored events as analysis values, by kind; rows that do not parse are left out."""
    out: dict[str, list[Any]] = {kind: [] for kind in _KINDS}
    for row in rows:
        b = row.body
        try:
            if row.kind == "posture_bout":
                out[row.kind].append(PostureBout(b["start_s"], b["end_s"], Posture(b["posture"]), b.get("slouch_s", 0)))
            elif row.kind == "sitting_bout":
                out[row.kind].append(SittingBout(b["start_s"], b["end_s"]))
            elif row.kind == "break":
                out[row.kind].append(BreakTaken(b["start_s"], b["end_s"]))
            elif row.kind == "alert":
                out[row.kind].append(_At(float(b["t_s"])))
            elif row.kind == "action":
                out[row.kind].append((float(b["t_s"]), str(b["action"])))
            elif row.kind == "exercise":
                out[row.kind].append(RepSet(b["start_s"], b["end_s"], str(b["exercise"]), int(b["reps"])))
            elif row.kind == "hold":
                fields = ("start_s", "end_s", "exercise", "side", "target_s", "broken", "bounces", "hold")
                out[row.kind].append(HoldEnded(*(b[f] for f in fields)))
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
        rows = store.events(device_id, since_s=since, until_s=until, kinds=_KINDS)
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
        sets=exercise_sets([*ev["exercise"], *ev["hold"]]),
        tz=tz,
    )
