"""MQTT topic names and device id validation."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest import topics
from ingest.errors import TopicError
from ingest.topics import PREFIX, Kind, parse, subscription, topic, validate_device_id

# Derandomised and without the example database, so every run tries the same inputs.
PROPERTY = settings(max_examples=200, deadline=None, derandomize=True, database=None)

device_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}", fullmatch=True)


def test_module_doctests_pass() -> None:
    """The worked examples in ingest.topics docstrings hold."""
    result = doctest.testmod(topics, raise_on_error=False, verbose=False)
    assert result.attempted >= 4
    assert result.failed == 0


def test_kinds_are_the_documented_six() -> None:
    """The kinds are exactly those docs/protocol.md describes, each with its own section."""
    assert {kind.value for kind in Kind} == {"imu", "status", "event", "cmd", "action", "settings"}
    protocol = (Path(__file__).parents[2] / "docs" / "protocol.md").read_text(encoding="utf-8")
    for kind in Kind:
        assert f"## `{kind.value}`" in protocol


@pytest.mark.parametrize(
    "device_id",
    ["desk-07", "a", "7", "A" * 64, "dev_1.2:3", "ESP32-C3_a1b2c3", "aa:bb:cc:dd:ee:ff", "0abc"],
)
def test_valid_device_id_is_returned(device_id: str) -> None:
    """Letters, digits and _ . : - up to 64 characters make a valid id."""
    assert validate_device_id(device_id) == device_id


@pytest.mark.parametrize(
    "device_id",
    [
        "",
        "A" * 65,
        "+",
        "#",
        "desk+07",
        "desk#",
        "desk/07",
        "/desk",
        "$SYS",
        "desk$",
        "desk 07",
        " desk",
        "desk\t07",
        "-desk",
        ".desk",
        "_desk",
        ":desk",
        "désk",
        "desk\x00",
    ],
)
def test_invalid_device_id_is_rejected(device_id: str) -> None:
    """Wildcards, slashes, $, spaces, empty, too long or a leading symbol raise TopicError naming the id."""
    with pytest.raises(TopicError) as err:
        validate_device_id(device_id)
    assert repr(device_id) in str(err.value)


def test_trailing_newline_is_not_a_valid_device_id() -> None:
    """An id with a trailing newline is rejected, like any other control character."""
    with pytest.raises(TopicError):
        validate_device_id("desk-07\n")


@PROPERTY
@given(device_ids, st.sampled_from(list(Kind)))
def test_parse_inverts_topic(device_id: str, kind: Kind) -> None:
    """parse(topic(d, k)) == (d, k) for every valid id and kind."""
    name = topic(device_id, kind)
    assert name == f"{PREFIX}/{device_id}/{kind.value}"
    assert parse(name) == (device_id, kind)


@PROPERTY
@given(device_ids, st.sampled_from(["+", "#", "/", "$", " "]), st.integers(0, 64))
def test_id_with_a_reserved_character_is_rejected(device_id: str, bad: str, at: int) -> None:
    """Inserting a wildcard, slash, $ or space anywhere makes an id invalid."""
    with pytest.raises(TopicError):
        validate_device_id(device_id[:at] + bad + device_id[at:])


def test_topic_rejects_invalid_device_id() -> None:
    """topic() validates the id instead of building a wildcard or multi-level topic."""
    with pytest.raises(TopicError, match="desk/07"):
        topic("desk/07", Kind.IMU)
    with pytest.raises(TopicError):
        topic("+", Kind.IMU)


def test_subscription_for_all_devices_uses_single_level_wildcard() -> None:
    """Without a device id the filter matches every device of one kind."""
    assert subscription(Kind.IMU) == "sitless/v1/+/imu"
    assert subscription(Kind.STATUS) == "sitless/v1/+/status"


def test_subscription_for_one_device() -> None:
    """With a device id the filter is the concrete topic."""
    assert subscription(Kind.CMD, "desk-07") == topic("desk-07", Kind.CMD) == "sitless/v1/desk-07/cmd"


def test_shared_subscription_string() -> None:
    """A share group yields an MQTT 5 shared subscription over the same filter."""
    assert subscription(Kind.IMU, share_group="workers") == "$share/workers/sitless/v1/+/imu"
    assert subscription(Kind.EVENT, "desk-07", share_group="g1") == "$share/g1/sitless/v1/desk-07/event"


@pytest.mark.parametrize("device_id", ["#", "desk/07", "", "a b"])
def test_subscription_rejects_invalid_device_id(device_id: str) -> None:
    """Only '+' or a valid id may fill the device level of a filter."""
    with pytest.raises(TopicError):
        subscription(Kind.IMU, device_id)


@pytest.mark.parametrize(
    "topic_name",
    [
        "",
        "sitless",
        "sitless/v1/desk-07",
        "sitless/v1/desk-07/imu/extra",
        "sitless/v2/desk-07/imu",
        "other/v1/desk-07/imu",
        "/sitless/v1/desk-07/imu",
        "Sitless/v1/desk-07/imu",
    ],
)
def test_parse_rejects_wrong_prefix_or_shape(topic_name: str) -> None:
    """A topic outside sitless/v1/<device>/<kind> raises TopicError naming it."""
    with pytest.raises(TopicError) as err:
        parse(topic_name)
    assert repr(topic_name) in str(err.value)


@pytest.mark.parametrize("kind", ["foo", "IMU", "", "imu ", "events"])
def test_parse_rejects_unknown_kind(kind: str) -> None:
    """An unknown last level raises TopicError naming the kind."""
    with pytest.raises(TopicError) as err:
        parse(f"sitless/v1/desk-07/{kind}")
    assert repr(kind) in str(err.value)


@pytest.mark.parametrize("device_id", ["", "+", "$SYS", "a b", "A" * 65])
def test_parse_rejects_invalid_device_id(device_id: str) -> None:
    """A concrete topic whose device level is not a valid id raises TopicError."""
    with pytest.raises(TopicError):
        parse(f"sitless/v1/{device_id}/imu")
