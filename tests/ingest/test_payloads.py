"""The typed JSON payloads of the status, action, cmd and event topics: built, parsed, refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import AlertPolicy, Placement, SlouchPolicy, UserAction
from analysis.settings import WEEKDAYS
from ingest.errors import PayloadError
from ingest.payloads import MAX_ID_LEN, Action, Command, DeviceStatus, WearerSettings, parse_event
from ingest.wearer_payloads import SETTINGS_FIELDS


def test_a_full_status_round_trips() -> None:
    status = DeviceStatus(True, 87, 50.0, Placement.THIGH, "1.2.0", 1_700_000_000.5)
    assert json.loads(status.to_json()) == {
        "online": True,
        "battery_pct": 87,
        "rate_hz": 50,
        "placement": "thigh",
        "firmware": "1.2.0",
        "t_s": 1_700_000_000.5,
    }
    assert DeviceStatus.parse(status.to_json().encode()) == status


def test_the_last_will_and_unknown_fields() -> None:
    """The will is only ``online``; fields a newer sender adds are ignored, not refused."""
    assert DeviceStatus(online=False).to_json() == '{"online": false}'
    assert DeviceStatus.parse(b'{"placement": "wrist", "link": "ok"}') == DeviceStatus(placement=Placement.WRIST)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b'{"online": "yes"}', "online"),
        (b'{"battery_pct": -1}', "battery_pct"),
        (b'{"battery_pct": true}', "battery_pct"),
        (b'{"rate_hz": 0}', "rate_hz"),
        (b'{"rate_hz": NaN}', "rate_hz"),
        (b'{"t_s": Infinity}', "t_s"),
        (b'{"placement": "knee"}', "placement"),
        (b'{"placement": ["thigh"]}', "placement"),
        (b'{"firmware": ""}', "firmware"),
        (b"[1]", "object"),
    ],
)
def test_a_bad_status_is_refused_with_its_field(payload: bytes, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        DeviceStatus.parse(payload)


def test_actions_round_trip_and_say_what_is_wrong() -> None:
    start = Action(UserAction.EXERCISE_START, "0b6f", "squat")
    assert json.loads(start.to_json()) == {"action": "exercise_start", "exercise": "squat", "id": "0b6f"}
    assert Action.parse(start.to_json().encode()) == start
    assert Action.parse(b'{"action": "done"}') == Action(UserAction.DONE)
    for payload, message in [
        (b'{"action": "dance"}', "unknown action"),
        (b'{"action": {"x": 1}}', "unknown action"),
        (b'{"action": "done", "id": 7}', "id"),
        (b'{"action": "done", "id": "' + b"x" * (MAX_ID_LEN + 1) + b'"}', "id"),
        (b'{"action": "done", "exercise": "squat"}', "exercise"),
        (b'{"action": "exercise_start", "exercise": ""}', "exercise"),
    ]:
        with pytest.raises(PayloadError, match=message):
            Action.parse(payload)


def test_commands_round_trip() -> None:
    buzz = Command("buzz", pattern="long", reason="sit_too_long", stretch_id="knee_hug")
    assert Command.parse(buzz.to_json().encode()) == buzz
    assert Command.parse(b'{"cmd": "rate", "rate_hz": 25}') == Command("rate", rate_hz=25.0)
    assert Command.parse(b'{"cmd": "reboot"}') == Command("reboot")  # unknown to a device: it ignores it
    for payload in (b'{"pattern": "long"}', b'{"cmd": 1}', b'{"cmd": "rate"}', b'{"cmd": "rate", "rate_hz": -5}'):
        with pytest.raises(PayloadError):
            Command.parse(payload)


def test_events_need_a_kind() -> None:
    assert parse_event(b'{"kind": "alert", "t_s": 3.0}') == {"kind": "alert", "t_s": 3.0}
    with pytest.raises(PayloadError, match="kind"):
        parse_event(b'{"t_s": 3.0}')


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=80),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
fields = st.sampled_from(
    ["online", "battery_pct", "rate_hz", "placement", "firmware", "t_s", "action", "id", "exercise", "cmd",
     "pattern", "reason", "stretch_id", "kind", "max_sitting_min", "weekly_hours", "quiet_hours",
     "slouch_nudge", "slouch_deg"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(fields | st.text(max_size=8), json_values | st.sampled_from(["thigh", "done", "buzz"])))
def test_any_json_object_parses_or_raises_payload_error(body: dict[str, Any]) -> None:
    """Whatever a hostile client sends, parsing gives a valid value or a PayloadError, nothing else."""
    payload = json.dumps(body).encode()
    for parse in (DeviceStatus.parse, Action.parse, Command.parse, WearerSettings.parse, parse_event):
        try:
            value = parse(payload)
        except PayloadError:
            continue
        if not isinstance(value, dict):
            assert type(value).parse(value.to_json().encode()) == value


def test_settings_round_trip_and_become_the_policy() -> None:
    """The wearer's settings read back the same and replace the worker's limit, hours and slouch nudge."""
    weekly = {d: [9, 17.5] for d in ("monday", "tuesday", "wednesday", "thursday", "friday")}
    body = {
        "max_sitting_min": 45,
        "weekly_hours": {**weekly, "saturday": None, "sunday": [22, 2]},
        "quiet_hours": [[12, 13]],
        "slouch_nudge": True,
        "slouch_deg": 25,
        "placement": "waist",
    }
    chosen = WearerSettings.parse(json.dumps(body).encode())
    assert chosen.to_dict() == body
    assert WearerSettings.from_dict(chosen.to_dict()) == chosen
    policy = chosen.policy(AlertPolicy(working_hours=(8.0, 18.0), min_break_s=30.0))
    assert policy.max_sitting_s == 2700.0
    assert policy.weekly_hours is not None
    assert policy.weekly_hours[5] is None
    assert policy.weekly_hours[6] == (22.0, 2.0)
    assert policy.working_hours is None  # the wearer's week replaces the worker's daily hours
    assert policy.quiet_hours == ((12.0, 13.0),)
    assert policy.min_break_s == 30.0  # the analysis knobs stay the worker's
    assert chosen.slouch(SlouchPolicy()) == SlouchPolicy(slouch_deg=25.0, nudge=True)
    assert WearerSettings.parse(b"{}") == WearerSettings()
    assert set(WearerSettings().to_dict()) == SETTINGS_FIELDS


@pytest.mark.parametrize("body", [{"action": "meeting"}, {"max_sitting": 45}, {"vibration": 3}])
def test_an_object_with_no_setting_among_its_fields_is_refused_not_read_as_every_default(body: dict[str, Any]) -> None:
    """An action sent to the settings topic by mistake, a misspelt field, or a newer
    sender's new field alone would otherwise undo every setting the wearer chose."""
    with pytest.raises(PayloadError, match="no setting among its fields"):
        WearerSettings.parse(json.dumps(body).encode())
    assert WearerSettings.parse(json.dumps({**body, "slouch_deg": 25}).encode()).slouch_deg == 25.0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"max_sitting_min": 2}, "max_sitting_min"),
        ({"max_sitting_min": True}, "max_sitting_min"),
        ({"slouch_deg": 90}, "slouch_deg"),
        ({"slouch_nudge": "yes"}, "slouch_nudge"),
        ({"placement": "ankle"}, "placement"),
        ({"quiet_hours": [[12, 12]]}, "quiet_hours"),
        ({"quiet_hours": [[12, 13, 14]]}, "quiet_hours"),
        ({"quiet_hours": [[1, 2]] * 5}, "quiet spans"),
        ({"quiet_hours": {"a": 1}}, "quiet_hours"),
        ({"weekly_hours": {"monday": [9, 17]}}, "all 7 days"),
        ({"weekly_hours": [[9, 17]] * 7}, "all 7 days"),
        ({"weekly_hours": {d: [9, 25] for d in WEEKDAYS}}, "weekly_hours.monday"),
    ],
)
def test_bad_settings_are_refused_with_their_field(body: dict[str, Any], message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        WearerSettings.parse(json.dumps(body).encode())
