"""``sitless report``: progress over the last weeks, from the store (``analysis.report``).

It reads one wearable's stored events (posture and sitting bouts, breaks, alerts, the
wearer's actions, exercise sets and holds) and prints the weeks' sitting and breaks,
how reminders were answered, what exercise was done and how well the plan was kept;
``--json`` prints ``Report.to_dict()``. The plan is read from ``--plan FILE`` (the JSON
of ``analysis.plan.Plan.to_dict``), else it is the default plan from the first day
with data.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis import Plan, Posture, default_plan
from analysis.events import BreakTaken, PostureBout, SittingBout
from analysis.holds import HoldEnded
from analysis.report import Report, build_report
from analysis.reps import RepSet
from analysis.sets import exercise_sets
from ingest.errors import StoreError
from ingest.store import DEFAULT_STORE_URL, EventRow, Store

__all__ = ["load_report", "register", "run"]

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


def _hours(seconds: float) -> str:
    return f"{seconds / 3600.0:.1f} h"


def _text(device_id: str, report: Report) -> str:
    """The human summary of a report."""
    lines = [f"{device_id}: {report.start} to {report.end}"]
    for w in report.weeks:
        if not w.sitting_s and not w.breaks and not w.alerts:
            continue
        rate = "" if w.breaks_per_sitting_hour is None else f" ({w.breaks_per_sitting_hour:.1f} per hour sitting)"
        lines.append(
            f"  week to {w.end}: sitting {_hours(w.sitting_s)}, longest bout {w.longest_sitting_s / 60:.0f} min, "
            f"breaks {w.breaks}{rate}, alerts {w.alerts}"
        )
    counts = report.answer_counts()
    lines.append("  reminders: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    for d in report.done:
        amounts = [
            f"{d.reps} reps" if d.reps else "",
            f"held {d.held_s:.0f} s" if d.held_s else "",
            f"{d.duration_s / 60:.0f} min" if d.duration_s else "",
        ]
        lines.append(f"  {d.day} {d.exercise_id}: {', '.join(a for a in amounts if a)}")
    a = report.adherence
    if a is None:
        lines.append("  plan: not in these weeks")
    else:
        kept = "nothing due" if a.fraction is None else f"{a.fraction:.0%} of the plan"
        lines.append(
            f"  plan: {kept}; streak {a.current_streak_days} days (longest {a.longest_streak_days})"
            + "".join(f"; week {w.week} {'-' if w.fraction is None else f'{w.fraction:.0%}'}" for w in a.weeks)
        )
    return "\n".join(lines)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``report`` subcommand."""
    p = sub.add_parser(
        "report",
        help="progress over the last weeks: sitting, breaks, reminders, exercise and the plan kept",
        description="Report one wearable's last weeks from the store.",
    )
    p.add_argument("--store", default=DEFAULT_STORE_URL, help=f"store URL (default {DEFAULT_STORE_URL})")
    p.add_argument("--device", help="the wearable (default: the only one in the store)")
    p.add_argument("--weeks", type=int, default=12, help="how many weeks, ending today (default 12)")
    p.add_argument("--end", type=dt.date.fromisoformat, help="last day of the report, YYYY-MM-DD (default today)")
    p.add_argument("--tz", metavar="ZONE", help="time zone of the days (IANA name; default this machine's)")
    p.add_argument("--plan", type=Path, metavar="FILE", help="the exercise plan (JSON); default the default plan")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``sitless report``."""
    try:
        tz: dt.tzinfo = zoneinfo.ZoneInfo(args.tz) if args.tz else (dt.datetime.now().astimezone().tzinfo or dt.UTC)
        end = args.end if args.end is not None else dt.datetime.now(tz).date()
        plan = None if args.plan is None else Plan.from_dict(json.loads(args.plan.read_text(encoding="utf-8")))
        device = args.device
        if device is None:
            with Store(args.store, read_only=True) as store:
                known = sorted(store.devices())
            if len(known) != 1:
                raise ValueError(f"name the device with --device (the store has: {', '.join(known) or 'none'})")
            device = known[0]
        report = load_report(args.store, device, end=end, weeks=args.weeks, tz=tz, plan=plan)
    except (StoreError, ValueError, OSError, zoneinfo.ZoneInfoNotFoundError) as err:
        print(f"sitless report: {err}", file=sys.stderr)
        return 1
    print(json.dumps(report.to_dict(), indent=1) if args.json else _text(device, report))
    return 0
