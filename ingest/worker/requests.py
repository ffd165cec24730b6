"""What a worker is told besides packets: the wearer's settings and actions, and where the device is worn.

User actions (done, snooze, meeting...) arrive on ``.../action``; each is applied after
the samples that came before it, stored and published once, however many arrive between
two packets, and a message delivered again (the same ``id``) is counted as a duplicate
and changes nothing (:func:`_action_id`). The wearer's settings (sitting limit, hours,
slouch, placement: the dashboard's Settings page) arrive retained on ``.../settings``;
they are stored, and followed by the running analysis from its next sample: a new
placement closes the running bouts and starts the analysis afresh for it. A device's
status (``.../status``) may name where it is worn, which its analysis follows from when
the worker takes the device up, unless the wearer chose a placement.
"""

from __future__ import annotations

import logging
from collections import Counter, OrderedDict
from collections.abc import Callable
from typing import Protocol

from analysis import Placement
from analysis.sets import followed
from ingest.errors import PayloadError
from ingest.payloads import Action, DeviceStatus, WearerSettings
from ingest.service import Message, RateLimitedLog
from ingest.store import Store
from ingest.worker.schedule import AnalysisSchedule
from ingest.worker.settings import WorkerSettings
from ingest.worker.wearer import Wearer, analysis_settings, fresh_analyzer

__all__ = ["UserRequests"]

log = logging.getLogger(__name__)


class _SaveSoon(Protocol):
    def __call__(self, wearer: Wearer, *, snapshot: bool = ...) -> None: ...


