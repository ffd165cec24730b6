"""User actions from the dashboard to the analysis worker: done, snooze, meeting, meeting over.

An action is a small JSON object (``{"action": "snooze"}``) published with QoS 1 on the
device's ``action`` topic (:mod:`ingest.topics`). The worker applies it to the device's
alert state, stores an ``action`` event and saves a new live status, which the
dashboard then shows. Each call uses its own short-lived MQTT connection: actions are
rare, and a page must not keep a network thread per browser session.
"""

from __future__ import annotations

import json
import logging
import uuid

from ingest.mqtt import BrokerAddress, connect, make_client
from ingest.topics import Kind, topic

__all__ = ["ACTIONS", "send_action"]

log = logging.getLogger(__name__)

ACTIONS = frozenset({"done", "snooze", "meeting", "meeting_end"})
CONNECT_TIMEOUT_S = 3.0
PUBLISH_TIMEOUT_S = 5.0


def send_action(
    broker: BrokerAddress,
    device_id: str,
    action: str,
    *,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
    publish_timeout_s: float = PUBLISH_TIMEOUT_S,
) -> None:
    """Publish one user action for a device and wait until the broker has it.

    Args:
        broker: Where the MQTT broker listens.
        device_id: The wearable the action is for.
        action: One of :data:`ACTIONS`: ``done`` (the break was taken), ``snooze``
            (ask again in 10 minutes), ``meeting`` (no alerts during a meeting),
            ``meeting_end``.
        connect_timeout_s: How long to wait for the broker to accept the connection, s.
        publish_timeout_s: How long to wait for the broker to acknowledge the message, s.

    Raises:
        ValueError: The action is not one of :data:`ACTIONS`.
        TopicError: The device id is not valid in a topic.
        ConnectionError: The broker is unreachable or did not acknowledge the message
            in time; the message says which broker.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}: use one of {', '.join(sorted(ACTIONS))}")
    action_topic = topic(device_id, Kind.ACTION)
    client = make_client(f"sitless-dashboard-{uuid.uuid4().hex[:12]}")
    connect(client, broker, timeout_s=connect_timeout_s)
    try:
        info = client.publish(action_topic, json.dumps({"action": action}), qos=1)
        try:
            info.wait_for_publish(timeout=publish_timeout_s)
        except (RuntimeError, ValueError) as err:  # paho: message not queued / queue full
            raise ConnectionError(f"could not send {action!r} to the MQTT broker at {broker.url}: {err}") from err
        if not info.is_published():
            raise ConnectionError(
                f"the MQTT broker at {broker.url} did not confirm {action!r} within {publish_timeout_s:.0f} s"
            )
        log.info("sent %s for %s on %s", action, device_id, action_topic)
    finally:
        client.disconnect()
        client.loop_stop()
