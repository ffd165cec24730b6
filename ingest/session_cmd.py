"""``sitless session``: follow one guided exercise live, from a terminal.

It subscribes to the wearable's ``event`` topic, sends the ``exercise_start`` action
(docs/protocol.md), and prints what the analysis worker reports as it happens: each
repetition as it completes, each hold as it starts and ends (broken early, bounced),
and the sets. It stops once the dose's repetitions are done (or ``--reps``), after
``--for`` seconds, or on Ctrl-C, and then sends ``exercise_end`` and waits for the
worker to close the set, so the summary holds the last repetitions too.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

import paho.mqtt.client as paho

from analysis import UserAction, exercise_by_id
from analysis.programme import RED_FLAGS_TEXT
from ingest.actions import send_action
from ingest.errors import PayloadError, TopicError
from ingest.mqtt import DEFAULT_BROKER_URL, BrokerAddress, connect, make_client
from ingest.payloads import parse_event
from ingest.topics import Kind, topic, validate_device_id

__all__ = ["SessionResult", "follow_exercise", "register", "run"]

#: How long to wait for the worker to confirm the start and the end of the exercise, s.
CONFIRM_TIMEOUT_S = 15.0


@dataclass(slots=True)
class SessionResult:
    """What the worker reported during one guided exercise.

    Attributes:
        exercise: The exercise id.
        reps: Repetitions counted (the ``rep`` events).
        holds_s: Each hold's length, s.
        broken: Holds broken early.
        bounced: Holds with bounces.
        sets: The ``exercise`` (set) events, as published.
        events: Every event received while following, in order.
    """

    exercise: str
    reps: int = 0
    holds_s: list[float] = field(default_factory=list)
    broken: int = 0
    bounced: int = 0
    sets: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


def _target(exercise: str) -> int | None:
    """The repetitions (or holds) of the exercise's programme dose, both sides; ``None`` for ``any``."""
    if exercise == "any":
        return None
    dose = exercise_by_id(exercise).dose
    count = dose.reps if dose.reps is not None else (1 if dose.hold_s is not None else None)
    return None if count is None else count * dose.sides


def _line(event: dict[str, Any]) -> str | None:
    """What to print for one event, or ``None`` for events of no interest here."""
    kind = event.get("kind")
    side = f" ({event['side']})" if event.get("side") else ""
    if kind == "rep":
        return f"  rep {event.get('rep')}{side}"
    if kind == "hold_started":
        return f"  holding{side}... aim for {float(event.get('target_s') or 0):.0f} s"
    if kind == "hold":
        length = float(event.get("end_s", 0)) - float(event.get("start_s", 0))
        notes = [w for w, on in (("broken early", event.get("broken")), ("bounced", event.get("bounces"))) if on]
        return f"  held {length:.1f} s{side}" + (f": {', '.join(notes)}" if notes else "")
    if kind == "exercise":
        return f"  set done: {event.get('reps')} reps"
    return None


