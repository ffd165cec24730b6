"""User actions to the analysis worker: done, snooze, meeting, meeting over, calibrate, exercises; and settings.

An action is a small JSON object (``{"action": "snooze", "id": "5d0c..."}``) published
with QoS 1 on the device's ``action`` topic (:mod:`ingest.topics`). Its ``id``, new
for every action, makes each action one event: two taps in the same second are two
actions, while the same message delivered twice (QoS 1 is at least once) is one. The
worker applies it to the device's alert state, stores an ``action`` event carrying the
id and saves a new live status, which the dashboard then shows. Each call uses its own
short-lived MQTT connection: actions are rare, and a page must not keep a network
thread per browser session.

The dashboard's buttons call :func:`send_action`; ``sitless calibrate`` sends the
calibration action from a terminal. The Settings page calls :func:`send_settings`: the
wearer's settings, retained on the broker so that a worker started later has them too;
and, when it deletes a wearable, :func:`delete_device`, so that the broker forgets the
wearable's retained status and settings (:func:`clear_retained`) as the store forgets the
rest; ``sitless delete`` deletes through it too.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import uuid

from analysis import UserAction
from ingest.errors import PayloadError, TopicError
from ingest.mqtt import DEFAULT_BROKER_URL, BrokerAddress, connect, make_client
from ingest.payloads import Action, WearerSettings
from ingest.store import Store
from ingest.topics import RETAINED_KINDS, Kind, topic

__all__ = ["ACTIONS", "clear_retained", "delete_device", "register", "run", "send_action", "send_settings"]

log = logging.getLogger(__name__)

ACTIONS = frozenset(str(action) for action in UserAction)
#: How long the wearer stands still for a calibration (the analysis takes the upright from it).
CALIBRATION_S = 5
CONNECT_TIMEOUT_S = 3.0
PUBLISH_TIMEOUT_S = 5.0


def send_action(
    broker: BrokerAddress,
    device_id: str,
    action: str,
    *,
    exercise: str | None = None,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
    publish_timeout_s: float = PUBLISH_TIMEOUT_S,
) -> str:
    """Publish one user action for a device and wait until the broker has it.

    Args:
        broker: Where the MQTT broker listens.
        device_id: The wearable the action is for.
        action: One of :data:`ACTIONS`: ``done`` (the break was taken), ``dismiss``
            (the reminder is put away without a break), ``snooze`` (ask again in 10
            minutes), ``meeting`` (no alerts during a meeting), ``meeting_end``,
            ``calibrate`` (the wearer now stands still for :data:`CALIBRATION_S`
            seconds), ``exercise_start`` (with ``exercise``), ``exercise_end``.
        exercise: The programme exercise id (or ``any``) of ``exercise_start``.
        connect_timeout_s: How long to wait for the broker to accept the connection, s.
        publish_timeout_s: How long to wait for the broker to acknowledge the message, s.

    Returns:
        The action's id (32 hex digits), which the worker's ``action`` event for it carries.

    Raises:
        ValueError: The action is not one of :data:`ACTIONS`, or ``exercise`` is missing
            from ``exercise_start`` or given to another action.
        TopicError: The device id is not valid in a topic.
        ConnectionError: The broker is unreachable or did not acknowledge the message
            in time; the message says which broker.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}: use one of {', '.join(sorted(ACTIONS))}")
    action_id = uuid.uuid4().hex
    try:
        request = Action(UserAction(action), action_id, exercise)
    except PayloadError as err:
        raise ValueError(str(err)) from None
    _publish_once(
        broker,
        [(topic(device_id, Kind.ACTION), request.to_json())],
        f"sitless-action-{action_id[:12]}",
        what=repr(action),
        retain=False,
        connect_timeout_s=connect_timeout_s,
        publish_timeout_s=publish_timeout_s,
    )
    log.info("sent %s (id %s) for %s", action, action_id, device_id)
    return action_id


def send_settings(
    broker: BrokerAddress,
    device_id: str,
    settings: WearerSettings,
    *,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
    publish_timeout_s: float = PUBLISH_TIMEOUT_S,
) -> None:
    """Publish the wearer's settings, retained, and wait until the broker has them.

    The worker stores them and follows them from the next sample on (docs/protocol.md,
    ``settings``); being retained, they reach a worker that starts later too.

    Raises:
        TopicError: The device id is not valid in a topic.
        ConnectionError: The broker is unreachable or did not acknowledge the message in time.
    """
    _publish_once(
        broker,
        [(topic(device_id, Kind.SETTINGS), settings.to_json())],
        f"sitless-settings-{uuid.uuid4().hex[:12]}",
        what="the settings",
        retain=True,
        connect_timeout_s=connect_timeout_s,
        publish_timeout_s=publish_timeout_s,
    )
    log.info("sent settings for %s: %s", device_id, settings.to_json())


