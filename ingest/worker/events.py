"""A worker's events on their way out: stored once, published once, and buzzed to the wearable when due.

The analysis of a wearer raises events (:class:`analysis.Event`); the worker holds them
on the wearer (:meth:`EventSender.hold`) until its next flush, which stores them and
publishes on ``.../event`` those the store did not have already (:meth:`EventSender.send`):
a replay after a restart makes the same events again, and they go out only once. The
broker's acknowledgements arrive on paho's side (:meth:`EventSender.on_publish`) and are
marked in the store at the next flush (:meth:`EventSender.record_published`), so that a
worker that stops in between publishes the rest when it starts again.

A sit-too-long alert buzzes the wearable on ``.../cmd`` while it is fresh (its sitting
bout still running and the alert at most ``WorkerSettings.buzz_max_age_s`` old), and a
slouch nudge buzzes it short.
"""

from __future__ import annotations

import json
import logging
import queue
from collections import Counter
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho

from analysis import Alert, Event
from ingest.metrics import ServiceMetrics
from ingest.payloads import Command
from ingest.store import EventKey, Store, event_key
from ingest.topics import Kind, topic
from ingest.worker.wearer import Wearer

__all__ = ["EventSender"]

log = logging.getLogger(__name__)


class EventSender:
    """Stores each wearer's new events, publishes them, buzzes the wearable, and notes the acknowledgements.

    Args:
        client: The worker's MQTT client.
        store: The worker's store.
        metrics: The worker's metrics (events published).
        counts: The worker's per-device counters (alerts, stale buzzes, slouch nudges).
        buzz_max_age_s: Most device-time seconds between an alert and the newest sample
            analysed for its buzz still to be sent.
        on_alert: Called with the wearer of each alert published (to save its state soon).
    """

    def __init__(
        self,
        client: paho.Client,
        store: Store,
        metrics: ServiceMetrics,
        counts: Counter[tuple[str, str]],
        *,
        buzz_max_age_s: float,
        on_alert: Callable[[Wearer], None],
    ) -> None:
        self._client = client
        self._store = store
        self._metrics = metrics
        self._counts = counts
        self._buzz_max_age_s = buzz_max_age_s
        self._on_alert = on_alert
        # Published events awaiting the broker's acknowledgement, by message id; the
        # acknowledged ids come from paho's network thread.
        self._inflight: dict[int, EventKey] = {}
        self._acked: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._published: list[EventKey] = []  # acknowledged, not yet marked in the store

    def hold(self, wearer: Wearer, events: list[Event], *, action_id: str | None = None) -> None:
        """Hold new events for :meth:`send`, noting how late the analysis raised each alert.

        The events of a user action carry its id (``id``), which keys them in the store.
        """
        extra = {} if action_id is None else {"id": action_id}
        wearer.outbox.extend({**e.to_dict(), **extra} for e in events)
        if any(isinstance(e, Alert) for e in events):
            seen_s = wearer.analyzer.status().t_s
            for e in events:
                if isinstance(e, Alert) and seen_s is not None:
                    wearer.alert_seen_s[e.t_s] = seen_s

    def send(self, device_id: str, wearer: Wearer) -> None:
        """Store the wearer's held events and publish the new ones.

        Raises:
            StoreError: The store failed; the events stay held. Its commit may have landed
                with the answer lost: written again, the events are not new, and only
                a publish of the stored ones not yet published (:meth:`publish`) sends them.
        """
        if not wearer.outbox:
            return
        new = self._store.add_events(device_id, wearer.outbox)
        bodies, wearer.outbox = wearer.outbox, []
        for body, is_new in zip(bodies, new, strict=True):
            if is_new:  # else stored (and so published) before a restart
                self.publish(device_id, body, wearer)
        wearer.alert_seen_s.clear()

    def publish(self, device_id: str, body: dict[str, Any], wearer: Wearer | None) -> None:
        """Publish one stored event (its acknowledgement is recorded in the store), and buzz if due."""
        info = self._client.publish(topic(device_id, Kind.EVENT), json.dumps(body), qos=1)
        self._metrics.add("sitless_events_published")
        self._inflight[info.mid] = event_key(device_id, body)
        if body["kind"] == "alert":
            self._alert(device_id, body, wearer)
            if wearer is not None:
                self._on_alert(wearer)
        elif body["kind"] == "slouch_nudge":
            self.buzz(device_id, Command("buzz", pattern="short", reason="slouch"))
            self._counts[(device_id, "slouch_nudges")] += 1

    def in_flight(self) -> set[EventKey]:
        """The events published and not yet acknowledged by the broker."""
        return set(self._inflight.values())

    def on_publish(self, client: object, userdata: object, mid: int, reason: object, props: object) -> None:
        """Paho's ``on_publish``: the broker acknowledged message ``mid`` (from paho's thread)."""
        self._acked.put(mid)

    def record_published(self) -> None:
        """Mark the events the broker acknowledged as published in the store.

        Raises:
            StoreError: The store failed; they are marked at the next call.
        """
        while True:
            try:
                mid = self._acked.get_nowait()
            except queue.Empty:
                break
            key = self._inflight.pop(mid, None)
            if key is not None:
                self._published.append(key)
        self._store.mark_published(self._published)
        self._published = []

    def buzz(self, device_id: str, command: Command) -> None:
        """Send the wearable a buzz command (docs/protocol.md, ``cmd``)."""
        self._client.publish(topic(device_id, Kind.CMD), command.to_json(), qos=1)

    def _alert(self, device_id: str, alert: dict[str, Any], wearer: Wearer | None) -> None:
        minutes = (alert["t_s"] - alert["sitting_since_s"]) / 60
        log.info(
            "sit-too-long alert for %s: sitting for %.0f min, suggested stretch %s",
            device_id,
            minutes,
            alert.get("stretch_id"),
        )
        self._counts[(device_id, "alerts")] += 1
        stale = self._buzz_stale(alert, wearer)
        if stale:
            self._counts[(device_id, "stale_buzzes")] += 1
            log.info("%s: no buzz for the alert at %.0f: %s", device_id, alert["t_s"], stale)
            return
        self.buzz(device_id, Command("buzz", pattern="long", reason=alert["alert"], stretch_id=alert.get("stretch_id")))

    def _buzz_stale(self, alert: dict[str, Any], wearer: Wearer | None) -> str:
        """Why an alert's buzz would come too late (empty when it is still due)."""
        if wearer is None:
            return "its device is not analysed"
        status = wearer.analyzer.status()
        if status.sitting_since_s != alert["sitting_since_s"]:
            return "its sitting bout has ended"
        # Its age when the analysis raised it (the look-ahead), or, for an alert from an
        # earlier run of the worker, now: a batch that analysed minutes of a backlog at
        # once does not make a fresh alert stale, and a stored one does not look fresh.
        t_s = float(alert["t_s"])
        now_s = wearer.alert_seen_s.pop(t_s, status.t_s)
        if now_s is not None and now_s - t_s > self._buzz_max_age_s:
            return f"more than {self._buzz_max_age_s:.0f} s old"
        return ""
