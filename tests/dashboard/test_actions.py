"""User actions reach the analysis worker's topic through a real broker."""

from __future__ import annotations

import json
import queue
import re
from collections.abc import Callable, Iterator

import paho.mqtt.client as paho
import pytest
from streamlit.testing.v1 import AppTest

from ingest.actions import send_action
from ingest.cli import main
from ingest.mqtt import BrokerAddress, connect, make_client
from ingest.topics import Kind, topic
from tests.dashboard.office_morning import DEVICE, at

# How long to wait for a published message to arrive; generous for a loaded machine.
RECEIVE_TIMEOUT_S = 10.0


@pytest.fixture
def action_messages(embedded_broker: BrokerAddress) -> Iterator[queue.Queue[tuple[str, dict[str, object]]]]:
    """A subscriber to every device's action topic; yields the queue of (topic, payload) received."""
    received: queue.Queue[tuple[str, dict[str, object]]] = queue.Queue()
    subscribed = queue.Queue[int]()
    client = make_client("test-action-listener")

    def on_connect(c: paho.Client, *_: object) -> None:
        c.subscribe(f"sitless/v1/+/{Kind.ACTION}", qos=1)

    def on_subscribe(*_: object) -> None:
        subscribed.put(1)

    def on_message(_c: paho.Client, _u: object, msg: paho.MQTTMessage) -> None:
        received.put((msg.topic, json.loads(msg.payload)))

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    connect(client, embedded_broker)
    subscribed.get(timeout=RECEIVE_TIMEOUT_S)
    yield received
    client.disconnect()
    client.loop_stop()


def assert_action(message: tuple[str, dict[str, object]], action: str) -> None:
    """The message is ``action`` for the device, with its own 32-hex id (docs/protocol.md)."""
    got_topic, payload = message
    assert got_topic == topic(DEVICE, Kind.ACTION)
    assert payload["action"] == action
    assert re.fullmatch(r"[0-9a-f]{32}", str(payload["id"]))
    assert set(payload) == {"action", "id"}


def test_send_action_publishes_json_on_the_action_topic(
    embedded_broker: BrokerAddress, action_messages: queue.Queue[tuple[str, dict[str, object]]]
) -> None:
    """send_action('done') arrives as {"action": "done"} on sitless/v1/<device>/action."""
    send_action(embedded_broker, DEVICE, "done")
    assert_action(action_messages.get(timeout=RECEIVE_TIMEOUT_S), "done")


def test_unknown_action_is_refused_before_connecting() -> None:
    """Only the analysis's user actions exist (done, snooze, meeting, meeting_end, calibrate)."""
    with pytest.raises(ValueError, match="unknown action 'dance'"):
        send_action(BrokerAddress("127.0.0.1", 9), DEVICE, "dance")


def test_unreachable_broker_raises_connection_error() -> None:
    """No broker: a ConnectionError that names the broker's address."""
    with pytest.raises(ConnectionError, match=r"mqtt://127\.0\.0\.1:9"):
        send_action(BrokerAddress("127.0.0.1", 9), DEVICE, "snooze", connect_timeout_s=0.5)


@pytest.mark.parametrize(
    "answer",
    [
        ("alert_snooze", "snooze", "Snoozed"),
        ("alert_done", "done", "Logged"),
        ("alert_meeting", "meeting", "In a meeting"),
        ("alert_dismiss", "dismiss", "dismissed"),
    ],
)
def test_each_answer_of_the_prompt_publishes_its_action_and_confirms(
    make_app: Callable[..., AppTest],
    morning_store: Callable[..., str],
    embedded_broker: BrokerAddress,
    action_messages: queue.Queue[tuple[str, dict[str, object]]],
    answer: tuple[str, str, str],
) -> None:
    """Each button of the prompt sends its action for the device and shows a toast; the prompt goes at once."""
    key, action, confirmation = answer
    open_alert = {"t_s": at(10, 33), "alert": "sit_too_long", "sitting_since_s": at(10, 3), "repeat": 0}
    app = make_app(morning_store(at(10, 36), open_alert=open_alert), broker_url=embedded_broker.url)
    app.button(key=key).click().run()
    assert not app.exception
    assert_action(action_messages.get(timeout=RECEIVE_TIMEOUT_S), action)
    assert any(confirmation in t.value for t in app.toast)
    assert "Dismiss" not in {b.label for b in app.button}
    assert action_messages.empty()  # one click, one action


def test_sitless_calibrate_sends_calibrate(
    embedded_broker: BrokerAddress,
    action_messages: queue.Queue[tuple[str, dict[str, object]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`sitless calibrate --device D` sends {"action": "calibrate"} and tells the wearer to stand still."""
    assert main(["calibrate", "--device", DEVICE, "--broker", embedded_broker.url]) == 0
    assert_action(action_messages.get(timeout=RECEIVE_TIMEOUT_S), "calibrate")
    assert "stand upright and still for 5 seconds" in capsys.readouterr().out


def test_sitless_calibrate_without_a_broker_fails_clearly(capsys: pytest.CaptureFixture[str]) -> None:
    """No broker: exit status 1 and one line naming the broker."""
    assert main(["calibrate", "--device", DEVICE, "--broker", "mqtt://127.0.0.1:9"]) == 1
    assert "mqtt://127.0.0.1:9" in capsys.readouterr().err