def clear_retained(
    broker: BrokerAddress,
    device_id: str,
    *,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
    publish_timeout_s: float = PUBLISH_TIMEOUT_S,
) -> None:
    """Make the broker forget a device's retained messages (:data:`ingest.topics.RETAINED_KINDS`).

    An empty retained message on a topic removes the one the broker kept (MQTT 3.1.1,
    section 3.3.1.3, [MQTT-3.3.1-10] and [MQTT-3.3.1-11]); subscribers hear the empty
    message, which the recorder and the worker pass over. On the embedded broker this
    takes the ``dashboard`` login (:mod:`ingest.broker_setup`).

    Raises:
        TopicError: The device id is not valid in a topic.
        ConnectionError: The broker is unreachable, refused, or did not acknowledge in time.
    """
    _publish_once(
        broker,
        [(topic(device_id, kind), b"") for kind in RETAINED_KINDS],
        f"sitless-clear-{uuid.uuid4().hex[:12]}",
        what=f"the clearing of {device_id}'s retained messages",
        retain=True,
        connect_timeout_s=connect_timeout_s,
        publish_timeout_s=publish_timeout_s,
    )
    log.info("cleared the retained messages of %s", device_id)


def delete_device(store_url: str, device_id: str, broker: BrokerAddress | None) -> int:
    """Delete everything of one device: its retained messages on the broker, then its rows in the store.

    The broker comes first: a service subscribing after the store's rows went would
    otherwise be handed the retained status and settings and store them again. With
    ``broker`` None the broker's retained messages are left (``sitless delete
    --no-broker``, the dashboard's *From the store alone*). ``sitless delete`` and the
    dashboard's Settings page both delete through here.

    Returns:
        The store's rows deleted.

    Raises:
        TopicError, ConnectionError: The broker's retained messages could not be cleared;
            nothing is deleted.
        StoreError: The store's rows could not be deleted; the broker's retained
            messages are cleared by then (unless ``broker`` is None).
    """
    if broker is not None:
        clear_retained(broker, device_id)
    with Store(store_url) as store:
        return store.delete_device(device_id)


def _publish_once(
    broker: BrokerAddress,
    messages: list[tuple[str, str | bytes]],
    client_id: str,
    *,
    what: str,
    retain: bool,
    connect_timeout_s: float,
    publish_timeout_s: float,
) -> None:
    """Publish QoS 1 messages on a short-lived connection and wait for the broker's acknowledgement of each."""
    client = make_client(client_id)
    connect(client, broker, timeout_s=connect_timeout_s, fail_if_refused=True)
    try:
        infos = [client.publish(to_topic, payload, qos=1, retain=retain) for to_topic, payload in messages]
        deadline = time.monotonic() + publish_timeout_s
        for info in infos:
            try:
                info.wait_for_publish(timeout=max(0.0, deadline - time.monotonic()))
            except (RuntimeError, ValueError) as err:  # paho: message not queued / queue full
                raise ConnectionError(f"could not send {what} to the MQTT broker at {broker.url}: {err}") from err
            if not info.is_published():
                raise ConnectionError(
                    f"the MQTT broker at {broker.url} did not confirm {what} within {publish_timeout_s:.0f} s"
                )
    finally:
        client.disconnect()
        client.loop_stop()


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``calibrate`` subcommand."""
    p = sub.add_parser(
        "calibrate",
        help="calibrate a worn sensor: stand still and upright for 5 s",
        description="Tell the analysis worker that the wearer stands still and upright now, so that it "
        "takes the sensor's upright direction from the next few seconds.",
    )
    p.add_argument("--device", required=True, help="the wearable's device id")
    p.add_argument("--broker", default=DEFAULT_BROKER_URL, help=f"MQTT broker URL (default {DEFAULT_BROKER_URL})")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Send the calibration action and tell the wearer what to do."""
    try:
        send_action(BrokerAddress.parse(args.broker), args.device, str(UserAction.CALIBRATE))
    except (ConnectionError, TopicError, ValueError) as err:
        print(f"sitless calibrate: {err}", file=sys.stderr)
        return 1
    print(f"Calibrating {args.device}: stand upright and still for {CALIBRATION_S} seconds.")
    return 0
