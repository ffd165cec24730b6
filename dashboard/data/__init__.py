"""What the dashboard shows, read from the store: wearables, live status, days, the plan's weeks and guided sets.

Every function takes the store URL (and a device id) and returns plain values or
DataFrames, cached for a second or two so that the pages and their live fragments
can ask again and again without hitting the database each time. Pages hold no SQL
and no arithmetic over events: it is all here, on top of :class:`ingest.store.Store`.

Times in the store are Unix epoch seconds of *device* time. A simulated wearable may
play its day faster than the wall clock, so "now" for a device is the time of its
latest analysed sample (``status["t_s"]``), never the server's clock, and "today" is
the local calendar day of that time.

One module per group of reads, each re-exported here:

- :mod:`dashboard.data.base`: what they share (the store opened read-only, cache
  times, local days, stored events parsed);
- :mod:`dashboard.data.fields`: a field of a stored status read as a number or a text,
  or as absent when it holds another type;
- :mod:`dashboard.data.wearer`: the wearables, their settings, and their data to
  export or delete;
- :mod:`dashboard.data.live`: the worker's live status, its open alert, the latest day;
- :mod:`dashboard.data.today`: today's postures, bouts, totals and alerts;
- :mod:`dashboard.data.progress`: the weeks of the plan and their tables;
- :mod:`dashboard.data.day`: one calendar day, for the Day page;
- :mod:`dashboard.data.session`: today's plan and the sets of a guided session.
"""

from dashboard.data.base import day_bounds
from dashboard.data.day import DayView, day_view
from dashboard.data.fields import number, number_pair, text
from dashboard.data.live import latest_day, live_status, open_alert
from dashboard.data.progress import (
    ANSWER_LABELS,
    adherence_calendar,
    exercise_table,
    plan_progress,
    plan_weeks,
    progress_summary,
    reminder_answers,
    report_html,
    weekly_activity,
)
from dashboard.data.session import SessionItem, guided_set, guided_start, session_plan
from dashboard.data.today import POSTURES, alerts_today, bouts_today, posture_today, summary_today
from dashboard.data.wearer import (
    EXPORT_MAX_SAMPLES,
    delete_wearer,
    device_info,
    devices,
    events_export,
    full_export,
    status_policy,
    stored_size,
    wearer_settings,
)

__all__ = [
    "ANSWER_LABELS",
    "EXPORT_MAX_SAMPLES",
    "POSTURES",
    "DayView",
    "SessionItem",
    "adherence_calendar",
    "alerts_today",
    "bouts_today",
    "day_bounds",
    "day_view",
    "delete_wearer",
    "device_info",
    "devices",
    "events_export",
    "exercise_table",
    "full_export",
    "guided_set",
    "guided_start",
    "latest_day",
    "live_status",
    "number",
    "number_pair",
    "open_alert",
    "plan_progress",
    "plan_weeks",
    "posture_today",
    "progress_summary",
    "reminder_answers",
    "report_html",
    "session_plan",
    "status_policy",
    "stored_size",
    "summary_today",
    "text",
    "wearer_settings",
    "weekly_activity",
]
