"""Store reads for the pages: live status, time per posture, the timeline, bouts and alerts."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa

from analysis.today import DaySoFar
from dashboard import data
from dashboard.data import base
from ingest.errors import StoreError
from ingest.store import Store
from tests.dashboard.office_morning import DEVICE, MORNING_EVENTS, at

pytestmark = pytest.mark.both_stores


def test_a_missing_store_file_means_no_devices(store_url: str) -> None:
    """Before any service has created the store, the dashboard sees no wearable and no status."""
    assert data.devices(store_url) == {}
    assert data.live_status(store_url, DEVICE) is None


def test_devices_and_live_status_come_from_the_store(morning_store: Callable[..., str]) -> None:
    """The wearable's published status and the worker's live status are returned as saved."""
    url = morning_store()
    assert data.device_info(url, DEVICE)["battery_pct"] == 83
    assert data.device_info(url, "other-device") == {}
    status = data.live_status(url, DEVICE)
    assert status is not None
    assert status["posture"] == "sitting"
    assert status["sitting_s"] == pytest.approx(27 * 60)


def test_day_bounds_are_local_midnights() -> None:
    """Today runs from local midnight to the next one."""
    assert data.day_bounds(date(2025, 3, 12)) == (
        datetime(2025, 3, 12).timestamp(),
        (datetime(2025, 3, 12) + timedelta(days=1)).timestamp(),
    )


def test_a_day_no_wearable_reaches_has_no_bounds() -> None:
    """Year 1 and year 9999 are no days a wearable's clock reaches: None, not an error."""
    assert data.day_bounds(date.min) is None
    assert data.day_bounds(date.max) is None
    assert data.day_bounds(date(3000, 1, 1)) is None


def test_posture_today_adds_closed_bouts_and_the_running_one(morning_store: Callable[..., str]) -> None:
    """Standing 10+13 min, walking 5, sitting 35 closed + 27 running; lying, other and not worn zero."""
    minutes = data.posture_today(morning_store(), DEVICE).set_index("posture")["minutes"]
    assert list(minutes.index) == list(data.POSTURES)
    assert minutes.to_dict() == pytest.approx(
        {"sitting": 35 + 27, "standing": 23, "walking": 5, "lying": 0, "other": 0, "nonwear": 0}
    )


def test_a_bout_from_yesterday_is_clipped_at_midnight(morning_store: Callable[..., str], store_url: str) -> None:
    """Lying from 23:00 the evening before until 00:30 counts 30 min today."""
    midnight_s = datetime(2025, 3, 12).timestamp()
    with Store(store_url) as store:
        store.add_events(
            DEVICE,
            [
                {
                    "kind": "posture_bout",
                    "start_s": midnight_s - 3600,
                    "end_s": midnight_s + 1800,
                    "posture": "lying",
                }
            ],
        )
    minutes = data.posture_today(morning_store(), DEVICE).set_index("posture")["minutes"]
    assert minutes["lying"] == pytest.approx(30)


def test_bouts_today_is_a_timeline_ending_with_the_running_bout(morning_store: Callable[..., str]) -> None:
    """Five bouts in time order, local datetimes; only the last one is still running."""
    bouts = data.bouts_today(morning_store(), DEVICE)
    assert list(bouts["posture"]) == ["standing", "walking", "sitting", "standing", "sitting"]
    assert list(bouts["running"]) == [False, False, False, False, True]
    assert bouts["start"].iloc[0].strftime("%H:%M") == "09:00"
    assert bouts["end"].iloc[-1].strftime("%H:%M") == "10:30"
    assert bouts["minutes"].tolist() == pytest.approx([10, 5, 35, 13, 27])


def test_summary_counts_bouts_breaks_and_alerts(morning_store: Callable[..., str]) -> None:
    """Two sitting bouts (one running), one break, one alert; the longest bout is 35 min."""
    summary = data.summary_today(morning_store(), DEVICE)
    assert (summary.sitting_bouts, summary.breaks, summary.alerts) == (2, 1, 1)
    assert summary.sitting_s == pytest.approx(62 * 60)
    assert summary.longest_sitting_s == pytest.approx(35 * 60)


