"""Weeks of office days as the analysis worker stores them: report tests, the example report, page timings.

Seeded and fast: events, not samples. Each weekday the wearer works about 08:30-17:00
in sitting bouts of 10-80 min (shorter as the weeks go on) between breaks of 2-12 min
standing or walking, with a 20-40 min walk at lunch. A sitting bout raises a
sit-too-long alert 30 min in and every 10 min after while it lasts (DESIGN.md, alert
policy); each alert is answered ``done``, ``snooze`` or ``meeting`` a minute later, or
not at all (then a bout that ends within 10 min makes it a break taken). On about half
the days a set of 10 squats and a knee roll found unprompted are stored; some days the
sensor lies on the desk over lunch (non-wear), and one weekday in ten is not worn at
all. Weekends have no data.

Regenerate the example report of docs/report.md::

    .venv/bin/python -m bench.office_weeks sqlite:///var/example.sqlite
    .venv/bin/sitless report --store sqlite:///var/example.sqlite --end 2026-11-29 --weeks 4 --tz UTC \\
        --html var/example-report.html
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

import numpy as np

from ingest.store import Store

DEVICE = "desk-12"
#: The last day (a Sunday) of the example's weeks.
END = dt.date(2026, 11, 29)
_MIN = 60.0
_ALERT_AFTER_S = 30 * _MIN
_REPEAT_S = 10 * _MIN
_ANSWERS = ("done", "snooze", "meeting", None)


def _sitting(out: list[dict[str, Any]], rng: np.random.Generator, start_s: float, length_s: float) -> None:
    out.append({"kind": "sitting_started", "t_s": start_s})
    out.append({"kind": "posture_bout", "start_s": start_s, "end_s": start_s + length_s, "posture": "sitting"})
    out.append({"kind": "sitting_bout", "start_s": start_s, "end_s": start_s + length_s})
    t, repeat = start_s + _ALERT_AFTER_S, 0
    while t < start_s + length_s:
        alert = {"kind": "alert", "t_s": t, "alert": "sit_too_long", "sitting_since_s": start_s, "repeat": repeat}
        out.append({**alert, "stretch_id": "squat"})
        answer = _ANSWERS[int(rng.integers(len(_ANSWERS)))]
        if answer is not None:
            out.append({"kind": "action", "t_s": t + _MIN, "action": answer, "until_s": None})
        t, repeat = t + _REPEAT_S, repeat + 1


def office_day(day: dt.date, week: int, rng: np.random.Generator, tz: dt.tzinfo) -> list[dict[str, Any]]:
    """One worn weekday's events (see the module); ``week`` 0 is the first, later weeks sit less long."""
    t = dt.datetime.combine(day, dt.time(8, 30), tz).timestamp()
    end = t + 8.5 * 3600.0
    lunch = t + 4 * 3600.0
    longest_min = max(80.0 - 12.0 * week, 40.0)
    out: list[dict[str, Any]] = []
    took_lunch = False
    while t < end:
        length = float(rng.uniform(10.0, longest_min)) * _MIN
        _sitting(out, rng, t, length)
        t += length
        if not took_lunch and t >= lunch:
            took_lunch = True
            walk = float(rng.uniform(20.0, 40.0)) * _MIN
            if rng.random() < 0.3:  # the sensor left on the desk over lunch
                out.append({"kind": "posture_bout", "start_s": t, "end_s": t + walk, "posture": "nonwear"})
            else:
                out.append({"kind": "posture_bout", "start_s": t, "end_s": t + walk, "posture": "walking"})
            out.append({"kind": "break", "start_s": t, "end_s": t + walk})
            t += walk
            continue
        pause = float(rng.uniform(2.0, 12.0)) * _MIN
        posture = "walking" if rng.random() < 0.4 else "standing"
        out.append({"kind": "posture_bout", "start_s": t, "end_s": t + pause, "posture": posture})
        out.append({"kind": "break", "start_s": t, "end_s": t + pause})
        t += pause
    if rng.random() < 0.5:
        squats = {"kind": "exercise", "exercise": "squat", "start_s": t - 120.0, "end_s": t - 60.0, "reps": 10}
        out.append({**squats, "holds_s": []})
        found = {"kind": "exercise_found", "start_s": t - 300.0, "end_s": t - 240.0, "exercise": "knee_roll"}
        out.append({**found, "confidence": 0.9})
    return out


def office_weeks(end: dt.date, weeks: int, *, seed: int = 1, tz: dt.tzinfo = dt.UTC) -> list[dict[str, Any]]:
    """The events of ``weeks`` weeks of office days ending on ``end`` (see the module)."""
    rng = np.random.default_rng(seed)
    first = end - dt.timedelta(days=7 * weeks - 1)
    out: list[dict[str, Any]] = []
    for k in range(7 * weeks):
        day = first + dt.timedelta(days=k)
        if day.weekday() >= 5 or rng.random() < 0.1:
            continue
        out.extend(office_day(day, k // 7, rng, tz))
    return out


def write(store_url: str, end: dt.date = END, weeks: int = 4, *, seed: int = 1, tz: dt.tzinfo = dt.UTC) -> int:
    """Store the weeks' events for ``DEVICE``; return how many were new."""
    events = office_weeks(end, weeks, seed=seed, tz=tz)
    with Store(store_url) as store:
        last_s = max((e.get("end_s", e.get("t_s", 0.0)) for e in events), default=0.0)
        store.set_device_status(DEVICE, {"t_s": last_s, "online": False, "placement": "thigh", "rate_hz": 50.0})
        return sum(store.add_events(DEVICE, events))


def main(argv: list[str] | None = None) -> int:
    """Write the example weeks into a store (``python -m bench.office_weeks STORE_URL``)."""
    parser = argparse.ArgumentParser(description="Store weeks of simulated office days (events).")
    parser.add_argument("store", help="store URL, e.g. sqlite:///var/example.sqlite")
    parser.add_argument("--end", type=dt.date.fromisoformat, default=END, help=f"last day (default {END})")
    parser.add_argument("--weeks", type=int, default=4, help="how many weeks (default 4)")
    parser.add_argument("--seed", type=int, default=1, help="seed (default 1)")
    args = parser.parse_args(argv)
    n = write(args.store, args.end, args.weeks, seed=args.seed)
    print(f"stored {n} events of {DEVICE} in {args.store}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
