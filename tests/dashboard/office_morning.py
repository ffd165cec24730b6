"""One office morning at the desk, as the analysis worker and the wearable store it.

Local times on a fixed day::

    09:00 standing  09:10 walking  09:15 sitting (alert 09:45, answered "done")
    09:50 standing (a 13 min break)  10:03 sitting, still running at "now"

Kept out of ``conftest.py`` under a name of its own so that tests can import it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "dashboard" / "app.py"
DEVICE = "desk-07"
# AppTest's default of 3 s is too short for the first run, which imports pandas and altair.
APP_TIMEOUT_S = 60.0


def at(hour: int, minute: int, second: int = 0) -> float:
    """Epoch seconds of a local clock time on the test day."""
    return datetime(2025, 3, 12, hour, minute, second).timestamp()


def live_status(now_s: float, **changes: Any) -> dict[str, Any]:
    """A worker status for the running sitting bout that began at 10:03."""
    status: dict[str, Any] = {
        "t_s": now_s,
        "posture": "sitting",
        "posture_since_s": at(10, 3),
        "sitting_since_s": at(10, 3),
        "sitting_s": now_s - at(10, 3),
        "open_alert": None,
        "snoozed_until_s": None,
        "meeting_until_s": None,
        "reference_ready": True,
        "max_sitting_s": 1800.0,
        "placement": "thigh",
    }
    status.update(changes)
    return status


MORNING_EVENTS: list[dict[str, Any]] = [
    {"kind": "posture_bout", "start_s": at(9, 0), "end_s": at(9, 10), "posture": "standing"},
    {"kind": "posture_bout", "start_s": at(9, 10), "end_s": at(9, 15), "posture": "walking"},
    {"kind": "sitting_started", "t_s": at(9, 15)},
    {"kind": "posture_bout", "start_s": at(9, 15), "end_s": at(9, 50), "posture": "sitting"},
    {
        "kind": "alert",
        "t_s": at(9, 45),
        "alert": "sit_too_long",
        "sitting_since_s": at(9, 15),
        "repeat": 0,
        "stretch_id": "squat",
    },
    {"kind": "action", "t_s": at(9, 46), "action": "done", "until_s": None},
    {"kind": "sitting_bout", "start_s": at(9, 15), "end_s": at(9, 50)},
    {"kind": "posture_bout", "start_s": at(9, 50), "end_s": at(10, 3), "posture": "standing"},
    {"kind": "break", "start_s": at(9, 50), "end_s": at(10, 3)},
    {"kind": "sitting_started", "t_s": at(10, 3)},
]

SENSOR_STATUS: dict[str, Any] = {
    "online": True,
    "battery_pct": 83,
    "rate_hz": 50.0,
    "placement": "thigh",
    "firmware": "sim-1",
}