def test_slouch_today_sums_the_bouts_and_the_running_posture(morning_store: Callable[..., str], store_url: str) -> None:
    """A chest sensor: a bout across midnight counts its share, closed bouts and the running one add up."""
    midnight_s = datetime(2025, 3, 12).timestamp()
    with Store(store_url) as store:
        evening = {"kind": "posture_bout", "start_s": midnight_s - 1800, "end_s": midnight_s + 1800}
        store.add_events(DEVICE, [{**evening, "posture": "sitting", "slouch_s": 600.0}])  # 300 s of it today
        store.add_events(
            DEVICE,
            [{"kind": "posture_bout", "start_s": at(8, 0), "end_s": at(8, 30), "posture": "sitting", "slouch_s": 90.0}],
        )
    url = morning_store(placement="chest", posture_slouch_s=45.0)
    assert data.summary_today(url, DEVICE).slouch_s == pytest.approx(300.0 + 90.0 + 45.0)
    assert data.summary_today(morning_store(), DEVICE).slouch_s == pytest.approx(390.0)  # nothing running yet


def test_alerts_today_pairs_each_alert_with_the_response(morning_store: Callable[..., str], store_url: str) -> None:
    """The 09:45 alert was answered "done"; the open 10:33 alert and its ignored repeat are shown as such."""
    with Store(store_url) as store:
        store.add_events(
            DEVICE,
            [
                {"kind": "alert", "t_s": at(10, 33), "alert": "sit_too_long", "sitting_since_s": at(10, 3),
                 "repeat": 0, "stretch_id": "squat"},
                {"kind": "alert", "t_s": at(10, 43), "alert": "sit_too_long", "sitting_since_s": at(10, 3),
                 "repeat": 1, "stretch_id": "knee_hug"},
            ],
        )  # fmt: skip
    open_alert = {"t_s": at(10, 43), "alert": "sit_too_long", "sitting_since_s": at(10, 3), "repeat": 1}
    alerts = data.alerts_today(morning_store(at(10, 44), open_alert=open_alert), DEVICE)
    assert list(alerts["response"]) == ["Done", "No response", "Open"]
    assert list(alerts["stretch_id"]) == ["squat", "squat", "knee_hug"]
    assert alerts["sat_min"].tolist() == pytest.approx([30, 30, 40])
    assert [t.strftime("%H:%M") for t in alerts["time"]] == ["09:45", "10:33", "10:43"]


def test_no_status_yet_gives_empty_frames(store_url: str) -> None:
    """A device that has published its status but was never analysed has no day to show."""
    with Store(store_url) as store:
        store.set_device_status(DEVICE, {"online": True})
    assert data.bouts_today(store_url, DEVICE).empty
    assert data.alerts_today(store_url, DEVICE).empty
    assert data.posture_today(store_url, DEVICE)["seconds"].sum() == 0
    assert data.summary_today(store_url, DEVICE) == DaySoFar()


def test_events_export_gives_every_stored_event_as_json_lines(morning_store: Callable[..., str]) -> None:
    """The export holds each stored event once, oldest first, each a JSON object with its kind."""
    store_url = morning_store()
    lines = data.events_export(store_url, DEVICE).decode().splitlines()
    rows = [json.loads(line) for line in lines]
    assert len(rows) == len(MORNING_EVENTS)
    assert sorted(r["kind"] for r in rows) == sorted(e["kind"] for e in MORNING_EVENTS)
    assert [r["t_s"] for r in rows] == sorted(r["t_s"] for r in rows)
    assert data.events_export(store_url, "nobody") == b""


def test_an_unreachable_store_is_not_tried_again_for_a_few_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Once the server could not be reached, the reads of the next seconds fail at once with its
    error, where each waited out the connect timeout again; after that it is tried again."""
    url = "postgresql://nobody@127.0.0.1:1/sitless"  # nothing listens: refused at once
    now_s = [1000.0]
    monkeypatch.setattr(base, "time", SimpleNamespace(monotonic=lambda: now_s[0]))
    base._unreachable.clear()
    attempts: list[Any] = []

    def note(*args: Any) -> None:
        attempts.append(args)

    sa.event.listen(sa.Engine, "do_connect", note)
    try:
        for wait_s in (0.0, 1.0, base.UNREACHABLE_S - 1.1):
            now_s[0] += wait_s
            with pytest.raises(StoreError, match="cannot reach store"):
                data.devices(url)
            with pytest.raises(StoreError, match="cannot reach store"):
                data.live_status(url, DEVICE)
        assert len(attempts) == 1
        now_s[0] += 0.2
        with pytest.raises(StoreError, match="cannot reach store"):
            data.devices(url)
        assert len(attempts) == 2
    finally:
        sa.event.remove(sa.Engine, "do_connect", note)
        base._unreachable.clear()