def follow_exercise(
    broker: BrokerAddress,
    device_id: str,
    exercise: str,
    *,
    reps: int | None = None,
    max_s: float | None = None,
    out: TextIO = sys.stdout,
    stopped: Callable[[], bool] = lambda: False,
    confirm_timeout_s: float = CONFIRM_TIMEOUT_S,
) -> SessionResult:
    """Start a guided exercise on the worker, print its events live, end it, and return what it counted.

    Args:
        broker: Where the MQTT broker listens.
        device_id: The wearable.
        exercise: A programme exercise id, or ``any``.
        reps: Stop after this many repetitions (holds, for a hold-only exercise);
            default the programme dose (``any``: no limit).
        max_s: Stop after this many seconds; ``None``: no limit.
        out: Where to print.
        stopped: Polled while waiting; True stops following (Ctrl-C does too).
        confirm_timeout_s: How long to wait for the worker to confirm the start and the end.

    Returns:
        The repetitions, holds and sets the worker reported.

    Raises:
        ValueError: Unknown exercise, or a bad device id.
        ConnectionError: The broker is unreachable, or the worker did not confirm the
            start (not running, or the exercise cannot be followed from the sensor's
            placement) or the end in time.
    """
    validate_device_id(device_id)
    target = reps if reps is not None else _target(exercise)
    inbox: queue.Queue[dict[str, Any]] = queue.Queue()
    client = make_client(f"sitless-session-{time.monotonic_ns() % 10**12}")
    subscribed = threading.Event()

    def on_message(c: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        with contextlib.suppress(PayloadError):  # not an event of ours
            inbox.put(parse_event(bytes(msg.payload)))

    def on_subscribe(c: paho.Client, userdata: object, mid: int, reasons: object, props: object) -> None:
        subscribed.set()

    client.on_message = on_message
    client.on_subscribe = on_subscribe
    connect(client, broker, fail_if_refused=True)
    result = SessionResult(exercise)
    try:
        client.subscribe(topic(device_id, Kind.EVENT), qos=1)
        if not subscribed.wait(timeout=confirm_timeout_s):
            raise ConnectionError(f"the MQTT broker at {broker.url} did not confirm the subscription")
        send_action(broker, device_id, str(UserAction.EXERCISE_START), exercise=exercise)
        if _wait_for(inbox, "exercise_started", exercise, confirm_timeout_s, result=result) is None:
            raise ConnectionError(
                f"the worker did not start {exercise} for {device_id} within {confirm_timeout_s:.0f} s: "
                "is it running, and can a sensor at this placement follow that exercise?"
            )
        goal = f"{target} reps" if target is not None else "until stopped"
        print(f"{exercise}: started ({goal}); the counts follow as you move.", file=out, flush=True)
        start = time.monotonic()
        try:
            while not stopped() and (max_s is None or time.monotonic() - start < max_s):
                if target is not None and max(result.reps, len(result.holds_s)) >= target:
                    break
                try:
                    _take(inbox.get(timeout=0.2), result, out)
                except queue.Empty:
                    continue
        except KeyboardInterrupt:
            pass
        send_action(broker, device_id, str(UserAction.EXERCISE_END))
        if _wait_for(inbox, "exercise_ended", exercise, confirm_timeout_s, result=result, out=out) is None:
            raise ConnectionError(f"the worker did not end {exercise} for {device_id} within {confirm_timeout_s:.0f} s")
    finally:
        client.disconnect()
        client.loop_stop()
    holds = f", holds {len(result.holds_s)} ({result.broken} broken early, {result.bounced} bounced)"
    print(f"{exercise}: {result.reps} reps" + (holds if result.holds_s else ""), file=out, flush=True)
    return result


def _take(event: dict[str, Any], result: SessionResult, out: TextIO) -> None:
    """Count one event and print its line."""
    result.events.append(event)
    kind = event.get("kind")
    if kind == "rep":
        result.reps += 1
    elif kind == "hold":
        result.holds_s.append(float(event.get("end_s", 0)) - float(event.get("start_s", 0)))
        result.broken += bool(event.get("broken"))
        result.bounced += bool(event.get("bounces"))
    elif kind == "exercise":
        result.sets.append(event)
    line = _line(event)
    if line is not None:
        print(line, file=out, flush=True)


def _wait_for(
    inbox: queue.Queue[dict[str, Any]],
    kind: str,
    exercise: str,
    timeout_s: float,
    *,
    result: SessionResult,
    out: TextIO | None = None,
) -> dict[str, Any] | None:
    """Wait for the event ``kind`` of ``exercise``; the events before it are counted (and printed to ``out``)."""
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        try:
            event = inbox.get(timeout=left)
        except queue.Empty:
            break
        if event.get("kind") == kind and event.get("exercise") == exercise:
            result.events.append(event)
            return event
        if out is not None:
            _take(event, result, out)
    return None


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``session`` subcommand."""
    p = sub.add_parser(
        "session",
        help="follow one guided exercise live: repetitions and holds as you do them",
        description="Start a guided exercise on the analysis worker and print each repetition and hold as the "
        "wearable reports it; end it after the dose, --reps, --for or Ctrl-C.",
    )
    p.add_argument("--device", required=True, help="the wearable's device id")
    p.add_argument("--exercise", required=True, help="programme exercise id (see programme.md), or 'any'")
    p.add_argument("--reps", type=int, help="stop after this many repetitions (default: the programme dose)")
    p.add_argument("--for", dest="max_s", type=float, metavar="SECONDS", help="stop after this long")
    p.add_argument("--broker", default=DEFAULT_BROKER_URL, help=f"MQTT broker URL (default {DEFAULT_BROKER_URL})")
    p.add_argument("--json", action="store_true", help="print the result as JSON at the end")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``sitless session``."""
    try:
        if args.exercise != "any":
            item = exercise_by_id(args.exercise)
            print(f"{item.name}. Start {item.position}; {item.movement}")
            for caution in item.cautions:
                print(f"- {caution}")
            print(RED_FLAGS_TEXT.splitlines()[0].rstrip(":") + " (see About).")
        result = follow_exercise(
            BrokerAddress.parse(args.broker), args.device, args.exercise, reps=args.reps, max_s=args.max_s
        )
    except (ConnectionError, TopicError, ValueError, KeyError) as err:
        print(f"sitless session: {err}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"exercise": result.exercise, "reps": result.reps, "holds_s": result.holds_s}))
    return 0
