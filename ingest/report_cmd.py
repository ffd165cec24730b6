"""``sitless report``: progress over the last weeks, from the store (``ingest.progress``).

It reads one wearable's stored events (posture and sitting bouts, breaks, alerts, the
wearer's actions, exercise sets and holds) and prints the weeks' sitting and breaks,
how reminders were answered, what exercise was done and how well the plan was kept;
``--json`` prints ``Report.to_dict()``, and ``--html OUT`` writes the report as one
self-contained HTML page (``ingest.report_html``) instead. An existing OUT is kept unless
``--force`` is given. The plan is read from ``--plan FILE`` (the JSON of
``analysis.plan.Plan.to_dict``), else it is the default plan from the first day with
data.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import zoneinfo
from pathlib import Path

from analysis import Plan
from analysis.report import Report
from ingest.codec import MAX_T_S
from ingest.data_cmd import pick_device
from ingest.errors import IngestError, PayloadError
from ingest.outfile import exists_message, write_file
from ingest.payload_fields import load_json
from ingest.progress import load_report
from ingest.report_html import render_html
from ingest.store import Store, add_store_argument

__all__ = ["register", "run"]

#: The days a report may cover: those of the times sitless stores (``codec.MAX_T_S``:
#: Unix time 0 to 2**32 s), with a day to spare at each end for any time zone.
FIRST_DAY = dt.date(1970, 1, 2)
LAST_DAY = (dt.datetime.fromtimestamp(MAX_T_S, dt.UTC) - dt.timedelta(days=2)).date()


def _check_days(end: dt.date, weeks: int) -> None:
    """Check that ``weeks`` weeks ending on ``end`` lie within :data:`FIRST_DAY` .. :data:`LAST_DAY`.

    Raises:
        ValueError: ``weeks`` is below 1, or the weeks do not lie within those days; the
            message names the option to change.

    >>> _check_days(dt.date(2026, 3, 13), 1)
    >>> _check_days(dt.date(1970, 1, 20), 3)
    Traceback (most recent call last):
    ...
    ValueError: --weeks 3 ending on 1970-01-20 starts before 1970-01-02: give --weeks 2 or fewer
    """
    if weeks < 1:
        raise ValueError(f"--weeks must be 1 or more, got {weeks}")
    earliest_end = FIRST_DAY + dt.timedelta(days=6)  # a week's report needs a week
    if not earliest_end <= end <= LAST_DAY:
        raise ValueError(
            f"--end {end} is outside the days sitless stores: give a day from {earliest_end} to {LAST_DAY}"
        )
    span_days = (end - FIRST_DAY).days + 1
    if 7 * weeks > span_days:
        raise ValueError(
            f"--weeks {weeks} ending on {end} starts before {FIRST_DAY}: give --weeks {span_days // 7} or fewer"
        )


def _read_plan(path: Path) -> Plan:
    """The exercise plan in a JSON file (``Plan.to_dict``).

    Raises:
        ValueError: The file cannot be read, is not JSON, or is not a plan; the message names it.
    """
    try:
        return Plan.from_dict(load_json(path.read_text(encoding="utf-8")))
    except OSError as err:
        raise ValueError(f"cannot read the plan {path}: {err.strerror or err}") from err
    except UnicodeDecodeError as err:
        raise ValueError(f"the plan {path} is not UTF-8 text: give the JSON of a plan") from err
    except PayloadError as err:  # not JSON, or nested too deeply
        raise ValueError(f"the plan {path} is {err}: give the JSON of a plan") from err
    except ValueError as err:
        raise ValueError(f"the plan {path} is not a valid plan: {err}") from err


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
    add_store_argument(p)
    p.add_argument("--device", help="the wearable (default: the only one in the store)")
    p.add_argument("--weeks", type=int, default=12, help="how many weeks, ending today (default 12)")
    p.add_argument("--end", type=dt.date.fromisoformat, help="last day of the report, YYYY-MM-DD (default today)")
    p.add_argument("--tz", metavar="ZONE", help="time zone of the days (IANA name; default this machine's)")
    p.add_argument("--plan", type=Path, metavar="FILE", help="the exercise plan (JSON); default the default plan")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the report as JSON")
    out.add_argument("--html", type=Path, metavar="OUT", help="write the report as a self-contained HTML page")
    p.add_argument("--force", action="store_true", help="with --html, replace OUT if it exists")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``sitless report``."""
    if args.html is not None and args.html.exists() and not args.force:
        print(f"sitless report: {exists_message(args.html)}", file=sys.stderr)
        return 1
    try:
        tz: dt.tzinfo = zoneinfo.ZoneInfo(args.tz) if args.tz else (dt.datetime.now().astimezone().tzinfo or dt.UTC)
        end = args.end if args.end is not None else dt.datetime.now(tz).date()
        _check_days(end, args.weeks)  # before load_report, whose date arithmetic would overflow
        plan = None if args.plan is None else _read_plan(args.plan)
        if not Store.exists(args.store):
            raise ValueError(f"no store at {args.store}: nothing to report (--store names the services' store)")
        device = pick_device(args.store, args.device)
        report = load_report(args.store, device, end=end, weeks=args.weeks, tz=tz, plan=plan)
        if args.html is not None:
            page = render_html(report, device).encode("utf-8")
            write_file(args.html, lambda f: f.write(page), replace=args.force)
            print(f"wrote {args.html}")
            return 0
    except (IngestError, ValueError, OSError, zoneinfo.ZoneInfoNotFoundError) as err:
        print(f"sitless report: {err}", file=sys.stderr)
        return 1
    print(json.dumps(report.to_dict(), indent=1) if args.json else _text(device, report))
    return 0