class UserRequests:
    """Applies the wearers' settings and actions, and notes where each device says it is worn.

    Args:
        settings: The worker's settings (``max_wearers``, and those each analysis is built with).
        store: The worker's store (the wearers' settings, the actions applied).
        schedule: The devices' analysis (events held, failures).
        counts: The worker's per-device counters.
        troubles: The worker's rate-limited log of troubles.
        clock: Monotonic wall-clock seconds (the worker's clock).
        wearer: The state of a device, restored and caught up on first use (``Worker._wearer``).
        analyse_now: Analyses every packet of a device taken in, deferred ones too
            (``Worker._analyse_now``).
        save_soon: Has the next flush save a wearer's state, its snapshot unless
            ``snapshot`` is off (``Worker._save_soon``).
    """

    def __init__(
        self,
        settings: WorkerSettings,
        store: Store,
        *,
        schedule: AnalysisSchedule,
        counts: Counter[tuple[str, str]],
        troubles: RateLimitedLog,
        clock: Callable[[], float],
        wearer: Callable[[str], Wearer],
        analyse_now: Callable[[str, Wearer], None],
        save_soon: _SaveSoon,
    ) -> None:
        self._settings = settings
        self._store = store
        self._schedule = schedule
        self._counts = counts
        self._troubles = troubles
        self._clock = clock
        self._wearer = wearer
        self._analyse_now = analyse_now
        self._save_soon = save_soon
        self._placements: OrderedDict[str, Placement] = OrderedDict()

    def placement(self, device_id: str) -> Placement | None:
        """Where the device's last status said it is worn (None: no status named one)."""
        return self._placements.get(device_id)

    def on_settings(self, device_id: str, m: Message) -> None:
        """Take the wearer's new settings: stored, and followed by the running analysis from its next sample.

        Raises:
            StoreError: The store failed (the batch is taken in again).
        """
        if not m.payload:
            return  # retained settings cleared on the broker: the stored ones stay in force
        try:
            chosen = WearerSettings.parse(m.payload)
        except PayloadError as err:
            self._counts[(device_id, "bad_settings")] += 1
            self._troubles.warning(
                f"settings:{device_id}", "bad settings for %s: %r (%s)", device_id, m.payload[:100], err
            )
            return
        self._store.set_wearer_settings(device_id, chosen.to_dict())  # a StoreError takes the batch in again
        wearer = self._wearer(device_id)
        wearer.heard_s = self._clock()
        if wearer.chosen == chosen:
            return  # the retained settings again, after a reconnection
        log.info("%s: new settings %s", device_id, chosen.to_json())
        wearer.chosen = chosen
        if wearer.quarantined:
            return
        self._analyse_now(device_id, wearer)  # the samples before the change under the old settings
        analysis = analysis_settings(self._settings, chosen.placement or wearer.placement, chosen)
        if analysis.placement is wearer.placement:
            wearer.analyzer.set_policy(analysis.policy, analysis.slouch)
        else:  # worn elsewhere: the running bouts close, and the analysis starts afresh for the new place
            log.info(
                "%s: placement %s -> %s; the analysis starts afresh", device_id, wearer.placement, analysis.placement
            )
            try:
                self._schedule.emit(device_id, wearer, wearer.analyzer.flush())
            except Exception:
                self._schedule.failed(device_id, wearer, "the change of placement")
            wearer.placement = analysis.placement
            wearer.analyzer = fresh_analyzer(self._settings, analysis)
            self._save_soon(wearer)  # the fresh analysis
        wearer.dirty = True
        self._save_soon(wearer, snapshot=False)  # the status shows the new limit and hours right away

    def on_status(self, device_id: str, payload: bytes) -> DeviceStatus | None:
        """Note the placement a device's status names, for its analysis when it is first restored.

        Returns:
            The status, or None when it is not a valid one (the recorder counts those).
        """
        try:
            status = DeviceStatus.parse(payload)
        except PayloadError:
            return None
        placement = status.placement
        if placement is None:
            return status  # statuses without a placement leave the default in force
        self._placements[device_id] = placement
        self._placements.move_to_end(device_id)
        while len(self._placements) > self._settings.max_wearers:  # ids come from any client: bounded
            self._placements.popitem(last=False)
        return status

    def on_action(self, device_id: str, m: Message) -> None:
        """Apply a user action once: its event is keyed on the action's id (:func:`_action_id`).

        Raises:
            StoreError: The store failed (the batch is taken in again).
        """
        try:
            request = Action.parse(m.payload)
        except PayloadError as err:
            self._bad_action(device_id, m, err)
            return
        action, exercise, action_id = request.action, request.exercise, _action_id(request, m)
        wearer = self._wearer(device_id)
        wearer.heard_s = self._clock()
        if wearer.quarantined:
            self._counts[(device_id, "quarantined")] += 1
            return
        if exercise is not None:
            try:
                followed(exercise, wearer.placement)
            except ValueError as err:
                self._bad_action(device_id, m, err)
                return
        if self._action_seen(device_id, wearer, action_id):
            self._counts[(device_id, "duplicate_actions")] += 1
            log.info("action %s for %s (id %s) was applied before; ignored", action, device_id, action_id)
            return
        log.info("action %s for %s (id %s)", action, device_id, action_id)
        self._analyse_now(device_id, wearer)  # the samples before the action first
        # Before any sample the analysis has no clock of its own: the action takes the time it arrived.
        at_s = m.received_s if wearer.analyzer.status().t_s is None else None
        try:
            events = wearer.analyzer.act(action, at_s, exercise=exercise)
        except Exception:
            self._schedule.failed(device_id, wearer, f"action {action}")
            return
        self._schedule.emit(device_id, wearer, events, action_id=action_id)
        wearer.dirty = True
        self._save_soon(wearer)  # the state with the action in it

    def _bad_action(self, device_id: str, m: Message, err: Exception) -> None:
        self._counts[(device_id, "bad_actions")] += 1
        self._troubles.warning(f"action:{device_id}", "bad action for %s: %r (%s)", device_id, m.payload[:100], err)

    def _action_seen(self, device_id: str, wearer: Wearer, action_id: str) -> bool:
        """Whether the action with this id was applied already: held for the store, or stored."""
        held = any(e["kind"] == "action" and e.get("id") == action_id for e in wearer.outbox)
        return held or self._store.has_event(device_id, "action", action_id)


def _action_id(action: Action, m: Message) -> str:
    """The id of an action message: the ``id`` its sender gave it, else one made from its arrival.

    An id from the sender (:func:`ingest.actions.send_action` gives each action one)
    makes a message the broker delivers again a duplicate. Without one, the arrival
    time and packet id of the message stand in: they tell apart two actions sent one
    after the other, and the same message taken in again after a store failure, but
    not a message the broker delivers a second time.

    >>> from analysis import UserAction
    >>> from ingest.service import Message
    >>> _action_id(Action(UserAction.DONE, "7f3a"), Message("t", b"", 5, 1, 1700000000.25))
    '7f3a'
    >>> _action_id(Action(UserAction.DONE), Message("t", b"", 5, 1, 1700000000.25))
    'done@1700000000.25#5'
    """
    return action.id if action.id is not None else f"{action.action}@{m.received_s!r}#{m.mid}"
